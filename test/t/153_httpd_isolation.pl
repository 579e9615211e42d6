# 153_httpd_isolation.pl — perfopt-httpd against a hostile database: a
# role that owns only its schema shadows perfopt's functions, the types
# and operators of the shim's SQL and the recommendations table, and the
# authenticator's search_path points at it (before and after pg_catalog);
# every route with a reader and an admin token must reach perfopt's own
# functions and never the attacker's.  A pooled connection poisoned on
# purpose (a trigger on perfopt_audit_log that changes session settings,
# takes an advisory lock, leaves a temporary table and raises a notice)
# must leave nothing to the next request.  Server messages that may quote
# row values stay out of HTTP bodies and the shim's log; bad input (invalid
# UTF-8, NUL, \u0000) gets 400 and changes nothing; /healthz answers while
# every call waits on a lock; one address cannot take every connection;
# a database without the extension gets 503 until it is created, in a
# schema of its own.
#
# Runs perfopt-httpd-asan when it was built (test/run.sh builds it), so
# that a hostile input tripping a sanitizer fails the test.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

# a refused connection must not kill the test with SIGPIPE
$SIG{PIPE} = "IGNORE";

my $db = 'postgres';
my $node = perfopt_node('httpd_isolation', interval => 300, conf => "perfopt.advisor_interval = 0\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, q{
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
CREATE ROLE api_admin NOLOGIN IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION perfopt_optimize(boolean), perfopt_optimize_database(boolean),
  perfopt_resolve_alert(bigint), perfopt_resolve_alerts(bigint[]), perfopt_set_thresholds(jsonb),
  perfopt_start_monitoring(integer), perfopt_start_monitoring(), perfopt_stop_monitoring(),
  perfopt_audit_page(bigint, integer)
  TO api_admin;
GRANT api_reader, api_admin TO perfopt_api;
});

my $top = $ENV{PERFOPT_TOP} // abs_path(dirname(__FILE__) . '/../..');
my $bin = $ENV{PERFOPT_HTTPD};
if (!defined $bin && -x "$top/perfopt-httpd-asan")
{
	$bin = "$top/perfopt-httpd-asan";
	$ENV{ASAN_OPTIONS} = 'detect_leaks=0:abort_on_error=1';
	$ENV{UBSAN_OPTIONS} = 'print_stacktrace=1:halt_on_error=1';
}
$bin //= $node->config_data('--bindir') . '/perfopt-httpd';
ok(-x $bin, "perfopt-httpd: $bin");

my %tok = (
	reader => 'iso-reader-token-1234567890',
	reader2 => 'iso-reader-token-second-one',
	admin => 'iso-admin-token-abcdefghij',
	admin2 => 'iso-admin-token-second-one',
	stranger => 'iso-stranger-token-123456',
	ghost => 'iso-ghost-token-1234567890');
my %role_of = (stranger => 'api_stranger', ghost => 'api_ghost');
$node->safe_psql($db, 'CREATE ROLE api_stranger NOLOGIN IN ROLE pg_monitor');
my $tokens = $node->basedir . '/tokens';
open(my $fh, '>', $tokens) or die;
for my $name (sort keys %tok)
{
	my $role = $role_of{$name} // ($name =~ /admin/ ? 'api_admin' : 'api_reader');
	print $fh httpd_hash_token($bin, $tok{$name}) . " $role\n";
}
close $fh;

sub conninfo
{
	my ($dbname) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . " dbname=$dbname user=perfopt_api";
}

my %shims;
my $http = HTTP::Tiny->new(timeout => 30);

# a shim on a free port; its base URL (undef when it did not start)
sub start_shim
{
	my ($name, $conninfo, @extra) = @_;
	my $s = httpd_start(
		$node,
		name => $name,
		bin => $bin,
		conninfo => $conninfo,
		tokens => $tokens,
		timeout => 20,
		args => [
			'--read-rate', '1000', '--read-burst', '1000', '--write-rate', '1000', '--write-burst', '1000',
			'--anon-rate', '1000', '--anon-burst', '1000', @extra
		]);
	$shims{$name} = $s;
	ok(defined $s->{up}, "shim $name listens on $s->{port}");
	return $s->{base};
}

