/* perfopt_sqlcheck--1.0.sql — the test-only checker's SQL surface */

\echo Use "CREATE EXTENSION perfopt_sqlcheck" to load this file. \quit

-- Every name in sql (one statement or many) that search_path could
-- redirect, one row per name: "line N: <what> in <statement>".
CREATE FUNCTION @extschema@.perfopt_sqlcheck_unqualified(sql pg_catalog.text)
RETURNS SETOF pg_catalog.text
AS 'MODULE_PATHNAME', 'perfopt_sqlcheck_unqualified'
LANGUAGE C STRICT STABLE
SET search_path = pg_catalog, pg_temp;
