# 106_advisor_extended_stats.pl — extended statistics advice: a statement
# filtering on two correlated columns whose estimate is more than 10x off
# gets a create_statistics recommendation; perfopt_optimize() applies it
# (CREATE STATISTICS, ANALYZE, as the table's owner), the estimate comes
# close to the actual rows, and the verification confirms it.  GROUP BY on
# correlated columns gets one too.  Independent columns, a covering
# statistics object, a table the advisor skips and a recommendation whose
# statistics do not help (rolled back, after a retry on a lock) are
# checked as well.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('extstats',
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.auto_rollback = on\n"
	  . "perfopt.min_table_size = '256kB'\n"
	  . "perfopt.job_lock_timeout = '500ms'\n");
$node->start;
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');

# tables owned by an ordinary role: the statistics must be its
# "Corr T": B is a function of a (a = i % 100, B = a); indep_t: b does not
# depend on a; covered_t: correlated, with a statistics object already;
# grp_t: c = d % 50 grouped together
$node->safe_psql(
	'postgres', q{
CREATE ROLE app LOGIN;
CREATE SCHEMA "Shop" AUTHORIZATION app;
SET ROLE app;
CREATE TABLE "Shop"."Corr T" AS
  SELECT g AS id, g % 100 AS a, g % 100 AS "B", repeat('x', 20) AS pad FROM generate_series(1, 100000) g;
CREATE TABLE "Shop".indep_t AS
  SELECT g AS id, g % 100 AS a, (g / 100) % 10 AS b, repeat('x', 20) AS pad FROM generate_series(1, 100000) g;
CREATE TABLE "Shop".covered_t AS
  SELECT g AS id, g % 100 AS a, g % 100 AS b, repeat('x', 20) AS pad FROM generate_series(1, 100000) g;
-- 30 rows per value pair where 1 is estimated, but below 256kB
CREATE TABLE "Shop".small_t AS
  SELECT g AS id, g % 100 AS a, g % 100 AS b FROM generate_series(1, 3000) g;
RESET ROLE;
GRANT USAGE ON SCHEMA "Shop" TO PUBLIC;
-- app owns grp_t but may not create in public (15's default): CREATE
-- STATISTICS as app would fail there
CREATE TABLE public.grp_t AS
  SELECT g AS id, g % 50 AS c, (g % 50) * 7 AS d FROM generate_series(1, 100000) g;
ALTER TABLE public.grp_t OWNER TO app;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
});
# (from 16, CREATE TABLE AS extends a table by many pages at a time:
# VACUUM gives small_t's empty tail back, so that its size is its rows')
$node->safe_psql('postgres', 'VACUUM "Shop".small_t');
$node->safe_psql('postgres',
	'SELECT pg_stat_force_next_flush(); ANALYZE "Shop"."Corr T", "Shop".indep_t, "Shop".covered_t, public.grp_t, "Shop".small_t');
# created after the ANALYZE: the object is empty and the estimate still
# off, only its existence keeps the advice away
$node->safe_psql('postgres',
	'SET ROLE app; CREATE STATISTICS "Shop".mine (dependencies) ON a, b FROM "Shop".covered_t');

# the generic estimate of a statement, and its actual rows
sub estimate
{
	my ($sql) = @_;
	my $plan = $node->safe_psql('postgres', "EXPLAIN (FORMAT JSON) $sql");
	$plan =~ /"Plan Rows": (\d+)/ or die "no plan rows in $plan";
	return $1;
}

$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
run_statements(
	$node, 'postgres',
	[
		(map { my $v = $_ % 100; qq{SELECT id FROM "Shop"."Corr T" WHERE a = $v AND "B" = $v} } 1 .. 12),
		(map { qq{UPDATE "Shop"."Corr T" SET pad = pad WHERE "B" = $_ AND a IN ($_, $_)} } 1 .. 3),
		(map { my $v = $_ % 10; "SELECT id FROM \"Shop\".indep_t WHERE a = $_ AND b = $v" } 1 .. 12),
		(map { my $v = $_ % 100; "SELECT id FROM \"Shop\".covered_t WHERE a = $v AND b = $v" } 1 .. 12),
		(map { "SELECT id FROM \"Shop\".small_t WHERE a = $_ AND b = $_" } 1 .. 12),
		(map { "SELECT c, d, count(*) FROM public.grp_t WHERE id > $_ GROUP BY c, d" } 1 .. 12),
	],
	'SET ROLE app;');

my $summary = query_json($node, 'postgres', 'SELECT perfopt_advise()');
my @stats = advisor_recommendations($node, 'postgres', 'create_statistics');
note explain [ map { "$_->{ddl}: $_->{reason}" } @stats ];
my ($corr) = grep { $_->{table_name} eq '"Shop"."Corr T"' } @stats;
ok($corr, 'correlated equality columns get a create_statistics recommendation');
is($corr->{kind}, 'create_statistics', 'of its own kind');
is( $corr->{ddl},
	'CREATE STATISTICS IF NOT EXISTS "Shop"."perfopt_Corr T_a_B_stat" (dependencies, ndistinct, mcv) ON a, "B" FROM "Shop"."Corr T"',
	'the DDL names the object predictably and quotes every identifier');
is($corr->{index_name}, 'perfopt_Corr T_a_B_stat', 'index_name holds the statistics object\'s name');
like($corr->{reason}, qr/restricts by equality a, "B" of "Shop"\."Corr T".*estimates (?:10 rows per call where pg_stat_statements measured 1000\.0 \(100x off\)|20 rows per call where pg_stat_statements measured 1000\.0 \(50x off\)), and 1 more statement,/,
	'the reason gives the estimate and the actual rows of the statement that took most time (the SELECT or the UPDATE)');
is($corr->{statements}[0]{rows_per_call}, 1000, 'the evidence has the rows per call');
is_deeply(
	[ sort map { $_->{query} =~ /^(\w+)/ ? $1 : '?' } @{ $corr->{statements} } ],
	[ 'SELECT', 'UPDATE' ],
	'an UPDATE on the same columns (= and IN) joins the same recommendation');
is_deeply([ map { $_->{rows_per_call} } @{ $corr->{statements} } ], [ 1000, 1000 ],
	'each with its rows per call');
ok(grep({ $_->{kind} eq 'create_statistics' } @{ $summary->{actions} }),
	'the advisor\'s summary lists it among its actions');

ok(!grep({ $_->{table_name} eq '"Shop".indep_t' } @stats),
	'independent columns (100 rows per call, 100 estimated): no recommendation');
ok(!grep({ $_->{table_name} eq '"Shop".covered_t' } @stats),
	'columns an existing statistics object covers: no recommendation');
ok(!grep({ $_->{table_name} eq '"Shop".small_t' } @stats),
	'a table below perfopt.min_table_size: no recommendation');
cmp_ok($node->safe_psql('postgres', q{SELECT pg_relation_size('"Shop".small_t')}), '<', 256 * 1024,
	'(it is below)');
my ($grp) = grep { $_->{table_name} eq 'public.grp_t' } @stats;
ok($grp, 'GROUP BY on correlated columns gets one');
like($grp->{reason}, qr/groups by c, d of public\.grp_t.*estimates \d+ groups per call where pg_stat_statements measured 50\.0/,
	'with the estimated and the actual groups');
is(scalar(@stats), 2, 'exactly these two');

# a dry run lists it and changes nothing
my $dry = $node->safe_psql('postgres', 'SELECT perfopt_optimize(true)->\'actions\'');
like($dry, qr/"kind": "create_statistics"/, 'a dry run lists the create_statistics action');
is($node->safe_psql('postgres', "SELECT count(*) FROM perfopt_jobs WHERE kind = 'create_statistics'"),
	'0', 'and queues nothing');

my $before = estimate(q{SELECT id FROM "Shop"."Corr T" WHERE a = 7 AND "B" = 7});
cmp_ok($before, '<', 100, "before: the estimate ($before) is far from the 1000 rows");

my $report = query_json($node, 'postgres', 'SELECT perfopt_optimize()');
my @jobs = grep { $_->{kind} eq 'create_statistics' } @{ $report->{actions} };
is(scalar(@jobs), 2, 'perfopt_optimize() queues a create_statistics job per recommendation');
for my $job (@jobs)
{
	ok(wait_for_job($node, 'postgres', $job->{job_id}, "state = 'succeeded'"),
		"job $job->{job_id} ($job->{statement}) succeeded");
}
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 2 FROM perfopt_verifications WHERE object_kind = 'statistics' AND state <> 'observing'"),
	'both were verified');

