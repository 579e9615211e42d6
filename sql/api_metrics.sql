-- Statement latency (perfopt_api_metrics): the document's shape, what a
-- statement error adds, privileges and the audited reset.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

SELECT jsonb_object_keys(perfopt_api_metrics()) AS key ORDER BY 1;
SELECT jsonb_object_keys(perfopt_api_metrics()->'since_reset') AS key ORDER BY 1;
SELECT jsonb_object_keys(perfopt_api_metrics()->'since_reset'->'overall') AS key ORDER BY 1;
SELECT perfopt_api_metrics()->>'track' AS track;

-- the status document carries the last interval's overall figures
SELECT jsonb_object_keys(perfopt_status()->'api') AS key ORDER BY 1;

-- a division by zero is a statement error of this database
CREATE FUNCTION pg_temp.errors() RETURNS bigint LANGUAGE sql AS $$
  SELECT (s->'stats'->>'errors')::bigint
  FROM jsonb_array_elements(perfopt_api_metrics()->'since_reset'->'databases') s
  WHERE s->>'datname' = current_database() $$;
SELECT pg_temp.errors() AS errors_before \gset
SELECT 1 / 0;
SELECT pg_temp.errors() - :errors_before AS new_errors;

-- privileges: pg_monitor reads, only a granted role resets
CREATE ROLE perfopt_api_reader LOGIN IN ROLE pg_monitor;
CREATE ROLE perfopt_api_nobody LOGIN;
SET ROLE perfopt_api_nobody;
SELECT pg_temp.outcome('SELECT perfopt_api_metrics()') AS nobody_reads,
       pg_temp.outcome('SELECT perfopt_reset_api_metrics()') AS nobody_resets;
SET ROLE perfopt_api_reader;
SELECT pg_temp.outcome('SELECT perfopt_api_metrics()') AS reader_reads,
       pg_temp.outcome('SELECT perfopt_reset_api_metrics()') AS reader_resets;
RESET ROLE;
GRANT EXECUTE ON FUNCTION perfopt_reset_api_metrics() TO perfopt_api_reader;
SET ROLE perfopt_api_reader;
SELECT pg_temp.outcome('SELECT perfopt_reset_api_metrics()') AS granted_resets;
RESET ROLE;

-- the reset takes effect at commit and is audited
SELECT count(*) AS resets_audited FROM perfopt_audit_log
WHERE action = 'reset_api_metrics' AND role_name = 'perfopt_api_reader';
SELECT pg_temp.errors() AS errors_after_reset;

-- perfopt.track takes only its three values
\set VERBOSITY terse
SET perfopt.track = 'sometimes';
SET perfopt.track = 'none';
SHOW perfopt.track;
RESET perfopt.track;
\set VERBOSITY default

DROP OWNED BY perfopt_api_reader, perfopt_api_nobody;
DROP ROLE perfopt_api_reader, perfopt_api_nobody;
