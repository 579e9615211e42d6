# 155_httpd_lists.pl — the shim's routes for what was SQL-only (trends,
# slow-queries, jobs, verifications, the audit log for admin roles only)
# and the list rules: alerts, history, jobs, verifications and the audit
# log newest first with cursors that survive new rows, recommendations
# paged by limit and cursor, alerts revalidated (no-cache, 304), an
# Accept of text/plain on /metrics selecting the Prometheus text.  Each
# route: 200 with what the tables hold, 400 on bad input, 401 without a
# token, 403 without the rights, 304 with its ETag.
use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('lists', interval => 300, conf => "perfopt.advisor_interval = 0\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, q{
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
CREATE ROLE api_admin NOLOGIN IN ROLE pg_monitor;
CREATE ROLE api_nobody NOLOGIN;
GRANT EXECUTE ON FUNCTION perfopt_audit_page(bigint, integer) TO api_admin;
GRANT api_reader, api_admin, api_nobody TO perfopt_api;
});

# known rows in every list (the ids far from anything perfopt writes itself)
$node->safe_psql(
	$db, q{
INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,
                                 first_seen, last_seen, resolved_at, resolved_by, message)
SELECT 500000 + g, 'cpu', 'test.list', 's' || g, 'low', CASE WHEN g % 2 = 0 THEN 'open' ELSE 'resolved' END,
       g, 1, now(), now(), CASE WHEN g % 2 = 1 THEN now() END, CASE WHEN g % 2 = 1 THEN 'test' END, 'list'
FROM generate_series(1, 30) g;
INSERT INTO perfopt_history (id, kind, report) OVERRIDING SYSTEM VALUE
SELECT 700000 + g, 'optimize', jsonb_build_object('n', g) FROM generate_series(1, 30) g;
INSERT INTO perfopt_jobs (id, kind, statement, state) OVERRIDING SYSTEM VALUE
SELECT 700000 + g, 'analyze', 'ANALYZE t' || g, CASE WHEN g % 3 = 0 THEN 'failed' ELSE 'succeeded' END
FROM generate_series(1, 30) g;
INSERT INTO perfopt_verifications (id, index_name, planner_uses_index, baseline, state) OVERRIDING SYSTEM VALUE
SELECT 700000 + g, 'i' || g, true, '{}', 'confirmed' FROM generate_series(1, 30) g;
INSERT INTO perfopt_audit_log (id, role_name, session_role, action, arguments, outcome) OVERRIDING SYSTEM VALUE
SELECT 700000 + g, 'r', 'r', 'test_' || g, '{}', 'ok' FROM generate_series(1, 30) g;
INSERT INTO perfopt_recommendations (id, kind, table_name, index_name, ddl, definition, statements,
                                     benefit_ms, estimated_size_bytes, write_penalty_ms, reason)
OVERRIDING SYSTEM VALUE
SELECT g, 'create_index', 't', 'i' || g, 'CREATE INDEX ...', 'def ' || g, '[]', 100 - g, 8192, 0, 'test'
FROM generate_series(1, 7) g;
INSERT INTO perfopt_slow_queries (queryid, userid, query, calls, mean_time_ms, total_time_ms,
                                  workload_share_pct, plan, findings)
SELECT g, 10, 'SELECT ' || g, 1, g, g * 10, 1, '{}', '{}' FROM generate_series(1, 5) g;
});

my $bin = httpd_bin($node);
my ($reader, $admin, $nobody) = ('lists-reader-token-1', 'lists-admin-token-22', 'lists-nobody-token-333');
my $tokens = $node->basedir . '/tokens';
open(my $fh, '>', $tokens) or die;
print $fh httpd_hash_token($bin, $reader) . " api_reader\n"
  . httpd_hash_token($bin, $admin) . " api_admin\n"
  . httpd_hash_token($bin, $nobody) . " api_nobody\n";
close $fh;

my $shim = httpd_start($node, tokens => $tokens, bin => $bin, dbname => $db,
	args => [ '--pool', '2', '--read-rate', '200', '--read-burst', '400' ]);
ok(defined $shim->{up}, 'the shim listens');
my $base = $shim->{base};
my $http = HTTP::Tiny->new(timeout => 30);

sub req
{
	my ($path, $token, %headers) = @_;
	$headers{Authorization} = "Bearer $token" if defined $token;
	return $http->request('GET', "$base$path", { headers => \%headers });
}
sub json_of { my $v = eval { decode_json($_[0]->{content}) }; return $v; }

