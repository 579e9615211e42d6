-- test/workload/advisor_schema.sql — the advisor benchmark's schema, sized
-- by :scale (psql -v scale=N); deterministic data, no random().
DROP TABLE IF EXISTS bench_customers, bench_orders, bench_events, bench_wide;
CREATE TABLE bench_customers (
    id int PRIMARY KEY,
    email text NOT NULL,
    country text NOT NULL,
    created_at timestamptz NOT NULL
);
INSERT INTO bench_customers
SELECT g, 'user' || g || '@example.com', (ARRAY['fr', 'de', 'us', 'jp', 'br'])[g % 5 + 1],
       timestamptz '2025-01-01' + g * interval '3 minutes'
FROM generate_series(1, 50000 * :scale) g;

CREATE TABLE bench_orders (
    id int PRIMARY KEY,
    customer_id int NOT NULL,
    status text NOT NULL,
    amount numeric NOT NULL,
    created_at timestamptz NOT NULL
);
INSERT INTO bench_orders
SELECT g, ((g::int8 * 7919) % (50000 * :scale) + 1)::int, (ARRAY['new', 'paid', 'shipped', 'done'])[g % 4 + 1],
       g % 1000, timestamptz '2025-01-01' + g * interval '40 seconds'
FROM generate_series(1, 200000 * :scale) g;

CREATE TABLE bench_events (
    id int PRIMARY KEY,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    at timestamptz NOT NULL
);
INSERT INTO bench_events
SELECT g, 'kind' || (g % 200), jsonb_build_object('source', 's' || (g % 1000), 'level', g % 5),
       timestamptz '2025-01-01' + g * interval '10 seconds'
FROM generate_series(1, 100000 * :scale) g;

-- many distinct statement shapes: pairs of its 45 columns
CREATE TABLE bench_wide AS
SELECT g AS id, g % 1000 AS c01, g % 997 AS c02, g % 991 AS c03, g % 983 AS c04, g % 977 AS c05,
       g % 971 AS c06, g % 967 AS c07, g % 953 AS c08, g % 947 AS c09, g % 941 AS c10,
       g % 937 AS c11, g % 929 AS c12, g % 919 AS c13, g % 911 AS c14, g % 907 AS c15,
       g % 887 AS c16, g % 883 AS c17, g % 881 AS c18, g % 877 AS c19, g % 863 AS c20,
       g % 859 AS c21, g % 857 AS c22, g % 853 AS c23, g % 839 AS c24, g % 829 AS c25,
       g % 827 AS c26, g % 823 AS c27, g % 821 AS c28, g % 811 AS c29, g % 809 AS c30,
       g % 797 AS c31, g % 787 AS c32, g % 773 AS c33, g % 769 AS c34, g % 761 AS c35,
       g % 757 AS c36, g % 751 AS c37, g % 743 AS c38, g % 739 AS c39, g % 733 AS c40,
       g % 727 AS c41, g % 719 AS c42, g % 709 AS c43, g % 701 AS c44, g % 691 AS c45
FROM generate_series(1, 50000 * :scale) g;
ALTER TABLE bench_wide ADD PRIMARY KEY (id);
VACUUM ANALYZE bench_customers, bench_orders, bench_events, bench_wide;
