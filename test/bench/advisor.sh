#!/usr/bin/env bash
# test/bench/advisor.sh — the index advisor at a given scale, in one run:
#   1. recall against the known-best indexes of the benchmark workload, and
#      recommendations outside that set (useless ones);
#   2. the time perfopt_advise() takes (fastest and median of five), and its
#      planner calls, for 100 and 1000 distinct statements;
#   3. the workload's speedup once the recommendations are built.
#   bash test/bench/advisor.sh [scale, default 1]
# Goals: every known-best index found, zero useless; advise <= 1 s for 1000
# distinct statements.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
scale=${1:-1}

[ "$(id -u)" = 0 ] && { perfopt_install_deps; perfopt_build_install; }
perfopt_bench_cluster 57432 "shared_buffers = '256MB'" \
	"pg_stat_statements.max = 10000" "max_parallel_workers_per_gather = 0"

# the best index of each workload shape (test/workload/advisor_workload.sql);
# for "kind = $1 ORDER BY at DESC LIMIT 20", (kind, at) and (at) both serve
expected=(
	"ON public.bench_customers USING btree (email)"
	"ON public.bench_orders USING btree (customer_id)"
	"ON public.bench_customers USING btree ((lower(email)))"
	"ON public.bench_orders USING btree (created_at)"
	"ON public.bench_events USING btree (kind, at)|ON public.bench_events USING btree (at)"
	"ON public.bench_events USING gin (payload)"
)

echo "building the schema at scale $scale"
psql_b -v scale="$scale" -f "$PERFOPT_TOP/test/workload/advisor_schema.sql" >/dev/null

run_workload() {
	local t0 t1
	t0=$(date +%s.%N)
	psql_b -f "$PERFOPT_TOP/test/workload/advisor_workload.sql" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}
run_workload >/dev/null				# warm the cache
sql "SELECT pg_stat_statements_reset()" >/dev/null
before=$(run_workload)

summary=$(sql "SELECT perfopt_advise()")
echo "advise on the workload: $summary"
mapfile -t defs < <(sql "SELECT definition FROM perfopt_recommendations ORDER BY id")
mapfile -t ddls < <(sql "SELECT ddl FROM perfopt_recommendations ORDER BY id")
found=0
for want in "${expected[@]}"; do
	hit=0
	IFS='|' read -ra alternatives <<<"$want"
	for alt in "${alternatives[@]}"; do
		for d in "${defs[@]}"; do [ "$d" = "$alt" ] && hit=1; done
	done
	if [ $hit = 1 ]; then found=$((found + 1)); else echo "  missed: $want"; fi
done
useless=0
for d in "${defs[@]}"; do
	known=0
	for want in "${expected[@]}"; do
		IFS='|' read -ra alternatives <<<"$want"
		for alt in "${alternatives[@]}"; do [ "$d" = "$alt" ] && known=1; done
	done
	if [ $known = 0 ]; then useless=$((useless + 1)); echo "  useless: $d"; fi
done
echo "recall: $found of ${#expected[@]} known-best indexes; useless: $useless"

# distinct statements: pairs of bench_wide's columns, each run once
distinct() {
	local n=$1 i j k=0 file="$BENCH_DIR/distinct.sql"
	: >"$file"
	for i in $(seq -w 1 45); do
		for j in $(seq -w 1 45); do
			[ "$i" = "$j" ] && continue
			[ $k -ge "$n" ] && break 2
			echo "SELECT id FROM bench_wide WHERE c$i = 1 AND c$j = 2;" >>"$file"
			k=$((k + 1))
		done
	done
	sql "SELECT pg_stat_statements_reset()" >/dev/null
	psql_b -f "$file" >/dev/null
	# five runs over the same statements: on a shared machine the fastest
	# is the least disturbed, the median the typical
	sql "WITH runs AS (SELECT perfopt_advise() s FROM generate_series(1, 5))
	     SELECT format('%s distinct statements: advise %s ms (fastest of 5; median %s ms), %s planner calls, %s candidates, %s recommendations',
	                   min(s->>'analyzed'), min((s->>'elapsed_ms')::float8),
	                   percentile_disc(0.5) WITHIN GROUP (ORDER BY (s->>'elapsed_ms')::float8),
	                   min(s->>'planner_calls'), min(s->>'candidates'), min(s->>'recommendations'))
	     FROM runs"
}
distinct 100
distinct 1000

echo "building the ${#ddls[@]} recommended indexes"
for ddl in "${ddls[@]}"; do psql_b -c "$ddl"; done
sql "ANALYZE" >/dev/null
run_workload >/dev/null
after=$(run_workload)
echo "workload: ${before}s before, ${after}s after: speedup $(echo "scale=1; $before / $after" | bc)x"
