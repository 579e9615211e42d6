#!/usr/bin/env bash
# test/fuzz/sqlsmith.sh — random SQL (Debian's sqlsmith) against a
# throwaway cluster with perfopt loaded, its SQL surface reachable and a
# populated workload: tables, statements in pg_stat_statements,
# recommendations, jobs, alerts and history.  sqlsmith runs as a role
# with pg_monitor and EXECUTE on perfopt's functions (not a superuser: it
# would call pg_terminate_backend and friends at random), with a
# statement timeout.  Fails when the server log shows a crash or an
# assertion failure.
#   bash test/fuzz/sqlsmith.sh [queries, default 3000] [seed, default 1]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
queries=${1:-3000}
seed=${2:-1}

if ! command -v sqlsmith >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y sqlsmith >/dev/null
	else
		echo "sqlsmith is not installed (apt-get install sqlsmith)" >&2
		exit 1
	fi
fi

perfopt_bench_cluster 58432 "perfopt.monitoring_interval = 200" "perfopt.advisor_interval = 0" \
	"statement_timeout = '2s'" "pg_stat_statements.track = all"
sql "SELECT 1" >/dev/null

perfopt_log "a workload for sqlsmith to find"
psql_b <<'SQL' >/dev/null
CREATE TABLE smith_orders (id int PRIMARY KEY, customer int, amount numeric, at timestamptz, note text);
INSERT INTO smith_orders SELECT g, g % 500, g * 1.5, now() - g * interval '1 minute', 'n' || g
  FROM generate_series(1, 20000) g;
CREATE TABLE smith_parts (id int, k int) PARTITION BY RANGE (id);
CREATE TABLE smith_parts_1 PARTITION OF smith_parts FOR VALUES FROM (0) TO (10000);
INSERT INTO smith_parts SELECT g, g % 7 FROM generate_series(0, 9999) g;
ANALYZE;
SELECT count(*) FROM smith_orders WHERE customer = 42;
SELECT count(*) FROM smith_orders WHERE note = 'n7';
SELECT perfopt_advise();
SELECT perfopt_optimize(true);
SELECT perfopt_set_thresholds('{"memory": {"warning": 0.5}}');
CREATE ROLE smith LOGIN IN ROLE pg_monitor;
GRANT SELECT ON smith_orders, smith_parts TO smith;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO smith;
SQL
sleep 1

perfopt_log "sqlsmith: $queries queries (seed $seed)"
start=$(date +%s)
set +e
perfopt_as_pg sqlsmith --target="host=$BENCH_DIR port=$BENCH_PORT dbname=postgres user=smith" \
	--max-queries="$queries" --seed="$seed" --verbose >"$BENCH_DIR/sqlsmith.out" 2>&1
rc=$?
set -e
elapsed=$(($(date +%s) - start))
calls=$(grep -c "perfopt_" "$BENCH_DIR/server.log" || true)
tail -5 "$BENCH_DIR/sqlsmith.out" | tr '\r' '\n' | tail -5

crashes=$(grep -cE 'terminated by signal|TRAP:|PANIC:' "$BENCH_DIR/server.log" || true)
perfopt_errors=$(grep -cE 'ERROR: .*perfopt: could not|ERROR:  perfopt: .*failed' "$BENCH_DIR/server.log" || true)
alive=$(sql "SELECT (perfopt_status()->>'worker_pid') IS NOT NULL" || echo f)
echo "sqlsmith: $queries queries in ${elapsed}s, exit $rc; crashes or assertion failures in the log: $crashes;" \
	"perfopt internal errors: $perfopt_errors; log lines naming perfopt_ functions (their errors): $calls; worker alive: $alive"
if [ "$crashes" != 0 ]; then
	grep -B5 -E 'terminated by signal|TRAP:|PANIC:' "$BENCH_DIR/server.log" | head -40
	exit 1
fi
[ "$alive" = t ]
