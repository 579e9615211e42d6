-- The privilege matrix: every function, view and table of the extension
-- (from pg_depend, so a new object shows up here) against four callers: a
-- role with PUBLIC's rights only, a pg_monitor member, the admin role of
-- the README's recipe (pg_monitor + EXECUTE on the writers), and a
-- superuser.  x = allowed, - = denied; any change of a grant is a diff.
-- Then the denials happen for real: 42501.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE ROLE pm_public LOGIN;
CREATE ROLE pm_monitor LOGIN IN ROLE pg_monitor;
CREATE ROLE pm_admin_grants NOLOGIN IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION perfopt_optimize(boolean), perfopt_optimize_database(boolean),
  perfopt_resolve_alert(bigint), perfopt_resolve_alerts(bigint[]), perfopt_set_thresholds(jsonb),
  perfopt_start_monitoring(integer), perfopt_start_monitoring(), perfopt_stop_monitoring() TO pm_admin_grants;
CREATE ROLE pm_admin LOGIN IN ROLE pm_admin_grants;
CREATE ROLE pm_super LOGIN SUPERUSER;

CREATE FUNCTION pg_temp.mark(b boolean) RETURNS text LANGUAGE sql AS $$ SELECT CASE WHEN b THEN 'x' ELSE '-' END $$;
CREATE FUNCTION pg_temp.ext_objects() RETURNS TABLE (kind text, object text, oid oid) LANGUAGE sql AS $$
SELECT CASE WHEN d.classid = 'pg_proc'::regclass THEN 'function'
            WHEN c.relkind = 'v' THEN 'view' ELSE 'table' END,
       CASE WHEN d.classid = 'pg_proc'::regclass THEN d.objid::regprocedure::text
            ELSE d.objid::regclass::text END,
       d.objid
FROM pg_depend d LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'perfopt')
  AND (d.classid = 'pg_proc'::regclass OR c.relkind IN ('r', 'v'))
$$;

-- functions: EXECUTE
SELECT o.object,
       pg_temp.mark(has_function_privilege('pm_public', o.oid, 'EXECUTE')) AS public,
       pg_temp.mark(has_function_privilege('pm_monitor', o.oid, 'EXECUTE')) AS monitor,
       pg_temp.mark(has_function_privilege('pm_admin', o.oid, 'EXECUTE')) AS admin,
       pg_temp.mark(has_function_privilege('pm_super', o.oid, 'EXECUTE')) AS super
FROM pg_temp.ext_objects() o WHERE o.kind = 'function' ORDER BY o.object;

-- views and tables: SELECT, and any write (INSERT, UPDATE, DELETE, TRUNCATE)
SELECT o.kind, o.object,
       pg_temp.mark(has_table_privilege('pm_public', o.oid, 'SELECT')) ||
         pg_temp.mark(has_table_privilege('pm_public', o.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) AS public,
       pg_temp.mark(has_table_privilege('pm_monitor', o.oid, 'SELECT')) ||
         pg_temp.mark(has_table_privilege('pm_monitor', o.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) AS monitor,
       pg_temp.mark(has_table_privilege('pm_admin', o.oid, 'SELECT')) ||
         pg_temp.mark(has_table_privilege('pm_admin', o.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) AS admin,
       pg_temp.mark(has_table_privilege('pm_super', o.oid, 'SELECT')) ||
         pg_temp.mark(has_table_privilege('pm_super', o.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) AS super
FROM pg_temp.ext_objects() o WHERE o.kind <> 'function' ORDER BY o.kind, o.object;

-- the matrix is the real thing: calls as each role
CREATE FUNCTION pg_temp.as_roles(q text) RETURNS TABLE (caller text, outcome text) LANGUAGE plpgsql AS $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['pm_public', 'pm_monitor', 'pm_admin', 'pm_super'] LOOP
    EXECUTE format('SET LOCAL ROLE %I', r);
    caller := r;
    outcome := pg_temp.outcome(q);
    RESET ROLE;
    RETURN NEXT;
  END LOOP;
END $$;
SELECT q AS statement, a.caller, a.outcome
FROM unnest(ARRAY['SELECT perfopt_status() IS NOT NULL',
                  'SELECT count(*) FROM perfopt_alerts',
                  'SELECT perfopt_optimize(true) IS NOT NULL',
                  'SELECT perfopt_advise() IS NOT NULL',
                  'SELECT perfopt_dismiss_recommendation(0)',
                  'SELECT perfopt_reset_api_metrics()',
                  'DELETE FROM perfopt_audit_log WHERE false']) WITH ORDINALITY AS s(q, n),
     LATERAL pg_temp.as_roles(q) a
ORDER BY s.n;

DROP OWNED BY pm_admin_grants;
DROP ROLE pm_public, pm_monitor, pm_admin, pm_admin_grants, pm_super;
