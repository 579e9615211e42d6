-- Alerts: paging arguments, where alerts can be resolved, privileges.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- paging: defaults, and bad arguments (22023)
SELECT perfopt_alerts_page() ? 'items' AS has_items, perfopt_alerts_page('open', 0, 1) ? 'next_after' AS has_next;
SELECT pg_temp.outcome('SELECT perfopt_alerts_page(''closed'', 0, 10)');
SELECT pg_temp.outcome('SELECT perfopt_alerts_page(NULL, -1, 10)');
SELECT pg_temp.outcome('SELECT perfopt_alerts_page(NULL, NULL, 10)');
SELECT pg_temp.outcome('SELECT perfopt_alerts_page(NULL, 0, 0)');
SELECT pg_temp.outcome('SELECT perfopt_alerts_page(NULL, 0, 1001)');
SELECT pg_temp.outcome('SELECT perfopt_alerts_page(NULL, 0, NULL)');

-- alerts are resolved in perfopt.database only; bad input first
SELECT pg_temp.outcome('SELECT perfopt_resolve_alert(1)');
SELECT pg_temp.outcome('SELECT perfopt_resolve_alerts(ARRAY[1, 2])');
\c postgres
SET client_min_messages = warning;
CREATE EXTENSION perfopt CASCADE;
RESET client_min_messages;
\i :abs_srcdir/sql/include/outcome.sql
SELECT pg_temp.outcome('SELECT perfopt_resolve_alert(NULL)');
SELECT pg_temp.outcome('SELECT perfopt_resolve_alert(424242)');
SELECT pg_temp.outcome('SELECT perfopt_resolve_alerts(NULL)');
SELECT pg_temp.outcome('SELECT perfopt_resolve_alerts(ARRAY[1, NULL])');
SELECT pg_temp.outcome('SELECT perfopt_resolve_alerts(ARRAY[[1, 2], [3, 4]])');
SELECT pg_temp.outcome('SELECT perfopt_resolve_alerts(array_agg(g)) FROM generate_series(1, 1001) g');
SELECT perfopt_resolve_alerts(ARRAY[424242, 424243]) AS outcomes;
SELECT perfopt_resolve_alerts('{}') AS no_ids;

-- privileges: pg_monitor reads, resolving needs a grant
CREATE ROLE perfopt_alert_reader LOGIN IN ROLE pg_monitor;
SET ROLE perfopt_alert_reader;
SELECT count(*) >= 0 AS reads_alerts FROM perfopt_alerts;
SELECT count(*) >= 0 AS reads_trends FROM perfopt_trends;
SELECT perfopt_alerts_page('open', 0, 10) ? 'items' AS pages;
SELECT pg_temp.outcome('SELECT perfopt_resolve_alert(1)');
SELECT pg_temp.outcome('SELECT perfopt_resolve_alerts(ARRAY[1])');
RESET ROLE;
DROP EXTENSION perfopt;
DROP ROLE perfopt_alert_reader;
\c contrib_regression
