# 141_score.pl — the performance score: building the indexes a workload
# needs raises the database sub-score (pending recommendations no longer
# weigh on it); perfopt_optimize() reports the score before it ran;
# setting thresholds and an open critical alert move the monitoring part.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $node = perfopt_node('score', interval => 300,
	conf => "perfopt.advisor_interval = 0\nperfopt.min_table_size = '256kB'\npg_stat_statements.track = top\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION perfopt CASCADE');
$node->safe_psql($db, lookup_table_sql('t', 200_000));
$node->safe_psql($db, 'SELECT pg_stat_statements_reset()');
run_lookups($node, $db, 't', 'k', 30);

sub score { return query_json($node, $db, 'SELECT perfopt_score()') }

$node->safe_psql($db, 'SELECT perfopt_advise()');
my $before = score();
my $recs = $before->{database}{components}{index_recommendations};
note explain $before;
ok(defined $recs->{score}, 'the pending recommendations are scored');
cmp_ok($recs->{score}, '<', 100, "a workload without its index: index_recommendations $recs->{score}");
cmp_ok($recs->{value}, '>', 0, "they would save $recs->{value}% of the workload's time");
is($before->{database}{weight_percent}, 40, 'database weighs 40%');
is($before->{api}{weight_percent}, 35, 'api 35%');
is($before->{monitoring}{weight_percent}, 25, 'monitoring 25%');
ok($before->{score} >= 0 && $before->{score} <= 100, "overall $before->{score}");

# build the recommendations, as perfopt_optimize() does
my $report = query_json($node, $db, 'SELECT perfopt_optimize()');
ok(defined $report->{score_before}{score}, 'perfopt_optimize() reports the score before the run');
my @jobs = map { $_->{job_id} } grep { $_->{kind} eq 'create_index' } @{ $report->{actions} };
ok(@jobs, 'it queues the build');
ok(wait_for_job($node, $db, $_, "state = 'succeeded'"), "job $_ succeeded") for @jobs;
run_lookups($node, $db, 't', 'k', 30);
$node->safe_psql($db, 'SELECT perfopt_advise()');
my $after = score();
note explain $after;
is($after->{database}{components}{index_recommendations}{score}, 100,
	'with the index built: nothing pending');
cmp_ok($after->{database}{score}, '>', $before->{database}{score},
	"the database sub-score rises: $before->{database}{score} -> $after->{database}{score}");

# monitoring: thresholds set, an open critical alert
is($after->{monitoring}{components}{thresholds_set}{score}, 50, 'default thresholds: 50');
$node->safe_psql($db, q{SELECT perfopt_set_thresholds('{"memory": {"warning": 0.1, "critical": 0.2}}')});
ok($node->poll_query_until($db, "SELECT count(*) > 0 FROM perfopt_alerts WHERE severity = 'critical' AND state = 'open'"),
	'a critical alert is open');
my $alerting = score();
is($alerting->{monitoring}{components}{thresholds_set}{score}, 100, 'thresholds set: 100');
is($alerting->{monitoring}{components}{no_open_critical_alert}{score}, 0, 'an open critical alert: 0');
is($alerting->{monitoring}{components}{monitoring_on}{score}, 100, 'monitoring on: 100');
is($alerting->{monitoring}{components}{sampling_on_time}{score}, 100, 'sampling on time: 100');
my $status = perfopt_status($node);
ok(defined $status->{score}{score}, 'perfopt_status() carries the score');
ok(exists $status->{score}{api}{components}{under_200ms}, 'with its breakdown');

is(join("\n", perfopt_problem_lines($node)), '', 'no perfopt errors in the log');
$node->stop;
done_testing();
