# 152_httpd_valgrind.pl — 150_httpd.pl again, with perfopt-httpd under
# valgrind --leak-check=full: every shim the test starts exits through
# SIGTERM, and valgrind turns a definite leak or a memory error into exit
# status 99, which 150's "SIGTERM, exit 0" checks then report.  The
# valgrind logs are kept next to the test's logs and checked here too.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);

my ($top, $vgdir);

BEGIN
{
	$top = $ENV{PERFOPT_TOP} // abs_path(dirname(__FILE__) . '/../..');
	$vgdir = tempdir('perfopt_valgrind_XXXX', TMPDIR => 1, CLEANUP => 1);
	my $bin = `pg_config --bindir`;
	chomp $bin;
	open(my $fh, '>', "$vgdir/perfopt-httpd") or die;
	# exec: signals reach valgrind, which passes them to the shim
	print $fh "#!/bin/sh\nexec valgrind -q --leak-check=full --errors-for-leak-kinds=definite "
	  . "--error-exitcode=99 --log-file=$vgdir/vg.%p.log $bin/perfopt-httpd \"\$@\"\n";
	close $fh;
	chmod 0755, "$vgdir/perfopt-httpd";
	$ENV{PERFOPT_HTTPD} = "$vgdir/perfopt-httpd";
}

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

if (system('valgrind --version >/dev/null 2>&1') != 0)
{
	plan skip_all => 'valgrind is not installed';
}
do "$top/test/t/150_httpd.pl";
die $@ if $@;
