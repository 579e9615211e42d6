#!/usr/bin/env bash
# test/demo.sh — the README's first command: installs what is missing,
# builds and installs perfopt, starts a throwaway cluster in .demo/ with
# pg_stat_statements and perfopt preloaded, runs the embedded sample
# workload and shows what perfopt sees.
#   bash test/demo.sh          # (re)create the demo cluster and run the workload
#   bash test/demo.sh stop     # stop it and delete .demo/
# WORKLOAD_SECONDS (default 20) sets how long the workload runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
perfopt_readable_checkout demo.sh "$@" || exit 1
cd "$PERFOPT_TOP"
demo="$PERFOPT_TOP/.demo"

stop_demo() {
	if [ -f "$demo/httpd.pid" ]; then
		kill -TERM "$(cat "$demo/httpd.pid")" 2>/dev/null || true
		sleep 1
	fi
	if [ -f "$demo/data/postmaster.pid" ]; then
		perfopt_as_pg pg_ctl -D "$demo/data" -m fast -w stop >/dev/null || true
	fi
	rm -rf "$demo"
}

if [ "${1:-}" = stop ]; then
	stop_demo
	echo "demo cluster stopped and removed"
	exit 0
fi

perfopt_install_deps
if [ "$(id -u)" = 0 ]; then
	perfopt_build_install
elif ! make -s -C "$PERFOPT_TOP" PG_CONFIG="$PG_CONFIG" install >/dev/null 2>&1; then
	echo "cannot install into $($PG_CONFIG --pkglibdir); run as root" >&2
	exit 1
fi

stop_demo
port=$(perfopt_free_port 55432)
http_port=$(perfopt_free_port 3000)
perfopt_log "creating a throwaway cluster in $demo (port $port)"
perfopt_start_cluster "$demo" "$port" "listen_addresses = '127.0.0.1'" \
	"pg_stat_statements.track = all" \
	"perfopt.monitoring_interval = 1000" "perfopt.history_interval = 5"
psql_demo() { perfopt_as_pg psql -X -h "$demo" -p "$port" -U postgres -d postgres "$@"; }

seconds=${WORKLOAD_SECONDS:-20}
perfopt_log "running the sample workload for ${seconds}s (pgbench, 4 clients)"
perfopt_as_pg pgbench -h "$demo" -p "$port" -U postgres -q -i -s 2 postgres >/dev/null 2>&1
# a history that has been growing for a while
psql_demo -q -c "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)
  SELECT g % 20 + 1, g % 2 + 1, (g * 7919) % 200000 + 1, g % 1000, now() FROM generate_series(1, 200000) g;
  ANALYZE pgbench_history; SELECT pg_stat_statements_reset()" >/dev/null
