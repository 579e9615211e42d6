# 124_jobs_quoting.pl — identifiers that look like SQL cannot inject it:
# tables, columns and a schema named with quotes, spaces, semicolons,
# comment dashes, upper case and non-ASCII letters get recommendations
# whose DDL quotes every identifier (it parses and names exactly the
# right objects), the build and ANALYZE jobs succeed on the right
# objects, failed builds drop their INVALID index by its quoted name
# (after a cancel, and at the restart after an immediate shutdown), and
# nothing else happens (the table x they name is still there).
#
# Names are byte strings here (no "use utf8") and are compared in SQL.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('jobs_quoting',
	conf => "perfopt.advisor_interval = 0\nperfopt.min_table_size = '256kB'\n"
	  . "perfopt.job_lock_timeout = '10min'\npg_stat_statements.track = top\n");
$node->start;
my $capped = limit_node_memory($node, 2 * 1024 * 1024 * 1024);
note $capped ? 'backends capped at 2 GB of address space' : 'prlimit unavailable: no memory cap';
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');

sub qi { my ($n) = @_; return '"' . ($n =~ s/"/""/gr) . '"'; }
sub ql { my ($s) = @_; return "'" . ($s =~ s/'/''/gr) . "'"; }

my $schema = 'Sales Dept; DROP TABLE x --';
# each table: a key column the workload looks up, a value per lookup
my @tables = (
	{
		schema => 'public',
		table => 'Order; DROP TABLE x --',
		column => 'Cust "Id"',
		type => 'int',
		value => sub { $_[0] },
		other => 'Note; DROP TABLE x',
	},
	{
		# long and non-ASCII: the index name is cut (on a character
		# boundary) and gets a hash
		schema => $schema,
		table => "L\xc3\xafne \xc3\x8dtems \xe2\x80\x94 a long name; DROP TABLE x --",
		column => q{SKU's "code"},
		type => 'text',
		value => sub { ql("sku$_[0]") },
		other => 'UPPER case',
	});
my $never = q{Never; ANALYZE'd};

$node->safe_psql($db,
	'CREATE TABLE x (a int); INSERT INTO x VALUES (1); SELECT pg_stat_force_next_flush(); ANALYZE x');
$node->safe_psql($db, 'CREATE SCHEMA ' . qi($schema));
for my $t (@tables)
{
	my $name = qi($t->{schema}) . '.' . qi($t->{table});
	$t->{qualified} = $name;
	my $key = $t->{type} eq 'int' ? '(g * 7919) % 5000' : q{'sku' || (g * 7919) % 5000};
	$node->safe_psql($db,
		"CREATE TABLE $name (id int PRIMARY KEY, " . qi($t->{column}) . " $t->{type} NOT NULL, "
		  . qi($t->{other}) . ' text) WITH (autovacuum_enabled = false);'
		  . " INSERT INTO $name SELECT g, $key, 'row ' || g FROM generate_series(1, 100000) g;"
		  . ' SELECT pg_stat_force_next_flush();'
		  . " VACUUM ANALYZE $name");
}
$node->safe_psql($db,
	'CREATE TABLE ' . qi($schema) . '.' . qi($never) . ' (a int) WITH (autovacuum_enabled = false);'
	  . ' INSERT INTO ' . qi($schema) . '.' . qi($never) . ' SELECT generate_series(1, 5000)');
my $tables_before = $node->safe_psql($db, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND oid >= 16384");

$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
run_statements($node, $db,
	[ map { my $t = $_; map { "SELECT * FROM $t->{qualified} WHERE " . qi($t->{column}) . ' = ' . $t->{value}->($_) } 1 .. 20 } @tables ]);

# ---- the recommendations
$node->safe_psql($db, 'SELECT perfopt_advise()');
# a recommendation's DDL, run without CONCURRENTLY in a subtransaction that
# is rolled back: which index it made, on which table and columns, and
# whether x was still there
$node->safe_psql($db, q{
CREATE FUNCTION try_ddl(ddl text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  result text;
  existing oid[];
BEGIN
  SELECT array_agg(indexrelid) INTO existing FROM pg_index;
  BEGIN
    EXECUTE regexp_replace(ddl, '^CREATE INDEX CONCURRENTLY ', 'CREATE INDEX ');
    SELECT string_agg(format('%I.%I ON %I.%I KEY %I; x %s', n.nspname, c.relname, tn.nspname, t.relname,
                             a.attname, to_regclass('public.x') IS NOT NULL), ' + ')
      INTO result
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace tn ON tn.oid = t.relnamespace
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indexrelid <> ALL (existing);
    RAISE EXCEPTION 'roll back';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  RETURN result;
END
$f$});

for my $t (@tables)
{
	my $where = "r.kind = 'create_index' AND r.table_name = format('%I.%I', "
	  . ql($t->{schema}) . ', ' . ql($t->{table}) . ')';
	is($node->safe_psql($db, "SELECT count(*) FROM perfopt_recommendations r WHERE $where"),
		'1', "one index recommended on $t->{qualified}");
	$t->{where} = $where;
	is( $node->safe_psql($db,
			"SELECT starts_with(r.ddl, format('CREATE INDEX CONCURRENTLY %I ON %I.%I USING btree (%I', r.index_name, "
			  . ql($t->{schema}) . ', ' . ql($t->{table}) . ', ' . ql($t->{column}) . '))'
			  . " FROM perfopt_recommendations r WHERE $where"),
		't', "$t->{qualified}: the DDL quotes the index, schema, table and column");
	note $node->safe_psql($db, "SELECT r.ddl FROM perfopt_recommendations r WHERE $where");
	my ($ret, $out, $err) = $node->psql($db,
		"SELECT try_ddl(r.ddl) = format('%I.%I ON %I.%I KEY %I; x t', "
		  . ql($t->{schema}) . ', r.index_name, ' . ql($t->{schema}) . ', ' . ql($t->{table}) . ', '
		  . ql($t->{column}) . ") FROM perfopt_recommendations r WHERE $where");
	is("$ret|$out", '0|t', "$t->{qualified}: the DDL parses and makes exactly that index on that column")
	  or diag $err, "\n", $node->safe_psql($db, "SELECT try_ddl(r.ddl) FROM perfopt_recommendations r WHERE $where");
}
my $long = $tables[1];
is( $node->safe_psql($db,
		"SELECT octet_length(r.index_name) <= 63 AND r.index_name ~ '_[0-9a-f]{8}\$'"
		  . " AND convert_to(r.index_name, 'UTF8') IS NOT NULL FROM perfopt_recommendations r WHERE $long->{where}"),
	't', 'the long name is cut to 63 bytes and carries a hash');

# ---- failed builds clean up after themselves, whatever the names
# An old snapshot keeps each build waiting ("waiting for old snapshots"):
# the first is cancelled, the second cut by an immediate shutdown; both
# leave an INVALID index the runner must drop by its quoted name.
my $indexes_before = $node->safe_psql($db, 'SELECT array_agg(indexrelid) FROM pg_index');
my $old = $node->background_psql($db);
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class');
$node->safe_psql($db, 'SELECT perfopt_optimize()');
is( $node->safe_psql($db, "SELECT string_agg(kind, ',' ORDER BY id) FROM perfopt_jobs"),
	'create_index,create_index,analyze', 'perfopt_optimize() queues two builds and one ANALYZE');

# the build now waiting for the old snapshot: its job id and index name
sub held_build
{
	my $sql = "SELECT p.id FROM perfopt_jobs_progress p WHERE p.phase = 'waiting for old snapshots'";
	poll_until(sub { $node->safe_psql($db, $sql) ne '' });
	my $id = $node->safe_psql($db, $sql);
	return ($id, $id ne '' ? $node->safe_psql($db, "SELECT index_name FROM perfopt_jobs WHERE id = $id") : '');
}

my ($cancelled, $index) = held_build();
ok($cancelled, "a build waits for the old snapshot: $index");
is(invalid_perfopt_indexes($node, $db), $index, 'its index is there, INVALID');
$node->safe_psql($db,
	"SELECT pg_cancel_backend(runner_pid) FROM perfopt_jobs WHERE id = $cancelled");
ok(wait_for_job($node, $db, $cancelled, "state = 'cancelled'", 30), 'cancelled');
# (the next build, already waiting, has an INVALID index of its own)
ok( defined poll_until(
		sub { $node->safe_psql($db, 'SELECT to_regclass(' . ql($index) . ') IS NULL') eq 't' }, 30),
	"the INVALID index $index is dropped");

my ($interrupted, $index2) = held_build();
ok($interrupted && $interrupted != $cancelled, "the next build waits for the old snapshot: $index2");
$node->stop('immediate');
eval { $old->quit };
$node->start;
limit_node_memory($node, 2 * 1024 * 1024 * 1024);
ok(wait_for_job($node, $db, $interrupted, "state = 'failed' AND last_sqlstate = '57P01'", 30),
	'after the restart the interrupted build is failed');
ok(defined poll_until(sub { invalid_perfopt_indexes($node, $db) eq '' }, 30),
	"the INVALID index $index2 is dropped at the restart")
  or diag 'INVALID: ' . invalid_perfopt_indexes($node, $db);
my ($analyze) = split /\n/, $node->safe_psql($db, "SELECT id FROM perfopt_jobs WHERE kind = 'analyze'");
ok(wait_for_job($node, $db, $analyze, "state = 'succeeded'", 30), 'the ANALYZE job runs after the restart');
is($node->safe_psql($db, 'SELECT count(*) FROM public.x'), '1', 'x is still there');

# ---- the builds, for good
my $run = $node->safe_psql($db, "SELECT perfopt_optimize()->>'run_id'");
my @builds = split /\n/, $node->safe_psql($db, "SELECT id FROM perfopt_jobs WHERE run_id = $run ORDER BY id");
is(scalar(@builds), 2, 'a new run queues both builds again');
for my $id (@builds)
{
	ok(wait_for_job($node, $db, $id, "state = 'succeeded'"), "build job $id succeeds");
}
for my $t (@tables)
{
	my $target = 'format(\'%I.%I\', ' . ql($t->{schema}) . ', ' . ql($t->{table}) . ')';
	is( $node->safe_psql($db,
			"SELECT j.target_table = $target AND j.index_name = format('%I.%I', " . ql($t->{schema})
			  . ', r.index_name) AND j.statement = r.ddl'
			  . ' FROM perfopt_jobs j JOIN perfopt_recommendations r ON r.id = j.recommendation_id'
			  . " WHERE $t->{where} AND j.state = 'succeeded'"),
		't', "$t->{qualified}: the job names the table and the index quoted");
	is( $node->safe_psql($db,
			'SELECT i.indisvalid AND i.indrelid = to_regclass(' . ql($t->{qualified}) . ')'
			  . ' AND a.attname = ' . ql($t->{column})
			  . " AND c.relname = r.index_name AND n.nspname = " . ql($t->{schema})
			  . ' FROM perfopt_recommendations r'
			  . ' JOIN perfopt_jobs j ON j.recommendation_id = r.id'
			  . ' JOIN pg_index i ON i.indexrelid = to_regclass(j.index_name)'
			  . ' JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace'
			  . ' JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]'
			  . " WHERE $t->{where} AND j.state = 'succeeded' AND r.status = 'applied'"),
		't', "$t->{qualified}: the index exists, valid, on $t->{column}, and the recommendation is applied");
}
is( $node->safe_psql($db,
		"SELECT count(*) FROM perfopt_jobs WHERE kind = 'analyze' AND state = 'succeeded'"
		  . " AND statement = 'ANALYZE ' || format('%I.%I', " . ql($schema) . ', ' . ql($never) . ')'
		  . " AND target_table = format('%I.%I', " . ql($schema) . ', ' . ql($never) . ')'),
	'1', "ANALYZE of $never, quoted, succeeded");
is( $node->safe_psql($db,
		"SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = " . ql($never)),
	't', "$never is analyzed");

# ---- nothing else happened
is($node->safe_psql($db, 'SELECT count(*) FROM public.x'), '1', 'the table x is still there, with its row');
is($node->safe_psql($db, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND oid >= 16384"),
	$tables_before, 'no table was created or dropped');
is( $node->safe_psql($db,
		"SELECT count(*) FROM pg_index WHERE indexrelid <> ALL ('$indexes_before'::oid[])"),
	'2', 'exactly the two recommended indexes were built');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
unlike(slurp_file($node->logfile), qr/terminated by signal|TRAP:/, 'no crash');

$node->stop;
done_testing();
