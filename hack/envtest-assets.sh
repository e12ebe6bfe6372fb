#!/usr/bin/env bash
# Builds the binaries controller-runtime's envtest runs (kube-apiserver and
# etcd) from Go modules, once, into a cache folder outside the clone keyed by
# version, and prints that folder on stdout:
#
#   export KUBEBUILDER_ASSETS="$(bash hack/envtest-assets.sh)"
#
# Prebuilt downloads (setup-envtest, GitHub releases) are not reachable where
# canary is built, so both come from the Go module proxy (the recipe and its
# measurements: notes/envtest.md). Cold: about 10-15 minutes on 2 cores and
# 2.5 GB of memory; when the folder is complete it returns at once. Progress
# goes to stderr. Concurrent callers wait on a lock instead of building twice.
#
# Environment:
#   CANARY_CACHE   cache root (default $HOME/.cache/canary)
#   K8S_VERSION    kube-apiserver version (default 1.37.2)
#   ETCD_VERSION   etcd version (default 3.7.3)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.7.3}"
cache="${CANARY_CACHE:-$HOME/.cache/canary}"
dir="$cache/envtest/$K8S_VERSION"
stamp="$dir/VERSIONS"
want="kube-apiserver v$K8S_VERSION
etcd v$ETCD_VERSION"

log() { printf 'envtest-assets: %s\n' "$*" >&2; }

complete() {
  [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ] && [ -f "$stamp" ] &&
    [ "$(cat "$stamp")" = "$want" ]
}

if complete; then
  echo "$dir"
  exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
if ! flock -n 9; then
  log "another build holds $dir/.lock; waiting"
  flock 9
fi
if complete; then
  echo "$dir"
  exit 0
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
start=$SECONDS
work="$cache/envtest/src"
mkdir -p "$work"

# elapsed prints a progress line every 30s while a build runs.
elapsed() {
  local what=$1 pid=$2 t0=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && log "still building $what ($((SECONDS - t0))s)"
  done
}

# run_build NAME CMD... runs a build in the background with progress lines.
run_build() {
  local what=$1
  shift
  "$@" &
  local pid=$!
  elapsed "$what" "$pid" &
  local ticker=$!
  local rc=0
  wait "$pid" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$rc"
}

build_etcd() {
  local m="$work/etcd-$ETCD_VERSION"
  mkdir -p "$m"
  cat >"$m/go.mod" <<EOF
module canary.local/envtest-etcd

go 1.26

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
EOF
  cat >"$m/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
  log "etcd v$ETCD_VERSION: resolving modules"
  (cd "$m" && go mod tidy >&2 2>&1)
  log "etcd v$ETCD_VERSION: building (about 1.5 minutes cold)"
  (cd "$m" && run_build etcd go build -trimpath -ldflags="-s -w" -o "$dir/etcd.tmp" go.etcd.io/etcd/server/v3 >&2)
  mv -f "$dir/etcd.tmp" "$dir/etcd"
}

build_apiserver() {
  local m="$work/kubernetes-$K8S_VERSION"
  local staging="v0.${K8S_VERSION#1.}"
  mkdir -p "$m"
  log "kube-apiserver v$K8S_VERSION: reading k8s.io/kubernetes' staging modules"
  local gomod
  gomod=$(cd "$m" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$gomod" ] || { log "cannot find k8s.io/kubernetes' go.mod"; exit 1; }
  local replaces
  replaces=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$gomod" |
    sort -u | sed "s#.*#replace & => & $staging#")
  [ -n "$replaces" ] || { log "no staging replace lines in $gomod"; exit 1; }
  log "kube-apiserver v$K8S_VERSION: $(echo "$replaces" | wc -l) staging modules at $staging"
  {
    printf 'module canary.local/envtest-kube\n\ngo 1.26\n\nrequire k8s.io/kubernetes v%s\n\n' "$K8S_VERSION"
    echo "$replaces"
  } >"$m/go.mod"
  cat >"$m/tools.go" <<'EOF'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
EOF
  log "kube-apiserver v$K8S_VERSION: resolving modules"
  (cd "$m" && go mod tidy >&2 2>&1)
  local minor=${K8S_VERSION#1.}
  minor=${minor%%.*}
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  log "kube-apiserver v$K8S_VERSION: building (about 10 minutes cold on 2 cores)"
  (cd "$m" && run_build kube-apiserver go build -trimpath -ldflags="$ld" -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2)
  mv -f "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
}

rm -f "$stamp"
[ -x "$dir/etcd" ] && "$dir/etcd" --version 2>/dev/null | grep -q "etcd Version: $ETCD_VERSION" || build_etcd
[ -x "$dir/kube-apiserver" ] && "$dir/kube-apiserver" --version 2>/dev/null | grep -q "v$K8S_VERSION\$" || build_apiserver
echo "$want" >"$stamp"
log "ready in $((SECONDS - start))s: $dir"
echo "$dir"
