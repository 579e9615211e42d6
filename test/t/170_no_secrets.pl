# 170_no_secrets.pl — perfopt never repeats a secret.  A run is seeded
# with recognizable secrets (every one matches /SECRET_[A-Z0-9_]+/):
#   - literals of statements (SELECT, UPDATE), a bind parameter (pgbench
#     -M prepared and -M extended), an EXECUTE argument, literals of
#     statements running while the worker samples pg_stat_activity, of a
#     session idle in transaction that the emergency actions terminate,
#     of a blocking statement they cancel, and of failing statements;
#   - the authenticator role's password: set with ALTER ROLE (a utility
#     statement, whose text pg_stat_statements 15 keeps as it was run) and
#     passed to perfopt-httpd in --conninfo (scram-sha-256 in pg_hba), a
#     wrong password given to a second shim, a config file with a typo;
#   - bearer tokens, valid and wrong, sent to the shim;
#   - the value samples: the node samples every execution
#     (perfopt.value_sample_rate = 1), so the literals and bind values
#     above sit in perfopt's shared memory; counts in perfopt_status()
#     show that they were taken, and no output below may carry one.
#     Their one exit is perfopt_replica_workload(), for members of
#     perfopt_replica_reader only: every other role gets 42501, a member
#     gets them (the positive control), and the advisor reads them through
#     it with perfopt.advisor_standbys pointing at this node itself (the
#     path a primary takes to a standby), after which no output carries
#     them either.
#     The secrets the application sends differ per execution (a user's
#     value, "..._7Q_1", "..._7Q_2", ...): a value nearly every sampled
#     execution shares is an application constant, which may become a
#     partial index's predicate in a recommendation's DDL
#     (docs/security.md); these never do, not even where the statement
#     would suit a partial index (id > $1 AND email = '...').
# Then every output is read and none may carry a secret: each perfopt
# relation (found through pg_depend, dumped with t::text), each perfopt
# function callable without arguments, the shim's GET routes (bodies and
# headers), its error bodies (401, 503 with PostgreSQL down or refusing
# the password), its log, and the server log.  Positive controls show that
# each secret did reach the server (the statements ran, pg_stat_statements
# holds their normalized form, the emergency actions acted on those
# sessions, the shim authenticated with the password).
#
# The server log: PostgreSQL itself writes a failing statement's text
# (log_min_error_statement) and every statement with log_statement; that
# is PostgreSQL's output, not perfopt's, so this node runs with
# log_min_error_statement = panic and log_statement = none.  The error
# messages of the two failing statements carry their secret by themselves
# (invalid input syntax: "...", Key (code)=(...) already exists): exactly
# those lines of the session that ran them are left out of the check.
use strict;
use warnings;

use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $SECRET = qr/SECRET_[A-Z0-9_]+/;
my %s = (
	literal => 'SECRET_LITERAL_7Q',
	update => 'SECRET_UPDATE_5U',
	param => 'SECRET_PARAM_5P',
	execute => 'SECRET_EXECUTE_2E',
	activity => 'SECRET_ACTIVITY_9Z',
	idle => 'SECRET_IDLE_6T',
	blocker => 'SECRET_BLOCKER_3B',
	fail => 'SECRET_FAIL_8F',
	dupkey => 'SECRET_DUPKEY_4D',
	into => 'SECRET_INTO_3J',
	password => 'SECRET_PW_4K',
	wrong_password => 'SECRET_PW_WRONG_1W',
	reader_token => 'SECRET_TOKEN_READER_K2M9P',
	admin_token => 'SECRET_TOKEN_ADMIN_Q8R4T',
	wrong_token => 'SECRET_TOKEN_WRONG_Z5V1N');
like($_, qr/^$SECRET$/, "the secret $_ matches the pattern the checks look for") for sort values %s;

# ---- every check: no secret in this output
sub no_secret
{
	my ($name, $text) = @_;
	$text //= '';
	my %found;
	$found{$1}++ while $text =~ /($SECRET)/g;
	return 1 if ok(!%found, "no secret in $name");
	my $at = $text =~ /$SECRET/ ? $-[0] : 0;
	my $from = $at > 200 ? $at - 200 : 0;
	diag "$name carries " . join(', ', sort keys %found) . ":\n" . substr($text, $from, 500);
	return 0;
}

