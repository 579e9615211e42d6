# 156_dashboard_browser.pl — perfopt-httpd's dashboard (/dashboard) on a
# cluster with a running workload.  Over plain HTTP: / redirects to it,
# the page and its files need no token and carry their Content-Type,
# Content-Security-Policy (no inline script or style), nosniff, an ETag
# (304) and no-cache; the page has no inline code; unknown files 404,
# other methods 405; every API answer carries nosniff and a CSP too.
# Then in headless Chromium (skipped where chromium and chromedriver are
# not installed): a reader's token is entered, each chart fills with data
# points from this cluster (from the metrics history route, and the
# latency and error rate from /status), the panels list the score, the
# open alerts (an alert's HTML message shows as text), the
# recommendations and an optimization run; the reader's resolve is
# refused (403, said in the page, the alert stays open); an admin's
# resolves it (checked in SQL); the token lives in sessionStorage only
# (no cookie, not in the URL); the browser reports no CSP violation or
# script error; a screenshot is saved (docs/dashboard.png is one).
use strict;
use warnings;

use HTTP::Tiny;
use IO::Uncompress::Gunzip qw(gunzip);
use IPC::Run;
use JSON::PP;
use PerfoptBrowser;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $db = 'postgres';
my $node = perfopt_node('dashboard', interval => 500, conf => "perfopt.advisor_interval = 0\n");
$node->start;
my $started = time();
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, q{
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
CREATE ROLE api_admin NOLOGIN IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION perfopt_resolve_alert(bigint), perfopt_resolve_alerts(bigint[]) TO api_admin;
GRANT api_reader, api_admin TO perfopt_api;
CREATE TABLE dash_orders (id int PRIMARY KEY, customer int NOT NULL, note text);
INSERT INTO dash_orders SELECT g, g % 5000, repeat('x', 40) FROM generate_series(1, 100000) g;
ANALYZE dash_orders;
});

# a workload that runs for the whole test: lookups on an unindexed column
# (the advisor recommends an index) and commits
my $script = $node->basedir . '/workload.sql';
open(my $wf, '>', $script) or die;
print $wf "\\set c random(1, 5000)\nSELECT count(*) FROM dash_orders WHERE customer = :c;\n";
close $wf;
my ($wout, $werr) = ('', '');
my $workload = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-R', '20', '-T', '1800', '-f', $script,
	  '-h', $node->host, '-p', $node->port, $db ],
	'>', \$wout, '2>', \$werr);

my $bin = httpd_bin($node);
my ($reader, $admin) = ('dash-reader-token-0123456789', 'dash-admin-token-abcdefghij');
my $tokens = $node->basedir . '/tokens';
open(my $fh, '>', $tokens) or die;
print $fh httpd_hash_token($bin, $reader) . " api_reader\n" . httpd_hash_token($bin, $admin) . " api_admin\n";
close $fh;

my $shim = httpd_start($node, tokens => $tokens, bin => $bin, dbname => $db,
	args => [ '--anon-rate', '100', '--anon-burst', '200' ]);
ok(defined $shim->{up}, 'the shim listens');
my $base = $shim->{base};
my $shim_log = $shim->{log};
my $http = HTTP::Tiny->new(timeout => 30, max_redirect => 0);

# ---- over HTTP: the page and its files
sub page_headers_ok
{
	my ($r, $what) = @_;
	my $csp = $r->{headers}{'content-security-policy'} // '';
	like($csp, qr/(^|; )default-src 'self'(;|$)/, "$what: CSP default-src 'self'");
	like($csp, qr/(^|; )script-src 'self'(;|$)/, "$what: CSP script-src 'self' only");
	like($csp, qr/frame-ancestors 'none'/, "$what: CSP forbids framing");
	unlike($csp, qr/unsafe-inline|unsafe-eval|\*/, "$what: CSP allows no inline code, eval or wildcard");
	is($r->{headers}{'x-content-type-options'}, 'nosniff', "$what: nosniff");
	return;
}

my $r = $http->get("$base/");
is($r->{status}, 302, '/: 302');
is($r->{headers}{location}, '/dashboard', '/ redirects to /dashboard');
page_headers_ok($r, '/');

