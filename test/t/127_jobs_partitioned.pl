# 127_jobs_partitioned.pl — indexes on partitioned tables.  PostgreSQL 15
# cannot CREATE INDEX CONCURRENTLY on a partitioned table; perfopt creates
# the index ON ONLY the parent, builds it concurrently on each partition
# (ON ONLY again on a sub-partitioned one) and attaches it.
#
# - An unindexed foreign key on a two-level partitioned table (names with
#   spaces, quotes and upper case) is recommended once, on the parent.
# - A partition whose lock another session holds makes the build fail
#   (one attempt allowed): nothing of it remains, attached or not.
# - After a crash in the middle of such a build (its debris planted by
#   hand: the invalid parent index, an attached and an unattached
#   partition index), the runner's recovery removes exactly that debris
#   and keeps an index perfopt did not create.
# - With the lock free the build succeeds: the parent index is valid and
#   every partition has its index attached; the planner uses them.
# - The rollback of such an index (unused after the verification window)
#   drops it: a partitioned index cannot be dropped concurrently, the
#   runner drops it plainly under the job lock timeout.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('jobs_partitioned',
	conf => "perfopt.advisor_interval = 0\nperfopt.min_table_size = '64kB'\n"
	  . "perfopt.job_lock_timeout = '500ms'\nperfopt.job_max_attempts = 1\n"
	  . "perfopt.verification_window = '1h'\nperfopt.auto_rollback = on\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, q{
CREATE SCHEMA "Sales Data";
CREATE TABLE "Sales Data"."Customer" (id int PRIMARY KEY);
INSERT INTO "Sales Data"."Customer" SELECT generate_series(1, 1000);
CREATE TABLE "Sales Data"."Order""s" (id int NOT NULL, "Cust Id" int REFERENCES "Sales Data"."Customer",
                                      region int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE "Sales Data"."Orders 2024" PARTITION OF "Sales Data"."Order""s" FOR VALUES FROM (0) TO (30000);
CREATE TABLE "Sales Data"."Orders 2025" PARTITION OF "Sales Data"."Order""s" FOR VALUES FROM (30000) TO (60000)
  PARTITION BY HASH (region);
CREATE TABLE "Sales Data"."Orders 2025 a" PARTITION OF "Sales Data"."Orders 2025" FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE "Sales Data"."Orders 2025 b" PARTITION OF "Sales Data"."Orders 2025" FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO "Sales Data"."Order""s" SELECT g, 1 + g % 1000, g % 7 FROM generate_series(0, 59999) g;
ANALYZE "Sales Data"."Order""s";
});
my $table = q{"Sales Data"."Order""s"};
my $tree_sql = qq{SELECT count(*) FROM pg_partition_tree('$table'::regclass)};
is($node->safe_psql($db, $tree_sql), '5', 'a partition tree of 5 tables');

# perfopt's indexes anywhere on the tree, with their validity
sub tree_indexes
{
	return $node->safe_psql($db,
		qq{SELECT coalesce(string_agg(c.relname || ':' || i.indisvalid, ', ' ORDER BY c.relname), '')
		   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		   WHERE i.indrelid IN (SELECT relid FROM pg_partition_tree('$table'::regclass))
		     AND c.relname LIKE 'perfopt\\_%'});
}

# ---- the advice: one recommendation, on the parent
$node->safe_psql($db, 'SELECT perfopt_advise()');
my $recs = query_json($node, $db,
	q{SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM perfopt_recommendations r
	  WHERE kind = 'create_index' AND ddl LIKE '%Order%'});
is(scalar(@$recs), 1, 'one create_index recommendation for the order tables');
my $rec = $recs->[0] // {};
like($rec->{ddl} // '', qr/^CREATE INDEX CONCURRENTLY "?perfopt_.+? ON "Sales Data"\."Order""s" USING btree \("Cust Id"\)$/,
	"on the partitioned parent, quoted: $rec->{ddl}");
like($rec->{reason} // '', qr/partitioned.*ON ONLY.*each partition/, 'the reason says how it is built');
cmp_ok($rec->{estimated_size_bytes} // 0, '>', 8192 * 10,
	'its size is estimated from the partitions');

# ---- a partition is locked: the build fails and leaves nothing
my $holder = $node->background_psql($db);
$holder->query_safe(q{BEGIN; LOCK TABLE "Sales Data"."Orders 2025 b" IN SHARE UPDATE EXCLUSIVE MODE});
my $report = query_json($node, $db, 'SELECT perfopt_optimize()');
my ($build) = grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /Order""s/ } @{ $report->{actions} };
ok($build && $build->{job_id}, 'perfopt_optimize() queues the build');
my $job = $build ? $build->{job_id} : 0;
ok(wait_for_job($node, $db, $job, "state = 'failed'"), 'the build fails on the locked partition');
my ($j) = job_rows($node, $db, "j.id = $job");
is($j->{last_sqlstate}, '55P03', 'lock timeout');
my $index_name = $j->{index_name};
is(tree_indexes(), '', 'no perfopt index remains on the tree, attached or not');
$holder->query_safe('ROLLBACK');
$holder->quit;

