/* perfopt--1.0.sql — perfopt's SQL surface, version 1.0 */

-- Every function runs with SET search_path = pg_catalog, pg_temp: a schema
-- early in the caller's search_path cannot shadow what perfopt's queries
-- use (src/searchpath.c; test: sql/search_path.sql).

\echo Use "CREATE EXTENSION perfopt" to load this file. \quit

-- Sample history, written by the worker in perfopt.database (primary only).
-- Column order is the library's field order (src/sample.c).
CREATE TABLE @extschema@.perfopt_samples (
    sampled_at timestamptz NOT NULL PRIMARY KEY,
    interval_seconds float8,
    is_standby boolean NOT NULL,
    cpu_busy_pct float8,
    cpu_user_pct float8,
    cpu_system_pct float8,
    cpu_iowait_pct float8,
    cpu_count float8,
    load_1m float8,
    load_5m float8,
    load_15m float8,
    memory_used_pct float8,
    memory_used_bytes float8,
    memory_limit_bytes float8,
    memory_from_cgroup float8,
    data_disk_used_pct float8,
    wal_disk_used_pct float8,
    data_disk_free_bytes float8,
    wal_disk_free_bytes float8,
    network_rx_bytes_per_second float8,
    network_tx_bytes_per_second float8,
    connections_active float8,
    connections_idle float8,
    connections_idle_in_transaction float8,
    connections_waiting_on_lock float8,
    connections_total float8,
    connections_available float8,
    pool_utilization_pct float8,
    wal_bytes_per_second float8,
    oldest_query_age_seconds float8,
    oldest_idle_in_transaction_age_seconds float8,
    databases_omitted integer NOT NULL,
    databases jsonb NOT NULL
);
COMMENT ON TABLE @extschema@.perfopt_samples IS
    'perfopt: machine and server samples, one row per perfopt.history_interval, kept for perfopt.history_retention';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_samples', '');
REVOKE ALL ON TABLE @extschema@.perfopt_samples FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_samples TO pg_monitor;

-- Every state change made through perfopt's functions.
CREATE TABLE @extschema@.perfopt_audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    logged_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    role_name name NOT NULL,
    session_role name NOT NULL,
    backend_pid integer NOT NULL DEFAULT pg_catalog.pg_backend_pid(),
    action text NOT NULL,
    arguments jsonb NOT NULL,
    outcome text NOT NULL
);
COMMENT ON TABLE @extschema@.perfopt_audit_log IS
    'perfopt: who changed what through perfopt, when, with which arguments';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_audit_log', '');
REVOKE ALL ON TABLE @extschema@.perfopt_audit_log FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_audit_log TO pg_monitor;

-- Readers: granted to pg_monitor.
CREATE FUNCTION @extschema@.perfopt_status()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_status'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_status() TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_metrics()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_metrics'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_metrics() TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_database_metrics()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_database_metrics'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_database_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_database_metrics() TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_metrics_prometheus()
RETURNS text
AS 'MODULE_PATHNAME', 'perfopt_metrics_prometheus'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_metrics_prometheus() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_metrics_prometheus() TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_recent_samples()
RETURNS SETOF @extschema@.perfopt_samples
AS 'MODULE_PATHNAME', 'perfopt_recent_samples'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_recent_samples() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_recent_samples() TO pg_monitor;

-- The samples still in shared memory, oldest first (also on a standby).
CREATE VIEW @extschema@.perfopt_recent_samples AS
    SELECT * FROM @extschema@.perfopt_recent_samples();
REVOKE ALL ON TABLE @extschema@.perfopt_recent_samples FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_recent_samples TO pg_monitor;

-- Writers: revoked from PUBLIC; the DBA grants them.
CREATE FUNCTION @extschema@.perfopt_start_monitoring()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_start_monitoring'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_start_monitoring() FROM PUBLIC;

CREATE FUNCTION @extschema@.perfopt_start_monitoring(interval_ms integer)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_start_monitoring'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_start_monitoring(integer) FROM PUBLIC;

CREATE FUNCTION @extschema@.perfopt_stop_monitoring()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_stop_monitoring'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_stop_monitoring() FROM PUBLIC;

-- Alert thresholds: one document (see perfopt_thresholds()), stored here in
-- perfopt.database and published to shared memory at commit.
CREATE TABLE @extschema@.perfopt_thresholds (
    id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    document jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by name NOT NULL
);
COMMENT ON TABLE @extschema@.perfopt_thresholds IS
    'perfopt: the alert thresholds document set by perfopt_set_thresholds()';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_thresholds', '');
