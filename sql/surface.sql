-- The monitoring SQL surface: objects, document shapes, live samples.
CREATE EXTENSION perfopt CASCADE;

-- every object the extension owns, with its kind (from 17 the row types
-- of its tables and views and their array types are members too: they
-- follow from the relations and are left out)
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'perfopt')
  AND deptype = 'e'
  AND NOT (classid = 'pg_type'::regclass AND EXISTS (
      SELECT FROM pg_type t JOIN pg_class r ON r.oid = t.typrelid
      WHERE r.relkind <> 'c' AND objid IN (t.oid, t.typarray)))
ORDER BY 1;

-- every function and view of the extension has a comment (none listed)
SELECT pg_describe_object(d.classid, d.objid, 0) AS without_comment
FROM pg_depend d
LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'perfopt')
  AND d.deptype = 'e'
  AND (d.classid = 'pg_proc'::regclass OR c.relkind = 'v')
  AND NOT EXISTS (SELECT FROM pg_description x
                  WHERE x.classoid = d.classid AND x.objoid = d.objid AND x.objsubid = 0)
ORDER BY 1;

-- waits (at most 20 s) until the worker has taken n more samples
CREATE FUNCTION wait_for_samples(n int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  start bigint := (perfopt_status()->>'samples_taken')::bigint;
BEGIN
  FOR i IN 1..400 LOOP
    IF (perfopt_status()->>'samples_taken')::bigint >= start + n THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
SELECT wait_for_samples(3);

SELECT s->>'version' AS version,
       s->'monitoring' AS monitoring,
       (s->>'worker_pid')::int > 0 AS worker_running,
       (s->>'samples_taken')::int >= 3 AS sampled,
       s->>'is_standby' AS is_standby,
       (s->>'last_sample_at')::timestamptz > now() - interval '1 minute' AS recent,
       s->'history'->>'database' AS history_database,
       jsonb_typeof(s->'latest') AS latest
FROM perfopt_status() AS s;

-- the metrics document: every key present, numbers where sources exist
SELECT jsonb_object_keys(perfopt_metrics()) AS key ORDER BY 1;
SELECT key, jsonb_typeof(value) AS type
FROM jsonb_each(perfopt_metrics()->'system') ORDER BY key;
SELECT key, jsonb_typeof(value) AS type
FROM jsonb_each(perfopt_metrics()->'server') ORDER BY key;

-- machine values are in range
SELECT (m->'system'->>'cpu_busy_pct')::float8 BETWEEN 0 AND 100 AS cpu_ok,
       (m->'system'->>'memory_used_pct')::float8 BETWEEN 0 AND 100 AS memory_ok,
       (m->'system'->>'data_disk_used_pct')::float8 BETWEEN 0 AND 100 AS disk_ok,
       (m->'system'->>'data_disk_free_bytes')::float8 > 0 AS disk_free_ok,
       (m->'system'->>'cpu_count')::int >= 1 AS cpus_ok,
       (m->'interval_seconds')::float8 BETWEEN 0.1 AND 5 AS interval_ok
FROM perfopt_metrics() AS m;

-- the server sees this session and this database
SELECT wait_for_samples(2);
SELECT (m->'server'->>'connections_total')::int >= 1 AS sees_connections,
       (m->'server'->>'connections_available')::int =
         current_setting('max_connections')::int
         - current_setting('superuser_reserved_connections')::int AS pool_size_ok,
       (m->'server'->>'pool_utilization_pct')::float8 > 0 AS pool_used,
       EXISTS (SELECT 1 FROM jsonb_array_elements(m->'databases') d
               WHERE d->>'datname' = current_database()) AS sees_this_database
FROM perfopt_metrics() AS m;

-- per-database keys
SELECT jsonb_object_keys(d) AS key
FROM jsonb_array_elements(perfopt_metrics()->'databases') AS d
WHERE d->>'datname' = current_database() ORDER BY 1;

-- commits are deltas over each interval, never since-start totals: the
-- rates times the intervals add up to the commits made since t0
SELECT clock_timestamp() AS t0 \gset
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    PERFORM pg_sleep(0.01);
    COMMIT;
  END LOOP;
END $$;
-- statistics reach shared memory when the session goes idle
SELECT pg_stat_force_next_flush();
SELECT wait_for_samples(3);
SELECT round(sum((d->>'commits_per_second')::float8 * r.interval_seconds)) BETWEEN 100 AND 130
         AS commits_add_up,
       max((d->>'commits_per_second')::float8) > 0 AS rate_seen
FROM perfopt_recent_samples r, jsonb_array_elements(r.databases) AS d
WHERE r.sampled_at > :'t0' AND d->>'datname' = current_database();

-- perfopt_database_metrics is the server part only
SELECT jsonb_object_keys(perfopt_database_metrics()) AS key ORDER BY 1;

-- the ring view has perfopt_samples' columns, oldest first
SELECT count(*) >= 3 AS has_rows,
       bool_and(cpu_count >= 1) AS cpus,
       bool_and(jsonb_typeof(databases) = 'array') AS databases_array
FROM perfopt_recent_samples;
SELECT bool_and(a.sampled_at < b.sampled_at) AS ordered
FROM (SELECT sampled_at, row_number() OVER (ORDER BY sampled_at) r FROM perfopt_recent_samples) a
JOIN (SELECT sampled_at, row_number() OVER (ORDER BY sampled_at) - 1 r FROM perfopt_recent_samples) b
  USING (r);

-- Prometheus: the three headline gauges and the per-database label
SELECT name, position(name IN perfopt_metrics_prometheus()) > 0 AS present
FROM unnest(ARRAY['perfopt_system_cpu_usage_ratio',
                  'perfopt_system_memory_utilization_ratio',
                  'perfopt_database_pool_utilization_ratio',
                  'perfopt_samples_total',
                  'perfopt_database_commits_per_second{datname="contrib_regression"}']) AS name;
-- every line is a comment or "name{labels} value"
SELECT count(*) AS malformed_lines
FROM regexp_split_to_table(rtrim(perfopt_metrics_prometheus(), E'\n'), E'\n') AS line
WHERE line !~ '^# (HELP|TYPE) perfopt_[a-z0-9_]+ '
  AND line !~ '^perfopt_[a-z0-9_]+(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? -?[0-9.e+-]+$';
