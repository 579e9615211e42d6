-- Alert thresholds: the document, partial merges, bad documents refused
-- with 22023 naming the key path (nothing changes), privileges, and where
-- they may be changed.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
SELECT perfopt_thresholds() AS defaults \gset
SELECT :'defaults'::jsonb AS defaults;

-- they are stored in perfopt.database only
\set VERBOSITY terse
SELECT perfopt_set_thresholds('{"cpu": {"warning": 60}}');
\set VERBOSITY default

\c postgres
SET client_min_messages = warning;
CREATE EXTENSION perfopt CASCADE;
RESET client_min_messages;
\i :abs_srcdir/sql/include/outcome.sql

-- partial merges
SELECT perfopt_set_thresholds('{"cpu": {"warning": 60}}') -> 'cpu' AS cpu;
SELECT perfopt_set_thresholds('{"database": {"queryTime": {"warning": 250, "critical": 750.5}}}')
       -> 'database' AS database;
SELECT perfopt_set_thresholds('{}') = perfopt_thresholds() AS empty_changes_nothing;
SELECT perfopt_thresholds() -> 'cpu' AS cpu_kept, perfopt_thresholds() -> 'memory' AS memory_default;
SELECT document = perfopt_thresholds() AS stored_equals_effective FROM perfopt_thresholds;

-- a rolled-back change changes nothing
BEGIN;
SELECT perfopt_set_thresholds('{"memory": {"warning": 10}}') -> 'memory' AS memory_in_xact;
ROLLBACK;
SELECT perfopt_thresholds() -> 'memory' AS memory_after_rollback;

-- bad documents: 22023 with the key path, and nothing changes
SELECT perfopt_thresholds() AS before \gset
SELECT doc, pg_temp.outcome(format('SELECT perfopt_set_thresholds(%L)', doc)) AS outcome
FROM unnest(ARRAY[
  '[1, 2]',
  '42',
  '"cpu"',
  '{"cpus": {"warning": 1}}',
  '{"cpu": {"warn": 1}}',
  '{"cpu": {"warning": "70"}}',
  '{"cpu": {"warning": true}}',
  '{"cpu": {"warning": null}}',
  '{"cpu": {"warning": 101}}',
  '{"cpu": {"critical": -1}}',
  '{"cpu": 70}',
  '{"cpu": {"warning": 95}}',
  '{"memory": {"warning": 99, "critical": 98}}',
  '{"database": {"queryTime": {"warning": 0}}}',
  '{"database": {"queryTime": {"critical": 1e9}}}',
  '{"database": {"cacheHitRatio": {"warning": 50}}}',
  '{"database": {"cacheHitRatio": {"warning": 60, "critical": 80}}}',
  '{"database": {"poolSize": {"warning": 1}}}',
  '{"database": 5}',
  '{"api": {"errorRate": {"critical": 200}}}',
  '{"api": {"responseTime": {"warning": 3000}}}',
  '{"disk": {"utilization": {"warning": 96}}}',
  '{"network": {"receiveBytesPerSecond": {"warning": 1000}}}',
  '{"network": {"transmitBytesPerSecond": {"warning": 0, "critical": 10}}}',
  '{"network": {"receiveBytesPerSecond": {"warning": 20, "critical": 10}}}',
  '{"network": {"rx": {"warning": 1}}}',
  '{"cpu": {"warning": 50}, "memory": {"warning": "x"}}'
]::jsonb[]) AS doc;
SELECT perfopt_thresholds() = :'before'::jsonb AS unchanged;
SELECT perfopt_set_thresholds(NULL);

-- audited: each committed change, with its document
SELECT action, arguments, outcome FROM perfopt_audit_log
WHERE action = 'set_thresholds' ORDER BY id;

-- privileges: pg_monitor reads, only a granted role changes them
CREATE ROLE perfopt_thr_reader LOGIN IN ROLE pg_monitor;
CREATE ROLE perfopt_thr_admin LOGIN;
GRANT USAGE ON SCHEMA public TO perfopt_thr_admin;
GRANT EXECUTE ON FUNCTION perfopt_set_thresholds(jsonb) TO perfopt_thr_admin;
SET ROLE perfopt_thr_reader;
SELECT pg_temp.outcome('SELECT perfopt_thresholds()') AS reader_reads,
       pg_temp.outcome($$SELECT perfopt_set_thresholds('{"cpu": {"warning": 55}}')$$) AS reader_sets;
