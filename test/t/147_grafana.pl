# 147_grafana.pl — dashboards/grafana/perfopt.json against a real cluster
# and its shim: the dashboard is an importable Grafana JSON model with a
# Prometheus data source variable and an instance variable that every
# query filters on; it has the panels the issue asks for; every metric
# name in its queries (and its variables' queries) is in the shim's real
# /metrics after a workload, an error and an open alert; and every query
# parses (as recording rules through promtool check rules, which does
# reject a broken one).  The exposition's open alerts and score families
# are checked on the way.
use strict;
use warnings;

use File::Basename qw(dirname);
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $top = dirname(__FILE__) . '/../..';
my $file = "$top/dashboards/grafana/perfopt.json";
ok(-f $file, 'the dashboard is in the repository');
my $dash = eval { decode_json(slurp_file($file)) };
ok($dash, 'it is JSON') or diag($@);

# ---- the model
ok($dash->{schemaVersion} >= 39, "a current schema version ($dash->{schemaVersion})");
ok(!defined $dash->{id}, 'no instance-local id: importable');
ok($dash->{uid} && $dash->{title}, "uid $dash->{uid}, title $dash->{title}");
my %vars = map { $_->{name} => $_ } @{ $dash->{templating}{list} };
is($vars{datasource}{type}, 'datasource', 'a data source variable');
is($vars{datasource}{query}, 'prometheus', '  of Prometheus data sources');
is($vars{instance}{type}, 'query', 'an instance variable');
like($vars{instance}{query}{query}, qr/^label_values\(perfopt_\w+, instance\)$/, '  listing the instances perfopt reports');

my @panels = grep { $_->{type} ne 'row' } @{ $dash->{panels} };
my (@exprs, %titles);
for my $p (@panels)
{
	$titles{ $p->{title} } = 1;
	is($p->{datasource}{uid}, '${datasource}', "panel $p->{title}: the data source variable");
	ok(@{ $p->{targets} } > 0, "panel $p->{title}: has queries");
	for my $t (@{ $p->{targets} })
	{
		like($t->{expr}, qr/instance=~"\$instance"/, "panel $p->{title} $t->{refId}: filtered by \$instance");
		push @exprs, $t->{expr};
	}
}
for my $want ('CPU', 'Memory', 'Disks', 'Network', 'Connections', 'Pool utilization', 'Commits per second',
	'Cache hit ratio', 'Statement latency p50 / p95 / p99', 'Error rate', 'Open alerts', 'Performance score',
	'Score parts')
{
	ok($titles{$want}, "a panel \"$want\"");
}
my $latency = join "\n", grep { /perfopt_statement_duration_seconds_bucket/ } @exprs;
like($latency, qr/histogram_quantile\(0\.$_\b/, "statement latency p$_") for qw(5 95 99);

# the variables' queries, as the selectors they list labels of
my @var_exprs;
for my $v (values %vars)
{
	next unless $v->{type} eq 'query';
	my ($sel) = $v->{query}{query} =~ /^label_values\((.+), \w+\)$/ or die "variable $v->{name}";
	push @var_exprs, $sel;
}

# ---- a cluster with a workload, an error and an open alert, and its shim
my $node = perfopt_node('grafana', interval => 200, conf => "perfopt.advisor_interval = 0\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, q{
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
GRANT api_reader TO perfopt_api;
CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g;
});
$node->safe_psql($db, 'SELECT count(*) FROM t WHERE id % 7 = 0') for 1 .. 20;
$node->psql($db, 'SELECT 1 / 0');
# memory always past warning: an alert opens
$node->safe_psql($db, q{SELECT perfopt_set_thresholds('{"memory": {"warning": 0, "critical": 100}}')});

my $bin = httpd_bin($node);
my $token = 'grafana-reader-token-123456';
my $tokens = $node->basedir . '/tokens';
open(my $fh, '>', $tokens) or die;
print $fh httpd_hash_token($bin, $token) . " api_reader\n";
close $fh;
my $shim = httpd_start($node, tokens => $tokens, dbname => $db, args => [ '--pool', '2' ]);
ok(defined $shim->{up}, 'the shim listens');
my $http = HTTP::Tiny->new(timeout => 30);

