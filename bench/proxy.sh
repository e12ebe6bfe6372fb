#!/usr/bin/env bash
# Proxy benchmark: direct to a backend vs nginx (1 worker, split_clients
# 95/5) vs haproxy (1 thread, roundrobin 95/5) vs canary's proxy (weight 5)
# at GOMAXPROCS=2 and 1, side by side on loopback, in one run.
#
#   bench/proxy.sh                 # from the repository root
#   RUNS=5 DURATION=10s CONNS=64 THREADS=2 RATE_DURATION=5s RATE_LIGHT=1000 bench/proxy.sh
#
# 1. closed loop, RUNS times (targets interleaved in each run): wrk
#    -t$THREADS -c$CONNS -d$DURATION --latency per target after a 2s
#    warm-up: requests/s, p50, p99, and each proxy's CPU µs per request
#    (from /proc/PID/stat around the run). Peak RSS (VmHWM) after them.
# 2. open loop, RUNS times: bench/loadgen at a constant rate against each
#    target except canary GOMAXPROCS=1, at half of nginx's max (from the
#    same run's closed loop), at half of canary's own max and at a light
#    $RATE_LIGHT/s: p99.
# The report gives the median of the runs and their spread [min–max].
#
# On a shared machine, run it in its own session with a higher autogroup
# priority:  setsid bash -c 'echo -10 >/proc/self/autogroup && exec bench/proxy.sh'
# The report says how much CPU other processes took during the run.
#
# Installs wrk, nginx-light and haproxy with apt-get if missing.
# Everything listens on 127.0.0.1 (ports 9101-9102, 9300, 9310,
# 9400-9401); every process started is stopped by its pid on exit. Results
# go to stdout and $WORK/results.md.
set -euo pipefail

RUNS=${RUNS:-5}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
RATE_DURATION=${RATE_DURATION:-5s}
RATE_LIGHT=${RATE_LIGHT:-1000}
PROFILE=${PROFILE:-}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/canary-proxy-bench.XXXXXX)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

echo "building into $WORK/bin" >&2
(cd "$ROOT" && go build -o "$WORK/bin/" ./bench/backend ./bench/proxyserver ./bench/loadgen)

wait_http() { # url
	for _ in $(seq 200); do
		curl -fs -o /dev/null "$1" && return 0
		sleep 0.05
	done
	echo "no answer from $1" >&2
	return 1
}

cpu_seconds() { # pid → user+system CPU seconds so far
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) } # fields after the command name
	awk -v tck="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / tck }' <<<"$stat"
}

vmhwm_mb() { # pid → peak resident set in MiB
	awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

to_ms() { # wrk latency (e.g. 812.00us, 1.20ms, 1.01s) → ms
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
		printf "%.2f", n }'
}

# Machine-wide user+system jiffies (not irq/softirq, which our loopback
# traffic causes), to tell how much CPU other processes took meanwhile.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat; }
children_seconds() { awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$1"; }
T0=$(date +%s.%N)
BUSY0=$(busy_ticks)
times >"$WORK/times0"

# --- start the targets -------------------------------------------------
"$WORK/bin/backend" -addr 127.0.0.1:9101,127.0.0.1:9102 &
PIDS+=($!)
BACKEND=$!

mkdir -p "$WORK/nginx/logs"
sed -e s/@LISTEN@/9300/ -e s/@STABLE@/9101/ -e s/@CANARY@/9102/ "$ROOT/bench/nginx-split.conf" >"$WORK/nginx/nginx.conf"
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
NGINX_MASTER=$!

cat >"$WORK/haproxy.cfg" <<'CONF'
global
	nbthread 1
	maxconn 4096
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	option http-keep-alive
frontend fe
	bind 127.0.0.1:9310
	option forwardfor
	http-request set-header X-Forwarded-Host %[req.hdr(host)]
	http-request set-header X-Forwarded-Proto http
	default_backend split
backend split
	balance roundrobin
	http-reuse always
	http-response set-header X-Canary-Track %s
	server stable 127.0.0.1:9101 weight 95
	server canary 127.0.0.1:9102 weight 5
CONF
"$HAPROXY" -db -f "$WORK/haproxy.cfg" 2>"$WORK/haproxy.log" &
PIDS+=($!)
HAPROXY_PID=$!

prof=()
[ -n "$PROFILE" ] && prof=(-cpuprofile "$WORK/canary-cpu.prof")
GOMAXPROCS=$(nproc) "$WORK/bin/proxyserver" -listen 127.0.0.1:9400 -weight 5 "${prof[@]}" &
PIDS+=($!)
CANARY=$!
GOMAXPROCS=1 "$WORK/bin/proxyserver" -listen 127.0.0.1:9401 -weight 5 &
PIDS+=($!)
CANARY1=$!

wait_http http://127.0.0.1:9101/
wait_http http://127.0.0.1:9300/
wait_http http://127.0.0.1:9310/
wait_http http://127.0.0.1:9400/
wait_http http://127.0.0.1:9401/
NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -1)

