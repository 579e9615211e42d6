# 050_two_databases.pl — with the extension in two databases both read the
# same shared samples, the monitoring switch is cluster-wide, and history is
# written only in perfopt.database.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('twodb', interval => 200, history_interval => 1);
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql('db2', 'CREATE EXTENSION perfopt CASCADE');

my $both = q{SELECT perfopt_metrics()->'databases' @> '[{"datname": "postgres"}, {"datname": "db2"}]'};
ok($node->poll_query_until('postgres', $both), 'samples list both databases (read in postgres)');
ok($node->poll_query_until('postgres', 'SELECT count(*) >= 2 FROM perfopt_samples'),
	'history rows written in postgres');

# stop sampling (from db2: the switch is cluster-wide) so the sample cannot move
my $r = query_json($node, 'db2', 'SELECT perfopt_stop_monitoring()');
ok($r->{changed} && !$r->{monitoring}{enabled}, 'perfopt_stop_monitoring() from db2');
ok(!perfopt_status($node, 'postgres')->{monitoring}{enabled}, 'postgres sees monitoring stopped');
my $flat = wait_until_flat($node, 0.6, 'postgres');
ok(defined $flat, 'sampling stops for the whole cluster');

my $m_pg = $node->safe_psql('postgres', 'SELECT perfopt_metrics()');
my $m_db2 = $node->safe_psql('db2', 'SELECT perfopt_metrics()');
my $at_pg = $node->safe_psql('postgres', "SELECT perfopt_metrics()->>'sampled_at'");
my $at_db2 = $node->safe_psql('db2', "SELECT perfopt_metrics()->>'sampled_at'");
isnt($at_pg, '', 'sampled_at is set');
is($at_db2, $at_pg, 'sampled_at is the same in both databases');
is($m_db2, $m_pg, 'perfopt_metrics() is the same document in both databases');
for my $db (qw(postgres db2))
{
	is($node->safe_psql($db, $both), 't', "perfopt_metrics() in $db lists both databases");
	is(samples_taken($node, $db), $flat, "samples_taken is the same in $db");
	is(perfopt_status($node, $db)->{history}{database}, 'postgres',
		"status in $db names postgres as the history database");
}

# history only in perfopt.database
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM perfopt_samples'),
	'>=', 2, 'perfopt_samples has rows in postgres');
is($node->safe_psql('db2', 'SELECT count(*) FROM perfopt_samples'),
	'0', 'perfopt_samples is empty in db2');

# the audit row lands where the call was made
is($node->safe_psql('db2', 'SELECT action FROM perfopt_audit_log'),
	'stop_monitoring', 'audit row in db2');
is($node->safe_psql('postgres', 'SELECT count(*) FROM perfopt_audit_log'),
	'0', 'no audit row in postgres');

# resume from postgres; db2 sees the samples, still no rows in db2
query_json($node, 'postgres', 'SELECT perfopt_start_monitoring()');
ok(defined wait_for_samples($node, $flat + 3, 'db2'), 'db2 sees sampling resume');
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM perfopt_samples WHERE sampled_at > '$at_pg'"),
	'new rows in postgres after resuming');
is($node->safe_psql('db2', 'SELECT count(*) FROM perfopt_samples'),
	'0', 'still no rows in db2');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');

$node->stop;
done_testing();
