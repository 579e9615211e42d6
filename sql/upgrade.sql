-- perfopt 1.0 -> 1.1: ALTER EXTENSION perfopt UPDATE succeeds, keeps 1.0's
-- data and leaves the functions (signatures), views and tables (with their
-- privileges and comments) a fresh 1.1 install has; 1.1's
-- perfopt_alerts_page() in C answers as 1.0's plpgsql one did (its
-- messages without 1.0's "perfopt_alerts_page: " prefix).
\getenv abs_srcdir PG_ABS_SRCDIR
SELECT default_version FROM pg_available_extensions WHERE name = 'perfopt';
SELECT source, target, path FROM pg_extension_update_paths('perfopt') WHERE path IS NOT NULL ORDER BY 1, 2;

CREATE DATABASE perfopt_fresh;
CREATE DATABASE perfopt_upgraded;

-- one line per object of the extension: functions with their signature,
-- result, language, volatility, settings, defaults and privileges; tables
-- and views with their columns and privileges; views with their query (the
-- row types of tables and views, members from 17, follow from them)
SELECT $catalog$
WITH member AS (
  SELECT d.classid, d.objid
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'perfopt'
    AND NOT (d.classid = 'pg_type'::regclass AND EXISTS (
        SELECT FROM pg_type t JOIN pg_class r ON r.oid = t.typrelid
        WHERE r.relkind <> 'c' AND d.objid IN (t.oid, t.typarray)))
)
SELECT 'function ' || p.oid::regprocedure || ' returns ' || pg_get_function_result(p.oid)
       || ' language ' || l.lanname || ' volatility ' || p.provolatile::text
       || ' config ' || COALESCE(array_to_string(p.proconfig, ','), '-')
       || ' defaults ' || COALESCE(pg_get_expr(p.proargdefaults, 0), '-')
       || ' acl ' || COALESCE(p.proacl::text, '-')
       || ' comment ' || COALESCE(obj_description(p.oid, 'pg_proc'), '-') AS o
FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
JOIN pg_language l ON l.oid = p.prolang
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'r' THEN 'table ' WHEN 'S' THEN 'sequence ' ELSE c.relkind::text || ' ' END || c.oid::regclass
       || ' (' || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                     || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                     || COALESCE(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''),
                                     ', ' ORDER BY a.attnum)
                   FROM pg_attribute a
                   LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
       || ') acl ' || COALESCE(c.relacl::text, '-')
       || ' comment ' || COALESCE(obj_description(c.oid, 'pg_class'), '-')
       || CASE WHEN c.relkind = 'v' THEN ' as ' || pg_get_viewdef(c.oid) ELSE '' END
FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
UNION ALL
SELECT 'other ' || pg_describe_object(m.classid, m.objid, 0)
FROM member m WHERE m.classid NOT IN ('pg_proc'::regclass, 'pg_class'::regclass)
$catalog$ AS catalog \gset

-- a fresh install: 1.0's script, then the upgrade, as CREATE EXTENSION chains them
\c perfopt_fresh
SET client_min_messages = warning;
CREATE EXTENSION perfopt CASCADE;
SELECT extversion FROM pg_extension WHERE extname = 'perfopt';
SELECT md5(string_agg(o, E'\n' ORDER BY o)) AS fresh_catalog FROM (:catalog) x \gset
SELECT split_part(o, ' ', 1) AS kind, count(*) FROM (:catalog) x GROUP BY 1 ORDER BY 1;

-- 1.0 installed, then updated
\c perfopt_upgraded
SET client_min_messages = warning;
CREATE EXTENSION perfopt VERSION '1.0' CASCADE;
SELECT extversion FROM pg_extension WHERE extname = 'perfopt';
-- keep 1.0's plpgsql perfopt_alerts_page() to compare answers (its body
-- names the function, so the copy keeps the name, in pg_temp)
\set ECHO none
SELECT format('CREATE FUNCTION pg_temp.perfopt_alerts_page(state text, after bigint, lim integer) '
              'RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS %L', p.prosrc)
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.proname = 'perfopt_alerts_page' AND l.lanname = 'plpgsql' \gexec
\set ECHO all
-- 1.0 holding data of each kind (history, an alert and its transition, a
-- job, thresholds), fingerprinted before the update and compared after it
INSERT INTO perfopt_samples (sampled_at, interval_seconds, is_standby, cpu_busy_pct, memory_used_pct,
                             databases_omitted, databases)
VALUES ('2024-01-01 00:00:00+00', 1, false, 12.5, 40, 0, '[]'), ('2024-01-01 00:00:01+00', 1, false, 13.5, 41, 0, '[]');
INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,
                                 first_seen, last_seen, message)
