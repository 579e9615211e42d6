# 171_value_samples.pl — the value samples (src/advisor/valuestore.c,
# valuecapture.c) on a node whose store holds 20 statements:
#   - more distinct statements than slots: no error, the count stays at
#     most 20, statements are evicted;
#   - the extended protocol (pgbench -M extended and -M prepared, with a
#     constant beside the bind parameter) and the simple one, under
#     concurrent clients: sets are kept, their observations bounded by
#     the reservoir (16 per statement); a statement text over 8 kB too;
#   - perfopt's own processes and statements marked /* perfopt */ are not
#     sampled;
#   - pg_stat_statements_reset(), then an advisor run: nothing is kept;
#   - the server log has no ERROR or WARNING from any of it.
# perfopt_status() shows counts only: the values never leave memory
# (170_no_secrets.pl checks that).
use strict;
use warnings;

use IPC::Run;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node(
	'value_samples',
	conf => "perfopt.value_sample_statements = 20\n"
	  . "perfopt.value_sample_rate = 1\n"
	  . "perfopt.advisor_interval = 0\n");
$node->start;
my $log_start = -s $node->logfile;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');

sub vs { return perfopt_status($node, $db)->{value_samples}; }

my $v = vs();
is($v->{capacity}, 20, 'the store holds perfopt.value_sample_statements = 20 statements');
ok($v->{enabled}, 'sampling is on (rate 1)');
is($v->{statements}, 0, 'nothing kept yet');

# 60 tables, a statement on each: 60 query ids for 20 slots
$node->safe_psql($db,
	q{DO $$ BEGIN FOR i IN 1..60 LOOP EXECUTE format('CREATE TABLE vs_%s (id int PRIMARY KEY, s text)', i); END LOOP; END $$});
run_statements($node, $db, [ map { "SELECT count(*) FROM vs_$_ WHERE id = $_ AND s = 'v$_'" } 1 .. 60 ]);
$v = vs();
cmp_ok($v->{statements}, '<=', 20, "more statements than slots: $v->{statements} kept, at most 20");
cmp_ok($v->{statements}, '>', 0, '  some are kept');
cmp_ok($v->{evicted}, '>', 0, "  the least weighty were evicted ($v->{evicted})");
cmp_ok($v->{offered}, '>=', 60, "  every execution was offered ($v->{offered})");

# the extended protocol under concurrent clients: a bind parameter and a constant
$node->safe_psql($db,
	"CREATE TABLE orders (id int PRIMARY KEY, customer int, status text);"
	  . " INSERT INTO orders SELECT g, g % 100, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'done' END FROM generate_series(1, 10000) g;");
my $script = $node->basedir . '/orders.sql';
open(my $fh, '>', $script) or die;
print $fh "\\set c random_zipfian(1, 100, 1.5)\n"
  . "\\set d :c + 1\n"
  . "SELECT count(*) FROM orders WHERE customer = :c AND status <> 'done';\n"
  # a list of bind parameters and a constant (18 squashes the list and numbers every $n)
  . "SELECT count(*) FROM orders WHERE id IN (:c, :d) AND status = 'open';\n";
close $fh;
for my $mode ('extended', 'prepared', 'simple')
{
	my ($out, $err);
	my $ok = IPC::Run::run(
		[ 'pgbench', '-n', '-M', $mode, '-c', '4', '-j', '2', '-t', '100', '-f', $script,
		  '-h', $node->host, '-p', $node->port, $db ],
		'>', \$out, '2>', \$err);
	ok($ok && $out =~ m{number of transactions actually processed: 400/400},
		"pgbench -M $mode: 4 clients, 800 lookups")
	  or diag "$out\n$err";
}
$v = vs();
cmp_ok($v->{statements}, '<=', 20, "still at most 20 statements ($v->{statements})");
cmp_ok($v->{value_sets}, '>', 0, "value sets are kept ($v->{value_sets})");
cmp_ok($v->{observations}, '<=', 16 * $v->{statements},
	"observations bounded by the reservoirs ($v->{observations} for $v->{statements} statements)");
cmp_ok($v->{value_sets}, '<=', 8 * $v->{statements}, '  and the distinct sets by 8 per statement');
is($v->{skipped}, 0, 'no execution of these was skipped (integers and text)');

# a statement text over 8 kB (a long comment): its shape is kept by length
# and hash rather than copied, and its executions are still sampled
my $long_script = $node->basedir . '/long.sql';
open($fh, '>', $long_script) or die;
print $fh "\\set c random(1, 100)\n"
  . "SELECT count(*) FROM orders WHERE customer = :c /* " . ('padding ' x 1200) . "*/;\n";
close $fh;
my $before = vs();
{
	my ($out, $err);
	my $ok = IPC::Run::run(
		[ 'pgbench', '-n', '-M', 'extended', '-c', '1', '-t', '50', '-f', $long_script,
		  '-h', $node->host, '-p', $node->port, $db ],
		'>', \$out, '2>', \$err);
	ok($ok, 'pgbench -M extended: 50 executions of a 9.6 kB statement') or diag "$out\n$err";
}
$v = vs();
cmp_ok($v->{offered} - $before->{offered}, '>=', 50,
	'  every one was offered: its shape was found by length and hash');
is($v->{skipped} - $before->{skipped}, 0, '  none skipped');

# perfopt's own: the worker's statements and the marker
# (this session's own look at the count has a constant: not sampled at rate 0)
sub taken
{
	return $node->safe_psql($db,
		"SET perfopt.value_sample_rate = 0; SELECT (perfopt_status()->>'samples_taken')::bigint");
}
my $offered = vs()->{offered};
my $taken = taken();
ok(defined poll_until(sub { taken() >= $taken + 5 }), 'the worker samples five times');
$node->safe_psql($db,
	"/* perfopt */ SELECT pg_catalog.count(*) FROM public.orders WHERE customer OPERATOR(pg_catalog.=) 7");
is(vs()->{offered} - $offered, 0, 'neither the worker\'s statements nor one marked /* perfopt */ were offered');

# the reset of pg_stat_statements, then an advisor run: all forgotten
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
$node->safe_psql($db, 'SELECT perfopt_advise()');
is(vs()->{statements}, 0, 'after pg_stat_statements_reset() and an advisor run nothing is kept');

# sampling off by configuration: nothing offered
$node->append_conf('postgresql.conf', "perfopt.value_sample_rate = 0\n");
$node->reload;
ok(defined poll_until(sub { !vs()->{enabled} }), 'a reload with the rate at 0 turns sampling off');
$offered = vs()->{offered};
run_statements($node, $db, [ map { "SELECT count(*) FROM vs_$_ WHERE id = $_" } 1 .. 10 ]);
is(vs()->{offered} - $offered, 0, 'with sampling off nothing is offered');

my @problems = grep { /\b(?:WARNING|ERROR|FATAL|PANIC):|TRAP:|terminated by signal/ } split /\n/,
  slurp_file($node->logfile, $log_start);
is(scalar(@problems), 0, 'the server log has no WARNING or ERROR') or diag join("\n", @problems);

done_testing();
