/*-------------------------------------------------------------------------
 *
 * test_procstats.c
 *	  self-contained unit tests for src/common/procstats.c.
 *
 * owns: exercising every procstats function with good and bad input, using
 * the text fixtures in test/unit/fixtures, inline strings, a temporary
 * cgroup-like directory tree under /tmp and, once, this machine's real
 * /proc and "/".
 * may not: include postgresql headers, need a test framework, or leave
 * anything behind (every file it creates is recorded and removed).
 *
 * usage: test_procstats [fixture-dir]	(default "fixtures", i.e. run from
 * test/unit, as "make check" does).  prints exactly one line
 * "N passed, M failed" on stdout; failures go to stderr as file:line.
 *
 * test/unit/test_procstats.c
 *
 *-------------------------------------------------------------------------
 */
#include "procstats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "check.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static const char *fixture_dir = "fixtures";

/* scratch space for file contents; big enough for /proc/stat on most hosts */
static char bigbuf[256 * 1024];

/*
 * every file and directory created under the temporary tree is recorded so
 * that cleanup removes exactly those, deepest first, and nothing else.
 */
#define MAX_CREATED 128
static char created[MAX_CREATED][PATH_MAX];
static int	n_created = 0;
static char tmproot[PATH_MAX];

static bool
near(double a, double b)
{
	double		d = a - b;

	return d < 1e-9 && d > -1e-9;
}

static void
record_created(const char *path)
{
	if (n_created >= MAX_CREATED)
	{
		fprintf(stderr, "too many temporary files\n");
		exit(2);
	}
	snprintf(created[n_created++], PATH_MAX, "%s", path);
}

/* path of rel inside the temporary tree; exits on overflow (test bug) */
static const char *
tmp_path(const char *rel, char *buf, size_t bufsize)
{
	int			n = snprintf(buf, bufsize, "%s/%s", tmproot, rel);

	if (n < 0 || (size_t) n >= bufsize)
	{
		fprintf(stderr, "temporary path too long\n");
		exit(2);
	}
	return buf;
}

static void
make_dir(const char *rel)
{
	char		path[PATH_MAX];

	tmp_path(rel, path, sizeof(path));
	if (mkdir(path, 0700) != 0)
	{
		fprintf(stderr, "mkdir %s: %s\n", path, strerror(errno));
		exit(2);
	}
	record_created(path);
}