my $node = perfopt_node(
	'secrets',
	interval => 300,
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.slow_query_ms = 0\n"
	  . "log_min_error_statement = panic\n"
	  . "log_statement = none\n"
	  . "perfopt.enable_emergency_optimization = on\n"
	  . "perfopt.emergency_idle_in_transaction_age = '2s'\n"
	  . "perfopt.emergency_blocker_age = '1s'\n"
	  . "perfopt.value_sample_rate = 1\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql(
	$db, qq{
CREATE ROLE app LOGIN;
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE api_reader NOLOGIN IN ROLE pg_monitor;
CREATE ROLE api_admin NOLOGIN IN ROLE pg_monitor;
CREATE ROLE replica_login LOGIN IN ROLE perfopt_replica_reader;
GRANT EXECUTE ON FUNCTION perfopt_optimize(boolean) TO api_admin;
GRANT EXECUTE ON FUNCTION perfopt_audit_page(bigint, integer) TO api_admin;
GRANT api_reader, api_admin TO perfopt_api;
CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL, note text);
INSERT INTO people SELECT g, 'user' || g || '\@example.com', NULL FROM generate_series(1, 50000) g;
INSERT INTO people VALUES (-1, '$s{literal}', NULL), (-2, '$s{param}', NULL), (-3, '$s{execute}', NULL);
CREATE TABLE uniq (code text PRIMARY KEY);
INSERT INTO uniq VALUES ('$s{dupkey}');
CREATE TABLE lock_t (id int);
GRANT ALL ON people, uniq, lock_t TO app;
VACUUM ANALYZE people;
});
# the password, as a top-level statement pg_stat_statements records
$node->safe_psql($db, "ALTER ROLE perfopt_api PASSWORD '$s{password}'");
# SELECT ... INTO: a utility statement too, kept verbatim
$node->safe_psql($db, "SELECT id INTO TEMP into_copy FROM people WHERE email = '$s{into}'");
# scram-sha-256 for the authenticator, ahead of the trust lines
my $hba = $node->data_dir . '/pg_hba.conf';
my $hba_old = slurp_file($hba);
open(my $fh, '>', $hba) or die;
print $fh "local all perfopt_api scram-sha-256\nhost all perfopt_api 127.0.0.1/32 scram-sha-256\n" . $hba_old;
close $fh;
$node->reload;
# every connection is "critical" (so a session idle in transaction is
# terminated), and so is a p90 of 100 ms (a blocker is cancelled)
$node->safe_psql($db,
	q{SELECT perfopt_set_thresholds('{"database": {"connectionUtilization": {"warning": 1, "critical": 2},
	                                               "queryTime": {"warning": 50, "critical": 100}}}')});

{
	delete local $ENV{PGPASSWORD};
	my ($ret, $out, $err) = $node->psql($db, 'SELECT 1', extra_params => [ '-U', 'perfopt_api', '-w' ]);
	isnt($ret, 0, 'the authenticator cannot connect without its password');
	like($err, qr/password/, "  (psql: $err)");
}

# ---- the shim, with the password in --conninfo
my $bin = $ENV{PERFOPT_HTTPD} // $node->config_data('--bindir') . '/perfopt-httpd';
ok(-x $bin, "perfopt-httpd is installed ($bin)");

sub hash_token { return httpd_hash_token($bin, $_[0]); }
my $tokens = $node->basedir . '/tokens';
open($fh, '>', $tokens) or die;
print $fh hash_token($s{reader_token}) . " api_reader\n" . hash_token($s{admin_token}) . " api_admin\n";
close $fh;
no_secret('the token file (hashes only)', slurp_file($tokens));

sub conninfo
{
	my ($password) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . " dbname=$db user=perfopt_api password=$password";
}
my %shims;

sub start_shim
{
	my ($name, $password) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log = $node->basedir . "/httpd_$name.log";
	my $h = IPC::Run::start(
		[ $bin, '--listen', "127.0.0.1:$port", '--conninfo', conninfo($password), '--tokens', $tokens,
		  '--pool', '2', '--read-rate', '1000', '--read-burst', '1000', '--anon-rate', '1000', '--anon-burst', '1000' ],
		'>>', $log, '2>>', $log);
	my $http = HTTP::Tiny->new(timeout => 10);
	poll_until(sub { $http->get("http://127.0.0.1:$port/healthz")->{status} != 599 }, 10);
	$shims{$name} = { h => $h, log => $log, base => "http://127.0.0.1:$port" };
	return "http://127.0.0.1:$port";
}
my $base = start_shim('main', $s{password});
my $http = HTTP::Tiny->new(timeout => 30);

sub req
{
	my ($method, $url, $token, $body) = @_;
	my %args = (headers => { defined $token ? (Authorization => "Bearer $token") : () });
	$args{content} = $body if defined $body;
	return $http->request($method, $url, \%args);
}

# a response as one text: status line, headers, body
sub response_text
{
	my ($r) = @_;
	my $h = $r->{headers} // {};
	return "$r->{status} $r->{reason}\n"
	  . join('', map { "$_: " . (ref $h->{$_} ? join(', ', @{ $h->{$_} }) : $h->{$_}) . "\n" } sort keys %$h)
	  . "\n" . ($r->{content} // '');
}
is(req('GET', "$base/api/v1/performance/status", $s{reader_token})->{status},
	200, 'the shim connects with the password from --conninfo: 200');

# ---- (a) statement literals, as the application
run_statements($node, $db,
	[ (map { "SELECT count(*) FROM people WHERE email = '$s{literal}_$_'" } 1 .. 20),
	  (map { "SELECT count(*) FROM people WHERE id > $_ AND email = '$s{literal}_$_'" } 1 .. 20),
	  "UPDATE people SET note = '$s{update}' WHERE id = -1" ],
	"SET ROLE app;\n");
is($node->safe_psql($db, 'SELECT note FROM people WHERE id = -1'), $s{update}, 'the UPDATE literal reached the table');

# a bind parameter: pgbench -M prepared and -M extended send :email as $1
my $script = $node->basedir . '/lookup.sql';
open($fh, '>', $script) or die;
print $fh "SELECT count(*) FROM people WHERE email = :email;\n";
close $fh;
for my $mode ('prepared', 'extended')
{
	my ($pout, $perr);
	my $runs = 0;
	# a value of its own for each execution: one pgbench run each
	for my $i (1 .. 15)
	{
		my $pgbench_ok = IPC::Run::run(
			[ 'pgbench', '-n', '-M', $mode, '-c', '1', '-t', '1', '-D', "email=$s{param}_$i", '-f', $script,
			  '-h', $node->host, '-p', $node->port, '-U', 'app', $db ],
			'>', \$pout, '2>', \$perr);
		$runs++ if $pgbench_ok && $pout =~ m{number of transactions actually processed: 1/1};
	}
	is($runs, 15, "pgbench -M $mode ran 15 lookups, a secret bound as \$1 in each")
	  or diag "$pout\n$perr";
}

# PREPARE / EXECUTE with the secret as the argument
is( $node->safe_psql(
		$db,
		"SET ROLE app;\nPREPARE by_email(text) AS SELECT count(*) FROM people WHERE email = \$1;\n"
		  . "EXECUTE by_email('$s{execute}');"),
	'1',
	'EXECUTE with the secret argument finds its row');

# failing statements: their secret is in the error message itself
{
	local $ENV{PGAPPNAME} = 'seed_failing';
	my ($ret, $out, $err) = $node->psql($db,
		"SET ROLE app;\nSELECT count(*) FROM people WHERE id = '$s{fail}';\nINSERT INTO uniq VALUES ('$s{dupkey}');\n",
		extra_params => [ '-U', 'app' ], on_error_stop => 0);
	like($err, qr/invalid input syntax for type integer: "$s{fail}"/, 'the failing statement failed');
	like($err, qr/duplicate key value/, 'the duplicate key failed');
}

# the value samples took them: every execution offered, sets kept (counts only)
my $vs = perfopt_status($node, $db)->{value_samples};
ok($vs->{enabled}, 'value sampling is on (perfopt.value_sample_rate = 1)');
cmp_ok($vs->{offered}, '>=', 51,
	"the executions with secret literals and bind values were sampled ($vs->{offered} offered to the store)");
cmp_ok($vs->{value_sets}, '>=', 2,
	"value sets are kept in shared memory ($vs->{value_sets} sets, $vs->{statements} statements)");

note "pg_stat_statements:\n" . $node->safe_psql($db, "SELECT calls || E'\\t' || query FROM pg_stat_statements ORDER BY query");
cmp_ok( $node->safe_psql($db,
		"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query = 'SELECT count(*) FROM people WHERE email = \$1'"),
	'>=', 50,
	'pg_stat_statements: the literal lookups (20) and pgbench\'s (30) are there, normalized to $1');
is( $node->safe_psql($db,
		"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query = 'UPDATE people SET note = \$1 WHERE id = \$2'"),
	1, 'pg_stat_statements: the UPDATE, normalized');
my %pgss = map { $_ => 1 } split /\n/, $node->safe_psql($db, 'SELECT query FROM pg_stat_statements');
ok(defined $pgss{"ALTER ROLE perfopt_api PASSWORD '$s{password}'"},
	'pg_stat_statements keeps the ALTER ROLE text with the password (PostgreSQL 15 does not normalize utility statements): the advisor reads it');

# ---- statements visible in pg_stat_activity while the worker samples
sub activity_of
{
	my ($pid) = @_;
	return $node->safe_psql($db, "SELECT state || E'\\t' || query FROM pg_stat_activity WHERE pid = $pid");
}
my $act = $node->background_psql($db, extra_params => [ '-U', 'app' ]);
my $act_pid = $act->query_safe('SELECT pg_backend_pid()');
$act->query_until(qr/go/, "\\echo go\nSELECT pg_sleep(3) WHERE '$s{activity}' <> '';\n");
ok(defined poll_until(sub { activity_of($act_pid) =~ /^active\t.*$s{activity}/ }),
	'pg_stat_activity shows the running statement with its literal');
my $taken = samples_taken($node);
ok(defined poll_until(sub { samples_taken($node) >= $taken + 4 }), 'the worker samples while it runs');
$act->query_safe("PREPARE slow(text) AS SELECT pg_sleep(2) WHERE \$1 <> ''");
$act->query_until(qr/go/, "\\echo go\nEXECUTE slow('$s{execute}');\n");
ok(defined poll_until(sub { activity_of($act_pid) =~ /^active\tEXECUTE slow\('$s{execute}'\)/ }),
	'pg_stat_activity shows the EXECUTE with its argument');
$taken = samples_taken($node);
ok(defined poll_until(sub { samples_taken($node) >= $taken + 4 }), 'the worker samples while it runs');
eval { $act->quit };

# ---- a session idle in transaction: the emergency action terminates it
sub audit_for
{
	my ($action, $pid) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FROM perfopt_audit_log WHERE action = '$action' AND (arguments->>'pid')::int = $pid");
}
my $idle = $node->background_psql($db, extra_params => [ '-U', 'app' ], on_error_stop => 0);
my $idle_pid = $idle->query_safe('SELECT pg_backend_pid()');
$idle->query_safe("BEGIN; SELECT count(*) FROM people WHERE email = '$s{idle}'");
like(activity_of($idle_pid), qr/^idle in transaction\t.*$s{idle}/,
	'pg_stat_activity shows the idle transaction\'s last statement with its literal');
ok(defined poll_until(sub { audit_for('emergency_terminate', $idle_pid) > 0 }),
	'the emergency action terminates the session idle in transaction and audits it');
is( $node->safe_psql($db,
		"SELECT p.query FROM perfopt_audit_log a JOIN pg_stat_statements p ON p.queryid = (a.arguments->>'query_id')::bigint"
		  . " WHERE a.action = 'emergency_terminate' AND (a.arguments->>'pid')::int = $idle_pid LIMIT 1"),
	'SELECT count(*) FROM people WHERE email = $1',
	'its evidence names the statement by query id: pg_stat_statements has its normalized text');
eval { $idle->quit };

# ---- a blocking statement while query time is critical: cancelled
my $sleeps = $node->basedir . '/sleeps.sql';
open($fh, '>', $sleeps) or die;
print $fh "SELECT pg_sleep(0.15);\n" x 400;
close $fh;
my @sleepers = map {
	IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr($db), '-f', $sleeps ], '>', '/dev/null', '2>', '/dev/null')
} 1 .. 2;
ok( $node->poll_query_until($db,
		"SELECT (perfopt_api_metrics()->'last_interval'->'overall'->>'p90_ms')::float8 >= 100"),
	'the p90 of the last interval reaches 100 ms');
