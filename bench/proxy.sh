#!/usr/bin/env bash
# Proxy benchmark: direct to a backend vs nginx (1 worker, split_clients
# 95/5) vs canary's proxy (weight 5), side by side on loopback, in one run.
#
#   bench/proxy.sh                 # from the repository root
#   DURATION=10s CONNS=64 THREADS=2 RATE_DURATION=10s RATE_LIGHT=1000 bench/proxy.sh
#
# 1. closed loop: wrk -t$THREADS -c$CONNS -d$DURATION --latency per target
#    (after a 2s warm-up): requests/s, p50, p99, and each proxy's CPU
#    seconds during the run and peak RSS (VmHWM from /proc).
# 2. open loop: bench/loadgen at a constant rate against each target, at
#    half the direct max rate, at half the canary proxy's max rate and at
#    a light rate: p99, and the p99 each proxy adds over direct.
#
# DURATION and RATE_DURATION are in seconds (e.g. 10s). On a shared
# machine, run it in its own session with a higher autogroup priority:
#   setsid bash -c 'echo -10 >/proc/self/autogroup && exec bench/proxy.sh'
# The report says how much CPU other processes took during the run.
#
# Installs wrk and nginx-light with apt-get if missing. Everything listens
# on 127.0.0.1 (ports 9101-9102, 9300, 9400-9401); every process started
# is stopped by its pid on exit. Results go to stdout and $WORK/results.md.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
RATE_DURATION=${RATE_DURATION:-10s}
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
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

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
# CPU seconds of the script's finished children (wrk, loadgen), from a
# file `times` wrote: `times` must run in this shell, not in $(...).
children_seconds() { awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$1"; }
T0=$(date +%s.%N)
BUSY0=$(busy_ticks)
times >"$WORK/times0"

# --- start the targets -------------------------------------------------
"$WORK/bin/backend" -addr 127.0.0.1:9101,127.0.0.1:9102 &
PIDS+=($!)
BACKEND=$!

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<'EOF'
worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path tmp_body;
	proxy_temp_path tmp_proxy;
	fastcgi_temp_path tmp_fastcgi;
	uwsgi_temp_path tmp_uwsgi;
	scgi_temp_path tmp_scgi;
	upstream stable { server 127.0.0.1:9101; keepalive 128; }
	upstream canary { server 127.0.0.1:9102; keepalive 128; }
	split_clients "${request_id}" $pool {
		95% stable;
		*   canary;
	}
	server {
		listen 127.0.0.1:9300;
		location / {
			proxy_pass http://$pool;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Host $host;
			proxy_set_header X-Forwarded-Proto $scheme;
			add_header X-Canary-Track $pool;
		}
	}
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
NGINX_MASTER=$!

prof=()
[ -n "$PROFILE" ] && prof=(-cpuprofile "$WORK/canary-cpu.prof")
"$WORK/bin/proxyserver" -listen 127.0.0.1:9400 -weight 5 "${prof[@]}" &
PIDS+=($!)
CANARY=$!
GOMAXPROCS=1 "$WORK/bin/proxyserver" -listen 127.0.0.1:9401 -weight 5 &
PIDS+=($!)
CANARY1=$!

wait_http http://127.0.0.1:9101/
wait_http http://127.0.0.1:9300/
wait_http http://127.0.0.1:9400/
wait_http http://127.0.0.1:9401/
NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -1)

# --- closed loop -------------------------------------------------------
declare -A RPS P50 P99 CPU RSS RSS_CL ERRS
run_wrk() { # name url pid-or-empty
	local name=$1 url=$2 pid=$3 out="$WORK/wrk-$1.txt" c0=0 c1=0
	wrk -t"$THREADS" -c"$CONNS" -d2s "$url" >/dev/null
	[ -n "$pid" ] && c0=$(cpu_seconds "$pid")
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url" >"$out"
	[ -n "$pid" ] && c1=$(cpu_seconds "$pid")
	RPS[$name]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
	P50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
	P99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	ERRS[$name]=$(awk '/Non-2xx|Socket errors/ { sub(/^ +/, ""); printf "%s; ", $0 }' "$out")
	if [ -n "$pid" ]; then
		CPU[$name]=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
		RSS_CL[$name]=$(vmhwm_mb "$pid")
	else
		CPU[$name]="—"
		RSS_CL[$name]="—"
	fi
	RSS[$name]=${RSS_CL[$name]}
	echo "wrk $name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms ${ERRS[$name]}" >&2
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
run_wrk direct http://127.0.0.1:9101/ ""
run_wrk nginx http://127.0.0.1:9300/ "$NGINX_WORKER"
run_wrk canary http://127.0.0.1:9400/ "$CANARY"
run_wrk canary1 http://127.0.0.1:9401/ "$CANARY1"

# --- open loop -----------------------------------------------------------
# At half the direct max (the stated target), at half the canary proxy's
# own max (a rate it can sustain) and at a light $RATE_LIGHT/s.
RATE_D=$((RPS[direct] / 2))
RATE_C=$((RPS[canary] / 2))
declare -A OL
run_load() { # name port rate
	local out="$WORK/load-$1-$3.txt"
	"$WORK/bin/loadgen" -url "http://127.0.0.1:$2/" -rate "$3" -duration "$RATE_DURATION" >"$out"
	OL[$1@$3]=$(cat "$out")
	echo "loadgen $1 @ $3/s: ${OL[$1@$3]}" >&2
}
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"${OL[$1]}"; }
for rate in "$RATE_D" "$RATE_C" "$RATE_LIGHT"; do
	for t in direct:9101 nginx:9300 canary:9400; do
		run_load "${t%%:*}" "${t##*:}" "$rate"
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Our CPU: the servers' lifetimes plus wrk and loadgen (children).
times >"$WORK/times1"
OURS=$(awk -v a="$(children_seconds "$WORK/times1")" -v b="$(children_seconds "$WORK/times0")" 'BEGIN { print a - b }')
for pid in "$BACKEND" "$NGINX_MASTER" "$NGINX_WORKER" "$CANARY" "$CANARY1"; do
	OURS=$(awk -v a="$OURS" -v b="$(cpu_seconds "$pid")" 'BEGIN { print a + b }')
