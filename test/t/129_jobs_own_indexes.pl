# 129_jobs_own_indexes.pl — perfopt's own bookkeeping of its builds:
#   - a dry run lists exactly what the real run queues from the same state
#     (a dismissed recommendation in neither) and changes nothing;
#   - a verdict comes when the verification window ends, without waiting
#     for the worker's ten-minute visit of every database;
#   - an index perfopt built is dropped once a newer perfopt-built index
#     serves the same lookups and passed its verification; an identical
#     index perfopt did not build stays;
#   - perfopt_advise() is audited; automatic optimization with nothing to
#     do leaves no history or audit row.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('own', interval => 500,
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.verification_window = '8s'\n"
	  . "perfopt.min_table_size = '256kB'\n");
$node->start;
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');

# feed: 100 kinds of 1000 rows each, with a timestamp to read the newest by
for my $t ('feed', 'other')
{
	$node->safe_psql('postgres',
		"CREATE TABLE $t AS SELECT g AS id, 'k' || (g % 100) AS kind,"
		  . " timestamptz '2024-01-01' + g * interval '1 second' AS at, repeat('x', 40) AS pad"
		  . " FROM generate_series(1, 100000) g;"
		  . " SELECT pg_stat_force_next_flush(); VACUUM ANALYZE $t");
}
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
run_statements($node, 'postgres',
	[ map { ("SELECT * FROM feed WHERE kind = 'k$_'", "SELECT * FROM other WHERE kind = 'k$_'") } 1 .. 20 ]);

# ---- the dry run equals the real run
my $advice = query_json($node, 'postgres', 'SELECT perfopt_advise()');
is($advice->{recommendations}, 2, 'two recommendations, one per table');
$node->safe_psql('postgres',
	"SELECT perfopt_dismiss_recommendation(id) FROM perfopt_recommendations WHERE table_name = 'public.other'");
my $planned = "SELECT coalesce(jsonb_agg(a->>'statement' ORDER BY a->>'statement'), '[]')"
  . " FROM x, jsonb_array_elements(x.r->'actions') a";
my $counts = "SELECT (SELECT count(*) FROM perfopt_jobs) || ' ' || (SELECT count(*) FROM perfopt_history)"
  . " || ' ' || (SELECT count(*) FROM perfopt_recommendations WHERE status = 'new')";
my $before = $node->safe_psql('postgres', $counts);
my $dry = query_json($node, 'postgres', "WITH x AS (SELECT perfopt_optimize(true) r) $planned");
is($node->safe_psql('postgres', $counts), $before, 'the dry run changed nothing');
my $real = query_json($node, 'postgres', "WITH x AS (SELECT perfopt_optimize(false) r) $planned");
is_deeply($dry, $real, 'the dry run listed exactly what the real run queued')
  or diag explain { dry => $dry, real => $real };
ok(!grep({ /\bother\b/ } @$real), 'the dismissed recommendation is in neither');
is(scalar(@$real), 1, 'one build queued');

# ---- the verdict comes when the window ends
my ($build) = job_rows($node, 'postgres', "j.kind = 'create_index'");
ok(wait_for_job($node, 'postgres', $build->{id}, "state = 'succeeded'"), 'the build succeeded');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM perfopt_verifications WHERE index_name LIKE '%perfopt_feed_kind'"),
	'its verification started');
# the lookups run again on the new index inside the window
run_statements($node, 'postgres', [ map { "SELECT * FROM feed WHERE kind = 'k$_'" } 1 .. 30 ]);
my $waited = poll_until(
	sub {
		$node->safe_psql('postgres',
			"SELECT count(*) FROM perfopt_verifications WHERE state <> 'observing'") eq '1';
	},
	90);
ok(defined $waited, 'the verdict came without a reload or the ten-minute visit')
  and note sprintf('verdict %.1f s after the build was seen (window 8 s)', $waited);
