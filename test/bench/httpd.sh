#!/usr/bin/env bash
# test/bench/httpd.sh — what perfopt-httpd costs on top of calling perfopt
# directly, and how its /metrics compares with postgres_exporter's, in one
# run on a throwaway cluster:
#   1. the floors: pgbench over the cluster's Unix socket, as the shim
#      reaches it (its documented --conninfo names no host), as its login role
#      (perfopt_api, with role = api_reader as a startup option, so the
#      same privileges), one round trip per call, with as many connections
#      as the shim's pool (-c POOL -j 2: the server runs as many backends
#      for either, which on a machine shared with other work decides their
#      share of the CPUs more than anything the shim does), running
#        SELECT perfopt_status();              (the status route's call)
#        SELECT perfopt_metrics_prometheus();  (the exposition's call)
#      and, for information, the same with -c 16 -j 2 (wrk's connections);
#   2. wrk -t2 -c16 --latency against the routes that make those calls:
#      GET /api/v1/performance/status and
#      GET /api/v1/performance/metrics?format=prometheus, and GET /metrics
#      (the same call and the shim's own counters) for information, with
#      the shim's own CPU time per request (user + system, from
#      /proc/PID/stat: what the shim adds, however busy the machine);
#   3. scrapes one at a time, as Prometheus makes them (wrk -t1 -c1, one
#      kept-alive connection, Accept-Encoding: gzip): the shim's /metrics
#      and postgres_exporter's (Debian's prometheus-postgres-exporter, its
#      default collectors, connected as postgres to the same cluster over
#      the same socket); median and p99 milliseconds of each.
# The shim listens on 127.0.0.1 with its default sizes (pool CPUs + 1;
# HTTPD_POOL and HTTPD_THREADS set --pool and --threads); its per-token
# rate limit is lifted (--read-rate
# /--read-burst 1000000) so the benchmark measures the shim, not the
# limiter.  Each throughput run lasts the given seconds, each scrape run a
# quarter of them (at least 5).
# Goals, printed as ratios from this one run: each route reaches >= 85% of
# the requests/s of its call made directly, with no errors; the shim's
# /metrics scrape is >= 10x faster (median) than postgres_exporter's.
# A FAIL is reported, not an error (the exit status is 0).
# It measures the perfopt and perfopt-httpd that are installed (make install
# first); wrk and prometheus-postgres-exporter come from Debian (installed
# with the rest when run as root).
#   bash test/bench/httpd.sh [seconds per run, default 20]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
seconds=${1:-20}
scrape_seconds=$((seconds / 4 < 5 ? 5 : seconds / 4))
httpd=$PGBIN/perfopt-httpd
exporter=/usr/bin/prometheus-postgres-exporter
pool_opt=()
[ -n "${HTTPD_POOL:-}" ] && pool_opt+=(--pool "$HTTPD_POOL")
[ -n "${HTTPD_THREADS:-}" ] && pool_opt+=(--threads "$HTTPD_THREADS")

if [ "$(id -u)" = 0 ]; then
	PERFOPT_PACKAGES="$PERFOPT_PACKAGES prometheus-postgres-exporter" perfopt_install_deps
fi
perfopt_require wrk || exit 1
if [ ! -x "$exporter" ]; then
	echo "$exporter is missing (run as root to install it, or apt-get install prometheus-postgres-exporter)" >&2
	exit 1
fi
if [ ! -x "$httpd" ]; then
	echo "$httpd is not installed (make install first)" >&2
	exit 1
fi

perfopt_bench_cluster 59432 "listen_addresses = '127.0.0.1'" "perfopt.advisor_interval = 0"
# the shim, its per-token rate limit lifted
perfopt_bench_shim "${pool_opt[@]}" --read-rate 1000000 --read-burst 1000000 || exit 1

# postgres_exporter on the same cluster, stopped with the rest
exporter_port=$(perfopt_free_port $((http_port + 1)))
exporter_pid=$(perfopt_as_pg env DATA_SOURCE_NAME="host=$BENCH_DIR port=$BENCH_PORT user=postgres dbname=postgres sslmode=disable" \
	sh -c '"$@" >/dev/null 2>>"$0" & echo $!' "$BENCH_DIR/exporter.log" \
	"$exporter" --web.listen-address="127.0.0.1:$exporter_port")
