-- perfopt_optimize(): the report of a dry run, history paging, bad input.
-- (Builds themselves run in the job runner; the TAP tests cover them.)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
SET perfopt.min_table_size = '256kB';
-- generic plans: a statement a 1% draw sampled would be costed over its values
SET perfopt.value_sample_rate = 0;

CREATE TABLE opt_t (id int PRIMARY KEY, k int NOT NULL, v text) WITH (autovacuum_enabled = false);
INSERT INTO opt_t SELECT g, g % 5000, 'value ' || g FROM generate_series(1, 20000) g;
CREATE TABLE opt_never_analyzed (a int) WITH (autovacuum_enabled = false);
INSERT INTO opt_never_analyzed SELECT g FROM generate_series(1, 100) g;
ANALYZE opt_t;
-- dead rows for VACUUM; statistics reach shared memory at the next idle
DELETE FROM opt_t WHERE id > 8000;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
\o /dev/null
SELECT format('SELECT * FROM opt_t WHERE k = %s', g) FROM generate_series(1, 20) g \gexec
\o

-- a dry run reports and changes nothing
SELECT count(*) AS jobs_before FROM perfopt_jobs \gset
SELECT count(*) AS history_before FROM perfopt_history \gset
SELECT r->>'kind' AS kind, r->>'dry_run' AS dry_run, r->>'run_id' AS run_id,
       jsonb_typeof(r->'actions') AS actions, r ? 'estimated_improvement_ms' AS has_estimate
FROM perfopt_optimize(true) AS r;
SELECT a->>'kind' AS kind, a->>'statement' AS statement, a->>'job_id' AS job_id
FROM perfopt_optimize(true) AS r, jsonb_array_elements(r->'actions') AS a
WHERE a->>'statement' ~ '(opt_t|opt_never_analyzed)\M' ORDER BY 1, 2;
SELECT count(*) - :jobs_before AS new_jobs FROM perfopt_jobs;
SELECT count(*) - :history_before AS new_history FROM perfopt_history;
SELECT count(*) AS optimize_audit_rows FROM perfopt_audit_log WHERE action LIKE 'optimize%';

-- the database part alone
SELECT a->>'kind' AS kind, a->>'statement' AS statement
FROM perfopt_optimize_database(true) AS r, jsonb_array_elements(r->'actions') AS a
WHERE a->>'statement' ~ '(opt_t|opt_never_analyzed)\M' ORDER BY 1, 2;

-- history paging and bad input
SELECT perfopt_history(0, 10)->'items' = '[]' AS empty, perfopt_history()->>'next_after' AS next_after;
\set VERBOSITY terse
SELECT perfopt_history(0, 0);
SELECT perfopt_history(0, 1001);
SELECT perfopt_history(-1, 10);
SELECT perfopt_history(NULL, 10);
SELECT perfopt_optimize(NULL);
SELECT perfopt_optimize_database(NULL);
\set VERBOSITY default
DROP TABLE opt_t, opt_never_analyzed;

-- the kinds of recommendations, jobs and verified objects (extended
-- statistics: create_statistics, drop_statistics, object_kind statistics)
SELECT conrelid::regclass AS tab, pg_get_constraintdef(oid) AS accepts
FROM pg_constraint
WHERE conname IN ('perfopt_recommendations_kind_check', 'perfopt_jobs_kind_check',
                  'perfopt_verifications_object_kind_check')
ORDER BY 1;
SELECT column_default, is_nullable FROM information_schema.columns
WHERE table_name = 'perfopt_verifications' AND column_name = 'object_kind';
