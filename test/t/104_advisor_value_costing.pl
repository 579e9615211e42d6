# 104_advisor_value_costing.pl — the advisor costs a statement over the
# values the application sent (src/advisor/valuecost.c), not only over its
# generic plan:
#   - items.kind has four values, three of them common and one (9) rare;
#     the application asks only for the rare one.  A generic plan sees
#     "kind = $1" as a quarter of the table (a sequential scan is better
#     than an index); sampled, the statement reads 0.1% of it, and an
#     index on kind is the answer.  With sampling off the advisor does not
#     recommend it, with sampling on it does, over bind parameters
#     (pgbench -M extended) and over constants (the simple protocol);
#   - a queue reads the rare status 'review' in created_at order: sampled,
#     (status, created_at) reads 20 entries where created_at alone walks
#     a hundred times as many; 'review' is the same in every execution
#     (an application constant), so the partial (created_at) WHERE
#     status = 'review' does as well at a hundredth of the size, and
#     either is the answer (107 tests partial indexes);
#   - an hour of created_at, its bounds computed from constants
#     ("timestamptz '...' + (:off + 60) * interval '1 minute'"): normalized,
#     "($2 + $3) * $4" is unknown + unknown, which does not analyze; with
#     samples, a second analysis types the $n whose values all read as
#     numeric literals as the parser types such a literal, and the range
#     gets its index on created_at (without samples it stays skipped);
#   - the values reach no table: the recommendations and the skipped
#     statements of perfopt's tables never hold them, but for that
#     partial index's predicate (docs/security.md).
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node(
	'value_costing',
	conf => "perfopt.value_sample_rate = 0\n"
	  . "perfopt.advisor_interval = 0\n"
	  . "max_parallel_workers_per_gather = 0\n"
	  . "pg_stat_statements.track = top\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, q{
CREATE TABLE items (
	id bigint PRIMARY KEY,
	kind int NOT NULL,
	status text NOT NULL,
	created_at timestamptz NOT NULL,
	payload text NOT NULL
);
INSERT INTO items
SELECT i,
	CASE WHEN i % 1000 = 0 THEN 9 ELSE i % 3 END,
	CASE WHEN i % 100 = 7 THEN 'review' ELSE 'done' END,
	timestamptz '2026-01-01' + i * interval '1 minute',
	repeat('p', 60)
FROM generate_series(1, 200000) i;
VACUUM ANALYZE items;
});

my $rare = $node->basedir . '/rare.sql';
open(my $fh, '>', $rare) or die;
print $fh "\\set k 9\nSELECT * FROM items WHERE kind = :k;\n";
close $fh;
my $range = $node->basedir . '/range.sql';
open($fh, '>', $range) or die;
print $fh "\\set off random(0, 190000)\n"
  . "SELECT sum(kind) FROM items WHERE created_at >= timestamptz '2026-01-01' + :off * interval '1 minute'"
  . " AND created_at < timestamptz '2026-01-01' + (:off + 60) * interval '1 minute';\n";
close $fh;
my $queue = $node->basedir . '/queue.sql';
open($fh, '>', $queue) or die;
print $fh "SELECT id, payload FROM items WHERE status = 'review' ORDER BY created_at LIMIT 20;\n";
close $fh;

sub bench { return pgbench_script($node, $db, @_); }
sub set_rate { return set_value_sample_rate($node, $db, @_); }

# the shapes of the create_index recommendations, after a fresh workload
sub advise
{
	my (@runs) = @_;
	$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
	bench(@$_) for @runs;
	$node->safe_psql($db, 'SELECT perfopt_advise()');
	return map { index_shape($_->{ddl}) } advisor_recommendations($node, $db, 'create_index');
}

# ---- sampling off: the generic plan alone
my @generic = advise([ 'extended', $rare, 30 ], [ 'simple', $queue, 30 ]);
note "sampling off: @generic";
ok(!(grep { /^items\(kind\b/ } @generic), 'sampling off: no index led by kind (a quarter of the table, as the generic plan sees it)');
ok(!(grep { $_ eq 'items(status, created_at)' } @generic), '  and no (status, created_at) for the queue');

# the range's statement: unknown + unknown does not analyze without samples
my @off = advise([ 'simple', $range, 10 ]);
ok(!(grep { /^items\(created_at\b/ } @off), 'sampling off: no index for the range over computed bounds');
like(
	$node->safe_psql($db, q{SELECT string_agg(reason, ' | ') FROM perfopt_advisor_skipped WHERE query LIKE '%sum(kind)%'}),
	qr/not unique|could not determine/,
	'  it is skipped: its normalized bounds ($n + $n) do not analyze');

# ---- sampling on: bind parameters
set_rate(1);
my @bound = advise([ 'extended', $rare, 30 ]);
note "sampling on, bind parameters: @bound";
ok((grep { /^items\(kind\b/ } @bound), 'sampled over bind parameters: an index led by kind');
my ($rec) = grep { index_shape($_->{ddl}) =~ /^items\(kind\b/ } advisor_recommendations($node, $db, 'create_index');
cmp_ok($rec->{benefit_ms} // 0, '>', 0, '  with a benefit');

# ---- sampling on: constants of the simple protocol
my @constants = advise([ 'simple', $queue, 30 ]);
note "sampling on, constants: @constants";
ok( (grep {
			$_ eq 'items(status, created_at)'
			  || $_ =~ /^items\(status, created_at\) INCLUDE/
			  || $_ eq q{items(created_at) WHERE (status = 'review'::text)}
		} @constants),
	'sampled over constants: (status, created_at), or (created_at) WHERE status = \'review\', for the rare status the queue reads');

# ---- sampling on: the range's numeric literals typed as the parser types them
my @typed = advise([ 'simple', $range, 30 ]);
note "sampling on, computed bounds: @typed";
ok((grep { /^items\(created_at\b/ } @typed), 'sampled: the range over computed bounds analyzes and gets an index on created_at');
is($node->safe_psql($db, q{SELECT count(*) FROM perfopt_advisor_skipped WHERE query LIKE '%sum(kind)%'}),
	'0', '  and it is no longer skipped');

# ---- the values stay in memory: no table of perfopt's holds them
my $tables = $node->safe_psql(
	$db, q{
SELECT string_agg(format('%I.%I', n.nspname, c.relname), ' ' ORDER BY c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'perfopt'
WHERE c.relkind = 'r'});
for my $t (split / /, $tables)
{
	# the partial index's predicate aside: a constant every execution shares
	is( $node->safe_psql($db,
			"SELECT count(*) FROM $t x WHERE regexp_replace(x::text, 'WHERE \\(status = ''review''::text\\)', '', 'g')"
			  . " ~ '''review''|= 9\\M'"),
		'0', "$t holds no sampled value");
}

$node->stop;
done_testing();
