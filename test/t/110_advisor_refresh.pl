# 110_advisor_refresh.pl — the worker refreshes recommendations by itself,
# every perfopt.advisor_interval, in every database where perfopt is
# installed (one short-lived "perfopt advisor" worker per database), and
# quietly skips databases without it.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('refresh', interval => 500,
	conf => "perfopt.advisor_interval = 2\nperfopt.min_table_size = '256kB'\n");
$node->start;
my $log_offset = -s $node->logfile;

# two databases with perfopt and a statement that needs an index, one without
for my $db ('postgres', 'db2')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db") if $db ne 'postgres';
	$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
	$node->safe_psql($db,
		"CREATE TABLE items AS SELECT g AS id, 'sku' || g AS sku FROM generate_series(1, 50000) g;"
		  . 'VACUUM ANALYZE items');
}
# (pg_stat_statements_reset() without arguments resets every database)
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
for my $db ('postgres', 'db2')
{
	run_statements($node, $db, [ map { "SELECT * FROM items WHERE sku = 'sku$_'" } 1 .. 20 ]);
}
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('plain', 'CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g');

for my $db ('postgres', 'db2')
{
	ok( $node->poll_query_until(
			$db, "SELECT count(*) > 0 FROM perfopt_recommendations WHERE ddl LIKE '%(sku)%'"),
		"recommendations appear in $db without calling perfopt_advise()");
}

# (the workers also visit "plain", where perfopt is not installed: they
# find no extension there and leave; the log check below shows they fail
# nowhere)
my @problems = perfopt_problem_lines($node, $log_offset);
is_deeply(\@problems, [], 'no perfopt errors, crashes or failed advisors in the log');
unlike(log_since($node, $log_offset), qr/exited with exit code [1-9]/, 'every advisor worker exited cleanly');

# sampling went on meanwhile
my $taken = samples_taken($node);
ok($taken > 0, "sampling continued ($taken samples)");

# interval 0 stops the refreshes: a dismissed recommendation then stays put
$node->safe_psql('postgres',
	'ALTER SYSTEM SET perfopt.advisor_interval = 0; SELECT pg_reload_conf()');
$node->safe_psql('db2', 'DELETE FROM perfopt_recommendations');
sleep 4;
is($node->safe_psql('db2', 'SELECT count(*) FROM perfopt_recommendations'),
	'0', 'no refresh with perfopt.advisor_interval = 0');

$node->stop;
done_testing();
