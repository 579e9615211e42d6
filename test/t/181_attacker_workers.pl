# 181_attacker_workers.pl — the attacker of 180 (an ordinary role that
# owns schema attacker) against what perfopt's background workers do by
# themselves, as the bootstrap superuser: the periodic refresh of the
# advice in every database (perfopt.advisor_interval), the automatic
# optimization (perfopt.enable_auto_optimization: the advisor worker runs
# perfopt_optimize(), the job runner builds, ANALYZEs and verifies), and
# the emergency actions of the main worker.
#
# The scene of attack_scene_setup (PerfoptTest.pm): statements recorded
# before the attacker swapped views and functions under them, app's and
# auditor's statements on the attacker's objects, a statement of two
# owners, the outside review's search_path poisoning and operator, and
# shadows of what perfopt's SQL names.  attacker.slow() is armed: the
# planning of the attacker's statement that calls it sleeps 60 s.  A
# second database ("other") has an ordinary workload.
#
# Asserted: with perfopt.advisor_statement_timeout = 500 the refresh goes
# on to the other database and advises it, the slow statement is skipped
# with the time limit as its reason and the rest of its database is
# advised; the automatic optimization builds and verifies indexes on the
# attacker's table; meanwhile none of the attacker's code ran as any role
# but attacker (its code did run, as attacker), the attacker gained no
# attribute, membership or file, and the main worker kept sampling.
# Emergency actions: with connection utilization critical, the attacker's
# sessions idle in transaction are terminated whatever their
# application_name ("perfopt-httpd", "perfopt advisor") says.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $db = 'postgres';
my $node = perfopt_node('attack_workers', interval => 300,
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.min_table_size = '256kB'\n"
	  . "perfopt.emergency_idle_in_transaction_age = '1s'\n"
	  . "pg_stat_statements.track = top\n");
$node->start;
my $evidence = $node->basedir . '/evidence';
mkdir $evidence or die "mkdir $evidence: $!";
my $clean_role = 'super=f createrole=f createdb=f replication=f bypassrls=f member_of=';

$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE; CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql('other', lookup_table_sql('public.items', 20000));
attack_scene_setup($node, $db, $evidence);
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
attack_scene_workload($node, $db);
attack_workload($node, 'other', 'postgres', map { "SELECT * FROM public.items WHERE k = $_" } 1 .. 20);
attack_scene_arm($node, $db);
psql_as($node, $db, 'attacker', 'UPDATE attacker.flags SET armed = true');

my $settings_before = attack_db_role_settings($node, $db);
is(attack_role_state($node, $db), $clean_role, 'the attacker starts without any privilege');

# ---- the workers take over: refresh every 2 s, optimize every 10 s
my $offset = -s $node->logfile;
my $samples = samples_taken($node);
my $started = time;
for my $setting ("perfopt.advisor_statement_timeout = 500", "perfopt.advisor_interval = 2",
	"perfopt.auto_optimization_interval = '10s'", "perfopt.enable_auto_optimization = on")
{
	my ($ret, $out, $err) = $node->psql($db, "ALTER SYSTEM SET $setting");
	is($ret, 0, "ALTER SYSTEM SET $setting") or diag $err;
}
$node->safe_psql($db, 'SELECT pg_reload_conf()');

my %cond = (
	other_advised => [ 'other',
		q{SELECT count(*) > 0 FROM perfopt_recommendations WHERE table_name = 'public.items'} ],
	slow_skipped => [ $db,
		q{SELECT count(*) > 0 FROM perfopt_advisor_skipped WHERE query LIKE '%attacker.slow()%'
          AND reason ~* 'advisor_statement_timeout|time limit|took longer|timed? ?out'} ],
	rest_advised => [ $db,
		q{SELECT count(*) > 0 FROM perfopt_recommendations WHERE table_name LIKE 'attacker.%'} ],
	built => [ $db,
		q{SELECT count(*) > 0 FROM perfopt_jobs j JOIN perfopt_verifications v ON v.job_id = j.id
          WHERE j.kind = 'create_index' AND j.state = 'succeeded' AND j.statement LIKE '%ON attacker.%'} ]);
my %met;
poll_until(
	sub {
		for my $c (keys %cond)
		{
			$met{$c} //= time - $started
			  if $node->safe_psql($cond{$c}[0], $cond{$c}[1]) eq 't';
		}
		return keys %met == keys %cond;
	},
	90);
ok(defined $met{other_advised}, 'the refresh goes on to the other database and advises it'
	  . (defined $met{other_advised} ? sprintf(' (after %.1f s)', $met{other_advised}) : ' (not within 90 s)'));
