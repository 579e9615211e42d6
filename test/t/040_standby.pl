# 040_standby.pl — on a hot standby the worker samples into shared memory
# only and writes nothing; once promoted it writes history rows without a
# restart.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = perfopt_node('primary', interval => 200, history_interval => 1,
	allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
ok($primary->poll_query_until('postgres', 'SELECT count(*) >= 2 FROM perfopt_samples'),
	'primary writes history rows');

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
# the backup carries the primary's postgresql.conf: perfopt preloaded, short intervals
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

# --- the standby samples
ok(defined wait_for_samples($standby, 3), 'standby takes samples');
my $st = perfopt_status($standby);
ok($st->{is_standby}, 'standby status: is_standby');
ok(defined $st->{worker_pid}, 'standby status: worker running');
my $taken = $st->{samples_taken};
ok(defined wait_for_samples($standby, $taken + 3), 'standby samples_taken keeps growing');
$st = perfopt_status($standby);
ok(!defined $st->{history}{last_written_at}, 'standby status: no history written');
ok($st->{latest}{is_standby}, 'standby status: latest sample is a standby sample');
is($standby->safe_psql('postgres', "SELECT perfopt_metrics()->'is_standby'"),
	'true', "standby perfopt_metrics()->'is_standby' is true");
is( $standby->safe_psql(
		'postgres',
		'SELECT count(*) > 0, bool_and(is_standby) FROM perfopt_recent_samples'),
	't|t',
	'standby ring holds standby samples only');
is( $standby->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'perfopt worker' AND datname = 'postgres'"
	),
	'1',
	'standby runs the perfopt worker in perfopt.database');

# what the standby has in perfopt_samples came from the primary
$primary->wait_for_catchup($standby);
my ($rows, $standby_rows) = split /\|/,
  $standby->safe_psql('postgres',
	'SELECT count(*), count(*) FILTER (WHERE is_standby) FROM perfopt_samples');
cmp_ok($rows, '>=', 2, "standby sees the primary's rows ($rows)");
is($standby_rows, '0', 'no row on the standby has is_standby = true');

my $standby_log = log_since($standby);
like($standby_log, qr/perfopt worker started in database "postgres"/, 'standby log: worker started');
unlike($standby_log, qr/perfopt: sampling failed/, 'standby log: no sampling failure');
unlike($standby_log, qr/read-only transaction/, 'standby log: no read-only error');

# --- promotion: the former standby starts writing, without a restart
my $started = $standby->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $offset = -s $standby->logfile;
$primary->stop;
$standby->promote;
ok($standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'), 'standby promoted');
my $promoted_at = $standby->safe_psql('postgres', 'SELECT now()');
ok( $standby->poll_query_until(
		'postgres',
		"SELECT count(*) >= 2 FROM perfopt_samples WHERE sampled_at > '$promoted_at' AND NOT is_standby"
	),
	'promoted node writes history rows');
is($standby->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$started, 'promoted node was not restarted');
$st = perfopt_status($standby);
ok(!$st->{is_standby}, 'promoted status: not a standby');
ok(!$st->{latest}{is_standby}, 'promoted status: latest sample is a primary sample');
ok(defined $st->{history}{last_written_at}, 'promoted status: history last_written_at set');
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_samples WHERE sampled_at > '$promoted_at' AND is_standby"),
	'0', 'promoted node writes no standby rows');

is(join("\n", perfopt_problem_lines($standby)), '', 'standby log: no perfopt errors');
unlike(log_since($standby, $offset), qr/read-only transaction/, 'promoted log: no read-only error');
is( join("\n",
		perfopt_problem_lines(
			$primary, 0,
			[
				qr/FATAL:  terminating background worker "perfopt [a-z ]+" due to administrator command/,
				qr/background worker "perfopt worker" \(PID \d+\) exited with exit code 1/
			])),
	'',
	'primary log: no perfopt errors');

$standby->stop;
done_testing();
