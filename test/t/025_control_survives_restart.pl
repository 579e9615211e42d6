# 025_control_survives_restart.pl — a committed perfopt_start_monitoring(n)
# survives a clean restart even when the worker could not write
# perfopt.state before the shutdown: while it waits on a lock, and while it
# is not running (between pg_terminate_backend and its restart 5 s later).
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('durable', interval => 200, history_interval => 1);
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
ok($node->poll_query_until('postgres', 'SELECT count(*) >= 1 FROM perfopt_samples'),
	'history rows written');

# --- the worker is busy: its history INSERT waits on a lock
my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN; LOCK TABLE perfopt_samples IN ACCESS EXCLUSIVE MODE');
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'perfopt worker' AND wait_event_type = 'Lock'"
	),
	'the worker waits on the lock');
my $r = query_json($node, 'postgres', 'SELECT perfopt_start_monitoring(300)');
ok($r->{changed}, 'perfopt_start_monitoring(300) committed');
$node->restart;
eval { $bg->quit };
my $st = perfopt_status($node);
is($st->{monitoring}{interval_ms}, 300,
	'interval 300 survives a restart that came while the worker was busy');
is($st->{monitoring}{interval_source}, 'perfopt_start_monitoring', '... set by perfopt_start_monitoring');

# --- the worker is not running
my $pid = $st->{worker_pid}
  // $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'perfopt worker'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres', "SELECT perfopt_status()->>'worker_pid' IS NULL"),
	'the worker is gone');
$r = query_json($node, 'postgres', 'SELECT perfopt_start_monitoring(400)');
ok($r->{changed}, 'perfopt_start_monitoring(400) committed');
$node->restart;
$st = perfopt_status($node);
is($st->{monitoring}{interval_ms}, 400,
	'interval 400 survives a restart that came while the worker was not running');

# both calls are in the audit log in any case
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(arguments->>'interval_ms', ',' ORDER BY id) FROM perfopt_audit_log WHERE action = 'start_monitoring'"
	),
	'300,400',
	'audit log has both calls');

$node->stop;
done_testing();
