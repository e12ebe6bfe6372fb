// Package release builds canary's release artifacts besides the binaries:
// the versioned install manifest (deploy/operator through kustomize with
// the image filled in), the packaged Helm chart (appVersion = the release)
// and an SPDX SBOM read from a built binary's Go build information.
// hack/release.sh runs them through release/tool; the tests here check the
// artifacts, and in the non-short pass run hack/release.sh itself for
// linux/amd64 and build the container image from its output with podman.
package release