VALUES (500001, 'cpu', 'cpu', 'host', 'high', 'open', 91, 80,
        '2024-01-01 00:00:00+00', '2024-01-01 00:05:00+00', 'cpu of host is 91.0%');
INSERT INTO perfopt_alert_transitions (alert_id, at, event, severity, value, threshold)
VALUES (500001, '2024-01-01 00:00:00+00', 'open', 'high', 91, 80);
INSERT INTO perfopt_jobs (kind, statement, target_table, state, last_sqlstate, queued_at, not_before)
VALUES ('analyze', 'ANALYZE public.t', 'public.t', 'failed', '42P01',
        '2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00');
INSERT INTO perfopt_thresholds (id, document, updated_at, updated_by)
VALUES (1, '{"cpu": {"warning": 55, "critical": 90}}', '2024-01-01 00:00:00+00', 'upgrade test');
CREATE FUNCTION pg_temp.fingerprints() RETURNS TABLE (relname text, n bigint, fingerprint text)
LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['perfopt_samples', 'perfopt_alerts_data', 'perfopt_alert_transitions',
                             'perfopt_jobs', 'perfopt_thresholds'] LOOP
        RETURN QUERY EXECUTE format('SELECT %L, count(*), md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) FROM public.%I t', r, r);
    END LOOP;
END
$$;
CREATE TEMP TABLE fingerprints_1_0 AS SELECT * FROM pg_temp.fingerprints();
ALTER EXTENSION perfopt UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'perfopt';
SELECT md5(string_agg(o, E'\n' ORDER BY o)) = :'fresh_catalog' AS same_as_fresh FROM (:catalog) x;
-- the data is still there, row for row
SELECT b.relname, b.n, a.fingerprint = b.fingerprint AS same_rows
FROM fingerprints_1_0 b JOIN pg_temp.fingerprints() a USING (relname) ORDER BY 1;
SELECT l.lanname AS alerts_page_language FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.oid = 'public.perfopt_alerts_page(text, bigint, integer)'::regprocedure;

-- the same pages from both: alerts of ids beyond any the worker gives, so
-- that nothing from shared memory joins them
INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,
                                 first_seen, last_seen, resolved_at, resolved_by, message)
SELECT 1000000 + g, CASE WHEN g % 2 = 0 THEN 'cpu' ELSE 'memory' END, 'm' || g, 'host', 'high',
       CASE WHEN g % 3 = 0 THEN 'resolved' ELSE 'open' END, g, 90,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute',
       timestamptz '2024-01-02 00:00:00+00' + g * interval '1 minute',
       CASE WHEN g % 3 = 0 THEN timestamptz '2024-01-03 00:00:00+00' END,
       CASE WHEN g % 3 = 0 THEN 'auto' END, 'alert ' || g
FROM generate_series(1, 7) g;
SELECT state, after, lim,
       pg_temp.perfopt_alerts_page(state, after, lim) = public.perfopt_alerts_page(state, after, lim) AS same,
       public.perfopt_alerts_page(state, after, lim) -> 'next_after' AS next_after,
       jsonb_array_length(public.perfopt_alerts_page(state, after, lim) -> 'items') AS items
FROM (VALUES (NULL, 1000000, 3), (NULL, 1000003, 3), (NULL, 1000006, 3), ('open', 1000000, 2),
             ('open', 1000000, 1000), ('resolved', 1000000, 2), ('resolved', 1000003, 1), (NULL, 1000007, 50))
     AS v (state, after, lim);
SELECT public.perfopt_alerts_page('resolved', 1000000, 1) AS page;

-- and the same errors: SQLSTATE and message, which 1.0 began with the
-- function's name and 1.1 does not (core's style)
\i :abs_srcdir/sql/include/outcome.sql
SELECT o AS outcome, o_1_0 = regexp_replace(o, '^(\w{5}) ', '\1 perfopt_alerts_page: ') AS same_but_the_prefix
FROM (SELECT pg_temp.outcome('SELECT public.perfopt_alerts_page' || args) AS o,
             pg_temp.outcome('SELECT pg_temp.perfopt_alerts_page' || args) AS o_1_0
      FROM (VALUES ('(''closed'', 0, 10)'), ('(NULL, -1, 10)'), ('(NULL, NULL, 10)'), ('(NULL, 0, 0)'),
                   ('(NULL, 0, 1001)'), ('(NULL, 0, NULL)')) AS v (args)) AS x;

\c contrib_regression
DROP DATABASE perfopt_fresh WITH (FORCE);
DROP DATABASE perfopt_upgraded WITH (FORCE);
