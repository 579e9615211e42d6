# 120_jobs_build_under_load.pl — perfopt_optimize() builds the index the
# advisor recommends (CREATE INDEX CONCURRENTLY in the job runner) while
# pgbench keeps updating and inserting rows of the same table: the writes
# go on without a failed transaction, the build shows in
# perfopt_jobs_progress, the job succeeds at its first attempt, the index
# ends valid and consistent with the heap, the recommendation is applied,
# and a second perfopt_optimize() does not queue it again.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

my $db = 'postgres';
# big enough for a build of a few seconds, the time to watch it
my $rows = 2_000_000;
# the pgbench run before the build, and the one during it: long enough to
# outlast a build that a busy machine slows down
my $seconds = 8;
my $during_seconds = 3 * $seconds;

my $node = perfopt_node('jobs_load',
	conf => "perfopt.advisor_interval = 0\nperfopt.min_table_size = '256kB'\n"
	  . "pg_stat_statements.track = top\n");
$node->start;
my $capped = limit_node_memory($node, 2 * 1024 * 1024 * 1024);
note $capped ? 'backends capped at 2 GB of address space' : 'prlimit unavailable: no memory cap';
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE; CREATE EXTENSION amcheck');
$node->safe_psql($db, lookup_table_sql('t', $rows));

# the application: short write transactions on t
my $script = $node->basedir . '/writes.sql';
append_to_file(
	$script, qq{\\set id random(1, $rows)
\\set k random(1, @{[ $rows / 20 ]})
BEGIN;
UPDATE t SET v = v + 1 WHERE id = :id;
INSERT INTO t (k) VALUES (:k);
END;
});

# pgbench in the background, its output in files; returns the harness
sub start_pgbench
{
	my ($name, $secs) = @_;
	my @cmd = (
		'pgbench', '-n', '-c', '2', '-j', '2', '-T', $secs, '-P', '1',
		'-f', $script, '-h', $node->host, '-p', $node->port, $db);
	my $out = $node->basedir . "/$name.out";
	my $err = $node->basedir . "/$name.err";
	return (IPC::Run::start(\@cmd, '>', $out, '2>', $err), $out, $err);
}

# exit code, failed transactions, tps, per-second progress [end_s, tps]
sub pgbench_result
{
	my ($h, $out, $err) = @_;
	$h->finish;
	my $code = $h->result(0);
	my $o = slurp_file($out);
	my $e = slurp_file($err);
	my ($failed) = $o =~ /number of failed transactions: (\d+)/;
	my ($tps) = $o =~ /tps = ([\d.]+) \(without initial connection time\)/;
	my @progress;
	push @progress, [ $1, $2 ] while $e =~ /progress: ([\d.]+) s, ([\d.]+) tps/g;
	my @errors = grep { /error|abort/i && !/^progress:/ } split /\n/, $e;
	return ($code, $failed, $tps, \@progress, \@errors, $o);
}

# ---- writes alone
my ($h, $out, $err) = start_pgbench('before', $seconds);
my ($code, $failed, $tps_before, undef, $errors, $o) = pgbench_result($h, $out, $err);
is($code, 0, 'pgbench alone: exit code 0') or diag $o;
is($failed, 0, 'pgbench alone: no failed transaction');
note "pgbench alone: $tps_before tps";

# ---- the workload that needs an index on t(k)
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
run_lookups($node, $db, 't', 'k', 20);

# ---- writes during the build
my $since = $node->safe_psql($db, 'SELECT clock_timestamp()');
my $t_start = time;
($h, $out, $err) = start_pgbench('during', $during_seconds);
ok( defined poll_until(
		sub {
			# (not recorded by pg_stat_statements: the advisor must not see it)
			$node->safe_psql($db,
				"SET pg_stat_statements.track = none; SELECT count(*) > 0 FROM t WHERE at > '$since'")
			  eq 't';
		}),
	'pgbench writes before perfopt_optimize() is called');

my $t_call = time;
my $report = query_json($node, $db, 'SELECT perfopt_optimize()');
note sprintf('pgbench started %.1f s before perfopt_optimize(), which took %.1f s',
	$t_call - $t_start, time - $t_call);
my @builds = grep { $_->{kind} eq 'create_index' } @{ $report->{actions} };
note 'perfopt_optimize(): ' . join('; ', map { "$_->{kind}: $_->{statement} (job $_->{job_id})" } @{ $report->{actions} });
is(scalar(@builds), 1, 'perfopt_optimize() queues one index build');
like($builds[0]{statement} // '', qr/^CREATE INDEX CONCURRENTLY \S+ ON public\.t USING btree \(k\)( INCLUDE \(.*\))?$/,
	'the build is CREATE INDEX CONCURRENTLY ... ON public.t (k)');
my $job = $builds[0]{job_id} // 0;
ok($job > 0, "the action carries its job id ($job)");

