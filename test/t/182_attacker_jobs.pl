# 182_attacker_jobs.pl — the attacker of 180 (an ordinary role that owns
# schema attacker) against the job runner: the index builds (CREATE INDEX
# CONCURRENTLY as the bootstrap superuser), the VACUUM (ANALYZE) and the
# ANALYZE after each build, and the verification re-plan of the
# statements a built index serves (src/jobs/verify.c); and the errors the
# jobs keep.
#
#   - A superuser's join of two attacker tables is recorded; the attacker
#     then replaces the small one by a view calling its code.  The
#     recommended index on the big table is built, and its verification
#     re-plans the join in the runner: the view's code must run as the
#     attacker there, as in the advice.
#   - The attacker's own statement filters on attacker.keyfn(v): the
#     expression index built for it evaluates the attacker's function on
#     every row, as the attacker (the table's owner).  Its statistics
#     object and expression index are evaluated by ANALYZE; the table is
#     made stale (25% of its rows updated) so that perfopt_optimize()
#     also queues a VACUUM (ANALYZE) of it.
#   - The attacker's statement on app's table (SELECT granted) filters on
#     the attacker's function: an index on app's table with the
#     attacker's code would run it as app at every build and ANALYZE, so
#     it is never recommended nor built.
#   - Triggers, a column default, a CHECK and a domain constraint of the
#     attacker's table would run only if perfopt wrote its rows: never.
#   - app's statement casts a text column to integer; a row holding
#     'SECRET-ROW-VALUE-42' is inserted after it was recorded, so the
#     build of the index on (code::integer) fails with a message quoting
#     it: no perfopt relation (pg_monitor reads them) keeps the value,
#     last_sqlstate keeps the SQLSTATE (the server log has the message).
use strict;
use warnings;

