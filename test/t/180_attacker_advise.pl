# 180_attacker_advise.pl — an ordinary role ("attacker": LOGIN, owns schema
# attacker, no grants) against perfopt's SQL calls: a superuser's
# perfopt_advise() and perfopt_optimize(), and perfopt_optimize() of a
# non-superuser admin (pg_monitor, EXECUTE on perfopt_optimize(boolean)).
#
# The attacker's code runs while perfopt plans the workload: functions the
# planner folds (IMMUTABLE, STABLE), SQL functions it inlines, views it
# expands, row security policies, index and statistics expressions; and it
# shadows the operators, functions, aggregates, types and relations
# perfopt's own SQL uses (see attack_kit_sql in PerfoptTest.pm).  Every
# piece of it logs "attack <tag> ran as <role>", tries ALTER ROLE attacker
# SUPERUSER and other grants, writes a marker file with a privileged COPY
# and, in someone else's session, poisons the settings (search_path,
# read-only, timeouts, application_name, ...), creates temporary objects
# and a prepared statement.  The outside review's exploit is here as it was
# reported: attacker.poison() switches search_path to "attacker, pg_catalog"
# and attacker.>(bigint, integer) does the ALTER ROLE.
#
# Statements recorded before the attacker changed its objects (a table
# replaced by a view, a SQL function and a set-returning function
# replaced, a policy, an index predicate, index and statistics
# expressions added), statements of other roles on the attacker's objects
# (app, granted SELECT; auditor, BYPASSRLS; app's own table with a column
# of the attacker's range type, whose subtype_diff the planner's range
# estimator calls), and one that touches objects of two owners (app and
# attacker), which no single role may plan.
#
# Asserted after each call: the attacker gained no attribute nor
# membership, no marker file exists, none of its code ran as any role but
# attacker (its code did run, as attacker), the caller's session reads the
# same settings and holds no new temporary object, prepared statement,
# cursor or LISTEN, a later call in that session and a new session see no
# change; the two-owner statement is skipped with its reason; the
# non-superuser admin's perfopt_optimize() succeeds and reports the
# recommendation on the attacker's table as skipped, with the reason;
# perfopt's own tables get no index; a statement whose planning sleeps
# (an IMMUTABLE function with pg_sleep(60)) is skipped under
# perfopt.advisor_statement_timeout = 500 with the time limit as its
# reason while the other statements are still advised.  Beyond the fix
# list: a function that catches the budget's cancel ends the process that
# plans it, once; the statement is not planned again.
# At the end a probe shows that the shadows are live in a session whose
# search_path puts the attacker's schema first.
use strict;
use warnings;

use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $db = 'postgres';
my $node = perfopt_node('attack_advise',
	conf => "perfopt.advisor_interval = 0\n"
	  . "perfopt.min_table_size = '256kB'\n"
	  . "pg_stat_statements.track = top\n");
$node->start;
my $evidence = $node->basedir . '/evidence';
mkdir $evidence or die "mkdir $evidence: $!";
my $clean_role = 'super=f createrole=f createdb=f replication=f bypassrls=f member_of=';

# ---- the scene (see attack_scene_setup in PerfoptTest.pm), a table of the
# superuser's, perfopt's own tables filled, and a non-superuser admin as
# the README describes one (pg_monitor, EXECUTE on perfopt_optimize)
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
attack_scene_setup($node, $db, $evidence);
$node->safe_psql(
	$db, q{
CREATE ROLE ops LOGIN IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION perfopt_optimize(boolean) TO ops;
INSERT INTO perfopt_audit_log (role_name, session_role, backend_pid, action, arguments, outcome)
SELECT 'filler', 'filler', g, 'filler', '{}', 'filler' FROM generate_series(1, 30000) g;
ANALYZE perfopt_audit_log;
});
$node->safe_psql($db, lookup_table_sql('public.items', 20000));

# ---- the workload, then the attacker changes its objects under it
my @ks = (1 .. 20);
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
attack_scene_workload($node, $db);
attack_workload(
	$node, $db, 'postgres',
	(map { "SELECT * FROM public.items WHERE k = $_" } @ks),
	(map { "SELECT * FROM perfopt_audit_log WHERE backend_pid = $_" } @ks),
	(map { "SELECT * FROM perfopt_jobs WHERE statement = 'x$_'" } @ks));
attack_scene_arm($node, $db);

# ---- the state everything is compared with
my $own_indexes_sql = q{
SELECT string_agg(i.indexrelid::regclass::text, ', ' ORDER BY i.indexrelid::regclass::text) FROM pg_index i
WHERE i.indrelid IN (SELECT d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                     WHERE e.extname = 'perfopt' AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass)};
my $own_indexes = $node->safe_psql($db, $own_indexes_sql);
my $settings_before = attack_db_role_settings($node, $db);
my $fresh_session = $node->safe_psql($db, attack_session_sql());
is(attack_role_state($node, $db), $clean_role, 'the attacker starts without any privilege');