$r = $http->get("$base/dashboard");
is($r->{status}, 200, '/dashboard without a token: 200');
like($r->{headers}{'content-type'}, qr{^text/html; charset=utf-8$}, '/dashboard: text/html');
is($r->{headers}{'cache-control'}, 'no-cache', '/dashboard: revalidated (no-cache)');
page_headers_ok($r, '/dashboard');
my $html = $r->{content};
my $etag = $r->{headers}{etag};
like($etag, qr/^"[0-9a-f]+"$/, '/dashboard: a strong ETag');
$r = $http->get("$base/dashboard", { headers => { 'If-None-Match' => $etag } });
is($r->{status}, 304, '/dashboard with its ETag: 304');
is($r->{content} // '', '', '304: no body');
page_headers_ok($r, '/dashboard 304');
is($http->get("$base/dashboard/")->{status}, 200, '/dashboard/: 200');
$r = $http->request('HEAD', "$base/dashboard");
ok($r->{status} == 200 && $r->{content} eq '', 'HEAD /dashboard: 200 without a body');

# the page has no inline code and no data; its files are all served
unlike($html, qr/<script(?![^>]*\bsrc=)[^>]*>/i, 'the page has no inline script');
unlike($html, qr/<style|\sstyle=|\son[a-z]+=/i, 'the page has no inline style or event handler');
unlike($html, qr/sqlstate|samples_taken|cpu_busy_pct/, 'the page holds no data');
my @files = $html =~ m{(?:src|href)="(/dashboard/[^"]+)"}g;
my %type = (js => qr{^text/javascript; charset=utf-8$}, css => qr{^text/css; charset=utf-8$},
	svg => qr{^image/svg\+xml$});
