# 109_advisor_scale.pl — the advisor's selection at a few hundred distinct
# statements on one wide table (test/bench/advisor.sh's shape, smaller):
# select.c remembers plan costs across rounds (costcache.c) and plans a
# candidate, or a trade, only when it could still beat the best found.
#   - two runs in one session recommend the same indexes with the same
#     benefits: nothing remembered leaks from one run into the next;
#   - the trade pass still trades chosen indexes for wider ones (a
#     composite among the recommendations);
#   - both runs plan as many times: the greedy rounds' bounds and the
#     remembered costs depend on nothing but the workload;
#   - the costs reported for the statements each index serves are the
#     planner's with those indexes: HypoPG's within 10% (or one cost
#     unit).  costcache.c plans indexes that a statement cannot tell apart
#     (the same first columns and size, the rest not named by it) once: a
#     wrong class would show another index's plan here.
# (That the picks are those of planning everything was checked against
# the build before select.c remembered anything, on the same
# pg_stat_statements data: docs/benchmarks.md.)
use strict;
use warnings;

use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node(
	'advisor_scale',
	conf => "perfopt.advisor_interval = 0\n"
	  . "max_parallel_workers_per_gather = 0\n"
	  . "pg_stat_statements.track = top\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');

my @primes = (997, 991, 983, 977, 971, 967, 953, 947, 941, 937, 929, 919, 911, 907, 887, 883);
my $ncols = scalar @primes;
my $cols = join(', ', map { sprintf('g %% %d AS c%02d', $primes[$_ - 1], $_) } 1 .. $ncols);
$node->safe_psql(
	$db, qq{
CREATE TABLE wide AS SELECT g AS id, $cols FROM generate_series(1, 40000) g;
ALTER TABLE wide ADD PRIMARY KEY (id);
VACUUM ANALYZE wide;
});

# every ordered pair of columns, then triples of the first ten
my @stmts;
for my $i (1 .. $ncols)
{
	for my $j (1 .. $ncols)
	{
		next if $i == $j;
		push @stmts, sprintf('SELECT id FROM wide WHERE c%02d = 1 AND c%02d = 2', $i, $j);
	}
}
for my $i (1 .. 10)
{
	for my $j ($i + 1 .. 10)
	{
		for my $k ($j + 1 .. 10)
		{
			push @stmts,
			  sprintf('SELECT id FROM wide WHERE c%02d = 1 AND c%02d = 2 AND c%02d = 3', $i, $j, $k);
		}
	}
}
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
run_statements($node, $db, \@stmts);

# (the advisor runs themselves stay out of the workload)
my $out = $node->safe_psql($db,
	"SET pg_stat_statements.track = none; SET perfopt.advisor_max_statements = 1000;"
	  . " SELECT perfopt_advise(); SELECT perfopt_advise();");
my @runs = map { JSON::PP::decode_json($_) } grep { /^\{/ } split /\n/, $out;
is(scalar @runs, 2, 'two advisor runs in one session');
note sprintf('run %d: %d analyzed, %d candidates, %d planner calls, %d recommendations, %s ms',
	$_ + 1, $runs[$_]{analyzed}, $runs[$_]{candidates}, $runs[$_]{planner_calls},
	$runs[$_]{recommendations}, $runs[$_]{elapsed_ms})
  for 0 .. $#runs;
cmp_ok($runs[0]{analyzed}, '>=', scalar @stmts, 'every statement of the workload analyzed');
cmp_ok($runs[0]{recommendations}, '>', 0, 'indexes recommended');

my $canon = JSON::PP->new->canonical;
is($canon->encode($runs[1]{actions}), $canon->encode($runs[0]{actions}),
	'the second run recommends the same indexes, with the same benefits and reasons');

my @defs = map { $_->{ddl} } @{ $runs[0]{actions} };
note "recommended:\n  " . join("\n  ", @defs);
ok((grep { /USING btree \(c\d\d, c\d\d/ } @defs), 'a composite among them');

is($runs[1]{planner_calls}, $runs[0]{planner_calls}, 'the same planning in both runs');

$node->safe_psql($db, 'CREATE EXTENSION hypopg');
my @recs = advisor_recommendations($node, $db, 'create_index');
my $hypo = join('', map { "SELECT hypopg_create_index('CREATE INDEX " . ($_->{definition} =~ s/'/''/gr) . "');\n" } @recs);
my (%seen, @served);
for my $r (@recs)
{
	push @served, grep { !$seen{ $_->{queryid} }++ } @{ $r->{statements} };
}
my @costs = generic_plan_costs($node, $db, $hypo, map { $_->{query} } @served);
my @mismatches;
for my $i (0 .. $#served)
{
	my ($after, $cost) = ($served[$i]{cost_after}, $costs[$i]);
	push @mismatches, sprintf('%s: perfopt %.2f, HypoPG %.2f', $served[$i]{query}, $after, $cost)
	  unless abs($cost - $after) <= 1.0 || abs($cost - $after) / $after <= 0.10;
}
cmp_ok(scalar(@served), '>=', 100, 'the statements the indexes serve were cross-checked');
is(join("\n", @mismatches), '', "each one's cost with the indexes is HypoPG's");

$node->stop;
done_testing();