use JSON::PP;
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $secret = 'SECRET-ROW-VALUE-42';
my $node = perfopt_node('attack_jobs',
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
CREATE ROLE attacker LOGIN;
CREATE SCHEMA attacker AUTHORIZATION attacker;
CREATE ROLE app LOGIN;
CREATE SCHEMA app AUTHORIZATION app;
GRANT USAGE ON SCHEMA app TO attacker;
});
psql_as($node, $db, 'attacker', attack_kit_sql($evidence));
psql_as(
	$node, $db, 'attacker', q{
-- keyfn(v) is v % 1000; it says so (trace) for v = 1, one row of each table
CREATE FUNCTION attacker.keyfn(v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF v OPERATOR(pg_catalog.=) 1 THEN PERFORM attacker.trace('index-build-expression'); END IF;
  RETURN v OPERATOR(pg_catalog.%) 1000;
END $$;
CREATE FUNCTION attacker.appkeyfn(v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF v OPERATOR(pg_catalog.=) 1 THEN PERFORM attacker.trace('expression-on-app-table'); END IF;
  RETURN v OPERATOR(pg_catalog.%) 1000;
END $$;
CREATE FUNCTION attacker.statfn(v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF v OPERATOR(pg_catalog.=) 1 THEN PERFORM attacker.trace('analyze-statistics-expression'); END IF;
  RETURN v;
END $$;
CREATE DOMAIN attacker.posint AS int;
CREATE TABLE attacker.j (id int NOT NULL, k int NOT NULL, v int NOT NULL, d attacker.posint, note text);
INSERT INTO attacker.j SELECT g, g % 1000, g, g, 'n' FROM generate_series(1, 20000) g;
CREATE TABLE attacker.u (k int NOT NULL, label text);
INSERT INTO attacker.u SELECT g, 'u' || g FROM generate_series(0, 999) g;
VACUUM ANALYZE attacker.j;
VACUUM ANALYZE attacker.u;
});
$node->safe_psql(
	$db, q{
CREATE TABLE app.pubdata (id int NOT NULL, v int NOT NULL, pad text);
INSERT INTO app.pubdata SELECT g, g, repeat('p', 30) FROM generate_series(1, 20000) g;
CREATE TABLE app.ledger (id int NOT NULL, code text NOT NULL, pad text);
INSERT INTO app.ledger SELECT g, (g % 1000)::text, repeat('l', 30) FROM generate_series(1, 20000) g;
ALTER TABLE app.pubdata OWNER TO app;
ALTER TABLE app.ledger OWNER TO app;
GRANT SELECT ON app.pubdata TO attacker;
SELECT pg_stat_force_next_flush();
ANALYZE app.pubdata;
ANALYZE app.ledger;
});
# attacker.j goes stale (25% of its rows changed since its ANALYZE), before
# the workload is recorded: the writes would weigh against its indexes
psql_as($node, $db, 'attacker',
	"UPDATE attacker.j SET note = 'changed' WHERE id % 4 = 0;\nSELECT pg_stat_force_next_flush();");

# ---- the workload
my @ks = (1 .. 20);
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
attack_workload($node, $db, 'postgres',
	map { "SELECT count(*) FROM attacker.j JOIN attacker.u ON u.k = j.k WHERE j.k = $_" } @ks);
attack_workload($node, $db, 'attacker',
	(map { "SELECT * FROM attacker.j WHERE attacker.keyfn(v) = $_" } @ks),
	(map { "SELECT * FROM app.pubdata WHERE attacker.appkeyfn(v) = $_" } @ks));
attack_workload($node, $db, 'app', map { "SELECT * FROM app.ledger WHERE code::integer = $_" } @ks);

# ---- then: the small table becomes a view, the big one gets code that
# only a write would run, an expression index and an expression
# statistics object for ANALYZE; app's table gets the row
psql_as(
	$node, $db, 'attacker', q{
ALTER TABLE attacker.u RENAME TO u_old;
CREATE VIEW attacker.u AS SELECT * FROM attacker.u_old WHERE attacker.imm('verify-view') > 0;
CREATE INDEX j_expr ON attacker.j ((v + attacker.imm('analyze-index-expression')));
CREATE STATISTICS attacker.j_stats ON (attacker.statfn(v)) FROM attacker.j;
ALTER DOMAIN attacker.posint ADD CONSTRAINT posint_check CHECK (attacker.trace('domain-check')) NOT VALID;
ALTER TABLE attacker.j ADD CONSTRAINT j_check CHECK (attacker.trace('check-constraint')) NOT VALID;
ALTER TABLE attacker.j ALTER COLUMN note SET DEFAULT (attacker.trace('column-default'))::text;
CREATE FUNCTION attacker.trg() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN PERFORM attacker.trace('trigger'); RETURN NULL; END $$;
CREATE TRIGGER j_trg BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON attacker.j
  FOR EACH STATEMENT EXECUTE FUNCTION attacker.trg();
CREATE TRIGGER j_row_trg BEFORE INSERT OR UPDATE OR DELETE ON attacker.j
  FOR EACH ROW EXECUTE FUNCTION attacker.trg();
});
psql_as($node, $db, 'app', "INSERT INTO app.ledger VALUES (0, '$secret', 'x')");

my $settings_before = attack_db_role_settings($node, $db);
is(attack_role_state($node, $db), $clean_role, 'the attacker starts without any privilege');

# ---- a superuser's perfopt_optimize(), and everything its jobs do
my $offset = -s $node->logfile;
my ($ret, $out, $err) = $node->psql($db, 'SET client_min_messages = warning; SELECT perfopt_optimize()');
is($ret, 0, "a superuser's perfopt_optimize() succeeds") or diag $err;
my $report = eval { decode_json($out) } // {};
my @actions = @{ $report->{actions} // [] };
ok((grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /ON attacker\.j USING btree \(k\)/ } @actions),
	'perfopt_optimize() queues the index on attacker.j(k) the superuser\'s join needs')
  or diag explain \@actions;
ok((grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /ON attacker\.j .*attacker\.keyfn\(v\)/ } @actions),
	'and the expression index on attacker.keyfn(v) the attacker\'s own statement needs')
  or diag explain \@actions;
ok((grep { $_->{kind} =~ /analyze/ && $_->{statement} =~ /attacker\.j\b/ } @actions),
	'and a VACUUM (ANALYZE) or ANALYZE of the stale attacker.j')
  or diag explain \@actions;
ok((grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /ON app\.ledger .*code\)::integer/ } @actions),
	'and the index on app.ledger ((code)::integer) app\'s statement needs')
  or diag explain \@actions;
ok( defined poll_until(
		sub { $node->safe_psql($db, "SELECT count(*) = 0 FROM perfopt_jobs WHERE state IN ('queued', 'running')") eq 't' },
		120),
	'the jobs finish');
my @jobs = job_rows($node, $db);
my @attacker_builds = grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /ON attacker\.j / } @jobs;
ok(@attacker_builds && !grep({ $_->{state} ne 'succeeded' } @attacker_builds),
	'the builds on the attacker\'s table succeed') or diag explain \@jobs;
ok(!grep({ $_->{kind} =~ /analyze/ && $_->{state} ne 'succeeded' } @jobs), 'the VACUUM/ANALYZE jobs succeed')
  or diag explain \@jobs;
ok( $node->safe_psql(
		$db, q{SELECT count(*) > 0 FROM perfopt_verifications v JOIN perfopt_jobs j ON j.id = v.job_id
               WHERE j.statement LIKE '%ON attacker.j USING btree (k)%'}) eq 't',
	'the index on attacker.j(k) was verified (its statements re-planned)');

