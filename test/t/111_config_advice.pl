# 111_config_advice.pl — configuration advice beside the index advice:
# temporary files larger than work_mem, requested checkpoints and tables
# full of dead rows each give a 'configuration' recommendation with the
# ALTER SYSTEM it suggests and its evidence; perfopt_optimize() applies
# none of them.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('config_advice', interval => 300, conf => "perfopt.advisor_interval = 0\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');

my $quiet = perfopt_node('config_quiet', interval => 300, conf => "perfopt.advisor_interval = 0\n");
$quiet->start;
$quiet->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
my $none = query_json($quiet, $db, 'SELECT perfopt_advise()');
is_deeply($none->{configuration}, [], 'a quiet server: no configuration advice');
$quiet->stop;

# a sort that spills far beyond work_mem (the server's stays 4MB)
$node->safe_psql($db,
	"SET work_mem = '64kB'; SELECT count(*) FROM (SELECT g FROM generate_series(1, 1000000) g ORDER BY g DESC) s;"
	  . ' SELECT pg_stat_force_next_flush(); SELECT 1');
# requested checkpoints
$node->safe_psql($db, 'CHECKPOINT') for 1 .. 6;
# a table half dead, that autovacuum may not touch
$node->safe_psql($db,
	'CREATE TABLE churn (id int, v int) WITH (autovacuum_enabled = false);'
	  . ' INSERT INTO churn SELECT g, 0 FROM generate_series(1, 50000) g;'
	  . ' UPDATE churn SET v = 1; SELECT pg_stat_force_next_flush(); SELECT 1');
ok($node->poll_query_until($db, "SELECT n_dead_tup >= 10000 FROM pg_stat_user_tables WHERE relname = 'churn'"),
	'the dead rows are counted');

my $summary = query_json($node, $db, 'SELECT perfopt_advise()');
my %advice = map { $_->{setting} => $_ } @{ $summary->{configuration} };
note explain $summary->{configuration};

like($advice{work_mem}{ddl} // '', qr/^ALTER SYSTEM SET work_mem = '\d+(kB|MB|GB)'$/, "work_mem: $advice{work_mem}{ddl}");
like($advice{work_mem}{reason} // '', qr/temporary files of .* on average .* while work_mem is 4MB/, 'with the evidence');
like($advice{max_wal_size}{ddl} // '', qr/^ALTER SYSTEM SET max_wal_size = '2GB'$/, 'checkpoints: max_wal_size twice 1GB');
like($advice{max_wal_size}{reason} // '', qr/\d+ were requested .* against \d+ on schedule/, 'with the evidence');
is($advice{autovacuum_vacuum_scale_factor}{ddl} // '', 'ALTER SYSTEM SET autovacuum_vacuum_scale_factor = 0.05',
	'autovacuum: a lower scale factor');
like($advice{autovacuum_vacuum_scale_factor}{reason} // '', qr/public\.churn \(\d+ dead of \d+ rows\)/,
	'naming the table');

my $rows = query_json($node, $db,
	"SELECT jsonb_agg(to_jsonb(r) ORDER BY setting) FROM perfopt_recommendations r WHERE kind = 'configuration'");
is(scalar(@$rows), scalar(keys %advice), 'stored in perfopt_recommendations, kind configuration');
ok(!(grep { defined $_->{table_name} || defined $_->{index_name} } @$rows), 'without table or index');
is($summary->{recommendations}, scalar(@{ $summary->{actions} }), 'the index count is apart from them');

# nothing is applied
my $report = query_json($node, $db, 'SELECT perfopt_optimize()');
ok(!(grep { ($_->{statement} // '') =~ /ALTER SYSTEM/ } @{ $report->{actions} }), 'perfopt_optimize() queues no ALTER SYSTEM');
is($node->safe_psql($db, "SELECT count(*) FROM perfopt_jobs WHERE statement LIKE 'ALTER SYSTEM%'"), '0', 'no such job');
is($node->safe_psql($db, 'SHOW work_mem'), '4MB', 'work_mem unchanged');
ok(!-s $node->data_dir . '/postgresql.auto.conf' || slurp_file($node->data_dir . '/postgresql.auto.conf') !~ /work_mem|max_wal_size/,
	'postgresql.auto.conf untouched');

# dismissed advice stays dismissed
my $id = $node->safe_psql($db, "SELECT id FROM perfopt_recommendations WHERE setting = 'work_mem'");
$node->safe_psql($db, "SELECT perfopt_dismiss_recommendation($id)");
$node->safe_psql($db, 'SELECT perfopt_advise()');
is($node->safe_psql($db, "SELECT status FROM perfopt_recommendations WHERE setting = 'work_mem'"), 'dismissed',
	'a dismissed configuration advice stays dismissed');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
$node->stop;
done_testing();
