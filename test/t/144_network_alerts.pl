# 144_network_alerts.pl — network thresholds: off by default (a busy
# interface opens nothing), then set for the receive rate: an alert opens
# for it and none for the transmit rate, which stays off.  The interface is
# a net/dev file of the test's own under perfopt.procfs_path, its receive
# counter growing by 10 MB every 200 ms.
use strict;
use warnings;

use File::Copy qw(copy);
use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $dir = PostgreSQL::Test::Utils::tempdir('procfs');
symlink('/proc/stat', "$dir/stat") or die "symlink: $!";
copy($_, "$dir/" . (split m{/}, $_)[-1]) or die "copy $_: $!" for ('/proc/loadavg', '/proc/meminfo');
mkdir "$dir/net" or die;
chmod 0755, $dir, "$dir/net";
my $rx = 1_000_000;
sub write_netdev
{
	open my $fh, '>', "$dir/net/dev.tmp" or die;
	print $fh "Inter-|   Receive                                                |  Transmit\n"
	  . " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	  . "    lo: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0\n"
	  . "  eth0: $rx 100 0 0 0 0 0 0 2000 10 0 0 0 0 0 0\n";
	close $fh;
	chmod 0644, "$dir/net/dev.tmp";
	rename "$dir/net/dev.tmp", "$dir/net/dev" or die;
}
write_netdev();

my $node = perfopt_node('network', interval => 200, history_interval => 1,
	conf => "perfopt.procfs_path = '$dir'\nperfopt.alert_sustained_samples = 2\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
is( $node->safe_psql('postgres', "SELECT perfopt_thresholds()->'network'"),
	'{"receiveBytesPerSecond": {"warning": null, "critical": null}, "transmitBytesPerSecond": {"warning": null, "critical": null}}',
	'network thresholds are off by default');

# 10 MB per 200 ms: about 50 MB/s received
sub traffic
{
	my ($seconds) = @_;
	for (1 .. $seconds * 5)
	{
		$rx += 10_000_000;
		write_netdev();
		usleep(200_000);
	}
}
# (the rate of the last sample: on a busy machine that sample may have
# seen no write since the one before; traffic again until one has)
my $rate = 'f';
for (1 .. 10)
{
	traffic(1);
	$rate = $node->safe_psql('postgres',
		"SELECT (perfopt_metrics()->'system'->>'network_rx_bytes_per_second')::float8 > 1e7");
	last if $rate eq 't';
}
is($rate, 't', 'the receive rate is sampled from the file');
is($node->safe_psql('postgres', "SELECT count(*) FROM perfopt_alerts WHERE type = 'network'"),
	'0', 'while off, no network alert');

$node->safe_psql('postgres',
	q{SELECT perfopt_set_thresholds('{"network": {"receiveBytesPerSecond": {"warning": 1000000, "critical": 1000000000}}}')});
traffic(3);
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM perfopt_alerts WHERE metric = 'network.receiveBytesPerSecond'"
		  . " AND subject = 'host' AND state = 'open' AND severity IN ('medium', 'high')"),
	'a receive-rate alert opens past its warning');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM perfopt_alerts WHERE metric = 'network.transmitBytesPerSecond'"),
	'0', 'the transmit rate, still off, opens nothing');
like($node->safe_psql('postgres',
		"SELECT message FROM perfopt_alerts WHERE metric = 'network.receiveBytesPerSecond'"),
	qr/B\/s, above its warning threshold 1e\+06 B\/s|B\/s, above its warning threshold 1000000 B\/s/, 'its message names the rate');
$node->stop;
done_testing();
