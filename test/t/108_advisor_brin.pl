# 108_advisor_brin.pl — BRIN advice (src/advisor/brin.c, candidates.c's
# BRIN candidates, select.c's sel_prefer_brin, describe.c's USING brin):
#   - an append-only table, its time column in the heap's order
#     (correlation 1), read by day-long ranges (BETWEEN, >= AND <, and
#     "> now() - interval"), sampled: the advisor recommends
#     "ON public.events USING brin (at)" and not the btree, far smaller
#     than the btree would be; perfopt_optimize() builds it, its
#     verification sees the planner choose it and confirms it, and the
#     real index's plan costs what the hypothetical one's did;
#   - the same rows in a shuffled heap (correlation ~0), same ranges: a
#     btree, no BRIN, even with a public.pg_stats that claims correlation 1
#     first on the search path (the advisor reads pg_statistic itself);
#   - a point lookup (=) on the ordered column: a btree, never a BRIN;
#   - two-hour ranges, which a block range of 128 pages holds ten times
#     over: the btree (the BRIN would read far more than it keeps), also
#     where the greedy rounds chose the BRIN and not the btree on top;
#   - without samples the generic plan's default range (0.5% of the rows)
#     is smaller than a block range: the btree; the same statements
#     sampled (custom plans over day-long ranges): the BRIN;
#   - a table and column whose names need quoting: the DDL quotes them
#     and builds the BRIN it describes.
use strict;
use warnings;