sub stop_shim
{
	my ($name) = @_;
	my $s = delete $shims{$name};
	my $clean = httpd_stop($s);
	is($clean ? 0 : $s->{h}->full_result, 0, "shim $name: SIGTERM, exit 0");
	my $log = slurp_file($s->{log});
	unlike($log, qr/AddressSanitizer|runtime error|LeakSanitizer/, "shim $name: no sanitizer report");
	return $log;
}

sub req
{
	my ($base, $method, $path, $token, %opt) = @_;
	my %headers = %{ $opt{headers} // {} };
	$headers{Authorization} = "Bearer $tok{$token}" if defined $token;
	my %args = (headers => \%headers);
	$args{content} = $opt{body} if defined $opt{body};
	return ($opt{http} // $http)->request($method, "$base$path", \%args);
}

sub json_of
{
	my ($r) = @_;
	return eval { decode_json($r->{content}) };
}

# ---- the attacker: owns one schema, and shadows everything the shim names
$node->safe_psql(
	$db, q{
CREATE ROLE attacker LOGIN;
CREATE SCHEMA attacker AUTHORIZATION attacker;
SET ROLE attacker;
GRANT USAGE ON SCHEMA attacker TO PUBLIC;
CREATE TABLE attacker.calls (who pg_catalog.name, what pg_catalog.text);
GRANT INSERT ON attacker.calls TO PUBLIC;
-- records who was tricked into running attacker code (RAISE LOG also works read-only)
CREATE FUNCTION attacker.spy(what pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE plpgsql AS $$
BEGIN
    RAISE LOG 'attacker-spy: % as %', what, current_user;
    BEGIN
        INSERT INTO attacker.calls (who, what) VALUES (current_user, what);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN true;
END
$$;
CREATE FUNCTION attacker.fake(what pg_catalog.text, arg pg_catalog.text) RETURNS pg_catalog.jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM attacker.spy(what OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) CASE WHEN arg IS NULL THEN '' ELSE arg END);
    RETURN '{"attacker": true, "items": [], "next_after": null}'::pg_catalog.jsonb;
END
$$;
CREATE FUNCTION attacker.perfopt_status() RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_status', NULL) $$;
CREATE FUNCTION attacker.perfopt_metrics() RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_metrics', NULL) $$;
CREATE FUNCTION attacker.perfopt_database_metrics() RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_database_metrics', NULL) $$;
CREATE FUNCTION attacker.perfopt_api_metrics() RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_api_metrics', NULL) $$;
CREATE FUNCTION attacker.perfopt_thresholds() RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_thresholds', NULL) $$;
CREATE FUNCTION attacker.perfopt_metrics_prometheus() RETURNS pg_catalog.text LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_metrics_prometheus', NULL)::pg_catalog.text $$;
CREATE FUNCTION attacker.perfopt_set_thresholds(d pg_catalog.jsonb) RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_set_thresholds', d::pg_catalog.text) $$;
CREATE FUNCTION attacker.perfopt_history(a pg_catalog.int8, l pg_catalog.int4) RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_history', NULL) $$;
CREATE FUNCTION attacker.perfopt_alerts_page(s pg_catalog.text, a pg_catalog.int8, l pg_catalog.int4) RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_alerts_page', s) $$;
CREATE FUNCTION attacker.perfopt_resolve_alert(i pg_catalog.int8) RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_resolve_alert', NULL) $$;
CREATE FUNCTION attacker.perfopt_resolve_alerts(i pg_catalog.int8[]) RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_resolve_alerts', NULL) $$;
CREATE FUNCTION attacker.perfopt_optimize(d pg_catalog.bool) RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_optimize', NULL) $$;
CREATE FUNCTION attacker.perfopt_optimize_database(d pg_catalog.bool) RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_optimize_database', NULL) $$;
CREATE FUNCTION attacker.perfopt_start_monitoring(i pg_catalog.int4) RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_start_monitoring', NULL) $$;
CREATE FUNCTION attacker.perfopt_start_monitoring() RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_start_monitoring', NULL) $$;
CREATE FUNCTION attacker.perfopt_stop_monitoring() RETURNS pg_catalog.jsonb LANGUAGE sql AS $$ SELECT attacker.fake('perfopt_stop_monitoring', NULL) $$;
-- the recommendations table, and better matches than pg_catalog's polymorphic functions
CREATE VIEW attacker.perfopt_recommendations AS
    SELECT 1::pg_catalog.int8 AS id WHERE attacker.spy('perfopt_recommendations view');
GRANT SELECT ON attacker.perfopt_recommendations TO PUBLIC;
CREATE FUNCTION attacker.to_jsonb(r public.perfopt_recommendations) RETURNS pg_catalog.jsonb
LANGUAGE sql AS $$ SELECT attacker.fake('to_jsonb', NULL) $$;
CREATE FUNCTION attacker.to_jsonb(r attacker.perfopt_recommendations) RETURNS pg_catalog.jsonb
LANGUAGE sql AS $$ SELECT attacker.fake('to_jsonb', NULL) $$;
CREATE FUNCTION attacker.agg_step(s pg_catalog.jsonb, v pg_catalog.jsonb) RETURNS pg_catalog.jsonb
LANGUAGE sql AS $$ SELECT attacker.fake('jsonb_agg', NULL) $$;
CREATE AGGREGATE attacker.jsonb_agg(pg_catalog.jsonb) (SFUNC = attacker.agg_step, STYPE = pg_catalog.jsonb);
-- types named like pg_catalog's: they win when the path lists attacker first
CREATE DOMAIN attacker.text AS pg_catalog.text CHECK (attacker.spy('domain text: ' OPERATOR(pg_catalog.||) VALUE));
CREATE DOMAIN attacker.jsonb AS pg_catalog.jsonb CHECK (attacker.spy('domain jsonb: ' OPERATOR(pg_catalog.||) VALUE::pg_catalog.text));
CREATE DOMAIN attacker.int8 AS pg_catalog.int8 CHECK (attacker.spy('domain int8'));
CREATE DOMAIN attacker.int4 AS pg_catalog.int4 CHECK (attacker.spy('domain int4'));
CREATE DOMAIN attacker.bool AS pg_catalog.bool CHECK (attacker.spy('domain bool'));
CREATE DOMAIN attacker.name AS pg_catalog.name CHECK (attacker.spy('domain name'));
-- operators over the types the shim compares
CREATE FUNCTION attacker.eq_name(a pg_catalog.name, b pg_catalog.name) RETURNS pg_catalog.bool
LANGUAGE sql AS $$ SELECT attacker.spy('operator = (name, name)') AND pg_catalog.nameeq(a, b) $$;
CREATE OPERATOR attacker.= (LEFTARG = pg_catalog.name, RIGHTARG = pg_catalog.name, FUNCTION = attacker.eq_name);
CREATE FUNCTION attacker.eq_name_text(a pg_catalog.name, b pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE sql AS $$ SELECT attacker.spy('operator = (name, text)') AND pg_catalog.nameeqtext(a, b) $$;
CREATE OPERATOR attacker.= (LEFTARG = pg_catalog.name, RIGHTARG = pg_catalog.text, FUNCTION = attacker.eq_name_text);
CREATE FUNCTION attacker.eq_oid(a pg_catalog.oid, b pg_catalog.oid) RETURNS pg_catalog.bool
LANGUAGE sql AS $$ SELECT attacker.spy('operator = (oid, oid)') AND pg_catalog.oideq(a, b) $$;
CREATE OPERATOR attacker.= (LEFTARG = pg_catalog.oid, RIGHTARG = pg_catalog.oid, FUNCTION = attacker.eq_oid);
CREATE FUNCTION attacker.eq_text(a pg_catalog.text, b pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE sql AS $$ SELECT attacker.spy('operator = (text, text)') AND pg_catalog.texteq(a, b) $$;
CREATE OPERATOR attacker.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = attacker.eq_text);
RESET ROLE;
});

# attacker code that ran, as whom: the log lines since $offset and the table
sub spied
{
	my ($offset) = @_;
	my @lines = grep { /attacker-spy/ } split /\n/, log_since($node, $offset);
	my $rows = $node->safe_psql($db, q{SELECT string_agg(who || ': ' || what, '; ') FROM attacker.calls});
	$node->safe_psql($db, 'TRUNCATE attacker.calls');
	return join("\n", @lines, $rows ne '' ? ("table: $rows") : ());
}

sub thresholds { return $node->safe_psql($db, 'SELECT perfopt_thresholds()'); }
sub audit_rows { return $node->safe_psql($db, 'SELECT count(*) FROM perfopt_audit_log'); }

# every route with the reader and the admin token: [method, path, reader, admin, body]
my @routes = (
	[ 'GET', '/api/v1/performance/status', 200, 200 ],
	[ 'GET', '/api/v1/performance/history', 200, 200 ],
	[ 'GET', '/api/v1/performance/recommendations', 200, 200 ],
	[ 'GET', '/api/v1/performance/metrics', 200, 200 ],
	[ 'GET', '/api/v1/performance/metrics?format=prometheus', 200, 200 ],
	[ 'GET', '/api/v1/performance/alerts?state=open&limit=5', 200, 200 ],
	[ 'GET', '/api/v1/performance/thresholds', 200, 200 ],
	[ 'GET', '/api/v1/performance/database', 200, 200 ],
	[ 'GET', '/api/v1/performance/api', 200, 200 ],
	[ 'GET', '/api/v1/performance/metrics/history?points=10', 200, 200 ],
	[ 'GET', '/api/v1/performance/trends', 200, 200 ],
	[ 'GET', '/api/v1/performance/slow-queries', 200, 200 ],
	[ 'GET', '/api/v1/performance/jobs?state=queued&limit=5', 200, 200 ],
	[ 'GET', '/api/v1/performance/verifications?limit=5', 200, 200 ],
	[ 'GET', '/api/v1/performance/audit?limit=5', 403, 200 ],
	[ 'POST', '/api/v1/performance/optimize?dry_run=true', 403, 200 ],
	[ 'POST', '/api/v1/performance/database/optimize?dry_run=true', 403, 200 ],
	[ 'POST', '/api/v1/performance/alerts/987654/resolve', 403, 404 ],
	[ 'POST', '/api/v1/performance/alerts/resolve', 403, 200, '{"ids": [987654]}' ],
	[ 'PUT', '/api/v1/performance/thresholds', 403, 200, '{"cpu": {"warning": 71}}' ],
	[ 'POST', '/api/v1/performance/monitoring/stop', 403, 200 ],
	[ 'POST', '/api/v1/performance/monitoring/start', 403, 200, '{"interval_ms": 300}' ],
	[ 'GET', '/metrics', 200, 200 ],
	[ 'GET', '/healthz', 200, 200 ],
);

# ---- 1. the authenticator's search_path leads to the attacker
for my $path ('attacker, public', 'attacker, pg_catalog, public')
{
	$node->safe_psql($db, "ALTER ROLE perfopt_api SET search_path = $path");
	my $offset = -s $node->logfile;
	my $base = start_shim('path', conninfo($db));
	for my $rt (@routes)
	{
		my ($method, $path_q, $for_reader, $for_admin, $body) = @$rt;
		for my $who ([ 'reader', $for_reader ], [ 'admin', $for_admin ])
		{
			my $r = req($base, $method, $path_q, $who->[0], body => $body);
			is($r->{status}, $who->[1], "search_path $path: $method $path_q as $who->[0]: $who->[1]");
			if ($r->{status} == 200 && $path_q !~ /prometheus|^\/metrics|healthz/)
			{
				my $doc = json_of($r);
				ok(ref $doc && !(ref $doc eq 'HASH' && $doc->{attacker}), '  perfopt answered, not the attacker');
			}
		}
	}
	is(json_of(req($base, 'GET', '/api/v1/performance/thresholds', 'reader'))->{cpu}{warning}, 71,
		"search_path $path: the PUT reached perfopt_set_thresholds");
	is(spied($offset), '', "search_path $path: no attacker code ran");
	stop_shim('path');
}
$node->safe_psql($db, 'ALTER ROLE perfopt_api RESET search_path');

# ---- 2. a pooled connection poisoned on purpose; --pool 1 so every request shares it
$node->safe_psql(
	$db, q{
CREATE FUNCTION public.poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'attacker, public', false);
    PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false);
    PERFORM pg_catalog.set_config('lock_timeout', '1', false);
    PERFORM pg_catalog.pg_advisory_lock(4242);
    CREATE TEMP TABLE IF NOT EXISTS left_behind (secret pg_catalog.text);
    RAISE NOTICE 'poison-notice-secret';
    RETURN NEW;
END
$$;
CREATE TRIGGER poison AFTER INSERT ON perfopt_audit_log FOR EACH ROW EXECUTE FUNCTION public.poison();
});
{
	my $offset = -s $node->logfile;
	my $base = start_shim('pool1', conninfo($db), '--pool', '1');
	my $r = req($base, 'PUT', '/api/v1/performance/thresholds', 'admin', body => '{"cpu": {"warning": 72}}');
	is($r->{status}, 200, 'poisoned: the PUT that fires the trigger: 200');
	my $shim_sessions = q{SELECT pid FROM pg_stat_activity WHERE application_name = 'perfopt-httpd'};
	is($node->safe_psql($db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid IN ($shim_sessions)"),
		0, 'poisoned: no advisory lock outlives the request');
	is($node->safe_psql($db, q{SELECT count(*) FROM pg_class WHERE relname = 'left_behind'}),
		0, 'poisoned: no temporary table outlives the request');
	is($node->safe_psql($db, "SELECT count(*) FROM ($shim_sessions) s"), 1, 'the shim\'s session is still the one connection');
	for my $token ('reader', 'reader2', 'admin2')
	{
		$r = req($base, 'GET', '/api/v1/performance/status', $token);
		is($r->{status}, 200, "poisoned: then GET status as $token: 200");
		ok(defined json_of($r) && !json_of($r)->{attacker}, '  from perfopt');
		$r = req($base, 'GET', '/api/v1/performance/recommendations', $token);
		is($r->{status}, 200, "poisoned: then GET recommendations as $token: 200");
	}
	$r = req($base, 'PUT', '/api/v1/performance/thresholds', 'admin2', body => '{"cpu": {"warning": 73}}');
	is($r->{status}, 200, 'poisoned: a later PUT with another admin token is not read-only: 200');
	$r = req($base, 'POST', '/api/v1/performance/alerts/resolve', 'admin2', body => '{"ids": [987654]}');
	is($r->{status}, 200, 'poisoned: a later bulk resolve: 200');
	is(json_of(req($base, 'GET', '/api/v1/performance/thresholds', 'reader2'))->{cpu}{warning}, 73,
		'poisoned: the later PUT took effect');
	is(req($base, 'GET', '/healthz', undef)->{status}, 200, 'poisoned: /healthz: 200');
	is(spied($offset), '', 'poisoned: no attacker code ran');
	my $log = stop_shim('pool1');
	unlike($log, qr/poison-notice-secret/, 'poisoned: a notice raised by server code is not in the shim\'s log');
}
$node->safe_psql($db, 'DROP TRIGGER poison ON perfopt_audit_log');

# ---- 3. error bodies: perfopt's messages and the shim's, never the server's quoting values
my $base = start_shim('main', conninfo($db));
$node->safe_psql(
	$db, q{
CREATE FUNCTION public.leak() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 'row-value-secret'::pg_catalog.int4;
    RETURN NEW;
END
$$;
CREATE TRIGGER leak AFTER INSERT ON perfopt_audit_log FOR EACH ROW EXECUTE FUNCTION public.leak();
});
{
	my $before = thresholds();
	my $r = req($base, 'PUT', '/api/v1/performance/thresholds', 'admin', body => '{"cpu": {"warning": 74}}');
	is($r->{status}, 400, 'a cast error in server code: 400 (22P02)');
	my $e = json_of($r);
	is($e->{sqlstate}, '22P02', '  with its SQLSTATE');
	ok(defined $e->{detail} && $e->{detail} ne '', "  and a description: $e->{detail}");
	unlike($r->{content}, qr/row-value-secret/, '  the row value it quotes is not in the body');
	is(thresholds(), $before, '  and nothing changed');
}
# server code that words its error as perfopt would (its old prefix, one of
# its sentences) is still not perfopt: the message stays in the server
$node->safe_psql(
	$db, q{
CREATE OR REPLACE FUNCTION public.leak() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'perfopt: interval_ms must be between row-value-secret'
        USING ERRCODE = '22023', DETAIL = 'row-value-secret', HINT = 'row-value-secret';
END
$$;
});
{
	my $before = thresholds();
	my $r = req($base, 'PUT', '/api/v1/performance/thresholds', 'admin', body => '{"cpu": {"warning": 74}}');
	is($r->{status}, 400, 'an error worded as perfopt\'s, raised by server code: 400 (22023)');
	is(json_of($r)->{sqlstate}, '22023', '  with its SQLSTATE');
	unlike($r->{content}, qr/row-value-secret/, '  its words are not in the body');
	is(thresholds(), $before, '  and nothing changed');
}
$node->safe_psql($db, 'DROP TRIGGER leak ON perfopt_audit_log');
{
	my $r = req($base, 'POST', '/api/v1/performance/monitoring/start', 'admin', body => '{"interval_ms": 50}');
	is($r->{status}, 400, 'perfopt refuses an interval: 400');
	# perfopt's messages carry no prefix (core's style): the shim knows
	# them by the source file that raised them
	like(json_of($r)->{detail} // '', qr/^interval_ms must be between/, '  perfopt\'s own message is passed on');
	is(json_of($r)->{sqlstate}, '22023', '  with SQLSTATE 22023');
	# (a range the shim cannot check alone: to is the server's now)
	$r = req($base, 'GET', '/api/v1/performance/metrics/history?from=2000-01-01T00:00:00Z', 'reader');
	is($r->{status}, 400, 'perfopt_metrics_history refuses a range: 400');
	like(json_of($r)->{detail} // '', qr/^the range from from_ts to to_ts must not exceed 31 days/,
		'  its message: passed on');
	$r = req($base, 'PUT', '/api/v1/performance/thresholds', 'admin', body => '{"cpu": {"warning": 101}}');
	is($r->{status}, 400, 'perfopt refuses a threshold: 400');
	is(json_of($r)->{sqlstate}, '22023', '  with SQLSTATE 22023');
	ok((json_of($r)->{detail} // '') ne '', '  and a description: ' . (json_of($r)->{detail} // ''));
	$r = req($base, 'PUT', '/api/v1/performance/thresholds', 'reader', body => '{"cpu": {"warning": 70}}');
	is($r->{status}, 403, 'reader PUT: 403');
	is(json_of($r)->{sqlstate}, '42501', '  SQLSTATE 42501');
	unlike(json_of($r)->{detail} // '', qr/permission denied/, '  the server\'s message is not passed on');
	ok((json_of($r)->{detail} // '') ne '', '  a description instead: ' . (json_of($r)->{detail} // ''));
	# the token's role itself is refused: the shim's configuration
	$r = req($base, 'GET', '/api/v1/performance/status', 'stranger');
	is($r->{status}, 403, 'a role the authenticator may not take: 403');
	like(json_of($r)->{detail} // '', qr/^perfopt-httpd: the authenticator may not take/, '  the shim says so');
	$r = req($base, 'GET', '/api/v1/performance/status', 'ghost');
	is($r->{status}, 500, 'a role that does not exist: 500');
	like(json_of($r)->{detail} // '', qr/^perfopt-httpd: /, '  the shim\'s words: ' . (json_of($r)->{detail} // ''));
	unlike($r->{content}, qr/api_ghost/, '  not the server\'s');
	is(req($base, 'GET', '/api/v1/performance/status', 'reader')->{status}, 200, 'the next request on the pool: 200');
}

# ---- 4. bad input: 400, and nothing changes
{
	$node->safe_psql($db,
		q{INSERT INTO perfopt_alerts_data (id, type, metric, subject, severity, state, value, threshold,
		    first_seen, last_seen, resolved_at, resolved_by, message)
		  VALUES (500001, 'cpu', 'test.iso', 'r', 'low', 'resolved', 1, 1, now(), now(), now(), 'test', 'iso')});
	for my $q ('state=%E2', 'state=%FF', 'state=%C3%28', 'state=open%00x', 'limit=5%00', 'cursor=%E2%82')
	{
		my $r = req($base, 'GET', "/api/v1/performance/alerts?$q", 'reader');
		is($r->{status}, 400, "alerts?$q: 400");
		unlike($r->{content}, qr/500001/, '  and no alert listed');
	}
	is(req($base, 'POST', '/api/v1/performance/optimize?dry_run=tr%E2', 'admin')->{status}, 400, 'dry_run=tr%E2: 400');
	my $before = thresholds();
	my $audit = audit_rows();
	for my $body ('{"cpu\u0000": {"warning": 70}}', '{"cpu": {"warning\u0000x": 70}}', '{"cpu": {"warning": 70}, "x": "\u0000"}',
		"{\"cpu\": {\"warning\": 70}, \"x\xff\": 1}", "{\"cpu\": {\"warning\": 70}, \"x\": \"\xe2\x28\xa1\"}")
	{
		my $r = req($base, 'PUT', '/api/v1/performance/thresholds', 'admin', body => $body);
		(my $shown = $body) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
		is($r->{status}, 400, "PUT thresholds $shown: 400");
		ok(defined json_of($r), '  a JSON error');
	}
	for my $body ('{"ids\u0000": [1]}', "{\"ids\": [1], \"\xff\": 2}")
	{
		(my $shown = $body) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
		is(req($base, 'POST', '/api/v1/performance/alerts/resolve', 'admin', body => $body)->{status}, 400,
			"bulk resolve $shown: 400");
	}
	is(req($base, 'POST', '/api/v1/performance/monitoring/start', 'admin', body => '{"interval_ms\u0000": 300}')->{status},
		400, 'monitoring/start with \u0000 in the key: 400');
	is(thresholds(), $before, 'the bad PUTs changed no threshold');
	is(audit_rows(), $audit, 'and wrote no audit row');
}

# ---- 5. /healthz does not wait behind database calls
{
	my $pool = 2;
	my $busy = start_shim('busy', conninfo($db), '--pool', $pool, '--statement-timeout', '30000');
	my $holder = $node->background_psql($db);
	$holder->query_safe('BEGIN; LOCK TABLE perfopt_audit_log IN ACCESS EXCLUSIVE MODE;');
	my @puts;
	for my $i (1 .. 9)
	{
		my $out = '';
		push @puts, [ IPC::Run::start(
			[ 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '60', '-X', 'PUT',
			  '-H', "Authorization: Bearer $tok{admin}", '--data', '{"cpu": {"warning": 75}}',
			  "$busy/api/v1/performance/thresholds" ], '>', \$out), \$out ];
	}
	my $waiting = poll_until(
		sub {
			$node->safe_psql($db,
				q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'perfopt-httpd' AND wait_event_type = 'Lock'})
			  >= $pool;
		}, 30);
	ok(defined $waiting, "every pooled connection waits on the lock, 7 more requests queued");
	my $t0 = time;
	my $r = HTTP::Tiny->new(timeout => 8)->get("$busy/healthz");
	my $took = time - $t0;
	is($r->{status}, 200, sprintf('/healthz meanwhile: 200 (%.3f s)', $took));
	cmp_ok($took, '<', 2.5, '  within its own budget, not behind the queue');
	$holder->query_safe('COMMIT');
	$holder->quit;
	my @codes;
	for my $p (@puts)
	{
		$p->[0]->finish;
		push @codes, ${ $p->[1] };
	}
	is(join(',', @codes), join(',', ('200') x 9), 'the queued PUTs finish once the lock is gone');
	stop_shim('busy');
}

# ---- 5b. --statement-timeout holds for every request: it is the session's
# startup option, which the reset after each request returns to, not a
# per-request SET (an ALTER ROLE setting of the authenticator does not win)
{
	$node->safe_psql($db, 'ALTER ROLE perfopt_api SET statement_timeout = 0');
	my $quick = start_shim('quick', conninfo($db), '--pool', '2', '--statement-timeout', '300');
	my $holder = $node->background_psql($db);
	$holder->query_safe('BEGIN; LOCK TABLE perfopt_audit_log IN ACCESS EXCLUSIVE MODE;');
	for my $i (1 .. 3)
	{
		my $r = req($quick, 'PUT', '/api/v1/performance/thresholds', 'admin', body => '{"cpu": {"warning": 75}}');
		is($r->{status}, 409, "a call behind a lock, request $i: 409 after --statement-timeout");
		like($r->{content}, qr/57014/, "  with SQLSTATE 57014");
	}
	$holder->query_safe('COMMIT');
	$holder->quit;
	is(req($quick, 'PUT', '/api/v1/performance/thresholds', 'admin', body => '{"cpu": {"warning": 75}}')->{status},
		200, 'the same connections serve the next request once the lock is gone');
	stop_shim('quick');
	$node->safe_psql($db, 'ALTER ROLE perfopt_api RESET statement_timeout');
}

# ---- 6. one address cannot take every connection slot
{
	# two HTTP threads: the count is the daemon's, not one thread's
	my $capped = start_shim('capped', conninfo($db), '--per-address-connections', '3', '--threads', '2');
	my ($port) = $capped =~ /:(\d+)$/;

	# one request on a kept-alive raw connection; its status line or ''
	my $ask = sub {
		my ($sock) = @_;
		return '' unless $sock;
		$sock->syswrite("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") or return '';
		my $sel = IO::Select->new($sock);
		my $got = '';
		while ($sel->can_read(5))
		{
			my $n = $sock->sysread(my $buf, 4096);
			last unless $n;
			$got .= $buf;
			last if $got =~ /\r\n\r\n.*\}/s;
		}
		return $got =~ /^(HTTP\/1\.1 \d+)/ ? $1 : '';
	};
	my $connect = sub {
		my ($from) = @_;
		return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, LocalAddr => $from, Proto => 'tcp');
	};
	my @held = map { $connect->('127.0.0.1') } 1 .. 3;
	is(join(',', map { $ask->($_) } @held), join(',', ('HTTP/1.1 200') x 3), 'three kept-alive connections from 127.0.0.1');
	is($ask->($connect->('127.0.0.1')), '', 'a fourth from 127.0.0.1 is refused');
	is($ask->($connect->('127.0.0.2')), 'HTTP/1.1 200', 'another address still gets in');
	close($_) for grep { defined } @held;
	ok(defined poll_until(sub { $ask->($connect->('127.0.0.1')) eq 'HTTP/1.1 200' }, 10),
		'once they close, 127.0.0.1 gets in again');
	stop_shim('capped');
}

# ---- 7. a database without the extension: 503 until it is created (in a schema of its own)
{
	$node->safe_psql($db, 'CREATE DATABASE noext');
	my $nb = start_shim('noext', conninfo('noext'));
	my $r = req($nb, 'GET', '/api/v1/performance/status', 'reader');
	is($r->{status}, 503, 'no extension: status 503');
	like(json_of($r)->{detail} // '', qr/not installed/, '  saying the extension is not installed');
	$r = req($nb, 'GET', '/healthz', undef);
	is($r->{status}, 503, 'no extension: /healthz 503');
	like(json_of($r)->{detail} // '', qr/not installed/, '  saying so');
	is(req($nb, 'PUT', '/api/v1/performance/thresholds', 'admin', body => '{"cpu": {"warning": 70}}')->{status}, 503,
		'no extension: PUT 503');
	$node->safe_psql('noext',
		'CREATE EXTENSION pg_stat_statements; CREATE SCHEMA po; CREATE EXTENSION perfopt SCHEMA po;'
		  . ' GRANT USAGE ON SCHEMA po TO pg_monitor;');
	ok(defined poll_until(sub { req($nb, 'GET', '/api/v1/performance/status', 'reader')->{status} == 200 }, 10),
		'once created in schema po (not on the search_path), status 200 without a restart');
	is(req($nb, 'GET', '/api/v1/performance/thresholds', 'admin')->{status}, 200, '  thresholds 200');
	is(req($nb, 'GET', '/api/v1/performance/recommendations', 'reader')->{status}, 200, '  recommendations 200');
	is(req($nb, 'GET', '/healthz', undef)->{status}, 200, '  /healthz 200');
	stop_shim('noext');
}

# ---- every statement the shims sent is tagged (and so named in pg_stat_statements)
is( $node->safe_psql(
		$db, q{SELECT string_agg(query, ' | ') FROM pg_stat_statements
		  WHERE userid IN ('perfopt_api'::regrole, 'api_reader'::regrole, 'api_admin'::regrole)
		    AND query NOT LIKE '/* perfopt */ %'}),
	'',
	'every statement of the shims starts with /* perfopt */');
cmp_ok(
	$node->safe_psql(
		$db, q{SELECT count(*) FROM pg_stat_statements
		  WHERE userid IN ('perfopt_api'::regrole, 'api_reader'::regrole, 'api_admin'::regrole)}),
	'>', 10, '  (and there are some)');

my $log = stop_shim('main');
unlike($log, qr/row-value-secret|invalid input syntax/, 'the shim\'s log has no server message quoting values');
unlike($log, qr/\Q$tok{reader}\E|\Q$tok{admin}\E/, 'and no token');

$node->stop;
done_testing();