my $blk = $node->background_psql($db, extra_params => [ '-U', 'app' ], on_error_stop => 0);
my $blk_pid = $blk->query_safe('SELECT pg_backend_pid()');
$blk->query_until(qr/locked/,
	"BEGIN;\nLOCK TABLE lock_t;\n\\echo locked\nSELECT pg_sleep(600) WHERE '$s{blocker}' <> '';\n");
my $waiter = $node->background_psql($db, extra_params => [ '-U', 'app' ]);
$waiter->query_until(qr/waiting/, "\\echo waiting\nSELECT count(*) FROM lock_t;\n");
ok(defined poll_until(sub { activity_of($blk_pid) =~ /^active\t.*$s{blocker}/ }),
	'pg_stat_activity shows the blocking statement with its literal');
ok(defined poll_until(sub { audit_for('emergency_cancel', $blk_pid) > 0 }),
	'the emergency action cancels the blocking statement and audits it');
$_->kill_kill for @sleepers;
eval { $blk->quit };
eval { $waiter->quit };

# ---- (c) tokens: valid and wrong, in requests
for (1 .. 3)
{
	is(req('GET', "$base/api/v1/performance/status", $s{wrong_token})->{status}, 401, 'a wrong token: 401');
}

# ---- the value samples' one exit: perfopt_replica_workload(), for replica readers only
my $replica_fn = 'SELECT coalesce(string_agg(x::text, E\'\\n\'), \'\') FROM perfopt_replica_workload() x';
for my $role (qw(app perfopt_api api_reader api_admin))
{
	my ($ret, $out, $err) = $node->psql($db, "\\set VERBOSITY verbose\nSET ROLE $role;\n$replica_fn;");
	like($err, qr/ERROR:  42501: permission denied for function perfopt_replica_workload/,
		"$role (no replica reader) gets 42501 from perfopt_replica_workload()");
	no_secret("perfopt_replica_workload() as $role", "$out\n$err");
}
my $replica_out = $node->safe_psql($db, $replica_fn, extra_params => [ '-U', 'replica_login' ]);
like($replica_out, qr/$s{param}/,
	'a member of perfopt_replica_reader reads the value samples there (the bind value)');
