-- perfopt_sqlcheck (test/sqlcheck), the checker of perfopt's own SQL: each
-- construct that leaves a name to search_path is reported, its qualified
-- spelling passes, and the hook reports statements marked /* perfopt */.
CREATE EXTENSION perfopt_sqlcheck;

-- preloaded, so that it also sees the workers' statements
SELECT 'perfopt_sqlcheck' = ANY (string_to_array(current_setting('shared_preload_libraries'), ',')) AS preloaded;

-- what the checker says of one statement ("passes": nothing)
CREATE FUNCTION pg_temp.verdict(sql text) RETURNS text LANGUAGE sql AS $$
  SELECT COALESCE(string_agg(regexp_replace(f, '^line 1: ', ''), '; '), 'passes')
  FROM perfopt_sqlcheck_unqualified(sql) f
$$;

-- each construct: unqualified, and spelt so that it passes
SELECT c AS construct, pg_temp.verdict(bad) AS unqualified, pg_temp.verdict(good) AS qualified
FROM (VALUES
  ('function', $$SELECT count(*) FROM s.t$$, $$SELECT pg_catalog.count(*) FROM s.t$$),
  ('aggregate ORDER BY', $$SELECT s.f(x ORDER BY y) FROM s.t$$, $$SELECT s.f(x ORDER BY y) FROM s.t$$),
  ('operator', $$SELECT x = 1 FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.=) 1 FROM s.t$$),
  ('prefix operator', $$SELECT -x FROM s.t$$, $$SELECT OPERATOR(pg_catalog.-) x FROM s.t$$),
  ('op ANY (array)', $$SELECT x = ANY (ARRAY[1, 2]) FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.=) ANY (ARRAY[1, 2]) FROM s.t$$),
  ('op ALL (array)', $$SELECT x <> ALL (ARRAY[1, 2]) FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.<>) ALL (ARRAY[1, 2]) FROM s.t$$),
  ('IN (list)', $$SELECT x IN (1, 2) FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.=) ANY (ARRAY[1, 2]) FROM s.t$$),
  ('NOT IN (list)', $$SELECT x NOT IN (1, 2) FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.<>) ALL (ARRAY[1, 2]) FROM s.t$$),
  ('IS DISTINCT FROM', $$SELECT x IS DISTINCT FROM y FROM s.t$$,
   $$SELECT CASE WHEN x IS NULL OR y IS NULL THEN NOT (x IS NULL AND y IS NULL) ELSE x OPERATOR(pg_catalog.<>) y END FROM s.t$$),
  ('IS NOT DISTINCT FROM', $$SELECT x IS NOT DISTINCT FROM y FROM s.t$$,
   $$SELECT CASE WHEN x IS NULL OR y IS NULL THEN x IS NULL AND y IS NULL ELSE x OPERATOR(pg_catalog.=) y END FROM s.t$$),
  ('NULLIF', $$SELECT NULLIF(x, 0) FROM s.t$$, $$SELECT CASE WHEN x OPERATOR(pg_catalog.=) 0 THEN NULL ELSE x END FROM s.t$$),
  ('LIKE', $$SELECT x LIKE 'a%' FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.~~) 'a%' FROM s.t$$),
  ('NOT LIKE', $$SELECT x NOT LIKE 'a%' FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.!~~) 'a%' FROM s.t$$),
  ('ILIKE', $$SELECT x ILIKE 'a%' FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.~~*) 'a%' FROM s.t$$),
  ('SIMILAR TO', $$SELECT x SIMILAR TO 'a%' FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.~) pg_catalog.similar_to_escape('a%') FROM s.t$$),
  ('BETWEEN', $$SELECT x BETWEEN 1 AND 2 FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.>=) 1 AND x OPERATOR(pg_catalog.<=) 2 FROM s.t$$),
  ('NOT BETWEEN', $$SELECT x NOT BETWEEN 1 AND 2 FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.<) 1 OR x OPERATOR(pg_catalog.>) 2 FROM s.t$$),
  ('BETWEEN SYMMETRIC', $$SELECT x BETWEEN SYMMETRIC 2 AND 1 FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.>=) 1 AND x OPERATOR(pg_catalog.<=) 2 FROM s.t$$),
  ('IN (subquery)', $$SELECT x IN (SELECT y FROM s.u) FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.=) ANY (SELECT y FROM s.u) FROM s.t$$),
  ('NOT IN (subquery)', $$SELECT x NOT IN (SELECT y FROM s.u) FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.<>) ALL (SELECT y FROM s.u) FROM s.t$$),
  ('op ANY (subquery)', $$SELECT x = ANY (SELECT y FROM s.u) FROM s.t$$, $$SELECT x OPERATOR(pg_catalog.=) ANY (SELECT y FROM s.u) FROM s.t$$),
  ('simple CASE', $$SELECT CASE x WHEN 1 THEN 'one' END FROM s.t$$, $$SELECT CASE WHEN x OPERATOR(pg_catalog.=) 1 THEN 'one' END FROM s.t$$),
  ('JOIN USING', $$SELECT 1 FROM s.t JOIN s.u USING (id)$$, $$SELECT 1 FROM s.t JOIN s.u ON t.id OPERATOR(pg_catalog.=) u.id$$),
  ('NATURAL JOIN', $$SELECT 1 FROM s.t NATURAL JOIN s.u$$, $$SELECT 1 FROM s.t JOIN s.u ON t.id OPERATOR(pg_catalog.=) u.id$$),
  ('ORDER BY USING', $$SELECT x FROM s.t ORDER BY x USING <$$, $$SELECT x FROM s.t ORDER BY x USING OPERATOR(pg_catalog.<)$$),
  ('cast', $$SELECT x::text, CAST(x AS jsonb) FROM s.t$$, $$SELECT x::pg_catalog.text, CAST(x AS pg_catalog.jsonb) FROM s.t$$),
  ('typed literal', $$SELECT timestamptz '2024-01-01', '{}'::int8[]$$, $$SELECT pg_catalog.timestamptz '2024-01-01', '{}'::pg_catalog.int8[]$$),
  ('keyword types (the grammar qualifies them)', $$SELECT x::bigint, x::integer, x::double precision, x::boolean, interval '1 day' FROM s.t$$,
   $$SELECT x::pg_catalog.int8, x::pg_catalog.int4, x::pg_catalog.float8, x::pg_catalog.bool, '1 day'::pg_catalog.interval FROM s.t$$),
  ('relation', $$SELECT 1 FROM pg_class$$, $$SELECT 1 FROM pg_catalog.pg_class$$),
  ('CTE', $$WITH c AS (SELECT 1) SELECT * FROM c, d$$, $$WITH c AS (SELECT 1) SELECT * FROM c$$),
  ('CTE before it is defined', $$WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a$$,
   $$WITH b AS (SELECT 1), a AS (SELECT * FROM b) SELECT * FROM a$$),
  ('recursive CTE', $$WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r$$,
   $$WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n OPERATOR(pg_catalog.+) 1 FROM r) SELECT * FROM r$$),
  ('FOR UPDATE OF an alias', $$SELECT 1 FROM t x FOR UPDATE OF x$$, $$SELECT 1 FROM s.t x FOR UPDATE OF x$$),
  ('collation', $$SELECT x COLLATE "C" FROM s.t$$, $$SELECT x COLLATE pg_catalog."C" FROM s.t$$),
  ('regclass literal', $$SELECT 'pg_class'::pg_catalog.regclass$$, $$SELECT 'pg_catalog.pg_class'::pg_catalog.regclass$$),
  ('TABLESAMPLE', $$SELECT 1 FROM s.t TABLESAMPLE bernoulli (1)$$, $$SELECT 1 FROM s.t TABLESAMPLE pg_catalog.bernoulli (1)$$),
  ('INSERT', $$INSERT INTO t (x) VALUES ($1::jsonb) ON CONFLICT (x) DO UPDATE SET x = excluded.x$$,
   $$INSERT INTO s.t (x) VALUES ($1::pg_catalog.jsonb) ON CONFLICT (x) DO UPDATE SET x = excluded.x$$),
  ('UPDATE', $$UPDATE t SET x = x + 1 FROM u WHERE t.id = u.id$$,
   $$UPDATE s.t SET x = x OPERATOR(pg_catalog.+) 1 FROM s.u WHERE t.id OPERATOR(pg_catalog.=) u.id$$),
  ('DELETE', $$DELETE FROM t USING u RETURNING now()$$, $$DELETE FROM s.t USING s.u RETURNING pg_catalog.now()$$),
  ('CREATE TABLE', $$CREATE TABLE s.t (a text DEFAULT lower('A') CHECK (a IN ('a')), b int REFERENCES u)$$,
   $$CREATE TABLE s.t (a pg_catalog.text DEFAULT pg_catalog.lower('A') CHECK (a OPERATOR(pg_catalog.=) 'a'), b int REFERENCES s.u)$$),
  ('CREATE INDEX', $$CREATE INDEX i ON s.t (lower(a) text_pattern_ops) WHERE a = 'x'$$,
   $$CREATE INDEX i ON s.t (pg_catalog.lower(a) pg_catalog.text_pattern_ops) WHERE a OPERATOR(pg_catalog.=) 'x'$$),
  ('SQL function', $$CREATE FUNCTION s.f(a text) RETURNS int LANGUAGE sql AS 'SELECT length(a)'$$,
   $$CREATE FUNCTION s.f(a pg_catalog.text) RETURNS int LANGUAGE sql AS 'SELECT pg_catalog.length(a)'$$),
  ('SQL function, BEGIN ATOMIC', $$CREATE FUNCTION s.f(a int) RETURNS int BEGIN ATOMIC SELECT a + 1; END$$,
   $$CREATE FUNCTION s.f(a int) RETURNS int BEGIN ATOMIC SELECT a OPERATOR(pg_catalog.+) 1; END$$),
  ('plpgsql function', $$CREATE FUNCTION s.f() RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN 1; END'$$,
   $$CREATE FUNCTION s.f() RETURNS int LANGUAGE c AS 'perfopt', 'f'$$),
  ('DO', $$DO 'BEGIN NULL; END'$$, $$SELECT 1$$),
  ('GRANT, COMMENT, DROP', $$GRANT SELECT ON t TO PUBLIC; COMMENT ON VIEW v IS ''; DROP FUNCTION f(text)$$,
   $$GRANT SELECT ON s.t TO PUBLIC; COMMENT ON VIEW s.v IS ''; DROP FUNCTION s.f(pg_catalog.text)$$),
  ('maintenance', $$VACUUM (ANALYZE) t; ANALYZE s.t; DROP INDEX CONCURRENTLY i; REINDEX INDEX CONCURRENTLY i$$,
   $$VACUUM (ANALYZE) s.t; ANALYZE s.t; DROP INDEX CONCURRENTLY s.i; REINDEX INDEX CONCURRENTLY s.i$$),
  ('statement it does not know', $$COPY s.t FROM STDIN$$, $$SET LOCAL lock_timeout = 1000$$)
) AS cases (c, bad, good);