# ---- crash debris: recovery removes exactly what the interrupted build left
my ($idx_q) = $index_name =~ /^(?:"(?:[^"]|"")*"|[^."]+)\.(.*)$/;
my $idx = $node->safe_psql($db, "SELECT (parse_ident('$index_name'))[2]");
my $leaf1 = q{"Sales Data"."Orders 2024"};
my $leaf2 = q{"Sales Data"."Orders 2025 a"};
my $child1 = $node->safe_psql($db, "SELECT '${idx}_p' || '$leaf1'::regclass::oid");
my $child2 = $node->safe_psql($db, "SELECT '${idx}_p' || '$leaf2'::regclass::oid");
my $child1_q = $node->safe_psql($db, "SELECT quote_ident('$child1')");
my $child2_q = $node->safe_psql($db, "SELECT quote_ident('$child2')");
$node->safe_psql(
	$db, qq{
CREATE INDEX $idx_q ON ONLY $table ("Cust Id");
CREATE INDEX $child1_q ON $leaf1 ("Cust Id");
ALTER INDEX $index_name ATTACH PARTITION "Sales Data".$child1_q;
CREATE INDEX $child2_q ON $leaf2 ("Cust Id");
CREATE INDEX "dba's own" ON $leaf2 (region);
UPDATE perfopt_jobs SET state = 'running', finished_at = NULL WHERE id = $job;
});
is(tree_indexes(), "$idx:false, $child1:true, $child2:true", 'debris: the invalid parent, one attached and one unattached index');
$node->stop('immediate');
$node->start;
ok(wait_for_job($node, $db, $job, "state = 'failed' AND last_sqlstate = '57P01'"),
	'after the crash the job is marked failed');
ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_class WHERE relname LIKE 'perfopt\\_%' AND relnamespace = '\"Sales Data\"'::regnamespace"),
	'the recovery drops the parent index and the unattached partition index');
is(tree_indexes(), '', 'no perfopt index remains on the tree');
is($node->safe_psql($db, q{SELECT count(*) FROM pg_class WHERE relname = 'dba''s own'}), '1',
	'an index perfopt did not create is kept');

# ---- the lock is free: the build succeeds
$report = query_json($node, $db, 'SELECT perfopt_optimize()');
($build) = grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /Order""s/ } @{ $report->{actions} };
ok($build && $build->{job_id}, 'perfopt_optimize() queues the build again');
$job = $build ? $build->{job_id} : 0;
ok(wait_for_job($node, $db, $job, "state = 'succeeded'"), 'the build succeeds');
is($node->safe_psql($db, "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('$index_name')"),
	't', 'the parent index is valid');
is($node->safe_psql($db, "SELECT count(*) FROM pg_partition_tree(to_regclass('$index_name'))"),
	'5', 'every table of the tree has its index in the index tree (attached)');
is( $node->safe_psql($db,
		"SELECT count(*) FROM pg_partition_tree(to_regclass('$index_name')) t JOIN pg_index i ON i.indexrelid = t.relid"
		  . ' WHERE NOT i.indisvalid'),
	'0', 'all of them valid');
is(invalid_perfopt_indexes($node, $db), '', 'no invalid perfopt index');
like(
	$node->safe_psql($db, qq{EXPLAIN (COSTS OFF) SELECT * FROM $table WHERE "Cust Id" = 7}),
	qr/Index Scan|Bitmap Index Scan/,
	'the planner uses the partitions\' indexes');
is($node->safe_psql($db, "SELECT count(*) FROM perfopt_verifications WHERE job_id = $job"),
	'1', 'the build is under verification');

# ---- rollback: unused after the window, the partitioned index is dropped
$node->safe_psql($db,
	"UPDATE perfopt_verifications SET built_at = now() - interval '2 hours' WHERE job_id = $job");
$node->safe_psql($db, 'SELECT pg_reload_conf()');
ok( $node->poll_query_until($db,
		"SELECT state = 'rolled_back' FROM perfopt_verifications WHERE job_id = $job"),
	'the unused index fails its verification');
ok( $node->poll_query_until($db,
		"SELECT count(*) = 1 FROM perfopt_jobs WHERE kind = 'drop_index' AND index_name = '$index_name' AND state = 'succeeded'"),
	'its drop job succeeds');
is(tree_indexes(), '', 'the index and all its partition indexes are gone');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
unlike(slurp_file($node->logfile), qr/terminated by signal|TRAP:/, 'no crash');
$node->stop;
done_testing();
