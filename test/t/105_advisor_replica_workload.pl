# 105_advisor_replica_workload.pl — replica workloads (src/advisor/replica.c,
# replicaread.c): a primary and a streaming hot standby, both with perfopt
# and pg_stat_statements preloaded and every execution's values sampled.
#   - the standby's perfopt_replica_workload() answers members of
#     perfopt_replica_reader only (42501 for anyone else, even a role given
#     EXECUTE by mistake), with its statements and value samples;
#   - a read workload runs on the standby only: without
#     perfopt.advisor_standbys the primary's advisor recommends nothing for
#     it; with the standby listed, it recommends the index on the column
#     the reads filter on (the statement's calls on both servers summed),
#     perfopt_optimize() builds it on the primary, and after replay the
#     standby's plan uses it (it did not before);
#   - the advisor worker's periodic refresh reads the standby as well;
#   - an index only the standby's reads scan is not called unused on the
#     primary (an index scanned nowhere is), nor is any index while a
#     listed standby cannot be read;
#   - a statement costed over the standby's value samples (a rare value of
#     a skewed column) gets the index a generic plan would not;
#   - a standby that refuses connections, one that accepts and never
#     answers (perfopt.advisor_standby_timeout) and one reached as a role
#     without the grant do not stop the advice on the primary's own
#     workload: a WARNING names each (never its password) and
#     perfopt_advisor_standbys() counts the failures; a run waiting on the
#     silent one ends at once on pg_cancel_backend();
#   - bad values of perfopt.advisor_standbys are refused without repeating
#     them; non-superusers cannot read it;
#   - the built index, unscanned on the primary, is kept by its
#     verification although perfopt.auto_rollback is on;
#   - a second database's CREATE EXTENSION keeps the role, and stops when
#     someone made it able to log in.
use strict;
use warnings;

use IO::Socket::INET;
use IPC::Run;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $primary = perfopt_node(
	'rw_primary',
	allows_streaming => 1,
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.value_sample_rate = 1\n"
	  . "max_parallel_workers_per_gather = 0\n"
	  . "perfopt.advisor_standby_timeout = '3s'\n"
	  # the verification of the built index, and what it may take back
	  . "perfopt.verification_window = '3s'\n"
	  . "perfopt.auto_rollback = on\n");
$primary->start;
$primary->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$primary->safe_psql(
	$db, q{
CREATE ROLE app LOGIN;
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
CREATE ROLE sloppy LOGIN;
CREATE ROLE replica_login LOGIN NOINHERIT;
GRANT perfopt_replica_reader TO replica_login;
} . lookup_table_sql('readings', 200000) . lookup_table_sql('local_reads', 200000) . q{
GRANT SELECT ON readings, local_reads TO app;
});
is( $primary->safe_psql($db,
		"SELECT rolcanlogin || ' ' || (SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid)"
		  . " FROM pg_roles r WHERE rolname = 'perfopt_replica_reader'"),
	'false 1',
	'the extension created perfopt_replica_reader, NOLOGIN (granted here to replica_login only)');

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('rw_standby');
# the backup carries postgresql.conf: perfopt and pg_stat_statements preloaded
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# ---- the read workload, on the standby only: 20 rows per k, no index on k
run_statements($standby, $db, [ map { "SELECT * FROM readings WHERE k = " . ($_ * 37 % 10000) } 1 .. 60 ],
	"SET ROLE app;\n");
is( $primary->safe_psql($db, "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%FROM readings WHERE k%'"),
	'0', 'the primary never saw the reads');

