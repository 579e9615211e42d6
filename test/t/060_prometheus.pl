# 060_prometheus.pl — perfopt_metrics_prometheus() is valid Prometheus text
# exposition (promtool check metrics), carries the headline gauges, and
# escapes database names that users control in the datname label.
use strict;
use warnings;

use IPC::Run;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# names are kept as UTF-8 bytes end to end (no "use utf8")
$ENV{PGCLIENTENCODING} = 'UTF8';

my $node = perfopt_node('prom', interval => 200, history_interval => 1);
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');

# a double quote and a backslash; a space; non-ASCII letters
$node->safe_psql('postgres', q{CREATE DATABASE "we""ird\name"});
$node->safe_psql('postgres', q{CREATE DATABASE "with space"});
my $nonascii = "na\xc3\xafve_donn\xc3\xa9es_\xe6\x97\xa5\xe6\x9c\xac";    # naïve_données_日本
$node->safe_psql('postgres', qq{CREATE DATABASE "$nonascii"});
# PostgreSQL 15 also accepts a line break in a name
$node->safe_psql('postgres', qq{CREATE DATABASE "line\nbreak"});

ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) = 0 FROM pg_database d
		  WHERE d.datallowconn AND NOT d.datistemplate
		    AND NOT perfopt_metrics()->'databases' @> jsonb_build_array(jsonb_build_object('datname', d.datname))}
	),
	'the latest sample lists every database that accepts connections');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM jsonb_array_elements(perfopt_metrics()->'databases') e
		  WHERE e->>'datname' IN ('template0', 'template1')}),
	'0', 'templates are not sampled');

my $text = $node->safe_psql('postgres', 'SELECT perfopt_metrics_prometheus()');
$text =~ s/\n*\z/\n/;
my $file = $node->basedir . '/metrics.prom';
open my $fh, '>:raw', $file or die "could not write $file: $!";
print $fh $text;
close $fh;

my ($out, $err);
my $ok = IPC::Run::run([ 'promtool', 'check', 'metrics' ], '<', $file, '>', \$out, '2>', \$err);
is($? >> 8, 0, 'promtool check metrics exits 0');
is($out . $err, '', 'promtool reports no problem');

for my $g (qw(perfopt_system_cpu_usage_ratio perfopt_system_memory_utilization_ratio
	perfopt_database_pool_utilization_ratio))
{
	like($text, qr/^# TYPE $g gauge$/m, "$g is a gauge");
	my ($v) = $text =~ /^$g ([^\s]+)$/m;
	ok(defined $v && $v =~ /^[0-9.e+-]+$/ && $v >= 0 && $v <= 1,
		"$g has a ratio value (" . ($v // 'none') . ')');
}

# the label values, escaped exactly as the exposition format says
my $weird = 'datname="we\\"ird\\\\name"';    # datname="we\"ird\\name"
like($text, qr/^perfopt_database_backends\{\Q$weird\E\} \d+$/m,
	'quote and backslash escaped in the datname label');
like($text, qr/^perfopt_database_backends\{datname="with space"\} \d+$/m,
	'space kept in the datname label');
like($text, qr/^perfopt_database_backends\{datname="\Q$nonascii\E"\} \d+$/m,
	'non-ASCII name kept as UTF-8 in the datname label');
like($text, qr/^perfopt_database_backends\{datname="line\\nbreak"\} \d+$/m,
	'line break escaped as \\n in the datname label');
like($text, qr/^perfopt_database_backends\{datname="postgres"\} [1-9]\d*$/m,
	'postgres has the worker as a backend');

# every per-database family carries the datname label and nothing else
my @db_lines = grep { /^perfopt_database_(?:backends|commits_per_second|tuples_read_per_second)\b/ }
  split /\n/, $text;
ok(@db_lines >= 3 * 5, 'per-database samples present (' . scalar(@db_lines) . ')');
is(scalar(grep { !/^\w+\{datname="(?:[^"\\]|\\.)*"\} \S+$/ } @db_lines),
	0, 'per-database samples have exactly one well-formed datname label');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');

$node->stop;
done_testing();
