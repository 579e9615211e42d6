# 103_advisor_hypopg.pl — the advisor's what-if costs agree with HypoPG's:
# for each btree recommendation and each statement it serves, the generic
# plan's cost with the same indexes created by hypopg_create_index() is
# within 10% of the statement's cost_after, and without them within 1% of
# its cost_before; and with the indexes built for real, within 10% too.
# Value sampling is off (PerfoptTest's default): the comparison is of
# generic plans; a sampled statement is costed over its values (104).
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('advisor_hypopg',
	conf => "max_parallel_workers_per_gather = 0\npg_stat_statements.track = top\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE; CREATE EXTENSION hypopg');
$node->safe_psql($db, shop_schema_sql());

# btree-served statements over customers and orders, 20 calls each
my @status = qw(new paid shipped done cancelled);
my @shapes = (
	sub { "SELECT * FROM orders WHERE customer_id = " . ($_[0] * 3301 % 100000 + 1) },
	sub { "SELECT * FROM customers WHERE email = 'user" . ($_[0] * 211 + 5) . "\@example.com'" },
	sub { "SELECT * FROM customers WHERE lower(email) = 'user" . ($_[0] * 307 + 9) . "\@example.com'" },
	sub { "SELECT * FROM orders WHERE status = '$status[$_[0] % 5]' ORDER BY created_at DESC LIMIT 20" },
	sub {
		"SELECT o.* FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = 'user"
		  . ($_[0] * 401 + 3) . "\@example.com'";
	},
	sub {
		"SELECT * FROM orders WHERE ref_code IN ("
		  . join(', ', map { sprintf("'R%07d'", ($_[0] * 7 + $_) * 104729 % 1000003) } 1 .. 3) . ')';
	},
	sub { "SELECT * FROM customers ORDER BY created_at DESC LIMIT 10" },
	sub {
		my $day = $_[0] % 9 + 1;
		"SELECT count(*) FROM customers WHERE created_at BETWEEN '2024-02-0$day 01:00:00+00' AND '2024-02-0$day 03:00:00+00'";
	},
	# index-only: the id of a name (a covering (name) INCLUDE (id) or (name))
	sub { "SELECT id FROM customers WHERE name = 'Customer " . ($_[0] * 97 + 1) . "'" },
	# the highest tier of a country (a MIN/MAX subplan: best served by (country, tier))
	sub { "SELECT max(tier) FROM customers WHERE country = 'c" . ($_[0] % 20) . "'" },
	# a range on orders.created_at with a sum of a column
	sub {
		my $day = $_[0] % 9 + 10;
		"SELECT sum(amount) FROM orders WHERE created_at BETWEEN '2024-03-$day 00:00:00+00' AND '2024-03-$day 06:00:00+00'";
	},
);
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
my @stmts;
for my $i (1 .. 20)
{
	push @stmts, map { $_->($i) } @shapes;
}
run_statements($node, $db, \@stmts);

my $summary = query_json($node, $db, 'SELECT perfopt_advise()');
note 'perfopt_advise(): ' . JSON::PP->new->canonical->encode($summary);
my @recs = grep { $_->{definition} =~ /USING btree/ } advisor_recommendations($node, $db, 'create_index');
cmp_ok(scalar(@recs), '>=', 5, 'the advisor recommends btree indexes for the workload');

# the recommended btree indexes by table ("public.orders" -> [definitions])
my %by_table;
for my $r (@recs)
{
	(my $table = $r->{table_name}) =~ s/^.*\.//;
	$table =~ s/"//g;
	push @{ $by_table{$table} }, $r->{definition};
}

my %checked;    # queryid -> [text, cost_after]
my @mismatches;
for my $r (@recs)
{
	for my $st (@{ $r->{statements} })
	{
		my $text = $st->{query};
		next if $checked{ $st->{queryid} };    # a statement's costs: once
		my @tables = grep { $text =~ /\b\Q$_\E\b/ } sort keys %by_table;
		# the definition without CONCURRENTLY and the name: "CREATE INDEX ON ..."
		my @defs = map { @{ $by_table{$_} } } @tables;
		my $hypo = join('', map { "SELECT hypopg_create_index('CREATE INDEX " . s/'/''/gr . "');\n" } @defs);

		my ($with, $err) = generic_plan($node, $db, $text, $hypo);
		if (!$with)
		{
			note "skipped (PREPARE cannot take it): $text: $err";
			next;
		}
		$checked{ $st->{queryid} } = [ $text, $st->{cost_after} ];
		my ($without) = generic_plan($node, $db, $text);
		my $cost_with = plan_total_cost($with);
		my $cost_without = plan_total_cost($without);
		my $after = $st->{cost_after};
		my $before = $st->{cost_before};
		my $line = sprintf('%s [%s]: perfopt %.2f -> %.2f, HypoPG %.2f -> %.2f (after %+.1f%%, before %+.1f%%); plan with: %s',
			$text, join(' + ', map { index_shape($_) } @defs),
			$before, $after, $cost_without, $cost_with,
			100 * ($cost_with - $after) / $after, 100 * ($cost_without - $before) / $before,
			join(', ', plan_index_names($with)) || 'no index');
		note $line;
		# within 10%, or within one cost unit where both plans cost next to
		# nothing (a min/max probe: 0.33 against 0.09 is one btree level)
		ok(abs($cost_with - $after) <= 1.0 || abs($cost_with - $after) / $after <= 0.10,
			"cost_after within 10% (or 1 cost unit) of HypoPG's: $text")
		  or push @mismatches, $line;
		cmp_ok(abs($cost_without - $before) / $before, '<=', 0.01, "cost_before within 1% of the plain generic plan: $text")
		  or push @mismatches, $line;
	}
}
cmp_ok(scalar(keys %checked), '>=', 8, 'the served statements were cross-checked');
diag "mismatches with HypoPG:\n" . join("\n", @mismatches) if @mismatches;

# HypoPG's indexes lived only in those sessions; perfopt's never leak
is( $node->safe_psql($db,
		"SELECT count(*) FROM pg_indexes WHERE tablename IN ('customers', 'orders') AND indexname NOT LIKE '%_pkey'"),
	'0', 'no index was created on the tables');

# The truth: the same indexes built for real (no ANALYZE after, so the
# statistics stay those the advisor saw).  HypoPG estimates an index's size
# its own way; a real index shows whose estimate is closer.
$node->safe_psql($db, $_->{ddl}) for @recs;
@mismatches = ();
for my $qid (sort keys %checked)
{
	my ($text, $after) = @{ $checked{$qid} };
	my ($real) = generic_plan($node, $db, $text);
	my $cost = plan_total_cost($real);
	my $line = sprintf('%s: perfopt %.2f, real indexes %.2f (%+.1f%%)', $text, $after, $cost, 100 * ($cost - $after) / $after);
	note $line;
	cmp_ok(abs($cost - $after) / $after, '<=', 0.10, "cost_after within 10% of the real indexes' plan: $text")
	  or push @mismatches, $line;
}
diag "mismatches with the real indexes:\n" . join("\n", @mismatches) if @mismatches;

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
$node->stop;
done_testing();
