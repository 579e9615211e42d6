# 140_alerts.pl — alerts against the thresholds: memory.warning = 0 opens an
# alert within two intervals and a LISTEN session gets its NOTIFY; a
# sustained one becomes high in place; medium escalates to critical in
# place (one alert, two transitions); restored thresholds resolve it by
# itself after the hysteresis; a value oscillating around its threshold
# keeps one alert; manual resolve (again: no change; unknown id: P0002);
# bulk resolve with an unknown id; open alerts survive a restart; trends.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy qw(copy);
use Time::HiRes qw(usleep);

my $db = 'postgres';

# The host's cpu is the test's own: a /proc/stat at a steady 50% busy that
# a child process advances every 50 ms (a machine busy with other suites
# reached 100%, past the default critical 90%, and turned the warnings this
# test expects into critical alerts); meminfo and loadavg are copies.
my $procfs = PostgreSQL::Test::Utils::tempdir('procfs');
copy($_, "$procfs/" . (split m{/}, $_)[-1]) or die "copy $_: $!" for ('/proc/loadavg', '/proc/meminfo');
chmod 0755, $procfs;
chmod 0644, "$procfs/loadavg", "$procfs/meminfo";
sub write_stat
{
	my ($busy, $idle) = @_;
	open my $fh, '>', "$procfs/stat.tmp" or die;
	print $fh "cpu  $busy 0 0 $idle 0 0 0 0 0 0\n";
	close $fh;
	chmod 0644, "$procfs/stat.tmp";
	rename "$procfs/stat.tmp", "$procfs/stat" or die;
}
write_stat(1000, 1000);
my $stat_writer = fork() // die "fork: $!";
if ($stat_writer == 0)
{
	for (my $n = 1000;; $n += 5)
	{
		write_stat($n, $n);
		usleep(50_000);
	}
}
END { kill 'KILL', $stat_writer if $stat_writer; }

# no forecast alerts here (trends.c's unit test checks the forecasts)
my $node = perfopt_node('alerts', interval => 200,
	conf => "perfopt.procfs_path = '$procfs'\n"
	  . "perfopt.advisor_interval = 0\nperfopt.alert_forecast_horizon = 0\n"
	  # hysteresis in samples only: the test counts samples
	  . "perfopt.alert_dwell = 0\n");
$node->start;
# a busy machine (host cpu over the default 70%) must not open a cpu
# alert before the test sets its own thresholds
$node->safe_psql($db, q{CREATE EXTENSION perfopt CASCADE;
  SELECT perfopt_set_thresholds('{"cpu": {"warning": 99.9, "critical": 100}}')});

sub set_thresholds
{
	my ($doc) = @_;
	$node->safe_psql($db, "SELECT perfopt_set_thresholds('$doc')");
}

sub alerts_of
{
	my ($metric, $cond) = @_;
	$cond = defined $cond ? "AND $cond" : '';
	return @{
		query_json($node, $db,
			"SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.id), '[]') FROM perfopt_alerts a"
			  . " WHERE metric = '$metric' $cond")
	};
}

sub transitions
{
	my ($id) = @_;
	return $node->safe_psql($db,
		"SELECT string_agg(event || ':' || severity, ',' ORDER BY id) FROM perfopt_alert_transitions WHERE alert_id = $id");
}

my $listener = $node->background_psql($db);
$listener->query_safe('LISTEN perfopt_alerts');

# ---- memory.warning = 0: open within two intervals, NOTIFY, then high in
# place (memory, not cpu: a busy machine would take cpu past critical)
ok(defined wait_for_samples($node, 2), 'sampling');
my $changed_at = $node->safe_psql($db,
	q{SELECT clock_timestamp() FROM (SELECT perfopt_set_thresholds('{"memory": {"warning": 0}}')) s});
ok($node->poll_query_until($db, "SELECT count(*) = 1 FROM perfopt_alerts WHERE metric = 'memory' AND state = 'open'"),
	'a memory alert opens');
my ($first) = alerts_of('memory', "state = 'open'");
# counted in the worker's samples, not in the test's time (a busy machine
# slows the test's polling, not the worker's evaluation)
my $samples_until = $node->safe_psql($db,
	"SELECT count(*) FROM perfopt_recent_samples() s WHERE s.sampled_at > '$changed_at' AND s.sampled_at <= '$first->{first_seen}'");
