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
# Packages the provider tests talk to (added as providers land).
for pkg in ${CANARY_APT_PACKAGES:-}; do
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

step "go test -race ./..."
go test -race -count=1 -timeout 30m ./... 2>&1 | tee "$CANARY_CACHE/last-test.log"
