# 150_httpd.pl — perfopt-httpd against a real cluster: every route with a
# reader and an admin token; 401 without or with a wrong token; gzip;
# ETag and 304; a pagination walk over 250 alerts while new ones arrive;
# bulk resolve with unknown ids; 429 with Retry-After; 413, 405, 404 and
# malformed JSON; a PostgreSQL restart gives 503 then recovers; /metrics
# passes promtool and a real Prometheus scrapes it; HTTPS with a
# certificate on the command line, loopback by default; SIGHUP reloads the
# tokens, SIGTERM drains and exits; the log never shows a token.
use strict;
use warnings;

use HTTP::Tiny;
use IO::Uncompress::Gunzip qw(gunzip);
use IPC::Run;
use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('httpd', interval => 300, conf => "perfopt.advisor_interval = 0\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, q{
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
CREATE ROLE api_admin NOLOGIN IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION perfopt_optimize(boolean), perfopt_optimize_database(boolean),
  perfopt_resolve_alert(bigint), perfopt_resolve_alerts(bigint[]), perfopt_set_thresholds(jsonb),
  perfopt_start_monitoring(integer), perfopt_start_monitoring(), perfopt_stop_monitoring()
  TO api_admin;
GRANT api_reader, api_admin TO perfopt_api;
});

# installed next to pg_ctl; PERFOPT_HTTPD points elsewhere (a sanitizer build)
my $bin = httpd_bin($node);
ok(-x $bin, "perfopt-httpd is installed ($bin)");

sub hash_token { return httpd_hash_token($bin, $_[0]); }
my ($reader, $admin, $late) = ('reader-token-1234567890', 'admin-token-abcdefghij', 'late-token-zzz');
my $tokens = $node->basedir . '/tokens';
open(my $fh, '>', $tokens) or die;
print $fh "# test tokens\n" . hash_token($reader) . " api_reader\n\n" . hash_token($admin) . "  api_admin\n";
close $fh;
like(slurp_file($tokens), qr/^[0-9a-f]{64} api_reader$/m, '--hash-token prints a sha256 hex');

my $conninfo = 'host=' . $node->host . ' port=' . $node->port . " dbname=$db user=perfopt_api";
my %shims;

sub start_shim
{
	my ($name, @extra) = @_;
	my $s = httpd_start($node, name => $name, conninfo => $conninfo, tokens => $tokens,
		args => [ '--pool', '3', @extra ]);
	ok(defined $s->{up}, "shim $name listens on $s->{port}");
	$shims{$name} = $s;
	return $s->{base};
}

my $base = start_shim('main', '--write-rate', '100', '--write-burst', '100', '--read-rate', '100', '--read-burst', '200');
my $http = HTTP::Tiny->new(timeout => 30);