/* write content to rel; a file written twice is recorded only once */
static void
write_file(const char *rel, const char *content)
{
	char		path[PATH_MAX];
	FILE	   *f;
	bool		existed;
	int			i;

	tmp_path(rel, path, sizeof(path));
	existed = false;
	for (i = 0; i < n_created; i++)
		if (strcmp(created[i], path) == 0)
			existed = true;

	f = fopen(path, "w");
	if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0)
	{
		fprintf(stderr, "write %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (!existed)
		record_created(path);
}

static void
remove_file(const char *rel)
{
	char		path[PATH_MAX];
	int			i;

	tmp_path(rel, path, sizeof(path));
	if (unlink(path) != 0)
	{
		fprintf(stderr, "unlink %s: %s\n", path, strerror(errno));
		exit(2);
	}
	for (i = 0; i < n_created; i++)
		if (strcmp(created[i], path) == 0)
			created[i][0] = '\0';
}

static void
cleanup_tmp(void)
{
	int			i;

	for (i = n_created - 1; i >= 0; i--)
	{
		struct stat st;

		if (created[i][0] == '\0')
			continue;
		if (lstat(created[i], &st) == 0 && S_ISDIR(st.st_mode))
			rmdir(created[i]);
		else
			unlink(created[i]);
	}
	n_created = 0;
	if (tmproot[0] != '\0')
		rmdir(tmproot);
	tmproot[0] = '\0';
}

static const char *
fixture(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
	return path;
}

/* ---------------------------------------------------------------------- */

static void
test_read_file(void)
{
	char		small[16];
	char		path[PATH_MAX];
	long		n;

	/* a real fixture is read whole and NUL-terminated */
	n = procstats_read_file(fixture("loadavg.txt"), bigbuf, sizeof(bigbuf));
	CHECK(n == 28);
	CHECK(n >= 0 && (size_t) n == strlen(bigbuf));
	CHECK(strcmp(bigbuf, "0.52 0.58 0.59 2/1204 29812\n") == 0);

	/* exact fit: 10 bytes need 11 bytes of buffer */
	write_file("ten", "0123456789");
	tmp_path("ten", path, sizeof(path));
	n = procstats_read_file(path, small, 11);
	CHECK(n == 10);
	CHECK(strcmp(small, "0123456789") == 0);

	/* one byte short is truncation, which is an error */
	strcpy(small, "sentinel");
	errno = 0;
	n = procstats_read_file(path, small, 10);
	CHECK(n == -1);
	CHECK(errno == EFBIG);
	CHECK(small[0] == '\0');

	n = procstats_read_file(path, small, 1);
	CHECK(n == -1);

	/* empty file */
	write_file("empty", "");
	tmp_path("empty", path, sizeof(path));
	n = procstats_read_file(path, small, sizeof(small));
	CHECK(n == 0);
	CHECK(small[0] == '\0');
	n = procstats_read_file(path, small, 1);
	CHECK(n == 0);

	/* missing file */
	tmp_path("does-not-exist", path, sizeof(path));
	errno = 0;
	n = procstats_read_file(path, small, sizeof(small));
	CHECK(n == -1);
	CHECK(errno == ENOENT);
	CHECK(small[0] == '\0');

	/* a directory is not a file */
	n = procstats_read_file(tmproot, small, sizeof(small));
	CHECK(n == -1);

	/* a fifo with no writer must neither block nor be read */
	tmp_path("fifo", path, sizeof(path));
	if (mkfifo(path, 0600) == 0)
	{
		record_created(path);
		n = procstats_read_file(path, small, sizeof(small));
		CHECK(n == -1);
	}
	else
		CHECK(!"mkfifo failed");

	/* bad arguments */
	CHECK(procstats_read_file(NULL, small, sizeof(small)) == -1);
	CHECK(procstats_read_file("", small, sizeof(small)) == -1);
	CHECK(procstats_read_file(fixture("loadavg.txt"), NULL, 10) == -1);
	CHECK(procstats_read_file(fixture("loadavg.txt"), small, 0) == -1);
}

static void
test_read_file_head(void)
{
	char		buf[32];
	char		path[PATH_MAX];
	long		n;

	write_file("lines", "line one\nline two\nline three\n");
	tmp_path("lines", path, sizeof(path));

	/* fits: returned whole */
	n = procstats_read_file_head(path, buf, sizeof(buf));
	CHECK(n == 29);
	CHECK(strcmp(buf, "line one\nline two\nline three\n") == 0);

	/* does not fit: cut back to the last complete line */
	n = procstats_read_file_head(path, buf, 24);
	CHECK(n == 18);
	CHECK(strcmp(buf, "line one\nline two\n") == 0);

	/* exactly one complete line fits */
	n = procstats_read_file_head(path, buf, 10);
	CHECK(n == 9);
	CHECK(strcmp(buf, "line one\n") == 0);

	/* not even the first line fits */
	strcpy(buf, "sentinel");
	n = procstats_read_file_head(path, buf, 9);
	CHECK(n == -1);
	CHECK(buf[0] == '\0');

	/* a file without a newline that fits is fine */
	write_file("noeol", "abc");
	tmp_path("noeol", path, sizeof(path));
	n = procstats_read_file_head(path, buf, sizeof(buf));
	CHECK(n == 3);

	CHECK(procstats_read_file_head(NULL, buf, sizeof(buf)) == -1);
	tmp_path("does-not-exist", path, sizeof(path));
	CHECK(procstats_read_file_head(path, buf, sizeof(buf)) == -1);
}

/* ---------------------------------------------------------------------- */

static bool
cpu_equal(const ProcCpuTimes *t, uint64_t user, uint64_t nice, uint64_t system,
		  uint64_t idle, uint64_t iowait, uint64_t irq, uint64_t softirq,
		  uint64_t steal)
{
	return t->user == user && t->nice == nice && t->system == system &&
		t->idle == idle && t->iowait == iowait && t->irq == irq &&
		t->softirq == softirq && t->steal == steal;
}

static void
test_parse_cpu(void)
{
	ProcCpuTimes t;
	ProcCpuTimes sentinel;
	size_t		len;
	int			i;

	/* realistic fixture, 10 columns */
	CHECK(procstats_read_file(fixture("proc_stat.txt"), bigbuf, sizeof(bigbuf)) > 0);
	CHECK(procstats_parse_cpu(bigbuf, &t));
	CHECK(cpu_equal(&t, 4705, 150, 1120, 16250, 520, 0, 30, 12));

	/* old kernel: only 4 columns, the rest default to 0 */
	CHECK(procstats_read_file(fixture("proc_stat_old.txt"), bigbuf, sizeof(bigbuf)) > 0);
	CHECK(procstats_parse_cpu(bigbuf, &t));
	CHECK(cpu_equal(&t, 2255, 34, 2290, 22625563, 0, 0, 0, 0));

	/* 7 columns (2.6.0 .. 2.6.10) */
	CHECK(procstats_parse_cpu("cpu 1 2 3 4 5 6 7\n", &t));
	CHECK(cpu_equal(&t, 1, 2, 3, 4, 5, 6, 7, 0));

	/* more columns than we know: validated and ignored */
	CHECK(procstats_parse_cpu("cpu 1 2 3 4 5 6 7 8 9 10 11 12\n", &t));
	CHECK(cpu_equal(&t, 1, 2, 3, 4, 5, 6, 7, 8));

	/* no trailing newline, tabs, CRLF */
	CHECK(procstats_parse_cpu("cpu 1 2 3 4 5 6 7 8", &t));
	CHECK(cpu_equal(&t, 1, 2, 3, 4, 5, 6, 7, 8));
	CHECK(procstats_parse_cpu("cpu\t8\t7 6  5\n", &t));
	CHECK(cpu_equal(&t, 8, 7, 6, 5, 0, 0, 0, 0));
	CHECK(procstats_parse_cpu("cpu  1 2 3 4 5 6 7 8 0 0\r\ncpu0 1 2 3 4 5 6 7 8 0 0\r\n", &t));
	CHECK(cpu_equal(&t, 1, 2, 3, 4, 5, 6, 7, 8));

	/* the largest uint64 is fine, one more overflows */
	CHECK(procstats_parse_cpu("cpu 18446744073709551615 0 0 0\n", &t));
	CHECK(t.user == UINT64_MAX);

	/* the aggregate line need not be first */
	CHECK(procstats_parse_cpu("intr 1 2 3\ncpu 1 2 3 4\n", &t));
	CHECK(cpu_equal(&t, 1, 2, 3, 4, 0, 0, 0, 0));

	/* bad input: false, and the output is untouched */
	memset(&sentinel, 0xA5, sizeof(sentinel));
	t = sentinel;
	CHECK(!procstats_parse_cpu("", &t));
	CHECK(!procstats_parse_cpu("\n\n", &t));
	CHECK(!procstats_parse_cpu("cpu\n", &t));
	CHECK(!procstats_parse_cpu("cpu 1 2 3\n", &t));
	CHECK(!procstats_parse_cpu("cpu  47", &t));
	CHECK(!procstats_parse_cpu("cpu 1 2 x 4\n", &t));
	CHECK(!procstats_parse_cpu("cpu 1 2 3 4abc\n", &t));
	CHECK(!procstats_parse_cpu("cpu 1 2 3 -4\n", &t));
	CHECK(!procstats_parse_cpu("cpu 1 2 3 +4\n", &t));
	CHECK(!procstats_parse_cpu("cpu 1 2 3 4.5\n", &t));
	CHECK(!procstats_parse_cpu("cpu 1 2 3 0x4\n", &t));
	CHECK(!procstats_parse_cpu("cpu 18446744073709551616 0 0 0\n", &t));
	CHECK(!procstats_parse_cpu("cpu 99999999999999999999999999999 0 0 0\n", &t));
	CHECK(!procstats_parse_cpu("cpu0 1 2 3 4 5 6 7 8\n", &t));
	CHECK(!procstats_parse_cpu("cpux 1 2 3 4\n", &t));
	CHECK(!procstats_parse_cpu(" cpu 1 2 3 4\n", &t));
	CHECK(!procstats_parse_cpu("CPU 1 2 3 4\n", &t));
	CHECK(!procstats_parse_cpu("cpu 1 2\n3 4\n", &t));
	CHECK(!procstats_parse_cpu("garbage\x01\x02\xff", &t));
	CHECK(!procstats_parse_cpu(NULL, &t));
	CHECK(!procstats_parse_cpu("cpu 1 2 3 4\n", NULL));
	CHECK(memcmp(&t, &sentinel, sizeof(t)) == 0);

	/* a very long line before the cpu line, and a very long cpu line */
	len = 0;
	for (i = 0; i < 20000; i++)
		len += (size_t) snprintf(bigbuf + len, sizeof(bigbuf) - len, "%d ", i);
	len += (size_t) snprintf(bigbuf + len, sizeof(bigbuf) - len, "\ncpu 9 8 7 6");
	for (i = 0; i < 20000 && len < sizeof(bigbuf) - 16; i++)
		len += (size_t) snprintf(bigbuf + len, sizeof(bigbuf) - len, " %d", i);
	CHECK(procstats_parse_cpu(bigbuf, &t));
	CHECK(cpu_equal(&t, 9, 8, 7, 6, 0, 1, 2, 3));

	/* a very long digit string overflows cleanly */
	len = (size_t) snprintf(bigbuf, sizeof(bigbuf), "cpu ");
	memset(bigbuf + len, '9', 100000);
	strcpy(bigbuf + len + 100000, " 1 2 3\n");
	t = sentinel;
	CHECK(!procstats_parse_cpu(bigbuf, &t));
	CHECK(memcmp(&t, &sentinel, sizeof(t)) == 0);
}

static void
test_cpu_percent(void)
{
	ProcCpuTimes prev = {100, 10, 50, 1000, 20, 5, 5, 0};
	ProcCpuTimes cur;
	ProcCpuPercent pct;

	/* 200 ticks: user 40 nice 10 system 30 idle 80 iowait 20 irq 10 softirq 5 steal 5 */
	cur = prev;
	cur.user += 40;
	cur.nice += 10;
	cur.system += 30;
	cur.idle += 80;
	cur.iowait += 20;
	cur.irq += 10;
	cur.softirq += 5;
	cur.steal += 5;
	procstats_cpu_percent(&prev, &cur, &pct);
	CHECK(near(pct.busy, 50.0));	/* 200 - 80 - 20 = 100 */
	CHECK(near(pct.user, 25.0));	/* 40 + 10 */
	CHECK(near(pct.system, 22.5));	/* 30 + 10 + 5 */
	CHECK(near(pct.iowait, 10.0));

	/* steal alone is busy */
	cur = prev;
	cur.steal += 7;
	procstats_cpu_percent(&prev, &cur, &pct);
	CHECK(near(pct.busy, 100.0));
	CHECK(near(pct.user, 0.0));
	CHECK(near(pct.system, 0.0));
	CHECK(near(pct.iowait, 0.0));

	/* iowait alone is not busy */
	cur = prev;
	cur.iowait += 3;
	procstats_cpu_percent(&prev, &cur, &pct);
	CHECK(near(pct.busy, 0.0));
	CHECK(near(pct.iowait, 100.0));

	/* all idle */
	cur = prev;
	cur.idle += 1;
	procstats_cpu_percent(&prev, &cur, &pct);
	CHECK(near(pct.busy, 0.0));
	CHECK(near(pct.user, 0.0));

	/* no ticks elapsed: NaN */
	procstats_cpu_percent(&prev, &prev, &pct);
	CHECK(isnan(pct.busy) && isnan(pct.user) && isnan(pct.system) &&
		  isnan(pct.iowait));

	/* one counter going backwards poisons the interval */
	cur = prev;
	cur.user += 1000;
	cur.idle -= 1;
	procstats_cpu_percent(&prev, &cur, &pct);
	CHECK(isnan(pct.busy) && isnan(pct.user) && isnan(pct.system) &&
		  isnan(pct.iowait));
	cur = prev;
	cur.user += 1000;
	cur.steal = 0;
	prev.steal = 1;
	procstats_cpu_percent(&prev, &cur, &pct);
	CHECK(isnan(pct.busy));
	prev.steal = 0;

	/* swapped readings */
	cur = prev;
	cur.user += 5;
	procstats_cpu_percent(&cur, &prev, &pct);
	CHECK(isnan(pct.busy));

	/* deltas whose sum overflows uint64 */
	{
		ProcCpuTimes z = {0, 0, 0, 0, 0, 0, 0, 0};
		ProcCpuTimes h = {UINT64_MAX, 0, 0, UINT64_MAX, 0, 0, 0, 0};

		procstats_cpu_percent(&z, &h, &pct);
		CHECK(isnan(pct.busy));
	}

	/* NULL arguments */
	pct.busy = 1.0;
	procstats_cpu_percent(NULL, &cur, &pct);
	CHECK(isnan(pct.busy));
	pct.busy = 1.0;
	procstats_cpu_percent(&prev, NULL, &pct);
	CHECK(isnan(pct.busy));
	procstats_cpu_percent(&prev, &cur, NULL);
	CHECK(true);					/* did not crash */
}

/* ---------------------------------------------------------------------- */

static void
test_parse_meminfo(void)
{
	uint64_t	total = 1;
	uint64_t	avail = 2;

	CHECK(procstats_read_file(fixture("meminfo.txt"), bigbuf, sizeof(bigbuf)) > 0);
	CHECK(procstats_parse_meminfo(bigbuf, &total, &avail));
	CHECK(total == UINT64_C(16318480) * 1024);
	CHECK(avail == UINT64_C(11215020) * 1024);

	/* order does not matter, CRLF and missing final newline are fine */
	CHECK(procstats_parse_meminfo("MemAvailable: 2 kB\r\nMemTotal: 4 kB", &total, &avail));
	CHECK(total == 4096 && avail == 2048);
	CHECK(procstats_parse_meminfo("MemTotal:\t4 kB\nMemAvailable:\t0 kB\n", &total, &avail));
	CHECK(total == 4096 && avail == 0);

	/* first occurrence wins */
	CHECK(procstats_parse_meminfo("MemTotal: 4 kB\nMemAvailable: 1 kB\nMemTotal: 8 kB\n",
								  &total, &avail));
	CHECK(total == 4096);

	/* the largest value that does not overflow when multiplied by 1024 */
	CHECK(procstats_parse_meminfo("MemTotal: 18014398509481983 kB\nMemAvailable: 1 kB\n",
								  &total, &avail));
	CHECK(total == UINT64_C(18014398509481983) * 1024);

	total = 1;
	avail = 2;
	CHECK(!procstats_parse_meminfo("", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: 4 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemAvailable: 4 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: abc kB\nMemAvailable: 1 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: 4\nMemAvailable: 1 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: 4 MB\nMemAvailable: 1 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: 4 kB extra\nMemAvailable: 1 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: -4 kB\nMemAvailable: 1 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: 18014398509481984 kB\nMemAvailable: 1 kB\n",
								   &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: 99999999999999999999999 kB\nMemAvailable: 1 kB\n",
								   &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotalX: 4 kB\nMemAvailable: 1 kB\n", &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTot", &total, &avail));
	CHECK(!procstats_parse_meminfo(NULL, &total, &avail));
	CHECK(!procstats_parse_meminfo("MemTotal: 4 kB\nMemAvailable: 1 kB\n", NULL, &avail));
	CHECK(total == 1 && avail == 2);
}

/* ---------------------------------------------------------------------- */

static void
test_cgroup_memory(void)
{
	char		root[PATH_MAX];
	char		rootslash[PATH_MAX];
	uint64_t	current = 11;
	uint64_t	limit = 22;
	int			i;

	/* a cgroup2-like tree: cg/a/b/c, with "..x" as an odd but legal name */
	make_dir("cg");
	make_dir("cg/a");
	make_dir("cg/a/b");
	make_dir("cg/a/b/c");
	make_dir("cg/a/..x");
	tmp_path("cg", root, sizeof(root));
	if (snprintf(rootslash, sizeof(rootslash), "%s//", root) >= (int) sizeof(rootslash))
		exit(2);

	/* "max" at c and b, a number at a: a wins, current comes from a */
	write_file("cg/a/b/c/memory.max", "max\n");
	write_file("cg/a/b/c/memory.current", "1000\n");
	write_file("cg/a/b/memory.max", "max\n");
	write_file("cg/a/b/memory.current", "2000\n");
	write_file("cg/a/memory.max", "1073741824\n");
	write_file("cg/a/memory.current", "52428800\n");
	CHECK(procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	CHECK(limit == UINT64_C(1073741824) && current == UINT64_C(52428800));

	/* no trailing newline, CRLF, trailing slashes, root with slashes */
	current = limit = 0;
	CHECK(procstats_cgroup_memory(root, "0::/a/b/c", &current, &limit));
	CHECK(limit == UINT64_C(1073741824));
	current = limit = 0;
	CHECK(procstats_cgroup_memory(root, "0::/a/b/c\r\n", &current, &limit));
	CHECK(limit == UINT64_C(1073741824));
	current = limit = 0;
	CHECK(procstats_cgroup_memory(root, "0::/a/b/c//", &current, &limit));
	CHECK(limit == UINT64_C(1073741824));
	current = limit = 0;
	CHECK(procstats_cgroup_memory(rootslash, "0::/a//b/c\n", &current, &limit));
	CHECK(limit == UINT64_C(1073741824) && current == UINT64_C(52428800));

	/* hybrid layout: v1 lines first, then the v2 line */
	current = limit = 0;
	CHECK(procstats_cgroup_memory(root,
								  "12:memory:/x\n1:name=systemd:/x\n0::/a/b/c\n",
								  &current, &limit));
	CHECK(limit == UINT64_C(1073741824));

	/* controller not enabled at c (no files): the walk goes on up */
	remove_file("cg/a/b/c/memory.max");
	remove_file("cg/a/b/c/memory.current");
	current = limit = 0;
	CHECK(procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	CHECK(limit == UINT64_C(1073741824) && current == UINT64_C(52428800));

	/* a looser limit on the leaf does not hide the ancestor's tighter one */
	write_file("cg/a/b/c/memory.max", "2147483648");
	write_file("cg/a/b/c/memory.current", "4096");
	CHECK(procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	CHECK(limit == UINT64_C(1073741824) && current == UINT64_C(52428800));

	/* a tighter limit on the leaf itself binds */
	write_file("cg/a/b/c/memory.max", "536870912");
	write_file("cg/a/b/c/memory.current", "4096");
	CHECK(procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	CHECK(limit == UINT64_C(536870912) && current == 4096);

	/* a component that merely starts with ".." is legal */
	write_file("cg/a/..x/memory.max", "123\n");
	write_file("cg/a/..x/memory.current", "45\n");
	CHECK(procstats_cgroup_memory(root, "0::/a/..x\n", &current, &limit));
	CHECK(limit == 123 && current == 45);

	/* the limit may sit on the root itself, and "0::/" means the root */
	write_file("cg/memory.max", "999\n");
	write_file("cg/memory.current", "9\n");
	CHECK(procstats_cgroup_memory(root, "0::/\n", &current, &limit));
	CHECK(limit == 999 && current == 9);
	remove_file("cg/memory.max");
	remove_file("cg/memory.current");

	/* the fixtures: a systemd service, pure v2 and hybrid layouts */
	make_dir("cg/system.slice");
	make_dir("cg/system.slice/postgresql.service");
	write_file("cg/system.slice/postgresql.service/memory.max", "max\n");
	write_file("cg/system.slice/memory.max", "8589934592\n");
	write_file("cg/system.slice/memory.current", "4294967296\n");
	CHECK(procstats_read_file(fixture("self_cgroup_v2.txt"), bigbuf, sizeof(bigbuf)) > 0);
	current = limit = 0;
	CHECK(procstats_cgroup_memory(root, bigbuf, &current, &limit));
	CHECK(limit == UINT64_C(8589934592) && current == UINT64_C(4294967296));
	CHECK(procstats_read_file(fixture("self_cgroup_hybrid.txt"), bigbuf, sizeof(bigbuf)) > 0);
	current = limit = 0;
	CHECK(procstats_cgroup_memory(root, bigbuf, &current, &limit));
	CHECK(limit == UINT64_C(8589934592) && current == UINT64_C(4294967296));

	/* failures below must leave the outputs alone */
	current = 11;
	limit = 22;

	/* "max" everywhere */
	write_file("cg/a/b/c/memory.max", "max\n");
	write_file("cg/a/memory.max", "max");
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));

	/* ".." components, relative paths, no v2 line */
	write_file("cg/a/memory.max", "1073741824\n");
	CHECK(procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	current = 11;
	limit = 22;
	CHECK(!procstats_cgroup_memory(root, "0::/a/../a/b/c\n", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "0::/..\n", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "0::/../..\n", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c/..", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c/..\r\n", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "0::a/b/c\n", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "0::\n", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "4:memory:/a/b/c\n", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "10::/a/b/c\n", &current, &limit));

	/* missing files everywhere: path that does not exist, or empty root */
	CHECK(!procstats_cgroup_memory(root, "0::/nonexistent/deeper\n", &current, &limit));
	CHECK(!procstats_cgroup_memory("/nonexistent-perfopt-root", "0::/a/b/c\n",
								   &current, &limit));
	CHECK(!procstats_cgroup_memory("", "0::/a/b/c\n", &current, &limit));

	/* garbage in memory.max, or an unreadable memory.current */
	write_file("cg/a/b/c/memory.max", "12abc\n");
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	write_file("cg/a/b/c/memory.max", "-1\n");
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	write_file("cg/a/b/c/memory.max", "");
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	write_file("cg/a/b/c/memory.max",
			   "1234567890123456789012345678901234567890123456789012345678901234567890\n");
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	write_file("cg/a/b/c/memory.max", "1000\n");
	write_file("cg/a/b/c/memory.current", "max\n");
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	remove_file("cg/a/b/c/memory.current");
	CHECK(!procstats_cgroup_memory(root, "0::/a/b/c\n", &current, &limit));
	remove_file("cg/a/b/c/memory.max");

	/* a path longer than PATH_MAX is rejected without overflowing */
	{
		static char longtext[PATH_MAX * 2 + 16];
		size_t		len = (size_t) snprintf(longtext, sizeof(longtext), "0::");

		for (i = 0; len < PATH_MAX + 100; i++)
			len += (size_t) snprintf(longtext + len, sizeof(longtext) - len, "/abcdefgh");
		strcpy(longtext + len, "\n");
		CHECK(!procstats_cgroup_memory(root, longtext, &current, &limit));

		/* and so is a root that alone fills PATH_MAX */
		memset(longtext, 'r', PATH_MAX + 10);
		longtext[0] = '/';
		longtext[PATH_MAX + 10] = '\0';
		CHECK(!procstats_cgroup_memory(longtext, "0::/a\n", &current, &limit));
	}

	CHECK(!procstats_cgroup_memory(NULL, "0::/a\n", &current, &limit));
	CHECK(!procstats_cgroup_memory(root, NULL, &current, &limit));
	CHECK(!procstats_cgroup_memory(root, "0::/a\n", NULL, &limit));
	CHECK(!procstats_cgroup_memory(root, "0::/a\n", &current, NULL));
	CHECK(current == 11 && limit == 22);
}

/* ---------------------------------------------------------------------- */

#define NETDEV_HEADER \
	"Inter-|   Receive                                                |  Transmit\n" \
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

static void
test_parse_netdev(void)
{
	uint64_t	rx = 1;
	uint64_t	tx = 2;

	/* fixture: lo excluded, eth0 in the no-space colon form */
	CHECK(procstats_read_file(fixture("net_dev.txt"), bigbuf, sizeof(bigbuf)) > 0);
	CHECK(procstats_parse_netdev(bigbuf, &rx, &tx));
	CHECK(rx == UINT64_C(123456789) + 1000);
	CHECK(tx == UINT64_C(98765432) + 2000);

	/* only loopback: valid, sums are zero */
	CHECK(procstats_parse_netdev(NETDEV_HEADER
								 "    lo:  100 1 0 0 0 0 0 0  200 2 0 0 0 0 0 0\n",
								 &rx, &tx));
	CHECK(rx == 0 && tx == 0);

	/* names like lo0 or loop are real interfaces; CRLF, no final newline */
	CHECK(procstats_parse_netdev("lo0:1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\r\n"
								 "loop: 3 0 0 0 0 0 0 0 4 0 0 0 0 0 0 0", &rx, &tx));
	CHECK(rx == 4 && tx == 6);

	/* extra columns are tolerated */
	CHECK(procstats_parse_netdev("eth0: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0 0 0\n", &rx, &tx));
	CHECK(rx == 1 && tx == 2);

	rx = 1;
	tx = 2;
	CHECK(!procstats_parse_netdev("", &rx, &tx));
	CHECK(!procstats_parse_netdev(NETDEV_HEADER, &rx, &tx));
	CHECK(!procstats_parse_netdev(NETDEV_HEADER "  eth0: 1 2 3\n", &rx, &tx));
	CHECK(!procstats_parse_netdev(NETDEV_HEADER
								  "  eth0: 1 0 0 0 0 0 0 0 x 0 0 0 0 0 0 0\n", &rx, &tx));
	CHECK(!procstats_parse_netdev(NETDEV_HEADER
								  "  eth0 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n", &rx, &tx));
	CHECK(!procstats_parse_netdev(NETDEV_HEADER
								  "  : 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n", &rx, &tx));
	CHECK(!procstats_parse_netdev(NETDEV_HEADER
								  "  eth0: -1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n", &rx, &tx));
	CHECK(!procstats_parse_netdev(NETDEV_HEADER
								  "  eth0: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n"
								  "garbage\n", &rx, &tx));
	/* truncated in the middle of a line */
	CHECK(!procstats_parse_netdev(NETDEV_HEADER "  eth0: 1 0 0 0 0", &rx, &tx));
	/* overflowing sum */
	CHECK(!procstats_parse_netdev("a: 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
								  "b: 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", &rx, &tx));
	CHECK(!procstats_parse_netdev(NULL, &rx, &tx));
	CHECK(!procstats_parse_netdev("a: 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", NULL, &tx));
	CHECK(rx == 1 && tx == 2);
}

/* ---------------------------------------------------------------------- */

static void
test_parse_loadavg(void)
{
	double		load[3] = {-1, -1, -1};

	CHECK(procstats_read_file(fixture("loadavg.txt"), bigbuf, sizeof(bigbuf)) > 0);
	CHECK(procstats_parse_loadavg(bigbuf, load));
	CHECK(near(load[0], 0.52) && near(load[1], 0.58) && near(load[2], 0.59));

	CHECK(procstats_parse_loadavg("1 2 3", load));
	CHECK(near(load[0], 1.0) && near(load[1], 2.0) && near(load[2], 3.0));
	CHECK(procstats_parse_loadavg("12.50 0.00 100.25 1/1 1\r\n", load));
	CHECK(near(load[0], 12.5) && near(load[1], 0.0) && near(load[2], 100.25));
	CHECK(procstats_parse_loadavg("0.123456789012345678901234567890 1.5 2.5\n", load));
	CHECK(near(load[0], 0.123456789012345678901234567890));

	load[0] = load[1] = load[2] = -1;
	CHECK(!procstats_parse_loadavg("", load));
	CHECK(!procstats_parse_loadavg("abc", load));
	CHECK(!procstats_parse_loadavg("0.5 0.5", load));
	CHECK(!procstats_parse_loadavg("0.5 0.5\n0.5\n", load));
	CHECK(!procstats_parse_loadavg("nan nan nan", load));
	CHECK(!procstats_parse_loadavg("inf 1 1", load));
	CHECK(!procstats_parse_loadavg("-1 0 0", load));
	CHECK(!procstats_parse_loadavg("0.5,0.5,0.5", load));
	CHECK(!procstats_parse_loadavg("0,5 0,5 0,5", load));
	CHECK(!procstats_parse_loadavg("1e3 1 1", load));
	CHECK(!procstats_parse_loadavg("0. 1 1", load));
	CHECK(!procstats_parse_loadavg(".5 1 1", load));
	CHECK(!procstats_parse_loadavg("0x1 1 1", load));
	CHECK(!procstats_parse_loadavg("1 2 3x", load));
	CHECK(!procstats_parse_loadavg("99999999999999999999999 1 1", load));
	CHECK(!procstats_parse_loadavg(NULL, load));
	CHECK(!procstats_parse_loadavg("1 2 3", NULL));
	CHECK(load[0] == -1 && load[1] == -1 && load[2] == -1);
}

/* ---------------------------------------------------------------------- */

static void
test_disk_and_cpu_count(void)
{
	uint64_t	total = 0;
	uint64_t	avail = 0;
	double		pct = -1;
	int			ncpu;

	CHECK(procstats_disk("/", &total, &avail, &pct));
	CHECK(total > 0);
	CHECK(avail <= total);
	CHECK(isnan(pct) || (pct >= 0.0 && pct <= 100.0));

	CHECK(procstats_disk(tmproot, &total, &avail, &pct));

	total = 1;
	avail = 2;
	pct = 3;
	CHECK(!procstats_disk("/nonexistent-perfopt-path/x", &total, &avail, &pct));
	CHECK(!procstats_disk("", &total, &avail, &pct));
	CHECK(!procstats_disk(NULL, &total, &avail, &pct));
	CHECK(!procstats_disk("/", NULL, &avail, &pct));
	CHECK(!procstats_disk("/", &total, NULL, &pct));
	CHECK(!procstats_disk("/", &total, &avail, NULL));
	CHECK(total == 1 && avail == 2 && pct == 3);

	ncpu = procstats_cpu_count();
	CHECK(ncpu >= 1);
	CHECK(ncpu == -1 || ncpu == (int) sysconf(_SC_NPROCESSORS_ONLN));
}

/* ---------------------------------------------------------------------- */

/*
 * the real files of this machine: every reader whose file exists must
 * succeed.  the cgroup result depends on the host (no limit is normal), so
 * only its sanity is checked.
 */
static void
test_real_machine(void)
{
	long		n;

	if (access("/proc/stat", R_OK) == 0)
	{
		ProcCpuTimes t1;
		ProcCpuTimes t2;
		ProcCpuPercent pct;

		n = procstats_read_file("/proc/stat", bigbuf, sizeof(bigbuf));
		CHECK(n > 0);
		CHECK(procstats_parse_cpu(bigbuf, &t1));
		n = procstats_read_file_head("/proc/stat", bigbuf, 4096);
		CHECK(n > 0);
		CHECK(procstats_parse_cpu(bigbuf, &t2));
		procstats_cpu_percent(&t1, &t2, &pct);
		CHECK(isnan(pct.busy) || (pct.busy >= 0.0 && pct.busy <= 100.0));
	}

	if (access("/proc/meminfo", R_OK) == 0)
	{
		uint64_t	total;
		uint64_t	avail;

		CHECK(procstats_read_file("/proc/meminfo", bigbuf, sizeof(bigbuf)) > 0);
		CHECK(procstats_parse_meminfo(bigbuf, &total, &avail));
		CHECK(total > 0);
	}

	if (access("/proc/net/dev", R_OK) == 0)
	{
		uint64_t	rx;
		uint64_t	tx;

		CHECK(procstats_read_file("/proc/net/dev", bigbuf, sizeof(bigbuf)) > 0);
		CHECK(procstats_parse_netdev(bigbuf, &rx, &tx));
	}

	if (access("/proc/loadavg", R_OK) == 0)
	{
		double		load[3];

		CHECK(procstats_read_file("/proc/loadavg", bigbuf, sizeof(bigbuf)) > 0);
		CHECK(procstats_parse_loadavg(bigbuf, load));
		CHECK(load[0] >= 0.0 && load[1] >= 0.0 && load[2] >= 0.0);
	}

	if (access("/proc/self/cgroup", R_OK) == 0)
	{
		uint64_t	current = 0;
		uint64_t	limit = 0;

		CHECK(procstats_read_file("/proc/self/cgroup", bigbuf, sizeof(bigbuf)) >= 0);
		if (procstats_cgroup_memory("/sys/fs/cgroup", bigbuf, &current, &limit))
			CHECK(limit > 0);
		else
			CHECK(current == 0 && limit == 0);
	}
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		fixture_dir = argv[1];

	snprintf(tmproot, sizeof(tmproot), "/tmp/test_procstats.XXXXXX");
	if (mkdtemp(tmproot) == NULL)
	{
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return 2;
	}

	test_read_file();
	test_read_file_head();
	test_parse_cpu();
	test_cpu_percent();
	test_parse_meminfo();
	test_cgroup_memory();
	test_parse_netdev();
	test_parse_loadavg();
	test_disk_and_cpu_count();
	test_real_machine();

	cleanup_tmp();

	return check_report();
}
