# 125_auto_optimization.pl — with perfopt.enable_auto_optimization on, the
# worker optimizes every database by itself every
# perfopt.auto_optimization_interval; perfopt.maintenance_window holds
# builds back until the window opens (here: until it is widened).
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('auto', interval => 500,
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.enable_auto_optimization = on\n"
	  . "perfopt.auto_optimization_interval = '10s'\n"
	  . "perfopt.min_table_size = '256kB'\n");
$node->start;
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql('postgres',
	"CREATE TABLE items AS SELECT g AS id, 'sku' || g AS sku, g % 1000 AS shelf FROM generate_series(1, 100000) g;"
	  . 'VACUUM ANALYZE items; SELECT pg_stat_statements_reset()');
run_statements($node, 'postgres', [ map { "SELECT * FROM items WHERE sku = 'sku$_'" } 1 .. 20 ]);

# nobody calls perfopt_optimize(): the worker does, and the build runs
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM perfopt_jobs WHERE kind = 'create_index' AND state = 'succeeded'"
		  . " AND statement LIKE '%(sku)%'", 't', 120),
	'the automatic optimization built the index');
is( $node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM perfopt_history WHERE kind = 'optimize' AND report->>'dry_run' = 'false'"),
	't', 'its report is in perfopt_history');
is($node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'perfopt_items_sku'::regclass"),
	't', 'the index is valid');

# a window that is closed now holds the next build back
my $closed = $node->safe_psql('postgres',
	"SELECT to_char(now() + interval '2 hours', 'HH24:MI') || '-' || to_char(now() + interval '3 hours', 'HH24:MI')");
$node->safe_psql('postgres',
	"ALTER SYSTEM SET perfopt.maintenance_window = '$closed'; SELECT pg_reload_conf()");
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
run_statements($node, 'postgres', [ map { "SELECT * FROM items WHERE shelf = $_ AND id > 99990" } 1 .. 20 ]);
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) > 0 FROM perfopt_jobs WHERE kind = 'create_index' AND state = 'queued'", 't', 120),
	"a new build is queued while the window ($closed) is closed");
sleep 3;
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_jobs WHERE kind = 'create_index' AND state <> 'succeeded' AND state <> 'queued'"),
	'0', 'and it does not start');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_jobs WHERE kind = 'create_index' AND state = 'queued'") > 0,
	1, 'it is still queued');

# any time again: the build runs
$node->safe_psql('postgres',
	"ALTER SYSTEM SET perfopt.enable_auto_optimization = off; ALTER SYSTEM RESET perfopt.maintenance_window; SELECT pg_reload_conf()");
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 0 FROM perfopt_jobs WHERE state IN ('queued', 'running')", 't', 60),
	'once the window opens the queued build runs');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_jobs WHERE kind = 'create_index' AND state <> 'succeeded'"),
	'0', 'every build succeeded');

my @problems = perfopt_problem_lines($node, $log_offset);
is_deeply(\@problems, [], 'no perfopt errors or crashes in the log');
$node->stop;
done_testing();
