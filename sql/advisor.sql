-- The index advisor on a fixed schema: each kind of candidate is produced
-- for a statement that needs it and not for one that does not.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
SET perfopt.min_table_size = '512kB';
SET perfopt.slow_query_ms = 0;
-- every candidate that clears the cost bar: which ones clear the workload
-- share depends on how long each statement ran (the floor: below)
SET perfopt.min_workload_saving = 0;
SET max_parallel_workers_per_gather = 0;
-- generic plans: a statement a 1% draw sampled would be costed over its values
SET perfopt.value_sample_rate = 0;

CREATE TABLE adv_people (
    id int PRIMARY KEY,
    email text NOT NULL,
    country text NOT NULL,
    flag boolean NOT NULL,
    note text,
    created_at timestamptz NOT NULL,
    profile jsonb NOT NULL,
    bio text NOT NULL
);
INSERT INTO adv_people
SELECT g, 'user' || g || '@example.com', (ARRAY['fr', 'de', 'us'])[g % 3 + 1], g % 2 = 0,
       CASE WHEN g % 300 = 0 THEN NULL ELSE 'note ' || g END,
       timestamptz '2026-01-01' + g * interval '1 minute',
       jsonb_build_object('plan', 'p' || (g % 50), 'tier', g % 7),
       'person number ' || g || ' likes ' || (ARRAY['chess', 'tennis', 'opera', 'rust', 'knitting'])[g % 5 + 1]
FROM generate_series(1, 30000) g;

CREATE TABLE adv_orders (
    id int PRIMARY KEY,
    person_id int NOT NULL,
    code text NOT NULL,
    amount numeric NOT NULL,
    status text NOT NULL,
    placed_at timestamptz NOT NULL
);
INSERT INTO adv_orders
SELECT g, g % 3000 + 1, 'C' || lpad(g::text, 6, '0'), g % 997, (ARRAY['new', 'paid'])[g % 2 + 1],
       timestamptz '2026-01-01' + g * interval '37 seconds'
FROM generate_series(1, 30000) g;

CREATE TABLE adv_tiny (id int, code text);
INSERT INTO adv_tiny SELECT g, 'T' || g FROM generate_series(1, 200) g;

CREATE TABLE adv_indexed (a int, b int, c text);
INSERT INTO adv_indexed SELECT g, g % 10, 'row ' || g FROM generate_series(1, 30000) g;
CREATE INDEX adv_indexed_a_b ON adv_indexed (a, b);