trap 'kill "$exporter_pid" 2>/dev/null || true; perfopt_bench_stop' EXIT
for _ in $(seq 1 100); do
	curl -s "http://127.0.0.1:$exporter_port/metrics" | grep -q '^pg_up 1' && break
	sleep 0.1
done
if ! curl -s "http://127.0.0.1:$exporter_port/metrics" | grep -q '^pg_up 1'; then
	echo "postgres_exporter does not report pg_up 1:" >&2
	tail -n 20 "$BENCH_DIR/exporter.log" >&2
	exit 1
fi

# convert wrk's "1.23ms", "456.00us", "1.02s", "1.50m" to milliseconds
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
		if (f < 0) { print "nan"; exit }
		printf "%.3f", n * f
	}'
}

# CPU time (user + system, in clock ticks) a process has used
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_s=$(getconf CLK_TCK)
# the server's CPU time: the postmaster's own and its reaped children's,
# and its live children's (backends that are still connected)
server_ticks() {
	local pm
	pm=$(head -n 1 "$BENCH_DIR/data/postmaster.pid")
	{
		awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
		for c in $(ps -o pid= --ppid "$pm"); do
			awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || true
		done
	} | awk '{ n += $1 } END { print n + 0 }'
}
# us_per NAME TICKS REQUESTS: CPU microseconds per request
us_per() { awk -v t="$1" -v n="$2" -v hz="$ticks_per_s" 'BEGIN { printf "%.1f", (n > 0) ? t * 1e6 / hz / n : 0 }'; }
# client_ticks OUT ERR COMMAND...: run COMMAND in a subshell, its output
# in OUT and ERR, and print the CPU ticks of the subshell's waited-for
# children (the client: wrk, or pgbench under runuser); COMMAND's status
client_ticks() {
	local o=$1 e=$2
	shift 2
	(
		"$@" >"$o" 2>"$e"
		rc=$?
		awk '{ print $16 + $17 }' "/proc/$BASHPID/stat"
		exit $rc
	)
}

declare -A rps p50 p99 errors shim_us server_us client_us
# run_wrk NAME URL THREADS CONNECTIONS SECONDS [header...]: requests/s,
# median, p99, the responses that were not 2xx/3xx and the shim's CPU
# microseconds per request
run_wrk() {
	local name=$1 url=$2 t=$3 c=$4 s=$5 out="$BENCH_DIR/wrk.$1.out" before requests
	shift 5
	local headers=()
	for h in "$@"; do headers+=(-H "$h"); done
	perfopt_log "wrk -t$t -c$c -d${s}s $url"
	local before server_before client
	before=$(cpu_ticks "$shim_pid")
	server_before=$(server_ticks)
	client=$(client_ticks "$out" /dev/null wrk -t"$t" -c"$c" -d"${s}s" --latency "${headers[@]}" "$url")
	requests=$(awk '/requests in/ { print $1 }' "$out")
	shim_us[$name]=$(us_per $(($(cpu_ticks "$shim_pid") - before)) "$requests")
	server_us[$name]=$(us_per $(($(server_ticks) - server_before)) "$requests")
	client_us[$name]=$(us_per "$client" "$requests")
	rps[$name]=$(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' "$out")
	p50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
	p99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	errors[$name]=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ {
		for (i = 4; i <= NF; i += 2) { v = $i; gsub(/,/, "", v); n += v } } END { print n + 0 }' "$out")
}

# run_pgbench NAME CLIENTS JOBS SQL: a floor, with a per-transaction log (3rd column: latency in us)
run_pgbench() {
	local name=$1 clients=$2 jobs=$3 sql=$4
	echo "$sql" >"$BENCH_DIR/$name.pgbench"
	mkdir -p "$BENCH_DIR/log.$name"
	if [ "$(id -u)" = 0 ]; then chown postgres "$BENCH_DIR/$name.pgbench" "$BENCH_DIR/log.$name"; fi
	perfopt_log "pgbench -c $clients -j $jobs -T $seconds: $sql over the socket as perfopt_api (role api_reader)"
	local server_before client requests
	server_before=$(server_ticks)
	client=$(client_ticks "$BENCH_DIR/pgbench.$name.out" "$BENCH_DIR/pgbench.$name.err" perfopt_as_pg env PGOPTIONS="-c role=api_reader" pgbench -h "$BENCH_DIR" -p "$BENCH_PORT" -U perfopt_api \
		-n -c "$clients" -j "$jobs" -T "$seconds" -f "$BENCH_DIR/$name.pgbench" \
		--log --log-prefix="$BENCH_DIR/log.$name/pgbench_log" postgres) || {
		echo "pgbench failed:" >&2
		cat "$BENCH_DIR/pgbench.$name.err" >&2
		exit 1
	}
	# (the server's CPU counts pgbench's backends once they have exited)
	for _ in $(seq 1 50); do
		[ "$(perfopt_as_pg psql -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -XAtc \
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'" postgres)" = 0 ] && break
		sleep 0.1
	done
	sleep 0.2
	requests=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$BENCH_DIR/pgbench.$name.out")
	server_us[$name]=$(us_per $(($(server_ticks) - server_before)) "$requests")
	client_us[$name]=$(us_per "$client" "$requests")
	rps[$name]=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$BENCH_DIR/pgbench.$name.out" |
		awk '{ printf "%.1f", $1 }')
	p99[$name]=$(cat "$BENCH_DIR/log.$name"/pgbench_log.* | awk '{ print $3 }' | sort -n |
		awk '{ v[NR] = $1 } END { k = int(NR * 0.99); if (k < NR * 0.99) k++; if (k < 1) k = 1; printf "%.3f", v[k] / 1000 }')
	errors[$name]=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$BENCH_DIR/pgbench.$name.out")
	errors[$name]=${errors[$name]:-0}
}