unlike($replica_out, qr/$s{password}|$s{into}/,
	'  but no statement kept verbatim (ALTER ROLE ... PASSWORD, SELECT INTO) is returned');
# the advisor reads this node as its standby: the samples travel through libpq
$node->append_conf('postgresql.conf',
	"perfopt.advisor_standbys = 'host=" . $node->host . ' port=' . $node->port . " user=replica_login'\n");
$node->reload;
ok($node->poll_query_until($db, "SELECT current_setting('perfopt.advisor_standbys') <> ''"),
	'perfopt.advisor_standbys lists this node');

# ---- the advisor and an optimization run see the workload
$node->safe_psql($db, 'SELECT perfopt_advise()');
is($node->safe_psql($db, 'SELECT failures || \' \' || (statements > 0) FROM perfopt_advisor_standbys()'),
	'0 true', 'the advisor read the workload and value samples of its "standby"');
ok( $node->safe_psql($db,
		"SELECT count(*) FROM perfopt_advisor_skipped s JOIN pg_stat_statements p USING (queryid, userid)"
		  . " WHERE p.query LIKE 'ALTER ROLE perfopt_api PASSWORD %'") == 1,
	'the advisor read the ALTER ROLE statement (perfopt_advisor_skipped has its queryid)');
is( $node->safe_psql($db,
		"SELECT string_agg(s.query, ',') FROM perfopt_advisor_skipped s JOIN pg_stat_statements p USING (queryid, userid)"
		  . " WHERE p.query LIKE 'SELECT id INTO TEMP into_copy%'"),
	'SELECT INTO', 'the advisor read the SELECT INTO and keeps only its tag');
