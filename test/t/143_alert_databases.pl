# 143_alert_databases.pl — per-database metrics and alerts cover the
# databases that run a workload: not template0/template1, not a database
# that does not accept connections, even while something reads in them.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('alert_dbs', interval => 200, history_interval => 1,
	conf => "perfopt.alert_sustained_samples = 1\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql('postgres', 'CREATE DATABASE closed');
# every cache hit ratio alerts: warning at 100, critical at 99.99
$node->safe_psql('postgres',
	q{SELECT perfopt_set_thresholds('{"database": {"cacheHitRatio": {"warning": 100, "critical": 99.99}}}')});

# reads in postgres, template1 and closed (closed until the reads are done)
my $reads = 'SELECT count(*) FROM pg_class a, pg_attribute b WHERE a.oid = b.attrelid';
for my $round (1 .. 10)
{
	$node->safe_psql($_, $reads) for ('postgres', 'template1', 'closed');
	select(undef, undef, undef, 0.2);
}
$node->safe_psql('postgres', 'ALTER DATABASE closed ALLOW_CONNECTIONS false');
for my $round (1 .. 5)
{
	$node->safe_psql($_, $reads) for ('postgres', 'template1');
	select(undef, undef, undef, 0.2);
}

ok( $node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM perfopt_alerts WHERE metric = 'database.cacheHitRatio' AND subject = 'postgres'"),
	'a cache hit ratio alert opens for postgres');
my $subjects = $node->safe_psql('postgres',
	"SELECT string_agg(DISTINCT subject, ',') FROM perfopt_alerts WHERE metric = 'database.cacheHitRatio'"
	  . " AND subject IN ('template0', 'template1')");
is($subjects, '', 'none for template0 or template1');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_recent_samples s, jsonb_array_elements(s.databases) d"
		  . " WHERE d->>'datname' IN ('template0', 'template1', 'closed')"
		  . " AND s.sampled_at > now() - interval '1 second'"),
	'0', 'the latest samples list neither the templates nor the closed database');
$node->stop;
done_testing();