shim="http://127.0.0.1:$http_port"
auth="Authorization: Bearer $token"
pool=$(sed -n 's/.*"event": "listening".*"pool": \([0-9]*\).*/\1/p' "$shim_log" | head -n 1)
threads=$(sed -n 's/.*"event": "listening".*"threads": \([0-9]*\).*/\1/p' "$shim_log" | head -n 1)
jobs=$((pool < 2 ? pool : 2))
run_pgbench direct_status "$pool" "$jobs" "SELECT perfopt_status();"
run_pgbench direct_prom "$pool" "$jobs" "SELECT perfopt_metrics_prometheus();"
run_pgbench direct16_status 16 2 "SELECT perfopt_status();"
run_pgbench direct16_prom 16 2 "SELECT perfopt_metrics_prometheus();"

# a short warm-up opens the shim's connections, then the measured runs
wrk -t2 -c16 -d2s -H "$auth" "$shim/api/v1/performance/status" >/dev/null
run_wrk status "$shim/api/v1/performance/status" 2 16 "$seconds" "$auth"
run_wrk prom "$shim/api/v1/performance/metrics?format=prometheus" 2 16 "$seconds" "$auth"
run_wrk metrics "$shim/metrics" 2 16 "$seconds" "$auth"

# scrapes one at a time, with Prometheus's Accept-Encoding
run_wrk scrape_shim "$shim/metrics" 1 1 "$scrape_seconds" "$auth" "Accept-Encoding: gzip"
run_wrk scrape_exporter "http://127.0.0.1:$exporter_port/metrics" 1 1 "$scrape_seconds" "Accept-Encoding: gzip"

