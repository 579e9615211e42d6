#!/usr/bin/env bash
# test/bench/httpd.sh — what perfopt-httpd costs on top of calling perfopt
# directly, in one run on a throwaway cluster:
#   1. the floor: pgbench -c 16 -j 2 running "SELECT perfopt_status();" over
#      TCP on 127.0.0.1 as the shim's login role (perfopt_api, with
#      role = api_reader as a startup option, so the same privileges): one
#      round trip per call;
#   2. wrk -t2 -c16 --latency against GET /api/v1/performance/status
#      (SELECT perfopt_status() in a transaction as api_reader);
#   3. the same against GET /metrics (perfopt_metrics_prometheus() and the
#      shim's own counters), for information.
# The shim listens on 127.0.0.1 with its default sizes (pool CPUs + 1,
# HTTP threads CPUs / 2; HTTPD_POOL and HTTPD_THREADS set --pool and
# --threads) and talks to the same host and
# port; its per-token rate limit is lifted (--read-rate/--read-burst 1000000)
# so the benchmark measures the shim, not the limiter.  Each run lasts the
# given seconds; requests/s (pgbench: tps without initial connection time)
# and p99 (wrk's latency distribution; pgbench's per-transaction log) are
# printed side by side.
# Goal: /api/v1/performance/status reaches >= 70% of the direct rate, with
# p99 under 20 ms.  A FAIL is reported, not an error (the exit status is 0).
# It measures the perfopt and perfopt-httpd that are installed (make install
# first); wrk comes from Debian (installed with the rest when run as root).
#   bash test/bench/httpd.sh [seconds per run, default 20]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
seconds=${1:-20}
httpd=$PGBIN/perfopt-httpd
pool_opt=()
[ -n "${HTTPD_POOL:-}" ] && pool_opt+=(--pool "$HTTPD_POOL")
[ -n "${HTTPD_THREADS:-}" ] && pool_opt+=(--threads "$HTTPD_THREADS")

[ "$(id -u)" = 0 ] && perfopt_install_deps
perfopt_require wrk || exit 1
if [ ! -x "$httpd" ]; then
	echo "$httpd is not installed (make install first)" >&2
	exit 1
fi

perfopt_bench_cluster 59432 "listen_addresses = '127.0.0.1'" "perfopt.advisor_interval = 0"
# the shim, its per-token rate limit lifted
perfopt_bench_shim "${pool_opt[@]}" --read-rate 1000000 --read-burst 1000000 || exit 1

# convert wrk's "1.23ms", "456.00us", "1.02s", "1.50m" to milliseconds
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
		if (f < 0) { print "nan"; exit }
		printf "%.3f", n * f
	}'
}

declare -A rps p99 errors
# run_wrk NAME PATH: requests/s, p99 and the responses that were not 2xx/3xx
run_wrk() {
	local name=$1 path=$2 out="$BENCH_DIR/wrk.$1.out"
	perfopt_log "wrk -t2 -c16 -d${seconds}s $path"
	wrk -t2 -c16 -d"${seconds}s" --latency -H "Authorization: Bearer $token" \
		"http://127.0.0.1:$http_port$path" >"$out"
	rps[$name]=$(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' "$out")
	p99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	errors[$name]=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ {
		for (i = 4; i <= NF; i += 2) { v = $i; gsub(/,/, "", v); n += v } } END { print n + 0 }' "$out")
}

# the floor: pgbench with a per-transaction log (3rd column: latency in us)
echo "SELECT perfopt_status();" >"$BENCH_DIR/status.pgbench"
[ "$(id -u)" = 0 ] && chown postgres "$BENCH_DIR/status.pgbench"
perfopt_log "pgbench -c 16 -j 2 -T $seconds: SELECT perfopt_status() over TCP as perfopt_api (role api_reader)"
perfopt_as_pg env PGOPTIONS="-c role=api_reader" pgbench -h 127.0.0.1 -p "$BENCH_PORT" -U perfopt_api \
	-n -c 16 -j 2 -T "$seconds" -f "$BENCH_DIR/status.pgbench" \
	--log --log-prefix="$BENCH_DIR/pgbench_log" postgres >"$BENCH_DIR/pgbench.out" 2>"$BENCH_DIR/pgbench.err" || {
	echo "pgbench failed:" >&2
	cat "$BENCH_DIR/pgbench.err" >&2
	exit 1
}
rps[direct]=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$BENCH_DIR/pgbench.out" |
	awk '{ printf "%.1f", $1 }')
p99[direct]=$(cat "$BENCH_DIR"/pgbench_log.* | awk '{ print $3 }' | sort -n |
	awk '{ v[NR] = $1 } END { k = int(NR * 0.99); if (k < NR * 0.99) k++; if (k < 1) k = 1; printf "%.3f", v[k] / 1000 }')
errors[direct]=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$BENCH_DIR/pgbench.out")
errors[direct]=${errors[direct]:-0}

# a short warm-up opens the shim's connections, then the measured runs
wrk -t2 -c16 -d2s -H "Authorization: Bearer $token" \
	"http://127.0.0.1:$http_port/api/v1/performance/status" >/dev/null
run_wrk status /api/v1/performance/status
run_wrk metrics /metrics

pool=$(sed -n 's/.*"event": "listening".*"pool": \([0-9]*\).*/\1/p' "$shim_log" | head -n 1)
threads=$(sed -n 's/.*"event": "listening".*"threads": \([0-9]*\).*/\1/p' "$shim_log" | head -n 1)
echo "perfopt-httpd --pool $pool --threads $threads (per-token rate limit lifted: --read-rate 1000000 --read-burst 1000000)"
echo "wrk -t2 -c16 and pgbench -c 16 -j 2, ${seconds}s each, $(nproc) CPUs, all on this machine"
printf '  %-42s %12s %10s %8s\n' target requests/s "p99 ms" errors
printf '  %-42s %12s %10s %8s\n' "pgbench SELECT perfopt_status() (floor)" "${rps[direct]}" "${p99[direct]}" "${errors[direct]}"
printf '  %-42s %12s %10s %8s\n' "GET /api/v1/performance/status" "${rps[status]}" "${p99[status]}" "${errors[status]}"
printf '  %-42s %12s %10s %8s\n' "GET /metrics" "${rps[metrics]}" "${p99[metrics]}" "${errors[metrics]}"
awk -v d="${rps[direct]}" -v s="${rps[status]}" -v m="${rps[metrics]}" -v p="${p99[status]}" \
	-v pm="${p99[metrics]}" -v e="${errors[status]}" 'BEGIN {
	r = (d > 0) ? s / d : 0
	printf "  ratio status / floor:                 %.3f\n", r
	printf "  ratio /metrics / floor (information): %.3f\n", (d > 0) ? m / d : 0
	printf "  /metrics p99 < 20 ms (information):   %s\n", (pm + 0 < 20 ? "yes" : "no")
	ok = (r >= 0.70 && p + 0 < 20 && e == 0)
	printf "  goal status >= 0.70 x floor, p99 < 20 ms, no errors: %s\n", (ok ? "PASS" : "FAIL")
}'