cmp_ok($samples_until, '<=', 2, "opened within two samples of the change ($samples_until)");
is($first->{type}, 'memory', 'type memory');
is($first->{subject}, 'host', 'subject host');
is($first->{threshold}, 0, 'threshold: the warning, 0');
like($first->{message}, qr/^memory of host is [0-9.]+%, above its warning threshold 0%/, "message: $first->{message}");
my $notified = $listener->query_safe('SELECT 1');
like($notified, qr/Asynchronous notification "perfopt_alerts" with payload "\{"id": $first->{id}, "event": "open", "metric": "memory", "severity": "(medium|high)", "state": "open"/,
	'LISTEN perfopt_alerts receives the opening');
ok($node->poll_query_until($db, "SELECT severity = 'high' FROM perfopt_alerts WHERE id = $first->{id}"),
	'sustained past warning: high');
is(scalar(alerts_of('memory')), 1, 'in place: still one memory alert');
like(transitions($first->{id}), qr/^open:medium,escalate:high$/, 'transitions: open medium, escalate high');

# ---- a resolve in a rolled-back savepoint changes nothing: not the row, not
# the worker's memory (which forgot the alert and opened a second one
# beside the open row: every alert write then failed on the unique index)
$node->safe_psql($db,
	"BEGIN; SAVEPOINT s; SELECT perfopt_resolve_alert($first->{id}); ROLLBACK TO SAVEPOINT s; COMMIT;");
my $sp_at = $node->safe_psql($db, 'SELECT clock_timestamp()');
ok( $node->poll_query_until($db,
		"SELECT count(*) >= 3 FROM perfopt_recent_samples() s WHERE s.sampled_at > '$sp_at'"),
	'three samples after a resolve rolled back with its savepoint');
ok( $node->poll_query_until($db,
		"SELECT last_seen > '$sp_at' FROM perfopt_alerts_data WHERE id = $first->{id}"),
	'  the alert is written on');
is(join(',', map { "$_->{id}:$_->{state}" } alerts_of('memory')), "$first->{id}:open",
	'  and is still the one memory alert, open');
unlike(slurp_file($node->logfile), qr/writing alerts failed/, '  no alert write failed');

# ---- manual resolve, after the thresholds are back
set_thresholds('{"memory": {"warning": 80}}');
my $r = query_json($node, $db, "SELECT perfopt_resolve_alert($first->{id})");
ok($r->{changed}, 'perfopt_resolve_alert: resolved');
($first) = alerts_of('memory', "id = $first->{id}");
is("$first->{state} $first->{resolved_by}", 'resolved ' . $node->safe_psql($db, 'SELECT current_user'),
	'resolved by the caller');
$r = query_json($node, $db, "SELECT perfopt_resolve_alert($first->{id})");
ok(!$r->{changed}, 'resolving again changes nothing');
like($r->{message}, qr/already resolved/, 'and says so');
my ($rc, $out, $err) = $node->psql($db, 'SELECT perfopt_resolve_alert(987654)',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  P0002: alert 987654 does not exist/, 'unknown id: P0002');
like($listener->query_safe('SELECT 1'), qr/"event": "resolve", "metric": "memory"/, 'the resolve is notified');
is( $node->safe_psql($db, "SELECT count(*) FROM perfopt_audit_log WHERE action = 'resolve_alert'"),
	'2', 'both calls audited (the failed one rolled back)');

# ---- medium escalates to critical in place; restored, it resolves by itself
set_thresholds('{"memory": {"warning": 0.5}}');
ok($node->poll_query_until($db, "SELECT count(*) = 1 FROM perfopt_alerts WHERE metric = 'memory' AND state = 'open'"),
	'memory past warning: an alert opens');
my ($mem) = alerts_of('memory', "state = 'open'");
set_thresholds('{"memory": {"critical": 1}}');
ok($node->poll_query_until($db, "SELECT severity = 'critical' FROM perfopt_alerts WHERE id = $mem->{id}"),
	'memory past critical: the same alert becomes critical');
is(scalar(alerts_of('memory', "id > $first->{id}")), 1, 'one memory alert, not two');
like(transitions($mem->{id}), qr/^open:medium,(escalate:high,)?escalate:critical$/, 'transitions kept: ' . transitions($mem->{id}));
($mem) = alerts_of('memory', "id = $mem->{id}");
is($mem->{threshold}, 1, 'the threshold now is the critical one');
set_thresholds('{"memory": {"warning": 80, "critical": 95}}');
ok($node->poll_query_until($db, "SELECT state = 'resolved' FROM perfopt_alerts WHERE id = $mem->{id}"),
	'thresholds restored: it resolves by itself');
