# 122_jobs_lock_retry.pl — a build that cannot get its lock gives up after
# perfopt.job_lock_timeout and is queued again with an exponential
# backoff (5 s, then 10 s), holding nothing while it waits; the
# application's reads and writes on the table are never held up by it;
# once the lock is free the job succeeds and the index is valid.  With
# perfopt.job_max_attempts = 1 the first lock timeout fails a job.
#
# First another session holds SHARE ROW EXCLUSIVE on t (it conflicts with
# the SHARE UPDATE EXCLUSIVE that CREATE INDEX CONCURRENTLY takes).  That
# lock also blocks INSERTs by itself, so for the application's writes a
# second session then holds SHARE UPDATE EXCLUSIVE instead, which stops
# the build but not the application: any wait the application sees then
# comes from perfopt.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $db = 'postgres';
my $node = perfopt_node('jobs_lock',
	conf => "perfopt.advisor_interval = 0\nperfopt.min_table_size = '256kB'\n"
	  . "perfopt.job_lock_timeout = '500ms'\npg_stat_statements.track = top\n");
$node->start;
my $capped = limit_node_memory($node, 2 * 1024 * 1024 * 1024);
note $capped ? 'backends capped at 2 GB of address space' : 'prlimit unavailable: no memory cap';
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql($db, lookup_table_sql('t', 200_000));
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
run_lookups($node, $db, 't', 'k', 20);
my $log_offset = -s $node->logfile;

# the application, in a session of its own: seconds a statement takes
my $app = $node->background_psql($db);
sub app_time
{
	my ($sql) = @_;
	my $t0 = time;
	$app->query_safe($sql);
	return time - $t0;
}

# ---- SHARE ROW EXCLUSIVE held: the first attempt times out
my $holder = $node->background_psql($db);
$holder->query_safe('BEGIN; LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE');

my $report = query_json($node, $db, 'SELECT perfopt_optimize()');
my ($build) = grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /ON public\.t USING btree \(k\)/ }
  @{ $report->{actions} };
ok($build && $build->{job_id}, 'perfopt_optimize() queues the build on t(k)');
my $job = $build ? $build->{job_id} : 0;

ok(wait_for_job($node, $db, $job, "state = 'queued' AND attempts >= 1 AND last_sqlstate = '55P03'"),
	'the build times out on the lock and is queued again');
my ($j) = job_rows($node, $db, "j.id = $job");
is($j->{attempts}, 1, 'after one attempt');
like($j->{last_error} // '', qr/lock timeout/, "last_error: $j->{last_error}");
is($j->{runner_pid}, undef, 'no runner_pid while queued');
is($j->{finished_at}, undef, 'no finished_at while queued');
my ($future, $backoff) = split /\|/,
  $node->safe_psql($db,
	"SELECT not_before > now(), extract(epoch FROM not_before - started_at) FROM perfopt_jobs WHERE id = $job");
is($future, 't', 'not_before is in the future');
# started_at is the attempt's start: backoff = the 0.5 s lock wait + 5 s
ok($backoff >= 5 && $backoff < 7, sprintf('first retry about 5 s after the failure (%.2f s after the attempt began)', $backoff));
is(invalid_perfopt_indexes($node, $db), '', 'the failed attempt left no index behind');

# while it waits for its retry the runner holds no lock and no snapshot
ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM perfopt_jobs WHERE state = 'running'"),
	'no job is running now');
