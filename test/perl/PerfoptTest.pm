# PerfoptTest.pm — small helpers shared by perfopt's TAP tests (test/t/).
#
# Builds nodes with perfopt preloaded and short intervals, reads perfopt's
# JSON answers, waits for samples, and inspects the server log.  Only
# helpers: every assertion is made in the test files.
package PerfoptTest;

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path);
use JSON::PP ();

# PostgreSQL::Test::Utils creates $TESTDIR/tmp_check with a plain mkdir in
# its INIT block, so $TESTDIR itself must exist; this BEGIN runs before it.
BEGIN { make_path($ENV{TESTDIR}) if $ENV{TESTDIR} && !-d $ENV{TESTDIR}; }
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT = qw(
  perfopt_node
  query_json
  perfopt_status
  samples_taken
  poll_until
  wait_for_samples
  wait_until_flat
  log_since
  log_count
  perfopt_problem_lines
);

# Limit for every wait: a failing wait should fail the test, not hang it.
our $WAIT_SECONDS = 60;

# A node (not started) with perfopt preloaded and short intervals.
#   interval          perfopt.monitoring_interval in ms (default 200)
#   history_interval  perfopt.history_interval in s (default 1)
#   preload           shared_preload_libraries (default pg_stat_statements,perfopt)
#   allows_streaming  passed to init
#   conf              extra postgresql.conf text
sub perfopt_node
{
	my ($name, %p) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	# UTF8 so that non-ASCII database names are valid label values
	$node->init(
		allows_streaming => $p{allows_streaming} // 0,
		extra => [ '--encoding=UTF8', '--locale=C' ]);

	my $preload = $p{preload} // 'pg_stat_statements,perfopt';
	my $conf = "shared_preload_libraries = '$preload'\n";
	if ($preload =~ /perfopt/)
	{
		$conf .= "perfopt.monitoring_interval = " . ($p{interval} // 200) . "\n";
		$conf .= "perfopt.history_interval = " . ($p{history_interval} // 1) . "\n";
	}
	$conf .= $p{conf} if defined $p{conf};
	$node->append_conf('postgresql.conf', $conf);
	return $node;
}

# Run a query that returns one jsonb value and decode it.
sub query_json
{
	my ($node, $db, $sql) = @_;
	my $out = $node->safe_psql($db, $sql);
	return JSON::PP::decode_json($out);
}

sub perfopt_status
{
	my ($node, $db) = @_;
	return query_json($node, $db // 'postgres', 'SELECT perfopt_status()');
}

sub samples_taken
{
	my ($node, $db) = @_;
	return $node->safe_psql($db // 'postgres',
		"SELECT (perfopt_status()->>'samples_taken')::bigint");
}

# Call $check every 100 ms until it returns true or $timeout seconds pass.
# Returns the elapsed seconds on success, undef on timeout.
sub poll_until
{
	my ($check, $timeout) = @_;
	$timeout //= $WAIT_SECONDS;
	my $start = time;
	while (1)
	{
		return time - $start if $check->();
		return undef if time - $start > $timeout;
		usleep(100_000);
	}
}

# Wait until samples_taken reaches $n; returns the elapsed seconds or undef.
sub wait_for_samples
{
	my ($node, $n, $db, $timeout) = @_;
	return poll_until(sub { samples_taken($node, $db) >= $n }, $timeout);
}

# Wait until samples_taken stays the same over $window seconds (the worker
# has stopped sampling); returns the settled value or undef on timeout.
sub wait_until_flat
{
	my ($node, $window, $db) = @_;
	my $settled;
	my $ok = poll_until(
		sub {
			my $a = samples_taken($node, $db);
			usleep($window * 1_000_000);
			my $b = samples_taken($node, $db);
			$settled = $b;
			return $a == $b;
		});
	return defined $ok ? $settled : undef;
}

# The server log from byte $offset on.
sub log_since
{
	my ($node, $offset) = @_;
	return slurp_file($node->logfile, $offset // 0);
}

# Lines of the log (from $offset) that match $re.
sub log_count
{
	my ($node, $re, $offset) = @_;
	my @lines = grep { /$re/ } split /\n/, log_since($node, $offset);
	return scalar @lines;
}

# Log lines that show a problem in perfopt: WARNING/ERROR/FATAL/PANIC lines
# of a perfopt worker process (its pids are read from the log), other
# ERROR/FATAL/PANIC lines that mention perfopt or whose statement does,
# perfopt's own "... failed" reports, a worker exiting with a non-zero code,
# and any crash.  Lines matching one of @$expected are left out.
sub perfopt_problem_lines
{
	my ($node, $offset, $expected) = @_;
	my @lines = split /\n/, log_since($node, $offset);
	my %worker_pid;
	for (@lines)
	{
		$worker_pid{$1} = 1 if /\[(\d+)\] LOG:  perfopt worker started/;
		$worker_pid{$1} = 1 if /background worker "perfopt worker" \(PID (\d+)\)/;
	}
	my @bad;
	for my $i (0 .. $#lines)
	{
		my $l = $lines[$i];
		my $problem = 0;
		if ($l =~ /\[(\d+)\] .*?\b(?:WARNING|ERROR|FATAL|PANIC):/)
		{
			$problem = 1 if $worker_pid{$1};
		}
		if ($l =~ /\b(?:ERROR|FATAL|PANIC):/)
		{
			$problem = 1 if $l =~ /perfopt/;
			$problem = 1
			  if $i < $#lines
			  && $lines[ $i + 1 ] =~ /\bSTATEMENT:.*perfopt/;
		}
		$problem = 1 if $l =~ /perfopt: [\w ]+ failed/;
		$problem = 1 if $l =~ /background worker "perfopt worker" .* exited with exit code [1-9]/;
		$problem = 1 if $l =~ /\bPANIC:|TRAP:|terminated by signal/;
		next unless $problem;
		next if grep { $l =~ $_ } @{ $expected // [] };
		push @bad, $l;
	}
	return @bad;
}

1;
