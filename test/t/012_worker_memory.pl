# 012_worker_memory.pl — the worker's memory stays flat: after a warm-up,
# a hundred more samples at 100 ms (with history writes, alert
# evaluation and an open alert) must not grow its memory contexts by
# more than 1 MB.  Read with pg_log_backend_memory_contexts(), whose
# "Grand total" line the worker logs; a size check, not a timing one.
# (A leak of one palloc per sample in the alert evaluation once grew
# the worker by 250 kB per sample.)
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('worker_memory', interval => 100, history_interval => 1);
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
# an alert that stays open: it is re-evaluated and rewritten every sample
$node->safe_psql('postgres', q{SELECT perfopt_set_thresholds('{"cpu": {"warning": 0}}')});
my $pid = perfopt_status($node)->{worker_pid};
ok($pid, "the worker runs ($pid)");

# the worker's total, as it logs it
sub worker_total
{
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	$node->wait_for_log(qr/\[$pid\] .*Grand total: \d+ bytes/, $offset);
	my ($bytes) = log_since($node, $offset) =~ /\[$pid\] .*Grand total: (\d+) bytes/;
	return $bytes;
}

ok(defined wait_for_samples($node, 30), 'warm-up: 30 samples');
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM perfopt_alerts WHERE metric = 'cpu' AND state = 'open'"),
	'the cpu alert is open');
my $before = worker_total();
my $taken = samples_taken($node);
ok(defined wait_for_samples($node, $taken + 100), '100 more samples');
my $after = worker_total();
note "worker memory: $before bytes after the warm-up, $after bytes 100 samples later";
cmp_ok($after - $before, '<', 1024 * 1024,
	"the worker's memory contexts grew by less than 1 MB over 100 samples ($before -> $after bytes)");
is(perfopt_status($node)->{worker_pid}, $pid, 'the same worker throughout');

$node->stop;
done_testing();
