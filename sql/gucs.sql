-- Configuration: every GUC with its default, unit, range and context; bad
-- values are rejected by the GUC machinery.
SELECT name, setting, unit, vartype, context, min_val, max_val, boot_val
FROM pg_settings WHERE name LIKE 'perfopt.%' ORDER BY name;

\set VERBOSITY terse
ALTER SYSTEM SET perfopt.monitoring_interval = 99;
ALTER SYSTEM SET perfopt.monitoring_interval = '25h';
ALTER SYSTEM SET perfopt.monitoring_interval = 'soon';
ALTER SYSTEM SET perfopt.history_retention = 0;
ALTER SYSTEM SET perfopt.max_index_builds = 17;
ALTER SYSTEM SET perfopt.enable_auto_optimization = 'maybe';
ALTER SYSTEM SET perfopt.no_such_setting = 1;
-- two switches of 1.0 changed nothing and are gone
ALTER SYSTEM SET perfopt.enable_api_optimization = on;
ALTER SYSTEM SET perfopt.enable_database_optimization = on;
ALTER SYSTEM SET perfopt.maintenance_window = '25:00-01:00';
ALTER SYSTEM SET perfopt.maintenance_window = '01:00';
ALTER SYSTEM SET perfopt.maintenance_window = '01:00-01:00';
ALTER SYSTEM SET perfopt.maintenance_window = '99999999999999:00-01:00';
-- standbys: libpq connection strings separated by ';' (not inside a
-- quoted value); a bad entry is refused without repeating the value
ALTER SYSTEM SET perfopt.advisor_standbys = 'host=a port=5432; host=b password=pw oops';
ALTER SYSTEM SET perfopt.advisor_standbys = 'port=1;port=2;port=3;port=4;port=5;port=6;port=7;port=8;port=9;port=10;port=11;port=12;port=13;port=14;port=15;port=16;port=17';
SET perfopt.advisor_standbys = 'host=a';
SET perfopt.monitoring_interval = 1000;
SET perfopt.sample_ring_size = 10;
-- a good value with a unit is accepted, then reset
ALTER SYSTEM SET perfopt.monitoring_interval = '2s';
ALTER SYSTEM RESET perfopt.monitoring_interval;
ALTER SYSTEM SET perfopt.maintenance_window = '22:30-05:00';
ALTER SYSTEM RESET perfopt.maintenance_window;
ALTER SYSTEM SET perfopt.advisor_standbys = 'host=a password=''x;y''; postgresql://b:5433/db?sslmode=verify-full';
ALTER SYSTEM RESET perfopt.advisor_standbys;
SELECT pg_read_file('postgresql.auto.conf') ~ 'perfopt' AS auto_conf_mentions_perfopt;
