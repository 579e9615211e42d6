# 183_attacker_httpd.pl — the attacker of 180 against perfopt-httpd's
# optimize route: POST /api/v1/performance/optimize with an admin token
# calls perfopt_optimize() as api_admin (the README's admin role:
# pg_monitor, EXECUTE on the state-changing functions, no USAGE on the
# attacker's schema).  The scene is attack_scene_setup's (PerfoptTest.pm).
#
# Asserted: the route answers 202 with the run's report, which lists the
# recommendations on the attacker's tables as skipped (with the reason);
# none of the attacker's code ran as api_admin or the authenticator (it
# ran, as attacker); the attacker gained nothing; the pooled connection
# then serves other requests.  (The shim's own isolation is 153's.)
use strict;
use warnings;

use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $db = 'postgres';
my $node = perfopt_node('attack_httpd',
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.min_table_size = '256kB'\n"
	  . "pg_stat_statements.track = top\n");
$node->start;
my $evidence = $node->basedir . '/evidence';
mkdir $evidence or die "mkdir $evidence: $!";
my $clean_role = 'super=f createrole=f createdb=f replication=f bypassrls=f member_of=';

$node->safe_psql(
	$db, q{
CREATE EXTENSION perfopt CASCADE;
CREATE ROLE perfopt_api LOGIN NOINHERIT;
CREATE ROLE api_admin NOLOGIN IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION perfopt_optimize(boolean), perfopt_optimize_database(boolean) TO api_admin;
GRANT api_admin TO perfopt_api;
});
attack_scene_setup($node, $db, $evidence);
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
attack_scene_workload($node, $db);
attack_scene_arm($node, $db);

my $bin = $node->config_data('--bindir') . '/perfopt-httpd';
ok(-x $bin, "perfopt-httpd is installed ($bin)");
my $admin = 'admin-token-attack-0123456789';
my $tokens = $node->basedir . '/tokens';
open(my $fh, '>', $tokens) or die;
print $fh httpd_hash_token($bin, $admin) . " api_admin\n";
close $fh;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $log = $node->basedir . '/httpd.log';
my $shim = IPC::Run::start(
	[
		$bin, '--listen', "127.0.0.1:$port", '--conninfo',
		'host=' . $node->host . ' port=' . $node->port . " dbname=$db user=perfopt_api",
		'--tokens', $tokens, '--pool', '2'
	],
	'>', '/dev/null', '2>>', $log);
ok(defined poll_until(sub { -f $log && slurp_file($log) =~ /"event": "listening"/ }, 30), 'the shim listens');
my $http = HTTP::Tiny->new(timeout => 60);
my $base = "http://127.0.0.1:$port";

is(attack_role_state($node, $db), $clean_role, 'the attacker starts without any privilege');
my $offset = -s $node->logfile;
my $r = $http->request('POST', "$base/api/v1/performance/optimize",
	{ headers => { Authorization => "Bearer $admin" } });
is($r->{status}, 202, 'POST optimize with the admin token: 202') or diag "$r->{status}: $r->{content}";
my $report = eval { decode_json($r->{content}) } // {};
my @skipped = grep { ($_->{table} // '') =~ /^"?attacker"?\./ } @{ $report->{skipped} // [] };
ok(@skipped, 'the report lists the recommendations on the attacker\'s tables as skipped') or diag $r->{content};
ok(!grep({ ($_->{reason} // '') eq '' } @skipped), '... with the reason') or diag explain \@skipped;

my @foreign = attack_foreign_runs($node, $offset);
ok(!@foreign, 'none of the attacker\'s code ran as api_admin, the authenticator or anyone but attacker')
  or diag "the attacker's code ran as another role:\n" . join("\n", @foreign[ 0 .. ($#foreign > 40 ? 40 : $#foreign) ]);
my %seen;
$seen{ $_->{tag} }{ $_->{role} } = 1 for attack_runs($node, $offset);
ok($seen{'view-swap'}{attacker} && $seen{'rls-policy'}{attacker},
	'the attacker\'s code did run during the call, as attacker')
  or diag explain \%seen;
is(attack_role_state($node, $db), $clean_role, 'the attacker gained no attribute and no membership');
is(join("\n", attack_evidence($evidence)), '', 'no marker file written by a privileged COPY');

$r = $http->request('GET', "$base/api/v1/performance/history?limit=1",
	{ headers => { Authorization => "Bearer $admin" } });
is($r->{status}, 200, 'the pool serves the next request');

$shim->signal('TERM');
$shim->finish;
unlike(slurp_file($node->logfile), qr/TRAP:|terminated by signal/, 'no crash');
$node->stop;
done_testing();
