-- perfopt's extension scripts and the installed extension leave no name to
-- search_path (perfopt_sqlcheck, test/sqlcheck).  1.0 is released and stays
-- as it is: what it leaves unqualified is bound when the object is created,
-- except a function body and view texts, which 1.1 re-creates qualified.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS perfopt_sqlcheck;
RESET client_min_messages;

-- a script as CREATE/ALTER EXTENSION runs it: @extschema@ filled in, and
-- without psql's "\echo ... \quit" guard
CREATE FUNCTION pg_temp.script(file text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(replace(pg_read_file(file), '@extschema@', 'public'),
                        '^\\echo[^\n]*$', '', 'gn')
$$;

-- 1.1's upgrade script, and the checker's own: nothing unqualified
SELECT f AS "perfopt--1.0--1.1.sql"
FROM perfopt_sqlcheck_unqualified(pg_temp.script(:'abs_srcdir' || '/perfopt--1.0--1.1.sql')) f;
SELECT f AS "perfopt_sqlcheck--1.0.sql"
FROM perfopt_sqlcheck_unqualified(pg_temp.script(:'abs_srcdir' || '/test/sqlcheck/perfopt_sqlcheck--1.0.sql')) f;

-- 1.0 is the released file, byte for byte
SELECT md5(pg_read_file(:'abs_srcdir' || '/perfopt--1.0.sql')) AS "perfopt--1.0.sql md5";

-- what 1.0 leaves unqualified, by statement: column types, CHECK
-- constraints, index predicates, argument types of CREATE FUNCTION, GRANT
-- and REVOKE are looked up once, when the object is created ...
SELECT regexp_replace(f, '^line \d+: .* in ([A-Z ]+[A-Z])( \w+)?$', '\1') AS statement, count(*) AS names
FROM perfopt_sqlcheck_unqualified(pg_temp.script(:'abs_srcdir' || '/perfopt--1.0.sql')) f
GROUP BY 1 ORDER BY 1;

-- ... but a procedural function body is resolved each time it runs, and a
-- view's text must read as what it is: 1.1 re-creates each such object
WITH script_10 AS (
  SELECT f FROM perfopt_sqlcheck_unqualified(pg_temp.script(:'abs_srcdir' || '/perfopt--1.0.sql')) f
), objects AS (
  SELECT DISTINCT substring(f FROM ' in CREATE (?:VIEW|FUNCTION) (\w+)$') AS object
  FROM script_10
  WHERE f ~ ' in CREATE VIEW ' OR f ~ ': (function body in language|in the function body)'
)
SELECT o.object,
       pg_temp.script(:'abs_srcdir' || '/perfopt--1.0--1.1.sql')
         ~ ('CREATE OR REPLACE (VIEW|FUNCTION) public\.' || o.object || '\M') AS recreated_by_1_1
FROM objects o ORDER BY 1;

-- the installed extension: no function body in a procedural language, and
-- none in SQL that names anything without its schema
WITH member AS (
  SELECT d.classid, d.objid
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'perfopt'
)
SELECT l.lanname AS language, count(*) AS functions,
       count(*) FILTER (WHERE l.lanname NOT IN ('c', 'internal', 'sql')
                        OR (l.lanname = 'sql' AND EXISTS (SELECT FROM perfopt_sqlcheck_unqualified(p.prosrc))))
         AS with_names_left_to_search_path
FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
JOIN pg_language l ON l.oid = p.prolang
GROUP BY 1 ORDER BY 1;

-- every view of the extension depends only on objects in pg_catalog or in
-- the extension's own schema: its references, and anything outside
WITH view AS (
  SELECT c.oid AS view, r.oid AS rule
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
  JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
  JOIN pg_rewrite r ON r.ev_class = c.oid
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'perfopt'
    AND c.relkind = 'v'
), reference AS (
  SELECT v.view, o.*
  FROM view v JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = v.rule
  CROSS JOIN LATERAL pg_identify_object(d.refclassid, d.refobjid, 0) o
  WHERE NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = v.view)
)
SELECT view::regclass AS view, count(DISTINCT identity) AS objects,
       string_agg(DISTINCT type || ' ' || identity, ', ') FILTER (
         WHERE schema IS DISTINCT FROM 'pg_catalog'
           AND schema IS DISTINCT FROM (SELECT n.nspname FROM pg_extension x
                                        JOIN pg_namespace n ON n.oid = x.extnamespace
                                        WHERE x.extname = 'perfopt')) AS outside
FROM reference GROUP BY view ORDER BY 1;