use IPC::Run;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node(
	'brin',
	interval => 500,
	conf => "perfopt.value_sample_rate = 0\n"
	  . "perfopt.advisor_interval = 0\n"
	  . "max_parallel_workers_per_gather = 0\n"
	  . "pg_stat_statements.track = top\n"
	  . "perfopt.verification_window = '600s'\n"
	  . "perfopt.auto_rollback = on\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
# 300,000 events, one each 10 s up to now, appended in time order; the
# same rows shuffled; a table with names that need quoting, ordered too
$node->safe_psql(
	$db, q{
CREATE TABLE events (
	id bigint NOT NULL,
	at timestamptz NOT NULL,
	device int NOT NULL,
	payload text NOT NULL
);
INSERT INTO events
SELECT i, now() - (300000 - i) * interval '10 seconds', i % 1000, repeat('p', 60)
FROM generate_series(1, 300000) i;
CREATE TABLE shuffled AS SELECT * FROM events ORDER BY random();
CREATE TABLE "Log ""Book""" ("when at" timestamptz NOT NULL, note text NOT NULL);
INSERT INTO "Log ""Book"""
SELECT now() - (300000 - i) * interval '10 seconds', repeat('n', 60)
FROM generate_series(1, 300000) i;
VACUUM ANALYZE events, shuffled, "Log ""Book""";
});
cmp_ok($node->safe_psql($db, "SELECT correlation FROM pg_stats WHERE tablename = 'events' AND attname = 'at'"),
	'>=', 0.95, 'events.at is stored in its order');
cmp_ok(abs($node->safe_psql($db, "SELECT correlation FROM pg_stats WHERE tablename = 'shuffled' AND attname = 'at'")),
	'<', 0.5, 'shuffled.at is not');

sub script
{
	my ($name, $text) = @_;
	my $file = $node->basedir . "/$name.sql";
	open(my $fh, '>', $file) or die;
	print $fh $text;
	close $fh;
	return $file;
}

# day-long ranges over the last 30 days, written three ways
my $days = script('days', <<'EOF');
\set d random(2, 30)
SELECT count(*), avg(device) FROM events WHERE at BETWEEN now() - :d * interval '1 day' AND now() - (:d - 1) * interval '1 day';
SELECT count(*), max(device) FROM events WHERE at >= now() - :d * interval '1 day' AND at < now() - (:d - 1) * interval '1 day';
SELECT count(*), min(device) FROM events WHERE at > now() - interval '1 day';
EOF
my $shuffled_days = script('shuffled_days', <<'EOF');
\set d random(2, 30)
SELECT count(*), avg(device) FROM shuffled WHERE at BETWEEN now() - :d * interval '1 day' AND now() - (:d - 1) * interval '1 day';
EOF
my $points = script('points', <<'EOF');
\set s random(1, 299000)
SELECT count(*) FROM events WHERE at = date_trunc('second', now()) - :s * interval '10 seconds';
EOF
my $hours = script('hours', <<'EOF');
\set h random(2, 300)
SELECT count(*), avg(device) FROM events WHERE at BETWEEN now() - :h * interval '2 hours' AND now() - (:h - 1) * interval '2 hours';
EOF
my $book = script('book', <<'EOF');
\set d random(2, 30)
SELECT count(*) FROM "Log ""Book""" WHERE "when at" BETWEEN now() - :d * interval '1 day' AND now() - (:d - 1) * interval '1 day';
EOF

sub bench
{
	my ($mode, $script, $n) = @_;
	my ($out, $err);
	my $ok = IPC::Run::run(
		[ 'pgbench', '-n', '-M', $mode, '-c', '1', '-t', $n, '-f', $script,
		  '-h', $node->host, '-p', $node->port, $db ],
		'>', \$out, '2>', \$err);
	ok($ok && $out =~ m{number of transactions actually processed: $n/$n}, "pgbench -M $mode $script: $n runs")
	  or diag "$out\n$err";
}

sub set_rate
{
	my ($rate) = @_;
	$node->safe_psql($db, "ALTER SYSTEM SET perfopt.value_sample_rate = $rate; SELECT pg_reload_conf()");
	poll_until(sub { $node->safe_psql($db, 'SHOW perfopt.value_sample_rate') eq $rate }, 30)
	  or die "perfopt.value_sample_rate did not become $rate";
}

# the create_index recommendations' definitions after a fresh workload
# (perfopt_advise()'s report in $last_report)
my $last_report;
sub advise
{
	my (@runs) = @_;
	# the samples forget a reset when the advisor next runs: before the workload
	$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
	$node->safe_psql($db, 'SELECT perfopt_advise()');
	for my $run (@runs)
	{
		if (ref $run eq 'CODE') { $run->(); }
		else { bench(@$run); }
	}
	$last_report = query_json($node, $db, 'SELECT perfopt_advise()');
	return map { $_->{definition} } advisor_recommendations($node, $db, 'create_index');
}

my $brin = 'ON public.events USING brin (at)';
my $btree = 'ON public.events USING btree (at)';

# day-long ranges with literal bounds, "timestamptz $1" once normalized:
# without samples the advisor sees only the generic plan's default range
my @literal_days = map {
	my ($from, $to) = split /\|/,
	  $node->safe_psql($db, "SELECT now() - interval '$_ days', now() - interval '" . ($_ - 1) . " days'");
	"SELECT count(*), avg(device) FROM events WHERE at BETWEEN timestamptz '$from' AND timestamptz '$to'"
} 2 .. 21;
my $literal_run = sub { run_statements($node, $db, \@literal_days) };

# ---- without samples: the generic plan's default range (0.5% of the
# rows) is below a block range, which would hold six times as many
my @defs = advise($literal_run);
note "sampling off: @defs";
ok((grep { $_ eq $btree } @defs), 'sampling off: the generic plan\'s small default range gets the btree');
ok(!(grep { /USING brin/ } @defs), '  and no BRIN');

set_rate(1);

# ---- the same statements sampled: their custom plans see day-long ranges
@defs = advise($literal_run);
note "sampling on, literal day ranges: @defs";
ok((grep { $_ eq $brin } @defs), "sampled day-long ranges: $brin");
ok(!(grep { $_ eq $btree } @defs), '  and not the btree');

# ---- day-long ranges on the ordered column: the BRIN
@defs = advise([ 'extended', $days, 20 ]);
note "day ranges, ordered: @defs";
is($last_report->{candidates}, 2, 'the ordered column has two candidates, the btree and the BRIN');
ok((grep { $_ eq $brin } @defs), "day-long ranges on an append-only column: $brin");
ok(!(grep { $_ eq $btree } @defs), '  and not the btree');
my ($rec) = grep { $_->{definition} eq $brin } advisor_recommendations($node, $db, 'create_index');
SKIP:
{
	skip 'no BRIN recommendation', 5 unless $rec;
	is($rec->{ddl}, "CREATE INDEX CONCURRENTLY perfopt_events_at_brin $brin", '  its DDL');
	like($rec->{reason}, qr/a BRIN index: .*correlation 1\.00/, '  the reason says why a BRIN');
	cmp_ok($rec->{benefit_ms}, '>', 0, '  with a benefit');
	my $heap = $node->safe_psql($db, "SELECT pg_relation_size('events')");
	cmp_ok($rec->{estimated_size_bytes}, '<', $heap / 100, '  and a size of a few pages');
	is(scalar(@{ $rec->{statements} }), 3, '  serving the three range statements');
}

# ---- the same ranges on a shuffled heap: a btree, whatever pg_stats says
$node->safe_psql(
	$db, q{
CREATE VIEW public.pg_stats AS
  SELECT schemaname, tablename, attname, 1::real AS correlation FROM pg_catalog.pg_stats;
ALTER DATABASE postgres SET search_path = public, pg_catalog;
});
@defs = advise([ 'extended', $shuffled_days, 20 ]);
note "day ranges, shuffled: @defs";
ok((grep { $_ eq 'ON public.shuffled USING btree (at)' } @defs), 'shuffled heap: the btree');
ok(!(grep { /USING brin/ } @defs), '  no BRIN, though a public.pg_stats view says correlation 1');
is($last_report->{candidates}, 1, '  not even as a candidate: the btree is the only one');
$node->safe_psql($db, 'ALTER DATABASE postgres RESET search_path; DROP VIEW public.pg_stats');

# ---- point lookups: never a BRIN
@defs = advise([ 'extended', $points, 30 ]);
note "point lookups: @defs";
ok((grep { $_ eq $btree } @defs), 'point lookups on the ordered column: the btree');
ok(!(grep { /USING brin/ } @defs), '  never a BRIN');

# ---- two-hour ranges: a block range holds far more than each keeps
@defs = advise([ 'extended', $hours, 30 ]);
note "two-hour ranges: @defs";
ok((grep { $_ eq $btree } @defs), 'two-hour ranges: the btree');
ok(!(grep { /USING brin/ } @defs), '  not the BRIN, which would read ten times the rows');

# with half the workload's time to save, the greedy rounds take the BRIN
# (it saves more than half and wins per byte) and not the btree on top of
# it (its edge is under half): the BRIN, not nearly as fast, gives way to
# the btree
my ($rc, $out, $err) = $node->psql($db,
	"SET perfopt.min_workload_saving = 50; SET client_min_messages = debug2; SELECT perfopt_advise()");
is($rc, 0, 'advise with perfopt.min_workload_saving = 50');
like($err, qr/perfopt: candidate \d+ replaces \d+ \(BRIN or btree\)/, '  a chosen index was traded for its twin');
@defs = map { $_->{definition} } advisor_recommendations($node, $db, 'create_index');
note "two-hour ranges, a high floor: @defs";
ok((grep { $_ eq $btree } @defs), '  the chosen BRIN gave way to the btree');
ok(!(grep { /USING brin/ } @defs), '  and no BRIN is left');

# ---- names that need quoting
@defs = advise([ 'extended', $book, 20 ]);
note "quoted names: @defs";
my $book_def = q{ON public."Log ""Book""" USING brin ("when at")};
ok((grep { $_ eq $book_def } @defs), "quoted names: $book_def");
my ($brec) = grep { $_->{definition} eq $book_def } advisor_recommendations($node, $db, 'create_index');
SKIP:
{
	skip 'no BRIN recommendation for "Log ""Book"""', 2 unless $brec;
	is( $node->safe_psql($db, "SELECT format('CREATE INDEX CONCURRENTLY %I %s', index_name, definition) "
			  . "FROM perfopt_recommendations WHERE id = $brec->{id}"),
		$brec->{ddl}, '  its DDL quotes the index name too');
	$node->safe_psql($db, $brec->{ddl});
	is( $node->safe_psql(
			$db, q{SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = '"Log ""Book"""'::regclass}),
		$node->safe_psql($db, "SELECT format('CREATE INDEX %I %s', index_name, definition) "
			  . "FROM perfopt_recommendations WHERE id = $brec->{id}"),
		'  and builds the BRIN it describes');
}

# ---- perfopt_optimize() builds the BRIN; verification keeps it
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
$node->safe_psql($db, 'SELECT perfopt_advise()');
bench('extended', $days, 20);
$node->safe_psql($db, 'SELECT perfopt_optimize()');
ok( $node->poll_query_until(
		$db, "SELECT count(*) = 1 FROM perfopt_verifications WHERE index_name LIKE '%perfopt_events_at_brin'"),
	'perfopt_optimize() built the BRIN and its verification started');
my $index = $node->safe_psql($db,
	"SELECT index_name FROM perfopt_verifications WHERE index_name LIKE '%perfopt_events_at_brin'");
is($node->safe_psql($db, "SELECT pg_get_indexdef(to_regclass('$index'))"),
	"CREATE INDEX perfopt_events_at_brin $brin", 'pg_get_indexdef prints the recommendation\'s definition back');
is($node->safe_psql($db, "SELECT planner_uses_index FROM perfopt_verifications WHERE index_name = '$index'"),
	't', 'right after the build, the planner chooses it');
my $plan = query_json($node, $db,
	"EXPLAIN (FORMAT JSON) SELECT count(*) FROM events WHERE at BETWEEN now() - interval '3 days' AND now() - interval '2 days'");
ok((grep { $_ eq 'perfopt_events_at_brin' } plan_index_names($plan)), 'a day-long range uses it');

# the hypothetical BRIN's estimate (brin.c) is the one the real index gets:
# the advisor's cost for the BETWEEN statement over its sampled days and
# the planner's for one such day, now that the BRIN exists
SKIP:
{
	skip 'no BRIN recommendation', 1 unless $rec;
	my ($between) = grep { $_->{query} =~ /BETWEEN/ } @{ $rec->{statements} };
	my $real = plan_total_cost(query_json($node, $db,
		"EXPLAIN (FORMAT JSON) SELECT count(*), avg(device) FROM events "
		  . "WHERE at BETWEEN now() - 5 * interval '1 day' AND now() - 4 * interval '1 day'"));
	note "advisor's cost $between->{cost_after}, the real BRIN's $real";
	cmp_ok(abs($between->{cost_after} / $real - 1), '<', 0.1,
		'the advisor\'s cost with the hypothetical BRIN is within 10% of the real BRIN\'s plan');
}

bench('extended', $days, 10);
$node->safe_psql($db, "ALTER SYSTEM SET perfopt.verification_window = '1s'; SELECT pg_reload_conf()");
ok($node->poll_query_until($db, "SELECT state <> 'observing' FROM perfopt_verifications WHERE index_name = '$index'"),
	'the build was judged');
is($node->safe_psql($db, "SELECT state FROM perfopt_verifications WHERE index_name = '$index'"),
	'confirmed', 'verification confirms the BRIN (not rolled back)');

$node->stop;
done_testing();