ok( $node->safe_psql($db,
		"SELECT count(*) FROM perfopt_recommendations WHERE statements::text LIKE '%FROM people WHERE email = \$1%'") > 0,
	'a recommendation serves the lookups (their normalized text)');
my $run = query_json($node, $db, 'SELECT perfopt_optimize()');
ok($run->{run_id}, "perfopt_optimize() ran (run $run->{run_id})");
ok( $node->poll_query_until($db, "SELECT count(*) = 0 FROM perfopt_jobs WHERE state IN ('queued', 'running')"),
	'its jobs finish');
$taken = samples_taken($node);
ok(defined poll_until(sub { samples_taken($node) >= $taken + 3 }), 'a few more samples (history, alerts)');

# ---- every perfopt relation
my @rels = split /\n/, $node->safe_psql(
	$db, q{
SELECT c.oid::regclass::text FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'perfopt')
  AND d.deptype = 'e' AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
ORDER BY 1});
my %rel_rows;
for my $rel (@rels)
{
	my $rows = $node->safe_psql($db, "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM $rel t");
	$rel_rows{$rel} = scalar(() = $rows =~ /\n/g) + ($rows ne '' ? 1 : 0);
	no_secret("relation $rel ($rel_rows{$rel} rows)", $rows);
}
cmp_ok($rel_rows{$_} // 0, '>', 0, "$_ has rows to check")
  for qw(perfopt_audit_log perfopt_advisor_skipped perfopt_recommendations perfopt_history perfopt_samples
  perfopt_alerts_data perfopt_jobs perfopt_slow_queries);

# ---- every function that needs no argument (but those that stop or reset), and the paged ones
# perfopt_replica_workload(): the value samples' one exit, checked above
my %skip_fn = map { $_ => 1 } qw(perfopt_stop_monitoring perfopt_reset_api_metrics perfopt_replica_workload);
my @fns = grep { !$skip_fn{$_} } split /\n/, $node->safe_psql(
	$db, q{
SELECT p.proname FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'perfopt')
  AND d.deptype = 'e' AND p.pronargs = p.pronargdefaults AND p.prorettype <> 'trigger'::regtype
ORDER BY 1});
cmp_ok(scalar(@fns), '>=', 10, scalar(@fns) . ' functions to call: ' . join(', ', @fns));
ok((grep { $_ eq 'perfopt_optimize' } @fns) && (grep { $_ eq 'perfopt_metrics_prometheus' } @fns),
	'they include perfopt_optimize and perfopt_metrics_prometheus');
