# 145_alert_hysteresis.pl — hysteresis in time, whatever the sampling
# interval: memory (a meminfo file of the test's own) oscillates across its
# warning threshold, 800 ms above, 800 ms below, sampled every 200 ms.
#   - with perfopt.alert_dwell = 5 s a spike shorter than a fifth of it
#     opens nothing;
#   - with perfopt.alert_dwell = 5 s the alert opens once and stays in one
#     state (samples alone would let it escalate, resolve and reopen);
#   - it resolves once the value stays clear for the dwell time;
#   - with no dwell (samples only) it flaps, and a listener still gets at
#     most three NOTIFY messages for its open and changes in a minute,
#     and always its resolution.
use strict;
use warnings;

use File::Copy qw(copy);
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $dir = PostgreSQL::Test::Utils::tempdir('procfs');
symlink('/proc/stat', "$dir/stat") or die "symlink: $!";
copy('/proc/loadavg', "$dir/loadavg") or die "copy: $!";
chmod 0755, $dir;
chmod 0644, "$dir/loadavg";
sub memory_used
{
	my ($pct) = @_;
	my $total = 16_000_000;
	my $available = int($total * (100 - $pct) / 100);
	open my $fh, '>', "$dir/meminfo.tmp" or die;
	print $fh "MemTotal:       $total kB\nMemFree:        $available kB\nMemAvailable:   $available kB\n";
	close $fh;
	chmod 0644, "$dir/meminfo.tmp";
	rename "$dir/meminfo.tmp", "$dir/meminfo" or die;
}
memory_used(50);

my $node = perfopt_node('hysteresis', interval => 200, history_interval => 1,
	alert_dwell => 5,
	conf => "perfopt.procfs_path = '$dir'\n"
	  . "perfopt.alert_forecast_horizon = 0\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
ok(defined wait_for_samples($node, 5), 'sampling from the fake meminfo');

# 800 ms at 82% (past the warning of 80), 800 ms at 70%, for $seconds
sub oscillate
{
	my ($seconds, $high, $low) = @_;
	my $end = time + $seconds;
	while (time < $end)
	{
		memory_used($high);
		usleep(800_000);
		memory_used($low);
		usleep(800_000);
	}
}
my $transitions = "SELECT count(*) FROM perfopt_alert_transitions t JOIN perfopt_alerts_data d ON d.id = t.alert_id"
  . " WHERE d.metric = 'memory'";
# a spike past critical, shorter than a fifth of the dwell time: nothing opens
my $samples = samples_taken($node);
memory_used(97);
usleep(400_000);
memory_used(50);
wait_for_samples($node, $samples + 10);
is($node->safe_psql('postgres', "SELECT count(*) FROM perfopt_alerts_data WHERE metric = 'memory'"),
	'0', 'a 400 ms spike to 97% opens no alert');

oscillate(12, 82, 70);
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM perfopt_alerts_data WHERE metric = 'memory'"),
	'one memory alert');
is($node->safe_psql('postgres', "SELECT state || ' ' || severity FROM perfopt_alerts_data WHERE metric = 'memory'"),
	'open medium', 'still open, still medium: never high, never resolved and reopened');
is($node->safe_psql('postgres', $transitions), '1', 'one transition in 12 s of oscillation: its open');

# clear for longer than the dwell: it resolves, once
memory_used(50);
ok( $node->poll_query_until('postgres',
		"SELECT state = 'resolved' AND resolved_by = 'auto' FROM perfopt_alerts_data WHERE metric = 'memory'"),
	'clear for the dwell time: it resolves');
my $resolved_after = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM resolved_at - last_seen) >= 0 AND extract(epoch FROM resolved_at -"
	  . " (SELECT max(at) FROM perfopt_alert_transitions t JOIN perfopt_alerts_data d ON d.id = t.alert_id"
	  . "   WHERE d.metric = 'memory' AND t.event = 'open')) >= 5 FROM perfopt_alerts_data WHERE metric = 'memory'");
is($resolved_after, 't', 'not before the dwell time');

# samples only: the same oscillation flaps, but a listener hears at most 3 a minute
$node->safe_psql('postgres', "ALTER SYSTEM SET perfopt.alert_dwell = 0; SELECT pg_reload_conf()");
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN perfopt_alerts');
my $before = $node->safe_psql('postgres', $transitions);
my $maxid = $node->safe_psql('postgres', 'SELECT coalesce(max(id), 0) FROM perfopt_alerts_data');
my $started = time;
oscillate(8, 97, 70);
# the resolutions written so far (each notified before the listener's next query)
my @resolved = split /\n/, $node->safe_psql('postgres',
	"SELECT t.alert_id FROM perfopt_alert_transitions t JOIN perfopt_alerts_data d ON d.id = t.alert_id"
	  . " WHERE d.metric = 'memory' AND t.event = 'resolve' AND t.alert_id > $maxid");
my $heard = $listener->query_safe('SELECT 1');
my $elapsed = time - $started;
my $flaps = $node->safe_psql('postgres', $transitions) - $before;
my (%told, %resolve_told);
while ($heard =~ /"id": (\d+), "event": "(\w+)", "metric": "memory"/g)
{
	if ($2 eq 'resolve') { $resolve_told{$1}++ } else { $told{$1}++ }
}
cmp_ok($flaps, '>', 3, "without a dwell time the alert changes often ($flaps transitions in 8 s)");
my $most = (sort { $b <=> $a } values %told)[0] // 0;
cmp_ok($most, '<=', 3 * (1 + int($elapsed / 60)),
	"but a listener heard at most 3 opens and changes per alert per minute ($most)")
  or diag $heard;
ok($most >= 1, 'and heard something');
ok(@resolved >= 1, scalar(@resolved) . ' alert(s) resolved meanwhile');
is(join(',', grep { ($resolve_told{$_} // 0) != 1 } @resolved), '',
	'each resolution was heard, once, whatever the bound')
  or diag $heard;
$listener->quit;
$node->stop;
done_testing();
