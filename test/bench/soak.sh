#!/usr/bin/env bash
# test/bench/soak.sh — perfopt under sustained load for a given time, in
# one run on a throwaway cluster:
#   - pgbench -c 8 -j 2 -T <seconds>: the built-in TPC-B-like script
#     (scale 8: a branch per client, so branch-row contention stays low),
#     with test/workload/soak.pgbench mixed in (weight 1 in 20): lookups on
#     the advisor schema (test/workload/advisor_schema.sql, scale 1) that
#     need an index, and writes to the same tables;
#   - perfopt-httpd under wrk -t2 -c4 for the same time, alternating
#     GET /api/v1/performance/status and GET /metrics;
#   - perfopt sampling every 100 ms (perfopt.monitoring_interval), writing
#     history every 5 s, the periodic advisor every seconds/5 (>= 30 s);
#   - SELECT perfopt_optimize() once, after seconds/2, then a wait for its
#     jobs (CREATE INDEX CONCURRENTLY on the tables being written).
# log_lock_waits is on with deadlock_timeout = perfopt.job_lock_timeout, so
# every lock wait longer than the jobs' lock timeout is logged with its
# holders; the RSS of every perfopt process (the worker, the advisor and
# job runner while they exist, perfopt-httpd) is sampled every second.
# It prints pgbench's TPS and failures, wrk's requests/s and errors, the
# long lock waits (all, and those whose holder was a perfopt process), the
# jobs, RSS start/end/max per process, and PASS or FAIL; the exit status is
# 1 on FAIL: a pgbench error or failed transaction, a long lock wait held by
# perfopt, a perfopt process gone (or a crash in the server log), a non-2xx
# answer or socket error from the shim, no index built or a job not
# succeeded, or an RSS grown by more than 20% + 8 MB from the first sample
# after the warm-up to the end (a sanity bound against leaks, not a timing
# assertion).  SOAK_JOB_LOCK_TIMEOUT_MS (default 5000) sets both timeouts.
# As root it installs what is missing and builds and installs perfopt first.
#   bash test/bench/soak.sh [seconds, default 60]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 20 ]; then
	echo "usage: $0 [seconds >= 20, default 60]" >&2
	exit 2
fi
clients=8
scale=$clients
lock_ms=${SOAK_JOB_LOCK_TIMEOUT_MS:-5000}
advisor_interval=$((seconds / 5 < 30 ? 30 : seconds / 5))
# RSS growth is measured from the first sample after the warm-up (caches,
# pools and shared memory touched once are in by then)
warmup=$((seconds / 10 < 10 ? 10 : seconds / 10))
httpd=$PGBIN/perfopt-httpd

if [ "$(id -u)" = 0 ]; then
	perfopt_install_deps
	perfopt_build_install
fi
perfopt_require wrk || exit 1
if [ ! -x "$httpd" ]; then
	echo "$httpd is not installed (make install first)" >&2
	exit 1
fi

perfopt_bench_cluster 56432 "listen_addresses = '127.0.0.1'" "shared_buffers = '256MB'" \
	"perfopt.monitoring_interval = 100" "perfopt.history_interval = 5" \
	"perfopt.advisor_interval = $advisor_interval" \
	"perfopt.job_lock_timeout = $lock_ms" "deadlock_timeout = $lock_ms" "log_lock_waits = on"

# what this script starts in the background, stopped before the shim and
# the cluster (perfopt_bench_stop, the trap this one replaces)
sampler_pid="" pgbench_pid="" wrk_pid=""
cleanup() {
	local p
	for p in $sampler_pid $wrk_pid $pgbench_pid; do kill -TERM "$p" 2>/dev/null || true; done
	perfopt_bench_stop
}
trap cleanup EXIT
postmaster=$(head -n 1 "$BENCH_DIR/data/postmaster.pid")

perfopt_log "pgbench -i -s $scale, and the advisor schema at scale 1"
perfopt_as_pg pgbench -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -i -q -s "$scale" postgres >/dev/null 2>&1
psql_b -v scale=1 -f "$PERFOPT_TOP/test/workload/advisor_schema.sql" 2>&1 | grep -v NOTICE || true
sql "SELECT pg_stat_statements_reset()" >/dev/null

# the shim, its per-token rate limit lifted so that wrk is never refused
perfopt_bench_shim --read-rate 1000000 --read-burst 1000000 || exit 1
# wrk alternates the two routes on every connection
cat >"$BENCH_DIR/routes.lua" <<'LUA'
local paths = { "/api/v1/performance/status", "/metrics" }
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", paths[n % 2 + 1])
end
LUA