REVOKE ALL ON TABLE @extschema@.perfopt_thresholds FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_thresholds TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_thresholds()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_thresholds'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_thresholds() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_thresholds() TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_set_thresholds(document jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_set_thresholds'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_set_thresholds(jsonb) FROM PUBLIC;

-- Alerts: one row per alert (open or resolved), written by the worker in
-- perfopt.database; perfopt_alerts adds those not written yet (a standby,
-- a full disk) from shared memory.
CREATE TABLE @extschema@.perfopt_alerts_data (
    id bigint PRIMARY KEY,
    type text NOT NULL CHECK (type IN ('cpu', 'memory', 'disk', 'database', 'api', 'network')),
    metric text NOT NULL,
    subject text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    state text NOT NULL CHECK (state IN ('open', 'resolved')),
    value float8 NOT NULL,
    threshold float8 NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    resolved_at timestamptz,
    resolved_by text,
    message text NOT NULL
);
CREATE UNIQUE INDEX perfopt_alerts_data_one_open
    ON @extschema@.perfopt_alerts_data (metric, subject) WHERE state = 'open';
COMMENT ON TABLE @extschema@.perfopt_alerts_data IS
    'perfopt: alerts against the thresholds, written by the worker';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_alerts_data', '');
REVOKE ALL ON TABLE @extschema@.perfopt_alerts_data FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_alerts_data TO pg_monitor;

