#!/usr/bin/env bash
# Rollouts at scale: 100, 1,000 and 10,000 concurrent rollouts on synthetic
# providers, each evaluated every second, side by side in one run (each
# size in a process of its own, over a fresh SQLite file). See main.go for
# what is measured.
#
#   bench/rollouts/run.sh                      # from the repository root
#   SIZES=100,1000 DURATION=20s WARMUP=5s PROFILE=/tmp/prof bench/rollouts/run.sh
#
# About 3 minutes per size with the defaults (ramp, 10s warm-up, 60s
# window, restart). The table goes to stdout and $WORK/results.md; the
# databases live in $WORK and are removed on exit.
set -euo pipefail

SIZES=${SIZES:-100,1000,10000}
DURATION=${DURATION:-60s}
WARMUP=${WARMUP:-10s}
INTERVAL=${INTERVAL:-1s}
PROFILE=${PROFILE:-}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/canary-rollouts-bench.XXXXXX)
trap 'rm -rf "$WORK"/db' EXIT

cd "$ROOT"
go build -o "$WORK/rollouts" ./bench/rollouts
mkdir -p "$WORK/db"
args=(-n "$SIZES" -duration "$DURATION" -warmup "$WARMUP" -interval "$INTERVAL" -db "$WORK/db")
if [[ -n $PROFILE ]]; then
	mkdir -p "$PROFILE"
	args+=(-profile "$PROFILE")
fi

{
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(go version | cut -d' ' -f3)"
	echo "disk: $(df -T "$WORK" | awk 'NR==2 {print $1, $2}'), $(grep -m1 MemTotal /proc/meminfo | awk '{printf "%.0f GiB RAM", $2/1048576}')"
	echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	"$WORK/rollouts" "${args[@]}"
} | tee "$WORK/results.md"
echo "results: $WORK/results.md" >&2
