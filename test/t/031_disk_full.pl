# 031_disk_full.pl — the data directory's filesystem fills up: perfopt's
# worker keeps sampling, reports the failed history writes at most once a
# minute (not once per sample) and counts them in perfopt_status(), opens a
# critical disk.utilization alert for "data" that perfopt_alerts shows from
# shared memory while it cannot be written, and when space returns it
# writes history again, stops reporting failures, writes the alert and
# resolves it by itself after the hysteresis.
#
# The filesystem: a 160 MB tmpfs that test/run.sh mounts (as root) and
# names in PERFOPT_SMALL_DISK; without it the test skips.  The data
# directory is moved onto it; pg_wal stays on the ordinary disk
# (initdb --waldir), because PostgreSQL itself PANICs when it cannot write
# WAL -- that is PostgreSQL's behaviour, not perfopt's, and no extension
# can survive it.  For the same reason checkpoint_timeout is long: a
# checkpoint while the disk is full PANICs in PostgreSQL's own code
# (pg_logical/replorigin_checkpoint cannot be written).  What fails first
# is relation extension: a new page for perfopt_samples (history every
# second) or for perfopt_alerts_data.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $small = $ENV{PERFOPT_SMALL_DISK};
plan skip_all =>
  'PERFOPT_SMALL_DISK is not set: test/run.sh mounts a small tmpfs for this test only when run as root'
  unless defined $small && $small ne '';
ok(-d $small && -w $small, "PERFOPT_SMALL_DISK ($small) is a writable directory");

my $db = 'postgres';
my $waldir = PostgreSQL::Test::Utils::tempdir('wal');
rmdir $waldir;    # initdb creates it
my $node = perfopt_node(
	'diskfull',
	interval => 200,
	history_interval => 1,
	init_extra => [ '--waldir', $waldir ],
	conf => join('',
		"shared_buffers = 4MB\n",
		# no checkpoint while the disk is full (see the header)
		"checkpoint_timeout = '1h'\n",
		"max_wal_size = '1GB'\n",
		"autovacuum = off\n",
		"perfopt.advisor_interval = 0\n",
		"perfopt.alert_forecast_horizon = 0\n"));

# the data directory onto the small filesystem (pg_wal is a link to $waldir)
my $pgdata = $node->data_dir;
my $moved = "$small/pgdata";
system('mv', $pgdata, $moved) == 0 or BAIL_OUT("could not move $pgdata to $moved");
symlink($moved, $pgdata) or BAIL_OUT("could not link $pgdata to $moved: $!");
ok(-l "$moved/pg_wal", 'pg_wal is a link off the small filesystem');

$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
ok($node->poll_query_until($db, 'SELECT count(*) >= 3 FROM perfopt_samples'),
	'history is written before the disk fills');
my $worker = perfopt_status($node)->{worker_pid};
ok($worker, "the worker runs (pid $worker)");
# never leave it stopped (below), or the node cannot shut down
END { kill('CONT', $worker) if $worker; }
is( $node->safe_psql($db,
		"SELECT count(*) FROM perfopt_alerts WHERE metric = 'disk.utilization' AND subject = 'data'"),
	'0', 'no disk alert for data yet');

# the filesystem of $dir: (total, available) bytes
sub fs_bytes
{
	my ($dir) = @_;
	my ($blocks, $avail, $bsize) = split ' ', `stat -f -c '%b %a %S' '$dir'`;
	die "stat -f $dir failed" unless $bsize;
	return ($blocks * $bsize, $avail * $bsize);
}

# append to $path until the filesystem refuses (ENOSPC), $size bytes at a
# time (at most $limit bytes); returns the bytes written
sub write_until_full
{
	my ($path, $size, $limit) = @_;
	open(my $fh, '>>', $path) or die "open $path: $!";
	binmode $fh;
	my $buf = "\0" x $size;
	my $total = 0;
	while (!defined $limit || $total < $limit)
	{
		my $w = syswrite($fh, $buf);
		if (!defined $w || $w == 0)
		{
			die "writing $path: $!" unless $!{ENOSPC};
			last;
		}
		$total += $w;
	}
	close $fh;
	return $total;
}