($mem) = alerts_of('memory', "id = $mem->{id}");
is($mem->{resolved_by}, 'auto', "resolved_by 'auto'");
like(transitions($mem->{id}), qr/,resolve:critical$/, 'the resolve is a transition');
like($listener->query_safe('SELECT 1'), qr/"id": $mem->{id}, "event": "resolve"/, 'and notified');

# ---- a value oscillating around its threshold keeps one alert open; from
# here on hysteresis in time (perfopt.alert_dwell, 5 s), so that it does not
# depend on how fast a busy machine runs the test's own loop
$node->safe_psql($db, "ALTER SYSTEM SET perfopt.alert_dwell = '5s'; SELECT pg_reload_conf()");
sleep 2;
my $memory = $node->safe_psql($db, "SELECT (perfopt_metrics()->'system'->>'memory_used_pct')::float8");
for (1 .. 10)
{
	set_thresholds('{"memory": {"warning": 0.5}}');
	usleep(250_000);
	set_thresholds('{"memory": {"warning": 80}}');
	usleep(250_000);
}
my @osc = alerts_of('memory', "id > $mem->{id}");
is(scalar(@osc), 1, "oscillating around the threshold (memory $memory%): one alert, not a storm");
set_thresholds('{"memory": {"warning": 0.5}}');

# ---- open alerts survive a restart
ok($node->poll_query_until($db, "SELECT count(*) = 1 FROM perfopt_alerts WHERE metric = 'memory' AND state = 'open'"),
	'a memory alert is open');
my ($open) = alerts_of('memory', "state = 'open'");
$node->restart;
ok(defined wait_for_samples($node, 3), 'sampling after the restart');
my @after_restart = alerts_of('memory', "state = 'open'");
is(scalar(@after_restart), 1, 'after the restart: one open memory alert');
is($after_restart[0]{id}, $open->{id}, 'the same one');
ok( $node->poll_query_until($db,
		"SELECT last_seen > '$open->{last_seen}' FROM perfopt_alerts WHERE id = $open->{id}"),
	'and the worker keeps it up to date');
is($node->safe_psql($db, 'SELECT perfopt_thresholds()->\'memory\'->>\'warning\''), '0.5',
	'the thresholds survived too');

# ---- bulk resolve, with an id that does not exist
set_thresholds('{"memory": {"warning": 80}, "disk": {"utilization": {"warning": 0.1}}}');
ok($node->poll_query_until($db, "SELECT count(*) = 2 FROM perfopt_alerts WHERE metric = 'disk.utilization' AND state = 'open'"),
	'disk alerts for data and wal');
set_thresholds('{"disk": {"utilization": {"warning": 80}}}');
my @disk = alerts_of('disk.utilization', "state = 'open'");
my $res = query_json($node, $db,
	"SELECT perfopt_resolve_alerts(ARRAY[$disk[0]{id}, 123456789, $disk[1]{id}, $mem->{id}])");
is_deeply(
	[ map { $_->{outcome} } @$res ],
	[ 'resolved', 'not_found', 'resolved', 'already_resolved' ],
	'one outcome per id, in order: partial success reported item by item');
is($node->safe_psql($db, "SELECT count(*) FROM perfopt_alerts WHERE metric = 'disk.utilization' AND state = 'open'"),
	'0', 'the disk alerts are resolved');

# ---- trends
ok($node->poll_query_until($db, "SELECT bool_and(points >= 5) FROM perfopt_trends WHERE metric = 'cpu'"),
	'enough samples for a trend');
my $trends = query_json($node, $db,
	"SELECT jsonb_agg(to_jsonb(t)) FROM perfopt_trends t WHERE metric IN ('cpu', 'memory', 'disk.utilization')");
cmp_ok(scalar(@$trends), '>=', 4, 'perfopt_trends has cpu, memory and both filesystems');
ok((grep { $_->{points} >= 5 && defined $_->{slope_per_hour} } @$trends), 'with fitted slopes')
  or diag explain $trends;
ok(exists perfopt_status($node)->{alerts}{open}, 'perfopt_status() counts the open alerts');

$listener->quit;
is( join("\n",
		perfopt_problem_lines(
			$node, 0,
			[
				qr/ERROR:  alert 987654 does not exist/,
				# the restart
				qr/FATAL:  terminating background worker "perfopt [a-z ]+" due to administrator command/,
				qr/background worker "perfopt worker" \(PID \d+\) exited with exit code 1/
			])),
	'',
	'no perfopt errors in the log');
unlike(slurp_file($node->logfile), qr/terminated by signal|TRAP:/, 'no crash');
$node->stop;
done_testing();
