# 020_worker_restart.pl — the worker comes back after pg_terminate_backend,
# and perfopt_start_monitoring(n) / perfopt_stop_monitoring() survive a
# server restart and are recorded in perfopt_audit_log.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = perfopt_node('restart', interval => 200, history_interval => 1);
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
ok($node->poll_query_until('postgres', 'SELECT count(*) >= 2 FROM perfopt_samples'),
	'history rows written');

# --- pg_terminate_backend on the worker
my $old_pid = perfopt_status($node)->{worker_pid};
ok(defined $old_pid, 'worker pid known');
# both from one snapshot: the worker may write a row between two queries
my ($rows_before, $max_before) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT string_agg(sampled_at::text, \',\' ORDER BY sampled_at), max(sampled_at) FROM perfopt_samples');
my $taken_before = samples_taken($node);

is($node->safe_psql('postgres', "SELECT pg_terminate_backend($old_pid)"), 't',
	'worker terminated');
my $new_pid;
my $back = poll_until(
	sub {
		$new_pid = $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE backend_type = 'perfopt worker'");
		return $new_pid ne '' && $new_pid != $old_pid;
	},
	30);
ok(defined $back, 'a new worker starts within 30 s (took ' . ($back // 'forever') . ' s)');
ok( $node->poll_query_until('postgres',
		"SELECT (perfopt_status()->>'worker_pid')::int = $new_pid"),
	'status shows the new worker pid');
ok(defined wait_for_samples($node, $taken_before + 3), 'sampling continues');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) >= 2 FROM perfopt_samples WHERE sampled_at > '$max_before'"),
	'the new worker writes history rows');
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(sampled_at::text, ',' ORDER BY sampled_at) FROM perfopt_samples WHERE sampled_at <= '$max_before'"
	),
	$rows_before,
	'rows written before the termination are all still there');

# --- perfopt_start_monitoring(300) survives a restart
my $r = query_json($node, 'postgres', 'SELECT perfopt_start_monitoring(300)');
ok($r->{changed}, 'start_monitoring(300) changes the state');
is($r->{monitoring}{interval_ms}, 300, 'start_monitoring answers the new interval');
is($r->{monitoring}{interval_source}, 'perfopt_start_monitoring', 'start_monitoring answers its source');

# restart right away: the committed choice must not depend on timing
$node->restart;
my $st = perfopt_status($node);
ok($st->{monitoring}{enabled}, 'after restart: monitoring enabled');
is($st->{monitoring}{interval_ms}, 300, 'after restart: interval_ms 300');
is($st->{monitoring}{interval_source}, 'perfopt_start_monitoring',
	'after restart: interval set by perfopt_start_monitoring');
ok(defined wait_for_samples($node, 4), 'after restart: sampling');
# a sample is never taken before its interval has passed, so all are >= 300 ms
# apart (at the configured 200 ms they would not be)
my $min_iv = $node->safe_psql('postgres',
	'SELECT min(interval_seconds) FROM perfopt_recent_samples');
cmp_ok($min_iv, '>=', 0.2995, "after restart: the worker samples every 300 ms ($min_iv s)");

# --- perfopt_stop_monitoring() survives a restart
$r = query_json($node, 'postgres', 'SELECT perfopt_stop_monitoring()');
ok($r->{changed}, 'stop_monitoring changes the state');
ok(!$r->{monitoring}{enabled}, 'stop_monitoring answers disabled');
$node->restart;
$st = perfopt_status($node);
ok(!$st->{monitoring}{enabled}, 'after restart: monitoring stays stopped');
ok($st->{monitoring}{enabled_by_configuration}, 'after restart: still enabled by configuration');
ok( $node->poll_query_until('postgres',
		"SELECT perfopt_status()->>'worker_pid' IS NOT NULL"),
	'after restart: the worker runs');
# it would take its first sample 300 ms after starting
usleep(1_200_000);
is(samples_taken($node), 0, 'after restart: no sample taken in 1.2 s');
is($node->safe_psql('postgres', 'SELECT count(*) FROM perfopt_recent_samples'),
	'0', 'after restart: ring empty');

# --- the audit log has both changes
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(action || CASE WHEN action = 'start_monitoring' THEN ' ' || (arguments->>'interval_ms') ELSE '' END, ',' ORDER BY id) FROM perfopt_audit_log"
	),
	'start_monitoring 300,stop_monitoring',
	'audit log rows for start_monitoring(300) and stop_monitoring()');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM perfopt_audit_log WHERE role_name = current_user AND logged_at IS NOT NULL AND outcome <> ''"
	),
	'2',
	'audit rows name the role and an outcome');

# starting again without an argument resumes at perfopt.monitoring_interval
$r = query_json($node, 'postgres', 'SELECT perfopt_start_monitoring()');
is($r->{monitoring}{interval_source}, 'perfopt.monitoring_interval', 'start_monitoring() drops the override');
ok(defined wait_for_samples($node, 3), 'sampling resumes after start_monitoring()');

# a reload that changes perfopt.monitoring_interval replaces a run-time interval
query_json($node, 'postgres', 'SELECT perfopt_start_monitoring(300)');
is(perfopt_status($node)->{monitoring}{interval_ms}, 300, 'run-time interval 300 again');
my $offset = -s $node->logfile;
$node->safe_psql('postgres',
	"ALTER SYSTEM SET perfopt.monitoring_interval = 250; SELECT pg_reload_conf()");
ok( $node->poll_query_until(
		'postgres',
		"SELECT perfopt_status()->'monitoring' @> '{\"interval_ms\": 250, \"interval_source\": \"perfopt.monitoring_interval\"}'"
	),
	'the reloaded perfopt.monitoring_interval replaces the run-time interval');
$node->wait_for_log(qr/LOG:  perfopt\.monitoring_interval changed to 250 ms/, $offset);
$node->restart;
is_deeply(
	[ @{ perfopt_status($node)->{monitoring} }{qw(interval_ms interval_source)} ],
	[ 250, 'perfopt.monitoring_interval' ],
	'after restart: still the configured interval');

is( join("\n",
		perfopt_problem_lines(
			$node, 0,
			[
				# pg_terminate_backend and the two restarts
				qr/FATAL:  terminating background worker "perfopt [a-z ]+" due to administrator command/,
				qr/background worker "perfopt worker" \(PID \d+\) exited with exit code 1/
			])),
	'',
	'no unexpected perfopt errors in the log');

$node->stop;
done_testing();
