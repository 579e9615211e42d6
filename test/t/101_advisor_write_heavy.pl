# 101_advisor_write_heavy.pl — the advisor weighs an index against the
# writes that would have to maintain it: a rare read on a table with a
# heavy INSERT stream gets no index while the same read on an unwritten
# twin gets one, and an index on a column that UPDATEs set (breaking HOT)
# carries a larger write penalty than one on a column they leave alone.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('advisor_write_heavy',
	conf => "max_parallel_workers_per_gather = 0\npg_stat_statements.track = top\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');

# w_hot and w_cold: the same 100k rows (8 MB), k unique and scrambled.
# u_tab: 100k rows at fillfactor 70, so that its UPDATEs are HOT until an
# index covers the column they set.
my $table_sql = q{
CREATE TABLE %s (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL, u int NOT NULL,
                 pad text NOT NULL DEFAULT repeat('p', 40)) %s;
INSERT INTO %s (id, k, v, u)
SELECT g, (g::bigint * 7919) % 1000003, (g::bigint * 104729) % 1000003, (g::bigint * 15485863) % 1000003
FROM generate_series(1, 100000) g;
};
$node->safe_psql($db,
	    sprintf($table_sql, 'w_hot', '', 'w_hot')
	  . sprintf($table_sql, 'w_cold', '', 'w_cold')
	  . sprintf($table_sql, 'u_tab', 'WITH (fillfactor = 70)', 'u_tab')
	  . 'VACUUM ANALYZE w_hot, w_cold, u_tab;');
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');

# ---- the workload, all recorded after the reset ----
# 200k rows into w_hot: 200 INSERT statements of 1000 rows (one
# pg_stat_statements entry, rows = 200000)
my @stmts;
for my $b (0 .. 199)
{
	my $first = 100001 + $b * 1000;
	push @stmts, 'INSERT INTO w_hot (id, k, v, u) VALUES '
	  . join(', ', map { my $g = $_; sprintf('(%d, %d, %d, %d)', $g, $g * 7919 % 1000003, $g, $g) } $first .. $first + 999);
}
run_statements($node, $db, \@stmts);
my $inserted = $node->safe_psql($db,
	"SELECT sum(rows) FROM pg_stat_statements WHERE query LIKE 'INSERT INTO w_hot%'");
is($inserted, 200000, 'pg_stat_statements recorded the 200k inserted rows');

# the same rare read on both twins: 10 lookups each
@stmts = ();
for my $i (1 .. 10)
{
	push @stmts, "SELECT * FROM w_hot WHERE k = " . ($i * 7919 % 1000003);
	push @stmts, "SELECT * FROM w_cold WHERE k = " . ($i * 7919 % 1000003);
}
run_statements($node, $db, \@stmts);

# u_tab: 2000 rows updated by 20 UPDATEs that set v, each on 100 rows 1000
# ids apart (a few per page, so the pages' free space keeps them HOT), then
# 60 reads by v and 60 reads by u (u is never set): the reads (~60 x 5 ms
# each) outweigh even the v index's upkeep (~2000 x 3 entries x 0.01 ms)
my $updated_rows = 2000;
@stmts = map {
	my $k = $_;
	"UPDATE u_tab SET v = v + 1 WHERE id IN (" . join(', ', map { $_ * 1000 + $k * 7 + 1 } 0 .. 99) . ')'
} 0 .. 19;
run_statements($node, $db, \@stmts);
@stmts = ();
for my $i (1 .. 60)
{
	push @stmts, "SELECT * FROM u_tab WHERE v = " . ($i * 104729 % 1000003);
	push @stmts, "SELECT * FROM u_tab WHERE u = " . ($i * 15485863 % 1000003);
}
run_statements($node, $db, \@stmts);

