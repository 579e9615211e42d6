# 121_jobs_cancel_and_crash.pl — an index build interrupted in the middle
# leaves nothing behind: cancelled with pg_cancel_backend(), the job is
# 'cancelled' and the INVALID index it left is dropped; cut by an
# immediate shutdown, the job is marked failed (57P01) and the INVALID
# index dropped when the server comes back (and the same after kill -9 of
# the perfopt worker, which makes the postmaster reinitialize); stopped by
# perfopt.job_statement_timeout, the job is 'failed' and the index dropped.
# Afterwards the same index builds normally.  At a start every INVALID
# perfopt_ index nobody builds is dropped, however many there are.
#
# The build is caught in the middle deterministically: a REPEATABLE READ
# transaction opened before it keeps CREATE INDEX CONCURRENTLY in its
# "waiting for old snapshots" phase.  That wait is a lock wait, which
# lock_timeout would end, so perfopt.job_lock_timeout is long here.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('jobs_cancel',
	conf => "perfopt.advisor_interval = 0\nperfopt.min_table_size = '256kB'\n"
	  . "perfopt.job_lock_timeout = '10min'\npg_stat_statements.track = top\n"
	  . "restart_after_crash = on\n");
$node->start;
my $cap = 2 * 1024 * 1024 * 1024;
my $capped = limit_node_memory($node, $cap);
note $capped ? 'backends capped at 2 GB of address space' : 'prlimit unavailable: no memory cap';
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql($db, lookup_table_sql('t', 200_000));
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
run_lookups($node, $db, 't', 'k', 20);

# Open an old snapshot, run perfopt_optimize() and wait until its build
# waits for that snapshot; returns the session and the job row.
sub build_held_by_old_snapshot
{
	my ($what) = @_;
	my $old = $node->background_psql($db);
	$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class');
	my $report = query_json($node, $db, 'SELECT perfopt_optimize()');
	my @builds = grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /ON public\.t USING btree \(k\)/ }
	  @{ $report->{actions} };
	is(scalar(@builds), 1, "$what: perfopt_optimize() queues the build on t(k)");
	my $job = $builds[0]{job_id} // 0;
	ok( $node->poll_query_until($db,
			"SELECT phase = 'waiting for old snapshots' FROM perfopt_jobs_progress WHERE id = $job"),
		"$what: the build waits for the old snapshot");
	my ($j) = job_rows($node, $db, "j.id = $job");
	is($j->{state}, 'running', "$what: the job is running");
	is( $node->safe_psql($db,
			"SELECT backend_type || '|' || application_name FROM pg_stat_activity WHERE pid = $j->{runner_pid}"),
		'perfopt job runner|perfopt job runner',
		"$what: runner_pid is the job runner");
	is(invalid_perfopt_indexes($node, $db), $j->{index_name},
		"$what: the build's index $j->{index_name} exists, INVALID for now");
	return ($old, $j);
}

