# 146_prometheus_rules.pl — perfopt_prometheus_rules() and GET
# /api/v1/performance/prometheus-rules: the thresholds in effect as
# Prometheus alerting rules.  promtool check rules is clean; every series a
# rule reads is one the real exposition has; the "for:" follows the
# sampling interval, perfopt.alert_sustained_samples and perfopt.alert_dwell
# (also after a reload); promtool test rules with synthetic series shows
# each rule firing exactly at its threshold (the gauges: a value written as
# the exporter writes it) or inside the bucket past it (statement
# latency), not below it, and not before its "for:"; a rules file with a
# threshold moved fails those unit tests.  The shim: 200 as YAML with the
# function's text, 403 for a role without pg_monitor, 304 with its ETag
# and a new ETag after the thresholds change, 400 for a query argument
# that is not UTF-8, 405 for POST.
use strict;
use warnings;

use CPAN::Meta::YAML;
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use List::Util qw(max);
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $db = 'postgres';
my $interval_ms = 15000;
my $node = perfopt_node('rules', interval => $interval_ms, alert_dwell => 60,
	conf => "perfopt.advisor_interval = 0\nperfopt.alert_sustained_samples = 3\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, q{
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE rules_reader LOGIN IN ROLE pg_monitor;
CREATE ROLE rules_plain LOGIN;
GRANT rules_reader, rules_plain TO perfopt_api;
});

my $out = PostgreSQL::Test::Utils::tempdir('rules');

sub run_promtool
{
	my (@args) = @_;
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'promtool', @args ], '>', \$o, '2>', \$e);
	return ($? >> 8, $o . $e);
}

sub write_file
{
	my ($path, $text) = @_;
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh $text;
	close $fh;
}

