# 102_advisor_bad_statements.pl — statements the advisor cannot analyze
# any more (a dropped table, a renamed column, a temporary table, a dropped
# role, a dropped extension's operator and function, a typed literal
# the normalized text cannot carry, utility statements) are listed in
# perfopt_advisor_skipped with a reason and never make perfopt_advise()
# fail or crash; very long statements are handled; and 2000+ distinct
# statements at once are analyzed within bounded memory and time.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $db = 'postgres';
my $node = perfopt_node('advisor_bad_statements',
	conf => "pg_stat_statements.max = 10000\npg_stat_statements.track = top\n"
	  . "max_parallel_workers_per_gather = 0\n");
$node->start;
# a runaway advisor backend fails with "out of memory" (4 GB) rather than
# taking the test machine down
my $capped = limit_node_memory($node, 4 * 1024 * 1024 * 1024);
note $capped ? 'backends capped at 4 GB of address space' : 'prlimit unavailable: no memory cap';

$node->safe_psql(
	$db, q{
CREATE EXTENSION perfopt CASCADE;
CREATE EXTENSION citext;
CREATE EXTENSION pg_trgm;
CREATE TABLE keep_t (id int PRIMARY KEY, a int NOT NULL, b text NOT NULL);
INSERT INTO keep_t SELECT g, g % 1000, 'row ' || g FROM generate_series(1, 50000) g;
CREATE TABLE gone_t AS SELECT g AS a FROM generate_series(1, 1000) g;
CREATE TABLE ren_t AS SELECT g AS old_col FROM generate_series(1, 1000) g;
CREATE TABLE trgm_t AS SELECT 'name ' || g AS name FROM generate_series(1, 1000) g;
CREATE TABLE ci_t (id int PRIMARY KEY, email citext NOT NULL);
INSERT INTO ci_t SELECT g, 'User' || g || '@Example.com' FROM generate_series(1, 60000) g;
CREATE TABLE meas (id int NOT NULL, dev int NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE meas_h1 PARTITION OF meas FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE meas_h2 PARTITION OF meas FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
INSERT INTO meas SELECT g, g % 5000, timestamptz '2024-01-01' + g * interval '1 minute' FROM generate_series(1, 200000) g;
CREATE ROLE gone_role;
GRANT SELECT ON keep_t TO gone_role;
VACUUM ANALYZE;
});
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');

# ---- statements that run now and cannot be analyzed later ----
my $in_list = join(', ', 1 .. 20000);
my $wide_list = join(', ', 'a', map { "a + $_" } 1 .. 1599);
run_statements(
	$node, $db,
	[
		'SELECT * FROM gone_t WHERE a = 5',
		'SELECT old_col FROM ren_t WHERE old_col = 3',
		"SELECT * FROM trgm_t WHERE name % 'name 12'",
		"SELECT similarity(name, 'name 7') FROM trgm_t",
		"SELECT a FROM keep_t WHERE a::float8 = float8 '1.5'",
		'VACUUM keep_t',
		'CREATE TABLE util_t (x int)',
		(map { "SELECT * FROM ci_t WHERE email = 'user$_\@example.COM'" } 1 .. 10),
		"SELECT id FROM keep_t WHERE a IN ($in_list)",
		(map { "SELECT * FROM meas WHERE dev = $_" } 1 .. 10),
		"SELECT $wide_list FROM keep_t WHERE id = 42",
	]);
run_statements($node, $db,
	[ 'CREATE TEMP TABLE tmp_t AS SELECT g AS a FROM generate_series(1, 100) g', 'SELECT * FROM tmp_t WHERE a = 1' ]);
run_statements($node, $db, ['SELECT b FROM keep_t WHERE a = 7 AND id > 10'], "SET ROLE gone_role;\n");

# ... and what breaks them
$node->safe_psql(
	$db, q{
DROP TABLE gone_t;
ALTER TABLE ren_t RENAME old_col TO new_col;
DROP EXTENSION pg_trgm;
REVOKE ALL ON keep_t FROM gone_role;
DROP ROLE gone_role;
});

my $long = $node->safe_psql($db,
	"SELECT max(length(query)) FROM pg_stat_statements WHERE query LIKE 'SELECT id FROM keep_t WHERE a IN%'");
# PostgreSQL 18's pg_stat_statements squashes a list of constants to
# IN ($1 /*, ... */): the length of the list is gone from the text, and the
# advisor plans it as one value (a known limitation on 18: it may
# recommend an index for a long list; the verification after a build
# rolls back an index that brings no improvement)
my $squashes = $node->safe_psql($db, 'SHOW server_version_num') >= 180000;
TODO:
{
	local $TODO = 'PostgreSQL 18 squashes IN lists in pg_stat_statements' if $squashes;
	cmp_ok($long, '>', 100_000, "pg_stat_statements keeps the long IN-list text ($long characters)");
}

my $log_offset = -s $node->logfile;
my ($ret, $out, $err) = $node->psql($db, 'SELECT perfopt_advise()');
is($ret, 0, 'perfopt_advise() succeeds over the broken statements') or diag $err;
my $summary = $ret == 0 ? JSON::PP::decode_json($out) : {};
note 'perfopt_advise(): ' . JSON::PP->new->canonical->encode($summary);
cmp_ok($summary->{skipped} // 0, '>=', 10, 'the broken statements are counted as skipped');

my %skipped;
for my $row (split /\n/, $node->safe_psql($db,
	"SELECT left(query, 60) || E'\\t' || reason FROM perfopt_advisor_skipped ORDER BY query"))
{
	my ($q, $reason) = split /\t/, $row, 2;
	note "skipped: $q  =>  $reason";
	$skipped{$q} = $reason;
}

sub skip_reason
{
	my ($prefix) = @_;
	my @hits = grep { index($_, $prefix) == 0 } keys %skipped;
	return @hits ? $skipped{ $hits[0] } : undef;
}

my @cases = (
	[ 'a dropped table',         'SELECT * FROM gone_t WHERE a',                qr/relation "gone_t" does not exist/ ],
	[ 'a renamed column',        'SELECT old_col FROM ren_t',                   qr/column "old_col" does not exist/ ],
	[ 'a temporary table',       'SELECT * FROM tmp_t',                         qr/relation "tmp_t" does not exist|temporary/ ],
	[ 'a dropped role',          'SELECT b FROM keep_t WHERE a = $1 AND id >',  qr/role .*(no longer exists|does not exist)/ ],
	[ "a dropped extension's operator", 'SELECT * FROM trgm_t WHERE name %',    qr/operator does not exist/ ],
	[ "a dropped extension's function", 'SELECT similarity(name',               qr/function similarity\(.*\) does not exist/ ],
	[ 'a typed literal the normalized text cannot carry', 'SELECT a FROM keep_t WHERE a::float8', qr/syntax error|could not/ ],
	# a utility statement keeps only its command tag (pg_stat_statements keeps its literals)
	[ 'VACUUM',                  'VACUUM',                                      qr/utility statement/ ],
	[ 'CREATE TABLE',            'CREATE TABLE',                                qr/utility statement/ ],
);
for my $c (@cases)
{
	my ($what, $prefix, $re) = @$c;
	my $reason = skip_reason($prefix);
	ok(defined $reason, "$what: skipped") and like($reason, $re, "$what: the reason says why");
}

# the statements that still work are analyzed, not skipped
ok(!defined skip_reason('SELECT * FROM ci_t'), "a citext comparison (another extension's type and operator) is analyzed");
my %recs = map { index_shape($_->{definition}) => $_ } advisor_recommendations($node, $db, 'create_index');
note 'recommended: ' . join('; ', sort keys %recs);
ok($recs{'ci_t(email)'}, 'an index is recommended for the citext lookup (citext_ops)');
# The IN list matches 49950 of the 50000 rows: no index can help it.
# (Its generic plan has no hashed IN list, so a sequential scan costs
# 20000 comparisons per row there, 1.25M; the real plans, with
# constants, hash the list and take ~12 ms with or without an index.)
TODO:
{
	local $TODO = 'PostgreSQL 18 squashes IN lists: the advisor plans one value' if $squashes;
	ok(!(grep { /^keep_t\b/ } keys %recs), 'nothing recommended on keep_t for an IN list that matches 99.9% of it')
	  or note explain([ map { { $_ => [ map { "$_->{cost_before} -> $_->{cost_after}, mean $_->{mean_time_ms} ms" } @{ $recs{$_}{statements} } ] } } grep { /^keep_t\b/ } keys %recs ]);
}
# a partitioned table is a user table: the statement is analyzed, or its
# reason names the partitioning, not "reads no user table"
my $part = skip_reason('SELECT * FROM meas');
ok(!defined $part || $part !~ /reads no user table/,
	'a statement over a partitioned table is not dismissed as reading no user table')
  or diag "skipped: $part";
my %long = ('the 20000-element IN list' => 'SELECT id FROM keep_t WHERE a IN', 'the 1600-column select list' => 'SELECT a, a + $1');
for my $what (sort keys %long)
{
	my $reason = skip_reason($long{$what});
	ok(!defined $reason, "$what is analyzed") or diag "skipped: $reason";
}

my @problems = perfopt_problem_lines($node, $log_offset);
is(join("\n", @problems), '', 'no perfopt errors in the log');
unlike(log_since($node, $log_offset), qr/terminated by signal|TRAP:|PANIC/, 'no crash');

# ---- 2450 distinct statements at once ----
# wide_t: 50 int columns, 20k rows (4.7 MB); "SELECT c<i> FROM wide_t
# WHERE c<j> = <const>" for every i != j: 2450 statement shapes, one call each
my $cols = join(', ', map { "c$_ int NOT NULL" } 1 .. 50);
my $vals = join(', ', map { "(g * " . (7919 + 2 * $_) . ") % " . (1000 + 37 * $_) } 1 .. 50);
$node->safe_psql($db,
	"CREATE TABLE wide_t (id int PRIMARY KEY, $cols); INSERT INTO wide_t SELECT g, $vals FROM generate_series(1, 20000) g; VACUUM ANALYZE wide_t;"
);
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
my @many;
for my $i (1 .. 50)
{
	for my $j (grep { $_ != $i } 1 .. 50)
	{
		push @many, "SELECT c$i FROM wide_t WHERE c$j = $i";
	}
}
my $t0 = time;
run_statements($node, $db, \@many);
note sprintf('%d statements ran in %.1f s', scalar(@many), time - $t0);
my $distinct = $node->safe_psql($db, "SELECT count(*) FROM pg_stat_statements WHERE query LIKE 'SELECT c% FROM wide_t%'");
cmp_ok($distinct, '>=', 2000, "pg_stat_statements holds $distinct distinct statements");

$log_offset = -s $node->logfile;
$t0 = time;
($ret, $out, $err) = $node->psql(
	$db,
	"SET perfopt.advisor_max_statements = 5000; SET statement_timeout = '90s';\n"
	  . "SELECT perfopt_advise();\n"
	  . "SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\\s*(\\d+)')");
my $wall = time - $t0;
is($ret, 0, 'perfopt_advise() completes over ' . scalar(@many) . ' distinct statements')
  or diag sprintf('after %.1f s: %s', $wall, $err);
SKIP:
{
	skip 'perfopt_advise() failed', 4 if $ret != 0;
	my ($json, $peak_kb) = split /\n/, $out;
	my $many = JSON::PP::decode_json($json);
	note 'perfopt_advise() over many statements: ' . JSON::PP->new->canonical->encode({ %$many, ddl => scalar(@{ $many->{ddl} }) });
	note sprintf('advise: elapsed_ms %s, %.1f s wall, backend peak RSS %d MB',
		$many->{elapsed_ms}, $wall, $peak_kb / 1024);
	cmp_ok($many->{analyzed}, '>=', scalar(@many), 'every distinct statement is analyzed');
	cmp_ok($many->{planner_calls}, '>', $many->{analyzed}, "planner_calls reported ($many->{planner_calls})");
	ok(defined $many->{elapsed_ms}, "elapsed_ms reported ($many->{elapsed_ms} ms)");
	cmp_ok($peak_kb, '<', 2 * 1024 * 1024, 'the advising backend stays under 2 GB resident');
}

is(join("\n", perfopt_problem_lines($node, $log_offset)), '', 'no perfopt errors in the log');
unlike(log_since($node, $log_offset), qr/terminated by signal|TRAP:|PANIC/, 'no crash');

# a statement_timeout (or a cancel) that lands while a statement is being
# analyzed or planned ends the whole call; it is not that statement's error
my ($state, $msg) = sql_error_state($node, $db,
	"SET perfopt.advisor_max_statements = 5000; SET statement_timeout = '100ms'; SELECT perfopt_advise();");
is($state, '57014', "statement_timeout ends perfopt_advise() over many statements: $msg");
unlike($node->safe_psql($db, "SELECT string_agg(DISTINCT reason, '; ') FROM perfopt_advisor_skipped"),
	qr/cancel|timeout/, 'no statement is recorded as skipped because of the timeout');

$node->stop;
done_testing();
