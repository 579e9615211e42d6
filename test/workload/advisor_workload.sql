-- test/workload/advisor_workload.sql — the advisor benchmark's workload:
-- each shape 30 times with different constants (psql \gexec keeps them
-- top-level so pg_stat_statements records them).  The best index of each
-- shape is listed in test/bench/advisor.sh.
\o /dev/null
SELECT format('SELECT * FROM bench_customers WHERE email = %L', 'user' || g * 13 || '@example.com') FROM generate_series(1, 30) g \gexec
SELECT format('SELECT * FROM bench_orders WHERE customer_id = %s', g * 17) FROM generate_series(1, 30) g \gexec
SELECT format('SELECT * FROM bench_customers WHERE lower(email) = %L', 'USER' || g || '@EXAMPLE.COM') FROM generate_series(1, 30) g \gexec
SELECT format('SELECT count(*) FROM bench_orders WHERE created_at BETWEEN %L AND %L', timestamptz '2025-01-02' + g * interval '1 hour', timestamptz '2025-01-02' + g * interval '1 hour' + interval '5 minutes') FROM generate_series(1, 30) g \gexec
SELECT format('SELECT * FROM bench_events WHERE kind = %L ORDER BY at DESC LIMIT 20', 'kind' || g) FROM generate_series(1, 30) g \gexec
SELECT format('SELECT o.* FROM bench_orders o JOIN bench_customers c ON c.id = o.customer_id WHERE c.email = %L', 'user' || g * 7 || '@example.com') FROM generate_series(1, 30) g \gexec
SELECT format('SELECT id FROM bench_events WHERE payload @> %L', '{"source": "s' || g || '"}') FROM generate_series(1, 30) g \gexec
SELECT format('SELECT id FROM bench_orders WHERE status = %L AND customer_id = %s', 'paid', g * 31) FROM generate_series(1, 30) g \gexec
-- shapes that need no new index
SELECT format('SELECT * FROM bench_orders WHERE id = %s', g) FROM generate_series(1, 30) g \gexec
SELECT format('SELECT count(*) FROM bench_orders WHERE status = %L', 'new') FROM generate_series(1, 30) g \gexec
SELECT format('UPDATE bench_orders SET amount = amount + 1 WHERE id = %s', g) FROM generate_series(1, 30) g \gexec
\o