# ---- the real exposition: the statement latency rows appear once statements ran
$node->safe_psql($db, 'SELECT pg_catalog.count(*) FROM pg_catalog.pg_class') for 1 .. 5;
my $exposition;
ok( defined poll_until(
		sub {
			$exposition = $node->safe_psql($db, 'SELECT perfopt_metrics_prometheus()');
			# the rates and ratios over an interval come with the second sample
			return $exposition =~ /^perfopt_statement_duration_seconds_bucket\{/m
			  && $exposition =~ /^perfopt_system_cpu_usage_ratio /m
			  && $exposition =~ /^perfopt_system_network_bytes_per_second\{/m
			  && $exposition =~ /^perfopt_database_cache_hit_ratio\{/m;
		}),
	'the exposition has statement latency and a sample');
my %exported;
for my $line (split /\n/, $exposition)
{
	$exported{$1} = 1 if $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/;
}
my @le = sort { $a <=> $b } grep { $_ ne '+Inf' } keys %{
	{ map { $_ => 1 } ($exposition =~ /^perfopt_statement_duration_seconds_bucket\{[^}]*le="([^"]+)"/mg) } };
ok(@le >= 8, 'the exposition has the latency buckets: ' . join(' ', @le));

# the latency thresholds on bucket bounds: W = le[k], C = le[k+2]
my ($k) = grep { $le[$_] >= 0.25 } 0 .. $#le;
ok(defined $k && $k >= 2 && $k + 3 <= $#le, "a bucket bound for the latency thresholds ($le[$k] s)");
my ($lw, $lc) = ($le[$k] * 1000, $le[$k + 2] * 1000);

# ---- thresholds of the test's own, every pair on
my %th = (
	cpu => [ 65, 85.5 ],
	memory => [ 81, 96 ],
	'disk.utilization' => [ 75, 90 ],
	'database.connectionUtilization' => [ 70, 90 ],
	'database.queryTime' => [ $lw, $lc ],
	'database.cacheHitRatio' => [ 90, 70 ],
	'api.responseTime' => [ $lw, $lc ],
	'api.errorRate' => [ 4, 20 ],
	'network.receiveBytesPerSecond' => [ 1000000, 5000000 ],
	'network.transmitBytesPerSecond' => [ 2000000, 8000000 ],);
my %doc;
for my $path (keys %th)
{
	my ($g, $n) = split /\./, $path;
	my $pair = { warning => $th{$path}[0], critical => $th{$path}[1] };
	if (defined $n) { $doc{$g}{$n} = $pair; }
	else { $doc{$g} = $pair; }
}
my $docjson = encode_json(\%doc);
$node->safe_psql($db, "SELECT perfopt_set_thresholds('$docjson')");

# ---- the function: who may call it
is(psql_as($node, $db, 'rules_reader', 'SELECT perfopt_prometheus_rules() IS NOT NULL'),
	't', 'a pg_monitor role reads the rules');
my ($state) = sql_error_state($node, $db,
	"SET ROLE rules_plain; SELECT perfopt_prometheus_rules()");
is($state, '42501', 'a role without pg_monitor: 42501');

my $rules_text = psql_as($node, $db, 'rules_reader', 'SELECT perfopt_prometheus_rules()');
my $rules_file = "$out/perfopt.rules.yml";
write_file($rules_file, "$rules_text\n");

my ($rc, $msg) = run_promtool('check', 'rules', $rules_file);
is($rc, 0, 'promtool check rules exits 0') or diag($msg);
like($msg, qr/SUCCESS: 20 rules found/, 'twenty rules: a warning and a critical per threshold');
unlike($msg, qr/WARNING|FAILED/i, 'promtool reports no problem');

my $yaml = CPAN::Meta::YAML->read_string($rules_text) or die CPAN::Meta::YAML->errstr;
my @rules = @{ $yaml->[0]{groups}[0]{rules} };
is(scalar @rules, 20, 'twenty rules in the group');

# the for: of perfopt's own alerts: the sustained_samples-th sample in a
# row, and no sooner than a fifth of the dwell
sub want_for
{
	my ($samples, $dwell) = @_;
	my $ms = max(($samples - 1) * $interval_ms, $dwell * 1000 / 5);
	return $ms % 60000 == 0 && $ms > 0 ? ($ms / 60000) . 'm' : ($ms / 1000) . 's';
}
my $for = want_for(3, 60);
my %by_name;
for my $r (@rules)
{
	$by_name{ $r->{alert} } = $r;
	my $level = $r->{alert} =~ /Critical$/ ? 'critical' : 'warning';
	is($r->{labels}{severity}, $level, "$r->{alert}: severity=$level");
	is($r->{for}, $for, "$r->{alert}: for $for");
	ok(defined $th{ $r->{labels}{perfopt_metric} }, "$r->{alert}: names perfopt's metric $r->{labels}{perfopt_metric}");
	like($r->{annotations}{summary}, qr/\Q$r->{labels}{perfopt_metric}\E .*\{\{ \$labels\.instance \}\}/,
		"$r->{alert}: the summary names the metric and the target");
	my $v = $th{ $r->{labels}{perfopt_metric} }[ $level eq 'warning' ? 0 : 1 ];
	like($r->{annotations}{summary}, qr/ \Q$v\E( ms|%| B\/s)"?$/, "$r->{alert}: the summary says the threshold $v");
	for my $series ($r->{expr} =~ /\b(perfopt_[a-z0-9_]+)/g)
	{
		ok($exported{$series}, "$r->{alert}: perfopt exports $series");
	}
}

# ---- promtool test rules: synthetic series at, below and past each threshold
my $steps = 200;    # 5 s each
my @series;

sub series
{
	my ($name, $labels, $values) = @_;
	my $l = join(',', map { qq{$_="$labels->{$_}"} } sort keys %$labels);
	push @series, { series => "$name\{$l\}", values => $values };
}
sub ratio { return sprintf('%.10g', $_[0] * 0.01); }
sub flat { return "$_[0]+0x$steps"; }

# per gauge: instance => value, and which instances each level fires for
my %cases;
sub gauge_cases
{
	my ($path, $name, $extra, $conv, $step) = @_;
	my ($w, $c) = @{ $th{$path} };
	my $low = $w > $c;    # lower is worse
	my $d = $low ? -$step : $step;
	my %at = (
		below => $w - $d,
		at => $w,
		critbelow => $c - $d,
		crit => $c);
	series($name, { instance => $_, job => 'perfopt', %$extra }, flat($conv->($at{$_}))) for sort keys %at;
	$cases{$path} = { labels => $extra, warning => [qw(at critbelow crit)], critical => ['crit'] };
}
gauge_cases('cpu', 'perfopt_system_cpu_usage_ratio', {}, \&ratio, 0.01);
gauge_cases('memory', 'perfopt_system_memory_utilization_ratio', {}, \&ratio, 0.01);
gauge_cases('disk.utilization', 'perfopt_system_disk_utilization_ratio', { filesystem => 'wal' }, \&ratio, 0.01);
gauge_cases('database.connectionUtilization', 'perfopt_database_pool_utilization_ratio', {}, \&ratio, 0.01);
gauge_cases('database.cacheHitRatio', 'perfopt_database_cache_hit_ratio', { datname => 'shop' }, \&ratio, 0.01);
gauge_cases('network.receiveBytesPerSecond', 'perfopt_system_network_bytes_per_second',
	{ direction => 'receive' }, sub { sprintf('%.10g', $_[0]) }, 1);
gauge_cases('network.transmitBytesPerSecond', 'perfopt_system_network_bytes_per_second',
	{ direction => 'transmit' }, sub { sprintf('%.10g', $_[0]) }, 1);

# statement latency: per instance, the bucket index its statements fall
# in (per 5 s, 100 statements over two databases); "tail": 92% fast and
# 8% past critical, so its 90th percentile is fine and its 95th is not
my %lat = (
	below => [ [ $k, 100 ] ],
	at => [ [ $k + 1, 100 ] ],
	critbelow => [ [ $k + 2, 100 ] ],
	crit => [ [ $k + 3, 100 ] ],
	tail => [ [ $k - 1, 92 ], [ $k + 3, 8 ] ],);
for my $inst (sort keys %lat)
{
	for my $dat ('shop', 'crm')
	{
		my %labels = (instance => $inst, job => 'perfopt', datname => $dat);
		for my $b (0 .. $#le, 'inf')
		{
			my $inc = 0;
			for my $part (@{ $lat{$inst} })
			{
				$inc += $part->[1] / 2 if $b eq 'inf' || $b >= $part->[0];
			}
			series('perfopt_statement_duration_seconds_bucket',
				{ %labels, le => $b eq 'inf' ? '+Inf' : $le[$b] }, "0+${inc}x$steps");
		}
		series('perfopt_statement_duration_seconds_count', \%labels, "0+50x$steps");
	}
}
$cases{'database.queryTime'} = { labels => {}, warning => [qw(at critbelow crit)], critical => ['crit'] };
$cases{'api.responseTime'} = { labels => {}, warning => [qw(at critbelow crit tail)], critical => [qw(crit tail)] };

# the error rate: errors per 5 s against 100 statements that did not fail
my %errors = (below => 4, at => 5, critbelow => 24, crit => 26, tail => 0);
for my $inst (sort keys %errors)
{
	series('perfopt_statement_errors_total', { instance => $inst, job => 'perfopt', datname => $_ },
		'0+' . ($errors{$inst} / 2) . "x$steps")
	  for ('shop', 'crm');
}
ok(4 / 104 < 0.04 && 5 / 105 >= 0.04 && 24 / 124 < 0.2 && 26 / 126 >= 0.2, 'the error rates straddle the thresholds');
$cases{'api.errorRate'} = { labels => {}, warning => [qw(at critbelow crit)], critical => ['crit'] };

# the expected alerts of each rule, their templates filled in as Prometheus would
sub fill
{
	my ($text, $labels) = @_;
	$text =~ s/\{\{ \$labels\.(\w+) \}\}/$labels->{$1}/g;
	return $text;
}
my (@early, @late);
my $for_s = $for =~ /^(\d+)m$/ ? $1 * 60 : ($for =~ /^(\d+)s$/)[0];
for my $r (@rules)
{
	my $level = $r->{labels}{severity};
	my $case = $cases{ $r->{labels}{perfopt_metric} } or die "no case for $r->{alert}";
	my @want;
	for my $inst (sort @{ $case->{$level} })
	{
		my %l = (instance => $inst, job => 'perfopt', %{ $case->{labels} });
		my %rl = map { $_ => fill($r->{labels}{$_}, \%l) } keys %{ $r->{labels} };
		push @want, {
			exp_labels => { %l, %rl },
			exp_annotations => { map { $_ => fill($r->{annotations}{$_}, \%l) } keys %{ $r->{annotations} } },
		};
	}
	# before the for: has passed, nothing fires; well after it, exactly these
	push @early, { eval_time => ($for_s - 5) . 's', alertname => $r->{alert}, exp_alerts => [] };
	push @late, { eval_time => '10m', alertname => $r->{alert}, exp_alerts => \@want };
}
my $unit = {
	rule_files => ['perfopt.rules.yml'],
	evaluation_interval => '5s',
	tests => [ { interval => '5s', input_series => \@series, alert_rule_test => [ @early, @late ] } ],
};
# JSON is YAML
write_file("$out/perfopt.rules.test.yml", JSON::PP->new->canonical->pretty->encode($unit));
($rc, $msg) = run_promtool('test', 'rules', "$out/perfopt.rules.test.yml");
is($rc, 0, 'promtool test rules: every rule fires at its threshold, not below it, not before its for:')
  or diag($msg);

# the unit tests see a threshold moved by a hair
my $moved = $rules_text;
my $cpu_w = ratio(65);
ok($moved =~ s/perfopt_system_cpu_usage_ratio >= \Q$cpu_w\E'/perfopt_system_cpu_usage_ratio >= ${cpu_w}01'/,
	'a copy of the rules with cpu warning a hair higher');
mkdir "$out/moved";
write_file("$out/moved/perfopt.rules.yml", "$moved\n");
write_file("$out/moved/perfopt.rules.test.yml", JSON::PP->new->canonical->encode($unit));
($rc, $msg) = run_promtool('test', 'rules', "$out/moved/perfopt.rules.test.yml");
isnt($rc, 0, 'promtool test rules fails on it');
like($msg, qr/PerfoptCpuWarning/, '  naming PerfoptCpuWarning');

# ---- the for: follows a reload of the alert settings
$node->append_conf('postgresql.conf', "perfopt.alert_dwell = 900\n");
$node->reload;
my $for2 = want_for(3, 900);
ok(defined poll_until(sub { psql_as($node, $db, 'rules_reader', 'SELECT perfopt_prometheus_rules()') =~ /^        for: \Q$for2\E$/m }),
	"after a reload of perfopt.alert_dwell = 900, for: $for2");
$node->append_conf('postgresql.conf', "perfopt.alert_dwell = 0\nperfopt.alert_sustained_samples = 5\n");
$node->reload;
my $for3 = want_for(5, 0);
ok(defined poll_until(sub { psql_as($node, $db, 'rules_reader', 'SELECT perfopt_prometheus_rules()') =~ /^        for: \Q$for3\E$/m }),
	"perfopt.alert_sustained_samples = 5 without a dwell: for: $for3");
# a session cannot change them (PGC_SIGHUP)
($state) = sql_error_state($node, $db, "SET perfopt.alert_sustained_samples = 1");
is($state, '55P02', 'a session cannot SET perfopt.alert_sustained_samples');

# ---- the shim
my $bin = httpd_bin($node);
ok(-x $bin, "perfopt-httpd is installed ($bin)");
my ($reader, $plain) = ('rules-reader-token-123456', 'rules-plain-token-654321');
my $tokens = $node->basedir . '/tokens';
write_file($tokens,
	httpd_hash_token($bin, $reader) . " rules_reader\n" . httpd_hash_token($bin, $plain) . " rules_plain\n");
my $shim = httpd_start($node, tokens => $tokens, dbname => $db, args => [ '--pool', '2' ]);
ok(defined $shim->{up}, 'the shim listens');
my $http = HTTP::Tiny->new(timeout => 30);
my $url = "$shim->{base}/api/v1/performance/prometheus-rules";

sub req
{
	my ($method, $path, $token, %h) = @_;
	$h{Authorization} = "Bearer $token" if defined $token;
	return $http->request($method, $path, { headers => \%h });
}

my $r = req('GET', $url, $reader);
is($r->{status}, 200, 'GET prometheus-rules as a pg_monitor role: 200');
like($r->{headers}{'content-type'} // '', qr{^application/yaml\b}, '  as application/yaml');
is($r->{content}, psql_as($node, $db, 'rules_reader', 'SELECT perfopt_prometheus_rules()'),
	"  the function's text");
write_file("$out/http.rules.yml", $r->{content});
($rc, $msg) = run_promtool('check', 'rules', "$out/http.rules.yml");
is($rc, 0, '  and promtool checks it') or diag($msg);
is($r->{headers}{'cache-control'}, 'no-cache', '  revalidated (no-cache)');
my $etag = $r->{headers}{etag};
like($etag // '', qr/^"[0-9a-f]{32}"$/, "  a strong ETag: $etag");

$r = req('GET', $url, $reader, 'If-None-Match' => $etag);
is($r->{status}, 304, 'If-None-Match with it: 304');
is($r->{content} // '', '', '  without a body');
$r = req('HEAD', $url, $reader);
is($r->{status}, 200, 'HEAD: 200');

$node->safe_psql($db, q{SELECT perfopt_set_thresholds('{"cpu": {"warning": 66}}')});
$r = req('GET', $url, $reader, 'If-None-Match' => $etag);
is($r->{status}, 200, 'after the thresholds changed, the old ETag: 200');
like($r->{content}, qr/perfopt_system_cpu_usage_ratio >= 0\.66'/, '  with the new cpu warning');
isnt($r->{headers}{etag}, $etag, '  and a new ETag');

$r = req('GET', $url, $plain);
is($r->{status}, 403, 'a role without pg_monitor: 403');
is(eval { decode_json($r->{content})->{sqlstate} }, '42501', '  with SQLSTATE 42501');
is(req('GET', $url)->{status}, 401, 'no token: 401');
is(req('GET', "$url?format=%ff", $reader)->{status}, 400, 'a query argument that is not UTF-8: 400');
$r = req('POST', $url, $reader);
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{allow}, 'GET, HEAD', '  Allow: GET, HEAD');

httpd_stop($shim);
$node->stop;
done_testing();
