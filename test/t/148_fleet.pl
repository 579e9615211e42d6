# 148_fleet.pl — a fleet: two clusters, each with its own perfopt-httpd,
# and a real Prometheus (Debian's prometheus) that scrapes both shims'
# /metrics with a bearer token read from a file and loads the alerting
# rules one shim serves at /api/v1/performance/prometheus-rules (curled
# into a rule file, as the README's "Many servers" says).  Both clusters
# share a low error-rate threshold; only cluster "a" runs a workload whose
# statements fail often enough to cross it, "b" fails rarely.  Prometheus
# reports both targets up and both instances' series, loads every rule,
# and fires PerfoptApiErrorRateWarning for a's instance only (b's error
# rate is there and below it; the critical level fires for neither), as
# perfopt's own alert opens on a and not on b.  The Grafana dashboard's
# instance variable lists both instances, and each panel's query, with
# one or both chosen, shows just those.  Prometheus, the shims and the
# workloads are stopped at the end, also when the test dies.
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

my $prometheus = (grep { -x "$_/prometheus" } split(/:/, $ENV{PATH} // ''), '/usr/bin')[0];
plan skip_all => 'prometheus is not installed (Debian package prometheus)' unless $prometheus;
$prometheus .= '/prometheus';

my $db = 'postgres';
my $token = 'fleet-reader-token-1234567890';
my $out = PostgreSQL::Test::Utils::tempdir('fleet');
my $http = HTTP::Tiny->new(timeout => 30);

# everything started here, stopped in reverse order at the end or when
# the test dies (PostgreSQL::Test::Cluster stops the clusters after this)
my @procs;

sub stop_all
{
	while (my $p = pop @procs)
	{
		eval {
			$p->signal('TERM');
			$p->finish;
			1;
		} or eval { $p->kill_kill(grace => 5) };
	}
}
END { stop_all(); }

sub write_file
{
	my ($path, $text, $mode) = @_;
	open(my $fh, '>', $path) or die "$path: $!";
	chmod($mode, $path) if defined $mode;
	print $fh $text;
	close $fh;
}

# ---- two clusters, one sample a second, perfopt's alerts after two samples
my (%node, %base);
for my $name ('a', 'b')
{
	my $node = perfopt_node("fleet_$name", interval => 1000,
		conf => "perfopt.advisor_interval = 0\nperfopt.alert_sustained_samples = 2\n");
	$node->start;
	$node->safe_psql(
		$db, q{
CREATE EXTENSION perfopt CASCADE;
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE fleet_reader NOLOGIN IN ROLE pg_monitor;
GRANT fleet_reader TO perfopt_api;
});
	# the fleet's thresholds: 10% of failed statements is a warning
	$node->safe_psql($db,
		q{SELECT perfopt_set_thresholds('{"api": {"errorRate": {"warning": 10, "critical": 90}}}')});
	$node{$name} = $node;
}

# ---- a shim for each, the same reader token on both
my $bin = httpd_bin($node{a});
ok(-x $bin, "perfopt-httpd is installed ($bin)");
my $hash = httpd_hash_token($bin, $token);
for my $name ('a', 'b')
{
	my $node = $node{$name};
	my $tokens = $node->basedir . '/tokens';
	write_file($tokens, "$hash fleet_reader\n", 0600);
	my $shim = httpd_start($node, tokens => $tokens, dbname => $db, args => [ '--pool', '2' ]);
	push @procs, $shim->{h};
	ok(defined $shim->{up}, "shim $name listens on $shim->{address}");
	$base{$name} = $shim->{address};
}
my %instance_of = map { $base{$_} => $_ } keys %base;

# ---- the rules, from a's shim into a rule file
mkdir "$out/rules" or die;
my $r = $http->get("http://$base{a}/api/v1/performance/prometheus-rules",
	{ headers => { Authorization => "Bearer $token" } });
is($r->{status}, 200, 'GET prometheus-rules from shim a: 200');
my $rules = $r->{content};
write_file("$out/rules/perfopt.rules.yml", $rules);
my @alert_names = ($rules =~ /^      - alert: (\w+)$/mg);
ok(scalar(grep { $_ eq 'PerfoptApiErrorRateWarning' } @alert_names), 'the rules have PerfoptApiErrorRateWarning');
my ($errexpr) = $rules =~ /^      - alert: PerfoptApiErrorRateWarning\n        expr: '(.+) >= 0\.1'$/m;
ok(defined $errexpr, '  at the fleet\'s 10%');

# ---- Prometheus: both shims, the token from a file, the rules loaded
write_file("$out/perfopt.token", $token, 0600);
my $config = <<"EOF";
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $out/rules/*.rules.yml
scrape_configs:
  - job_name: perfopt
    authorization:
      credentials_file: $out/perfopt.token
    static_configs:
      - targets: ['$base{a}', '$base{b}']
EOF
write_file("$out/prometheus.yml", $config);
if (grep { -x "$_/promtool" } split(/:/, $ENV{PATH} // ''))
{
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'promtool', 'check', 'config', "$out/prometheus.yml" ], '>', \$o, '2>', \$e);
	is($? >> 8, 0, 'promtool check config: the configuration and its rule file') or diag($o . $e);
}

# the workloads, running until the end (two minutes at least): a fails
# every other statement, b one in two hundred, every 4 s or more (an
# error rate of its own, below 10% in any one-second sample too)
my %script = (
	a => "SELECT 1 / 0;\nSELECT pg_catalog.pg_sleep(0.02);\n" x 6000,
	b => join('', ("SELECT pg_catalog.pg_sleep(0.02);\n" x 199 . "SELECT 1 / 0;\n") x 30));
for my $name ('a', 'b')
{
	my $file = $node{$name}->basedir . '/workload.sql';
	write_file($file, $script{$name});
	push @procs, IPC::Run::start([ 'psql', '-XAtq', '-d', $node{$name}->connstr($db), '-f', $file ],
		'>', '/dev/null', '2>', '/dev/null');
}

my $pport = PostgreSQL::Test::Cluster::get_free_port();
my $papi = "http://127.0.0.1:$pport/api/v1";
push @procs, IPC::Run::start(
	[
		$prometheus, "--config.file=$out/prometheus.yml", "--storage.tsdb.path=$out/data",
		"--web.listen-address=127.0.0.1:$pport"
	],
	'>', "$out/prometheus.log", '2>&1');
my $prom = $procs[-1];

# an API answer's data, or undef
sub api
{
	my ($path, %query) = @_;
	my $url = "$papi/$path";
	$url .= '?' . $http->www_form_urlencode(\%query) if %query;
	my $res = $http->get($url);
	return undef unless $res->{status} == 200;
	my $doc = eval { decode_json($res->{content}) } or return undef;
	return $doc->{status} eq 'success' ? $doc->{data} : undef;
}

# the instances of a query's result
sub instances
{
	my ($data) = @_;
	return sort map { $_->{metric}{instance} // '' } @{ $data->{result} // [] };
}

my @want = sort values %base;
my $deadline = 120;    # generous: a busy machine; it takes seconds otherwise

# (the shims answer /metrics only with a token)
is($http->get("http://$base{$_}/metrics")->{status}, 401, "shim $_: /metrics without a token: 401") for ('a', 'b');
ok( defined poll_until(
		sub {
			my $t = api('targets') or return 0;
			my @up = grep { $_->{health} eq 'up' } @{ $t->{activeTargets} };
			return @up == 2;
		},
		$deadline),
	'Prometheus scrapes both shims, with the token: both targets up')
  or diag(slurp_file("$out/prometheus.log"));

my $groups;
ok( defined poll_until(
		sub {
			$groups = api('rules', type => 'alert') or return 0;
			return @{ $groups->{groups} } > 0;
		},
		$deadline),
	'Prometheus loaded the rules');
my @loaded = map { @{ $_->{rules} } } @{ $groups->{groups} // [] };
is_deeply([ sort map { $_->{name} } @loaded ], [ sort @alert_names ], '  every rule of the file (' . scalar(@loaded) . ')');

my $up;
ok( defined poll_until(
		sub {
			$up = api('query', query => 'perfopt_worker_up') or return 0;
			return join(' ', instances($up)) eq join(' ', @want);
		},
		$deadline),
	"both instances' series: perfopt_worker_up for @want");
is_deeply([ map { $_->{value}[1] } @{ $up->{result} } ], [ 1, 1 ], '  both workers up');

# the error rate the rule compares, per instance: both there (NaN until
# an instance's counters moved between two scrapes), a above 10%, and b
# above 0 once its first error is in the window
sub number { return defined $_[0] && $_[0] =~ /^[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?$/; }
my %rate;
ok( defined poll_until(
		sub {
			my $d = api('query', query => $errexpr) or return 0;
			%rate = map { $instance_of{ $_->{metric}{instance} } => $_->{value}[1] } @{ $d->{result} };
			return number($rate{a}) && number($rate{b}) && $rate{a} >= 0.1 && $rate{b} > 0;
		},
		$deadline),
	'the rule\'s error rate for both instances');
ok($rate{a} >= 0.1, "  a's at or above 10% ($rate{a})");
ok($rate{b} > 0 && $rate{b} < 0.1, "  b's above 0 and below 10% ($rate{b})");

# the rule fires for a, and for a only
my @alerts;
ok( defined poll_until(
		sub {
			my $d = api('alerts') or return 0;
			@alerts = grep { $_->{labels}{alertname} =~ /^PerfoptApiErrorRate/ } @{ $d->{alerts} };
			return grep { $_->{state} eq 'firing' && $_->{labels}{instance} eq $base{a} } @alerts;
		},
		$deadline),
	'PerfoptApiErrorRateWarning fires for a');
my @firing = grep { $_->{state} eq 'firing' } @alerts;
is_deeply([ map { "$_->{labels}{alertname} $instance_of{ $_->{labels}{instance} }" } @firing ],
	['PerfoptApiErrorRateWarning a'], '  the only error-rate alert: the warning, for a');
is_deeply([ grep { $_->{labels}{instance} eq $base{b} } @alerts ], [], '  none for b, not even pending');
my ($fa) = @firing;
is($fa->{labels}{severity}, 'warning', '  severity=warning');
is($fa->{labels}{perfopt_metric}, 'api.errorRate', '  perfopt_metric=api.errorRate');
is($fa->{labels}{job}, 'perfopt', '  job=perfopt');
like($fa->{annotations}{summary}, qr/^api\.errorRate of server on \Q$base{a}\E is at or above its warning threshold 10%$/,
	"  its summary names a's instance");

# ---- the Grafana dashboard against this Prometheus: its instance
# variable lists both instances; every panel's query, with the variable
# set as Grafana sets it (the chosen values, regex-escaped, joined by |),
# shows the chosen instances only
my $dash = decode_json(slurp_file(dirname(__FILE__) . '/../../dashboards/grafana/perfopt.json'));
my ($ivar) = grep { $_->{name} eq 'instance' } @{ $dash->{templating}{list} };
my ($selector) = $ivar->{query}{query} =~ /^label_values\((.+), instance\)$/;
ok(defined $selector, "the dashboard's instance variable: $ivar->{query}{query}");
my $listed = api('label/instance/values', 'match[]' => $selector);
is_deeply([ sort @{ $listed // [] } ], \@want, '  lists both instances');

sub panel_queries
{
	my ($choice) = @_;
	my $re = join('|', map { (my $v = $_) =~ s/([\\^\$.|?*+()\[\]{}])/\\$1/g; $v } @$choice);
	$re = "($re)" if @$choice > 1;
	(my $promql_re = $re) =~ s/\\/\\\\/g;    # in a PromQL string
	my @q;
	for my $p (grep { $_->{type} ne 'row' } @{ $dash->{panels} })
	{
		for my $t (@{ $p->{targets} })
		{
			(my $e = $t->{expr}) =~ s/\$instance\b/$promql_re/g;
			$e =~ s/\$datname\b/.*/g;
			$e =~ s/\$__rate_interval\b/1m/g;
			push @q, [ "$p->{title} $t->{refId}", $e ];
		}
	}
	return @q;
}
for my $choice ([ $base{a} ], [ $base{b} ], [ $base{a}, $base{b} ])
{
	my $names = join(' and ', map { $instance_of{$_} } @$choice);
	my (%seen, @bad);
	for my $q (panel_queries($choice))
	{
		my $d = api('query', query => $q->[1]);
		if (!$d) { push @bad, "$q->[0]: the query failed"; next; }
		# (a sum over the instances, "Open alerts", has no instance label)
		for my $inst (grep { $_ ne '' } instances($d))
		{
			$seen{$inst} = 1;
			push @bad, "$q->[0]: $inst" unless grep { $_ eq $inst } @$choice;
		}
	}
	is_deeply(\@bad, [], "instance $names chosen: every panel's query runs and shows no other instance");
	is_deeply([ sort keys %seen ], [ sort @$choice ], "  and the panels show $names");
}

# perfopt's own alert agrees: open on a, not on b
my $open = q{SELECT pg_catalog.count(*) FROM perfopt_alerts WHERE metric = 'api.errorRate' AND state = 'open'};
ok(defined poll_until(sub { $node{a}->safe_psql($db, $open) > 0 }, $deadline), "perfopt's own alert is open on a");
is($node{b}->safe_psql($db, $open), '0', '  and not on b');

# ---- stop Prometheus, the workloads and the shims
$prom->signal('TERM');
ok($prom->finish, 'Prometheus stops on SIGTERM') or diag(slurp_file("$out/prometheus.log"));
@procs = grep { $_ != $prom } @procs;
stop_all();
$node{$_}->stop for ('a', 'b');
done_testing();