# what must hold after each step; $what names the step
sub no_escalation
{
	my ($what, $offset) = @_;
	is(attack_role_state($node, $db), $clean_role, "$what: the attacker gained no attribute and no membership");
	is(join("\n", attack_evidence($evidence)), '', "$what: no marker file written by a privileged COPY");
	my @foreign = attack_foreign_runs($node, $offset);
	ok(!@foreign, "$what: none of the attacker's code ran as another role")
	  or diag "the attacker's code ran as another role:\n" . join("\n", @foreign[ 0 .. ($#foreign > 40 ? 40 : $#foreign) ]);
	my @shadows = grep { $_->{tag} =~ /^shadow-/ } attack_runs($node, $offset);
	ok(!@shadows, "$what: no shadowing operator, function, type or relation was called")
	  or diag join("\n", map { $_->{line} } @shadows[ 0 .. ($#shadows > 20 ? 20 : $#shadows) ]);
	return;
}

# the attacker's code did run during the step (as the attacker)
sub ran_as_attacker
{
	my ($what, $offset, @tags) = @_;
	my %seen;
	$seen{ $_->{tag} }{ $_->{role} } = 1 for attack_runs($node, $offset);
	for my $tag (@tags)
	{
		ok($seen{$tag}{attacker}, "$what: the attacker's '$tag' code ran, as attacker")
		  or diag "'$tag' ran as: " . join(', ', sort keys %{ $seen{$tag} // {} });
	}
	return;
}

# a query in a background session: its output, and its error output
# ('' when none; notices are off, see below); never dies
sub bg
{
	my ($session, $sql) = @_;
	my ($out) = $session->query($sql);
	return ($out, $session->{stderr} // '');
}

# a session of $role for the calls; notices (the attacker's failed GRANTs
# say "already a member" when they succeed) would read as errors
sub caller_session
{
	my ($role) = @_;
	my $s = $node->background_psql($db, on_error_stop => 0, extra_params => [ '-U', $role ]);
	bg($s, 'SET client_min_messages = warning');
	return $s;
}

# ---- a superuser's perfopt_advise()
my $victim = caller_session('postgres');
bg($victim, "SET application_name = 'victim'");
my ($session_before) = bg($victim, attack_session_sql());
my $offset = -s $node->logfile;
my ($out, $err) = bg($victim, 'SELECT perfopt_advise()');
is($err, '', "a superuser's perfopt_advise() succeeds");
my $summary = eval { decode_json($out) } // {};
is((bg($victim, attack_session_sql()))[0], $session_before,
	"after perfopt_advise() the superuser's session has the same settings, and no temporary object, prepared statement, cursor or LISTEN");
no_escalation('perfopt_advise() by a superuser', $offset);
ran_as_attacker('perfopt_advise() by a superuser', $offset, attack_planned_tags());
my @range = grep { $_->{tag} eq 'range-subtype-diff' && $_->{role} ne 'attacker' } attack_runs($node, $offset);
ok(!@range, 'the subtype_diff of the attacker\'s range type (app\'s column; the planner\'s range estimator calls it) never runs as app')
  or diag join("\n", map { $_->{line} } @range);
like(log_since($node, $offset), qr/LOG:  attack poison ran as attacker/,
	'the review\'s attacker.poison() was planned (as attacker)');

# the statements recorded before the swaps are planned (as the attacker), not skipped
my %skipped = map { split /\t/, $_, 2 } split /\n/,
  $node->safe_psql($db, "SELECT query || E'\\t' || reason FROM perfopt_advisor_skipped");
for my $text ('SELECT count(*) FROM attacker.w WHERE k = $1',
	'SELECT count(*) FROM attacker.t WHERE k = attacker.norm($1)',
	'SELECT count(*) FROM attacker.rows_of($1)')
{
	ok(!exists $skipped{$text}, "a superuser's statement on what the attacker swapped is planned as its owner: $text")
	  or diag "skipped: $skipped{$text}";
}
# the statement that touches app's and the attacker's objects: no role may plan it
my $two_owners = attack_two_owner_statement();
ok(exists $skipped{$two_owners}, 'the statement touching objects of app and of attacker is skipped')
  or diag "perfopt_advisor_skipped:\n" . join("\n", map { "$_: $skipped{$_}" } sort keys %skipped);
like($skipped{$two_owners} // '', qr/owner|role/i, '... with the reason (the owners, none of whom may act as the others)');

# a later call in the same session
$offset = -s $node->logfile;
($out, $err) = bg($victim, 'SELECT perfopt_advise()');
is($err, '', 'a second perfopt_advise() in the same session succeeds');
is((bg($victim, attack_session_sql()))[0], $session_before, '... and the session still has its settings');
no_escalation('a second perfopt_advise()', $offset);

# ---- a slow statement: its planning sleeps 60 s
psql_as($node, $db, 'attacker', 'UPDATE attacker.flags SET armed = true');
my $slow_session = caller_session('postgres');
bg($slow_session, "SET statement_timeout = '40s'");
($out, $err) = bg($slow_session, 'SET perfopt.advisor_statement_timeout = 500');
is($err, '', 'perfopt.advisor_statement_timeout can be set (500 ms)');
$offset = -s $node->logfile;
my $started = time;
($out, $err) = bg($slow_session, 'SELECT perfopt_advise()');
my $took = time - $started;
is($err, '', 'perfopt_advise() with a statement whose planning sleeps 60 s succeeds');
cmp_ok($took, '<', 30, "... in far less than the sleep (took ${\sprintf('%.1f', $took)} s)");
$summary = eval { decode_json($out) } // {};
cmp_ok($summary->{analyzed} // 0, '>=', 5, 'the other statements are still analyzed') or diag $out;
my $slow_reason = $node->safe_psql($db,
	q{SELECT coalesce(string_agg(reason, '; '), '') FROM perfopt_advisor_skipped WHERE query LIKE '%attacker.slow()%'});
like($slow_reason, qr/advisor_statement_timeout|time limit|took longer|timed? ?out/i,
	'the slow statement is skipped, and the reason names the time limit');
is( $node->safe_psql($db,
		q{SELECT coalesce(string_agg(query || ': ' || reason, '; '), '') FROM perfopt_advisor_skipped
          WHERE query NOT LIKE '%attacker.slow()%' AND reason ~* 'advisor_statement_timeout|time limit|took longer'}),
	'', 'no other statement is skipped for the time limit');
ok( $node->safe_psql($db, q{SELECT count(*) > 0 FROM perfopt_recommendations WHERE table_name = 'public.items'}) eq 't',
	'and other statements are still advised (public.items)');
ran_as_attacker('the slow statement', $offset, 'slow');
no_escalation('the slow statement', $offset);
$slow_session->quit;
psql_as($node, $db, 'attacker', 'UPDATE attacker.flags SET armed = false');

# ---- the non-superuser admin's perfopt_optimize()
my $ops = caller_session('ops');
my ($ops_before) = bg($ops, attack_session_sql());
$offset = -s $node->logfile;
($out, $err) = bg($ops, 'SELECT perfopt_optimize()');
is($err, '', 'perfopt_optimize() by a pg_monitor role with EXECUTE (no USAGE on schema attacker) succeeds');
my $report = eval { decode_json($out) } // {};
my @skipped_tables = grep { ($_->{table} // '') =~ /^"?attacker"?\./ } @{ $report->{skipped} // [] };
ok(@skipped_tables, 'its report lists the recommendation on the attacker\'s table as skipped')
  or diag "report: $out";
ok(!grep({ ($_->{reason} // '') eq '' } @skipped_tables), '... each with the reason')
  or diag explain \@skipped_tables;
ok(!grep({ ($_->{statement} // '') =~ /ON "?attacker"?\./ } @{ $report->{actions} // [] }),
	'and queues nothing on the attacker\'s tables')
  or diag explain $report->{actions};
ok(grep({ ($_->{statement} // '') =~ /ON public\.items/ } @{ $report->{actions} // [] }),
	'the run goes on with what the admin may act on (public.items)')
  or diag "report: $out";
is((bg($ops, attack_session_sql()))[0], $ops_before, 'the admin\'s session keeps its settings');
no_escalation('perfopt_optimize() by a non-superuser admin', $offset);
$ops->quit;

# ---- a superuser's perfopt_optimize(), and the jobs it queues
$offset = -s $node->logfile;
($out, $err) = bg($victim, 'SELECT perfopt_optimize()');
is($err, '', "a superuser's perfopt_optimize() succeeds");
$report = eval { decode_json($out) } // {};
is((bg($victim, attack_session_sql()))[0], $session_before, '... and the session keeps its settings');
ok( defined poll_until(
		sub {
			$node->safe_psql($db, "SELECT count(*) = 0 FROM perfopt_jobs WHERE state IN ('queued', 'running')") eq 't';
		},
		120),
	'the jobs it queued finish');
no_escalation("perfopt_optimize() by a superuser and its jobs", $offset);

# perfopt's own tables: never advised, never indexed
is( $node->safe_psql(
		$db, q{SELECT coalesce(string_agg(table_name || ': ' || ddl, '; '), '') FROM perfopt_recommendations
               WHERE table_name LIKE '%perfopt\_%'}),
	'',
	'no recommendation on perfopt\'s own tables, though the workload filters perfopt_audit_log and perfopt_jobs');
is( $node->safe_psql(
		$db, q{SELECT coalesce(string_agg(statement, '; '), '') FROM perfopt_jobs
               WHERE coalesce(target_table, '') LIKE '%perfopt\_%' OR statement LIKE '%ON public.perfopt\_%'}),
	'', 'no job on perfopt\'s own tables');
is($node->safe_psql($db, $own_indexes_sql), $own_indexes, 'no index built on perfopt\'s own tables');

# ---- later sessions see nothing of it
$victim->quit;
is($node->safe_psql($db, attack_session_sql()), $fresh_session, 'a new session has the settings a new session had before');
is(attack_db_role_settings($node, $db), $settings_before, 'no ALTER ROLE/DATABASE ... SET was made');
is(attack_role_state($node, $db), $clean_role, 'in the end the attacker has no privilege');

# ---- beyond the fix list: code that catches the statement budget's cancel.
# The function loops on pg_sleep(0.05), catching query_canceled, for at
# most 20 s, once (a sequence counts its calls across rollbacks).  Today
# the budget cancels it every 100 ms and after 100 cancels terminates the
# process: the superuser's session that called perfopt_advise() is gone
# and the run's advice with it (every run in this database, each time
# the attacker arms it again).
psql_as(
	$node, $db, 'attacker', q{
CREATE SEQUENCE attacker.stubborn_calls START 100;
CREATE FUNCTION attacker.stubborn() RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  started timestamptz := pg_catalog.clock_timestamp();
BEGIN
  IF pg_catalog.nextval('attacker.stubborn_calls') OPERATOR(pg_catalog.<>) 1 THEN
    RETURN 4;
  END IF;
  PERFORM attacker.trace('stubborn');
  LOOP
    BEGIN
      PERFORM pg_catalog.pg_sleep(0.05);
    EXCEPTION WHEN query_canceled THEN NULL;
    END;
    EXIT WHEN pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>)
              (started OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => 20));
  END LOOP;
  RETURN 4;
END $$;
});
attack_workload($node, $db, 'attacker', 'SELECT count(*) FROM attacker.t WHERE v = attacker.stubborn()');
psql_as($node, $db, 'attacker', "SELECT setval('attacker.stubborn_calls', 1, false)");
my $stubborn_session = caller_session('postgres');
bg($stubborn_session, "SET perfopt.advisor_statement_timeout = 500");
my ($stubborn_pid) = bg($stubborn_session, 'SELECT pg_backend_pid()');
$offset = -s $node->logfile;
$started = time;
($out, $err) = eval { bg($stubborn_session, 'SELECT perfopt_advise()') };
$err = "the session died: $@" if $@;
$took = time - $started;
# perfopt cancels it every 100 ms past the budget; after 100 ignored
# cancels it ends the process that plans it (here the superuser's own
# session), says why in the log, and never plans that statement again
ok($err ne '', 'a superuser\'s perfopt_advise() does not wait for code that catches the budget\'s cancel')
  or diag "out: $out";
ok($took < 40, sprintf('... it ended after %.1f s (the 0.5 s budget, then 100 cancels 100 ms apart)', $took));
like(slurp_file($node->logfile, $offset), qr/perfopt: the planning of statement -?\d+ ignored 100 cancels/,
	'... the log says which statement ignored the cancels');
$started = time;
my $again = query_json($node, $db, 'SET perfopt.advisor_statement_timeout = 500; SELECT perfopt_advise()');
ok(time - $started < 20, sprintf('the next perfopt_advise() returns (%.1f s)', time - $started));
like($node->safe_psql($db, q{SELECT coalesce(string_agg(reason, '; '), '') FROM perfopt_advisor_skipped WHERE query LIKE '%attacker.stubborn()%'}),
	qr/ignored the advisor's cancels/, '... and skips that statement without planning it');
ran_as_attacker('code that catches the cancel', $offset, 'stubborn');
no_escalation('code that catches the cancel', $offset);
eval { $stubborn_session->quit };

# ---- the probe: the shadows are live where the attacker's schema comes first
$offset = -s $node->logfile;
psql_as($node, $db, 'attacker',
	"SET search_path = attacker, pg_catalog;\nSELECT 2 > 1, 2::int8 > 1, now() IS NOT NULL, lower('A'), count(*) FROM (VALUES (1)) v(x)");
my %probe = map { $_->{tag} => 1 } attack_runs($node, $offset);
ok($probe{'shadow-operator-int4'} && $probe{'operator-gt'} && $probe{'shadow-function-now'} && $probe{'shadow-aggregate-count'},
	'probe: with the attacker\'s schema first, its operators, functions and aggregates are called')
  or diag explain [ sort keys %probe ];

unlike(slurp_file($node->logfile), qr/TRAP:|terminated by signal/, 'no crash');
$node->stop;
done_testing();
