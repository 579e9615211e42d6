# 126_verify_rollback.pl — after a build perfopt checks that the planner
# chooses the index, then, once perfopt.verification_window has passed,
# judges it: used and faster -> confirmed; unused -> dropped with
# perfopt.auto_rollback on (and its recommendation dismissed for good),
# kept with it off.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('verify', interval => 500,
	conf => "perfopt.advisor_interval = 0\n"
	  # long while the builds and the statements run (a busy machine is
	  # slow), then 1 s: the verdicts follow the new window at once
	  . "perfopt.verification_window = '600s'\n"
	  . "perfopt.auto_rollback = on\n"
	  . "perfopt.min_table_size = '256kB'\n");
$node->start;
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
for my $t ('used_t', 'unused_t', 'kept_t')
{
	$node->safe_psql('postgres',
		"CREATE TABLE $t AS SELECT g AS id, 'k' || g AS k FROM generate_series(1, 100000) g; VACUUM ANALYZE $t");
}

# build one index per table through perfopt_optimize()
sub build_for
{
	my ($t) = @_;
	$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
	run_statements($node, 'postgres', [ map { "SELECT * FROM $t WHERE k = 'k$_'" } 1 .. 20 ]);
	$node->safe_psql('postgres', 'SELECT perfopt_optimize()');
	ok( $node->poll_query_until(
			'postgres',
			"SELECT count(*) = 1 FROM perfopt_verifications WHERE index_name LIKE '%perfopt_${t}_k'"),
		"the index on $t was built and its verification started");
	is( $node->safe_psql('postgres',
			"SELECT planner_uses_index FROM perfopt_verifications WHERE index_name LIKE '%perfopt_${t}_k'"),
		't', "right after the build the planner chooses the index on $t");
}

build_for('used_t');
build_for('unused_t');
# one statement keeps running: its index is scanned and the statement fast
# (after both builds: build_for resets pg_stat_statements, where the
# verdict finds the statement's time after the build; the window is long
# enough for a busy machine until it shrinks below)
run_statements($node, 'postgres', [ map { "SELECT * FROM used_t WHERE k = 'k$_'" } 1 .. 30 ]);

# past the window, a runner visit (a reload makes one) judges both
sleep 2;
$node->safe_psql('postgres', "ALTER SYSTEM SET perfopt.verification_window = '1s'; SELECT pg_reload_conf()");
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 2 FROM perfopt_verifications WHERE state <> 'observing'"),
	'both builds were judged');
is($node->safe_psql('postgres',
		"SELECT state FROM perfopt_verifications WHERE index_name LIKE '%perfopt_used_t_k'"),
	'confirmed', 'the used index is confirmed');
my $used = $node->safe_psql('postgres',
	"SELECT index_scans || ' ' || realized_improvement_ms || ' ' || after FROM perfopt_verifications WHERE index_name LIKE '%perfopt_used_t_k'");
note "used index: $used";
ok($node->safe_psql('postgres',
		"SELECT index_scans > 0 AND realized_improvement_ms > 0 FROM perfopt_verifications WHERE index_name LIKE '%perfopt_used_t_k'") eq 't',
	'with scans and a realized improvement');
is($node->safe_psql('postgres',
		"SELECT state FROM perfopt_verifications WHERE index_name LIKE '%perfopt_unused_t_k'"),
	'rolled_back', 'the unused index is rolled back');
ok( $node->poll_query_until(
		'postgres', "SELECT to_regclass('perfopt_unused_t_k') IS NULL"),
	'and dropped');
is($node->safe_psql('postgres',
		"SELECT status FROM perfopt_recommendations WHERE index_name = 'perfopt_unused_t_k'"),
	'dismissed', 'its recommendation is dismissed for good');
ok($node->safe_psql('postgres', "SELECT to_regclass('perfopt_used_t_k') IS NOT NULL") eq 't',
	'the confirmed index stays');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_history WHERE report ? 'verifications'") > 0,
	1, 'the verdicts are in the reports of the runs that built the indexes');

# a new optimization does not bring the rolled-back index back
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
run_statements($node, 'postgres', [ map { "SELECT * FROM unused_t WHERE k = 'k$_'" } 1 .. 20 ]);
my $report = $node->safe_psql('postgres', "SELECT perfopt_optimize()->'actions'");
unlike($report, qr/perfopt_unused_t_k/, 'perfopt_optimize() does not rebuild a rolled-back index');

# with auto_rollback off, a failed verification keeps the index
$node->safe_psql('postgres', 'ALTER SYSTEM SET perfopt.auto_rollback = off; SELECT pg_reload_conf()');
build_for('kept_t');
sleep 6;
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'failed_kept' FROM perfopt_verifications WHERE index_name LIKE '%perfopt_kept_t_k'"),
	'an unused index is reported but kept with auto_rollback off');
ok($node->safe_psql('postgres', "SELECT to_regclass('perfopt_kept_t_k') IS NOT NULL") eq 't',
	'it still exists');

my @problems = perfopt_problem_lines($node, $log_offset);
is_deeply(\@problems, [], 'no perfopt errors or crashes in the log');
$node->stop;
done_testing();
