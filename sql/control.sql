-- Run-time monitoring control: bad input is refused and changes nothing;
-- good input is audited and applied at commit.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

SELECT perfopt_status()->'monitoring' AS before;

-- bad input: clear errors, nothing changes, nothing audited
\set VERBOSITY default
SELECT perfopt_start_monitoring(-5);
SELECT perfopt_start_monitoring(0);
SELECT perfopt_start_monitoring(99);
SELECT perfopt_start_monitoring(NULL);
SELECT perfopt_start_monitoring(2147483647);
SELECT perfopt_start_monitoring(86400001);
SELECT perfopt_start_monitoring('abc');
SELECT perfopt_start_monitoring(1e20::int);
\set VERBOSITY terse
SELECT q AS statement, pg_temp.outcome(q) AS outcome
FROM unnest(ARRAY['SELECT perfopt_start_monitoring(-5)',
                  'SELECT perfopt_start_monitoring(0)',
                  'SELECT perfopt_start_monitoring(NULL)',
                  'SELECT perfopt_start_monitoring(86400001)',
                  'SELECT perfopt_start_monitoring(''abc'')']) AS q;
SELECT perfopt_status()->'monitoring' AS unchanged;
SELECT count(*) AS audit_rows FROM perfopt_audit_log;

-- a rolled-back change leaves neither a change nor an audit row
BEGIN;
SELECT perfopt_stop_monitoring();
ROLLBACK;
SELECT perfopt_status()->'monitoring'->>'enabled' AS still_enabled;
SELECT count(*) AS audit_rows FROM perfopt_audit_log;

-- so does one rolled back to a savepoint
BEGIN;
SAVEPOINT s;
SELECT perfopt_start_monitoring(300);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT perfopt_status()->'monitoring'->>'interval_ms' AS still_200;

-- a committed change applies and is audited
SELECT perfopt_start_monitoring(300);
SELECT perfopt_status()->'monitoring' AS after_start;
SELECT perfopt_stop_monitoring();
SELECT perfopt_status()->'monitoring'->>'enabled' AS enabled_after_stop;

-- while stopped, no samples are taken
SELECT pg_sleep(0.3);
SELECT (perfopt_status()->>'samples_taken')::int AS n0 \gset
SELECT pg_sleep(1);
SELECT (perfopt_status()->>'samples_taken')::int - :n0 AS taken_while_stopped;

-- a repeated stop is not a change and is not audited
SELECT perfopt_stop_monitoring();

-- start without an argument returns to perfopt.monitoring_interval
SELECT perfopt_start_monitoring();
SELECT (perfopt_status()->>'samples_taken')::int AS n1 \gset
SELECT pg_sleep(1);
SELECT (perfopt_status()->>'samples_taken')::int > :n1 AS sampling_again;

SELECT action, arguments, outcome, role_name = current_user AS by_me,
       session_role = session_user AS session_ok
FROM perfopt_audit_log ORDER BY id;

-- a change staged in a savepoint that is released applies at commit
BEGIN;
SAVEPOINT s;
SELECT perfopt_start_monitoring(400)->'changed' AS changed;
RELEASE SAVEPOINT s;
COMMIT;
SELECT perfopt_status()->'monitoring'->>'interval_ms' AS now_400;

-- released into an outer savepoint that rolls back: discarded
BEGIN;
SAVEPOINT a;
SAVEPOINT b;
SELECT perfopt_start_monitoring(500)->'changed' AS changed;
RELEASE SAVEPOINT b;
ROLLBACK TO SAVEPOINT a;
COMMIT;
SELECT perfopt_status()->'monitoring'->>'interval_ms' AS still_400;

-- staged in a PL/pgSQL block that fails: discarded with the block, though
-- the transaction commits
DO $$
BEGIN
  BEGIN
    PERFORM perfopt_start_monitoring(500);
    RAISE EXCEPTION 'undone';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
END
$$;
SELECT perfopt_status()->'monitoring'->>'interval_ms' AS still_400;

-- back to perfopt.monitoring_interval; only the applied change was audited
SELECT perfopt_start_monitoring()->'changed' AS changed;
SELECT action, arguments FROM perfopt_audit_log ORDER BY id OFFSET 3;