is( $node->safe_psql(
		'postgres', q{SELECT s.stxowner::regrole || ' ' || array_to_string(s.stxkind, ',')
		  FROM pg_statistic_ext s WHERE s.stxname = 'perfopt_Corr T_a_B_stat'
		  AND s.stxnamespace = '"Shop"'::regnamespace}),
	'app d,f,m', 'the statistics object exists, owned by the table\'s owner, with its three kinds');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM pg_statistic_ext s JOIN pg_statistic_ext_data d ON d.stxoid = s.oid
		  WHERE s.stxname = 'perfopt_Corr T_a_B_stat'}),
	'1', 'and ANALYZE has filled it');
my $after = estimate(q{SELECT id FROM "Shop"."Corr T" WHERE a = 7 AND "B" = 7});
my $actual = $node->safe_psql('postgres', q{SELECT count(*) FROM "Shop"."Corr T" WHERE a = 7 AND "B" = 7});
note "estimate before $before, after $after, actual $actual";
ok($after * 10 >= $actual && $after <= $actual * 10, "after: the estimate ($after) is within 10x of the actual $actual rows");

my $v = query_json($node, 'postgres',
	q{SELECT to_jsonb(v) FROM perfopt_verifications v WHERE index_name = '"Shop"."perfopt_Corr T_a_B_stat"'});
