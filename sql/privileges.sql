-- Privileges: readers need pg_monitor, writers an explicit grant; nobody
-- but the owner writes the tables.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE ROLE perfopt_nobody LOGIN;
CREATE ROLE perfopt_reader LOGIN IN ROLE pg_monitor;
CREATE ROLE perfopt_operator LOGIN;
GRANT EXECUTE ON FUNCTION perfopt_start_monitoring(integer), perfopt_start_monitoring(),
  perfopt_stop_monitoring() TO perfopt_operator;

SET ROLE perfopt_nobody;
SELECT q AS statement, pg_temp.outcome(q) AS outcome
FROM unnest(ARRAY['SELECT perfopt_status()',
                  'SELECT perfopt_metrics()',
                  'SELECT perfopt_database_metrics()',
                  'SELECT perfopt_metrics_prometheus()',
                  'SELECT count(*) FROM perfopt_recent_samples',
                  'SELECT count(*) FROM perfopt_samples',
                  'SELECT count(*) FROM perfopt_audit_log',
                  'SELECT perfopt_start_monitoring(1000)',
                  'SELECT perfopt_start_monitoring()',
                  'SELECT perfopt_stop_monitoring()',
                  'SELECT perfopt_advise()',
                  'SELECT perfopt_dismiss_recommendation(1)',
                  'SELECT count(*) FROM perfopt_recommendations',
                  'SELECT count(*) FROM perfopt_advisor_skipped',
                  'SELECT count(*) FROM perfopt_slow_queries',
                  'SELECT perfopt_optimize(true)',
                  'SELECT perfopt_optimize_database(true)',
                  'SELECT perfopt_history(0, 10)',
                  'SELECT count(*) FROM perfopt_jobs',
                  'SELECT count(*) FROM perfopt_jobs_progress']) AS q;
RESET ROLE;
SET ROLE perfopt_reader;
SELECT jsonb_typeof(perfopt_status()) AS status,
       jsonb_typeof(perfopt_metrics()) AS metrics,
       length(perfopt_metrics_prometheus()) > 0 AS prometheus;
SELECT count(*) >= 0 AS can_read FROM perfopt_samples;
SELECT count(*) >= 0 AS can_read FROM perfopt_recommendations;
SELECT count(*) >= 0 AS can_read FROM perfopt_jobs;
SELECT jsonb_typeof(perfopt_history(0, 10)) AS history;
SELECT q AS statement, pg_temp.outcome(q) AS outcome
FROM unnest(ARRAY['SELECT perfopt_stop_monitoring()',
                  'SELECT perfopt_start_monitoring(500)',
                  'SELECT perfopt_advise()',
                  'SELECT perfopt_optimize()',
                  'UPDATE perfopt_recommendations SET status = ''applied''',
                  'DELETE FROM perfopt_jobs',
                  $q$INSERT INTO perfopt_audit_log (role_name, session_role, action, arguments, outcome) VALUES ('x', 'x', 'forged', '{}', 'x')$q$,
                  'DELETE FROM perfopt_audit_log',
                  'INSERT INTO perfopt_samples (sampled_at, is_standby, databases_omitted, databases) VALUES (now(), false, 0, ''[]'')']) AS q;
RESET ROLE;

-- an operator may switch monitoring without any right on the audit log;
-- the row records who did it
SET ROLE perfopt_operator;
SELECT perfopt_start_monitoring(250)->'changed' AS changed;
SELECT count(*) FROM perfopt_audit_log;
SELECT perfopt_start_monitoring()->'changed' AS changed;
RESET ROLE;
SELECT action, role_name, arguments FROM perfopt_audit_log
WHERE role_name = 'perfopt_operator' ORDER BY id;

DROP OWNED BY perfopt_operator;
DROP ROLE perfopt_nobody, perfopt_reader, perfopt_operator;