# the runner's processes (they log each build and failure), and what ran in them
my %runner = map { /\[(\d+)\] LOG:  perfopt: (?:index \S+ built|job \d+ )/ ? ($1 => 1) : () }
  split /\n/, log_since($node, $offset);
my @runs = attack_runs($node, $offset);
my %in_runner;
$in_runner{ $_->{tag} }{ $_->{role} } = 1 for grep { $runner{ $_->{pid} } } @runs;
for my $tag ('verify-view', 'index-build-expression', 'analyze-statistics-expression', 'analyze-index-expression')
{
	ok($in_runner{$tag}{attacker}, "the job runner ran the attacker's '$tag' code, as attacker")
	  or diag "'$tag' ran in the runner as: " . join(', ', sort keys %{ $in_runner{$tag} // {} })
	  . '; runner pids: ' . join(', ', sort keys %runner);
}
my @foreign = attack_foreign_runs($node, $offset);
ok(!@foreign, 'none of the attacker\'s code ran as another role (advice, builds, ANALYZE, verification)')
  or diag "the attacker's code ran as another role:\n" . join("\n", @foreign[ 0 .. ($#foreign > 40 ? 40 : $#foreign) ]);
my @writes = grep { $_->{tag} =~ /^(trigger|column-default|check-constraint|domain-check)$/ } @runs;
ok(!@writes, 'no trigger, default, CHECK or domain constraint of the attacker\'s table ran: perfopt never writes it')
  or diag join("\n", map { $_->{line} } @writes);
my @shadows = grep { $_->{tag} =~ /^shadow-/ } @runs;
ok(!@shadows, 'no shadowing operator, function, type or relation was called')
  or diag join("\n", map { $_->{line} } @shadows[ 0 .. ($#shadows > 20 ? 20 : $#shadows) ]);
is(attack_role_state($node, $db), $clean_role, 'the attacker gained no attribute and no membership');
is(attack_role_state($node, $db, 'app'), $clean_role, 'nor did app');
is(join("\n", attack_evidence($evidence)), '', 'no marker file written by a privileged COPY');
is(attack_db_role_settings($node, $db), $settings_before, 'no ALTER ROLE/DATABASE ... SET was made');

# the attacker's code never goes into an index on app's table
is( $node->safe_psql(
		$db, q{SELECT coalesce(string_agg(ddl, '; '), '') FROM perfopt_recommendations
               WHERE table_name = 'app.pubdata' AND ddl LIKE '%attacker.%'}),
	'', 'no recommendation puts the attacker\'s function into an index on app\'s table');
is(join('; ', map { $_->{statement} } grep { $_->{kind} eq 'create_index' && $_->{statement} =~ /app\.pubdata/ } @jobs),
	'', 'no job builds one');
is( $node->safe_psql(
		$db, q{SELECT coalesce(string_agg(pg_get_indexdef(indexrelid), '; '), '') FROM pg_index
               WHERE indrelid = 'app.pubdata'::regclass}),
	'', 'app.pubdata has no index');

# ---- the build that failed on app's row: its SQLSTATE, never the value
my ($ledger) = grep { $_->{statement} =~ /app\.ledger/ && $_->{kind} eq 'create_index' } @jobs;
is($ledger->{state} // '', 'failed', 'the build on app.ledger fails (a row is not an integer)');
is($ledger->{last_sqlstate} // '', '22P02', 'last_sqlstate has the SQLSTATE (22P02)');
like(log_since($node, $offset), qr/\Q$secret\E/, 'the server log has the message (so the build did reach the row)');
my @relations = split /\n/, $node->safe_psql(
	$db, q{SELECT c.oid::regclass FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
           JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
           WHERE e.extname = 'perfopt' AND d.deptype = 'e' AND c.relkind IN ('r', 'v', 'm')
             AND has_table_privilege('pg_monitor', c.oid, 'SELECT')
           ORDER BY 1});
ok(scalar(grep { /perfopt_jobs/ } @relations), 'the relations pg_monitor reads: ' . join(', ', @relations));
for my $rel (@relations)
{
	my $rows = $node->safe_psql($db, "SELECT count(*) FROM $rel x WHERE x::text LIKE '%$secret%'");
	is($rows, '0', "no row of $rel quotes the row value")
	  or diag $node->safe_psql($db, "SELECT x::text FROM $rel x WHERE x::text LIKE '%$secret%' LIMIT 3");
}
unlike($node->safe_psql($db, 'SELECT perfopt_history()::text'), qr/\Q$secret\E/, 'nor does perfopt_history()');

unlike(slurp_file($node->logfile), qr/TRAP:|terminated by signal/, 'no crash');
$node->stop;
done_testing();
