# 160_hostile_search_path.pl — ALTER DATABASE / ALTER ROLE ... SET
# search_path = evil, pg_catalog, public, where schema evil shadows the
# functions, aggregates, operators and types perfopt's SQL uses, does not
# reach perfopt, nor do default_transaction_read_only = on and
# default_transaction_isolation = serializable set beside it (perfopt's
# workers run read-write and read committed, as autovacuum does): the
# worker keeps sampling and writing history and alerts,
# perfopt_optimize() called under that path advises and queues, and the job
# runner builds the index.  Every hostile object counts its call in a
# sequence (not rolled back) and raises 'hijacked': the sequence stays
# unused and the log has no 'hijacked' — until the test's own probe shows
# that the trap is live.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $hostile = 'evil, pg_catalog, public';
my $node = perfopt_node('hostile_path',
	conf => "perfopt.advisor_interval = 0\nperfopt.min_table_size = '256kB'\n"
	  . "pg_stat_statements.track = top\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql($db, lookup_table_sql('t', 100_000, 'autovacuum_enabled = false'));
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
run_lookups($node, $db, 't', 'k', 20);

# the test's own queries: a safe path, kept out of pg_stat_statements
sub tq
{
	my ($sql) = @_;
	return $node->safe_psql($db,
		"SET search_path = pg_catalog, public; SET pg_stat_statements.track = none;"
		  . " SET default_transaction_read_only = off;\n$sql");
}

# the trap
tq(q{
CREATE SCHEMA evil;
CREATE SEQUENCE public.hijack_hits;
CREATE FUNCTION evil.hit(VARIADIC a pg_catalog.text[] DEFAULT '{}') RETURNS pg_catalog.bool
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_catalog.nextval('public.hijack_hits'::pg_catalog.regclass);
  RAISE EXCEPTION 'hijacked: %', a;
END $$;
DO $$
DECLARE
  t text;
  op text;
BEGIN
  FOREACH t IN ARRAY ARRAY['int4', 'int8', 'text', 'oid', 'timestamptz', 'float8', 'name'] LOOP
    EXECUTE pg_catalog.format('CREATE FUNCTION evil.cmp(a pg_catalog.%1$s, b pg_catalog.%1$s) RETURNS pg_catalog.bool'
                              ' LANGUAGE sql AS %2$L', t, 'SELECT evil.hit(''compare ' || t || ''')');
    FOREACH op IN ARRAY ARRAY['=', '<>', '<', '>', '<=', '>='] LOOP
      EXECUTE pg_catalog.format('CREATE OPERATOR evil.%s (LEFTARG = pg_catalog.%s, RIGHTARG = pg_catalog.%s, FUNCTION = evil.cmp)', op, t, t);
    END LOOP;
    EXECUTE pg_catalog.format('CREATE DOMAIN evil.%1$s AS pg_catalog.%1$s CHECK (evil.hit(''domain %1$s''))', t);
  END LOOP;
END $$;
CREATE FUNCTION evil.now() RETURNS pg_catalog.timestamptz LANGUAGE sql STABLE
  AS $$ SELECT CASE WHEN evil.hit('now') THEN pg_catalog.now() END $$;
CREATE FUNCTION evil.lower(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
  AS $$ SELECT CASE WHEN evil.hit('lower') THEN $1 END $$;
CREATE FUNCTION evil.quote_ident(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
  AS $$ SELECT CASE WHEN evil.hit('quote_ident') THEN $1 END $$;
CREATE FUNCTION evil.jsonb_build_object(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.jsonb LANGUAGE sql
  AS $$ SELECT CASE WHEN evil.hit('jsonb_build_object') THEN '{}'::pg_catalog.jsonb END $$;
CREATE FUNCTION evil.cat(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
  AS $$ SELECT CASE WHEN evil.hit('||') THEN $1 END $$;
CREATE OPERATOR evil.|| (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = evil.cat);
CREATE FUNCTION evil.like(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE sql
  AS $$ SELECT evil.hit('~~') $$;
CREATE OPERATOR evil.~~ (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = evil.like);
CREATE FUNCTION evil.tsminus(pg_catalog.timestamptz, pg_catalog.timestamptz) RETURNS pg_catalog.interval LANGUAGE sql
  AS $$ SELECT CASE WHEN evil.hit('-') THEN $1 - $2 END $$;
CREATE OPERATOR evil.- (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.timestamptz, FUNCTION = evil.tsminus);
CREATE FUNCTION evil.step(pg_catalog.int8) RETURNS pg_catalog.int8 LANGUAGE sql
  AS $$ SELECT CASE WHEN evil.hit('aggregate') THEN $1 END $$;
CREATE FUNCTION evil.step(pg_catalog.int8, anyelement) RETURNS pg_catalog.int8 LANGUAGE sql
  AS $$ SELECT CASE WHEN evil.hit('aggregate') THEN $1 END $$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.step, STYPE = pg_catalog.int8, INITCOND = '0');
CREATE AGGREGATE evil.max(pg_catalog.int8) (SFUNC = evil.step, STYPE = pg_catalog.int8, INITCOND = '0');
CREATE AGGREGATE evil.sum(pg_catalog.float8) (SFUNC = evil.step, STYPE = pg_catalog.int8, INITCOND = '0');
CREATE AGGREGATE evil.min(pg_catalog.timestamptz) (SFUNC = evil.step, STYPE = pg_catalog.int8, INITCOND = '0');
});
# alerts the worker must write: memory use is surely above 2%
tq(q{SELECT perfopt_set_thresholds('{"memory": {"warning": 1, "critical": 2}}')});

$node->safe_psql($db,
	"ALTER DATABASE postgres SET search_path = $hostile;"
	  . " ALTER DATABASE postgres SET default_transaction_read_only = on;"
	  . " ALTER DATABASE postgres SET default_transaction_isolation = serializable;"
	  . " ALTER ROLE CURRENT_USER IN DATABASE postgres SET search_path = $hostile;");
# the worker connects again, under the new settings
$node->restart;
my $log_start = -s $node->logfile;
my $restarted = tq('SELECT now()');
is($node->safe_psql($db, 'SHOW search_path'), $hostile, 'a new session gets the hostile search_path');

ok(defined poll_until(sub { tq("SELECT count(*) >= 3 FROM perfopt_samples WHERE sampled_at > '$restarted'") eq 't' }),
	'the worker writes history under the hostile database setting');
ok(defined poll_until(sub { tq(q{SELECT count(*) > 0 FROM perfopt_alerts_data WHERE metric LIKE 'memory%' AND state = 'open'}) eq 't' }),
	'the worker writes alerts under it');
ok(defined poll_until(sub { tq(q{SELECT (perfopt_status()->>'samples_taken')::int >= 5}) eq 't' }),
	'sampling goes on');

# perfopt_optimize() called with the hostile path of this database (in a
# read-write transaction: a session's own is read-only by that default)
my ($ret, $out, $err) = $node->psql($db, 'BEGIN READ WRITE; SELECT perfopt_optimize(); COMMIT;');
is($ret, 0, 'perfopt_optimize() under the hostile search_path succeeds') or diag $err;
my $report = eval { JSON::PP::decode_json($out) } // {};
my @builds = grep { $_->{kind} eq 'create_index' } @{ $report->{actions} // [] };
ok((grep { $_->{statement} =~ /ON public\.t USING btree \(k\)/ } @builds),
	'the advisor analyzed the workload (pg_catalog first) and queued the index on t(k)')
  or diag $out;
# (the test's own reads go through tq(): the job helpers would be hijacked)
my $job_id = tq(q{SELECT min(id) FROM perfopt_jobs WHERE kind = 'create_index'});
ok($job_id && defined poll_until(sub { tq("SELECT state FROM perfopt_jobs WHERE id = $job_id") =~ /^(succeeded|failed|cancelled)$/ }),
	'the job runner finishes the build');
is(tq("SELECT state || ' ' || coalesce(last_error, '') FROM perfopt_jobs WHERE id = $job_id"), 'succeeded ',
	'the job runner, also under the hostile setting, builds it');
is(tq(q{SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'public.t'::regclass AND c.relname LIKE 'perfopt%' AND i.indisvalid}), '1',
	'the index on t is valid');
is(tq(q{SELECT count(*) FROM perfopt_audit_log WHERE action = 'optimize' AND outcome IS NOT NULL}), '1',
	'the audit row of the run is written');

# nothing of the trap was called
is(tq('SELECT is_called FROM public.hijack_hits'), 'f', 'no hostile object was called');
is(log_count($node, qr/hijacked/, $log_start), 0, 'no "hijacked" in the server log');
is(join("\n", perfopt_problem_lines($node, $log_start)), '', 'no perfopt problem in the log');

# the probe: the trap is live for a statement of a session's own
($ret, $out, $err) = $node->psql($db, 'SET default_transaction_read_only = off; SELECT 1 = 1');
like($err, qr/hijacked/, 'a plain "SELECT 1 = 1" of this database is hijacked: the trap works');
is(tq('SELECT is_called FROM public.hijack_hits'), 't', '... and counted');

$node->stop;
done_testing();
