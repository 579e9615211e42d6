# 070_not_preloaded.pl — without perfopt in shared_preload_libraries,
# CREATE EXTENSION and LOAD fail with a clear message and a hint, and the
# server stays up.
use strict;
use warnings;

use PerfoptTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = perfopt_node('nopreload', preload => 'pg_stat_statements');
$node->start;
my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

my $msg = qr/ERROR:  perfopt can only be loaded via shared_preload_libraries/;
my $hint = qr/HINT:  .*shared_preload_libraries/;

my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION perfopt CASCADE');
isnt($ret, 0, 'CREATE EXTENSION perfopt CASCADE fails');
like($err, $msg, 'CREATE EXTENSION: the message');
like($err, $hint, 'CREATE EXTENSION: the hint mentions shared_preload_libraries');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_extension WHERE extname IN ('perfopt', 'pg_stat_statements')"),
	'0',
	'CREATE EXTENSION left nothing behind (CASCADE rolled back too)');

# twice in one session: a failed load must not leave a half-loaded library
($ret, $out, $err) = $node->psql('postgres', "LOAD 'perfopt';\nLOAD 'perfopt';\nSELECT 'alive'",
	on_error_stop => 0);
like($err, $msg, 'LOAD: the message');
like($err, $hint, 'LOAD: the hint mentions shared_preload_libraries');
is(scalar(() = $err =~ /$msg/g), 2, 'LOAD fails again when repeated in the same session');
is($out, 'alive', 'the session survives the failed LOAD');

($ret, $out, $err) = $node->psql('postgres',
	"LOAD 'perfopt';\nCREATE EXTENSION perfopt CASCADE", on_error_stop => 0);
is(scalar(() = $err =~ /$msg/g), 2, 'CREATE EXTENSION after a failed LOAD fails the same way');

# the server is still up, not restarted
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server answers');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$started, 'server was not restarted');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'perfopt worker'"),
	'0',
	'no perfopt worker');
unlike(log_since($node), qr/terminated by signal|PANIC:|server process .* exited/,
	'no backend crashed');

$node->stop;
done_testing();
