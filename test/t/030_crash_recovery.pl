# 030_crash_recovery.pl — committed history survives an immediate shutdown
# and a crash restart (kill -9 of the worker); the worker comes back and
# samples again, the open alert and the thresholds are still there.
# (Jobs running at a crash: 121_jobs_cancel_and_crash.pl.)
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('crash', interval => 200, history_interval => 1,
	conf => "restart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
ok($node->poll_query_until('postgres', 'SELECT count(*) >= 3 FROM perfopt_samples'),
	'history rows written');

# --- immediate shutdown
my ($count, $max) = split /\|/,
  $node->safe_psql('postgres', 'SELECT count(*), max(sampled_at) FROM perfopt_samples');
$node->stop('immediate');
$node->start;
my ($count_after, $max_present) = split /\|/,
  $node->safe_psql('postgres',
	"SELECT count(*), count(*) FILTER (WHERE sampled_at = '$max') FROM perfopt_samples");
cmp_ok($count_after, '>=', $count, "after immediate stop: $count_after rows, $count before");
is($max_present, '1', 'after immediate stop: the newest committed row is still there');
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM perfopt_samples WHERE sampled_at > '$max'"),
	'after immediate stop: the worker writes new rows');

# --- kill -9 of the worker: the postmaster reinitializes
ok(defined wait_for_samples($node, 2), 'worker samples before the crash');
# an open alert (any CPU use is over a warning of 0) lives in shared memory and its table
$node->safe_psql('postgres', q{SELECT perfopt_set_thresholds('{"cpu": {"warning": 0}}')});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM perfopt_alerts_data WHERE metric = 'cpu' AND state = 'open'"),
	'a cpu alert is open and written before the crash');
my $alert = $node->safe_psql('postgres', "SELECT id || '|' || first_seen FROM perfopt_alerts WHERE metric = 'cpu' AND state = 'open'");
my $worker = perfopt_status($node)->{worker_pid};
($count, $max) = split /\|/,
  $node->safe_psql('postgres', 'SELECT count(*), max(sampled_at) FROM perfopt_samples');
my $offset = -s $node->logfile;
is(kill('KILL', $worker), 1, "worker $worker killed");
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $offset);
like(log_since($node, $offset),
	qr/background worker "perfopt worker" \(PID $worker\) was terminated by signal 9/,
	'the postmaster saw the worker die');
ok(defined wait_until_accepting($node), 'the server accepts connections again');

ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'perfopt worker' AND pid <> $worker"
	),
	'the cluster is back with a new worker');
ok(defined wait_for_samples($node, 2), 'the new worker samples');
my $st = perfopt_status($node);
ok(defined $st->{worker_pid} && $st->{worker_pid} != $worker, 'status shows the new worker');
ok($st->{monitoring}{enabled}, 'monitoring still enabled after the crash');

($count_after, $max_present) = split /\|/,
  $node->safe_psql('postgres',
	"SELECT count(*), count(*) FILTER (WHERE sampled_at = '$max') FROM perfopt_samples");
cmp_ok($count_after, '>=', $count, "after the crash: $count_after rows, $count before");
is($max_present, '1', 'after the crash: the newest committed row is still there');
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM perfopt_samples WHERE sampled_at > '$max'"),
	'after the crash: the worker writes new rows');
is($node->safe_psql('postgres', "SELECT id || '|' || first_seen FROM perfopt_alerts WHERE metric = 'cpu' AND state = 'open'"),
	$alert, 'after the crash: the same cpu alert is still open (one, same id and first_seen)');
is($node->safe_psql('postgres', "SELECT perfopt_thresholds()->'cpu'->>'warning'"), '0',
	'after the crash: the thresholds are the ones set');

is( join("\n",
		perfopt_problem_lines(
			$node, 0,
			[qr/background worker "perfopt worker" \(PID $worker\) was terminated by signal 9/])),
	'',
	'no unexpected perfopt errors in the log');

$node->stop;
done_testing();