is($v->{state}, 'confirmed', 'the verification confirms it');
is($v->{object_kind}, 'statistics', 'as a statistics verification');
ok($v->{after}[0]{within_factor}, 'the statement\'s estimate is within the factor after');
is( $node->safe_psql('postgres', "SELECT status FROM perfopt_recommendations WHERE id = $corr->{id}"),
	'applied', 'the recommendation is applied');
is( $node->safe_psql(
		'postgres', qq{SELECT string_agg(v->>'state', ',') FROM perfopt_history h,
		  jsonb_array_elements(h.report->'verifications') v
		  WHERE h.id = $report->{run_id} AND v->>'statistics' LIKE '%perfopt_Corr T_a_B_stat%'}),
	'confirmed', 'the verdict is in the report of the run that queued it');
is( $node->safe_psql('postgres',
		"SELECT state FROM perfopt_verifications WHERE index_name = 'public.perfopt_grp_t_c_d_stat'"),
	'confirmed', 'the GROUP BY statistics are confirmed too');
is( $node->safe_psql('postgres',
		"SELECT stxowner::regrole FROM pg_statistic_ext WHERE stxname = 'perfopt_grp_t_c_d_stat'"),
	'app', 'owned by the table\'s owner, who may not create in its schema');

# a new run does not recommend what it applied (the object covers the columns)
$node->safe_psql('postgres', 'SELECT perfopt_advise()');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_recommendations WHERE kind = 'create_statistics' AND status = 'new'"),
	'0', 'the applied statistics are not recommended again');

