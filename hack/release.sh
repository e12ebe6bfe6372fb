#!/usr/bin/env bash
# Release artifacts from one command, into dist/ (or $OUT):
#
#   canary-VERSION-OS-ARCH             static binaries (CGO_ENABLED=0, -trimpath,
#                                      version, commit and date stamped from git)
#   canary-VERSION-OS-ARCH.spdx.json   SPDX SBOM of each, from its Go build info
#   canary-operator.yaml               install manifest: deploy/operator with the
#                                      image IMAGE:VERSION (kubectl apply -f)
#   canary-crd.yaml, canary-rbac.yaml  the CRD and the operator's RBAC alone;
#   canary-rbac-helm.yaml, canary-rbac-replicas.yaml  the opt-in traffic RBAC
#   canary-CHARTVERSION.tgz            the Helm chart, appVersion VERSION
#   checksums.txt                      sha256sum of all of the above
#   image/                             the build context of the Dockerfile
#                                      (linux binaries, CA certificates,
#                                      time-zone data, passwd, LICENSE)
#
# Then: podman build -f Dockerfile -t IMAGE:VERSION dist/image (one
# platform), or docker buildx build --platform ... (.github/workflows/release.yml).
#
# Environment:
#   VERSION    the release, vX.Y.Z (default: the tag on HEAD, else a
#              pseudo-version v0.0.0-DATE-gSHA; -dirty with local changes)
#   PLATFORMS  default "linux/amd64 linux/arm64 darwin/arm64"
#   IMAGE      image repository (default ghcr.io/canary-dev/canary)
#   OUT        output folder (default dist; emptied first)
#
# Needs Go, git and Debian's ca-certificates and tzdata (copied into the
# image from this machine). goreleaser and a helm binary are not needed:
# release/tool packages the chart with the Helm SDK and runs kustomize as a
# library.
set -euo pipefail
cd "$(dirname "$0")/.."

PLATFORMS="${PLATFORMS:-linux/amd64 linux/arm64 darwin/arm64}"
IMAGE="${IMAGE:-ghcr.io/canary-dev/canary}"
OUT="${OUT:-dist}"

log() { printf 'release: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for f in /etc/ssl/certs/ca-certificates.crt /usr/share/zoneinfo/UTC; do
  [ -e "$f" ] || die "$f is missing: apt-get install -y ca-certificates tzdata"
done

commit="$(git rev-parse HEAD)"
date="$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)"
dirty=""
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then dirty="-dirty"; fi
if [ -z "${VERSION:-}" ]; then
  VERSION="$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null || true)"
  if [ -z "$VERSION" ]; then
    VERSION="v0.0.0-$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S)-g${commit:0:12}"
  fi
  VERSION="$VERSION$dirty"
fi
[[ "$VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  die "VERSION $VERSION is not vMAJOR.MINOR.PATCH[-PRERELEASE]"
log "version $VERSION, commit $commit, date $date"

rm -rf "$OUT"
mkdir -p "$OUT/image"
tool="$OUT/.tool"
# The same build settings as the binaries (and as hack/test.sh's second
# pass): the packages they share are compiled once.
CGO_ENABLED=0 go build -trimpath -o "$tool" ./release/tool

ldflags="-s -w -X main.version=$VERSION -X main.commit=$commit -X main.date=$date"
for p in $PLATFORMS; do
  os="${p%/*}" arch="${p#*/}"
  bin="canary-$VERSION-$os-$arch"
  log "build $bin"
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -ldflags "$ldflags" -o "$OUT/$bin" ./cmd/canary
  "$tool" sbom "$OUT/$bin" "$bin" "$VERSION" "$date" >"$OUT/$bin.spdx.json"
  if [ "$os" = linux ]; then cp "$OUT/$bin" "$OUT/image/canary-$os-$arch"; fi
done

log "manifests and chart"
"$tool" manifest deploy/operator "$IMAGE" "$VERSION" >"$OUT/canary-operator.yaml"
cp deploy/operator/crd.yaml "$OUT/canary-crd.yaml"
cp deploy/operator/rbac.yaml "$OUT/canary-rbac.yaml"
cp deploy/operator/rbac-helm.yaml "$OUT/canary-rbac-helm.yaml"
cp deploy/operator/rbac-replicas.yaml "$OUT/canary-rbac-replicas.yaml"
"$tool" chart deploy/chart/canary "$VERSION" "$OUT" >/dev/null
rm -f "$tool"

log "image build context"
cp LICENSE /etc/ssl/certs/ca-certificates.crt "$OUT/image/"
cp -a /usr/share/zoneinfo "$OUT/image/zoneinfo"
rm -rf "$OUT/image/zoneinfo/"{localtime,posix,posixrules,right}
echo 'nonroot:x:65532:65532:nonroot:/:/sbin/nologin' >"$OUT/image/passwd"
echo 'nonroot:x:65532:' >"$OUT/image/group"
printf '%s\n' "$VERSION" >"$OUT/image/VERSION"

(cd "$OUT" && find . -maxdepth 1 -type f ! -name checksums.txt -printf '%f\n' | LC_ALL=C sort |
  xargs sha256sum >checksums.txt)
log "done: $OUT (image: podman build -f Dockerfile --build-arg VERSION=$VERSION --build-arg REVISION=$commit --build-arg CREATED=$date -t $IMAGE:$VERSION $OUT/image)"
