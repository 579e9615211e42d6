-- Value samples (src/advisor/valuestore.c, valuecapture.c): the GUCs with
-- bad values, sampling on and off, forgetting with pg_stat_statements'
-- reset.  perfopt_status() shows counts only; no SQL shows a value.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
SELECT name, setting, vartype, context, min_val, max_val
FROM pg_settings WHERE name LIKE 'perfopt.value_sample%' ORDER BY name;

-- bad values: 22023; the store's size only at server start: 55P02; the
-- rate is a superuser's: 42501
SELECT pg_temp.outcome('SET perfopt.value_sample_rate = -0.1');
SELECT pg_temp.outcome('SET perfopt.value_sample_rate = 1.5');
SELECT pg_temp.outcome('SET perfopt.value_sample_rate = ''often''');
SELECT pg_temp.outcome('SET perfopt.value_sample_statements = 10');
\set VERBOSITY terse
ALTER SYSTEM SET perfopt.value_sample_statements = -1;
ALTER SYSTEM SET perfopt.value_sample_rate = 2;
\set VERBOSITY default
CREATE ROLE perfopt_vs_user;
SET ROLE perfopt_vs_user;
SELECT pg_temp.outcome('SET perfopt.value_sample_rate = 1');
RESET ROLE;
DROP ROLE perfopt_vs_user;

-- sampling off (0): the advisor's next run forgets everything kept, and
-- nothing new is taken
SET perfopt.value_sample_rate = 0;
SELECT perfopt_advise() IS NOT NULL AS advised;
SELECT perfopt_status()->'value_samples' - '{offered,dropped,skipped,evicted}'::text[] AS off;
SELECT (perfopt_status()->'value_samples'->>'offered')::bigint AS offered_before,
       (perfopt_status()->'value_samples'->>'skipped')::bigint AS skipped_before \gset
CREATE TABLE vs_t (id int PRIMARY KEY, s text);
SELECT count(*) FROM vs_t WHERE id = 1 AND s = 'one';
SELECT (perfopt_status()->'value_samples'->>'offered')::bigint - :offered_before AS offered_while_off;

-- on (1: every execution): the simple protocol's constants are taken
SET perfopt.value_sample_rate = 1;
SELECT count(*) FROM vs_t WHERE id = 1 AND s = 'one';
SELECT count(*) FROM vs_t WHERE id = 2 AND s = 'two';
SELECT count(*) FROM vs_t WHERE id = 2 AND s = 'two';
SELECT count(*) FROM vs_t WHERE id = 3 AND s IS NULL;
-- an IN list (one $n on PostgreSQL 18, which squashes it: its first value)
SELECT count(*) FROM vs_t WHERE id IN (4, 5, 6) AND s = 'four';
-- a statement without a constant has nothing to sample; one with a value
-- longer than 256 bytes is skipped whole
SELECT count(*) FROM vs_t;
SELECT count(*) FROM vs_t WHERE s = repeat('x', 300) AND id = 5;
SELECT count(*) FROM vs_t WHERE s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
-- a type whose output function is not on the list (point): skipped
SELECT count(*) FROM vs_t WHERE point '(1,2)' IS NOT NULL AND id = 6;
SET perfopt.value_sample_rate = 0;
SELECT v->'statements' AS statements, v->'value_sets' AS value_sets,
       v->'observations' AS observations, (v->>'skipped')::bigint - :skipped_before AS skipped
FROM (SELECT perfopt_status()->'value_samples' AS v) s;

-- pg_stat_statements' reset: the advisor's next run forgets what was kept
-- before it
SET perfopt.value_sample_rate = 1;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;
SELECT perfopt_advise() IS NOT NULL AS advised;
SET perfopt.value_sample_rate = 0;
SELECT perfopt_status()->'value_samples'->'statements' AS statements_after_reset;
RESET perfopt.value_sample_rate;
DROP TABLE vs_t;
