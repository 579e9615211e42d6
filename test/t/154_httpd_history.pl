# 154_httpd_history.pl — GET /api/v1/performance/metrics/history through
# perfopt-httpd: live series from a sampling cluster (the defaults: the
# last hour, at most 300 points, the smallest step that fits), exact
# buckets over a known history (in a database the worker does not write),
# RFC 3339 and epoch seconds, an explicit step; 400 on bad input, before
# the database or from perfopt_metrics_history(); 401 and 403; ETag and 304.
use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP;
use POSIX qw(floor);
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = perfopt_node('history', conf => "perfopt.advisor_interval = 0\n");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE histdb');
for my $db ('postgres', 'histdb')
{
	$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
}
$node->safe_psql(
	'postgres', q{
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
CREATE ROLE api_nobody NOLOGIN;
GRANT api_reader, api_nobody TO perfopt_api;
});

# a known history where nothing else writes: perfopt.database is postgres
$node->safe_psql(
	'histdb', q{
INSERT INTO perfopt_samples (sampled_at, is_standby, cpu_busy_pct, connections_active,
                             databases_omitted, databases) VALUES
  ('2024-01-01 00:00:00+00', false, 10, 1, 0,
   '[{"datid": 5, "datname": "app", "commits_per_second": 4, "cache_hit_pct": 99}]'),
  ('2024-01-01 00:00:30+00', false, 30, 3, 0, '[{"datid": 5, "datname": "app", "commits_per_second": 8}]'),
  ('2024-01-01 00:01:00+00', false, 20, NULL, 0, '[]'),
  ('2024-01-01 00:05:00+00', false, 50, 5, 0, '[]'),
  ('2024-01-01 00:10:00+00', false, 1000, 1000, 0, '[]');
});

my $bin = httpd_bin($node);
ok(-x $bin, "perfopt-httpd is installed ($bin)");
my ($reader, $nobody) = ('history-reader-token-123', 'history-nobody-token-456');
my $tokens = $node->basedir . '/tokens';
open(my $fh, '>', $tokens) or die;
print $fh httpd_hash_token($bin, $reader) . " api_reader\n" . httpd_hash_token($bin, $nobody) . " api_nobody\n";
close $fh;

my @shims;

sub start_shim
{
	my ($db) = @_;
	my $shim = httpd_start($node, tokens => $tokens, bin => $bin, dbname => $db, name => $db,
		args => [ '--pool', '2', '--read-rate', '100', '--read-burst', '200' ]);
	push @shims, $shim;
	ok(defined $shim->{up}, "the shim on $db listens");
	return $shim->{base};
}

my $live = start_shim('postgres');
my $known = start_shim('histdb');
my $http = HTTP::Tiny->new(timeout => 30);
my $path = '/api/v1/performance/metrics/history';

sub get
{
	my ($base, $query, $token, %headers) = @_;
	$headers{Authorization} = "Bearer $token" if defined $token;
	return $http->request('GET', "$base$path$query", { headers => \%headers });
}

sub json_of { my $v = eval { decode_json($_[0]->{content}) }; return $v; }

