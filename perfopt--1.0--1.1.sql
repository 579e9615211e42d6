/* perfopt--1.0--1.1.sql — perfopt 1.1: no name in perfopt's SQL is left to search_path */

-- 1.0 left two objects whose text names functions, operators and types
-- without their schema: the plpgsql perfopt_alerts_page(), whose body is
-- resolved each time it runs, and the view perfopt_jobs_progress.  Both
-- are re-created here with every name qualified (test/sqlcheck checks
-- this script and the installed extension).

\echo Use "ALTER EXTENSION perfopt UPDATE TO '1.1'" to load this file. \quit

-- Keyset pages of perfopt_alerts, now in C: the same signature, checks
-- (22023, the messages without the function's name in front) and result,
-- and no procedural body.
CREATE OR REPLACE FUNCTION @extschema@.perfopt_alerts_page(state pg_catalog.text DEFAULT NULL,
                                                            after bigint DEFAULT 0,
                                                            lim integer DEFAULT 50)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'perfopt_alerts_page'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_alerts_page(pg_catalog.text, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_alerts_page(pg_catalog.text, bigint, integer) TO pg_monitor;

-- Running jobs with the server's progress reports: the same columns.
CREATE OR REPLACE VIEW @extschema@.perfopt_jobs_progress AS
SELECT j.id, j.kind, j.statement, j.target_table, j.started_at, j.runner_pid,
       COALESCE(ci.phase, v.phase, a.phase) AS phase,
       COALESCE(ci.blocks_done, v.heap_blks_scanned, a.sample_blks_scanned) AS blocks_done,
       COALESCE(ci.blocks_total, v.heap_blks_total, a.sample_blks_total) AS blocks_total,
       CASE WHEN COALESCE(ci.blocks_total, v.heap_blks_total, a.sample_blks_total) OPERATOR(pg_catalog.>) 0
            THEN pg_catalog.round(100.0 OPERATOR(pg_catalog.*)
                                  COALESCE(ci.blocks_done, v.heap_blks_scanned, a.sample_blks_scanned)
                                  OPERATOR(pg_catalog./)
                                  COALESCE(ci.blocks_total, v.heap_blks_total, a.sample_blks_total), 1)
       END AS percent
FROM @extschema@.perfopt_jobs j
LEFT JOIN pg_catalog.pg_stat_progress_create_index ci ON ci.pid OPERATOR(pg_catalog.=) j.runner_pid
LEFT JOIN pg_catalog.pg_stat_progress_vacuum v ON v.pid OPERATOR(pg_catalog.=) j.runner_pid
LEFT JOIN pg_catalog.pg_stat_progress_analyze a ON a.pid OPERATOR(pg_catalog.=) j.runner_pid
WHERE j.state OPERATOR(pg_catalog.=) 'running';
REVOKE ALL ON TABLE @extschema@.perfopt_jobs_progress FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_jobs_progress TO pg_monitor;

-- A comment on every function and view (the tables have theirs since 1.0);
-- the regress test surface fails when one lacks it.
COMMENT ON FUNCTION @extschema@.perfopt_status() IS
    'perfopt: version, monitoring state, worker, samples taken, history and the latest sample';
COMMENT ON FUNCTION @extschema@.perfopt_metrics() IS
    'perfopt: the latest sample: machine, server, databases and statement latency';
COMMENT ON FUNCTION @extschema@.perfopt_database_metrics() IS
    'perfopt: the latest sample without its machine part';
COMMENT ON FUNCTION @extschema@.perfopt_metrics_prometheus() IS
    'perfopt: the latest sample in the Prometheus text exposition format';
COMMENT ON FUNCTION @extschema@.perfopt_recent_samples() IS
    'perfopt: the samples in the shared-memory ring, oldest first (the view perfopt_recent_samples)';
COMMENT ON VIEW @extschema@.perfopt_recent_samples IS
    'perfopt: the samples still in the shared-memory ring, oldest first, with the columns of perfopt_samples; also on a standby';
COMMENT ON FUNCTION @extschema@.perfopt_start_monitoring() IS
    'perfopt: resume sampling at perfopt.monitoring_interval';
COMMENT ON FUNCTION @extschema@.perfopt_start_monitoring(integer) IS
    'perfopt: sample every interval_ms milliseconds (100 to 86400000)';
COMMENT ON FUNCTION @extschema@.perfopt_stop_monitoring() IS
    'perfopt: stop sampling; the ring and the history stay';
COMMENT ON FUNCTION @extschema@.perfopt_thresholds() IS
    'perfopt: the alert thresholds in effect, as a document';
COMMENT ON FUNCTION @extschema@.perfopt_set_thresholds(pg_catalog.jsonb) IS
    'perfopt: merge a partial thresholds document and return the whole one (in perfopt.database, on a primary)';
COMMENT ON FUNCTION @extschema@.perfopt_alerts_pending() IS
    'perfopt: the alerts the worker holds in shared memory that perfopt_alerts_data does not have yet (the view perfopt_alerts)';
COMMENT ON VIEW @extschema@.perfopt_alerts IS
    'perfopt: every alert against the thresholds, open and resolved, including those not written yet';
COMMENT ON FUNCTION @extschema@.perfopt_alerts_page(pg_catalog.text, bigint, integer) IS
    'perfopt: keyset pages of perfopt_alerts, by state: {"items": [...], "next_after": id or null}';
COMMENT ON FUNCTION @extschema@.perfopt_resolve_alert(bigint) IS
    'perfopt: resolve one alert by hand (in perfopt.database, on a primary)';
COMMENT ON FUNCTION @extschema@.perfopt_resolve_alerts(bigint[]) IS
    'perfopt: resolve up to 1000 alerts by hand; one outcome per id, in order';
COMMENT ON FUNCTION @extschema@.perfopt_trends_rows() IS
    'perfopt: the trend, forecast and anomaly of each metric and subject (the view perfopt_trends)';
COMMENT ON VIEW @extschema@.perfopt_trends IS
    'perfopt: per metric and subject: slope per hour, when warning and critical would be reached, EWMA, z-score, anomaly';
COMMENT ON FUNCTION @extschema@.perfopt_score() IS
    'perfopt: the performance score, 0 to 100, with its breakdown';
COMMENT ON FUNCTION @extschema@.perfopt_api_metrics() IS
    'perfopt: statement latency measured in the server, over the last interval and since the last reset';
COMMENT ON FUNCTION @extschema@.perfopt_reset_api_metrics() IS
    'perfopt: start the statement latency counts over (audited)';
COMMENT ON FUNCTION @extschema@.perfopt_advise() IS
    'perfopt: refresh the recommendations of this database and summarize the run';
COMMENT ON FUNCTION @extschema@.perfopt_dismiss_recommendation(bigint) IS
    'perfopt: dismiss a recommendation; later runs keep it dismissed';
COMMENT ON FUNCTION @extschema@.perfopt_optimize(boolean) IS
    'perfopt: refresh the advice and queue the index builds and maintenance it calls for (dry_run: report only)';
COMMENT ON FUNCTION @extschema@.perfopt_optimize_database(boolean) IS
    'perfopt: queue the VACUUM and ANALYZE this database needs (dry_run: report only)';
COMMENT ON FUNCTION @extschema@.perfopt_history(bigint, integer) IS
    'perfopt: keyset pages of the optimization reports: {"items": [...], "next_after": id or null}';
COMMENT ON VIEW @extschema@.perfopt_jobs_progress IS
    'perfopt: running jobs with the server''s progress reports: phase, blocks done and total, percent';

-- The thresholds in effect as Prometheus alerting rules (YAML): whoever
-- may read the thresholds may read them.
CREATE FUNCTION @extschema@.perfopt_prometheus_rules()
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'perfopt_prometheus_rules'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_prometheus_rules() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_prometheus_rules() TO pg_monitor;
COMMENT ON FUNCTION @extschema@.perfopt_prometheus_rules() IS
    'perfopt: the alert thresholds in effect as a Prometheus rules file (YAML): a warning and a critical rule per threshold';

-- Replica workloads (src/advisor/replica*.c, docs/security.md).  A
-- standby's statements and their value samples, read by a primary's
-- advisor through libpq.  The value samples are user data: only members of
-- perfopt_replica_reader (NOLOGIN, granted to nobody here; a role is
-- global, so an earlier installation's is kept) may call the function.
-- The helper that makes the role is dropped once it ran.
CREATE FUNCTION @extschema@.perfopt_replica_reader_ensure()
RETURNS pg_catalog.void
AS 'MODULE_PATHNAME', 'perfopt_replica_reader_ensure'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
SELECT @extschema@.perfopt_replica_reader_ensure();
DROP FUNCTION @extschema@.perfopt_replica_reader_ensure();

CREATE FUNCTION @extschema@.perfopt_replica_workload(
    OUT datname pg_catalog.name, OUT rolname pg_catalog.name, OUT queryid bigint,
    OUT query pg_catalog.text, OUT calls double precision, OUT total_exec_time double precision,
    OUT mean_exec_time double precision, OUT rows double precision,
    OUT value_weights integer[], OUT value_sets pg_catalog.text[])
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'perfopt_replica_workload'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_replica_workload() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_replica_workload() TO perfopt_replica_reader;
COMMENT ON FUNCTION @extschema@.perfopt_replica_workload() IS
    'perfopt: this server''s pg_stat_statements entries with their value samples, for a primary''s advisor (perfopt.advisor_standbys); members of perfopt_replica_reader only';

-- What the advisor's last attempts on each standby of
-- perfopt.advisor_standbys gave: names and counts, no connection string.
CREATE FUNCTION @extschema@.perfopt_advisor_standbys(
    OUT standby pg_catalog.text, OUT database pg_catalog.name,
    OUT last_attempt timestamp with time zone, OUT last_success timestamp with time zone,
    OUT attempts bigint, OUT failures bigint, OUT statements integer, OUT last_error pg_catalog.text)
RETURNS SETOF pg_catalog.record
AS 'MODULE_PATHNAME', 'perfopt_advisor_standbys'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_advisor_standbys() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_advisor_standbys() TO pg_monitor;
COMMENT ON FUNCTION @extschema@.perfopt_advisor_standbys() IS
    'perfopt: per standby of perfopt.advisor_standbys and database, the advisor''s last attempt to read its workload, its last success, counts and last error';

-- Extended statistics advice: a recommendation kind of its own
-- (create_statistics: index_name holds the statistics object's name), the
-- jobs that apply it (CREATE STATISTICS, then ANALYZE of the table) and
-- take it back, and its verification (object_kind 'statistics': judged
-- at once, from the planner's estimate after the ANALYZE).
ALTER TABLE @extschema@.perfopt_recommendations
    DROP CONSTRAINT perfopt_recommendations_kind_check,
    ADD CONSTRAINT perfopt_recommendations_kind_check
        CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['create_index', 'drop_index', 'reindex',
                                                      'configuration', 'create_statistics']::pg_catalog.text[]));
ALTER TABLE @extschema@.perfopt_jobs
    DROP CONSTRAINT perfopt_jobs_kind_check,
    ADD CONSTRAINT perfopt_jobs_kind_check
        CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['create_index', 'drop_index', 'vacuum_analyze', 'analyze',
                                                      'reindex', 'create_statistics',
                                                      'drop_statistics']::pg_catalog.text[]));
ALTER TABLE @extschema@.perfopt_verifications
    ADD COLUMN object_kind pg_catalog.text NOT NULL DEFAULT 'index'
        CHECK (object_kind OPERATOR(pg_catalog.=) ANY (ARRAY['index', 'statistics']::pg_catalog.text[]));
COMMENT ON COLUMN @extschema@.perfopt_verifications.object_kind IS
    'perfopt: index (index_name is an index) or statistics (index_name is an extended statistics object)';

-- The sample history as time series (src/monitoring/timeseries.c):
-- perfopt_samples over a range, min/avg/max per step, at most max_points
-- buckets per series.  Runs as the caller, who needs SELECT on
-- perfopt_samples (pg_monitor has it).  The four-argument form takes the
-- step in seconds (NULL: the smallest that fits max_points).
CREATE FUNCTION @extschema@.perfopt_metrics_history(from_ts timestamp with time zone,
                                                     to_ts timestamp with time zone,
                                                     max_points integer DEFAULT 300)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'perfopt_metrics_history'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_metrics_history(timestamp with time zone, timestamp with time zone, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_metrics_history(timestamp with time zone, timestamp with time zone, integer) TO pg_monitor;
COMMENT ON FUNCTION @extschema@.perfopt_metrics_history(timestamp with time zone, timestamp with time zone, integer) IS
    'perfopt: the sample history from from_ts to to_ts as time series, min/avg/max per step, at most max_points (1 to 1000) per series';

CREATE FUNCTION @extschema@.perfopt_metrics_history(from_ts timestamp with time zone,
                                                     to_ts timestamp with time zone,
                                                     max_points integer,
                                                     step_seconds integer)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'perfopt_metrics_history'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_metrics_history(timestamp with time zone, timestamp with time zone, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_metrics_history(timestamp with time zone, timestamp with time zone, integer, integer) TO pg_monitor;
COMMENT ON FUNCTION @extschema@.perfopt_metrics_history(timestamp with time zone, timestamp with time zone, integer, integer) IS
    'perfopt: the sample history from from_ts to to_ts as time series, min/avg/max per step_seconds (NULL: the smallest that fits max_points)';

-- Pages of the audit log, newest first (src/core/auditpage.c), for
-- perfopt-httpd's /audit route.  The log says who changed what: granted to
-- nobody here, so that a reader token's role (pg_monitor) cannot call it;
-- grant it to the role of the admin tokens (docs/http-api.md).  It runs as
-- the caller, who also needs SELECT on perfopt_audit_log (pg_monitor has it).
CREATE FUNCTION @extschema@.perfopt_audit_page(before bigint DEFAULT NULL, lim integer DEFAULT 50)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'perfopt_audit_page'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_audit_page(bigint, integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.perfopt_audit_page(bigint, integer) IS
    'perfopt: keyset pages of perfopt_audit_log, newest first: {"items": [...], "next_before": id or null}; granted to nobody by default';

-- Statement latency over time (src/latency/latencyhistory.c): at each
-- write of perfopt_samples, the statements of all databases since the
-- previous write, with the same retention; perfopt_metrics_history()
-- serves it as the latency_* series.
CREATE TABLE @extschema@.perfopt_latency_history (
    sampled_at pg_catalog.timestamptz NOT NULL PRIMARY KEY,
    seconds pg_catalog.float8 NOT NULL,
    statements bigint NOT NULL,
    errors bigint NOT NULL,
    rollbacks bigint NOT NULL,
    p50_ms pg_catalog.float8,
    p95_ms pg_catalog.float8,
    p99_ms pg_catalog.float8
);
COMMENT ON TABLE @extschema@.perfopt_latency_history IS
    'perfopt: statement latency of all databases between two history writes (completed statements, errors, rollbacks, p50/p95/p99 in ms), kept for perfopt.history_retention';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_latency_history', '');
REVOKE ALL ON TABLE @extschema@.perfopt_latency_history FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_latency_history TO pg_monitor;
