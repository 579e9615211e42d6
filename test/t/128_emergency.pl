# 128_emergency.pl — emergency actions (perfopt.enable_emergency_optimization):
# with connection utilization critical, sessions idle in transaction too
# long are terminated; with query time critical, long statements that
# block others are cancelled.  Never a superuser's session, nothing while
# the switch is off, every action audited with its evidence.  The
# critical thresholds are lowered (perfopt_set_thresholds) so that a test
# can reach them.
use strict;
use warnings;

use IPC::Run;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('emergency', interval => 300,
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.emergency_idle_in_transaction_age = '1s'\n"
	  . "perfopt.emergency_blocker_age = '1s'\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql($db, 'CREATE ROLE app LOGIN; CREATE TABLE t (id int); GRANT ALL ON t TO app');
# any three connections are "critical"; so is a p90 of 100 ms
$node->safe_psql($db,
	q{SELECT perfopt_set_thresholds('{"database": {"connectionUtilization": {"warning": 1, "critical": 2},
	                                               "queryTime": {"warning": 50, "critical": 100}}}')});

sub alive
{
	my ($pid) = @_;
	return $node->safe_psql($db, "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '1';
}

sub audit_rows
{
	my ($action) = @_;
	return @{
		query_json($node, $db,
			"SELECT coalesce(jsonb_agg(jsonb_build_object('arguments', arguments, 'outcome', outcome) ORDER BY id), '[]')"
			  . " FROM perfopt_audit_log WHERE action = '$action'")
	};
}

# ---- idle in transaction: an application session and a superuser's
my $app_idle = $node->background_psql($db, extra_params => [ '-U', 'app' ]);
$app_idle->query_safe('BEGIN; SELECT 1');
my $app_pid = $app_idle->query_safe('SELECT pg_backend_pid()');
my $su_idle = $node->background_psql($db);
$su_idle->query_safe('BEGIN; SELECT 1');
my $su_pid = $su_idle->query_safe('SELECT pg_backend_pid()');

my $taken = samples_taken($node);
ok(defined poll_until(sub { samples_taken($node) >= $taken + 8 }), 'the worker samples (2.4 s)');
ok(alive($app_pid) && alive($su_pid), 'switch off: both idle sessions are left alone');
is(scalar(audit_rows('emergency_terminate')), 0, 'switch off: nothing audited');

$node->safe_psql($db, 'ALTER SYSTEM SET perfopt.enable_emergency_optimization = on; SELECT pg_reload_conf()');
ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $app_pid"),
	'switch on: the application session idle in transaction is terminated');
my ($term) = audit_rows('emergency_terminate');
is($term->{outcome}, 'terminated', 'audited as terminated');
is($term->{arguments}{pid}, $app_pid, 'the evidence names the pid');
is($term->{arguments}{user}, 'app', 'and the user');
is($term->{arguments}{metric}, 'database.connectionUtilization', 'and the metric');
cmp_ok($term->{arguments}{value}, '>=', $term->{arguments}{critical_threshold}, 'at or above critical');
like($term->{arguments}{state}, qr/^idle in transaction/, 'state idle in transaction');
$taken = samples_taken($node);
ok(defined poll_until(sub { samples_taken($node) >= $taken + 5 }), 'more samples');
ok(alive($su_pid), 'the superuser session idle in transaction is never terminated');
$su_idle->query_safe('ROLLBACK');
eval { $app_idle->quit };

# ---- blocking statements while query time is critical
# two sessions keep the p90 of every interval above 100 ms
my $sleeps = $node->basedir . '/sleeps.sql';
open(my $fh, '>', $sleeps) or die;
print $fh "SELECT pg_sleep(0.15);\n" x 400;
close $fh;
my @sleepers = map {
	IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr($db), '-f', $sleeps ], '>', '/dev/null', '2>', '/dev/null')
} 1 .. 2;
ok( $node->poll_query_until($db,
		"SELECT (perfopt_api_metrics()->'last_interval'->'overall'->>'p90_ms')::float8 >= 100"),
	'the p90 of the last interval reaches 100 ms');

# a superuser's blocker is left alone
my $su_block = $node->background_psql($db);
$su_block->query_until(qr/locked/, "BEGIN;\nLOCK TABLE t;\n\\echo locked\nSELECT pg_sleep(600);\n");
my $su_block_pid = $node->safe_psql($db,
	"SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600);' AND usename = current_user");
my $waiter = $node->background_psql($db, extra_params => [ '-U', 'app' ]);
$waiter->query_until(qr/waiting/, "\\echo waiting\nSELECT count(*) FROM t;\n");
ok($node->poll_query_until($db, "SELECT cardinality(pg_blocking_pids(pid)) > 0 FROM pg_stat_activity WHERE usename = 'app' AND state = 'active'"),
	'a session waits for the superuser\'s lock');
$taken = samples_taken($node);
ok(defined poll_until(sub { samples_taken($node) >= $taken + 8 }), 'more samples');
ok(alive($su_block_pid) && $node->safe_psql($db, "SELECT state FROM pg_stat_activity WHERE pid = $su_block_pid") eq 'active',
	'the superuser\'s blocking statement is never cancelled');
is(scalar(audit_rows('emergency_cancel')), 0, 'nothing cancelled');
$node->safe_psql($db, "SELECT pg_cancel_backend($su_block_pid)");
eval { $su_block->quit };

# an application's blocker is cancelled; its victim then goes on
my $app_block = $node->background_psql($db, extra_params => [ '-U', 'app' ], on_error_stop => 0);
# (ROLLBACK right after the cancel: a session idle in its aborted
# transaction past perfopt.emergency_idle_in_transaction_age would be
# terminated next, on a slow machine before the check below)
$app_block->query_until(qr/locked/, "BEGIN;\nLOCK TABLE t;\n\\echo locked\nSELECT pg_sleep(600);\nROLLBACK;\n");
my $app_block_pid = $node->safe_psql($db,
	"SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600);' AND usename = 'app'");
my $waiter2 = $node->background_psql($db, extra_params => [ '-U', 'app' ]);
$waiter2->query_until(qr/waiting/, "\\echo waiting\nSELECT count(*) FROM t;\n");
ok( $node->poll_query_until($db,
		"SELECT count(*) > 0 FROM perfopt_audit_log WHERE action = 'emergency_cancel'"),
	'the application\'s blocking statement is cancelled');
my ($cancel) = audit_rows('emergency_cancel');
is($cancel->{arguments}{pid}, $app_block_pid, 'the evidence names the blocker');
is($cancel->{arguments}{metric}, 'database.queryTime', 'the metric: query time');
cmp_ok($cancel->{arguments}{blocked_sessions}, '>=', 1, 'it blocked a session');
cmp_ok($cancel->{arguments}{seconds}, '>=', 1, 'it ran longer than perfopt.emergency_blocker_age');
ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'app' AND wait_event_type = 'Lock'"),
	'the waiting session goes on');
ok(alive($app_block_pid), 'a cancel ends the statement, not the session');

$_->kill_kill for @sleepers;
eval { $app_block->quit };
eval { $waiter->quit };
eval { $waiter2->quit };
is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
unlike(slurp_file($node->logfile), qr/terminated by signal|TRAP:/, 'no crash');
$node->stop;
done_testing();