-- every open, escalate, deescalate and resolve of an alert
CREATE TABLE @extschema@.perfopt_alert_transitions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES @extschema@.perfopt_alerts_data (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    event text NOT NULL CHECK (event IN ('open', 'escalate', 'deescalate', 'resolve')),
    severity text NOT NULL,
    value float8 NOT NULL,
    threshold float8 NOT NULL
);
CREATE INDEX perfopt_alert_transitions_alert ON @extschema@.perfopt_alert_transitions (alert_id);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_alert_transitions', '');
REVOKE ALL ON TABLE @extschema@.perfopt_alert_transitions FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_alert_transitions TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_alerts_pending(
    OUT id bigint, OUT type text, OUT metric text, OUT subject text, OUT severity text,
    OUT state text, OUT value float8, OUT threshold float8, OUT first_seen timestamptz,
    OUT last_seen timestamptz, OUT resolved_at timestamptz, OUT resolved_by text, OUT message text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'perfopt_alerts_pending'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_alerts_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_alerts_pending() TO pg_monitor;

CREATE VIEW @extschema@.perfopt_alerts AS
    SELECT d.id, d.type, d.metric, d.subject, d.severity, d.state, d.value, d.threshold,
           d.first_seen, d.last_seen, d.resolved_at, d.resolved_by, d.message
    FROM @extschema@.perfopt_alerts_data d
    UNION ALL
    SELECT p.id, p.type, p.metric, p.subject, p.severity, p.state, p.value, p.threshold,
           p.first_seen, p.last_seen, p.resolved_at, p.resolved_by, p.message
    FROM @extschema@.perfopt_alerts_pending() p
    WHERE NOT EXISTS (SELECT 1 FROM @extschema@.perfopt_alerts_data d2 WHERE d2.id OPERATOR(pg_catalog.=) p.id);
REVOKE ALL ON @extschema@.perfopt_alerts FROM PUBLIC;
GRANT SELECT ON @extschema@.perfopt_alerts TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_alerts_page(state text DEFAULT NULL, after bigint DEFAULT 0,
                                                 lim integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    items jsonb;
    last_id bigint;
    n integer;
BEGIN
    IF state IS NOT NULL AND state NOT IN ('open', 'resolved') THEN
        RAISE EXCEPTION 'perfopt_alerts_page: state must be open, resolved or NULL (all), not %', state
            USING ERRCODE = '22023';
    END IF;
    IF after IS NULL OR after < 0 THEN
        RAISE EXCEPTION 'perfopt_alerts_page: after must be 0 or a previous next_after, not %', after
            USING ERRCODE = '22023';
    END IF;
    IF lim IS NULL OR lim < 1 OR lim > 1000 THEN
        RAISE EXCEPTION 'perfopt_alerts_page: lim must be between 1 and 1000, not %', lim
            USING ERRCODE = '22023';
    END IF;
    SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.id), '[]'), max(a.id), count(*)
      INTO items, last_id, n
      FROM (SELECT * FROM @extschema@.perfopt_alerts x
            WHERE x.id > perfopt_alerts_page.after
              AND (perfopt_alerts_page.state IS NULL OR x.state = perfopt_alerts_page.state)
            ORDER BY x.id LIMIT lim) a;
    RETURN jsonb_build_object('items', items, 'next_after', CASE WHEN n = lim THEN last_id END);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.perfopt_alerts_page(text, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_alerts_page(text, bigint, integer) TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_resolve_alert(id bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_resolve_alert'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_resolve_alert(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.perfopt_resolve_alerts(ids bigint[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_resolve_alerts'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_resolve_alerts(bigint[]) FROM PUBLIC;

-- Trends of every metric the alerts watch: slope, forecast crossings, anomaly.
CREATE FUNCTION @extschema@.perfopt_trends_rows(
    OUT metric text, OUT subject text, OUT sampled_at timestamptz, OUT points integer,
    OUT last_value float8, OUT slope_per_hour float8, OUT seconds_to_warning float8,
    OUT seconds_to_critical float8, OUT warning_at timestamptz, OUT critical_at timestamptz,
    OUT ewma float8, OUT z_score float8, OUT anomaly boolean, OUT warning float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'perfopt_trends_rows'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_trends_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_trends_rows() TO pg_monitor;

CREATE VIEW @extschema@.perfopt_trends AS SELECT * FROM @extschema@.perfopt_trends_rows();
REVOKE ALL ON @extschema@.perfopt_trends FROM PUBLIC;
GRANT SELECT ON @extschema@.perfopt_trends TO pg_monitor;

-- The performance score, 0-100, with its breakdown (README: the formula).
CREATE FUNCTION @extschema@.perfopt_score()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_score'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_score() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_score() TO pg_monitor;

-- Statement latency measured in the server (perfopt.track): percentiles,
-- throughput and error rate, over the last interval and since the reset.
CREATE FUNCTION @extschema@.perfopt_api_metrics()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_api_metrics'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_api_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_api_metrics() TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_reset_api_metrics()
RETURNS void
AS 'MODULE_PATHNAME', 'perfopt_reset_api_metrics'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_reset_api_metrics() FROM PUBLIC;

-- Index advisor (perfopt_advise): what to create, and why.
CREATE TABLE @extschema@.perfopt_recommendations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('create_index', 'drop_index', 'reindex', 'configuration')),
    table_name text CHECK ((table_name IS NULL) = (kind = 'configuration')),
    index_name text CHECK ((index_name IS NULL) = (kind = 'configuration')),
    setting text CHECK ((setting IS NOT NULL) = (kind = 'configuration')),
    ddl text NOT NULL,
    definition text NOT NULL UNIQUE,
    statements jsonb NOT NULL,
    benefit_ms float8 NOT NULL,
    estimated_size_bytes bigint NOT NULL,
    write_penalty_ms float8 NOT NULL,
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'applied', 'dismissed')),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.perfopt_recommendations IS
    'perfopt: recommendations of the last perfopt_advise() run, with the statements they serve';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_recommendations', '');
REVOKE ALL ON TABLE @extschema@.perfopt_recommendations FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_recommendations TO pg_monitor;

-- Statements the last run could not analyze, and why.
CREATE TABLE @extschema@.perfopt_advisor_skipped (
    queryid bigint NOT NULL,
    userid oid NOT NULL,
    query text NOT NULL,
    reason text NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (queryid, userid)
);
REVOKE ALL ON TABLE @extschema@.perfopt_advisor_skipped FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_advisor_skipped TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_advise()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_advise'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_advise() FROM PUBLIC;

CREATE FUNCTION @extschema@.perfopt_dismiss_recommendation(id bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_dismiss_recommendation'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_dismiss_recommendation(bigint) FROM PUBLIC;

-- The slow statements of the last perfopt_advise() run: their generic plan,
-- what is wrong with it, and the recommendations that address it.
CREATE TABLE @extschema@.perfopt_slow_queries (
    queryid bigint NOT NULL,
    userid oid NOT NULL,
    query text NOT NULL,
    calls float8 NOT NULL,
    mean_time_ms float8 NOT NULL,
    total_time_ms float8 NOT NULL,
    workload_share_pct float8 NOT NULL,
    plan jsonb NOT NULL,
    findings text[] NOT NULL,
    recommendation_ids bigint[] NOT NULL DEFAULT '{}',
    analyzed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (queryid, userid)
);
REVOKE ALL ON TABLE @extschema@.perfopt_slow_queries FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_slow_queries TO pg_monitor;

-- Reports of perfopt_optimize() / perfopt_optimize_database() runs.
CREATE TABLE @extschema@.perfopt_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('optimize', 'optimize_database')),
    started_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at timestamptz,
    report jsonb NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_history', '');