# statistics that do not help are rolled back: 90% of skew_t is the one
# pair (0, 0) that the workload asks for, the other rows independent.  The
# generic plan estimates one value's average share, so even with the
# dependencies (90% of a determines b) the estimate stays about 100x
# below the 90000 rows per call.
$node->safe_psql(
	'postgres', q{
SET ROLE app;
CREATE TABLE "Shop".skew_t AS
  SELECT g AS id, CASE WHEN g % 10 = 0 THEN g % 97 ELSE 0 END AS a,
         CASE WHEN g % 10 = 0 THEN (g / 10) % 89 ELSE 0 END AS b FROM generate_series(1, 100000) g;
RESET ROLE;
SELECT pg_stat_force_next_flush();
ANALYZE "Shop".skew_t;
SELECT pg_stat_statements_reset();
});
run_statements($node, 'postgres',
	[ map { "SELECT id FROM \"Shop\".skew_t WHERE a = 0 AND b = 0" } 1 .. 5 ], 'SET ROLE app;');
# another session holds SHARE UPDATE EXCLUSIVE (as a running VACUUM
# would): the job gives up after perfopt.job_lock_timeout and is retried;
# the application's reads and writes go on meanwhile
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE "Shop".skew_t IN SHARE UPDATE EXCLUSIVE MODE');
$report = query_json($node, 'postgres', 'SELECT perfopt_optimize()');
my ($skew) = grep { $_->{kind} eq 'create_statistics' && $_->{statement} =~ /skew_t/ } @{ $report->{actions} };
ok($skew, 'the skewed statement gets statistics queued') or diag explain $report->{advisor};
ok( wait_for_job(
		$node, 'postgres', $skew->{job_id}, "state = 'queued' AND attempts >= 1 AND last_sqlstate = '55P03'"),
	'the statistics job times out on the lock and is queued again');
$node->safe_psql('postgres',
	'SET lock_timeout = \'5s\'; INSERT INTO "Shop".skew_t VALUES (0, 1, 1); SELECT count(*) FROM "Shop".skew_t WHERE a = 1');
pass('the application reads and writes the table meanwhile');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'perfopt_skew_t_a_b_stat'"),
	'0', 'the attempt left no statistics object behind');
$holder->query_safe('COMMIT');
$holder->quit;
ok(wait_for_job($node, 'postgres', $skew->{job_id}, "state = 'succeeded'"), 'once the lock is free it succeeds');
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'rolled_back' FROM perfopt_verifications WHERE index_name = '\"Shop\".perfopt_skew_t_a_b_stat'"),
	'statistics that leave the estimate off are rolled back');
like( $node->safe_psql('postgres',
		"SELECT verdict FROM perfopt_verifications WHERE index_name = '\"Shop\".perfopt_skew_t_a_b_stat'"),
	qr/still more than 10x off/, 'the verdict says why');
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) = 0 FROM pg_statistic_ext WHERE stxname = 'perfopt_skew_t_a_b_stat'"),
	'and dropped');
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'succeeded' FROM perfopt_jobs WHERE kind = 'drop_statistics' AND index_name = '\"Shop\".perfopt_skew_t_a_b_stat'"),
	'by a drop_statistics job');
like( $node->safe_psql('postgres',
		"SELECT status || ': ' || reason FROM perfopt_recommendations WHERE index_name = 'perfopt_skew_t_a_b_stat'"),
	qr/^dismissed: .*rolled back: /, 'its recommendation is dismissed for good');
$report = query_json($node, 'postgres', 'SELECT perfopt_optimize()');
ok(!grep({ $_->{statement} =~ /perfopt_skew_t_a_b_stat/ } @{ $report->{actions} }),
	'a new run does not apply the rolled-back statistics again');