my $runner = $node->safe_psql($db,
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'perfopt job runner' AND datname = '$db'");
if ($runner ne '')
{
	is( $node->safe_psql($db,
			"SELECT count(*) FROM pg_locks WHERE pid = $runner AND locktype = 'relation'"
			  . " AND relation = 't'::regclass"),
		'0', 'the waiting runner holds no lock on t');
	is( $node->safe_psql($db,
			"SELECT coalesce(backend_xmin::text, 'none') || '|' || coalesce(backend_xid::text, 'none')"
			  . " FROM pg_stat_activity WHERE pid = $runner"),
		'none|none', 'the waiting runner holds no snapshot and no transaction id');
}
else
{
	pass('no runner waits for the retry (nothing held)') for 1 .. 2;
}

my $read = app_time('SELECT count(*) FROM t WHERE id = 42');
note sprintf('application SELECT under SHARE ROW EXCLUSIVE: %.3f s', $read);
cmp_ok($read, '<', 1.5, 'a plain SELECT on t is not held up');

# ---- hand over to a SHARE UPDATE EXCLUSIVE holder: the build stays blocked
my $holder2 = $node->background_psql($db);
$holder2->query_until(qr/locking/, "BEGIN;\n\\echo locking\nLOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE;\n");
$holder->query_safe('COMMIT');
$holder->quit;
ok( $node->poll_query_until($db,
		"SELECT count(*) = 1 FROM pg_locks WHERE relation = 't'::regclass"
		  . " AND mode = 'ShareUpdateExclusiveLock' AND granted"
		  . " AND pid IN (SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend')"),
	'another session holds SHARE UPDATE EXCLUSIVE on t');

# the application reads and writes while the job retries, until the second
# attempt has come and gone
my ($max_read, $max_write, $n) = (0, 0, 0);
my $t0 = time;
my $retried = poll_until(
	sub {
		my $r = app_time('SELECT count(*) FROM t WHERE id = 42');
		my $w = app_time('INSERT INTO t (k) VALUES (-1)');
		$max_read = $r if $r > $max_read;
		$max_write = $w if $w > $max_write;
		$n++;
		return $node->safe_psql($db,
			"SELECT state = 'queued' AND attempts >= 2 FROM perfopt_jobs WHERE id = $job") eq 't';
	},
	30);
ok(defined $retried, 'the second attempt times out as well');
note sprintf('application during the retries: %d SELECT + INSERT pairs over %.1f s; slowest SELECT %.3f s, slowest INSERT %.3f s',
	$n, time - $t0, $max_read, $max_write);
cmp_ok($max_read, '<', 1.5, 'no SELECT on t waited beyond the lock timeout');
cmp_ok($max_write, '<', 1.5, 'no INSERT on t waited beyond the lock timeout');
($j) = job_rows($node, $db, "j.id = $job");
is($j->{last_sqlstate}, '55P03', 'the second attempt: 55P03 again');
($backoff) = $node->safe_psql($db,
	"SELECT extract(epoch FROM not_before - started_at) FROM perfopt_jobs WHERE id = $job");
ok($backoff >= 10 && $backoff < 12, sprintf('the second retry waits about 10 s (%.2f s after the attempt began)', $backoff));

# ---- the lock is released: the next attempt succeeds
$holder2->query_safe('COMMIT');
$holder2->quit;
my $t_release = time;
ok(wait_for_job($node, $db, $job, "state = 'succeeded'", 30), 'the job succeeds once the lock is free');
note sprintf('succeeded %.1f s after the release', time - $t_release);
($j) = job_rows($node, $db, "j.id = $job");
is($j->{attempts}, 3, 'at the third attempt');
is( $node->safe_psql($db,
		"SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('$j->{index_name}')"),
	't', "$j->{index_name} is valid");
is( $node->safe_psql($db, "SELECT status FROM perfopt_recommendations WHERE id = $j->{recommendation_id}"),
	'applied', 'the recommendation is applied');
my $log = log_since($node, $log_offset);
my @retries = $log =~ /perfopt: job $job \(create_index\) will be retried: canceling statement due to lock timeout/g;
is(scalar(@retries), 2, 'the log shows both retries');

# ---- perfopt.job_max_attempts = 1: the first lock timeout fails the job
$node->safe_psql($db,
	'CREATE TABLE fresh (a int) WITH (autovacuum_enabled = false); INSERT INTO fresh SELECT generate_series(1, 2000)');
ok($node->poll_query_until($db, "SELECT n_live_tup > 0 FROM pg_stat_user_tables WHERE relname = 'fresh'"),
	'a never-analyzed table');
$node->safe_psql($db, 'ALTER SYSTEM SET perfopt.job_max_attempts = 1; SELECT pg_reload_conf()');
ok($node->poll_query_until($db, 'SHOW perfopt.job_max_attempts', '1'), 'job_max_attempts = 1');
$holder = $node->background_psql($db);
$holder->query_safe('BEGIN; LOCK TABLE fresh IN SHARE UPDATE EXCLUSIVE MODE');
my $maint = query_json($node, $db, 'SELECT perfopt_optimize_database()');
my ($analyze) = grep { $_->{statement} eq 'ANALYZE public.fresh' } @{ $maint->{actions} };
ok($analyze && $analyze->{job_id}, 'perfopt_optimize_database() queues ANALYZE public.fresh');
my $aid = $analyze ? $analyze->{job_id} : 0;
ok(wait_for_job($node, $db, $aid, "state NOT IN ('queued', 'running') OR attempts >= 2", 30),
	'the ANALYZE job ends');
($j) = job_rows($node, $db, "j.id = $aid");
is("$j->{state} $j->{attempts} " . ($j->{last_sqlstate} // ''), 'failed 1 55P03',
	'with one attempt allowed, the lock timeout fails it: failed, 1 attempt, 55P03');
$holder->query_safe('ROLLBACK');
$holder->quit;

$app->quit;
is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
unlike(slurp_file($node->logfile), qr/terminated by signal|TRAP:/, 'no crash');

$node->stop;
done_testing();