REVOKE ALL ON TABLE @extschema@.perfopt_history FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_history TO pg_monitor;

-- Maintenance jobs, run at top level by the job runner, one database at a time.
CREATE TABLE @extschema@.perfopt_jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database name NOT NULL DEFAULT pg_catalog.current_database(),
    kind text NOT NULL CHECK (kind IN ('create_index', 'drop_index', 'vacuum_analyze', 'analyze', 'reindex')),
    statement text NOT NULL,
    target_table text,
    index_name text,
    estimated_size_bytes bigint,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    last_sqlstate text,
    queued_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    not_before timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at timestamptz,
    finished_at timestamptz,
    runner_pid integer,
    recommendation_id bigint REFERENCES @extschema@.perfopt_recommendations (id) ON DELETE SET NULL,
    run_id bigint REFERENCES @extschema@.perfopt_history (id) ON DELETE SET NULL
);
CREATE INDEX perfopt_jobs_queued ON @extschema@.perfopt_jobs (id) WHERE state IN ('queued', 'running');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_jobs', '');
REVOKE ALL ON TABLE @extschema@.perfopt_jobs FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_jobs TO pg_monitor;

-- Running jobs with the server's progress reports.
CREATE VIEW @extschema@.perfopt_jobs_progress AS
SELECT j.id, j.kind, j.statement, j.target_table, j.started_at, j.runner_pid,
       COALESCE(ci.phase, v.phase, a.phase) AS phase,
       COALESCE(ci.blocks_done, v.heap_blks_scanned, a.sample_blks_scanned) AS blocks_done,
       COALESCE(ci.blocks_total, v.heap_blks_total, a.sample_blks_total) AS blocks_total,
       CASE WHEN COALESCE(ci.blocks_total, v.heap_blks_total, a.sample_blks_total) > 0
            THEN round(100.0 * COALESCE(ci.blocks_done, v.heap_blks_scanned, a.sample_blks_scanned)
                       / COALESCE(ci.blocks_total, v.heap_blks_total, a.sample_blks_total), 1) END AS percent
FROM @extschema@.perfopt_jobs j
LEFT JOIN pg_catalog.pg_stat_progress_create_index ci ON ci.pid = j.runner_pid
LEFT JOIN pg_catalog.pg_stat_progress_vacuum v ON v.pid = j.runner_pid
LEFT JOIN pg_catalog.pg_stat_progress_analyze a ON a.pid = j.runner_pid
WHERE j.state = 'running';
REVOKE ALL ON TABLE @extschema@.perfopt_jobs_progress FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_jobs_progress TO pg_monitor;

CREATE FUNCTION @extschema@.perfopt_optimize(dry_run boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_optimize'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_optimize(boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.perfopt_optimize_database(dry_run boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_optimize_database'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_optimize_database(boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.perfopt_history(after bigint DEFAULT 0, lim integer DEFAULT 50)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'perfopt_history'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.perfopt_history(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.perfopt_history(bigint, integer) TO pg_monitor;

-- Did each index perfopt built help?  Observed for perfopt.verification_window.
CREATE TABLE @extschema@.perfopt_verifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id bigint REFERENCES @extschema@.perfopt_jobs (id) ON DELETE SET NULL,
    recommendation_id bigint REFERENCES @extschema@.perfopt_recommendations (id) ON DELETE SET NULL,
    index_name text NOT NULL,
    built_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    planner_uses_index boolean NOT NULL,
    baseline jsonb NOT NULL,
    state text NOT NULL DEFAULT 'observing'
        CHECK (state IN ('observing', 'confirmed', 'rolled_back', 'failed_kept')),
    checked_at timestamptz,
    index_scans bigint,
    realized_improvement_ms float8,
    verdict text,
    after jsonb
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.perfopt_verifications', '');
REVOKE ALL ON TABLE @extschema@.perfopt_verifications FROM PUBLIC;
GRANT SELECT ON TABLE @extschema@.perfopt_verifications TO pg_monitor;
