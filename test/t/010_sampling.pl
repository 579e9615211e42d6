# 010_sampling.pl — the worker samples on schedule, writes history rows,
# and follows perfopt.monitoring_interval and
# perfopt.enable_performance_monitoring on reload, without a restart.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Scalar::Util qw(looks_like_number);
use Test::More;
use Time::HiRes qw(time usleep);

my $node = perfopt_node('sampling', interval => 1000, history_interval => 1);
$node->start;

my $t0 = time;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
ok(defined wait_for_samples($node, 1), 'a first sample is taken');
# for information only: wall time on a shared machine is no assertion
note sprintf('the first sample came %.1f s after CREATE EXTENSION', time - $t0);

# the worker: one, named, in perfopt.database
my $st = perfopt_status($node);
my ($pid, $appname, $datname) = split /\|/,
  $node->safe_psql('postgres',
	"SELECT pid, application_name, datname FROM pg_stat_activity WHERE backend_type = 'perfopt worker'"
  );
is($st->{worker_pid}, $pid, 'status worker_pid is the perfopt worker backend');
is($appname, 'perfopt worker', 'worker application_name');
is($datname, 'postgres', 'worker connected to perfopt.database');
like(slurp_file($node->logfile), qr/perfopt worker started in database "postgres"/,
	'worker start is logged');

# status
is($st->{version}, '1.1', 'status version');
ok($st->{monitoring}{enabled}, 'monitoring enabled');
ok($st->{monitoring}{enabled_by_configuration}, 'enabled by configuration');
is($st->{monitoring}{interval_ms}, 1000, 'interval_ms from the configuration');
is($st->{monitoring}{interval_source}, 'perfopt.monitoring_interval', 'interval source');
ok(!$st->{is_standby}, 'not a standby');
cmp_ok($st->{samples_taken}, '>=', 1, 'samples_taken counts');
cmp_ok($st->{samples_in_ring}, '>=', 1, 'samples_in_ring counts');
is($st->{ring_size}, 720, 'default ring size');
ok(defined $st->{last_sample_at}, 'last_sample_at set');
is($st->{latest}{sampled_at}, $st->{last_sample_at}, 'latest is the last sample');
is($st->{history}{database}, 'postgres', 'history database');
is($st->{history}{interval_seconds}, 1, 'history interval');

# the metrics document carries real values
my $m = query_json($node, 'postgres', 'SELECT perfopt_metrics()');
ok(!$m->{is_standby}, 'metrics: not a standby');
cmp_ok($m->{interval_seconds}, '>=', 0.99, 'metrics: interval_seconds spans one interval');
for my $k (qw(cpu_busy_pct memory_used_pct data_disk_used_pct))
{
	my $v = $m->{system}{$k};
	ok(defined $v && looks_like_number($v) && $v >= 0 && $v <= 100,
		"metrics: system.$k is a percentage (" . ($v // 'null') . ')');
}
cmp_ok($m->{system}{cpu_count}, '>=', 1, 'metrics: cpu_count');
cmp_ok($m->{server}{connections_available}, '>', 0, 'metrics: connections_available');
ok(looks_like_number($m->{server}{pool_utilization_pct} // 'x'),
	'metrics: pool_utilization_pct is a number');
ok((grep { $_->{datname} eq 'postgres' } @{ $m->{databases} }),
	'metrics: databases lists postgres');

# history rows
ok( $node->poll_query_until('postgres',
		'SELECT count(*) >= 2 FROM perfopt_samples'),
	'rows are written to perfopt_samples');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FILTER (WHERE is_standby OR cpu_busy_pct IS NULL
		     OR connections_total IS NULL
		     OR NOT databases @> '[{"datname": "postgres"}]')
		  FROM perfopt_samples}),
	'0',
	'history rows are primary rows with values and per-database entries');

# a reload that changes perfopt.monitoring_interval takes effect
$node->safe_psql('postgres',
	"ALTER SYSTEM SET perfopt.monitoring_interval = 200; SELECT pg_reload_conf()");
ok( $node->poll_query_until('postgres',
		"SELECT (perfopt_status()->'monitoring'->>'interval_ms')::int = 200"),
	'status shows the reloaded interval');
my $base = samples_taken($node);
my $grow = wait_for_samples($node, $base + 5);
ok(defined $grow, 'samples keep coming after the reload');
cmp_ok($grow // 99, '<=', 4, "five samples at 200 ms within 4 s (took " . ($grow // 'forever') . ' s)');
my ($min_iv, $avg_iv) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT min(interval_seconds), avg(interval_seconds) FROM (SELECT interval_seconds FROM perfopt_recent_samples ORDER BY sampled_at DESC LIMIT 4) s'
  );
cmp_ok($min_iv, '>=', 0.1995, "no sample earlier than the new interval ($min_iv s)");
cmp_ok($avg_iv, '<', 0.5, "the worker samples every 200 ms now (avg $avg_iv s)");

# perfopt.enable_performance_monitoring = off stops sampling
$node->safe_psql('postgres',
	"ALTER SYSTEM SET perfopt.enable_performance_monitoring = off; SELECT pg_reload_conf()");
ok( $node->poll_query_until('postgres',
		"SELECT NOT (perfopt_status()->'monitoring'->>'enabled')::bool AND NOT (perfopt_status()->'monitoring'->>'enabled_by_configuration')::bool"
	),
	'status shows monitoring disabled by configuration');
my $flat = wait_until_flat($node, 0.6);
ok(defined $flat, 'sampling stops');
usleep(1_100_000);
is(samples_taken($node), $flat, 'samples_taken stays flat over 1 s while disabled');

# ... and on resumes it
$node->safe_psql('postgres',
	"ALTER SYSTEM SET perfopt.enable_performance_monitoring = on; SELECT pg_reload_conf()");
ok(defined wait_for_samples($node, $flat + 3), 'sampling resumes when re-enabled');
ok(perfopt_status($node)->{monitoring}{enabled}, 'status shows monitoring enabled again');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');

$node->stop;
done_testing();
