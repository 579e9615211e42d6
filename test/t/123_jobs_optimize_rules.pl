# 123_jobs_optimize_rules.pl — the rules of perfopt_optimize() and
# perfopt_optimize_database(): one run at a time per database (55P03 for
# the second, a rolled-back run queues nothing); a dry run reports what a
# real run then does and changes nothing; the database part queues VACUUM
# (ANALYZE) for a table with many dead rows and ANALYZE for a
# never-analyzed one, and they succeed; perfopt_history() pages without
# duplicates or gaps and rejects bad input; a standby refuses both
# functions (25006) and queues nothing on the primary; a role without
# grants gets 42501.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $cap = 2 * 1024 * 1024 * 1024;
my $node = perfopt_node('jobs_rules', allows_streaming => 1,
	conf => "perfopt.advisor_interval = 0\nperfopt.min_table_size = '256kB'\n"
	  . "pg_stat_statements.track = top\n");
$node->start;
my $capped = limit_node_memory($node, $cap);
note $capped ? 'backends capped at 2 GB of address space' : 'prlimit unavailable: no memory cap';
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql($db, lookup_table_sql('t', 200_000, 'autovacuum_enabled = false'));
$node->safe_psql($db,
	'CREATE TABLE dead (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false);'
	  . " INSERT INTO dead SELECT g, 'row ' || g FROM generate_series(1, 100000) g;"
	  . ' SELECT pg_stat_force_next_flush();'
	  . ' VACUUM ANALYZE dead');
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
run_lookups($node, $db, 't', 'k', 20);

# a query of the test itself, kept out of pg_stat_statements (the advisor's
# workload must stay the lookups above)
sub tq
{
	my ($sql) = @_;
	return $node->safe_psql($db, "SET pg_stat_statements.track = none;\n$sql");
}

# ---- (a) one run at a time per database
$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql('db2', 'CREATE EXTENSION perfopt CASCADE');
my $first = $node->background_psql($db);
$first->query_safe('BEGIN; SELECT perfopt_optimize()');
my ($state, $msg) = sql_error_state($node, $db, 'SELECT perfopt_optimize()');
is($state, '55P03', 'a second perfopt_optimize() while one is open: SQLSTATE 55P03');
like($msg, qr/another optimization is running in this database/, "... $msg");
($state) = sql_error_state($node, $db, 'SELECT perfopt_optimize_database()');
is($state, '55P03', 'perfopt_optimize_database() meanwhile: SQLSTATE 55P03');
($state, $msg) = sql_error_state($node, 'db2', 'SELECT perfopt_optimize()');
is($state, '', 'another database optimizes meanwhile') or diag $msg;
$first->query_safe('ROLLBACK');
$first->quit;
is(tq('SELECT count(*) FROM perfopt_jobs'), '0', 'the rolled-back run queued nothing');
is(tq('SELECT count(*) FROM perfopt_history'), '0', 'the rolled-back run left no history');
is(tq("SELECT count(*) FROM perfopt_audit_log WHERE action LIKE 'optimize%'"), '0',
	'the rolled-back run left no audit row');

# ---- (b) a dry run changes nothing, and reports what the real run does
my %snap_sql = (
	perfopt_jobs => 'SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.id), \'[]\') FROM perfopt_jobs x',
	perfopt_history => 'SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.id), \'[]\') FROM perfopt_history x',
	perfopt_recommendations =>
	  'SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.id), \'[]\') FROM perfopt_recommendations x',
	perfopt_audit_log => 'SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.id), \'[]\') FROM perfopt_audit_log x',
	perfopt_slow_queries =>
	  'SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.queryid, x.userid), \'[]\') FROM perfopt_slow_queries x',
	perfopt_advisor_skipped =>
	  'SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.queryid, x.userid), \'[]\') FROM perfopt_advisor_skipped x',
	pg_index => "SELECT string_agg(indexrelid::regclass || ' ' || indisvalid, ', ' ORDER BY indexrelid)"
	  . ' FROM pg_index WHERE indexrelid >= 16384',
	pg_class => 'SELECT count(*) FROM pg_class WHERE oid >= 16384');