# watch the build: perfopt_jobs_progress while it runs
my %phases;
my $running_seen = 0;
my $done = poll_until(
	sub {
		my $p = $node->safe_psql($db,
			"SELECT coalesce(phase, '(null)') || '|' || coalesce(blocks_done::text, '') || '|'"
			  . " || coalesce(blocks_total::text, '') || '|' || coalesce(percent::text, '')"
			  . " FROM perfopt_jobs_progress WHERE id = $job");
		if ($p ne '')
		{
			$running_seen = 1;
			my ($phase) = split /\|/, $p;
			$phases{$phase} //= $p;
		}
		return $node->safe_psql($db, "SELECT state NOT IN ('queued', 'running') FROM perfopt_jobs WHERE id = $job")
		  eq 't';
	},
	120);
ok(defined $done, 'the build job finishes');
ok($running_seen, 'perfopt_jobs_progress lists the job while it runs');
ok((grep { $_ ne '(null)' } keys %phases), 'perfopt_jobs_progress shows a build phase')
  or diag explain \%phases;
note "phases seen (phase|blocks_done|blocks_total|percent):\n  " . join("\n  ", sort values %phases);

my ($j) = job_rows($node, $db, "j.id = $job");
is($j->{state}, 'succeeded', 'the job succeeded') or diag explain $j;
is($j->{attempts}, 1, 'at the first attempt');
is($j->{last_error}, undef, 'no error recorded');
is($j->{kind}, 'create_index', 'kind create_index');
is($j->{target_table}, 'public.t', 'target_table public.t');

my ($started, $finished) = split /\|/,
  $node->safe_psql($db,
	"SELECT extract(epoch FROM started_at), extract(epoch FROM finished_at) FROM perfopt_jobs WHERE id = $job");
my ($during, $after) = split /\|/,
  $node->safe_psql($db,
	"SELECT count(*) FILTER (WHERE at BETWEEN s AND f), count(*) FILTER (WHERE at > f)"
	  . " FROM t, (SELECT started_at AS s, finished_at AS f FROM perfopt_jobs WHERE id = $job) j");
cmp_ok($during, '>', 0, "rows were inserted during the build ($during)");
cmp_ok($after, '>', 0, "pgbench was still writing after the build ($after rows)");

my ($code2, $failed2, $tps_all, $progress, $errors2, $o2) = pgbench_result($h, $out, $err);
is($code2, 0, 'pgbench during the build: exit code 0') or diag $o2;
is($failed2, 0, 'pgbench during the build: no failed transaction');
is(join("\n", @$errors2), '', 'pgbench during the build: no error messages');
# the per-second progress intervals that overlap the build
my ($b0, $b1) = ($started - $t_start, $finished - $t_start);
my @in = grep { $_->[0] > $b0 && $_->[0] - 1 < $b1 } @$progress;
my $tps_build = @in ? (eval { my $s = 0; $s += $_->[1] for @in; $s } / @in) : 0;
note sprintf('TPS: %.1f before; %.1f during the build (%d progress seconds; build from %.1f s to %.1f s'
	  . ' of the %d s run); %.1f over the whole run',
	$tps_before, $tps_build, scalar(@in), $b0, $b1, $during_seconds, $tps_all);
cmp_ok($tps_build, '>', 0, 'pgbench committed transactions during the build');

# ---- the index
my $index = $j->{index_name};
is( $node->safe_psql($db,
		"SELECT i.indisvalid AND i.indisready AND i.indrelid = 't'::regclass FROM pg_index i"
		  . " WHERE i.indexrelid = to_regclass('$index')"),
	't',
	"$index is valid, ready, on t");
is( $node->safe_psql($db,
		"SELECT pg_get_indexdef(to_regclass('$index')) ~ 'USING btree \\(k\\)( INCLUDE \\(.*\\))?\$'"),
	't', "$index indexes k");
my ($ret, $chk_out, $chk_err) = $node->psql($db,
	"SELECT bt_index_check(to_regclass('$index'), true)");
is($ret, 0, "$index matches the heap (amcheck, heapallindexed)") or diag $chk_err;
is( $node->safe_psql($db,
		"SELECT status FROM perfopt_recommendations WHERE id = $j->{recommendation_id}"),
	'applied', 'the recommendation is applied');
is($node->safe_psql($db, "SELECT run_id = $report->{run_id} FROM perfopt_jobs WHERE id = $job"),
	't', 'the job belongs to the run');

# ---- a second run does not build it again
my $again = query_json($node, $db, 'SELECT perfopt_optimize()');
note 'second perfopt_optimize(): ' . join('; ', map { "$_->{kind}: $_->{statement}" } @{ $again->{actions} });
is(scalar(grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /\(k\)/ } @{ $again->{actions} }),
	0, 'the second run reports no build on t(k)');
is( $node->safe_psql($db,
		"SELECT count(*) FROM perfopt_jobs WHERE kind = 'create_index' AND target_table = 'public.t'"),
	'1', 'no second build job on t');
is( $node->safe_psql($db,
		"SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass"),
	'2', 't has its primary key and the one new index');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
unlike(slurp_file($node->logfile), qr/terminated by signal|TRAP:/, 'no crash');

$node->stop;
done_testing();