# Fill the filesystem of $dir to the last page: 1 MB writes, then 4 kB
# writes until ENOSPC.  Returns the bytes taken.
sub fill
{
	my ($dir) = @_;
	return write_until_full("$dir/filler", 1 << 20) + write_until_full("$dir/filler", 4096);
}

my $fail_re = qr/perfopt: [\w ]+ failed: .*No space left on device/;

# ---- the disk fills
my $offset = -s $node->logfile;
# The worker is stopped (SIGSTOP, between two samples: outside a
# transaction, holding no lock) while perfopt_alerts_data is emptied and the
# disk filled, so that no sample sees the disk past warning while there is
# room left, and writing an alert needs a new page: it cannot be written.
my $stopped = poll_until(
	sub {
		kill('STOP', $worker) or return 0;
		return 1
		  if $node->safe_psql($db,
			"SELECT xact_start IS NULL FROM pg_stat_activity WHERE pid = $worker") eq 't';
		kill('CONT', $worker);
		usleep(20_000);
		return 0;
	});
ok(defined $stopped, 'worker stopped between two samples');
$node->safe_psql($db, 'TRUNCATE perfopt_alerts_data CASCADE');
is($node->safe_psql($db, "SELECT pg_relation_size('perfopt_alerts_data')"),
	'0', 'perfopt_alerts_data has no page');
my $t_fill = time;
my $bytes = eval { fill($small) };
my $fill_error = $@;
is(kill('CONT', $worker), 1, 'worker continued');
die $fill_error if $fill_error;
note "filler: $bytes bytes";
is((fs_bytes($small))[1], 0, "the filesystem is full ($bytes bytes of filler)");

# the alerts cannot be written at once; history rows go on into the free
# space of perfopt_samples' last page until it needs a new one
ok($node->wait_for_log($fail_re, $offset), 'the failed write is reported with its errno text');
like( log_since($node, $offset),
	qr/WARNING:  perfopt: writing (?:history|alerts) failed: could not extend file "[^"]+": No space left on device\n.*HINT:  Free space on the data directory's filesystem/,
	'as a WARNING of the step that failed, with a hint');
my $st;
ok( defined poll_until(sub { $st = perfopt_status($node); $st->{history}{write_failures} >= 1 }),
	'perfopt_status() counts the failed history writes');
my $s0 = $st->{samples_taken};
my $failures0 = $st->{history}{write_failures};
my $t0 = time;
my $last_written_full = $st->{history}{last_written_at};
isnt($last_written_full, undef, 'last_written_at stays set');
like($st->{history}{last_failed_at}, qr/^\d{4}-/, "with the time of the last failure ($st->{history}{last_failed_at})");

# twenty samples more, all with the disk full
ok(defined wait_for_samples($node, $s0 + 20), 'the worker keeps sampling with the disk full');
my $elapsed = time - $t0;
$st = perfopt_status($node);
is($st->{worker_pid}, $worker, 'the same worker: it did not die');
is($st->{history}{last_written_at}, $last_written_full, 'no history was written meanwhile');
my $failures1 = $st->{history}{write_failures};
cmp_ok($failures1, '>', $failures0, "the failed writes go on, retried ($failures0 -> $failures1)");
# (the retry waits perfopt.history_interval less 50 ms of slack)
cmp_ok($failures1 - $failures0, '<=', 1 + $elapsed / 0.9,
	sprintf('tried again once a history interval (1 s), not at every sample (200 ms): %d tries in %.1f s',
		$failures1 - $failures0, $elapsed));
my $lines = log_count($node, $fail_re, $offset);
my $window = time - $t_fill;
cmp_ok($lines, '<=', 1 + int($window / 60),
	sprintf('at most one report a minute: %d line(s) for %d failed history writes (and the alerts\') in %.1f s',
		$lines, $failures1, $window));