TARGETS=(direct nginx haproxy canary canary1)
declare -A URL=([direct]=http://127.0.0.1:9101/ [nginx]=http://127.0.0.1:9300/ [haproxy]=http://127.0.0.1:9310/
	[canary]=http://127.0.0.1:9400/ [canary1]=http://127.0.0.1:9401/)
declare -A PID=([direct]="" [nginx]=$NGINX_WORKER [haproxy]=$HAPROXY_PID [canary]=$CANARY [canary1]=$CANARY1)

# --- closed loop -------------------------------------------------------
# One line per run and target in $WORK/closed.txt:
#   target run rps p50_ms p99_ms cpu_us_per_req errors
run_wrk() { # name run
	local name=$1 run=$2 pid=${PID[$1]} out="$WORK/wrk-$1-$2.txt" c0=0 c1=0 rps p50 p99 per errs
	wrk -t"$THREADS" -c"$CONNS" -d2s "${URL[$name]}" >/dev/null
	[ -n "$pid" ] && c0=$(cpu_seconds "$pid")
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${URL[$name]}" >"$out"
	[ -n "$pid" ] && c1=$(cpu_seconds "$pid")
	rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
	p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	errs=$(awk '/Non-2xx|Socket errors/ { sub(/^ +/, ""); gsub(/ /, "_"); printf "%s;", $0 }' "$out")
	per=-
	[ -n "$pid" ] && per=$(awk -v a="$c0" -v b="$c1" -v r="$rps" -v d="${DURATION%s}" 'BEGIN { printf "%.1f", (b - a) * 1e6 / (r * d) }')
	echo "$name $run $rps $p50 $p99 $per ${errs:--}" >>"$WORK/closed.txt"
	echo "run $run wrk $name: $rps req/s, p50 $p50 ms, p99 $p99 ms, CPU $per µs/req ${errs}" >&2
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq "$RUNS"); do
	echo "closed loop run $run, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	echo "closed $run $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >>"$WORK/loadavg.txt"
	for t in "${TARGETS[@]}"; do run_wrk "$t" "$run"; done
done
declare -A RSS_CL RSS
for t in nginx haproxy canary canary1; do RSS_CL[$t]=$(vmhwm_mb "${PID[$t]}"); done
LOAD_MID=$(cut -d' ' -f1-3 /proc/loadavg)

# --- open loop -----------------------------------------------------------
# One line per run, rate kind and target in $WORK/open.txt:
#   kind run rate target p99_ms achieved errors
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
rps_of() { awk -v t="$1" -v r="$2" '$1 == t && $2 == r { print $3 }' "$WORK/closed.txt"; }
for run in $(seq "$RUNS"); do
	echo "open loop run $run, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	echo "open $run $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >>"$WORK/loadavg.txt"
	for kind in half-nginx half-canary light; do
		case $kind in
		half-nginx) rate=$(($(rps_of nginx "$run") / 2)) ;;
		half-canary) rate=$(($(rps_of canary "$run") / 2)) ;;
		light) rate=$RATE_LIGHT ;;
		esac
		for t in direct nginx haproxy canary; do
			out=$("$WORK/bin/loadgen" -url "${URL[$t]}" -rate "$rate" -duration "$RATE_DURATION" 2>/dev/null || echo "failed")
			p99=$(awk -v v="$(field "$out" p99_us)" 'BEGIN { printf "%.2f", v / 1000 }')
			echo "$kind $run $rate $t $p99 $(field "$out" achieved) $(field "$out" errors)" >>"$WORK/open.txt"
			echo "run $run loadgen $t @ $rate/s ($kind): $out" >&2
		done
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
for t in nginx haproxy canary; do RSS[$t]=$(vmhwm_mb "${PID[$t]}"); done
RSS[canary1]=${RSS_CL[canary1]}

times >"$WORK/times1"
OURS=$(awk -v a="$(children_seconds "$WORK/times1")" -v b="$(children_seconds "$WORK/times0")" 'BEGIN { print a - b }')
for pid in "$BACKEND" "$NGINX_MASTER" "$NGINX_WORKER" "$HAPROXY_PID" "$CANARY" "$CANARY1"; do
	OURS=$(awk -v a="$OURS" -v b="$(cpu_seconds "$pid")" 'BEGIN { print a + b }')