# ---- who may read a standby's workload
for my $role ('app', 'monitor')
{
	my ($state) = sql_error_state($standby, $db,
		"SET ROLE $role;\nSELECT count(*) FROM perfopt_replica_workload();");
	is($state, '42501', "$role (not a replica reader) gets 42501 from perfopt_replica_workload()");
}
$primary->safe_psql($db, 'GRANT EXECUTE ON FUNCTION perfopt_replica_workload() TO sloppy');
my ($state, $msg) = sql_error_state($primary, $db, "SET ROLE sloppy;\nSELECT count(*) FROM perfopt_replica_workload();");
is($state, '42501', 'a role granted EXECUTE by mistake still gets 42501 (only perfopt_replica_reader members)');
like($msg, qr/permission denied for function perfopt_replica_workload/, "  ($msg)");
$primary->safe_psql($db, 'REVOKE EXECUTE ON FUNCTION perfopt_replica_workload() FROM sloppy');
# replica_login is NOINHERIT: it reads after SET ROLE, as the advisor does
my ($nstate) = sql_error_state($standby, $db, "SET ROLE replica_login;\nSELECT count(*) FROM perfopt_replica_workload();");
is($nstate, '42501', 'a NOINHERIT member that has not taken the role gets 42501 too');
my $mine = $standby->safe_psql($db,
	"SET ROLE perfopt_replica_reader;\nSELECT calls || ' ' || coalesce(array_length(value_sets, 1), 0) || ' ' || (value_sets[1] ~ '^\\{[0-9]+\\}\$')"
	  . " FROM perfopt_replica_workload() WHERE query = 'SELECT * FROM readings WHERE k = \$1' AND rolname = 'app'",
	extra_params => [ '-U', 'replica_login' ]);
like($mine, qr/^60 [1-9]\d* true$/,
	"a member of perfopt_replica_reader reads the standby's statement with its value samples ($mine)");

# ---- the primary alone: nothing for readings
sub readings_recs
{
	return grep { $_->{table_name} =~ /\breadings$/ } advisor_recommendations($primary, $db, 'create_index');
}
$primary->safe_psql($db, 'SELECT perfopt_advise()');
is(scalar(readings_recs()), 0, 'without perfopt.advisor_standbys: no recommendation for readings');

# the same statement, 10 times on the primary too: merged by text and role
run_statements($primary, $db, [ map { "SELECT * FROM readings WHERE k = " . ($_ * 41 % 10000) } 1 .. 10 ],
	"SET ROLE app;\n");

# ---- the standby listed
my $sconn = 'host=' . $standby->host . ' port=' . $standby->port . ' user=replica_login';
$primary->append_conf('postgresql.conf', "perfopt.advisor_standbys = '$sconn'\n");
$primary->reload;
ok($primary->poll_query_until($db, "SELECT current_setting('perfopt.advisor_standbys') <> ''"),
	'perfopt.advisor_standbys is in effect after a reload');
