#!/usr/bin/env bash
# test/bench/optimize.sh — perfopt_optimize() on a workload that needs
# indexes, in one run: the workload's time before and after the indexes
# are built, and the write TPS on the same tables while they are built
# (CREATE INDEX CONCURRENTLY) against the write TPS before.
#   bash test/bench/optimize.sh [scale, default 2]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
scale=${1:-2}

[ "$(id -u)" = 0 ] && { perfopt_install_deps; perfopt_build_install; }
perfopt_bench_cluster 58432 "shared_buffers = '256MB'" \
	"max_parallel_workers_per_gather = 0" "perfopt.advisor_interval = 0"
writes() {
	perfopt_as_pg pgbench -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -n -c 4 -j 2 -D scale="$scale" \
		-f "$PERFOPT_TOP/test/workload/optimize_writes.pgbench" "$@" postgres
}
run_workload() {
	local t0 t1
	t0=$(date +%s.%N)
	psql_b -f "$PERFOPT_TOP/test/workload/advisor_workload.sql" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}

echo "building the schema at scale $scale"
psql_b -v scale="$scale" -f "$PERFOPT_TOP/test/workload/advisor_schema.sql" 2>&1 | grep -v NOTICE || true
run_workload >/dev/null
sql "SELECT pg_stat_statements_reset()" >/dev/null
before=$(run_workload)
write_before=$(writes -T 10 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')

# writes with a progress line a second, while perfopt_optimize() builds
bench_t0=$(date +%s.%N)
writes -T 40 -P 1 >"$BENCH_DIR/writes.out" 2>"$BENCH_DIR/writes.progress" &
bench=$!
sleep 5
build_start=$(date +%s.%N)
sql "SELECT perfopt_optimize() - 'advisor'" >"$BENCH_DIR/report.json"
for _ in $(seq 1 300); do
	[ "$(sql "SELECT count(*) FROM perfopt_jobs WHERE state IN ('queued', 'running')")" = 0 ] && break
	sleep 0.2
done
build_end=$(date +%s.%N)
wait $bench
sql "SELECT kind, state, round(extract(epoch FROM finished_at - started_at)::numeric, 2) || ' s', statement FROM perfopt_jobs ORDER BY id" | sed 's/^/  job: /'
failed_writes=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$BENCH_DIR/writes.out")

# progress lines are "progress: 12.0 s, 1234.5 tps, ..." since pgbench started
during=$(awk -v s="$build_start" -v e="$build_end" -v t0="$bench_t0" '
	/^progress:/ { t = $2 + 0; tps = $4 + 0; n++; sec[n] = t; val[n] = tps }
	END {
		# the builds ran from (s - t0) to (e - t0) seconds after pgbench started
		lo = s - t0; hi = e - t0 + 1; sum = 0; k = 0
		for (i = 1; i <= n; i++) if (sec[i] >= lo && sec[i] <= hi) { sum += val[i]; k++ }
		if (k == 0) for (i = 1; i <= n; i++) { sum += val[i]; k++ }
		printf "%.1f", sum / k
	}' "$BENCH_DIR/writes.progress")
after=$(run_workload >/dev/null; run_workload)

echo "indexes built in $(echo "$build_end - $build_start" | bc | cut -c1-5) s"
echo "write TPS: $write_before before, $during while building ($(echo "scale=2; $during / $write_before" | bc)x), failed writes: ${failed_writes:-0}"
echo "workload: ${before}s before, ${after}s after: speedup $(echo "scale=1; $before / $after" | bc)x"