-- several statements: the line and the statement of each finding
SELECT * FROM perfopt_sqlcheck_unqualified(E'SELECT 1;\n/* two lines */\nSELECT x\n  FROM t;\nCREATE VIEW s.v AS SELECT 1 = 1');

-- the marker is a comment, not text inside a literal or an identifier
SELECT pg_temp.verdict($$SELECT x FROM s.t WHERE q OPERATOR(pg_catalog.~~) '%/* perfopt */%'$$) AS marker_in_literal;

-- the hook: a statement whose own text carries the marker is checked as it
-- is analyzed.  The WARNINGs show here; this session keeps them out of the
-- server log, where test/run.sh would count them as perfopt's.
SET log_min_messages = error;
/* perfopt */ SELECT 1 = 1 AS unqualified;
/* perfopt */ SELECT 1 OPERATOR(pg_catalog.=) 1 AS qualified;
SELECT 1 = 1 AS unmarked;
SELECT '/* perfopt */' = 'x' AS marker_in_a_literal;
-- one string, three statements: only the marked one is checked
SELECT 1 = 1 AS first \; /* perfopt */ SELECT count(*) > 0 AS second FROM pg_catalog.pg_class \; SELECT 3 = 3 AS third;
-- SQL that a function runs (SPI), as perfopt's does
DO $$ BEGIN PERFORM 1 FROM pg_catalog.pg_class WHERE relname = 'x'; EXECUTE '/* perfopt */ SELECT 1::text'; END $$;
RESET log_min_messages;

-- the statements perfopt-httpd resets a pooled session with: nothing to report
SELECT count(*) AS reports FROM perfopt_sqlcheck_unqualified(
  'CLOSE ALL; DEALLOCATE ALL; RESET ALL; DISCARD TEMP; DISCARD SEQUENCES; UNLISTEN *; SELECT pg_catalog.pg_advisory_unlock_all()');