ok(scalar(grep { /\.js$/ } @files) && scalar(grep { /\.css$/ } @files), 'the page loads a script and a style sheet');
for my $f (@files)
{
	my ($ext) = $f =~ /\.([a-z]+)$/;
	$r = $http->get("$base$f");
	is($r->{status}, 200, "$f: 200");
	like($r->{headers}{'content-type'} // '', $type{$ext}, "$f: its Content-Type");
	page_headers_ok($r, $f);
	ok(length($r->{content}) > 0, "$f: not empty");
	my $body = $r->{content};
	$r = $http->get("$base$f", { headers => { 'If-None-Match' => $r->{headers}{etag} } });
	is($r->{status}, 304, "$f with its ETag: 304");
	$r = $http->get("$base$f", { headers => { 'Accept-Encoding' => 'gzip' } });
	if (($r->{headers}{'content-encoding'} // '') eq 'gzip')
	{
		my $plain;
		gunzip(\$r->{content} => \$plain);
		is($plain, $body, "$f gzipped: the same bytes");
	}
}

# bad requests
for my $bad ('/dashboard/nope.js', '/dashboard/.hidden', '/dashboard/a/b.js', '/dashboard/%2e%2e/tokens',
	'/dashboard/dashboard.js.bak', '/dashboardx', '/dashboard/' . ('a' x 70) . '.js')
{
	$r = $http->get("$base$bad");
	is($r->{status}, 404, "GET $bad: 404");
	is($r->{headers}{'x-content-type-options'}, 'nosniff', "GET $bad: nosniff");
	ok(($r->{headers}{'content-security-policy'} // '') ne '', "GET $bad: a CSP");
}
for my $m ([ 'POST', '/dashboard' ], [ 'PUT', '/dashboard/dashboard.js' ], [ 'POST', '/' ],
	[ 'DELETE', '/dashboard' ])
{
	$r = $http->request($m->[0], "$base$m->[1]", { content => 'x' });
	is($r->{status}, 405, "$m->[0] $m->[1]: 405");
	is($r->{headers}{allow}, 'GET, HEAD', "$m->[0] $m->[1]: Allow: GET, HEAD");
	ok(($r->{headers}{'content-security-policy'} // '') ne '', "$m->[0] $m->[1]: a CSP");
}

# the API's answers carry nosniff and a CSP that loads nothing
for my $t ([ undef, 401 ], [ $reader, 200 ])
{
	$r = $http->get("$base/api/v1/performance/status",
		{ headers => defined $t->[0] ? { Authorization => "Bearer $t->[0]" } : {} });
	is($r->{status}, $t->[1], "status " . (defined $t->[0] ? 'with' : 'without') . " a token: $t->[1]");
	is($r->{headers}{'x-content-type-options'}, 'nosniff', 'an API answer: nosniff');
	like($r->{headers}{'content-security-policy'} // '', qr/^default-src 'none'/, "an API answer: CSP default-src 'none'");
}

# ---- in a browser
my $why = PerfoptBrowser::missing();
SKIP:
{
	skip "no browser here: $why", 1 if defined $why;

	# what the panels list: an open alert (its message is HTML, to be shown as
	# text), a recommendation and an optimization run, once the workload has run
	my $alert_id = 990001;
	$node->safe_psql($db,
		qq{INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,
		    first_seen, last_seen, message)
		  VALUES ($alert_id, 'cpu', 'test.dashboard', 'dashboard', 'high', 'open', 1, 1, now(), now(),
		    '<img src=x id=injected> dashboard test alert')});
	ok(defined poll_until(sub { $node->safe_psql($db, q{SELECT calls >= 20 FROM pg_stat_statements
		WHERE query LIKE '%dash_orders WHERE customer%'}) eq 't' }), 'the workload runs');
	my $advice = query_json($node, $db, 'SELECT perfopt_advise()');
	ok($advice->{recommendations} >= 1, 'the advisor recommends for the workload');
	my $run = query_json($node, $db, 'SELECT perfopt_optimize(false)');
	ok(defined $run->{run_id}, "an optimization run: $run->{run_id}");

	my $out = $PostgreSQL::Test::Utils::tmp_check . '/dashboard';
	my $b = PerfoptBrowser->start($out);
	$b->get("$base/");
	is($b->url, "$base/dashboard", 'the browser follows / to /dashboard');
	ok($b->script(q{return !document.getElementById('login').hidden && document.getElementById('dashboard').hidden}),
		'without a token the page asks for one');

	# a reader's token, a 15-minute range
	$b->type($b->find('#token'), $reader);
	$b->click($b->find('#login-button'));
	$b->click($b->find('#range option[value="900"]'));
	is($b->url, "$base/dashboard", 'the token is not in the URL');
	is($b->script(q{return document.cookie}), '', 'no cookie');
	is($b->script(q{return sessionStorage.getItem('perfopt.token')}), $reader, 'the token is kept in sessionStorage');

	# every chart gets data points (the page refreshes itself every 10 s)
	my $charts_js = q{return Array.from(document.querySelectorAll('.chart')).map(function (c) {
		return {id: c.id, points: parseInt(c.getAttribute('data-points'), 10),
		  lines: Array.from(c.querySelectorAll('polyline')).map(function (l) {
		    return {series: l.getAttribute('data-series'), count: parseInt(l.getAttribute('data-count'), 10),
		      first: parseInt(l.getAttribute('data-first'), 10), last: parseInt(l.getAttribute('data-last'), 10),
		      value: parseFloat(l.getAttribute('data-last-value')),
		      coords: l.getAttribute('points').split(' ').length};
		  })};
		});};
	my $charts;
	poll_until(
		sub {
			$charts = $b->script($charts_js);
			return @$charts && !grep { !$_->{points} } @$charts;
		},
		180);
	my @ids = map { $_->{id} } @$charts;
	is_deeply(\@ids, [qw(chart-cpu chart-memory chart-disks chart-network chart-connections chart-pool
		chart-commits chart-cache chart-latency chart-errors)], 'the charts');
	my $now = time();
	for my $c (@$charts)
	{
		ok($c->{points} > 0, "$c->{id}: data points ($c->{points})");
		for my $l (@{ $c->{lines} })
		{
			is($l->{coords}, $l->{count}, "$c->{id} $l->{series}: a coordinate per point");
			# buckets start at most a step (here well under 60 s) before a sample
			ok($l->{first} >= $started - 60 && $l->{last} <= $now + 60,
				"$c->{id} $l->{series}: points from this cluster's run");
		}
	}
	# the lines of perfopt_samples' own columns end on a value those columns
	# held during the run (a bucket's average lies between their extremes)
	my %columns = map { $_ => 1 } split /\n/, $node->safe_psql($db,
		q{SELECT attname FROM pg_attribute WHERE attrelid = 'perfopt_samples'::regclass AND attnum > 0
		  AND atttypid = 'float8'::regtype AND NOT attisdropped});
	my $checked = 0;
	for my $l (map { @{ $_->{lines} } } @$charts)
	{
		next unless $columns{ $l->{series} };
		my ($lo, $hi) = split /\|/, $node->safe_psql($db,
			"SELECT min($l->{series}), max($l->{series}) FROM perfopt_samples");
		# (the history's values are rounded: 1e-4 and a relative 1e-6 of slack)
		ok($l->{value} >= $lo - 1e-6 * abs($lo) - 1e-4 && $l->{value} <= $hi + 1e-6 * abs($hi) + 1e-4,
			"$l->{series}: the line ends on $l->{value}, within the samples' [$lo, $hi]");
		$checked++;
	}
	ok($checked >= 10, "$checked lines checked against perfopt_samples");
	is($b->script(q{return document.getElementById('charts').getAttribute('data-span')}), '900',
		'the charts span the chosen 15 minutes');

	my %series = map { my $c = $_; map { ("$c->{id}/$_->{series}" => 1) } @{ $c->{lines} } } @$charts;
	ok($series{'chart-cpu/cpu_busy_pct'}, 'the CPU chart draws cpu_busy_pct');
	ok(scalar(grep { m{^chart-commits/commits_per_second \{datname=postgres\}$} } keys %series),
		'the commits chart has a line for database postgres');

	# the panels
	like($b->script(q{return document.getElementById('score').textContent}), qr/^\d+(\.\d)?$/, 'the score');
	is($b->script(q{return document.querySelectorAll('#score-parts tr').length}), 3, 'the score\'s three parts');
	is($b->script(q{return document.querySelectorAll('#injected').length}), 0, 'an alert\'s HTML is not markup');
	like($b->script(qq{var r = document.querySelector('#alerts tr[data-alert-id="$alert_id"]');
		return r ? r.textContent : '';}), qr/<img src=x id=injected> dashboard test alert/, 'the open alert, as text');
	ok($b->script(q{return document.querySelectorAll('#recommendations tbody tr').length}) >= 1, 'a recommendation');
	like($b->script(q{return document.querySelector('#recommendations tbody').textContent}), qr/dash_orders/,
		'the recommendation names the table');
	like($b->script(q{return document.querySelector('#runs tbody').textContent}), qr/#$run->{run_id} optimize/,
		'the optimization run');
	# the index the run built, with its verification's state (the shim's verifications route)
	ok( defined poll_until(
			sub {
				$b->script(q{return document.querySelector('#runs tbody').textContent}) =~
				  /perfopt_dash_orders_customer: (observing|confirmed|rolled_back|failed_kept)/;
			},
			180),
		'the run shows its index\'s verification');

	# a reader may not resolve: the page says so, the alert stays open
	$b->click_css(qq{button.resolve[data-alert-id="$alert_id"]});
	ok(defined poll_until(sub { $b->script(q{return document.getElementById('notice').textContent}) =~ /may not resolve/ }),
		'a reader\'s resolve: the page says it is refused');
	is($node->safe_psql($db, "SELECT state FROM perfopt_alerts_data WHERE id = $alert_id"), 'open',
		'the reader\'s resolve changed nothing');

	# an admin's token resolves it
	$b->click($b->find('#logout'));
	is($b->script(q{return sessionStorage.getItem('perfopt.token')}), undef, 'forget token empties sessionStorage');
	$b->type($b->find('#token'), $admin);
	$b->click($b->find('#login-button'));
	ok(defined poll_until(sub { $b->script(qq{return !!document.querySelector('button.resolve[data-alert-id="$alert_id"]')}) }),
		'the admin sees the alert');
	$b->click_css(qq{button.resolve[data-alert-id="$alert_id"]});
	ok(defined poll_until(sub { $node->safe_psql($db, "SELECT state FROM perfopt_alerts_data WHERE id = $alert_id") eq 'resolved' }),
		'the admin\'s resolve through the page resolved the alert');
	ok(defined poll_until(sub { !$b->script(qq{return !!document.querySelector('#alerts tr[data-alert-id="$alert_id"]')}) }),
		'the resolved alert leaves the page');

	# the picture, once the CPU chart has ten points (a half minute of
	# history), after a refresh with every chart drawn
	ok(defined poll_until(
			sub {
				my $now = $b->script($charts_js);
				return !grep({ !$_->{points} } @$now) && $now->[0]{points} >= 10;
			},
			180),
		'the charts hold data, the CPU chart ten points');
	my $png = "$out/dashboard.png";
	ok($b->screenshot($png) > 1000, "a screenshot: $png");
	my $log = $b->browser_log;
	my @bad = grep { $_->{message} =~ /Content Security Policy|Uncaught|TypeError|ReferenceError|SyntaxError/ } @$log;
	is(scalar(@bad), 0, 'the browser reports no CSP violation or script error')
	  or diag join("\n", map { $_->{message} } @bad);
	$b->stop;
}

httpd_stop($shim);
unlike(slurp_file($shim_log), qr/\Q$reader\E|\Q$admin\E/, 'the shim never logs a token');
$workload->signal('TERM');
eval { $workload->finish };
done_testing();