done
OTHERS=$(awk -v b0="$BUSY0" -v b1="$(busy_ticks)" -v tck="$(getconf CLK_TCK)" -v ours="$OURS" -v t0="$T0" -v t1="$(date +%s.%N)" -v n="$(nproc)" \
	'BEGIN { o = (b1 - b0) / tck - ours; if (o < 0) o = 0; printf "%.1f CPU-s over %.0f s (%.0f%% of the machine)", o, t1 - t0, 100 * o / ((t1 - t0) * n) }')

# Peak RSS again after the open-loop runs (up to 256 connections, and
# queues when a proxy is saturated); canary1 takes no open-loop load.
RSS[nginx]=$(vmhwm_mb "$NGINX_WORKER")
RSS[canary]=$(vmhwm_mb "$CANARY")

# --- report ------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }
ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }
label() {
	case $1 in
	direct) echo "direct to backend" ;;
	nginx) echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*nginx/||'), 1 worker, split_clients 95/5" ;;
	canary) echo "canary proxy, weight 5, GOMAXPROCS=$(nproc)" ;;
	canary1) echo "canary proxy, weight 5, GOMAXPROCS=1" ;;
	esac
}
{
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(go version | cut -d' ' -f3)"
	echo "load average before/after: $LOAD_BEFORE / $LOAD_AFTER; other processes used $OTHERS"
	echo
	echo "closed loop: wrk -t$THREADS -c$CONNS -d$DURATION --latency (after a 2s warm-up)"
	echo
	echo "| target | req/s | × direct | × nginx | p50 ms | p99 ms | proxy CPU s | proxy CPU µs/req | proxy peak RSS MiB, closed loop / after open loop |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for n in direct nginx canary canary1; do
		per="—"
		[ "${CPU[$n]}" != "—" ] && per=$(awk -v c="${CPU[$n]}" -v r="${RPS[$n]}" -v d="${DURATION%s}" 'BEGIN { printf "%.1f", c * 1e6 / (r * d) }')
		echo "| $(label "$n") | ${RPS[$n]} | $(ratio "${RPS[$n]}" "${RPS[direct]}") | $(ratio "${RPS[$n]}" "${RPS[nginx]}") | ${P50[$n]} | ${P99[$n]} | ${CPU[$n]} | $per | ${RSS_CL[$n]} / ${RSS[$n]} |"
	done
	echo
	echo "open loop: bench/loadgen -rate R -duration $RATE_DURATION (first 1s not measured); p99 in ms, achieved req/s in brackets"
	echo
	echo "| rate R | direct p99 | nginx p99 | canary p99 | nginx adds | canary adds |"
	echo "|---|---:|---:|---:|---:|---:|"
	for rate in "$RATE_D" "$RATE_C" "$RATE_LIGHT"; do
		what="light load"
		[ "$rate" = "$RATE_C" ] && what="half the canary max"
		[ "$rate" = "$RATE_D" ] && what="half the direct max"
		d=$(field "direct@$rate" p99_us) g=$(field "nginx@$rate" p99_us) c=$(field "canary@$rate" p99_us)
		echo "| $rate/s ($what) | $(ms "$d") [$(field "direct@$rate" achieved)] | $(ms "$g") [$(field "nginx@$rate" achieved)] | $(ms "$c") [$(field "canary@$rate" achieved)] | $(ms $((g - d))) | $(ms $((c - d))) |"
	done
	echo
	for n in direct nginx canary canary1; do
		[ -n "${ERRS[$n]}" ] && echo "wrk $n: ${ERRS[$n]}"
	done
	for k in "${!OL[@]}"; do echo "loadgen $k: ${OL[$k]}"; done | sort
} | tee "$WORK/results.md"
[ -n "$PROFILE" ] && echo "CPU profile (written when the proxy exits): $WORK/canary-cpu.prof" >&2
echo "raw output: $WORK" >&2