# the updates' statistics reach pg_stat_user_tables when their backend exits
ok( $node->poll_query_until($db,
		"SELECT n_tup_upd >= $updated_rows FROM pg_stat_user_tables WHERE relname = 'u_tab'"),
	'the updates are counted in pg_stat_user_tables');
my ($upd, $hot) = split /\|/, $node->safe_psql($db,
	"SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'u_tab'");
note "u_tab: $upd updates, $hot of them HOT";
cmp_ok($hot, '>=', $upd * 0.9, 'the updates of u_tab are HOT (fillfactor 70)');

note $node->safe_psql($db,
	q{SELECT calls || ' calls, ' || rows || ' rows, ' || round(total_exec_time::numeric, 1) || ' ms: ' || left(query, 60)
	  FROM pg_stat_statements WHERE query ~ '(w_hot|w_cold|u_tab)' ORDER BY total_exec_time DESC});

# ---- the advice ----
# DEBUG2 shows each candidate's benefit and penalty (printed for w_hot)
my ($ret, $out, $greedy_log) = $node->psql($db, 'SET client_min_messages = debug2; SELECT perfopt_advise()');
is($ret, 0, 'perfopt_advise() succeeds') or die "perfopt_advise() failed: $greedy_log";
my $summary = JSON::PP::decode_json($out);
my $w_hot_oid = $node->safe_psql($db, "SELECT 'w_hot'::regclass::oid");
my %seen;
note 'weighed on w_hot: ' . join('; ', grep { !$seen{$_}++ } $greedy_log =~ /(candidate \d+ on $w_hot_oid: [^\n]*)/g);
note 'perfopt_advise(): ' . JSON::PP->new->canonical->encode($summary);
my %rec = map { index_shape($_->{definition}) => $_ } advisor_recommendations($node, $db, 'create_index');
for my $shape (sort keys %rec)
{
	note sprintf("recommended %s: benefit %.1f ms, write penalty %.1f ms\n    %s",
		$shape, $rec{$shape}{benefit_ms}, $rec{$shape}{write_penalty_ms}, $rec{$shape}{reason});
}

# The rare read saves ~10 sequential scans of w_hot (a few hundred ms);
# an index on w_hot.k would take 200k entries, ~2000 ms at 0.01 ms each.
ok(!$rec{'w_hot(k)'}, 'no index for the rare read on the heavily written table (the writes outweigh it)');
ok(!(grep { /^w_hot\b/ } keys %rec), 'nothing at all on w_hot');
# ... while its twin without writes gets one
ok($rec{'w_cold(k)'}, 'the same read on the unwritten twin gets its index');
is($rec{'w_cold(k)'}{write_penalty_ms} // -1, 0, 'no write penalty where nothing writes');

# u_tab: both reads win their index; the one on v, the column the UPDATEs
# set, costs more to maintain: each of those updates writes a v entry, and
# HOT updates stop being HOT (an entry in every index)
ok($rec{'u_tab(v)'}, 'the read by the updated column gets an index (its reads outweigh the updates)');
ok($rec{'u_tab(u)'}, 'the read by the untouched column gets an index');
SKIP:
{
	skip 'u_tab(v) or u_tab(u) not recommended', 4 unless $rec{'u_tab(v)'} && $rec{'u_tab(u)'};
	my $pv = $rec{'u_tab(v)'}{write_penalty_ms};
	my $pu = $rec{'u_tab(u)'}{write_penalty_ms};
	cmp_ok($pv, '>', $pu, "the updated column's index has the larger write penalty ($pv ms vs $pu ms)");
	cmp_ok($pv, '>=', $updated_rows * 0.01,
		"at least one entry per updated row ($updated_rows rows x 0.01 ms)");
	cmp_ok($pu, '<', $updated_rows * 0.01 * 0.2,
		'the untouched column pays only for the few non-HOT updates');
	like($rec{'u_tab(v)'}{reason}, qr/for \d+ ms of index writes/, 'the reason states the write cost');
}

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
$node->stop;
done_testing();