sub snapshot { return { map { $_ => tq($snap_sql{$_}) } keys %snap_sql }; }

my $before = snapshot();
my $dry = JSON::PP::decode_json(tq('SELECT perfopt_optimize(true)'));
my $after = snapshot();
for my $what (sort keys %snap_sql)
{
	is($after->{$what}, $before->{$what}, "the dry run changes nothing in $what");
}
ok($dry->{dry_run}, 'the report says dry_run');
is($dry->{run_id}, undef, 'a dry run has no run_id');
is($dry->{kind}, 'optimize', 'kind optimize');
ok(exists $dry->{score_before} && exists $dry->{estimated_improvement_ms}, 'score_before and estimated_improvement_ms are reported');
ok(ref $dry->{advisor} eq 'HASH', 'the advisor summary is in the report');
is(scalar(grep { defined $_->{job_id} } @{ $dry->{actions} }), 0, 'no action of the dry run has a job');
my @dry_builds = grep { $_->{kind} eq 'create_index' } @{ $dry->{actions} };
ok((grep { $_->{statement} =~ /ON public\.t USING btree \(k\)/ } @dry_builds), 'the dry run reports the build on t(k)');

# jobs paused (perfopt.max_index_builds = 0), so that they are still
# queued when perfopt_optimize() runs again below
$node->safe_psql($db, 'ALTER SYSTEM SET perfopt.max_index_builds = 0; SELECT pg_reload_conf()');
ok($node->poll_query_until($db, 'SHOW perfopt.max_index_builds', '0'), 'jobs paused');
my $real = JSON::PP::decode_json(tq('SELECT perfopt_optimize()'));
ok(!$real->{dry_run} && $real->{run_id}, "the real run has a run_id ($real->{run_id})");
my $actions = sub { join("\n", sort map { "$_->{kind}: $_->{statement}" } @{ $_[0]{actions} }) };
is($actions->($real), $actions->($dry), 'the real run does exactly what the dry run reported');
note "actions:\n" . $actions->($real);
my @jobs = job_rows($node, $db, "j.run_id = $real->{run_id}");
is( join("\n", sort map { "$_->{kind}: $_->{statement}" } @jobs),
	$actions->($real), 'one job per action, with the same statement');
is(scalar(grep { !$_->{job_id} } @{ $real->{actions} }), 0, 'every action of the real run names its job');
is(tq("SELECT count(*) FROM perfopt_history WHERE id = $real->{run_id} AND kind = 'optimize'"
	  . " AND (report->>'run_id')::bigint = id AND finished_at IS NOT NULL"), '1',
	'the report is in perfopt_history');
is(tq("SELECT count(*) FROM perfopt_audit_log WHERE action = 'optimize'"
	  . " AND arguments = jsonb_build_object('run_id', $real->{run_id})"), '1',
	'an audit row "optimize" names the run');

# a run while those jobs wait queues nothing twice
is(join(', ', map { $_->{state} } @jobs), join(', ', map { 'queued' } @jobs), 'the jobs wait, paused');
my $twice = JSON::PP::decode_json(tq('SELECT perfopt_optimize()'));
is(join("\n", map { "$_->{kind}: $_->{statement}" } @{ $twice->{actions} }), '',
	'a second run while they are queued queues nothing');
is(tq("SELECT count(*) FROM perfopt_jobs WHERE run_id <> $real->{run_id}"), '0', 'no duplicate job');

$node->safe_psql($db, 'ALTER SYSTEM RESET perfopt.max_index_builds; SELECT pg_reload_conf()');
for my $jb (@jobs)
{
	ok(wait_for_job($node, $db, $jb->{id}, "state = 'succeeded'"), "job $jb->{id} ($jb->{kind}) succeeds once resumed");
}

