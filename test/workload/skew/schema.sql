-- test/workload/skew/schema.sql — the skewed schema of test/bench/advisor-skew.sh
-- (:scale 1 = 20,000 parents, 1,000,000 children):
--   parent_id   Zipf (s = 1.1): parent 1 owns about a tenth of the children
--   status      'done' 90%, 'pending' 5%, 'failed' 4%, 'review' 1% (the queue reads review)
--   kind        0..9, kind 9 is rare (0.1%): the one the application asks for
--   created_at  append-only: grows with id (physical correlation 1)
DROP TABLE IF EXISTS skew_children, skew_parents;
CREATE TABLE skew_parents (id int PRIMARY KEY, region int NOT NULL, name text NOT NULL);
CREATE TABLE skew_children (
	id bigint PRIMARY KEY,
	parent_id int NOT NULL,
	status text NOT NULL,
	kind int NOT NULL,
	created_at timestamptz NOT NULL,
	amount numeric(12, 2) NOT NULL,
	note text NOT NULL
);
SELECT setseed(0.42);
INSERT INTO skew_parents
SELECT i, i % 50, 'parent ' || i FROM generate_series(1, 20000 * :scale) i;
-- Zipf by inverse transform over the harmonic weights 1/k^1.1
CREATE TEMP TABLE zipf AS
SELECT k, (sum(w) OVER (ORDER BY k) / sum(w) OVER ())::float8 AS cum
FROM (SELECT k, 1.0 / power(k::float8, 1.1) AS w FROM generate_series(1, 20000 * :scale) k) x;
CREATE INDEX ON zipf (cum);
ANALYZE zipf;
INSERT INTO skew_children
SELECT i,
	(SELECT k FROM zipf WHERE cum >= r.u ORDER BY cum LIMIT 1),
	CASE WHEN r.s < 0.90 THEN 'done' WHEN r.s < 0.95 THEN 'pending' WHEN r.s < 0.99 THEN 'failed' ELSE 'review' END,
	CASE WHEN r.k < 0.001 THEN 9 ELSE (r.k * 9)::int % 9 END,
	timestamptz '2026-01-01' + i * interval '3 seconds',
	round((r.s * 1000)::numeric, 2),
	repeat('x', 40)
FROM generate_series(1, 1000000 * :scale) i,
	LATERAL (SELECT random() AS u, random() AS s, random() AS k, i AS dep) r;
VACUUM ANALYZE skew_parents, skew_children;