# one line per perfopt process and sample: "epoch pid VmRSS_kB RssAnon_kB name";
# the perfopt background workers are the postmaster's children whose title
# starts with "postgres: perfopt " (the shim's sessions are not sampled)
rss_file=$BENCH_DIR/rss
pids_file=$BENCH_DIR/perfopt_pids
sample_rss() {
	local now pid title mem
	now=$(date +%s)
	{
		ps --ppid "$postmaster" -o pid=,args= 2>/dev/null | sed -n 's/^ *\([0-9]*\) postgres: \(perfopt .*\)$/\1 \2/p'
		echo "$shim_pid perfopt-httpd"
	} | while read -r pid title; do
		mem=$(awk '$1 == "VmRSS:" { r = $2 } $1 == "RssAnon:" { a = $2 } END { if (r != "") print r, a }' \
			"/proc/$pid/status" 2>/dev/null) || continue
		[ -n "$mem" ] && echo "$now $pid $mem ${title% }"
	done >>"$rss_file"
}
# the pids of perfopt's processes and sessions (the shim's connections
# too), for the lock-wait attribution: every 5 s from pg_stat_activity
sampler() {
	local i=0
	while :; do
		sample_rss || true
		if [ $((i % 5)) = 0 ]; then
			sql "SELECT pid, coalesce(nullif(application_name, ''), backend_type) FROM pg_stat_activity
			     WHERE backend_type LIKE 'perfopt%' OR application_name LIKE 'perfopt%'" 2>/dev/null |
				tr '|' ' ' >>"$pids_file" || true
		fi
		i=$((i + 1))
		sleep 1
	done
}

perfopt_log "soak: ${seconds}s of pgbench -c $clients -j 2 and wrk -t2 -c4; perfopt_optimize() after $((seconds / 2))s"
t0=$(date +%s)
sampler &
sampler_pid=$!
wrk -t2 -c4 -d"${seconds}s" --timeout 10s -s "$BENCH_DIR/routes.lua" \
	-H "Authorization: Bearer $token" "http://127.0.0.1:$http_port/" >"$BENCH_DIR/wrk.out" 2>&1 &
wrk_pid=$!
perfopt_as_pg pgbench -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -n -c "$clients" -j 2 -T "$seconds" \
	-P 5 --failures-detailed -b tpcb-like@19 -f "$PERFOPT_TOP/test/workload/soak.pgbench@1" postgres \
	>"$BENCH_DIR/pgbench.out" 2>"$BENCH_DIR/pgbench.err" &
pgbench_pid=$!

sleep $((seconds / 2))
perfopt_log "SELECT perfopt_optimize()"
build_start=$(date +%s)
sql "SELECT perfopt_optimize()" >"$BENCH_DIR/optimize.json"
jobs_done=no
for _ in $(seq 1 $((seconds > 600 ? seconds : 600))); do
	if [ "$(sql "SELECT count(*) FROM perfopt_jobs WHERE state IN ('queued', 'running')")" = 0 ]; then
		jobs_done=yes
		break
	fi
	sleep 1
done
build_end=$(date +%s)
pgbench_rc=0
wait "$pgbench_pid" || pgbench_rc=$?
pgbench_pid=""
wrk_rc=0
wait "$wrk_pid" || wrk_rc=$?
wrk_pid=""
kill -TERM "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""
sample_rss
t_end=$(tail -n 1 "$rss_file" | cut -d' ' -f1)
sql "SELECT runner_pid, 'perfopt job runner' FROM perfopt_jobs WHERE runner_pid IS NOT NULL" | tr '|' ' ' >>"$pids_file"
awk '{ print $2, $5, $6, $7, $8, $9 }' "$rss_file" >>"$pids_file"

fail=()