workload() {
	perfopt_as_pg pgbench -h "$demo" -p "$port" -U postgres -n -c 4 -j 2 -T "$1" \
		-f "$PERFOPT_TOP/test/workload/sample.pgbench" postgres 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
tps_before=$(workload "$seconds")
echo "workload: $tps_before transactions/s"

perfopt_log "what perfopt sees: SELECT perfopt_status()"
psql_demo -At -c "SELECT jsonb_pretty(perfopt_status() - 'latest')"

perfopt_log "the latest sample: SELECT perfopt_metrics()"
psql_demo -c "
SELECT m->>'sampled_at' AS sampled_at,
       m->'system'->>'cpu_busy_pct' AS cpu_busy_pct,
       m->'system'->>'memory_used_pct' AS memory_used_pct,
       m->'system'->>'data_disk_used_pct' AS disk_used_pct,
       m->'server'->>'connections_total' AS connections,
       m->'server'->>'pool_utilization_pct' AS pool_utilization_pct,
       m->'server'->>'wal_bytes_per_second' AS wal_bytes_per_second
FROM perfopt_metrics() AS m"
psql_demo -c "
SELECT d->>'datname' AS datname, d->>'commits_per_second' AS commits_per_second,
       d->>'cache_hit_pct' AS cache_hit_pct, d->>'tuples_written_per_second' AS tuples_written_per_second
FROM jsonb_array_elements(perfopt_database_metrics()->'databases') AS d
WHERE d->>'datname' = 'postgres'"

perfopt_log "the workload over time: SELECT ... FROM perfopt_samples"
psql_demo -c "
SELECT to_char(sampled_at, 'HH24:MI:SS') AS at, round(cpu_busy_pct::numeric, 1) AS cpu_pct,
       connections_total AS conns,
       round((SELECT sum((d->>'commits_per_second')::numeric) FROM jsonb_array_elements(databases) d), 1) AS commits_per_s
FROM perfopt_samples ORDER BY sampled_at DESC LIMIT 6"

perfopt_log "the index advisor: SELECT perfopt_advise(), then SELECT * FROM perfopt_recommendations"
psql_demo -At -c "SELECT 'advised in ' || (s->>'elapsed_ms') || ' ms: ' || (s->>'analyzed') || ' statements analyzed, ' || (s->>'recommendations') || ' recommendations' FROM perfopt_advise() s"
psql_demo -c "SELECT id, kind, ddl, round(benefit_ms) AS benefit_ms, pg_size_pretty(estimated_size_bytes) AS size FROM perfopt_recommendations ORDER BY id"
psql_demo -At -c "SELECT 'why #' || id || ': ' || reason FROM perfopt_recommendations ORDER BY id LIMIT 3"

perfopt_log "the optimization: SELECT perfopt_optimize() queues CREATE INDEX CONCURRENTLY jobs; the workload keeps writing meanwhile"
workload "$seconds" >"$demo/tps_during" &
sleep 1
psql_demo -At -c "SELECT '  ' || (a->>'kind') || ': ' || (a->>'statement') || '  (job ' || COALESCE(a->>'job_id', '-') || ')' FROM perfopt_optimize() r, jsonb_array_elements(r->'actions') a"
for _ in $(seq 1 120); do
	busy=$(psql_demo -At -c "SELECT count(*) FROM perfopt_jobs WHERE state IN ('queued', 'running')")
	[ "$busy" = 0 ] && break
	sleep 1
done
wait
psql_demo -c "SELECT id, kind, state, attempts, finished_at - started_at AS took, statement FROM perfopt_jobs ORDER BY id"
tps_after=$(workload "$seconds")
echo "workload: $tps_before transactions/s before, $(cat "$demo/tps_during") while the indexes were built, $tps_after after"

perfopt_log "Prometheus: the headline gauges from perfopt_metrics_prometheus()"
psql_demo -At -c "SELECT perfopt_metrics_prometheus()" |
	grep -E '^perfopt_(system_cpu_usage_ratio|system_memory_utilization_ratio|database_pool_utilization_ratio) '

perfopt_log "the HTTP API: perfopt-httpd on 127.0.0.1:$http_port, a token mapped to an admin role"
psql_demo -q -c "CREATE ROLE perfopt_api LOGIN NOINHERIT;
  CREATE ROLE api_admin NOLOGIN IN ROLE pg_monitor;
  GRANT EXECUTE ON FUNCTION perfopt_optimize(boolean), perfopt_optimize_database(boolean),
    perfopt_resolve_alert(bigint), perfopt_resolve_alerts(bigint[]), perfopt_set_thresholds(jsonb),
    perfopt_start_monitoring(integer), perfopt_start_monitoring(), perfopt_stop_monitoring() TO api_admin;
  GRANT api_admin TO perfopt_api;"
token=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
echo "$(printf %s "$token" | perfopt_as_pg perfopt-httpd --hash-token) api_admin" >"$demo/tokens"
chown postgres "$demo/tokens" 2>/dev/null || true
perfopt_as_pg sh -c "perfopt-httpd --listen 127.0.0.1:$http_port --tokens '$demo/tokens' \
	--conninfo 'host=$demo port=$port dbname=postgres user=perfopt_api' >/dev/null 2>'$demo/httpd.log' &
	echo \$! >'$demo/httpd.pid'"
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$http_port/healthz" && break
	sleep 0.1
done
for route in status metrics recommendations; do
	echo "GET /api/v1/performance/$route: $(curl -s -o /dev/null -w '%{http_code}, %{size_download} bytes' \
		-H "Authorization: Bearer $token" "http://127.0.0.1:$http_port/api/v1/performance/$route")"
done
echo "POST /api/v1/performance/optimize?dry_run=true: $(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $token" "http://127.0.0.1:$http_port/api/v1/performance/optimize?dry_run=true")"

cat <<MSG

The demo cluster keeps running (perfopt samples every second):
  connect:  psql -h $demo -p $port -U postgres postgres      (or -h 127.0.0.1)
  try:      SELECT jsonb_pretty(perfopt_metrics());
            SELECT * FROM perfopt_recent_samples ORDER BY sampled_at DESC LIMIT 5;
            SELECT * FROM perfopt_recommendations;
            SELECT perfopt_optimize(dry_run => true);
            SELECT * FROM perfopt_jobs;
            SELECT query, findings FROM perfopt_slow_queries;
  http:     TOKEN=$token
            curl -H "Authorization: Bearer \$TOKEN" http://localhost:$http_port/api/v1/performance/status
            curl -H "Authorization: Bearer \$TOKEN" http://localhost:$http_port/api/v1/performance/metrics
            curl -X POST -H "Authorization: Bearer \$TOKEN" http://localhost:$http_port/api/v1/performance/optimize
            curl -H "Authorization: Bearer \$TOKEN" http://localhost:$http_port/api/v1/performance/recommendations
  log:      $demo/server.log, $demo/httpd.log
  stop:     bash test/demo.sh stop
MSG