my ($ret, $out, $err) = $primary->psql($db, 'SELECT perfopt_advise()');
is($ret, 0, 'perfopt_advise() with the standby listed');
unlike($err, qr/WARNING/, '  no warning') or diag $err;
my @recs = readings_recs();
is(scalar(@recs), 1, 'one recommendation for readings, from the standby\'s reads');
like(index_shape($recs[0]{definition} // ''), qr/^readings\(k\)/, "  on readings(k) ($recs[0]{definition})");
my ($served) = grep { ($_->{query} // '') eq 'SELECT * FROM readings WHERE k = $1' } @{ $recs[0]{statements} // [] };
ok($served, '  serving the standby\'s statement') or diag explain $recs[0];
is($served->{calls}, 70, '  its calls are the standby\'s 60 and the primary\'s 10');
my $status = $primary->safe_psql($db,
	"SELECT standby || '|' || database || '|' || attempts || '|' || failures || '|' || statements || '|' || (last_success IS NOT NULL)"
	  . " FROM perfopt_advisor_standbys()");
my $port = $standby->port;
like($status, qr/^1 \(host=\S+ port=$port\)\|$db\|1\|0\|[1-9]\d*\|true$/,
	"perfopt_advisor_standbys(): one success, statements read ($status)");

# ---- built once on the primary, replayed, used on the standby
my @before = plan_index_names(query_json($standby, $db, 'EXPLAIN (FORMAT JSON) SELECT * FROM readings WHERE k = 4242'));
is(scalar(@before), 0, "before the build the standby's read uses no index (@before)");
my $report = query_json($primary, $db, 'SELECT perfopt_optimize()');
my ($build) = job_rows($primary, $db, "j.kind = 'create_index' AND j.target_table LIKE '%readings'");
ok($build, 'perfopt_optimize() queued the build of the readings index') or diag explain $report;
ok(wait_for_job($primary, $db, $build->{id}, "state = 'succeeded'"), 'the build succeeded on the primary');
$primary->wait_for_catchup($standby);
my $plan = query_json($standby, $db, 'EXPLAIN (FORMAT JSON) SELECT * FROM readings WHERE k = 4242');
my @used = plan_index_names($plan);
ok(scalar(grep { /perfopt/ && /readings/ } @used), "after replay the standby's read uses the index (@used)")
  or diag explain $plan;
is( $standby->safe_psql($db,
		"SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
		  . " WHERE i.indrelid = 'readings'::regclass AND c.relname LIKE 'perfopt%' AND i.indisvalid"),
	'1', 'the standby has the one valid index the primary built');

# ---- the standby's value samples are what the primary costs with
# items.kind: three common values and a rare one (9), which the standby's
# application alone asks for.  A generic plan sees "kind = $1" as a third
# of the table (no index); over the standby's samples it reads 0.1%.
$primary->safe_psql(
	$db, q{
CREATE TABLE items (id bigint PRIMARY KEY, kind int NOT NULL, payload text NOT NULL);
INSERT INTO items SELECT i, CASE WHEN i % 1000 = 0 THEN 9 ELSE i % 3 END, repeat('p', 60)
FROM generate_series(1, 200000) i;
SELECT pg_stat_force_next_flush();
VACUUM ANALYZE items;
GRANT SELECT ON items TO app;
});
$primary->wait_for_catchup($standby);
run_statements($standby, $db, [ ("SELECT * FROM items WHERE kind = 9") x 40 ], "SET ROLE app;\n");
sub items_recs
{
	return grep { $_->{table_name} =~ /\bitems$/ } advisor_recommendations($primary, $db, 'create_index');
}
$primary->safe_psql($db, "SET perfopt.value_sample_rate = 0;\nSELECT perfopt_advise();");
is(scalar(items_recs()), 0,
	'with sampling off on the primary (generic plans): no recommendation for the rare kind');
$primary->safe_psql($db, 'SELECT perfopt_advise()');
my @items = items_recs();
is(scalar(@items), 1, "costed over the standby's value samples: the rare kind gets its index");
like(index_shape($items[0]{definition} // ''), qr/^items\(kind\b/, "  on items(kind ...) ($items[0]{definition})");

# ---- the periodic refresh (the advisor worker) reads the standby too
my $attempts = "SELECT coalesce(sum(attempts) FILTER (WHERE failures = 0), 0) FROM perfopt_advisor_standbys()";
my $before_refresh = $primary->safe_psql($db, $attempts);
$primary->safe_psql($db, 'ALTER SYSTEM SET perfopt.advisor_interval = 1; SELECT pg_reload_conf()');
ok($primary->poll_query_until($db, "SELECT ($attempts) >= $before_refresh + 2"),
	'the advisor worker reads the standby on its rounds (perfopt_advisor_standbys() attempts grow, no failure)');
$primary->safe_psql($db, 'ALTER SYSTEM RESET perfopt.advisor_interval; SELECT pg_reload_conf()');
ok($primary->poll_query_until($db, "SELECT current_setting('perfopt.advisor_interval') = '0'"),
	'  (the refresh is off again)');
ok($primary->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'perfopt advisor'"),
	'  and its last worker has finished');

# ---- an index only the standby scans is not unused.  The lookup runs in
# a function, so the workload's statement ("SELECT by_a($1)") does not plan
# it: only the standby's idx_scan tells.  ab_b is scanned nowhere.
$primary->safe_psql(
	$db, q{
CREATE TABLE ab (id int, a int NOT NULL, b int NOT NULL);
INSERT INTO ab SELECT g, g, g FROM generate_series(1, 100000) g;
CREATE INDEX ab_a ON ab (a);
CREATE INDEX ab_b ON ab (b);
VACUUM ANALYZE ab;
CREATE FUNCTION by_a(int) RETURNS bigint LANGUAGE plpgsql STABLE
AS $$ BEGIN RETURN (SELECT count(*) FROM ab WHERE a = $1); END $$;
GRANT SELECT ON ab TO app;
});
$primary->wait_for_catchup($standby);
run_statements($standby, $db, [ map { "SELECT by_a($_)" } 1 .. 20 ], "SET ROLE app;\n");
ok($standby->poll_query_until($db, "SELECT idx_scan > 0 FROM pg_stat_user_indexes WHERE indexrelname = 'ab_a'"),
	'the standby scanned ab_a');
is($primary->safe_psql($db, "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'ab_a'"),
	'0', '  the primary never did');
sub unused_recs
{
	return join(' ', sort map { $_->{index_name} } grep { $_->{index_name} =~ /^ab_/ }
		  advisor_recommendations($primary, $db, 'drop_index'));
}
($ret, $out, $err) = $primary->psql($db, "SET perfopt.unused_index_min_age = 0;\nSELECT perfopt_advise();");
is($ret, 0, 'perfopt_advise() with the standby listed') or diag $err;
is(unused_recs(), 'ab_b', 'only ab_b, scanned nowhere, is an unused index: ab_a is scanned on the standby');

# ---- standbys that fail: refused, silent (accepts, never answers), and
# the real standby as a role without the grant
my $silent = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
  or die "cannot listen: $!";
my $silent_port = $silent->sockport;
my $refused_port = PostgreSQL::Test::Cluster::get_free_port();
my $secret = 'SECRET_STANDBY_PW_7Y';
run_statements($primary, $db, [ map { "SELECT * FROM local_reads WHERE k = " . ($_ * 31 % 10000) } 1 .. 60 ],
	"SET ROLE app;\n");
$primary->append_conf('postgresql.conf',
	"perfopt.advisor_standbys = 'host=127.0.0.1 port=$refused_port user=replica_login password=$secret;"
	  . " host=127.0.0.1 port=$silent_port user=replica_login password=$secret;"
	  . " host=" . $standby->host . " port=$port user=monitor'\n");
$primary->reload;
ok($primary->poll_query_until($db, "SELECT current_setting('perfopt.advisor_standbys') LIKE '%$silent_port%'"),
	'perfopt.advisor_standbys now lists a refusing, a silent and a forbidden standby');
my $log_offset = -s $primary->logfile;
($ret, $out, $err) = $primary->psql($db, 'SELECT perfopt_advise()');
is($ret, 0, 'perfopt_advise() succeeds with every standby failing') or diag $err;
like($err, qr/WARNING:  could not read the workload of standby 1 \(host=127\.0\.0\.1 port=$refused_port\): could not connect/,
	'a WARNING names the refusing standby');
like($err, qr/WARNING:  could not read the workload of standby 2 \(host=127\.0\.0\.1 port=$silent_port\): no answer within perfopt\.advisor_standby_timeout/,
	'a WARNING names the silent one, after the timeout');
like($err, qr/WARNING:  could not read the workload of standby 3 \(host=\S+ port=$port\): SET ROLE perfopt_replica_reader failed \(SQLSTATE 42501\)/,
	'a WARNING names the standby that refuses the role without the grant (42501)');
ok(scalar(grep { $_->{table_name} =~ /\blocal_reads$/ } advisor_recommendations($primary, $db, 'create_index')),
	"the advice on the primary's own workload goes on: local_reads gets its recommendation");
$primary->psql($db, "SET perfopt.unused_index_min_age = 0;\nSELECT perfopt_advise();");
is(unused_recs(), '', 'while a listed standby cannot be read, no index is called unused');
my %failed = map { my @f = split /\|/; ($f[0] => \@f) } split /\n/, $primary->safe_psql($db,
	"SELECT standby || '|' || failures || '|' || coalesce(last_error, '') FROM perfopt_advisor_standbys()");
ok($failed{"1 (host=127.0.0.1 port=$refused_port)"} && $failed{"1 (host=127.0.0.1 port=$refused_port)"}[1] >= 1,
	'perfopt_advisor_standbys() counts the refusing standby\'s failure')
  or diag explain \%failed;
like($failed{"2 (host=127.0.0.1 port=$silent_port)"}[2] // '', qr/perfopt\.advisor_standby_timeout/,
	'  and shows why the silent one failed');
unlike($err . join("\n", map { join('|', @$_) } values %failed) . slurp_file($primary->logfile, $log_offset),
	qr/$secret/, 'the password is in no warning, status row or log line');

# ---- a run waiting on the silent standby is cancelled at once, not after the timeout
$primary->append_conf('postgresql.conf', "perfopt.advisor_standby_timeout = '10min'\n");
$primary->reload;
ok($primary->poll_query_until($db, "SELECT setting = '600000' FROM pg_settings WHERE name = 'perfopt.advisor_standby_timeout'"),
	'perfopt.advisor_standby_timeout is 10 minutes');
my ($bg_out, $bg_err) = ('', '');
my $bg = IPC::Run::start([ 'psql', '-XAtq', '-d', $primary->connstr($db), '-c', 'SELECT perfopt_advise() /* waits */' ],
	'>', \$bg_out, '2>', \$bg_err);
my $waiting = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT perfopt_advise() /* waits */%'"
  . " AND wait_event_type = 'Extension'";
ok($primary->poll_query_until($db, "SELECT count(*) = 1 FROM ($waiting) w"),
	'perfopt_advise() waits on the silent standby\'s socket (wait event Extension)');
$primary->safe_psql($db, "SELECT pg_cancel_backend(pid) FROM ($waiting) w");
ok(defined poll_until(sub { $bg->pump_nb if $bg->pumpable; !$bg->pumpable }, 30), 'pg_cancel_backend() ends it within seconds');
$bg->finish;
like($bg_err, qr/canceling statement due to user request/, "  with the cancel's error ($bg_err)");
is($primary->safe_psql($db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT perfopt_advise() /* waits */%'"),
	'0', '  and nothing of it is left running');
close $silent;

# ---- bad values are refused without being repeated; the setting is the superuser's
my $bad = "host=x password=$secret oops";
($state, $msg) = sql_error_state($primary, $db, "ALTER SYSTEM SET perfopt.advisor_standbys = '$bad'");
is($state, '22023', 'a value that is no connection string is refused (22023)');
like($msg, qr/entry 1 of perfopt\.advisor_standbys is not a valid connection string/, "  ($msg)");
($ret, $out, $err) = $primary->psql($db, "ALTER SYSTEM SET perfopt.advisor_standbys = '$bad'");
unlike($err, qr/$secret/, '  and the error does not repeat the value');
($state) = sql_error_state($primary, $db,
	"ALTER SYSTEM SET perfopt.advisor_standbys = '" . join(';', map { "port=$_" } 1 .. 17) . "'");
is($state, '22023', 'more than 16 standbys are refused');
($state) = sql_error_state($primary, $db, "ALTER SYSTEM SET perfopt.advisor_standbys = 'host=a password=''x;y''; host=b'");
is($state, '', "a ';' inside a quoted value is not a separator: two valid entries are accepted");
$primary->safe_psql($db, 'ALTER SYSTEM RESET perfopt.advisor_standbys');
($state) = sql_error_state($primary, $db, "SET perfopt.advisor_standbys = 'host=a'");
is($state, '55P02', 'it cannot be SET in a session (reload only)');
($state) = sql_error_state($primary, $db, "SET ROLE app;\nSHOW perfopt.advisor_standbys;");
is($state, '42501', 'a non-superuser cannot read it');

# ---- the verification: no scan on the primary is no proof while standbys are listed
my $verdict_sql = "SELECT state || '|' || verdict FROM perfopt_verifications"
  . " WHERE index_name LIKE '%readings%' AND state <> 'observing'";
ok(defined poll_until(sub { $primary->safe_psql($db, $verdict_sql) ne '' }, 90),
	'the built index got its verdict after perfopt.verification_window');
like($primary->safe_psql($db, $verdict_sql),
	qr/^failed_kept\|no scan of the index on the primary .*standbys of perfopt\.advisor_standbys/,
	'no scan on the primary, standbys listed: kept despite perfopt.auto_rollback = on');
is( $primary->safe_psql($db,
		"SELECT count(*) FROM perfopt_jobs WHERE kind = 'drop_index' AND statement LIKE '%readings%'"),
	'0', '  no drop job was queued');

# ---- the role is global: a second database keeps it, a tampered one stops the installation
$primary->safe_psql($db, 'CREATE DATABASE second; ALTER ROLE perfopt_replica_reader LOGIN');
($state, $msg) = sql_error_state($primary, 'second', 'CREATE EXTENSION perfopt CASCADE');
is($state, '55000', 'CREATE EXTENSION stops when perfopt_replica_reader can log in');
like($msg, qr/role "perfopt_replica_reader" exists and can log in or is a superuser/, "  ($msg)");
$primary->safe_psql($db, 'ALTER ROLE perfopt_replica_reader NOLOGIN');
$primary->safe_psql('second', 'CREATE EXTENSION perfopt CASCADE');
is( $primary->safe_psql('second',
		"SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
		  . " WHERE r.rolname = 'perfopt_replica_reader' AND m.member = 'replica_login'::regrole"),
	'1', 'a second database\'s installation keeps the role and its member');

done_testing();
