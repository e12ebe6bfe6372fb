#!/usr/bin/env bash
# Side-by-side comparison of two builds of canary's proxy (and nginx), for
# a machine that is not quiet: the two targets of a pair are loaded AT THE
# SAME TIME, so both see the same machine; each run gives one ratio, and
# the report is the median ratio with its spread.
#
#   bench/proxyab.sh OLD_REV [NEW_REV]     # from the repository root
#   RUNS=7 DURATION=5s CONNS=32 RATE=2000 RATE_DURATION=5s bench/proxyab.sh main~1
#
# OLD_REV and NEW_REV are git revisions (NEW_REV defaults to the working
# tree); bench/proxyserver is built from each. Per run:
# 1. closed loop, two pairs: wrk -t1 -c$CONNS against old and new at once,
#    then against new and nginx (1 worker, split_clients 95/5) at once:
#    requests/s and CPU µs/request (/proc/PID/stat) of each.
# 2. open loop: bench/loadgen -rate $RATE against old and new at once: p99.
# Everything listens on 127.0.0.1 (ports 19101-19102, 19300, 19401-19402);
# every process started is stopped by its pid on exit. Needs wrk and nginx
# (bench/proxy.sh installs them).
set -euo pipefail

OLD=${1:?usage: bench/proxyab.sh OLD_REV [NEW_REV]}
NEW=${2:-}
RUNS=${RUNS:-7}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
RATE=${RATE:-2000}
RATE_DURATION=${RATE_DURATION:-5s}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/canary-proxyab.XXXXXX)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

build() { # rev dir → builds proxyserver (and backend, loadgen) of rev into dir
	local src=$ROOT
	if [ -n "$1" ]; then
		src=$WORK/src-$2
		mkdir -p "$src"
		git -C "$ROOT" archive "$1" | tar -x -C "$src"
	fi
	(cd "$src" && go build -o "$WORK/$2/" ./bench/proxyserver ./bench/backend ./bench/loadgen)
}
echo "building $OLD and ${NEW:-the working tree} into $WORK" >&2
build "$OLD" old
build "$NEW" new

"$WORK/new/backend" -addr 127.0.0.1:19101,127.0.0.1:19102 &
PIDS+=($!)
mkdir -p "$WORK/nginx/logs"
sed -e s/@LISTEN@/19300/ -e s/@STABLE@/19101/ -e s/@CANARY@/19102/ "$ROOT/bench/nginx-split.conf" >"$WORK/nginx/nginx.conf"
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
NGINX_MASTER=$!
declare -A URL=([old]=http://127.0.0.1:19401/ [new]=http://127.0.0.1:19402/ [nginx]=http://127.0.0.1:19300/)
declare -A PID
for t in old new; do
	addr=${URL[$t]#http://}
	GOMAXPROCS=$(nproc) "$WORK/$t/proxyserver" -listen "${addr%/}" -stable http://127.0.0.1:19101 -canary http://127.0.0.1:19102 -weight 5 &
	PIDS+=($!)
	PID[$t]=$!
done
for _ in $(seq 100); do curl -fs -o /dev/null "${URL[nginx]}" && curl -fs -o /dev/null "${URL[old]}" && curl -fs -o /dev/null "${URL[new]}" && break; sleep 0.1; done
PID[nginx]=$(pgrep -P "$NGINX_MASTER" | head -1)

cpu_seconds() { # pid → user+system CPU seconds so far
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) }
	awk -v tck="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / tck }' <<<"$stat"
}

pair() { # run a b → "a_rps a_cpu b_rps b_cpu" (both loaded at once)
	local a=$2 b=$3 ca0 cb0 ca1 cb1 w ra rb
	wrk -t1 -c"$CONNS" -d1s "${URL[$a]}" >/dev/null &
	w=$!
	wrk -t1 -c"$CONNS" -d1s "${URL[$b]}" >/dev/null
	wait "$w"
	ca0=$(cpu_seconds "${PID[$a]}") cb0=$(cpu_seconds "${PID[$b]}")
	wrk -t1 -c"$CONNS" -d"$DURATION" "${URL[$a]}" >"$WORK/wrk-$1-$a" &
	w=$!
	wrk -t1 -c"$CONNS" -d"$DURATION" "${URL[$b]}" >"$WORK/wrk-$1-$b"
	wait "$w"
	ca1=$(cpu_seconds "${PID[$a]}") cb1=$(cpu_seconds "${PID[$b]}")
	ra=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/wrk-$1-$a")
	rb=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/wrk-$1-$b")
	awk -v ra="$ra" -v rb="$rb" -v a0="$ca0" -v a1="$ca1" -v b0="$cb0" -v b1="$cb1" -v d="${DURATION%s}" \
		'BEGIN { printf "%d %.1f %d %.1f", ra, (a1 - a0) * 1e6 / (ra * d), rb, (b1 - b0) * 1e6 / (rb * d) }'
}

field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq "$RUNS"); do
	on=$(pair "$run" old new)
	ng=$(pair "$run" new nginx)
	"$WORK/new/loadgen" -url "${URL[old]}" -rate "$RATE" -duration "$RATE_DURATION" >"$WORK/lg-$run-old" 2>/dev/null &
	w=$!
	"$WORK/new/loadgen" -url "${URL[new]}" -rate "$RATE" -duration "$RATE_DURATION" >"$WORK/lg-$run-new" 2>/dev/null || true
	wait "$w" || true
	po=$(field "$(cat "$WORK/lg-$run-old")" p99_us) pn=$(field "$(cat "$WORK/lg-$run-new")" p99_us)
	echo "$run $on $ng ${po:-0} ${pn:-0} $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$WORK/runs.txt" >&2
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# runs.txt: run old_rps old_cpu new_rps new_cpu | new_rps new_cpu nginx_rps nginx_cpu | old_p99_us new_p99_us load
med() { # awk-expression → "median [min–max]" over the runs
	awk "{ print $1 }" "$WORK/runs.txt" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f [%.3f–%.3f]", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
{
	echo "machine: $(nproc) CPUs, kernel $(uname -r), $(go version | cut -d' ' -f3); load average before / after: $LOAD0 / $LOAD1"
	echo "old = $OLD, new = ${NEW:-working tree}; $RUNS runs; each pair loaded at the same time (wrk -t1 -c$CONNS -d$DURATION each); median [min–max] of the per-run ratios"
	echo
	echo "| pair | req/s ratio | CPU µs/request ratio |"
	echo "|---|---:|---:|"
	echo "| new / old | $(med '$4/$2') | $(med '$5/$3') |"
	echo "| new / nginx | $(med '$6/$8') | $(med '$7/$9') |"
	echo
	echo "CPU µs/request medians: old $(med '$3'), new $(med '$5'), nginx (paired with new) $(med '$9')"
	echo "open loop, loadgen -rate $RATE -duration $RATE_DURATION against old and new at once: p99 ms old $(med '$10/1000'), new $(med '$11/1000'), new − old $(med '($11-$10)/1000')"
} | tee "$WORK/results.md"
echo "raw output: $WORK" >&2