ok(defined $met{slow_skipped}, 'the statement whose planning sleeps 60 s is skipped for the time limit')
  or diag $node->safe_psql($db, q{SELECT string_agg(query || ': ' || reason, E'\n') FROM perfopt_advisor_skipped
                                 WHERE query LIKE '%attacker.%'});
ok(defined $met{rest_advised}, 'the rest of its database is advised (a recommendation on the attacker\'s table)');
ok(defined $met{built}, 'the automatic optimization built an index on the attacker\'s table and verified it')
  or diag explain [ job_rows($node, $db) ];
ok($node->safe_psql($db, q{SELECT count(*) > 0 FROM perfopt_history WHERE kind = 'optimize'}) eq 't',
	'the automatic optimization\'s report is in perfopt_history');

# let the jobs of the round finish, then stop the workers' rounds
poll_until(sub { $node->safe_psql($db, "SELECT count(*) = 0 FROM perfopt_jobs WHERE state IN ('queued', 'running')") eq 't' },
	60);
$node->safe_psql($db,
	'ALTER SYSTEM SET perfopt.enable_auto_optimization = off; ALTER SYSTEM SET perfopt.advisor_interval = 0;'
	  . ' SELECT pg_reload_conf()');

my @foreign = attack_foreign_runs($node, $offset);
ok(!@foreign, 'the workers ran none of the attacker\'s code as another role')
  or diag "the attacker's code ran as another role:\n" . join("\n", @foreign[ 0 .. ($#foreign > 40 ? 40 : $#foreign) ]);
my @shadows = grep { $_->{tag} =~ /^shadow-/ } attack_runs($node, $offset);
ok(!@shadows, 'no shadowing operator, function, type or relation was called')
  or diag join("\n", map { $_->{line} } @shadows[ 0 .. ($#shadows > 20 ? 20 : $#shadows) ]);
my %seen;
$seen{ $_->{tag} }{ $_->{role} } = 1 for attack_runs($node, $offset);
for my $tag (attack_planned_tags(), 'slow', 'index-expression')
{
	ok($seen{$tag}{attacker}, "the workers ran the attacker's '$tag' code, as attacker")
	  or diag "'$tag' ran as: " . join(', ', sort keys %{ $seen{$tag} // {} });
}
is(attack_role_state($node, $db), $clean_role, 'the attacker gained no attribute and no membership');
is(join("\n", attack_evidence($evidence)), '', 'no marker file written by a privileged COPY');
is(attack_db_role_settings($node, $db), $settings_before, 'no ALTER ROLE/DATABASE ... SET was made');
ok(samples_taken($node) > $samples + 5, 'the main worker kept sampling');
is($node->safe_psql($db, attack_session_sql()), $node->safe_psql('other', attack_session_sql()),
	'a new session in the attacked database has the settings of one in the other database');

# ---- emergency actions: an application_name does not exempt a session
$node->safe_psql($db,
	q{SELECT perfopt_set_thresholds('{"database": {"connectionUtilization": {"warning": 1, "critical": 2}}}')});
my %idle;
for my $name ('psql', 'perfopt-httpd', 'perfopt advisor')
{
	my $s = $node->background_psql($db, on_error_stop => 0, extra_params => [ '-U', 'attacker' ]);
	$s->query_safe("SET application_name = '$name'");
	$s->query_safe('BEGIN');
	$s->query_safe('SELECT 1');
	$idle{$name} = { session => $s, pid => $s->query_safe('SELECT pg_backend_pid()') };
}
sub alive
{
	my ($pid) = @_;
	return $node->safe_psql($db, "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '1';
}
$node->safe_psql($db, 'ALTER SYSTEM SET perfopt.enable_emergency_optimization = on; SELECT pg_reload_conf()');
ok(defined poll_until(sub { !alive($idle{psql}{pid}) }, 60),
	'the attacker\'s session idle in transaction is terminated (application_name psql)');
for my $name ('perfopt-httpd', 'perfopt advisor')
{
	ok(defined poll_until(sub { !alive($idle{$name}{pid}) }, 15),
		"so is the one whose application_name says '$name'");
}
is( $node->safe_psql($db,
		q{SELECT string_agg(arguments->>'application', ', ' ORDER BY arguments->>'application')
          FROM perfopt_audit_log WHERE action = 'emergency_terminate'}),
	'perfopt advisor, perfopt-httpd, psql', 'each termination is audited');
$node->safe_psql($db, 'ALTER SYSTEM SET perfopt.enable_emergency_optimization = off; SELECT pg_reload_conf()');
eval { $_->{session}->quit } for values %idle;

unlike(slurp_file($node->logfile), qr/TRAP:|terminated by signal/, 'no crash');
$node->stop;
done_testing();
