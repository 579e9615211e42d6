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
  wait_for_samples
  wait_until_flat
  log_since
  log_count
  perfopt_problem_lines
  run_statements
  advisor_recommendations
  index_shape
  plan_index_names
  plan_total_cost
  generic_plan
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
# INCLUDE columns follow as " INCLUDE (a, b)".  Accepts a definition, a
# CREATE INDEX statement or pg_get_indexdef() output.
sub index_shape
{
	my ($def) = @_;
	$def =~ s/^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:\S+\s+)?(?=ON\s)//i;
	$def =~ /^ON\s+(?:ONLY\s+)?(?:\S+\.)?("?[^\s"]+"?)\s+USING\s+(\w+)\s*\((.*)$/si
	  or return $def;
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
	return $shape;
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

1;
