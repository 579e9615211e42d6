-- perfopt_metrics_history(): the series, the step and its buckets, gaps,
-- per-database series, bad arguments (SQLSTATE), privileges.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- a known history, rolled back at the end (2024-01-01 00:00 UTC is a
-- multiple of every step below since the Unix epoch)
BEGIN;
INSERT INTO perfopt_samples (sampled_at, is_standby, cpu_busy_pct, connections_active,
                             databases_omitted, databases) VALUES
  ('2024-01-01 00:00:00+00', false, 10, 1, 0,
   '[{"datid": 5, "datname": "app", "commits_per_second": 4, "cache_hit_pct": 99}]'),
  ('2024-01-01 00:00:30+00', false, 30, 3, 0,
   '[{"datid": 5, "datname": "app", "commits_per_second": 8, "cache_hit_pct": null},
     {"datid": 6, "datname": "we\"ird", "commits_per_second": 1}]'),
  ('2024-01-01 00:01:00+00', false, 20, NULL, 0, '[]'),
  ('2024-01-01 00:05:00+00', false, 50, 5, 0, '[]'),
  -- outside [from, to): never counted
  ('2023-12-31 23:59:59.999999+00', false, 1000, 1000, 0, '[]'),
  ('2024-01-01 00:10:00+00', false, 1000, 1000, 0, '[]');
INSERT INTO perfopt_latency_history (sampled_at, seconds, statements, errors, rollbacks, p50_ms, p95_ms, p99_ms) VALUES
  ('2024-01-01 00:00:00+00', 60, 600, 6, 1, 1.5, 10, 20),
  ('2024-01-01 00:00:30+00', 30, 300, 0, 0, 2.5, 12, 30),
  ('2024-01-01 00:02:00+00', 0, 0, 0, 0, NULL, NULL, NULL),
  ('2024-01-01 00:03:00+00', 60, 0, 3, 3, NULL, NULL, NULL);

-- ten points over ten minutes: a step of 60 s; buckets without a value left out
SELECT h->'from' AS "from", h->'to' AS "to", h->'step_seconds' AS step
FROM perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 10) h;
SELECT s->>'name' AS name, s->'labels' AS labels, s->'points' AS points
FROM perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 10) h,
     jsonb_array_elements(h->'series') s
WHERE s->>'name' IN ('cpu_busy_pct', 'connections_active', 'memory_used_pct',
                     'commits_per_second', 'cache_hit_pct')
ORDER BY s->>'name', s->>'labels';

-- statement latency: percentiles, rates and the error rate per bucket
SELECT s->>'name' AS name, s->'labels' AS labels, s->'points' AS points
FROM perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 10) h,
     jsonb_array_elements(h->'series') s
WHERE s->>'name' ~ '^(latency_|statements_per|errors_per|error_rate)'
ORDER BY s->>'name';

-- the default of 300 points: the smallest step that fits (2 s over 10 minutes)
SELECT h->'step_seconds' AS step, jsonb_array_length(s->'points') AS points
FROM perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00') h,
     jsonb_array_elements(h->'series') s
WHERE s->>'name' = 'cpu_busy_pct';

-- three points: 200 s buckets
SELECT h->'step_seconds' AS step, s->'points' AS points
FROM perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 3) h,
     jsonb_array_elements(h->'series') s
WHERE s->>'name' = 'cpu_busy_pct';

-- a range not on a bucket boundary: the epoch-aligned buckets that fit
SELECT h->'step_seconds' AS step, s->'points' AS points
FROM perfopt_metrics_history('2024-01-01 00:00:20+00', '2024-01-01 00:05:10+00', 5) h,
     jsonb_array_elements(h->'series') s
WHERE s->>'name' = 'cpu_busy_pct';

-- an explicit step, and NULL for the automatic one
SELECT h->'step_seconds' AS step, s->'points' AS points
FROM perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 10, 300) h,
     jsonb_array_elements(h->'series') s
WHERE s->>'name' = 'cpu_busy_pct';
SELECT perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 10, NULL)
     = perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 10) AS null_step_is_automatic;

-- one point over a range that spans a bucket boundary: from its first second
SELECT h->'step_seconds' AS step, s->'points' AS points
FROM perfopt_metrics_history('2024-01-01 00:00:30+00', '2024-01-01 00:05:01+00', 1) h,
     jsonb_array_elements(h->'series') s
WHERE s->>'name' = 'cpu_busy_pct';

-- every metric column of perfopt_samples is a series without labels, in column order,
-- then the latency series
SELECT array_agg(s->>'name' ORDER BY o) = (
         SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'perfopt_samples'::regclass AND atttypid = 'float8'::regtype
           AND attname <> 'interval_seconds' AND NOT attisdropped)
       || ARRAY['latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms', 'statements_per_second',
                'errors_per_second', 'error_rate_pct'] AS sample_series,
       bool_and(s->'labels' = '{}') AS no_labels
FROM perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 10) h,
     jsonb_array_elements(h->'series') WITH ORDINALITY AS x(s, o)
WHERE NOT s->'labels' ? 'datname';
-- points ascend, and never more than max_points
SELECT bool_and(n <= 7) AS at_most_max_points, bool_and(ascending) AS ascending
FROM (SELECT jsonb_array_length(s->'points') AS n,
             coalesce((SELECT bool_and((p1->>0)::bigint < (p2->>0)::bigint)
                       FROM jsonb_array_elements(s->'points') WITH ORDINALITY a(p1, i)
                       JOIN jsonb_array_elements(s->'points') WITH ORDINALITY b(p2, j) ON j = i + 1), true) AS ascending
      FROM perfopt_metrics_history('2024-01-01 00:00+00', '2024-01-01 00:10+00', 7) h,
           jsonb_array_elements(h->'series') s) t;
ROLLBACK;

-- nothing sampled in the range: every metric column's series, no points
SELECT count(*) AS series, bool_and(s->'points' = '[]') AS empty
FROM perfopt_metrics_history('2000-01-01 00:00+00', '2000-01-02 00:00+00') h,
     jsonb_array_elements(h->'series') s;

-- bad arguments: 22004 for NULL, 22023 for the rest
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(NULL, now())');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(now(), NULL)');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''-infinity'', now())');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(now(), ''infinity'')');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-01'')');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-02'', ''2024-01-01'')');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-02-01 00:00:00.000001'')');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-02-01'')');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-02'', 0)');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-02'', 1001)');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-02'', NULL)');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-02'', 10, 0)');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-02'', 10, -60)');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-02'', 10, 2678401)');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-02'', 10, 60)');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01'', ''2024-01-02'', 1000, 86400)');

-- privileges: pg_monitor may call it, others may not (42501)
CREATE ROLE perfopt_history_nobody;
CREATE ROLE perfopt_history_monitor IN ROLE pg_monitor;
SET ROLE perfopt_history_nobody;
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(now() - interval ''1 hour'', now())');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(now() - interval ''1 hour'', now(), 10, 60)');
SET ROLE perfopt_history_monitor;
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(now() - interval ''1 hour'', now())');
SELECT pg_temp.outcome('SELECT perfopt_metrics_history(''2024-01-01 00:00+00'', ''2024-01-01 01:00+00'', 10, 360)');
RESET ROLE;
DROP ROLE perfopt_history_nobody;
DROP ROLE perfopt_history_monitor;
