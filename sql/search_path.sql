-- search_path: a hostile schema first in the caller's search_path shadows
-- the pg_catalog functions, aggregates, operators and types perfopt's SQL
-- uses; every one of them counts the call (a sequence: not rolled back)
-- and raises.  CREATE EXTENSION, every function and every view and table of
-- the extension (the list comes from pg_depend, so a new one is covered)
-- run under that path and none of the hostile objects is reached: perfopt's
-- functions run with SET search_path = pg_catalog, pg_temp, and the advisor
-- analyzes workload statements under their role's own path, pg_catalog first.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- the hostile schema, built in each database the test uses
CREATE FUNCTION pg_temp.make_evil() RETURNS void LANGUAGE plpgsql AS $make$
DECLARE
  t text;
  op text;
  f record;
BEGIN
  CREATE SCHEMA evil;
  CREATE SEQUENCE public.sp_hits;
  -- one raising function per result type; the hostile objects call these
  FOREACH t IN ARRAY ARRAY['bool', 'text', 'jsonb', 'timestamptz', 'interval',
                           'float8', 'int8', 'int4', 'oid', 'regclass'] LOOP
    EXECUTE pg_catalog.format($f$CREATE FUNCTION evil.hit_%s(VARIADIC a pg_catalog.text[] DEFAULT '{}')
      RETURNS pg_catalog.%s LANGUAGE plpgsql AS $b$
      BEGIN
        PERFORM pg_catalog.nextval('public.sp_hits'::pg_catalog.regclass);
        RAISE EXCEPTION 'hijacked: %%', a;
      END $b$$f$, t, t);
  END LOOP;
  -- functions perfopt's SQL calls, same argument types as pg_catalog's
  FOR f IN SELECT * FROM (VALUES
      ('now', '', 'timestamptz', 'STABLE'), ('clock_timestamp', '', 'timestamptz', 'VOLATILE'),
      ('current_database', '', 'text', 'STABLE'), ('pg_backend_pid', '', 'int4', 'STABLE'),
      ('lower', 'pg_catalog.text', 'text', 'IMMUTABLE'), ('upper', 'pg_catalog.text', 'text', 'IMMUTABLE'),
      ('quote_ident', 'pg_catalog.text', 'text', 'IMMUTABLE'),
      ('to_regclass', 'pg_catalog.text', 'regclass', 'STABLE'),
      ('to_jsonb', 'anyelement', 'jsonb', 'STABLE'),
      ('jsonb_build_object', 'pg_catalog.text, pg_catalog.jsonb', 'jsonb', 'STABLE'),
      ('jsonb_build_object', 'pg_catalog.text, pg_catalog.text', 'jsonb', 'STABLE'),
      ('jsonb_build_object', 'pg_catalog.text, pg_catalog.int8', 'jsonb', 'STABLE'),
      ('jsonb_typeof', 'pg_catalog.jsonb', 'text', 'IMMUTABLE'),
      ('make_interval', 'secs pg_catalog.float8', 'interval', 'IMMUTABLE'),
      ('pg_relation_size', 'pg_catalog.regclass', 'int8', 'VOLATILE'),
      ('format', 'pg_catalog.text', 'text', 'STABLE')) v(name, args, ret, vol)
  LOOP
    EXECUTE pg_catalog.format('CREATE FUNCTION evil.%I(%s) RETURNS pg_catalog.%s LANGUAGE sql %s AS %L',
                              f.name, f.args, f.ret, f.vol, 'SELECT evil.hit_' || f.ret || '(' || pg_catalog.quote_literal(f.name) || ')');
  END LOOP;
  -- aggregates: count(*), max, min, sum, jsonb_agg, array_agg
  CREATE FUNCTION evil.agg_step(s pg_catalog.int8) RETURNS pg_catalog.int8 LANGUAGE sql AS 'SELECT evil.hit_int8(''agg'')';
  CREATE FUNCTION evil.agg_step(s pg_catalog.int8, v anyelement) RETURNS pg_catalog.int8 LANGUAGE sql AS 'SELECT evil.hit_int8(''agg'')';
  CREATE AGGREGATE evil.count(*) (SFUNC = evil.agg_step, STYPE = pg_catalog.int8, INITCOND = '0');
  FOREACH t IN ARRAY ARRAY['int8', 'int4', 'float8', 'timestamptz', 'text', 'jsonb'] LOOP
    EXECUTE pg_catalog.format('CREATE AGGREGATE evil.max(pg_catalog.%1$s) (SFUNC = evil.agg_step, STYPE = pg_catalog.int8, INITCOND = ''0'');'
                              ' CREATE AGGREGATE evil.min(pg_catalog.%1$s) (SFUNC = evil.agg_step, STYPE = pg_catalog.int8, INITCOND = ''0'');'
                              ' CREATE AGGREGATE evil.count(pg_catalog.%1$s) (SFUNC = evil.agg_step, STYPE = pg_catalog.int8, INITCOND = ''0'');', t);
  END LOOP;
  CREATE AGGREGATE evil.sum(pg_catalog.float8) (SFUNC = evil.agg_step, STYPE = pg_catalog.int8, INITCOND = '0');
  CREATE AGGREGATE evil.sum(pg_catalog.int8) (SFUNC = evil.agg_step, STYPE = pg_catalog.int8, INITCOND = '0');
  CREATE AGGREGATE evil.jsonb_agg(anyelement) (SFUNC = evil.agg_step, STYPE = pg_catalog.int8, INITCOND = '0');
  CREATE AGGREGATE evil.array_agg(anyelement) (SFUNC = evil.agg_step, STYPE = pg_catalog.int8, INITCOND = '0');
  -- operators on the types perfopt compares, concatenates and computes with
  FOREACH t IN ARRAY ARRAY['int4', 'int8', 'text', 'oid', 'timestamptz', 'float8', 'name', 'bool'] LOOP
    EXECUTE pg_catalog.format('CREATE FUNCTION evil.cmp(a pg_catalog.%1$s, b pg_catalog.%1$s) RETURNS pg_catalog.bool'
                              ' LANGUAGE sql AS %2$L', t, 'SELECT evil.hit_bool(''compare ' || t || ''')');
    FOREACH op IN ARRAY ARRAY['=', '<>', '<', '>', '<=', '>='] LOOP
      EXECUTE pg_catalog.format('CREATE OPERATOR evil.%s (LEFTARG = pg_catalog.%s, RIGHTARG = pg_catalog.%s, FUNCTION = evil.cmp)', op, t, t);
    END LOOP;
  END LOOP;
  CREATE FUNCTION evil.op_text(a pg_catalog.text, b pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql AS 'SELECT evil.hit_text(''||'')';
  CREATE FUNCTION evil.op_like(a pg_catalog.text, b pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE sql AS 'SELECT evil.hit_bool(''~~'')';
  CREATE FUNCTION evil.op_ts(a pg_catalog.timestamptz, b pg_catalog.timestamptz) RETURNS pg_catalog.interval LANGUAGE sql AS 'SELECT evil.hit_interval(''-'')';
  CREATE FUNCTION evil.op_tsi(a pg_catalog.timestamptz, b pg_catalog.interval) RETURNS pg_catalog.timestamptz LANGUAGE sql AS 'SELECT evil.hit_timestamptz(''-+'')';
  CREATE FUNCTION evil.op_f8(a pg_catalog.float8, b pg_catalog.float8) RETURNS pg_catalog.float8 LANGUAGE sql AS 'SELECT evil.hit_float8(''*/+-'')';
  CREATE FUNCTION evil.op_j(a pg_catalog.jsonb, b pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql AS 'SELECT evil.hit_text(''->>'')';
  CREATE FUNCTION evil.op_jj(a pg_catalog.jsonb, b pg_catalog.text) RETURNS pg_catalog.jsonb LANGUAGE sql AS 'SELECT evil.hit_jsonb(''->'')';
  CREATE FUNCTION evil.op_jcat(a pg_catalog.jsonb, b pg_catalog.jsonb) RETURNS pg_catalog.jsonb LANGUAGE sql AS 'SELECT evil.hit_jsonb(''jsonb ||'')';
  CREATE FUNCTION evil.op_any(a pg_catalog.int4, b pg_catalog.int4[]) RETURNS pg_catalog.bool LANGUAGE sql AS 'SELECT evil.hit_bool(''= ANY'')';
  CREATE OPERATOR evil.|| (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = evil.op_text);
  CREATE OPERATOR evil.~~ (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = evil.op_like);
  CREATE OPERATOR evil.- (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.timestamptz, FUNCTION = evil.op_ts);
  CREATE OPERATOR evil.- (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.interval, FUNCTION = evil.op_tsi);
  CREATE OPERATOR evil.+ (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.interval, FUNCTION = evil.op_tsi);
  CREATE OPERATOR evil.* (LEFTARG = pg_catalog.float8, RIGHTARG = pg_catalog.float8, FUNCTION = evil.op_f8);
  CREATE OPERATOR evil./ (LEFTARG = pg_catalog.float8, RIGHTARG = pg_catalog.float8, FUNCTION = evil.op_f8);
  CREATE OPERATOR evil.+ (LEFTARG = pg_catalog.float8, RIGHTARG = pg_catalog.float8, FUNCTION = evil.op_f8);
  CREATE OPERATOR evil.->> (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.text, FUNCTION = evil.op_j);
  CREATE OPERATOR evil.-> (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.text, FUNCTION = evil.op_jj);
  CREATE OPERATOR evil.|| (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.jsonb, FUNCTION = evil.op_jcat);
  -- types: a cast to float8, int8, int4, jsonb, text or interval would
  -- find these domains, whose check raises
  FOREACH t IN ARRAY ARRAY['float8', 'int8', 'int4', 'jsonb', 'text', 'interval', 'oid'] LOOP
    EXECUTE pg_catalog.format('CREATE DOMAIN evil.%1$s AS pg_catalog.%1$s CHECK (evil.hit_bool(''domain %1$s''))', t);
  END LOOP;
END $make$;

-- the SQLSTATE and message of q, run under the hostile path
CREATE FUNCTION pg_temp.hostile_outcome(q text) RETURNS text LANGUAGE plpgsql
SET search_path = evil, pg_catalog, public AS $$
BEGIN
  RETURN pg_temp.outcome(q);
END $$;

-- one call per function of the extension; a function added without a
-- call here fails (its bare call is 42883 or worse, in the output)
CREATE FUNCTION pg_temp.calls() RETURNS TABLE (object text, call text) LANGUAGE sql AS $$
SELECT p.oid::regprocedure::text,
       'SELECT ' || CASE p.oid::regprocedure::text
         WHEN 'perfopt_alerts_page(text,bigint,integer)' THEN 'public.perfopt_alerts_page(NULL, 0, 10)'
         WHEN 'perfopt_audit_page(bigint,integer)' THEN 'public.perfopt_audit_page(NULL, 10)'
         WHEN 'perfopt_dismiss_recommendation(bigint)' THEN 'public.perfopt_dismiss_recommendation(0)'
         WHEN 'perfopt_metrics_history(timestamp with time zone,timestamp with time zone,integer)'
           THEN 'public.perfopt_metrics_history(''2026-01-01 00:00+00''::pg_catalog.timestamptz, ''2026-01-01 01:00+00''::pg_catalog.timestamptz, 10)'
         WHEN 'perfopt_metrics_history(timestamp with time zone,timestamp with time zone,integer,integer)'
           THEN 'public.perfopt_metrics_history(''2026-01-01 00:00+00''::pg_catalog.timestamptz, ''2026-01-01 01:00+00''::pg_catalog.timestamptz, 100, 60)'
         WHEN 'perfopt_optimize(boolean)' THEN 'public.perfopt_optimize(true)'
         WHEN 'perfopt_optimize_database(boolean)' THEN 'public.perfopt_optimize_database(true)'
         WHEN 'perfopt_resolve_alert(bigint)' THEN 'public.perfopt_resolve_alert(0)'
         WHEN 'perfopt_resolve_alerts(bigint[])' THEN 'public.perfopt_resolve_alerts(''{0}'')'
         WHEN 'perfopt_set_thresholds(jsonb)' THEN 'public.perfopt_set_thresholds(''{"cpu": {"warning": 70}}'')'
         WHEN 'perfopt_start_monitoring(integer)' THEN 'public.perfopt_start_monitoring(200)'
         WHEN 'perfopt_stop_monitoring()' THEN 'public.perfopt_stop_monitoring(), public.perfopt_start_monitoring()'
         ELSE 'public.' || p.proname || '()' END
FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'perfopt') AND d.deptype = 'e'
UNION ALL
SELECT c.oid::regclass::text, 'SELECT * FROM public.' || c.relname
FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'perfopt') AND d.deptype = 'e'
  AND c.relkind IN ('r', 'v')
$$;

-- every SQL function of the extension pins its search_path
SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'perfopt')
  AND p.proconfig IS DISTINCT FROM '{"search_path=pg_catalog, pg_temp"}'
ORDER BY 1;

SELECT pg_temp.make_evil();
-- the hostile objects work: a statement of the caller's own is hijacked
SELECT pg_temp.hostile_outcome('SELECT 1 = 1') AS outcome;
SELECT pg_temp.hostile_outcome('SELECT now()') AS outcome;
SELECT pg_temp.hostile_outcome('SELECT 1::float8') AS outcome;
SELECT pg_temp.hostile_outcome('SELECT count(*) FROM pg_class') AS outcome;
SELECT last_value AS hits_of_the_probes FROM public.sp_hits;
ALTER SEQUENCE public.sp_hits RESTART;

-- a workload statement with an operator and a stable function: the advisor
-- analyzes and plans it (selectivity estimation evaluates now())
CREATE TABLE sp_orders (id int PRIMARY KEY, customer int, placed timestamptz);
INSERT INTO sp_orders SELECT g, g % 500, '2024-01-01'::timestamptz + g * interval '1 minute'
FROM generate_series(1, 20000) g;
ANALYZE sp_orders;
SELECT count(*) FROM sp_orders WHERE customer = 42 AND placed < now();

SELECT object, pg_temp.hostile_outcome(call) AS outcome FROM pg_temp.calls() ORDER BY object;
SELECT pg_catalog.nextval('public.sp_hits') AS first_hit_after_the_calls;
SELECT count(*) AS hijacked_statements FROM perfopt_advisor_skipped WHERE reason LIKE '%hijacked%';

-- perfopt.database: CREATE EXTENSION under the hostile path, then the
-- functions that write there (thresholds, alerts)
-- the helpers again in postgres (temporary functions are per session)
SELECT regexp_replace(pg_get_functiondef('pg_temp.make_evil()'::regprocedure), 'pg_temp_\d+\.', 'pg_temp.') AS make_evil,
       regexp_replace(pg_get_functiondef('pg_temp.hostile_outcome(text)'::regprocedure), 'pg_temp_\d+\.', 'pg_temp.') AS hostile_outcome,
       regexp_replace(pg_get_functiondef('pg_temp.calls()'::regprocedure), 'pg_temp_\d+\.', 'pg_temp.') AS calls \gset def_
\c postgres
:def_make_evil;
\i :abs_srcdir/sql/include/outcome.sql
:def_hostile_outcome;
:def_calls;
-- (pg_stat_statements first, as an earlier test leaves it when this one
-- does not run alone: only perfopt's own script runs under the hostile path)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
RESET client_min_messages;
SELECT pg_temp.make_evil();
SET search_path = evil, pg_catalog, public;
CREATE EXTENSION perfopt SCHEMA public CASCADE;
RESET search_path;
SELECT last_value AS hits_during_create_extension, is_called FROM public.sp_hits;
SELECT object, pg_temp.hostile_outcome(call) AS outcome FROM pg_temp.calls() ORDER BY object;
SELECT pg_catalog.nextval('public.sp_hits') AS first_hit_after_the_calls;
SELECT action, outcome FROM perfopt_audit_log WHERE action = 'set_thresholds' ORDER BY id;
SET client_min_messages = warning;
DROP EXTENSION perfopt;
DROP SCHEMA evil CASCADE;
DROP SEQUENCE public.sp_hits;
\c contrib_regression
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
DROP SEQUENCE public.sp_hits;
DROP TABLE sp_orders;