is($node->safe_psql('postgres',
		"SELECT state FROM perfopt_verifications WHERE index_name LIKE '%perfopt_feed_kind'"),
	'confirmed', 'the index on (kind) is confirmed');

# ---- a newer index of perfopt's own supersedes the older one
$node->safe_psql('postgres', 'CREATE INDEX feed_kind_manual ON feed (kind)');
$node->safe_psql('postgres', 'SELECT pg_stat_statements_reset()');
my $newest = "SELECT * FROM feed WHERE kind = 'k%d' ORDER BY at DESC LIMIT 10";
run_statements($node, 'postgres', [ map { sprintf($newest, $_) } 1 .. 20 ]);
my $report = query_json($node, 'postgres', 'SELECT perfopt_optimize()');
my @composite = grep { $_->{kind} eq 'create_index' } @{ $report->{actions} };
is(scalar(@composite), 1, 'one composite build queued')
  or diag explain $report->{actions};
like($composite[0]{statement} // '', qr/\(kind, at\)/, 'on (kind, at)');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM perfopt_verifications WHERE index_name LIKE '%perfopt_feed_kind_at'"),
	'the composite was built and its verification started');
run_statements($node, 'postgres', [ map { sprintf($newest, $_) } 1 .. 30 ]);
ok( $node->poll_query_until('postgres',
		"SELECT state = 'confirmed' FROM perfopt_verifications WHERE index_name LIKE '%perfopt_feed_kind_at'"),
	'the composite is confirmed');
ok( $node->poll_query_until('postgres',
		"SELECT to_regclass('public.perfopt_feed_kind') IS NULL AND NOT EXISTS"
		  . " (SELECT 1 FROM perfopt_jobs WHERE state IN ('queued', 'running'))"),
	'then the older index perfopt built is dropped');
is($node->safe_psql('postgres', "SELECT to_regclass('public.feed_kind_manual') IS NOT NULL"),
	't', 'the identical index perfopt did not build stays');
is( $node->safe_psql('postgres',
		"SELECT arguments->>'superseded_by' FROM perfopt_audit_log WHERE action = 'drop_superseded_index'"
		  . " AND arguments->>'index' = 'public.perfopt_feed_kind'"),
	'public.perfopt_feed_kind_at', 'the drop is audited');
is( $node->safe_psql('postgres',
		"SELECT report->'superseded'->0->>'index' FROM perfopt_history WHERE id = $report->{run_id}"),
	'public.perfopt_feed_kind', "and named in the report of the run that built the composite");

# ---- audited advice; quiet automatic runs
$node->safe_psql('postgres', 'SELECT perfopt_advise()');
is($node->safe_psql('postgres', "SELECT count(*) > 0 FROM perfopt_audit_log WHERE action = 'advise'"),
	't', 'perfopt_advise() is audited');

my $quiet = perfopt_node('quiet', interval => 500,
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.enable_auto_optimization = on\n"
	  . "perfopt.auto_optimization_interval = '10s'\n");
$quiet->start;
$quiet->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
# a statement the advisor skips: each automatic run rewrites its row
run_statements($quiet, 'postgres', [ 'SELECT 1', 'SELECT 2' ]);
my @seen;
ok( defined poll_until(
		sub {
			my $at = $quiet->safe_psql('postgres', 'SELECT max(seen_at) FROM perfopt_advisor_skipped');
			push @seen, $at if $at ne '' && (!@seen || $seen[-1] ne $at);
			return @seen >= 2;
		},
		90),
	'two automatic runs happened') or diag explain \@seen;
is( $quiet->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM perfopt_history) || \' \' || (SELECT count(*) FROM perfopt_audit_log)'),
	'0 0', 'with nothing to do they wrote no history and no audit row');
$quiet->stop;

my @problems = perfopt_problem_lines($node, $log_offset);
is_deeply(\@problems, [], 'no perfopt errors or crashes in the log');
$node->stop;
done_testing();
