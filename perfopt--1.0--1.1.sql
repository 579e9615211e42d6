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
