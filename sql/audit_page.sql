-- perfopt_audit_page(): newest first, keyset cursors, bad arguments
-- (SQLSTATE), and nobody but a superuser or a role granted it may call it.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

BEGIN;
-- a known log (ids far above what earlier tests wrote), rolled back at the end
INSERT INTO perfopt_audit_log (id, logged_at, role_name, session_role, action, arguments, outcome)
OVERRIDING SYSTEM VALUE
SELECT 900000 + g, '2024-01-01 00:00+00'::timestamptz + g * interval '1 minute', 'r', 'r',
       'test_' || g, jsonb_build_object('n', g), 'ok'
FROM generate_series(1, 5) g;
-- newest first, two at a time, following next_before
SELECT jsonb_path_query_array(p->'items', '$[*].id') AS ids, p->'next_before' AS next_before
FROM perfopt_audit_page(NULL, 2) p;
SELECT jsonb_path_query_array(p->'items', '$[*].id') AS ids, p->'next_before' AS next_before
FROM perfopt_audit_page(900004, 2) p;
SELECT jsonb_path_query_array(p->'items', '$[*].id') AS ids, p->'next_before' AS next_before
FROM perfopt_audit_page(900002, 1) p;
-- a row as it is in the table
SELECT ((p->'items'->0) - 'logged_at' - 'backend_pid')::text AS newest FROM perfopt_audit_page(900006, 1) p;
-- the defaults: from the newest, 50
SELECT jsonb_array_length(perfopt_audit_page()->'items') BETWEEN 5 AND 50 AS defaults;
ROLLBACK;

-- bad arguments: 22023
SELECT pg_temp.outcome('SELECT perfopt_audit_page(0, 10)');
SELECT pg_temp.outcome('SELECT perfopt_audit_page(-1, 10)');
SELECT pg_temp.outcome('SELECT perfopt_audit_page(NULL, 0)');
SELECT pg_temp.outcome('SELECT perfopt_audit_page(NULL, 1001)');
SELECT pg_temp.outcome('SELECT perfopt_audit_page(NULL, NULL)');

-- pg_monitor may not call it (42501); a role granted EXECUTE may
CREATE ROLE perfopt_audit_monitor IN ROLE pg_monitor;
CREATE ROLE perfopt_audit_admin IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION perfopt_audit_page(bigint, integer) TO perfopt_audit_admin;
SET ROLE perfopt_audit_monitor;
SELECT pg_temp.outcome('SELECT perfopt_audit_page()');
SET ROLE perfopt_audit_admin;
SELECT pg_temp.outcome('SELECT perfopt_audit_page()');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION perfopt_audit_page(bigint, integer) FROM perfopt_audit_admin;
DROP ROLE perfopt_audit_monitor;
DROP ROLE perfopt_audit_admin;