echo "perfopt-httpd --pool $pool --threads $threads (per-token rate limit lifted: --read-rate 1000000 --read-burst 1000000)"
echo "wrk -t2 -c16 and pgbench -c $pool -j $jobs, ${seconds}s each; scrapes wrk -t1 -c1, ${scrape_seconds}s each; $(nproc) CPUs, all on this machine"
row() { printf '  %-56s %12s %9s %9s %7s %9s %9s %9s\n' "$@"; }
row target requests/s "p50 ms" "p99 ms" errors "shim us" "server us" "client us"
row "pgbench -c $pool SELECT perfopt_status() (floor)" "${rps[direct_status]}" "" "${p99[direct_status]}" "${errors[direct_status]}" "" "${server_us[direct_status]}" "${client_us[direct_status]}"
row "pgbench -c 16 SELECT perfopt_status()" "${rps[direct16_status]}" "" "${p99[direct16_status]}" "${errors[direct16_status]}" "" "${server_us[direct16_status]}" "${client_us[direct16_status]}"
row "GET /api/v1/performance/status" "${rps[status]}" "${p50[status]}" "${p99[status]}" "${errors[status]}" "${shim_us[status]}" "${server_us[status]}" "${client_us[status]}"
row "pgbench -c $pool SELECT perfopt_metrics_prometheus() (floor)" "${rps[direct_prom]}" "" "${p99[direct_prom]}" "${errors[direct_prom]}" "" "${server_us[direct_prom]}" "${client_us[direct_prom]}"
row "pgbench -c 16 SELECT perfopt_metrics_prometheus()" "${rps[direct16_prom]}" "" "${p99[direct16_prom]}" "${errors[direct16_prom]}" "" "${server_us[direct16_prom]}" "${client_us[direct16_prom]}"
row "GET /api/v1/performance/metrics?format=prometheus" "${rps[prom]}" "${p50[prom]}" "${p99[prom]}" "${errors[prom]}" "${shim_us[prom]}" "${server_us[prom]}" "${client_us[prom]}"
row "GET /metrics" "${rps[metrics]}" "${p50[metrics]}" "${p99[metrics]}" "${errors[metrics]}" "${shim_us[metrics]}" "${server_us[metrics]}" "${client_us[metrics]}"
row "scrape perfopt-httpd /metrics" "${rps[scrape_shim]}" "${p50[scrape_shim]}" "${p99[scrape_shim]}" "${errors[scrape_shim]}" "${shim_us[scrape_shim]}" "${server_us[scrape_shim]}" "${client_us[scrape_shim]}"
row "scrape postgres_exporter /metrics" "${rps[scrape_exporter]}" "${p50[scrape_exporter]}" "${p99[scrape_exporter]}" "${errors[scrape_exporter]}" "" "${server_us[scrape_exporter]}" "${client_us[scrape_exporter]}"
awk -v ds="${rps[direct_status]}" -v s="${rps[status]}" -v dp="${rps[direct_prom]}" -v p="${rps[prom]}" \
	-v m="${rps[metrics]}" -v es="${errors[status]}" -v ep="${errors[prom]}" \
	-v ds16="${rps[direct16_status]}" -v dp16="${rps[direct16_prom]}" \
	-v sm="${p50[scrape_shim]}" -v em="${p50[scrape_exporter]}" \
	-v fs="${server_us[direct_status]}+${client_us[direct_status]}" \
	-v hs="${server_us[status]}+${client_us[status]}+${shim_us[status]}" \
	-v fp="${server_us[direct_prom]}+${client_us[direct_prom]}" \
	-v hp="${server_us[prom]}+${client_us[prom]}+${shim_us[prom]}" 'BEGIN {
	# CPU microseconds per request of every part, summed
	split(fs, a, "+"); cfs = a[1] + a[2]
	split(hs, a, "+"); chs = a[1] + a[2] + a[3]
	split(fp, a, "+"); cfp = a[1] + a[2]
	split(hp, a, "+"); chp = a[1] + a[2] + a[3]
	rs = (ds > 0) ? s / ds : 0
	rp = (dp > 0) ? p / dp : 0
	rx = (sm > 0) ? em / sm : 0
	printf "  ratio status / its floor:                          %.3f\n", rs
	printf "  ratio metrics?format=prometheus / its floor:       %.3f\n", rp
	printf "  ratio /metrics / the prometheus floor (information): %.3f\n", (dp > 0) ? m / dp : 0
	printf "  the same against pgbench -c 16 (information):      status %.3f, metrics?format=prometheus %.3f\n",
		(ds16 > 0) ? s / ds16 : 0, (dp16 > 0) ? p / dp16 : 0
	printf "  ratio postgres_exporter / shim scrape (median):    %.1f\n", rx
	printf "  CPU us per request, server + client (+ shim): status floor %.0f, route %.0f; prometheus floor %.0f, route %.0f\n",
		cfs, chs, cfp, chp
	printf "  ratio the CPU time allows when every CPU is busy (floor CPU / route CPU): status %.3f, metrics?format=prometheus %.3f\n",
		(chs > 0) ? cfs / chs : 0, (chp > 0) ? cfp / chp : 0
	printf "  goal status >= 0.85 x floor, no errors:                      %s\n", (rs >= 0.85 && es == 0 ? "PASS" : "FAIL")
	printf "  goal metrics?format=prometheus >= 0.85 x floor, no errors:   %s\n", (rp >= 0.85 && ep == 0 ? "PASS" : "FAIL")
	printf "  goal shim /metrics scrape >= 10x faster than postgres_exporter: %s\n", (rx >= 10 ? "PASS" : "FAIL")
}'
