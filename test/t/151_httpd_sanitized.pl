# 151_httpd_sanitized.pl — 150_httpd.pl again, against perfopt-httpd
# built with -fsanitize=address,undefined (make perfopt-httpd-asan): any
# report aborts the shim, and the test fails.  Leaks are valgrind's job
# (the process keeps its configuration until exit on purpose).
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $top;

BEGIN
{
	$top = $ENV{PERFOPT_TOP} // abs_path(dirname(__FILE__) . '/../..');
	$ENV{PERFOPT_HTTPD} = "$top/perfopt-httpd-asan";
	$ENV{ASAN_OPTIONS} = 'detect_leaks=0:abort_on_error=1';
	$ENV{UBSAN_OPTIONS} = 'print_stacktrace=1:halt_on_error=1';
}

# loaded here, at compile time, as 150_httpd.pl would
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

die "no $ENV{PERFOPT_HTTPD}: make perfopt-httpd-asan" unless -x $ENV{PERFOPT_HTTPD};
do "$top/test/t/150_httpd.pl";
die $@ if $@;