my @calls = ((map { "$_()" } @fns),
	'perfopt_optimize(true)', 'perfopt_optimize_database(true)', 'perfopt_history(0, 1000)',
	"perfopt_alerts_page('open', 0, 1000)", "perfopt_alerts_page('resolved', 0, 1000)");
for my $call (@calls)
{
	my ($ret, $out, $err) =
	  $node->psql($db, "SELECT coalesce(string_agg(x::text, E'\\n'), '') FROM $call x");
	is($ret, 0, "$call can be called") or diag $err;
	no_secret("$call (output and messages)", "$out\n$err");
}

# ---- every GET route of the shim, and the POST that answers with a report
my @gets = (
	'/healthz', '/metrics', '/api/v1/performance/status', '/api/v1/performance/history?limit=1000',
	'/api/v1/performance/recommendations', '/api/v1/performance/metrics',
	'/api/v1/performance/metrics?format=prometheus', '/api/v1/performance/alerts?limit=1000',
	'/api/v1/performance/alerts?state=resolved&limit=1000', '/api/v1/performance/thresholds',
	'/api/v1/performance/database', '/api/v1/performance/api',
	'/api/v1/performance/metrics/history', '/api/v1/performance/trends',
	'/api/v1/performance/slow-queries', '/api/v1/performance/jobs?limit=1000',
	'/api/v1/performance/verifications?limit=1000', '/api/v1/performance/audit?limit=1000');
