# 080_missing_sources.pl — with perfopt.procfs_path pointing at a directory
# that lacks meminfo and net/dev (and self/cgroup), sampling goes on: those
# metrics are null, the others are real, and each missing source is logged
# once until it can be read again.
use strict;
use warnings;

use File::Copy qw(copy);
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Scalar::Util qw(looks_like_number);
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir('procfs');
# stat is a link to the live file: CPU shares are computed from the change
# between two readings, and a frozen copy never changes.  loadavg is a copy.
symlink('/proc/stat', "$dir/stat") or die "symlink: $!";
copy('/proc/loadavg', "$dir/loadavg") or die "copy loadavg: $!";
chmod 0755, $dir;
chmod 0644, "$dir/loadavg";
my ($load_1m) = split ' ', slurp_file("$dir/loadavg");

my $node = perfopt_node('procfs', interval => 200, history_interval => 1,
	conf => "perfopt.procfs_path = '$dir'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
is($node->safe_psql('postgres', 'SHOW perfopt.procfs_path'), $dir, 'procfs_path set');
ok(defined wait_for_samples($node, 6), 'samples are taken');

my $m = query_json($node, 'postgres', 'SELECT perfopt_metrics()');
my $sys = $m->{system};
ok(looks_like_number($sys->{cpu_busy_pct} // 'null'),
	'cpu_busy_pct is a number (' . ($sys->{cpu_busy_pct} // 'null') . ')');
ok(looks_like_number($sys->{load_1m} // 'null'), 'load_1m is a number');
cmp_ok($sys->{load_1m}, '==', $load_1m, 'load_1m comes from the copied loadavg');
ok(looks_like_number($sys->{data_disk_used_pct} // 'null'), 'disk metrics unaffected');
for my $k (qw(memory_used_pct memory_used_bytes memory_limit_bytes
	network_rx_bytes_per_second network_tx_bytes_per_second))
{
	ok(!defined $sys->{$k}, "$k is null");
}
ok(looks_like_number($m->{server}{connections_total} // 'null'), 'server metrics unaffected');
is( $node->safe_psql(
		'postgres',
		'SELECT count(*) > 0 AND bool_and(memory_used_pct IS NULL AND network_rx_bytes_per_second IS NULL AND cpu_busy_pct IS NOT NULL) FROM perfopt_samples'
	),
	't',
	'history rows carry the same nulls');

my $prom = $node->safe_psql('postgres', 'SELECT perfopt_metrics_prometheus()');
like($prom, qr/^perfopt_system_cpu_usage_ratio \S+$/m, 'prometheus: cpu present');
unlike($prom, qr/^perfopt_system_memory_utilization_ratio /m, 'prometheus: memory left out');
unlike($prom, qr/^perfopt_system_network_bytes_per_second/m, 'prometheus: network left out');

my $cant = sub { qr/LOG:  perfopt: could not read \Q$dir\E\/\Q$_[0]\E$/ };
my $again = sub { qr/LOG:  perfopt: \Q$dir\E\/\Q$_[0]\E can be read again$/ };
is(log_count($node, $cant->('meminfo')), 1, 'meminfo failure logged exactly once');
is(log_count($node, $cant->('net/dev')), 1, 'net/dev failure logged exactly once');
is(log_count($node, qr/ DETAIL:  Its metrics are null until it can be read\.$/), 2, 'each failure says its metrics are null');
is(log_count($node, qr/could not read \Q$dir\E\/(?:stat|loadavg)/), 0,
	'stat and loadavg read fine');
is(log_count($node, qr/perfopt: sampling failed/), 0, 'no sampling failure');

# meminfo appears: memory comes back, logged once
copy('/proc/meminfo', "$dir/meminfo.tmp") or die "copy meminfo: $!";
rename("$dir/meminfo.tmp", "$dir/meminfo") or die "rename: $!";
ok($node->poll_query_until('postgres',
		"SELECT (perfopt_metrics()->'system'->>'memory_used_pct') IS NOT NULL"),
	'memory_used_pct is a number once meminfo can be read');
my $taken = samples_taken($node);
ok(defined wait_for_samples($node, $taken + 3), 'more samples');
is(log_count($node, $again->('meminfo')), 1, 'recovery of meminfo logged once');
is(log_count($node, $cant->('meminfo')), 1, 'no new meminfo failure line');

# ... and goes away again: logged again, once
unlink "$dir/meminfo" or die "unlink: $!";
ok($node->poll_query_until('postgres',
		"SELECT (perfopt_metrics()->'system'->>'memory_used_pct') IS NULL"),
	'memory_used_pct is null again once meminfo is gone');
$taken = samples_taken($node);
ok(defined wait_for_samples($node, $taken + 3), 'more samples');
is(log_count($node, $cant->('meminfo')), 2, 'the new failure is logged once');
is(log_count($node, $cant->('net/dev')), 1, 'net/dev still logged only once');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');

$node->stop;
done_testing();