sub series
{
	my ($doc, $name, $datname) = @_;
	for my $s (@{ $doc->{series} })
	{
		next unless $s->{name} eq $name;
		next if defined $datname ? ($s->{labels}{datname} // '') ne $datname : %{ $s->{labels} };
		return $s;
	}
	return undef;
}

# ---- live: the last hour of a sampling cluster
ok( poll_until(sub { $node->safe_psql('postgres', 'SELECT count(*) FROM perfopt_samples') >= 3 }),
	'the worker wrote three samples');
my $r = get($live, '', $reader);
is($r->{status}, 200, 'GET metrics/history with the reader token: 200');
is($r->{headers}{'content-type'}, 'application/json', '  JSON');
is($r->{headers}{'cache-control'}, 'no-cache', '  revalidated (no-cache)');
my $doc = json_of($r);
ok($doc && ref $doc->{series} eq 'ARRAY', '  with series');
like($doc->{from}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$/, "  from is RFC 3339: $doc->{from}");
like($doc->{to}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$/, "  to is RFC 3339: $doc->{to}");
my ($from_s, $to_s) = map { $node->safe_psql('postgres', "SELECT extract(epoch FROM '$_'::timestamptz)") }
  ($doc->{from}, $doc->{to});
is($to_s - $from_s, 3600, '  the default range is one hour');
my $now = $node->safe_psql('postgres', 'SELECT extract(epoch FROM now())');
ok($to_s <= $now && $to_s > $now - 60, '  ending now');

# the smallest step whose epoch-aligned buckets number at most 300
sub buckets
{
	my ($from, $to, $step) = @_;
	return floor(($to - 1e-6) / $step) - floor($from / $step) + 1;
}
my $step = $doc->{step_seconds};
ok($step >= 1 && buckets($from_s, $to_s, $step) <= 300, "  step $step s gives at most 300 buckets");
ok($step == 1 || buckets($from_s, $to_s, $step - 1) > 300, '  and is the smallest that does');

my $cpu = series($doc, 'cpu_busy_pct');
ok($cpu && @{ $cpu->{points} } >= 1, 'cpu_busy_pct has points from the cluster');
my $bad_points = 0;
for my $s (@{ $doc->{series} })
{
	my $prev = -1;
	$bad_points++ if @{ $s->{points} } > 300;
	for my $p (@{ $s->{points} })
	{
		$bad_points++
		  unless @$p == 4
		  && $p->[0] > $prev
		  && $p->[0] % $step == 0
		  && $p->[0] + $step > $from_s
		  && $p->[0] < $to_s
		  && (!defined $p->[1] || ($p->[1] <= $p->[2] && $p->[2] <= $p->[3]));
		$prev = $p->[0];
	}
}
is($bad_points, 0, 'every point is [bucket start, min, avg, max], ascending, on the step, in the range');
my @columns = split /\n/, $node->safe_psql(
	'postgres', q{SELECT attname FROM pg_attribute WHERE attrelid = 'perfopt_samples'::regclass
  AND atttypid = 'float8'::regtype AND attname <> 'interval_seconds' AND attnum > 0 ORDER BY attnum});
my @latency = qw(latency_p50_ms latency_p95_ms latency_p99_ms statements_per_second errors_per_second error_rate_pct);
is_deeply([ map { $_->{name} } grep { !%{ $_->{labels} } } @{ $doc->{series} } ],
	[ @columns, @latency ], 'a series per metric column of perfopt_samples, then the statement latency');
ok(series($doc, 'commits_per_second', 'postgres'), 'per-database series are labelled with datname');
ok(series($doc, 'cache_hit_pct', 'postgres'), '  (cache_hit_pct too)');

# the statement latency the worker writes next to the samples (statements run meanwhile)
ok( poll_until(
		sub {
			$node->safe_psql('postgres', 'SELECT pg_sleep(0.01)');
			my $d = json_of(get($live, '', $reader));
			my $p95 = series($d, 'latency_p95_ms');
			my $rate = series($d, 'statements_per_second');
			return $p95 && @{ $p95->{points} } && $rate && @{ $rate->{points} } && $rate->{points}[-1][3] > 0;
		}),
	'latency_p95_ms and statements_per_second have points from the cluster');

# ---- a known history: exact buckets
my $want = [ [ 1704067200, 10, 20, 30 ], [ 1704067260, 20, 20, 20 ], [ 1704067500, 50, 50, 50 ] ];
for my $q (
	'?from=2024-01-01T00:00:00Z&to=2024-01-01T00:10:00Z&points=10',
	'?from=1704067200&to=1704067800&points=10',
	'?from=2024-01-01T01:00:00%2B01:00&to=2024-01-01T00:10:00.000000Z&points=10',
	'?from=2024-01-01T01:00:00+01:00&to=2023-12-31T19:10:00-05:00&points=10')
{
	$r = get($known, $q, $reader);
	is($r->{status}, 200, "$q: 200");
	$doc = json_of($r);
	is($doc->{step_seconds}, 60, '  a step of 60 s');
	is_deeply(series($doc, 'cpu_busy_pct')->{points}, $want, '  cpu_busy_pct: min/avg/max per minute, gaps left out');
}
is_deeply(series($doc, 'connections_active')->{points}, [ [ 1704067200, 1, 2, 3 ], [ 1704067500, 5, 5, 5 ] ],
	'connections_active: a bucket without a value is left out');
is_deeply(series($doc, 'commits_per_second', 'app')->{points}, [ [ 1704067200, 4, 6, 8 ] ],
	'commits_per_second of app');
$r = get($known, '?from=2024-01-01T00:00:00Z&to=2024-01-01T00:10:00Z&step=300', $reader);
$doc = json_of($r);
is($doc->{step_seconds}, 300, 'an explicit step is taken');
is_deeply(series($doc, 'cpu_busy_pct')->{points}, [ [ 1704067200, 10, 20, 30 ], [ 1704067500, 50, 50, 50 ] ],
	'  five-minute buckets');
$r = get($known, '?from=2024-01-01T00:00:00Z&to=2024-01-01T00:10:00Z', $reader);
is(json_of($r)->{step_seconds}, 2, 'points default to 300: a step of 2 s over ten minutes');

# ---- caching: a strong ETag and 304
my $q = '?from=2024-01-01T00:00:00Z&to=2024-01-01T00:10:00Z&points=10';
$r = get($known, $q, $reader);
my $etag = $r->{headers}{etag};
like($etag // '', qr/^"[0-9a-f]{32}"$/, "a strong ETag: $etag");
$r = get($known, $q, $reader, 'If-None-Match' => $etag);
is($r->{status}, 304, 'If-None-Match with it: 304');
is($r->{content} // '', '', '  without a body');
$r = get($known, '?from=2024-01-01T00:00:00Z&to=2024-01-01T00:10:00Z&points=9', $reader, 'If-None-Match' => $etag);
is($r->{status}, 200, 'another range: 200');

# ---- rights
$r = get($known, $q, undef);
is($r->{status}, 401, 'no token: 401');
is($r->{headers}{'www-authenticate'}, 'Bearer realm="perfopt"', '  with the challenge');
$r = get($known, $q, 'not-a-token');
is($r->{status}, 401, 'an unknown token: 401');
$r = get($known, $q, $nobody);
is($r->{status}, 403, 'a role outside pg_monitor: 403');
is(json_of($r)->{sqlstate}, '42501', '  with SQLSTATE 42501');

# ---- bad input: 400 with the reason, from the shim or from the function
for my $case (
	[ '?from=now', qr/from must be an RFC 3339 timestamp or Unix epoch seconds/ ],
	[ '?to=yesterday', qr/to must be an RFC 3339 timestamp or Unix epoch seconds/ ],
	[ '?from=2024-01-01T00:00:00', qr/from must be an RFC 3339/ ],
	[ '?from=2024-02-30T00:00:00Z', qr/from must be an RFC 3339/ ],
	[ '?from=-5', qr/from must be an RFC 3339/ ],
	[ '?from=1704067200.1234567', qr/from must be an RFC 3339/ ],
	[ "?from=1704067200'", qr/from must be an RFC 3339/ ],
	[ '?from=1704067800&to=1704067200', qr/from must be earlier than to/ ],
	[ '?from=1704067200&to=1704067200', qr/from must be earlier than to/ ],
	[ '?from=2024-01-01T00:00:00Z&to=2024-02-01T00:00:01Z', qr/must not exceed 31 days/ ],
	[ '?step=0', qr/step must be an integer number of seconds from 1 to 2678400/ ],
	[ '?step=-60', qr/step must be an integer/ ],
	[ '?step=1.5', qr/step must be an integer/ ],
	[ '?step=', qr/step must be an integer/ ],
	[ '?step=2678401', qr/step must be an integer/ ],
	[ '?points=0', qr/points must be an integer from 1 to 1000/ ],
	[ '?points=1001', qr/points must be an integer from 1 to 1000/ ],
	[ '?points=ten', qr/points must be an integer from 1 to 1000/ ],
	[ '?from=2024-01-01T00:00:00%00Z', qr/not valid UTF-8 text/ ],
	# the shim cannot tell these; perfopt_metrics_history() can (22023)
	[ '?from=2024-01-01T00:00:00Z', qr/the range from from_ts to to_ts must not exceed 31 days/ ],
	[ '?to=2000-01-01T00:00:00Z&from=2099-01-01T00:00:00Z', qr/from must be earlier than to/ ],
	[ '?from=2024-01-01T00:00:00Z&to=2024-01-01T00:10:00Z&step=1&points=10',
		qr/a step of 1 seconds gives 600 points over the range, more than max_points \(10\)/ ],
	[ '?step=1', qr/a step of 1 seconds gives 360[01] points over the range, more than max_points \(1000\)/ ],)
{
	$r = get($known, $case->[0], $reader);
	is($r->{status}, 400, "$case->[0]: 400");
	like(json_of($r)->{detail} // '', $case->[1], '  saying why');
	is($r->{headers}{'cache-control'}, 'no-store', '  not stored');
}

httpd_stop($_) for @shims;
$node->stop;
done_testing();