# walk a list's pages; the ids in order, and whether all was well
sub walk
{
	my ($path, $token, $limit, $between) = @_;
	my (@ids, $cursor, $pages);
	while (1)
	{
		my $sep = $path =~ /\?/ ? '&' : '?';
		my $r = req("$path${sep}limit=$limit" . (defined $cursor ? "&cursor=$cursor" : ''), $token);
		return (undef, "status $r->{status}") unless $r->{status} == 200;
		my $page = json_of($r);
		push @ids, map { $_->{id} } @{ $page->{items} };
		return (undef, 'no Link to the next page')
		  if defined $page->{next_cursor} && ($r->{headers}{link} // '') !~ /rel="next"/;
		$between->() if $between;
		$cursor = $page->{next_cursor};
		last unless defined $cursor;
		return (undef, 'too many pages') if ++$pages > 100;
	}
	return (\@ids, 'ok');
}

# ---- newest first, with cursors that new rows do not disturb
my $next = 800000;
for my $list (
	[ '/api/v1/performance/alerts?state=resolved', $reader, [ map { 500000 + $_ } grep { $_ % 2 } reverse 1 .. 30 ],
		sub { $node->safe_psql($db,
			"INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,"
			  . " first_seen, last_seen, resolved_at, resolved_by, message) VALUES ("
			  . $next++ . ", 'cpu', 'test.new', 'n', 'low', 'resolved', 1, 1, now(), now(), now(), 'test', 'new')") } ],
	[ '/api/v1/performance/history', $reader, [ map { 700000 + $_ } reverse 1 .. 30 ],
		sub { $node->safe_psql($db, "INSERT INTO perfopt_history (kind, report) VALUES ('optimize', '{}')") } ],
	[ '/api/v1/performance/jobs', $reader, [ map { 700000 + $_ } reverse 1 .. 30 ], undef ],
	[ '/api/v1/performance/jobs?state=failed', $reader, [ map { 700000 + $_ } grep { $_ % 3 == 0 } reverse 1 .. 30 ],
		undef ],
	[ '/api/v1/performance/verifications', $reader, [ map { 700000 + $_ } reverse 1 .. 30 ], undef ],
	[ '/api/v1/performance/audit', $admin, [ map { 700000 + $_ } reverse 1 .. 30 ],
		sub { $node->safe_psql($db, "INSERT INTO perfopt_audit_log (role_name, session_role, action, arguments, outcome)"
			  . " VALUES ('r', 'r', 'new', '{}', 'ok')") } ],)
{
	my ($path, $token, $want, $between) = @$list;
	my ($ids, $why) = walk($path, $token, 4, $between);
	my @known = grep { $_ >= 500000 && $_ < 800000 } @{ $ids // [] };
	is_deeply(\@known, $want, "$path: newest first over pages of 4, each once, while rows arrive ($why)");
}
my $first = json_of(req('/api/v1/performance/history?limit=1', $reader));
is($first->{items}[0]{id}, $node->safe_psql($db, 'SELECT max(id) FROM perfopt_history'),
	'the history starts with the newest run');

# ---- recommendations: limit and cursor, by id
my $r;
my ($rec_ids, $why) = walk('/api/v1/performance/recommendations', $reader, 3);
is_deeply($rec_ids, [ 1 .. 7 ], "recommendations in pages of 3 by id ($why)");
$r = req('/api/v1/performance/recommendations', $reader);
is(scalar @{ json_of($r)->{items} }, 7, 'recommendations: 50 a page by default');
is($r->{headers}{'cache-control'}, 'max-age=180', '  max-age=180');

# ---- trends and slow queries
ok(poll_until(sub { @{ json_of(req('/api/v1/performance/trends', $reader)) // [] } > 0 }),
	'trends: the metrics the worker follows');
my $trends = json_of(req('/api/v1/performance/trends', $reader));
ok(defined $trends->[0]{metric} && exists $trends->[0]{slope_per_hour}, '  rows of perfopt_trends');
is(scalar @{ json_of(req('/api/v1/performance/trends?limit=2', $reader)) }, 2, '  limit=2: two');
$r = req('/api/v1/performance/slow-queries', $reader);
is($r->{status}, 200, 'slow-queries: 200');
is_deeply([ map { $_->{queryid} } @{ json_of($r) } ], [ 5, 4, 3, 2, 1 ], '  by total time, longest first');
is_deeply([ map { $_->{queryid} } @{ json_of(req('/api/v1/performance/slow-queries?limit=2', $reader)) } ],
	[ 5, 4 ], '  limit=2: the two longest');
ok(exists json_of($r)->[0]{findings}, '  rows of perfopt_slow_queries');

# ---- rights, caching and bad input for each route
my %routes = (
	'/api/v1/performance/trends' => { token => $reader, cache => 'no-cache', bad => [ 'limit=0', 'limit=x' ] },
	'/api/v1/performance/slow-queries' =>
	  { token => $reader, cache => 'max-age=180', bad => [ 'limit=1001', 'limit=-1' ] },
	'/api/v1/performance/jobs' =>
	  { token => $reader, cache => 'no-cache', bad => [ 'limit=0', 'cursor=garbage', 'state=open', 'state=' ] },
	'/api/v1/performance/verifications' =>
	  { token => $reader, cache => 'no-cache', bad => [ 'limit=1001', 'cursor=djE6MDE' ] },
	'/api/v1/performance/audit' =>
	  { token => $admin, cache => 'private, no-cache', bad => [ 'limit=0', 'cursor=garbage' ], reader => 403 },
	'/api/v1/performance/alerts' =>
	  { token => $reader, cache => 'no-cache', bad => [ 'state=queued', 'limit=0', 'cursor=%00' ] },
	'/api/v1/performance/history' => { token => $reader, cache => 'max-age=60', bad => [ 'cursor=x', 'limit=01' ] },
	'/api/v1/performance/recommendations' =>
	  { token => $reader, cache => 'max-age=180', bad => [ 'cursor=garbage', 'limit=1001' ] },);
for my $path (sort keys %routes)
{
	my $c = $routes{$path};
	$r = req($path, $c->{token});
	is($r->{status}, 200, "$path: 200");
	is($r->{headers}{'cache-control'}, $c->{cache}, "  Cache-Control: $c->{cache}");
	my $etag = $r->{headers}{etag};
	like($etag // '', qr/^"[0-9a-f]{32}"$/, '  a strong ETag');
	# 304 while the body is the same: polled, since alerts open and close
	# on a busy machine and the trends move with every sample
	ok( defined poll_until(
			sub {
				my $a = req($path, $c->{token});
				return req($path, $c->{token}, 'If-None-Match' => $a->{headers}{etag})->{status} == 304;
			}),
		'  304 with If-None-Match');
	is(req($path, undef)->{status}, 401, '  401 without a token');
	$r = req($path, $nobody);
	is($r->{status}, 403, '  403 for a role without the rights');
	is(json_of($r)->{sqlstate}, '42501', '  with SQLSTATE 42501');
	is(req($path, $reader)->{status}, $c->{reader}, '  403 for a reader token') if $c->{reader};
	for my $q (@{ $c->{bad} })
	{
		$r = req("$path?$q", $c->{token});
		is($r->{status}, 400, "  ?$q: 400");
		like(json_of($r)->{detail} // '', qr/limit|cursor|state|UTF-8/, '    saying why');
	}
}
like(json_of(req('/api/v1/performance/jobs?state=open', $reader))->{detail},
	qr/state must be queued, running, succeeded, failed or cancelled/, 'a job state names the states');

# ---- alerts are revalidated: a resolved alert does not linger
$r = req('/api/v1/performance/alerts?state=open&limit=1', $reader);
my $etag = $r->{headers}{etag};
my $open = json_of($r)->{items}[0]{id};
$node->safe_psql($db, "UPDATE perfopt_alerts_data SET state = 'resolved', resolved_at = now() WHERE id = $open");
$r = req('/api/v1/performance/alerts?state=open&limit=1', $reader, 'If-None-Match' => $etag);
is($r->{status}, 200, 'alerts: after a resolve the old ETag gets 200');
isnt(json_of($r)->{items}[0]{id}, $open, '  without the resolved alert');

# ---- /metrics: Accept selects the Prometheus text
for my $accept ('text/plain; version=0.0.4', 'text/plain',
	'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')
{
	$r = req('/api/v1/performance/metrics', $reader, Accept => $accept);
	is($r->{status}, 200, "metrics with Accept: $accept: 200");
	like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, '  the exposition');
	like($r->{content}, qr/^perfopt_system_cpu_usage_ratio /m, '  with perfopt\'s families');
	like($r->{headers}{vary} // '', qr/\bAccept\b/, '  Vary: Accept');
}
for my $accept ('application/json', '*/*', 'text/plain;q=0.5, application/json')
{
	$r = req('/api/v1/performance/metrics', $reader, Accept => $accept);
	is($r->{headers}{'content-type'}, 'application/json', "metrics with Accept: $accept: JSON");
}
$r = req('/api/v1/performance/metrics?format=json', $reader, Accept => 'text/plain');
is($r->{headers}{'content-type'}, 'application/json', '?format=json wins over Accept');
is(req('/api/v1/performance/metrics?format=xml', $reader, Accept => 'text/plain')->{status}, 400,
	'?format=xml: 400 whatever Accept says');

# the Location of an optimization run reads that run (newest-first cursor)
$node->safe_psql($db, q{GRANT EXECUTE ON FUNCTION perfopt_optimize(boolean) TO api_admin});
$r = $http->request('POST', "$base/api/v1/performance/optimize",
	{ headers => { Authorization => "Bearer $admin" } });
is($r->{status}, 202, 'an optimization run: 202');
my $run = json_of($r)->{run_id};
my $at = req($r->{headers}{location}, $reader);
is(json_of($at)->{items}[0]{id}, $run, 'its Location gives that run\'s report, newest-first cursor and all');
is(scalar @{ json_of($at)->{items} }, 1, '  and only it');

httpd_stop($shim);
$node->stop;
done_testing();
