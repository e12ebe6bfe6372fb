#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with Go: installs what the
# tests need (apt packages, built test binaries) into caches outside the
# clone, then runs vet, gofmt and go test -race. README.md names this
# script; .ci/run runs exactly it.
set -euo pipefail
cd "$(dirname "$0")/.."

export CANARY_CACHE="${CANARY_CACHE:-$HOME/.cache/canary}"
mkdir -p "$CANARY_CACHE"

step() { printf '\n== %s\n' "$*"; }

need_apt=()
# Real systems the tests talk to: Prometheus (promql), Chromium (the
# dashboard), podman (builds the container image: release/image_test.go),
# influxdb and graphite-carbon + graphite-web (the metric sources' tests);
# hack/release.sh copies CA certificates and time-zone data into the image.
for pkg in ${CANARY_APT_PACKAGES:-prometheus chromium podman ca-certificates tzdata influxdb graphite-carbon graphite-web}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

step "go version"
go version

step "go mod download"
go mod download

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet ./..."
go vet ./...

# The OpenFeature client the flag tests use (npm, lock file in the repo).
if [ -f test/ofrep/package-lock.json ] && [ ! -d test/ofrep/node_modules ]; then
  step "npm ci (test/ofrep)"
  (cd test/ofrep && npm ci --no-audit --no-fund --cache "$CANARY_CACHE/npm")
fi

# A real kube-apiserver and etcd for the Kubernetes tests, built once from
# Go modules into the cache.
if [ -x hack/envtest-assets.sh ] || [ -f hack/envtest-assets.sh ]; then
  step "envtest assets"
  KUBEBUILDER_ASSETS="$(bash hack/envtest-assets.sh)"
  export KUBEBUILDER_ASSETS
fi

# Two passes: everything under the race detector (the real-time end-to-end
# tests skip themselves with -short), then everything without it, one
# package at a time, so the end-to-end rollouts judge latencies on a machine
# that is not busy with other tests.
step "go test -race -short ./..."
go test -race -short -count=1 -timeout 40m ./... 2>&1 | tee "$CANARY_CACHE/last-test-race.log"

# This pass builds as hack/release.sh does (CGO_ENABLED=0, -trimpath), so
# its test of the release script (release/, linux/amd64) and the crash
# test's canary binary reuse these packages from the build cache instead
# of compiling everything a second time.
step "go test -p 1 ./... (end-to-end, real time)"
CGO_ENABLED=0 go test -p 1 -trimpath -count=1 -timeout 40m ./... 2>&1 | tee "$CANARY_CACHE/last-test.log"
