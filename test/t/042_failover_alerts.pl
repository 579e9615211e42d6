# 042_failover_alerts.pl — open alerts across a promotion and a crash: the
# primary opens an alert (cpu past a warning of 0), the standby evaluates
# the same metric in memory (it cannot write), the standby is promoted: it
# goes on with the replicated row (same id), updated in place; nothing
# collides, no write fails, no alert is duplicated or lost.  Then a crash
# while the alert changed in memory: after the restart the same row goes on.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = perfopt_node('fo_primary', interval => 200, history_interval => 1,
	allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
# a resolved alert first, so that ids the standby hands out collide with rows
$primary->safe_psql('postgres',
	q{SELECT perfopt_set_thresholds('{"memory": {"warning": 0, "critical": 100}}')});
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM perfopt_alerts_data WHERE metric = 'memory' AND state = 'open'"),
	'the primary opens a memory alert');
$primary->safe_psql('postgres',
	q{SELECT perfopt_resolve_alerts(array_agg(id)) FROM perfopt_alerts_data WHERE state = 'open';
	  SELECT perfopt_set_thresholds('{"memory": {"warning": 80, "critical": 95}, "cpu": {"warning": 0, "critical": 100}}')});
ok( $primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM perfopt_alerts_data WHERE metric = 'cpu' AND state = 'open'"),
	'the primary opens a cpu alert');
my ($cpu_id, $first_seen) = split /\|/,
  $primary->safe_psql('postgres',
	"SELECT id, first_seen FROM perfopt_alerts_data WHERE metric = 'cpu' AND state = 'open'");

$primary->backup('fo');
my $standby = PostgreSQL::Test::Cluster->new('fo_standby');
$standby->init_from_backup($primary, 'fo', has_streaming => 1);
$standby->append_conf('postgresql.conf', 'restart_after_crash = on');
$standby->start;
$primary->wait_for_catchup($standby);
# the standby evaluates the cpu alert too, in its memory only
ok(defined wait_for_samples($standby, 5), 'the standby samples');
my $log_offset = -s $standby->logfile;

$primary->stop;
$standby->promote;
ok( $standby->poll_query_until('postgres',
		"SELECT last_seen > now() - interval '2 seconds' FROM perfopt_alerts_data WHERE id = $cpu_id"),
	'after the promotion the replicated cpu alert is updated in place');
# (from the primary's cpu alert on: a cpu alert the default thresholds
# opened on a busy machine before it was resolved with the memory one)
is($standby->safe_psql('postgres',
		"SELECT count(*) || ' ' || min(id) || ' ' || min(first_seen) FROM perfopt_alerts WHERE metric = 'cpu' AND id >= $cpu_id"),
	"1 $cpu_id $first_seen", 'one cpu alert, the primary\'s id and first_seen');
is( $standby->safe_psql('postgres',
		"SELECT count(*) FROM (SELECT id FROM perfopt_alerts GROUP BY id HAVING count(*) > 1) d"),
	'0', 'no id twice in perfopt_alerts');
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_alert_transitions WHERE alert_id = $cpu_id AND event = 'open'"),
	'1', 'one "open" transition for it');
my $log = slurp_file($standby->logfile, $log_offset);
unlike($log, qr/writing alerts failed|duplicate key/, 'no alert write failed after the promotion');

# ---- a crash while the alert is open: the restart goes on with the same row
$standby->safe_psql('postgres',
	q{SELECT perfopt_set_thresholds('{"cpu": {"warning": 0, "critical": 0.0001}}')});
my $worker = perfopt_status($standby)->{worker_pid};
ok(defined $worker && $worker > 0 && kill('KILL', $worker) == 1, "worker killed");
ok( defined poll_until(
		sub {
			my $st = eval { perfopt_status($standby) };
			return $st && defined $st->{worker_pid} && $st->{worker_pid} != $worker;
		}),
	'the server restarted after the crash');
ok( $standby->poll_query_until('postgres',
		"SELECT last_seen > now() - interval '2 seconds' FROM perfopt_alerts_data WHERE id = $cpu_id"),
	'after the restart the same cpu alert is updated in place');
is($standby->safe_psql('postgres', "SELECT count(*) FROM perfopt_alerts WHERE metric = 'cpu' AND state = 'open'"),
	'1', 'still one open cpu alert');
$log = slurp_file($standby->logfile, $log_offset);
unlike($log, qr/writing alerts failed|duplicate key/, 'no alert write failed after the restart');
my @problems = grep { !/terminated by signal 9/ } perfopt_problem_lines($standby, $log_offset);
is_deeply(\@problems, [], 'no other perfopt errors in the log');
$standby->stop;
done_testing();