# ---- (a) pg_cancel_backend() during the build
my $log_offset = -s $node->logfile;
my ($old, $j) = build_held_by_old_snapshot('cancel');
my $job = $j->{id};
is($node->safe_psql($db, "SELECT pg_cancel_backend($j->{runner_pid})"), 't', 'the runner is signalled');
ok(wait_for_job($node, $db, $job, "state = 'cancelled'"), 'the job is cancelled');
($j) = job_rows($node, $db, "j.id = $job");
is($j->{last_sqlstate}, '57014', 'last_sqlstate 57014 (query_canceled)');
like($j->{last_error} // '', qr/user request/, "last_error: $j->{last_error}");
is($j->{attempts}, 1, 'no retry after a cancel');
ok(defined $j->{finished_at}, 'finished_at is set');
# the old snapshot is still open: the drop must not need it gone
ok(defined poll_until(sub { invalid_perfopt_indexes($node, $db) eq "" }, 30),
	'the INVALID index is dropped, the old transaction still open')
  or diag 'INVALID: ' . invalid_perfopt_indexes($node, $db);
is($node->safe_psql($db, "SELECT to_regclass('$j->{index_name}') IS NULL"), 't',
	"$j->{index_name} is gone");
ok(log_since($node, $log_offset) =~
	qr/perfopt: job $job \(create_index\) was cancelled: canceling statement due to user request/,
	'the log names the cancelled job');
is( $node->safe_psql($db, "SELECT status FROM perfopt_recommendations WHERE id = $j->{recommendation_id}"),
	'new', 'the recommendation is still new');
$old->query_safe('ROLLBACK');
$old->quit;

# ---- (b) immediate shutdown during the build
$log_offset = -s $node->logfile;
($old, $j) = build_held_by_old_snapshot('shutdown');
$job = $j->{id};
my $index = $j->{index_name};
$node->stop('immediate');
# the session lost its server; psql exits on \q all the same
eval { $old->quit };
my $restart_offset = -s $node->logfile;
$node->start;
limit_node_memory($node, $cap);

ok(wait_for_job($node, $db, $job, "state = 'failed'"), 'after the restart the job is failed');
($j) = job_rows($node, $db, "j.id = $job");
is($j->{last_sqlstate}, '57P01', 'last_sqlstate 57P01');
like($j->{last_error} // '', qr/^interrupted: /, "last_error: $j->{last_error}");
is($j->{runner_pid}, undef, 'the failed job names no runner_pid (its process is gone)');
ok(defined poll_until(sub { invalid_perfopt_indexes($node, $db) eq "" }, 30),
	'no INVALID perfopt_ index remains')
  or diag 'INVALID: ' . invalid_perfopt_indexes($node, $db);
is($node->safe_psql($db, "SELECT to_regclass('$index') IS NULL"), 't', "$index is gone");
my $after = log_since($node, $restart_offset);
ok($after =~ qr/perfopt: 1 job\(s\) interrupted by a crash or a shutdown are marked failed/,
	'the log reports the interrupted job');
ok($after =~ qr/perfopt: dropping the invalid index \Q$index\E left by an interrupted build/,
	'the log reports the dropped index');
is($node->safe_psql($db, "SELECT count(*) FROM perfopt_jobs WHERE state IN ('queued', 'running')"),
	'0', 'no job is left queued or running');

# ---- (b2) kill -9 of the perfopt worker during the build: the postmaster
# ends every backend (the runner too) and reinitializes
$log_offset = -s $node->logfile;
($old, $j) = build_held_by_old_snapshot('kill -9');
$job = $j->{id};
$index = $j->{index_name};
my $worker = perfopt_status($node)->{worker_pid};
is(kill('KILL', $worker), 1, "kill -9: the worker ($worker) is killed mid-build");
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
eval { $old->quit };
ok(defined wait_until_accepting($node) && $node->poll_query_until($db, 'SELECT true'),
	'kill -9: the server accepts connections again');
ok(wait_for_job($node, $db, $job, "state = 'failed'"), 'kill -9: after the reinitialization the job is failed');
($j) = job_rows($node, $db, "j.id = $job");
like($j->{last_error} // '', qr/^interrupted: /, "kill -9: last_error: $j->{last_error}");
ok(defined poll_until(sub { invalid_perfopt_indexes($node, $db) eq "" }, 30),
	'kill -9: no INVALID perfopt_ index remains')
  or diag 'INVALID: ' . invalid_perfopt_indexes($node, $db);
is($node->safe_psql($db, "SELECT to_regclass('$index') IS NULL"), 't', "kill -9: $index is gone");
ok($node->poll_query_until($db,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'perfopt worker' AND pid <> $worker"),
	'kill -9: a new worker runs');
is($node->safe_psql($db, "SELECT count(*) FROM perfopt_jobs WHERE state IN ('queued', 'running')"),
	'0', 'kill -9: no job is left queued or running');
# a crash loses pg_stat_statements' counts: the workload again
run_lookups($node, $db, 't', 'k', 20);
my $killed = qr/background worker "perfopt worker" \(PID $worker\) was terminated by signal 9/;

# ---- (c) perfopt.job_statement_timeout during the build: failed, not cancelled
$node->safe_psql($db, "ALTER SYSTEM SET perfopt.job_statement_timeout = '1s'; SELECT pg_reload_conf()");
ok($node->poll_query_until($db, 'SHOW perfopt.job_statement_timeout', '1s'), 'statement timeout set to 1s');
$log_offset = -s $node->logfile;
$old = $node->background_psql($db);
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class');
my $report = query_json($node, $db, 'SELECT perfopt_optimize()');
my ($build) = grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /ON public\.t USING btree \(k\)/ }
  @{ $report->{actions} };
$job = $build ? $build->{job_id} : 0;
ok(wait_for_job($node, $db, $job, "state NOT IN ('queued', 'running')", 10),
	'timeout: the job ends within seconds');
($j) = job_rows($node, $db, "j.id = $job");
if ($j->{state} eq 'running')
{
	# let the rest of the test go on: end the build by hand
	diag "timeout: the job still runs after 10 s with a 1 s statement timeout; cancelling it";
	$node->safe_psql($db, "SELECT pg_cancel_backend($j->{runner_pid})");
	wait_for_job($node, $db, $job, "state NOT IN ('queued', 'running')");
}
is($j->{state}, 'failed', 'timeout: the job failed (not cancelled)');
is($j->{last_sqlstate}, '57014', 'timeout: last_sqlstate 57014');
like($j->{last_error} // '', qr/statement timeout/, "timeout: last_error: $j->{last_error}");
ok(defined poll_until(sub { invalid_perfopt_indexes($node, $db) eq "" }, 30),
	'timeout: no INVALID index remains')
  or diag 'INVALID: ' . invalid_perfopt_indexes($node, $db);
ok(log_since($node, $log_offset) =~
	qr/perfopt: job $job \(create_index\) failed: canceling statement due to statement timeout/,
	'timeout: the log names the failed job');
$old->query_safe('ROLLBACK');
$old->quit;
$node->safe_psql($db, 'ALTER SYSTEM RESET perfopt.job_statement_timeout; SELECT pg_reload_conf()');
ok($node->poll_query_until($db, 'SHOW perfopt.job_statement_timeout', '1h'), 'statement timeout back to 1h');

# ---- afterwards the same index builds normally
$report = query_json($node, $db, 'SELECT perfopt_optimize()');
($build) = grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /ON public\.t USING btree \(k\)/ }
  @{ $report->{actions} };
ok($build && $build->{job_id}, 'a new run queues the build again');
$job = $build ? $build->{job_id} : 0;
ok(wait_for_job($node, $db, $job, "state = 'succeeded'"), 'and it succeeds');
is( $node->safe_psql($db, "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('$index')"),
	't', "$index exists and is valid, under the same name");

# ---- (d) at a start, every INVALID perfopt_ index that no build works on
# is dropped, however many there are (here three failed unique builds)
$node->safe_psql($db, 'CREATE TABLE dup (a int); INSERT INTO dup SELECT g % 10 FROM generate_series(1, 1000) g');
$node->psql($db, "CREATE UNIQUE INDEX CONCURRENTLY perfopt_dup_$_ ON dup (a)") for 1 .. 3;
is( invalid_perfopt_indexes($node, $db),
	'public.perfopt_dup_1, public.perfopt_dup_2, public.perfopt_dup_3',
	'three INVALID perfopt_ indexes are left by failed builds');
$restart_offset = -s $node->logfile;
$node->stop('immediate');
$node->start;
limit_node_memory($node, $cap);
my $left;
ok( defined poll_until(
		sub {
			# (psql, not safe_psql: the server may be gone if the runner crashed)
			my ($ret, $out) = $node->psql($db,
				"SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_index i"
				  . " JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid AND c.relname LIKE 'perfopt\\_%'");
			$left = $ret == 0 ? $out : "(psql failed: $ret)";
			return $ret == 0 && $out eq '';
		},
		10),
	'after the restart all three are dropped')
  or diag "still there: $left";
my @drops = log_since($node, $restart_offset) =~ /perfopt: dropping the invalid index public\.perfopt_dup_\d/g;
is(scalar(@drops), 3, 'the log names the three drops');

# ---- the log: no crash of any backend, no unexpected perfopt error
# (but the worker killed on purpose in (b2))
my @problems = perfopt_problem_lines($node, 0, [qr/could not create unique index "perfopt_dup_\d"/, $killed]);
is(join("\n", @problems), '', 'no perfopt errors or crashes in the log');
my @crashes = grep { /terminated by signal|was terminated|TRAP:|PANIC:|server process .* exited with exit code [1-9]/ && !/$killed/ }
  split /\n/, slurp_file($node->logfile);
is(join("\n", @crashes), '', 'no backend or worker crashed');

$node->stop;
done_testing();