# ---- (c) the database part: VACUUM (ANALYZE) and ANALYZE
$node->safe_psql($db,
	'CREATE TABLE never (a int) WITH (autovacuum_enabled = false);'
	  . ' INSERT INTO never SELECT generate_series(1, 5000);'
	  . ' DELETE FROM dead WHERE id % 2 = 0;'
	  . ' SELECT pg_stat_force_next_flush()');
ok( $node->poll_query_until($db,
		"SELECT bool_and(CASE relname WHEN 'dead' THEN n_dead_tup >= 50000 ELSE n_live_tup >= 5000 END)"
		  . " FROM pg_stat_user_tables WHERE relname IN ('dead', 'never')"),
	'the statistics show 50000 dead rows and the new table');
my $maint = JSON::PP::decode_json(tq('SELECT perfopt_optimize_database()'));
is($maint->{kind}, 'optimize_database', 'kind optimize_database');
ok(!exists $maint->{advisor}, 'no advisor run in the database part');
my %by_table = map { ($_->{statement} =~ /(\S+)$/)[0] => $_ } @{ $maint->{actions} };
note 'perfopt_optimize_database(): ' . join('; ', map { "$_->{statement} [$_->{evidence}]" } @{ $maint->{actions} });
is($by_table{'public.dead'}{kind}, 'vacuum_analyze', 'public.dead: vacuum_analyze');
is($by_table{'public.dead'}{statement}, 'VACUUM (ANALYZE) public.dead', '... VACUUM (ANALYZE) public.dead');
like($by_table{'public.dead'}{evidence} // '', qr/50000 dead/, '... with the dead rows as evidence');
is($by_table{'public.never'}{kind}, 'analyze', 'public.never: analyze');
is($by_table{'public.never'}{statement}, 'ANALYZE public.never', '... ANALYZE public.never');
like($by_table{'public.never'}{evidence} // '', qr/never/, '... never analyzed, says the evidence');
is(scalar(grep { $_->{kind} eq 'create_index' } @{ $maint->{actions} }), 0, 'no build in the database part');
my @own = grep { /perfopt_/ } keys %by_table;
is(join(', ', @own), '', "no job on perfopt's own tables");
is(scalar(keys %by_table), 2, 'nothing else to do');
for my $table ('public.dead', 'public.never')
{
	my $id = $by_table{$table}{job_id} // 0;
	ok(wait_for_job($node, $db, $id, "state = 'succeeded'"), "the job on $table succeeds");
}
ok( $node->poll_query_until($db,
		"SELECT bool_and(CASE relname WHEN 'dead' THEN n_dead_tup = 0 AND last_vacuum IS NOT NULL"
		  . " AND last_analyze IS NOT NULL ELSE last_analyze IS NOT NULL END)"
		  . " FROM pg_stat_user_tables WHERE relname IN ('dead', 'never')"),
	'dead is vacuumed and analyzed, never is analyzed');
is(tq("SELECT count(*) FROM perfopt_audit_log WHERE action = 'optimize_database'"), '1',
	'an audit row "optimize_database"');
my $again = JSON::PP::decode_json(tq('SELECT perfopt_optimize_database()'));
is(join('; ', map { $_->{statement} } @{ $again->{actions} }), '', 'a second run finds nothing to do');

# ---- (d) perfopt_history paging
tq('SELECT perfopt_optimize_database()') for 1 .. 2;
my @all = split /\n/, tq('SELECT id FROM perfopt_history ORDER BY id');
cmp_ok(scalar(@all), '>=', 5, scalar(@all) . ' runs in the history');
for my $lim (1, 2)
{
	my ($after_id, $pages, $bad) = (0, 0, '');
	my @seen;
	while (defined $after_id && $pages <= @all + 1)
	{
		my $page = JSON::PP::decode_json(tq("SELECT perfopt_history($after_id, $lim)"));
		$pages++;
		$bad .= "page after $after_id has " . scalar(@{ $page->{items} }) . " items\n"
		  if @{ $page->{items} } > $lim;
		for my $it (@{ $page->{items} })
		{
			push @seen, $it->{id};
			$bad .= "item $it->{id}: report run_id $it->{report}{run_id}\n"
			  if ($it->{report}{run_id} // -1) != $it->{id};
			$bad .= "item $it->{id}: no kind or started_at\n" unless $it->{kind} && $it->{started_at};
		}
		$bad .= "next_after $page->{next_after} is not the page's last id\n"
		  if defined $page->{next_after} && (!@{ $page->{items} } || $page->{next_after} != $page->{items}[-1]{id});
		$after_id = $page->{next_after};
	}
	is(join(',', @seen), join(',', @all), "lim $lim: every run once, in order, no gap");
	ok(!defined $after_id, "lim $lim: next_after is null at the end ($pages pages)");
	is($bad, '', "lim $lim: pages well formed");
}
my $tail = JSON::PP::decode_json(tq("SELECT perfopt_history($all[-2], 1000)"));
is(scalar(@{ $tail->{items} }), 1, 'from the last but one id: one item');
is($tail->{next_after}, undef, '... and next_after null');
for my $bad (
	[ 'perfopt_history(0, 0)', '22023' ],
	[ 'perfopt_history(0, 1001)', '22023' ],
	[ 'perfopt_history(-1, 10)', '22023' ],
	[ 'perfopt_history(NULL, 10)', '22004' ],
	[ 'perfopt_history(0, NULL)', '22004' ],
	[ 'perfopt_optimize(NULL)', '22004' ],
	[ 'perfopt_optimize_database(NULL)', '22004' ])
{
	my ($st, $m) = sql_error_state($node, $db, "SELECT $bad->[0]");
	is($st, $bad->[1], "$bad->[0]: SQLSTATE $bad->[1]") or diag $m;
}

# ---- (e) a standby refuses, and queues nothing on the primary
my $jobs_before = tq('SELECT count(*) FROM perfopt_jobs');
my $history_before = tq('SELECT count(*) FROM perfopt_history');
$node->backup('rules_backup');
my $standby = PostgreSQL::Test::Cluster->new('jobs_rules_standby');
$standby->init_from_backup($node, 'rules_backup', has_streaming => 1);
$standby->start;
limit_node_memory($standby, $cap);
$node->wait_for_catchup($standby);
for my $fn ('perfopt_optimize()', 'perfopt_optimize_database()')
{
	my ($st, $m) = sql_error_state($standby, $db, "SELECT $fn");
	is($st, '25006', "standby: $fn is refused with 25006");
	like($m, qr/standby/, "... $m");
}
$node->safe_psql($db, 'SELECT 1');
$node->wait_for_catchup($standby);
is(tq('SELECT count(*) FROM perfopt_jobs'), $jobs_before, 'no job queued on the primary');
is(tq('SELECT count(*) FROM perfopt_history'), $history_before, 'no history written on the primary');
is($standby->safe_psql($db, 'SELECT count(*) FROM perfopt_jobs'), $jobs_before, 'the standby sees the same jobs');
is( join("\n", perfopt_problem_lines($standby, 0, [qr/cannot run on a standby/])),
	'', 'standby: no unexpected perfopt errors in the log');
$standby->stop;

# ---- (f) privileges
$node->safe_psql($db, 'CREATE ROLE nobody LOGIN');
for my $fn ('perfopt_optimize()', 'perfopt_optimize(true)', 'perfopt_optimize_database()')
{
	my ($st, $m) = sql_error_state($node, $db, "SET ROLE nobody;\nSELECT $fn");
	is($st, '42501', "a role without grants: $fn gives 42501") or diag $m;
}
is(tq('SELECT count(*) FROM perfopt_jobs'), $jobs_before, 'the refused calls queued nothing');

is( join("\n",
		perfopt_problem_lines($node, 0,
			[ qr/another optimization is running/, qr/must not be null|must be (0|between)/, qr/permission denied/ ])),
	'', 'no unexpected perfopt errors in the log');
unlike(slurp_file($node->logfile), qr/terminated by signal|TRAP:/, 'no crash');

$node->stop;
done_testing();