my @names = map { /\b(perfopt_[a-z0-9_]+)\b/g } @exprs, @var_exprs;
my %need = map { $_ => 1 } @names;
my ($metrics, %have);
ok( defined poll_until(
		sub {
			my $r = $http->get("$shim->{base}/metrics", { headers => { Authorization => "Bearer $token" } });
			return 0 unless $r->{status} == 200;
			$metrics = $r->{content};
			%have = map { /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/ ? ($1 => 1) : () } split /\n/, $metrics;
			return (!grep { !$have{$_} } keys %need)
			  && $metrics =~ /^perfopt_alerts_open\{severity="(?:medium|high)"\} [1-9]/m;
		}),
	'the shim\'s /metrics has every family the dashboard reads, and the open alert');
ok($have{$_}, "/metrics has $_") for sort keys %need;

# the open alerts and the score as the exposition carries them
my %sev = map { $_ => 1 } ($metrics =~ /^perfopt_alerts_open\{severity="(\w+)"\} \d+$/mg);
is_deeply([ sort keys %sev ], [qw(critical high low medium)], 'perfopt_alerts_open: every severity');
my ($score) = $metrics =~ /^perfopt_score ([0-9.]+)$/m;
ok(defined $score && $score >= 0 && $score <= 100, 'perfopt_score: 0 to 100 (' . ($score // 'none') . ')');
my %parts = ($metrics =~ /^perfopt_score_part\{part="(\w+)"\} ([0-9.]+)$/mg);
ok(defined $parts{monitoring} && !grep({ !/^(database|api|monitoring)$/ } keys %parts)
	  && !grep({ $_ < 0 || $_ > 100 } values %parts),
	'perfopt_score_part: the parts by name, 0 to 100 (' . join(', ', map { "$_ $parts{$_}" } sort keys %parts) . ')');
my $out = PostgreSQL::Test::Utils::tempdir('grafana');
open($fh, '>', "$out/metrics.prom") or die;
print $fh $metrics;
close $fh;
my ($o, $e) = ('', '');
IPC::Run::run([ 'promtool', 'check', 'metrics' ], '<', "$out/metrics.prom", '>', \$o, '2>', \$e);
is($? >> 8, 0, 'promtool check metrics passes the exposition with them') or diag($o . $e);

# ---- every query parses: as recording rules, Grafana's variables filled in
sub rules_file
{
	my ($path, @q) = @_;
	open(my $rf, '>', $path) or die;
	print $rf "groups:\n  - name: perfopt_dashboard\n    rules:\n";
	my $i = 0;
	for my $q (@q)
	{
		(my $x = $q) =~ s/\$__rate_interval/5m/g;
		$x =~ s/\$(instance|datname)\b/.+/g;
		$x =~ s/'/''/g;
		$i++;
		print $rf "      - record: perfopt_dashboard:query_$i\n        expr: '$x'\n";
	}
	close $rf;
}
my @all = (@exprs, @var_exprs);
rules_file("$out/dashboard.rules.yml", @all);
($o, $e) = ('', '');
IPC::Run::run([ 'promtool', 'check', 'rules', "$out/dashboard.rules.yml" ], '>', \$o, '2>', \$e);
is($? >> 8, 0, 'promtool check rules: every query of the dashboard parses') or diag($o . $e);
like($o, qr/SUCCESS: ${\ scalar @all} rules found/, '  all ' . scalar(@all) . ' of them');
rules_file("$out/broken.rules.yml", @all, 'sum(rate(perfopt_samples_total[5m])');
($o, $e) = ('', '');
IPC::Run::run([ 'promtool', 'check', 'rules', "$out/broken.rules.yml" ], '>', \$o, '2>', \$e);
isnt($? >> 8, 0, '  (and it does reject a query that does not parse)');

httpd_stop($shim);
$node->stop;
done_testing();