SET ROLE perfopt_thr_admin;
SELECT pg_temp.outcome($$SELECT perfopt_set_thresholds('{"cpu": {"warning": 55}}')$$) AS admin_sets;
RESET ROLE;
SELECT perfopt_thresholds() -> 'cpu' AS cpu;
SELECT updated_by FROM perfopt_thresholds;

-- the thresholds as Prometheus rules: whoever reads the thresholds reads
-- them (pg_monitor), nobody else; a rule per threshold and level, with the
-- thresholds in effect (cpu warning 55 now), in the exported units
SET ROLE perfopt_thr_reader;
SELECT pg_temp.outcome('SELECT perfopt_prometheus_rules()') AS reader_rules;
SET ROLE perfopt_thr_admin;
SELECT pg_temp.outcome('SELECT perfopt_prometheus_rules()') AS admin_rules;
RESET ROLE;
SELECT m[1] AS alert, m[4] AS severity, m[3] AS "for", m[2] AS expr
FROM regexp_matches(perfopt_prometheus_rules(),
                    '- alert: (\S+)\n +expr: ''([^'']*)''\n +for: (\S+)\n +labels:\n +severity: (\S+)\n', 'g') AS m;
SELECT perfopt_prometheus_rules() ~ '^# Prometheus alerting rules' AS has_header,
       perfopt_prometheus_rules() ~ '\ngroups:\n  - name: perfopt\n    rules:\n' AS has_group,
       perfopt_prometheus_rules() ~ '# network.receiveBytesPerSecond: off' AS network_off;

-- the network rates: off (null) by default, set in pairs, off again with nulls
SELECT perfopt_thresholds()->'network' AS network_default;
SELECT perfopt_set_thresholds('{"network": {"receiveBytesPerSecond": {"warning": 1000000, "critical": 50000000}}}')->'network' AS network_set;
SELECT m[1] AS alert, m[2] AS expr
FROM regexp_matches(perfopt_prometheus_rules(), '- alert: (PerfoptNetwork\S+)\n +expr: ''([^'']*)''', 'g') AS m;
SELECT perfopt_set_thresholds('{"network": {"receiveBytesPerSecond": {"warning": null, "critical": null}}}')->'network' AS network_off;

-- a rolled-back savepoint takes its thresholds back with it: what is
-- published at commit is what the committed transaction stored
BEGIN;
SELECT perfopt_set_thresholds('{"cpu": {"warning": 61}}') -> 'cpu' ->> 'warning' AS in_transaction;
SAVEPOINT s;
SELECT perfopt_set_thresholds('{"cpu": {"warning": 62}}') -> 'cpu' ->> 'warning' AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT perfopt_thresholds() -> 'cpu' ->> 'warning' AS published,
       (SELECT document -> 'cpu' ->> 'warning' FROM perfopt_thresholds) AS stored;
-- a failed PL/pgSQL block too
DO $$
BEGIN
    BEGIN
        PERFORM perfopt_set_thresholds('{"cpu": {"warning": 63}}');
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
END
$$;
SELECT perfopt_thresholds() -> 'cpu' ->> 'warning' AS after_failed_block;
-- PREPARE TRANSACTION is refused (its commit would come in another
-- session), and the transaction rolls back
BEGIN;
SELECT perfopt_set_thresholds('{"cpu": {"warning": 64}}') IS NOT NULL AS set;
PREPARE TRANSACTION 'perfopt_thr';
-- (on a build that let it through, this keeps its row lock from hanging the test)
ROLLBACK PREPARED 'perfopt_thr';
SELECT perfopt_thresholds() -> 'cpu' ->> 'warning' AS after_prepare;

-- back to the defaults, and clean up this database
SELECT perfopt_set_thresholds('{"cpu": {"warning": 70}, "database": {"queryTime": {"warning": 1000, "critical": 5000}}}')
       = :'defaults'::jsonb AS defaults_again;
DROP EXTENSION perfopt;
DROP OWNED BY perfopt_thr_reader, perfopt_thr_admin;
DROP ROLE perfopt_thr_reader, perfopt_thr_admin;
\c contrib_regression