# a job whose ANALYZE fails for good (an index expression of the owner's
# that refuses a session without application_name: the runner) leaves no
# statistics object
$node->safe_psql(
	'postgres', q{
SET ROLE app;
CREATE FUNCTION "Shop".picky(int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
  IF pg_catalog.current_setting('application_name') = '' THEN
    RAISE EXCEPTION 'picky refuses a session without application_name';
  END IF;
  RETURN $1;
END $$;
CREATE TABLE "Shop".fail_t AS
  SELECT g AS id, g % 100 AS a, g % 100 AS b FROM generate_series(1, 100000) g;
CREATE INDEX ON "Shop".fail_t ("Shop".picky(id));
ANALYZE "Shop".fail_t;
RESET ROLE;
SELECT pg_stat_statements_reset();
});
run_statements($node, 'postgres',
	[ map { "SELECT id FROM \"Shop\".fail_t WHERE a = $_ AND b = $_" } 1 .. 5 ], 'SET ROLE app;');
$report = query_json($node, 'postgres', 'SELECT perfopt_optimize()');
my ($fail) = grep { $_->{kind} eq 'create_statistics' && $_->{statement} =~ /fail_t/ } @{ $report->{actions} };
ok($fail, 'statistics are queued for fail_t');
ok(wait_for_job($node, 'postgres', $fail->{job_id}, "state = 'failed' AND last_sqlstate = 'P0001'"),
	'its job fails in the ANALYZE with the SQLSTATE of the error');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'perfopt_fail_t_a_b_stat'"),
	'0', 'and the statistics object it created is dropped again');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_verifications WHERE index_name LIKE '%perfopt_fail_t_a_b_stat'"),
	'0', 'nothing is verified');

# another table's statistics object takes the name while the job waits
# for a lock: the job fails and leaves that object alone
$node->safe_psql(
	'postgres', q{
SET ROLE app;
CREATE TABLE "Shop".race_t AS
  SELECT g AS id, g % 100 AS a, g % 100 AS b FROM generate_series(1, 100000) g;
ANALYZE "Shop".race_t;
RESET ROLE;
SELECT pg_stat_statements_reset();
});
run_statements($node, 'postgres',
	[ map { "SELECT id FROM \"Shop\".race_t WHERE a = $_ AND b = $_" } 1 .. 5 ], 'SET ROLE app;');
$holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE "Shop".race_t IN SHARE UPDATE EXCLUSIVE MODE');
$report = query_json($node, 'postgres', 'SELECT perfopt_optimize()');
my ($race) = grep { $_->{kind} eq 'create_statistics' && $_->{statement} =~ /race_t/ } @{ $report->{actions} };
ok($race, 'statistics are queued for race_t');
ok(wait_for_job($node, 'postgres', $race->{job_id}, "state = 'queued' AND attempts >= 1"),
	'its job waits for the lock');
$node->safe_psql('postgres',
	'SET ROLE app; CREATE STATISTICS "Shop".perfopt_race_t_a_b_stat (ndistinct) ON a, b FROM "Shop".indep_t');
$holder->query_safe('COMMIT');
$holder->quit;
ok(wait_for_job($node, 'postgres', $race->{job_id}, "state = 'failed' AND last_sqlstate = '42710'"),
	'the job fails: the name is another table\'s object');
is( $node->safe_psql('postgres',
		"SELECT stxrelid::regclass || ' ' || stxowner::regrole FROM pg_statistic_ext WHERE stxname = 'perfopt_race_t_a_b_stat'"),
	'"Shop".indep_t app', 'that object is left as it was');

# the job table refuses a statistics job kind it does not know
my ($state) = sql_error_state($node, 'postgres',
	"INSERT INTO perfopt_jobs (kind, statement) VALUES ('create_statistic', 'x')");
is($state, '23514', 'an unknown job kind violates the check constraint');
($state) = sql_error_state($node, 'postgres',
	"INSERT INTO perfopt_verifications (index_name, planner_uses_index, baseline, object_kind) VALUES ('x', false, '[]', 'stats')");
is($state, '23514', 'an unknown verification object_kind violates the check constraint');

my @problems = perfopt_problem_lines($node, $log_offset,
	[qr/violates check constraint "perfopt_(?:jobs_kind|verifications_object_kind)_check"/]);
is_deeply(\@problems, [], 'no perfopt errors or crashes in the log');
$node->stop;
done_testing();