for my $path (@gets)
{
	# the audit log is for admin tokens only
	my $r = req('GET', "$base$path", $path =~ /audit/ ? $s{admin_token} : $s{reader_token});
	is($r->{status}, 200, "GET $path: 200");
	no_secret("the response to GET $path", response_text($r));
}
my $r = req('POST', "$base/api/v1/performance/optimize", $s{admin_token});
is($r->{status}, 202, 'POST optimize: 202');
no_secret('the response to POST optimize', response_text($r));
$r = req('GET', "$base$r->{headers}{location}", $s{reader_token});
no_secret('the run it names (GET history, cursor)', response_text($r));
$r = req('GET', "$base/api/v1/performance/status", $s{wrong_token});
is($r->{status}, 401, 'a wrong token: 401');
no_secret('the 401 response to a wrong token', response_text($r));
$r = req('GET', "$base/api/v1/performance/status", undef);
no_secret('the 401 response without a token', response_text($r));
$r = req('POST', "$base/api/v1/performance/optimize", $s{reader_token});
is($r->{status}, 403, 'POST optimize as the reader: 403');
no_secret('the 403 response', response_text($r));

# ---- (b) a shim with a wrong password, and a config file with a typo
my $bad = start_shim('wrong_password', $s{wrong_password});
$r = req('GET', "$bad/api/v1/performance/status", $s{reader_token});
is($r->{status}, 503, 'a wrong password in --conninfo: 503');
no_secret('the 503 response (password refused)', response_text($r));
$r = req('GET', "$bad/healthz", undef);
is($r->{status}, 503, '  /healthz: 503');
no_secret('the /healthz response (password refused)', response_text($r));
{
	my $config = $node->basedir . '/typo.conf';
	open($fh, '>', $config) or die;
	print $fh "conninfo_typo = " . conninfo($s{password}) . "\ntokens = $tokens\n";
	close $fh;
	my ($out, $err);
	my $ok = IPC::Run::run([ $bin, '--config', $config ], '>', \$out, '2>', \$err);
	ok(!$ok, 'a config file with an unknown key is refused');
	like($err, qr/conninfo_typo/, "  naming the key ($err)");
	no_secret('the error of a config file with a typo', "$out$err");
}

# ---- PostgreSQL down: 503
$node->stop('fast');
$r = req('GET', "$base/api/v1/performance/status", $s{reader_token});
is($r->{status}, 503, 'the database is down: 503');
no_secret('the 503 response (database down)', response_text($r));
$r = req('GET', "$base/healthz", undef);
no_secret('the /healthz response (database down)', response_text($r));
$r = req('GET', "$base/metrics", $s{reader_token});
no_secret('the /metrics response (database down)', response_text($r));
$r = req('GET', "$base/api/v1/performance/status", $s{wrong_token});
no_secret('the 401 response (database down)', response_text($r));

# ---- the shims' logs
for my $name (sort keys %shims)
{
	$shims{$name}{h}->signal('TERM');
	$shims{$name}{h}->finish;
	my $log = slurp_file($shims{$name}{log});
	like($log, qr/"status": (503|401)/, "the $name shim logged its requests");
	no_secret("the $name shim's log (stdout and stderr)", $log);
}

# ---- the server log, but for PostgreSQL's own error lines of the failing statements
my @log = split /\n/, slurp_file($node->logfile);
my $expected = qr/\] seed_failing (?:ERROR:  invalid input syntax for type integer: "$s{fail}"(?: at character \d+)?|ERROR:  duplicate key value violates unique constraint "uniq_pkey"|DETAIL:  Key \(code\)=\($s{dupkey}\) already exists\.)$/;
my @left_out = grep { /$expected/ } @log;
is(scalar(grep { /$SECRET/ } @left_out), 2, 'the server log has PostgreSQL\'s own errors of the failing statements, with their secrets')
  or diag join("\n", @left_out);
no_secret('the server log', join("\n", grep { !/$expected/ } @log));
ok(scalar(grep { /perfopt: emergency action: terminated backend/ } @log) && scalar(grep { /perfopt: emergency action: cancelled the statement of backend/ } @log),
	'the server log has perfopt\'s lines about the emergency actions');

done_testing();