sub req
{
	my ($method, $path, $token, %opt) = @_;
	my %headers = %{ $opt{headers} // {} };
	$headers{Authorization} = "Bearer $token" if defined $token;
	my %args = (headers => \%headers);
	$args{content} = $opt{body} if defined $opt{body};
	return $http->request($method, "$base$path", \%args);
}

sub json_of
{
	my ($r) = @_;
	my $v = eval { decode_json($r->{content}) };
	return $v;
}

# ---- health, and the four examples of the README
my $r = $http->get("$base/healthz");
is($r->{status}, 200, '/healthz: 200 without a token');
for my $path ('/api/v1/performance/status', '/api/v1/performance/metrics', '/api/v1/performance/recommendations')
{
	$r = req('GET', $path, $reader);
	is($r->{status}, 200, "GET $path with the reader token: 200");
	ok(defined json_of($r), "  and JSON");
}
$r = req('POST', '/api/v1/performance/optimize', $admin);
is($r->{status}, 202, 'POST optimize with the admin token: 202');
like($r->{headers}{location} // '', qr{^/api/v1/performance/history\?cursor=[A-Za-z0-9_-]+&limit=1$}, 'with a Location');
my $run = json_of($r);
ok($run->{run_id}, "the run: $run->{run_id}");
$r = req('GET', $r->{headers}{location}, $reader);
is(json_of($r)->{items}[0]{id}, $run->{run_id}, 'the Location gives that run\'s report');

# ---- every route, reader and admin
my @routes = (
	[ 'GET', '/api/v1/performance/status', 200, 200 ],
	[ 'GET', '/api/v1/performance/history', 200, 200 ],
	[ 'GET', '/api/v1/performance/recommendations', 200, 200 ],
	[ 'GET', '/api/v1/performance/metrics', 200, 200 ],
	[ 'GET', '/api/v1/performance/metrics?format=prometheus', 200, 200 ],
	[ 'GET', '/api/v1/performance/alerts', 200, 200 ],
	[ 'GET', '/api/v1/performance/thresholds', 200, 200 ],
	[ 'GET', '/api/v1/performance/database', 200, 200 ],
	[ 'GET', '/api/v1/performance/api', 200, 200 ],
	[ 'POST', '/api/v1/performance/optimize?dry_run=true', 403, 200 ],
	[ 'POST', '/api/v1/performance/database/optimize?dry_run=true', 403, 200 ],
	[ 'POST', '/api/v1/performance/alerts/987654/resolve', 403, 404 ],
	[ 'POST', '/api/v1/performance/alerts/resolve', 403, 200, '{"ids": [987654]}' ],
	[ 'PUT', '/api/v1/performance/thresholds', 403, 200, '{"cpu": {"warning": 71}}' ],
	[ 'POST', '/api/v1/performance/monitoring/stop', 403, 200 ],
	[ 'POST', '/api/v1/performance/monitoring/start', 403, 200, '{"interval_ms": 300}' ],
	[ 'GET', '/metrics', 200, 200 ],
);
for my $rt (@routes)
{
	my ($method, $path, $for_reader, $for_admin, $body) = @$rt;
	my $rr = req($method, $path, $reader, body => $body);
	is($rr->{status}, $for_reader, "$method $path as reader: $for_reader");
	if ($for_reader == 403)
	{
		my $e = json_of($rr);
		is($e->{sqlstate}, '42501', '  the error carries SQLSTATE 42501');
	}
	my $ra = req($method, $path, $admin, body => $body);
	is($ra->{status}, $for_admin, "$method $path as admin: $for_admin");
}
is(json_of(req('GET', '/api/v1/performance/thresholds', $reader))->{cpu}{warning}, 71, 'the PUT took effect');

# ---- authentication
$r = req('GET', '/api/v1/performance/status', undef);
is($r->{status}, 401, 'no token: 401');
like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/, 'with WWW-Authenticate: Bearer');
is(req('GET', '/api/v1/performance/status', 'wrong-token')->{status}, 401, 'a wrong token: 401');
is($http->request('GET', "$base/api/v1/performance/status", { headers => { Authorization => "Basic $admin" } })->{status},
	401, 'another scheme: 401');

# ---- gzip and ETag
$r = req('GET', '/api/v1/performance/history', $reader);
my $plain = $r->{content};
cmp_ok(length($plain), '>', 1024, 'the history page is over 1 KiB');
like($r->{headers}{vary} // '', qr/Accept-Encoding/, 'Vary: Accept-Encoding');
is($r->{headers}{'cache-control'}, 'max-age=60', 'history: Cache-Control max-age=60');
$r = req('GET', '/api/v1/performance/history', $reader, headers => { 'Accept-Encoding' => 'gzip' });
is($r->{headers}{'content-encoding'} // '', 'gzip', 'gzip when asked');
my $unzipped;
gunzip(\$r->{content} => \$unzipped);
is($unzipped, $plain, 'the gzip body decompresses to the same JSON');
cmp_ok(length($r->{content}), '<', length($plain), 'and is smaller');
$r = req('GET', '/api/v1/performance/thresholds', $reader);
my $etag = $r->{headers}{etag};
like($etag // '', qr/^"[0-9a-f]{32}"$/, "a strong ETag: $etag");
$r = req('GET', '/api/v1/performance/thresholds', $reader, headers => { 'If-None-Match' => $etag });
is($r->{status}, 304, 'If-None-Match with it: 304');
is($r->{content} // '', '', 'without a body');
is(req('GET', '/api/v1/performance/recommendations', $reader)->{headers}{'cache-control'}, 'max-age=180',
	'recommendations: max-age=180');
is(req('GET', '/api/v1/performance/status', $reader)->{headers}{'cache-control'}, 'no-cache', 'status: no-cache');

# ---- pagination over 250 alerts while new ones arrive
$node->safe_psql($db,
	q{INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,
	    first_seen, last_seen, resolved_at, resolved_by, message)
	  SELECT 100000 + g, 'cpu', 'test.page', 's' || g, 'low', 'resolved', g, 1, now(), now(), now(), 'test', 'paging'
	  FROM generate_series(1, 250) g});
my %seen;
my ($dups, $pages, $cursor) = (0, 0, undef);
my $next_new = 200000;
while (1)
{
	my $q = '/api/v1/performance/alerts?state=resolved&limit=40' . (defined $cursor ? "&cursor=$cursor" : '');
	$r = req('GET', $q, $reader);
	last unless $r->{status} == 200;
	my $page = json_of($r);
	$pages++;
	for (@{ $page->{items} })
	{
		$dups++ if $seen{ $_->{id} }++;
	}
	# new alerts arrive between pages
	$node->safe_psql($db,
		"INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,"
		  . " first_seen, last_seen, resolved_at, resolved_by, message) VALUES"
		  . " ($next_new, 'cpu', 'test.page', 'new', 'low', 'resolved', 1, 1, now(), now(), now(), 'test', 'new')");
	$next_new++;
	$cursor = $page->{next_cursor};
	like($r->{headers}{link} // '', qr/rel="next"/, 'a Link to the next page') if defined $cursor && $pages == 1;
	last unless defined $cursor;
	last if $pages > 50;
}
is($dups, 0, 'no alert seen twice');
is(scalar(grep { $_ > 100000 && $_ <= 100250 } keys %seen), 250, "each of the 250 seen once, in $pages pages");
is(req('GET', '/api/v1/performance/alerts?limit=0', $reader)->{status}, 400, 'limit=0: 400');
is(req('GET', '/api/v1/performance/alerts?limit=1001', $reader)->{status}, 400, 'limit=1001: 400');
is(req('GET', '/api/v1/performance/alerts?cursor=garbage', $reader)->{status}, 400, 'a bad cursor: 400');
is(req('GET', '/api/v1/performance/alerts?state=closed', $reader)->{status}, 400, 'a bad state: 400');

# ---- bulk resolve with unknown ids
$node->safe_psql($db,
	q{INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,
	    first_seen, last_seen, message)
	  VALUES (300001, 'cpu', 'test.bulk', 'a', 'low', 'open', 1, 1, now(), now(), 'bulk a'),
	         (300002, 'cpu', 'test.bulk', 'b', 'low', 'open', 1, 1, now(), now(), 'bulk b')});
$r = req('POST', '/api/v1/performance/alerts/resolve', $admin, body => '{"ids": [300001, 999999, 300002]}');
is($r->{status}, 200, 'bulk resolve: 200');
is_deeply([ map { "$_->{id}:$_->{outcome}" } @{ json_of($r) } ],
	[ '300001:resolved', '999999:not_found', '300002:resolved' ], 'one outcome per id');
is(req('POST', '/api/v1/performance/alerts/resolve', $admin, body => '{"ids": []}')->{status}, 400, 'no ids: 400');
is(req('POST', '/api/v1/performance/alerts/resolve', $admin, body => '{"ids": [' . join(',', 1 .. 101) . ']}')->{status},
	400, 'over --bulk-max ids: 400');
is(req('POST', '/api/v1/performance/alerts/300001/resolve', $admin)->{status}, 200, 'resolve one: 200');

# ---- bad requests
is(req('PUT', '/api/v1/performance/thresholds', $admin, body => '{bad json')->{status}, 400, 'malformed JSON: 400');
$r = req('PUT', '/api/v1/performance/thresholds', $admin, body => '{"cpu": {"warning": 101}}');
is($r->{status}, 400, 'an out-of-range threshold: 400');
is(json_of($r)->{sqlstate}, '22023', 'with SQLSTATE 22023');
is(req('POST', '/api/v1/performance/optimize?dry_run=maybe', $admin)->{status}, 400, 'dry_run=maybe: 400');
is(req('POST', '/api/v1/performance/monitoring/start', $admin, body => '{"interval_ms": 1e300}')->{status}, 400,
	'an interval far out of int range: 400');
is(req('POST', '/api/v1/performance/monitoring/start', $admin, body => '{"interval_ms": 50}')->{status}, 400,
	'an interval perfopt refuses (22023): 400');
is(req('PUT', '/api/v1/performance/thresholds', $admin, body => 'x' x (70 * 1024))->{status}, 413, '70 KiB body: 413');
$r = req('DELETE', '/api/v1/performance/status', $admin);
is($r->{status}, 405, 'DELETE status: 405');
is($r->{headers}{allow}, 'GET, HEAD', 'Allow: GET, HEAD');
is(req('GET', '/api/v1/performance/nothing', $admin)->{status}, 404, 'unknown route: 404');
is(req('GET', '/api/v1/performance/status/', $reader)->{status}, 200, 'a trailing slash is tolerated');

# ---- /metrics through promtool
$r = req('GET', '/metrics', $reader);
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', '/metrics: the exposition content type');
like($r->{content}, qr/^perfopt_http_requests_total\{route="[^"]+",code="200"\} \d+$/m, 'requests by route and code');
like($r->{content}, qr/^perfopt_http_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m, 'the duration histogram');
like($r->{content}, qr/^perfopt_http_pool_connections\{state="in_use"\} \d+$/m, 'the pool in use');
like($r->{content}, qr/^perfopt_system_cpu_usage_ratio /m, 'and the extension\'s exposition');
my $metrics_file = $node->basedir . '/httpd_metrics.txt';
open($fh, '>', $metrics_file) or die;
print $fh $r->{content};
close $fh;
my ($pout, $perr);
IPC::Run::run([ 'promtool', 'check', 'metrics' ], '<', $metrics_file, '>', \$pout, '2>', \$perr);
is($? >> 8, 0, 'promtool check metrics exits 0');
is($pout . $perr, '', 'promtool reports no problem');

# ---- a real Prometheus scrapes it
{
	my $pport = PostgreSQL::Test::Cluster::get_free_port();
	my $pdir = $node->basedir . '/prometheus';
	mkdir $pdir;
	my ($port) = $base =~ /:(\d+)$/;
	open($fh, '>', "$pdir/prometheus.yml") or die;
	print $fh "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: perfopt\n"
	  . "    authorization:\n      credentials: $reader\n"
	  . "    static_configs:\n      - targets: ['127.0.0.1:$port']\n";
	close $fh;
	my $prom = IPC::Run::start(
		[ 'prometheus', "--config.file=$pdir/prometheus.yml", "--storage.tsdb.path=$pdir/data",
		  "--web.listen-address=127.0.0.1:$pport" ],
		'>', "$pdir/out.log", '2>&1');
	my $up = poll_until(
		sub {
			my $t = $http->get("http://127.0.0.1:$pport/api/v1/targets");
			return $t->{status} == 200 && $t->{content} =~ /"health":"up"/;
		},
		60);
	ok(defined $up, 'Prometheus scrapes /metrics and reports the target up');
	$prom->kill_kill;
}

# ---- rate limits: a shim with a small burst
{
	my $main_base = $base;
	$base = start_shim('limited', '--read-rate', '0.2', '--read-burst', '3', '--anon-rate', '0.2', '--anon-burst', '2');
	my @codes = map { req('GET', '/api/v1/performance/thresholds', $reader)->{status} } 1 .. 4;
	is_deeply(\@codes, [ 200, 200, 200, 429 ], 'a burst of 3, then 429');
	$r = req('GET', '/api/v1/performance/thresholds', $reader);
	like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, "with Retry-After: $r->{headers}{'retry-after'}");
	is(req('GET', '/api/v1/performance/thresholds', $admin)->{status}, 200, 'another token has its own bucket');
	my @anon = map { req('GET', '/api/v1/performance/status', 'nope')->{status} } 1 .. 3;
	is($anon[-1], 429, 'unauthenticated requests are limited per address: ' . join(',', @anon));
	$base = $main_base;
}

# ---- SIGHUP reloads the token file
is(req('GET', '/api/v1/performance/status', $late)->{status}, 401, 'an unknown token: 401');
open($fh, '>>', $tokens) or die;
print $fh hash_token($late) . " api_reader\n";
close $fh;
$shims{main}{h}->signal('HUP');
ok(defined poll_until(sub { req('GET', '/api/v1/performance/status', $late)->{status} == 200 }, 10),
	'after SIGHUP the new token works');

# ---- PostgreSQL restarts: 503, then the pool reconnects
$node->stop('fast');
$r = req('GET', '/api/v1/performance/status', $reader);
is($r->{status}, 503, 'the database is down: 503');
is($http->get("$base/healthz")->{status}, 503, '/healthz: 503');
$node->start;
ok(defined poll_until(sub { req('GET', '/api/v1/performance/status', $reader)->{status} == 200 }, 30),
	'it comes back by itself');

# ---- HTTPS with a certificate given on the command line; loopback by default
SKIP:
{
	my $dir = $node->basedir;
	skip 'openssl not installed', 6 unless system("openssl version >/dev/null 2>&1") == 0;
	for my $n ('a', 'b')
	{
		system("openssl req -x509 -newkey rsa:2048 -nodes -keyout $dir/key_$n.pem -out $dir/cert_$n.pem "
			  . "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1") == 0
		  or die 'openssl req failed';
	}
	my $tls = start_shim('tls', '--tls-cert', "$dir/cert_a.pem", '--tls-key', "$dir/key_a.pem");
	my ($port) = $tls =~ /:(\d+)$/;
	my $out = `curl -s -o $dir/tls_body -w '%{http_code}' --cacert $dir/cert_a.pem -H 'Authorization: Bearer $reader' https://127.0.0.1:$port/api/v1/performance/status`;
	is($out, '200', 'HTTPS: a reader gets the status over TLS, the certificate verifies');
	ok(defined eval { decode_json(slurp_file("$dir/tls_body")) }, 'HTTPS: the body is JSON');
	$out = `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/healthz`;
	is($out, '000', 'HTTPS: plain HTTP to the TLS port gets no answer');
	my ($o, $e);
	IPC::Run::run([ $bin, '--conninfo', $conninfo, '--tokens', $tokens, '--listen', "127.0.0.1:$port",
		'--tls-cert', "$dir/cert_a.pem" ], '>', \$o, '2>', \$e);
	is($? >> 8, 2, "a certificate without a key is refused: $e");
	IPC::Run::run([ $bin, '--conninfo', $conninfo, '--tokens', $tokens, '--listen', '127.0.0.1:' . PostgreSQL::Test::Cluster::get_free_port(),
		'--tls-cert', "$dir/cert_a.pem", '--tls-key', "$dir/key_b.pem" ], '>', \$o, '2>', \$e);
	like($e, qr/cannot listen.*do not match/, 'a key that does not match the certificate: the shim refuses to start');
	IPC::Run::run([ $bin, '--conninfo', $conninfo, '--tokens', $tokens, '--listen', '127.0.0.1:1',
		'--tls-cert', $tokens, '--tls-key', "$dir/key_a.pem" ], '>', \$o, '2>', \$e);
	like($e, qr/is not a PEM file/, 'a certificate file that is not PEM is refused');
}
{
	# no --listen: the default address is loopback (the bind may fail if 3000 is taken; the address shows either way)
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start([ $bin, '--conninfo', $conninfo, '--tokens', $tokens ], '>', \$o, '2>', \$e);
	poll_until(sub { $h->pump_nb; return $e =~ /listening|cannot listen/ }, 10);
	like($e, qr/127\.0\.0\.1:3000/, 'the default bind is 127.0.0.1:3000');
	$h->signal('TERM') if $h->pumpable;
	$h->finish;
}

# ---- the log: one line per request, never a token
my $log = slurp_file($shims{main}{log});
like($log, qr/^\{"time": "[^"]+", "method": "GET", "route": "\/api\/v1\/performance\/status", "status": 200, "bytes": \d+, "ms": [0-9.]+, "role": "api_reader", "client": "127.0.0.1"\}$/m,
	'structured request lines');
unlike($log, qr/\Q$reader\E|\Q$admin\E/, 'no token in the log');
unlike($log, qr/AddressSanitizer|runtime error|LeakSanitizer/, 'no sanitizer report');

# ---- SIGTERM: drain and exit
for my $name (keys %shims)
{
	$shims{$name}{h}->signal('TERM');
	my $clean = $shims{$name}{h}->finish;
	is($clean ? 0 : $shims{$name}{h}->full_result, 0, "$name: SIGTERM, exit 0");
}
like(slurp_file($shims{main}{log}), qr/"event": "stopping"/, 'it says it stops');

$node->stop;
done_testing();