done
OTHERS=$(awk -v b0="$BUSY0" -v b1="$(busy_ticks)" -v tck="$(getconf CLK_TCK)" -v ours="$OURS" -v t0="$T0" -v t1="$(date +%s.%N)" -v n="$(nproc)" \
	'BEGIN { o = (b1 - b0) / tck - ours; if (o < 0) o = 0; printf "%.1f CPU-s over %.0f s (%.0f%% of the machine)", o, t1 - t0, 100 * o / ((t1 - t0) * n) }')

# --- report ------------------------------------------------------------
# stat FILE COLUMN KEY-AWK-CONDITION → "median [min–max]"
stat() {
	awk "$3 { print \$$2 }" "$1" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0 || v[1] == "-") { print "—"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%s [%s–%s]", m, v[1], v[NR] }'
}
median() { awk "$3 { print \$$2 }" "$1" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
label() {
	case $1 in
	direct) echo "direct to backend" ;;
	nginx) echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*nginx/||'), 1 worker, split_clients 95/5" ;;
	haproxy) echo "haproxy $("$HAPROXY" -v 2>&1 | awk 'NR == 1 { print $3 }'), 1 thread, roundrobin 95/5" ;;
	canary) echo "canary proxy, weight 5, GOMAXPROCS=$(nproc)" ;;
	canary1) echo "canary proxy, weight 5, GOMAXPROCS=1" ;;
	esac
}
NGINX_RPS=$(median "$WORK/closed.txt" 3 '$1 == "nginx"')
NGINX_CPU=$(median "$WORK/closed.txt" 6 '$1 == "nginx"')
{
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(go version | cut -d' ' -f3)"
	echo "load average (1/5/15 min) before / after the closed loop / after the open loop: $LOAD_BEFORE / $LOAD_MID / $LOAD_AFTER; other processes used $OTHERS"
	echo
	echo "closed loop: wrk -t$THREADS -c$CONNS -d$DURATION --latency (after a 2s warm-up), $RUNS runs, targets interleaved; median [min–max]"
	echo
	echo "| target | req/s | × nginx (medians) | p50 ms | p99 ms | CPU µs/req | × nginx CPU | peak RSS MiB, closed loop / after open loop |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for t in "${TARGETS[@]}"; do
		c="\$1 == \"$t\""
		rps=$(median "$WORK/closed.txt" 3 "$c") cpu=$(median "$WORK/closed.txt" 6 "$c")
		xcpu=—
		[ "$t" != direct ] && xcpu=$(awk -v a="$cpu" -v b="$NGINX_CPU" 'BEGIN { printf "%.2f", a / b }')
		echo "| $(label "$t") | $(stat "$WORK/closed.txt" 3 "$c") | $(awk -v a="$rps" -v b="$NGINX_RPS" 'BEGIN { printf "%.2f", a / b }') | $(stat "$WORK/closed.txt" 4 "$c") | $(stat "$WORK/closed.txt" 5 "$c") | $(stat "$WORK/closed.txt" 6 "$c") | $xcpu | ${RSS_CL[$t]:-—} / ${RSS[$t]:-—} |"
	done
	echo
	echo "open loop: bench/loadgen -rate R -duration $RATE_DURATION (first 1s not measured), $RUNS runs; p99 ms, median [min–max]; R is per run"
	echo
	echo "| rate R | direct | nginx | haproxy | canary GOMAXPROCS=$(nproc) | canary − nginx (medians) |"
	echo "|---|---:|---:|---:|---:|---:|"
	for kind in half-nginx half-canary light; do
		k="\$1 == \"$kind\""
		echo "| $kind: $(stat "$WORK/open.txt" 3 "$k && \$4 == \"direct\"")/s | $(stat "$WORK/open.txt" 5 "$k && \$4 == \"direct\"") | $(stat "$WORK/open.txt" 5 "$k && \$4 == \"nginx\"") | $(stat "$WORK/open.txt" 5 "$k && \$4 == \"haproxy\"") | $(stat "$WORK/open.txt" 5 "$k && \$4 == \"canary\"") | $(awk -v a="$(median "$WORK/open.txt" 5 "$k && \$4 == \"canary\"")" -v b="$(median "$WORK/open.txt" 5 "$k && \$4 == \"nginx\"")" 'BEGIN { printf "%+.2f", a - b }') |"
	done
	echo
	echo "load average at the start of each run: $(awk '{ printf "%s %s: %s; ", $1, $2, $3 }' "$WORK/loadavg.txt")"
	awk '$7 != "-" { print "wrk " $1 " run " $2 ": " $7 }' "$WORK/closed.txt"
	awk '$7 != "0" { print "loadgen " $4 " @ " $3 "/s run " $2 ": " $7 " errors, achieved " $6 }' "$WORK/open.txt"
} | tee "$WORK/results.md"
[ -n "$PROFILE" ] && echo "CPU profile (written when the proxy exits): $WORK/canary-cpu.prof" >&2
echo "raw output: $WORK" >&2