# pgbench: overall and per-script TPS, failed transactions, aborted clients
tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$BENCH_DIR/pgbench.out" |
	awk '{ printf "%.1f", $1 }')
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$BENCH_DIR/pgbench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$BENCH_DIR/pgbench.out")
aborted=$(grep -c 'aborted' "$BENCH_DIR/pgbench.err" || true)
errors=$(grep -c -i 'error' "$BENCH_DIR/pgbench.err" || true)
# progress lines: "progress: 35.0 s, 512.3 tps, lat ..." since pgbench started
tps_build=$(awk -v lo=$((build_start - t0)) -v hi=$((build_end - t0 + 5)) '
	/^progress:/ { t = $2 + 0; if (t >= lo && t <= hi) { s += $4; k++ } }
	END { if (k) printf "%.1f", s / k; else print "-" }' "$BENCH_DIR/pgbench.err")
echo "soak: ${seconds}s, $(nproc) CPUs shared with whatever else runs on this machine"
echo "pgbench -c $clients -j 2 -T $seconds, TPC-B-like (scale $scale) @19 + test/workload/soak.pgbench @1:"
echo "  tps ${tps:-?} (without initial connection time), ${processed:-?} transactions, failed ${failed:-?}, aborted clients $aborted, error lines $errors, exit status $pgbench_rc"
sed -n 's/^ - \([0-9]* transactions.*\)/\1/p; s/^SQL script \([0-9]*\): \(.*\)$/  script \1: \2/p' "$BENCH_DIR/pgbench.out" |
	paste -d' ' - - | sed "s|$PERFOPT_TOP/||; s/tps = \([0-9]*\.[0-9]\)[0-9]*/tps = \1/"
grep -E '^number of (serialization|deadlock) failures' "$BENCH_DIR/pgbench.out" | sed 's/^/  /' || true
echo "  tps while perfopt_optimize()'s jobs ran ($((build_start - t0))s to $((build_end - t0))s): $tps_build"
if [ "$pgbench_rc" != 0 ] || [ -z "$tps" ] || [ "${failed:-1}" != 0 ] || [ "$aborted" != 0 ] || [ "$errors" != 0 ]; then
	fail+=("pgbench errors")
	grep -i -m 5 'error\|aborted' "$BENCH_DIR/pgbench.err" | sed 's/^/  pgbench: /' || true
fi

# wrk: requests/s, answers that were not 2xx/3xx, socket errors
wrk_rps=$(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' "$BENCH_DIR/wrk.out")
wrk_requests=$(awk '/requests in/ { print $1 }' "$BENCH_DIR/wrk.out")
wrk_non2xx=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } END { print n + 0 }' "$BENCH_DIR/wrk.out")
wrk_sock=$(awk '/Socket errors:/ { for (i = 4; i <= NF; i += 2) { v = $i; gsub(/,/, "", v); n += v } } END { print n + 0 }' \
	"$BENCH_DIR/wrk.out")
shim_non2xx=$(grep -c '"status": [^2]' "$shim_log" || true)
echo "wrk -t2 -c4 -d${seconds}s on GET /api/v1/performance/status and GET /metrics (alternating):"
echo "  ${wrk_rps:-?} requests/s, ${wrk_requests:-?} requests, non-2xx $wrk_non2xx (shim log: $shim_non2xx), socket errors $wrk_sock, exit status $wrk_rc"
if [ "$wrk_rc" != 0 ] || [ -z "$wrk_rps" ] || [ "$wrk_non2xx" != 0 ] || [ "$shim_non2xx" != 0 ] || [ "$wrk_sock" != 0 ]; then
	fail+=("shim errors")
	grep -m 5 '"status": [^2]' "$shim_log" | sed 's/^/  shim: /' || true
fi

# lock waits longer than deadlock_timeout (= the jobs' lock timeout): the
# "still waiting" line, then its DETAIL with the holders, both prefixed
# with the waiter's [pid] (the default log_line_prefix '%m [%p] ')
read -r long_waits perfopt_held perfopt_waited < <(awk -v pidfile="$pids_file" '
	BEGIN { while ((getline l < pidfile) > 0) { split(l, f, " "); po[f[1]] = 1 } }
	function prefix_pid(s) { if (match(s, /\[[0-9]+\]/)) return substr(s, RSTART + 1, RLENGTH - 2); return "" }
	/ LOG:  process [0-9]+ still waiting for / {
		p = prefix_pid($0); pending[p] = $0; total++
		if (p in po) waited++
		next
	}
	/ DETAIL:  Process(es)? holding the lock: / {
		p = prefix_pid($0)
		if (!(p in pending)) next
		h = $0; sub(/.*holding the lock: /, "", h); sub(/\. Wait queue:.*/, "", h)
		n = split(h, holders, /, /); hit = 0
		for (i = 1; i <= n; i++) if (holders[i] in po) hit = 1
		if (hit) { held++; print pending[p] > "/dev/stderr"; print $0 > "/dev/stderr" }
		delete pending[p]
	}
	END { print total + 0, held + 0, waited + 0 }' "$BENCH_DIR/server.log" 2>"$BENCH_DIR/perfopt_waits")
echo "lock waits longer than perfopt.job_lock_timeout = deadlock_timeout = ${lock_ms} ms (log_lock_waits):"
echo "  $long_waits in all, $perfopt_held held by a perfopt process, $perfopt_waited with a perfopt process waiting"
if [ "$perfopt_held" != 0 ]; then
	fail+=("long lock waits held by perfopt")
	sed 's/^/  /' "$BENCH_DIR/perfopt_waits" | head -n 20
fi
crashes=$(grep -E -c 'terminated by signal|exited with exit code [1-9]|PANIC:' "$BENCH_DIR/server.log" || true)
if [ "$crashes" != 0 ]; then
	fail+=("crashes in the server log")
	grep -E -m 5 'terminated by signal|exited with exit code [1-9]|PANIC:' "$BENCH_DIR/server.log" | sed 's/^/  server: /'
fi

# the jobs perfopt_optimize() queued
echo "perfopt_optimize() after $((build_start - t0))s: $(sql "SELECT count(*) FROM jsonb_array_elements(
	(SELECT report FROM perfopt_history ORDER BY id DESC LIMIT 1)->'actions')") actions; jobs finished after $((build_end - build_start))s:"
sql "SELECT format('  job %s: %s %s, %s attempt(s), %s s: %s%s', id, kind, state, attempts,
            coalesce(round(extract(epoch FROM finished_at - started_at)::numeric, 1)::text, '-'), statement,
            coalesce(' (' || last_error || ')', ''))
     FROM perfopt_jobs ORDER BY id"
built=$(sql "SELECT count(*) FROM perfopt_jobs WHERE kind = 'create_index' AND state = 'succeeded'")
not_ok=$(sql "SELECT count(*) FROM perfopt_jobs WHERE state <> 'succeeded'")
invalid=$(sql "SELECT count(*) FROM pg_index WHERE NOT indisvalid")
echo "  indexes built: $built, jobs not succeeded: $not_ok, invalid indexes left: $invalid"
if [ "$jobs_done" != yes ] || [ "$built" = 0 ] || [ "$not_ok" != 0 ] || [ "$invalid" != 0 ]; then
	fail+=("jobs")
fi

# RSS per process: first sample, first after the warm-up, last, max; the
# growth bound (20% + 8 MB) is a sanity bound against leaks, not a timing
# or performance assertion
echo "RSS of perfopt's processes, MB (VmRSS; anon = RssAnon), sampled every second; warm-up ${warmup}s:"
printf '  %-36s %7s %7s %7s %7s %7s  %s\n' process pid start warm end max "anon start->end"
rss_report=$(awk -v t0="$t0" -v warm="$warmup" -v tend="$t_end" '
	{
		t = $1; p = $2; r = $3; a = $4; name = $5; for (i = 6; i <= NF; i++) name = name " " $i
		if (!(p in first)) { order[++n] = p; first[p] = r; afirst[p] = a; nm[p] = name }
		if (!(p in base) && t >= t0 + warm) base[p] = r
		last[p] = r; alast[p] = a; lastt[p] = t
		if (r > mx[p]) mx[p] = r
	}
	END {
		for (k = 1; k <= n; k++) {
			p = order[k]; alive = (lastt[p] == tend)
			grown = (alive && (p in base) && last[p] > base[p] * 1.2 + 8192)
			printf "  %-36s %7s %7.1f %7s %7s %7.1f  %.1f->%.1f%s%s\n", nm[p], p, first[p] / 1024,
				(p in base) ? sprintf("%.1f", base[p] / 1024) : "-",
				alive ? sprintf("%.1f", last[p] / 1024) : "gone", mx[p] / 1024,
				afirst[p] / 1024, alast[p] / 1024, grown ? "  GREW" : "", alive ? "" : " (exited)"
		}
	}' "$rss_file")
echo "$rss_report"
if grep -q '  GREW' <<<"$rss_report"; then
	fail+=("RSS growth")
fi
# the worker(s) and the shim of the first sample must still be the same processes
t_first=$(head -n 1 "$rss_file" | cut -d' ' -f1)
while read -r _ pid _ _ name; do
	case $name in perfopt\ worker* | perfopt-httpd) ;; *) continue ;; esac
	if ! awk -v t="$t_end" -v p="$pid" '$1 == t && $2 == p { f = 1 } END { exit !f }' "$rss_file"; then
		fail+=("$name (pid $pid) gone")
	fi
done < <(awk -v t="$t_first" '$1 == t' "$rss_file")
if ! awk -v t="$t_end" '$1 == t && $5 == "perfopt" && $6 == "worker" { f = 1 } END { exit !f }' "$rss_file"; then
	fail+=("no perfopt worker at the end")
fi

if [ ${#fail[@]} = 0 ]; then
	echo "soak ${seconds}s: PASS"
else
	reasons=$(IFS=,; echo "${fail[*]}")
	echo "soak ${seconds}s: FAIL (${reasons//,/, })"
	exit 1
fi