cmp_ok($lines, '<', $failures1, 'fewer reports than failures: not one per sample');

# the critical disk alert, from shared memory
ok( $node->poll_query_until($db,
		"SELECT count(*) = 1 FROM perfopt_alerts WHERE metric = 'disk.utilization' AND subject = 'data'"
		  . " AND state = 'open' AND severity = 'critical'"),
	'a critical disk.utilization alert for data is open');
my ($alert) = @{
	query_json($node, $db,
		"SELECT jsonb_agg(to_jsonb(a)) FROM perfopt_alerts a WHERE metric = 'disk.utilization' AND subject = 'data'"
	)
};
is($alert->{type}, 'disk', 'type disk');
cmp_ok($alert->{value}, '>=', 95, "value $alert->{value}%: past the critical threshold");
is($alert->{threshold}, 95, 'threshold: the critical one, 95');
like($alert->{message}, qr/^disk\.utilization of data is 100\.0%, at or above its critical threshold 95%/,
	"message: $alert->{message}");
is( $node->safe_psql($db,
		"SELECT count(*) FROM perfopt_alerts_pending() WHERE id = $alert->{id} AND state = 'open'"),
	'1', 'it lives in shared memory (perfopt_alerts_pending)');
is($node->safe_psql($db, "SELECT count(*) FROM perfopt_alerts_data WHERE id = $alert->{id}"),
	'0', 'it could not be written: perfopt_alerts shows it from shared memory');
# the wal filesystem is not the full one
is( $node->safe_psql($db,
		"SELECT count(*) FROM perfopt_alerts WHERE metric = 'disk.utilization' AND subject = 'wal' AND severity = 'critical'"
	),
	'0', 'no critical alert for the wal filesystem');

# ---- space returns
unlink("$small/filler") or die "unlink $small/filler: $!";
my $freed_at = $node->safe_psql($db, 'SELECT now()');
ok( $node->poll_query_until($db,
		"SELECT count(*) > 0 FROM perfopt_samples WHERE sampled_at > '$freed_at'"),
	'history is written again once space returns');
my $offset_resumed = -s $node->logfile;
like(log_since($node, $offset), qr/LOG:  perfopt: history writes resumed \([1-9]\d* attempt\(s\) had failed\)/,
	'the recovery is logged');
my $s1 = samples_taken($node);
ok(defined wait_for_samples($node, $s1 + 10), 'ten more samples');
is(log_count($node, $fail_re, $offset_resumed), 0, 'no failure reported after the recovery');
my $failures2 = perfopt_status($node)->{history}{write_failures};
ok($node->poll_query_until($db, "SELECT count(*) >= 5 FROM perfopt_samples WHERE sampled_at > '$freed_at'"),
	'and keeps being written');
is(perfopt_status($node)->{history}{write_failures}, $failures2, 'no new failed write');
is(perfopt_status($node)->{worker_pid}, $worker, 'still the same worker');

# the alert reaches the table, then heals (perfopt.alert_resolve_samples = 3)
ok( $node->poll_query_until($db,
		"SELECT state = 'resolved' AND resolved_by = 'auto' FROM perfopt_alerts_data WHERE id = $alert->{id}"),
	'the disk alert is written and resolves by itself');
my $transitions = $node->safe_psql($db,
	"SELECT string_agg(event || ':' || severity, ',' ORDER BY id) FROM perfopt_alert_transitions WHERE alert_id = $alert->{id}"
);
is($transitions, 'open:critical,resolve:critical',
	'its transitions, kept in the worker while the disk was full, are written too');

is( join("\n", perfopt_problem_lines($node, 0, [$fail_re])),
	'', 'no perfopt problems in the log but the reported failed writes');
unlike(slurp_file($node->logfile), qr/\bPANIC:|terminated by signal|TRAP:/, 'no crash');

$node->stop;
done_testing();
