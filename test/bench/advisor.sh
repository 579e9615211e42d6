#!/usr/bin/env bash
# test/bench/advisor.sh — the index advisor at a given scale, in one run:
#   1. recall against the known-best indexes of the benchmark workload, and
#      recommendations outside that set (useless ones);
#   2. the time perfopt_advise() takes (fastest and median of five; one run
#      for 10,000), and its planner calls, for 100, 1000 and 10,000
#      distinct statements (with perfopt.advisor_max_statements above their
#      number: the bench's own statements are in pg_stat_statements too);
#   3. the workload's speedup once the recommendations are built.
#   bash test/bench/advisor.sh [scale, default 1]
# Goals: every known-best index found, zero useless; advise <= 1 s for 1000
# distinct statements, <= 5 s for 10,000.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
scale=${1:-1}

[ "$(id -u)" = 0 ] && { perfopt_install_deps; perfopt_build_install; }
perfopt_bench_cluster 57432 "shared_buffers = '256MB'" \
	"pg_stat_statements.max = 12000" "max_parallel_workers_per_gather = 0"

# the best index of each workload shape (test/workload/advisor_workload.sql);
# for "kind = $1 ORDER BY at DESC LIMIT 20", (kind, at) and (at) both serve;
# for the orders of a customer, and of a customer in a status,
# (customer_id) and (customer_id, status) both do
expected=(
	"ON public.bench_customers USING btree (email)"
	"ON public.bench_orders USING btree (customer_id)|ON public.bench_orders USING btree (customer_id, status)"
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

# distinct N [RUNS]: N distinct statements, pairs of bench_wide's columns
# (1980 of them), then triples, each run once; advised RUNS times (5)
distinct() {
	local n=$1 runs=${2:-5} file="$BENCH_DIR/distinct.sql"
	awk -v n="$n" 'BEGIN {
		for (i = 1; i <= 45 && k < n; i++)
			for (j = 1; j <= 45 && k < n; j++)
				if (i != j) { printf "SELECT id FROM bench_wide WHERE c%02d = 1 AND c%02d = 2;\n", i, j; k++ }
		for (i = 1; i <= 45 && k < n; i++)
			for (j = i + 1; j <= 45 && k < n; j++)
				for (l = j + 1; l <= 45 && k < n; l++)
					{ printf "SELECT id FROM bench_wide WHERE c%02d = 1 AND c%02d = 2 AND c%02d = 3;\n", i, j, l; k++ }
	}' >"$file"
	[ "$(id -u)" = 0 ] && chown postgres "$file"
	sql "SELECT pg_stat_statements_reset()" >/dev/null
	psql_b -f "$file" >/dev/null
	# several runs over the same statements: on a shared machine the fastest
	# is the least disturbed, the median the typical
	sql "SET perfopt.advisor_max_statements = $((n + 100));
	     WITH runs AS (SELECT perfopt_advise() s FROM generate_series(1, $runs))
	     SELECT format('%s distinct statements: advise %s ms (fastest of $runs; median %s ms), %s planner calls, %s candidates, %s recommendations',
	                   min(s->>'analyzed'), min((s->>'elapsed_ms')::float8),
	                   percentile_disc(0.5) WITHIN GROUP (ORDER BY (s->>'elapsed_ms')::float8),
	                   min(s->>'planner_calls'), min(s->>'candidates'), min(s->>'recommendations'))
	     FROM runs"
}
distinct 100
distinct 1000
distinct 10000 1

echo "building the ${#ddls[@]} recommended indexes"
for ddl in "${ddls[@]}"; do psql_b -c "$ddl"; done
sql "ANALYZE" >/dev/null
run_workload >/dev/null
after=$(run_workload)
echo "workload: ${before}s before, ${after}s after: speedup $(echo "scale=1; $before / $after" | bc)x"