VACUUM ANALYZE adv_people, adv_orders, adv_tiny, adv_indexed;
-- VACUUM marks a page all-visible only when no snapshot is older than the
-- INSERTs, and the sampler's may be under load: again until every page is
-- (an index-only scan's cost, and so the covering candidates, depend on it)
\set vacuum_again 'SELECT ''VACUUM adv_people, adv_orders, adv_tiny, adv_indexed'' FROM pg_sleep(0.2) WHERE EXISTS (SELECT FROM pg_class WHERE relname IN (''adv_people'', ''adv_orders'', ''adv_tiny'', ''adv_indexed'') AND relallvisible < relpages)'
:vacuum_again \gexec
:vacuum_again \gexec
:vacuum_again \gexec
:vacuum_again \gexec
:vacuum_again \gexec
:vacuum_again \gexec
:vacuum_again \gexec
:vacuum_again \gexec
:vacuum_again \gexec
:vacuum_again \gexec
SELECT relname, relallvisible = relpages AS all_visible FROM pg_class
WHERE relname IN ('adv_people', 'adv_orders', 'adv_tiny', 'adv_indexed') ORDER BY 1;
SELECT pg_stat_statements_reset() IS NOT NULL AS reset;

-- the workload: every statement 20 times with different constants
\o /dev/null
SELECT format('SELECT * FROM adv_people WHERE email = %L', 'user' || g || '@example.com') FROM generate_series(1, 20) g \gexec
SELECT format('SELECT * FROM adv_orders WHERE code = ANY (ARRAY[%L, %L])', 'C00000' || (g % 9), 'C0001' || (g % 9)) FROM generate_series(1, 20) g \gexec
SELECT format('SELECT count(*) FROM adv_people WHERE created_at BETWEEN %L AND %L', timestamptz '2026-01-05' + g * interval '1 hour', timestamptz '2026-01-05' + g * interval '1 hour' + interval '10 minutes') FROM generate_series(1, 20) g \gexec
SELECT 'SELECT id FROM adv_people WHERE note IS NULL' FROM generate_series(1, 20) g \gexec
SELECT format('SELECT o.* FROM adv_people p JOIN adv_orders o ON o.person_id = p.id WHERE p.email = %L', 'user' || g || '@example.com') FROM generate_series(1, 20) g \gexec
SELECT 'SELECT * FROM adv_orders ORDER BY placed_at DESC LIMIT 10' FROM generate_series(1, 20) g \gexec
SELECT format('SELECT * FROM adv_people WHERE lower(email) = %L', 'USER' || g || '@example.com') FROM generate_series(1, 20) g \gexec
SELECT format('SELECT id FROM adv_people WHERE profile ->> ''plan'' = %L', 'p' || g) FROM generate_series(1, 20) g \gexec
SELECT format('SELECT id FROM adv_people WHERE to_tsvector(''english'', bio) @@ to_tsquery(''english'', %L)', 'knitting') FROM generate_series(1, 20) g \gexec
SELECT format('SELECT id FROM adv_people WHERE profile @> %L', '{"tier": ' || (g % 7) || '}') FROM generate_series(1, 20) g \gexec
SELECT format('SELECT id FROM adv_people WHERE email LIKE %L', 'user' || g || '%') FROM generate_series(1, 20) g \gexec
-- statements that need no new index
SELECT format('SELECT * FROM adv_people WHERE id = %s', g) FROM generate_series(1, 20) g \gexec
SELECT format('SELECT * FROM adv_tiny WHERE code = %L', 'T' || g) FROM generate_series(1, 20) g \gexec
SELECT format('SELECT count(*) FROM adv_people WHERE flag = %s', CASE WHEN g % 2 = 0 THEN 'true' ELSE 'false' END) FROM generate_series(1, 20) g \gexec
SELECT format('SELECT * FROM adv_indexed WHERE a = %s', g) FROM generate_series(1, 20) g \gexec
\o

-- plans before the advisor runs
EXPLAIN (COSTS OFF) SELECT * FROM adv_people WHERE email = 'user1@example.com';

SELECT s->'statements' IS NOT NULL AS ok, (s->>'analyzed')::int >= 14 AS analyzed,
       (s->>'recommendations')::int > 0 AS recommends
FROM perfopt_advise() AS s;

-- what it could not analyze, and why
SELECT query, reason FROM perfopt_advisor_skipped ORDER BY query;

-- what it recommends
SELECT kind, ddl, status FROM perfopt_recommendations ORDER BY ddl;

-- which statements each recommendation serves, with a real cost reduction
SELECT r.index_name, s->>'query' AS query,
       (s->>'cost_reduction_pct')::float8 >= 20 AS cuts_cost
FROM perfopt_recommendations r, jsonb_array_elements(r.statements) s
ORDER BY 1, 2;

-- statements no recommendation serves
SELECT query FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query ~ '^SELECT .* FROM adv_'
  AND queryid NOT IN (SELECT (s->>'queryid')::bigint FROM perfopt_recommendations r,
                      jsonb_array_elements(r.statements) s)
ORDER BY 1;

-- every recommendation carries numbers and a reason
SELECT index_name, benefit_ms > 0 AS benefit, estimated_size_bytes > 0 AS size,
       write_penalty_ms >= 0 AS penalty, reason ~ '^serves \d+ statements?' AS reason,
       length(index_name) < 64 AS name_fits
FROM perfopt_recommendations ORDER BY 1;

-- the slow statements, their plans, findings and the recommendations for them
SELECT query, cardinality(recommendation_ids) AS recommendations,
       plan->'Plan'->>'Node Type' AS top_node, findings
FROM perfopt_slow_queries ORDER BY query;

-- the hypothetical indexes never leak: the same plans after the advisor
EXPLAIN (COSTS OFF) SELECT * FROM adv_people WHERE email = 'user1@example.com';
EXPLAIN (COSTS OFF) SELECT * FROM adv_orders ORDER BY placed_at DESC LIMIT 10;

-- a second run keeps ids and statuses; a dismissed one stays dismissed
SELECT perfopt_dismiss_recommendation(min(id))->>'changed' AS dismissed FROM perfopt_recommendations;
SELECT perfopt_dismiss_recommendation(min(id))->>'changed' AS dismissed_again FROM perfopt_recommendations;
CREATE TEMP TABLE before AS SELECT id, definition, status FROM perfopt_recommendations;
SELECT (perfopt_advise()->>'recommendations')::int > 0 AS rerun;
SELECT count(*) AS same_ids_and_status
FROM before b JOIN perfopt_recommendations r USING (id, definition, status);
SELECT count(*) AS dismissed FROM perfopt_recommendations WHERE status = 'dismissed';
SELECT action, arguments ? 'id' AS has_id FROM perfopt_audit_log
WHERE action = 'dismiss_recommendation';

-- bad input
\set VERBOSITY terse
SELECT perfopt_dismiss_recommendation(-1);
SELECT perfopt_dismiss_recommendation(NULL);
\set VERBOSITY default

-- perfopt.min_workload_saving: at 30% of the workload's time only the
-- full-text index clears it (it saves about two thirds of it; the next
-- best a few percent)
SET perfopt.min_workload_saving = 30;
SELECT d AS clears_30_percent FROM jsonb_array_elements_text(perfopt_advise()->'ddl') d
WHERE d LIKE 'CREATE INDEX%' ORDER BY 1;
SET perfopt.min_workload_saving = 0;

-- Existing-index hygiene: duplicates, prefixes, unused, INVALID, and a
-- foreign key without an index.  Statistics count as old enough here.
SET perfopt.unused_index_min_age = 0;
CREATE TABLE adv_hyg (a int, b int, c int, person_id int REFERENCES adv_people (id));
INSERT INTO adv_hyg SELECT g, g % 100, g % 7, g % 30000 + 1 FROM generate_series(1, 30000) g;
CREATE INDEX adv_hyg_a ON adv_hyg (a);
CREATE INDEX adv_hyg_a_again ON adv_hyg (a);
CREATE INDEX adv_hyg_a_b ON adv_hyg (a, b);
CREATE INDEX adv_hyg_c ON adv_hyg (c);
\set VERBOSITY terse
CREATE UNIQUE INDEX CONCURRENTLY adv_hyg_b_unique ON adv_hyg (b);
\set VERBOSITY default
VACUUM ANALYZE adv_hyg;
SELECT (perfopt_advise()->>'recommendations')::int > 0 AS advised;
SELECT kind, ddl, split_part(reason, ':', 1) AS finding
FROM perfopt_recommendations
WHERE table_name = 'public.adv_hyg' ORDER BY kind, ddl;
-- an index the workload needs is never called unused
SELECT count(*) AS drops_of_needed FROM perfopt_recommendations
WHERE ddl LIKE '%adv_indexed_a_b%' OR ddl LIKE '%_pkey%';
RESET perfopt.unused_index_min_age;
