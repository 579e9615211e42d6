/*-------------------------------------------------------------------------
 *
 * procstats.c
 *	  readers and parsers for linux machine statistics (/proc, cgroup v2,
 *	  statvfs) used by the perfopt sampling worker.
 *
 * owns: reading small kernel text files and turning them into numbers.
 * may not: include postgresql headers, allocate memory (callers supply
 * buffers; the only buffers here are bounded stack arrays), block for long
 * (only regular files are opened, never fifos or devices), or abort.  any
 * malformed input is "not available": return false / -1 and leave the
 * caller's outputs untouched.
 *
 * the parsers work on NUL-terminated text and never look past the
 * terminator; a line ends at '\n' or at the terminator, and a '\r' is
 * treated as a blank so CRLF text parses too.
 *
 * src/common/procstats.c
 *
 *-------------------------------------------------------------------------
 */
/* beside this file, so it builds with or without -I flags */
#include "procstats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* memory.max / memory.current hold one number; anything longer is garbage */
#define PS_CGROUP_VALUE_BUFSIZE 64

/* fraction digits beyond this cannot change a double; they are skipped */
#define PS_MAX_FRACTION_DIGITS 20

/* /proc/net/dev has 8 receive and 8 transmit columns */
#define PS_NETDEV_COLUMNS 16
#define PS_NETDEV_RX_BYTES 0
#define PS_NETDEV_TX_BYTES 8

/* the cpu line needs user, nice, system and idle at the very least */
#define PS_CPU_MIN_COLUMNS 4
#define PS_CPU_KNOWN_COLUMNS 8


/* blanks separate fields inside a line; '\r' is one so CRLF is harmless */
static bool
ps_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool
ps_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* true at the end of a line: the newline or the terminator */
static bool
ps_is_eol(char c)
{
	return c == '\n' || c == '\0';
}

static const char *
ps_skip_blanks(const char *p)
{
	while (ps_is_blank(*p))
		p++;
	return p;
}

/* start of the next line, or the terminator if this is the last one */
static const char *
ps_next_line(const char *p)
{
	while (!ps_is_eol(*p))
		p++;
	if (*p == '\n')
		p++;
	return p;
}

/* true if the line starting at p begins with prefix */
static bool
ps_line_starts_with(const char *p, const char *prefix)
{
	size_t		len = strlen(prefix);

	/* strncmp stops at p's terminator, so this never reads past it */
	return strncmp(p, prefix, len) == 0;
}

/*
 * parse an unsigned decimal at *pp without looking at what follows.
 *
 * strtoull alone is too lenient (it skips newlines, accepts signs and wraps
 * "-1" to UINT64_MAX), so a leading digit is required first; the digits are
 * then converted with strtoull and overflow is rejected.
 */
static bool
ps_parse_u64_raw(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	char	   *end;
	unsigned long long v;

	if (!ps_is_digit(*p))
		return false;

	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno != 0 || end == p)
		return false;
#if ULLONG_MAX > UINT64_MAX
	if (v > UINT64_MAX)
		return false;
#endif

	*out = (uint64_t) v;
	*pp = end;
	return true;
}

/*
 * parse one whitespace-delimited unsigned field: leading blanks are skipped
 * and the number must be followed by a blank or the end of the line, so
 * "12abc" or "1.5" are rejected rather than read as 12 or 1.
 */
static bool
ps_parse_u64_field(const char **pp, uint64_t *out)
{
	const char *p = ps_skip_blanks(*pp);
	uint64_t	v;

	if (!ps_parse_u64_raw(&p, &v))
		return false;
	if (!ps_is_blank(*p) && !ps_is_eol(*p))
		return false;

	*out = v;
	*pp = p;
	return true;
}

/*
 * parse the unsigned fields from p to the end of the line: the first max
 * into col, the count of all of them into *ncols.  false on a field that
 * is not a number.
 */
static bool
ps_parse_u64_columns(const char *p, uint64_t *col, size_t max, size_t *ncols)
{
	*ncols = 0;
	for (;;)
	{
		uint64_t	v;

		p = ps_skip_blanks(p);
		if (ps_is_eol(*p))
			return true;
		if (!ps_parse_u64_field(&p, &v))
			return false;
		if (*ncols < max)
			col[*ncols] = v;
		(*ncols)++;
	}
}

/*
 * parse a non-negative decimal like "0.42" or "12".  done by hand instead of
 * strtod because strtod depends on LC_NUMERIC and accepts "nan", "inf",
 * hex floats and signs, none of which belong in /proc/loadavg.
 */
static bool
ps_parse_decimal_field(const char **pp, double *out)
{
	const char *p = ps_skip_blanks(*pp);
	uint64_t	ipart;
	double		frac = 0.0;
	double		scale = 0.1;

	if (!ps_parse_u64_raw(&p, &ipart))
		return false;

	if (*p == '.')
	{
		int			ndigits = 0;

		p++;
		if (!ps_is_digit(*p))
			return false;
		while (ps_is_digit(*p))
		{
			if (ndigits < PS_MAX_FRACTION_DIGITS)
			{
				frac += (*p - '0') * scale;
				scale /= 10.0;
			}
			ndigits++;
			p++;
		}
	}

	if (!ps_is_blank(*p) && !ps_is_eol(*p))
		return false;

	*out = (double) ipart + frac;
	*pp = p;
	return true;
}

/* a += b, false on overflow */
static bool
ps_add_u64(uint64_t *a, uint64_t b)
{
	if (*a > UINT64_MAX - b)
		return false;
	*a += b;
	return true;
}

/* a *= b, false on overflow */
static bool
ps_mul_u64(uint64_t *a, uint64_t b)
{
	if (b != 0 && *a > UINT64_MAX / b)
		return false;
	*a *= b;
	return true;
}

/*
 * shared body of the two file readers.  only regular files are accepted:
 * opening with O_NONBLOCK keeps a fifo from blocking in open(), and fstat
 * then rejects it (and devices) before any read.  /proc files report size 0,
 * so we read until eof rather than trusting st_size.
 *
 * *truncated is set when the buffer filled up and at least one more byte
 * was available.
 */
static long
ps_read_into(const char *path, char *buf, size_t bufsize, bool *truncated)
{
	int			fd;
	struct stat st;
	size_t		total = 0;
	int			save_errno;

	*truncated = false;

	if (buf == NULL || bufsize == 0 || bufsize - 1 > (size_t) LONG_MAX)
	{
		errno = EINVAL;
		return -1;
	}
	buf[0] = '\0';

	if (path == NULL || path[0] == '\0')
	{
		errno = EINVAL;
		return -1;
	}

	do
	{
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -1;

	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode))
	{
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}

	while (total < bufsize - 1)
	{
		ssize_t		n = read(fd, buf + total, bufsize - 1 - total);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		total += (size_t) n;
	}

	/* a full buffer may or may not be the whole file: probe one more byte */
	if (total == bufsize - 1)
	{
		char		probe;
		ssize_t		n;

		do
		{
			n = read(fd, &probe, 1);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			goto fail;
		if (n > 0)
			*truncated = true;
	}

	close(fd);
	buf[total] = '\0';
	return (long) total;

fail:
	save_errno = errno;
	close(fd);
	buf[0] = '\0';
	errno = save_errno;
	return -1;
}

long
procstats_read_file(const char *path, char *buf, size_t bufsize)
{
	bool		truncated;
	long		n = ps_read_into(path, buf, bufsize, &truncated);

	if (n >= 0 && truncated)
	{
		buf[0] = '\0';
		errno = EFBIG;
		return -1;
	}
	return n;
}

long
procstats_read_file_head(const char *path, char *buf, size_t bufsize)
{
	bool		truncated;
	long		n = ps_read_into(path, buf, bufsize, &truncated);
	long		keep;

	if (n < 0 || !truncated)
		return n;

	/* keep only complete lines so no parser sees half a number */
	keep = n;
	while (keep > 0 && buf[keep - 1] != '\n')
		keep--;
	if (keep == 0)
	{
		buf[0] = '\0';
		errno = EFBIG;
		return -1;
	}
	buf[keep] = '\0';
	return keep;
}

bool
procstats_parse_cpu(const char *text, ProcCpuTimes *out)
{
	const char *line;

	if (text == NULL || out == NULL)
		return false;

	for (line = text; *line != '\0'; line = ps_next_line(line))
	{
		uint64_t	col[PS_CPU_KNOWN_COLUMNS] = {0};
		size_t		ncols = 0;

		/* "cpu" followed by a blank; "cpu0" and friends are per-cpu lines */
		if (!ps_line_starts_with(line, "cpu") || !ps_is_blank(line[3]))
			continue;

		/* later columns (guest, guest_nice) are already in user/nice */
		if (!ps_parse_u64_columns(line + 3, col, PS_CPU_KNOWN_COLUMNS, &ncols))
			return false;
		if (ncols < PS_CPU_MIN_COLUMNS)
			return false;

		out->user = col[0];
		out->nice = col[1];
		out->system = col[2];
		out->idle = col[3];
		out->iowait = col[4];
		out->irq = col[5];
		out->softirq = col[6];
		out->steal = col[7];
		return true;
	}

	return false;
}

/* the counters in /proc/stat column order, so they can be looped over */
static void
ps_cpu_columns(const ProcCpuTimes *t, uint64_t col[PS_CPU_KNOWN_COLUMNS])
{
	col[0] = t->user;
	col[1] = t->nice;
	col[2] = t->system;
	col[3] = t->idle;
	col[4] = t->iowait;
	col[5] = t->irq;
	col[6] = t->softirq;
	col[7] = t->steal;
}

void
procstats_cpu_percent(const ProcCpuTimes *prev, const ProcCpuTimes *cur,
					  ProcCpuPercent *out)
{
	uint64_t	a[PS_CPU_KNOWN_COLUMNS];
	uint64_t	b[PS_CPU_KNOWN_COLUMNS];
	uint64_t	d[PS_CPU_KNOWN_COLUMNS];
	uint64_t	total = 0;
	int			i;

	if (out == NULL)
		return;

	out->busy = out->user = out->system = out->iowait = (double) NAN;

	if (prev == NULL || cur == NULL)
		return;

	ps_cpu_columns(prev, a);
	ps_cpu_columns(cur, b);
	for (i = 0; i < PS_CPU_KNOWN_COLUMNS; i++)
	{
		/* a counter going backwards means a reset or a bogus reading */
		if (b[i] < a[i])
			return;
		d[i] = b[i] - a[i];
		if (!ps_add_u64(&total, d[i]))
			return;
	}
	if (total == 0)
		return;

	/* indexes: 0 user, 1 nice, 2 system, 3 idle, 4 iowait, 5 irq, 6 softirq */
	out->busy = 100.0 * (double) (total - d[3] - d[4]) / (double) total;
	out->user = 100.0 * ((double) d[0] + (double) d[1]) / (double) total;
	out->system = 100.0 * ((double) d[2] + (double) d[5] + (double) d[6]) /
		(double) total;
	out->iowait = 100.0 * (double) d[4] / (double) total;
}

/*
 * parse the value of a meminfo line after its "Key:" prefix.  the unit must
 * be kB: a line without it would be a different kind of field.
 */
static bool
ps_parse_meminfo_kb(const char *p, uint64_t *bytes)
{
	uint64_t	v;

	if (!ps_parse_u64_field(&p, &v))
		return false;
	p = ps_skip_blanks(p);
	if (strncmp(p, "kB", 2) != 0)
		return false;
	p = ps_skip_blanks(p + 2);
	if (!ps_is_eol(*p))
		return false;
	if (!ps_mul_u64(&v, 1024))
		return false;

	*bytes = v;
	return true;
}

bool
procstats_parse_meminfo(const char *text, uint64_t *total_bytes,
						uint64_t *available_bytes)
{
	const char *line;
	uint64_t	total = 0;
	uint64_t	avail = 0;
	bool		have_total = false;
	bool		have_avail = false;

	if (text == NULL || total_bytes == NULL || available_bytes == NULL)
		return false;

	for (line = text; *line != '\0'; line = ps_next_line(line))
	{
		/* the colon is part of the key, so "MemTotalX:" does not match */
		if (!have_total && ps_line_starts_with(line, "MemTotal:"))
		{
			if (!ps_parse_meminfo_kb(line + strlen("MemTotal:"), &total))
				return false;
			have_total = true;
		}
		else if (!have_avail && ps_line_starts_with(line, "MemAvailable:"))
		{
			if (!ps_parse_meminfo_kb(line + strlen("MemAvailable:"), &avail))
				return false;
			have_avail = true;
		}
		if (have_total && have_avail)
			break;
	}

	/* a machine without memory is a parse error, not a fact */
	if (!have_total || !have_avail || total == 0)
		return false;

	*total_bytes = total;
	*available_bytes = avail;
	return true;
}

/*
 * copy the path of the "0::" line of /proc/self/cgroup into buf, without
 * the line ending and without trailing slashes ("/" becomes "").  rejects a
 * relative path, a ".." component (seen when our cgroup lies outside the
 * cgroup namespace, and never to be followed) and anything that does not
 * fit in bufsize.
 */
static bool
ps_cgroup_v2_path(const char *text, char *buf, size_t bufsize)
{
	const char *line;

	for (line = text; *line != '\0'; line = ps_next_line(line))
	{
		const char *start;
		const char *end;
		const char *comp;
		size_t		len;

		if (!ps_line_starts_with(line, "0::"))
			continue;

		start = line + 3;
		end = start;
		while (!ps_is_eol(*end))
			end++;
		if (end > start && end[-1] == '\r')
			end--;

		if (end == start || *start != '/')
			return false;

		/* check each component between slashes */
		comp = start;
		while (comp < end)
		{
			const char *slash;

			while (comp < end && *comp == '/')
				comp++;
			slash = comp;
			while (slash < end && *slash != '/')
				slash++;
			if (slash - comp == 2 && comp[0] == '.' && comp[1] == '.')
				return false;
			comp = slash;
		}

		while (end > start && end[-1] == '/')
			end--;

		len = (size_t) (end - start);
		if (len >= bufsize)
			return false;
		memcpy(buf, start, len);
		buf[len] = '\0';
		return true;
	}

	return false;
}

/* what a cgroup interface file held */
typedef enum
{
	PS_CG_NUMBER,				/* one number, stored in *value */
	PS_CG_MAX,					/* the literal "max" (only if max_ok) */
	PS_CG_MISSING,				/* no such file: controller not enabled here */
	PS_CG_BAD					/* unreadable, too long or malformed */
} PsCgroupValue;

/* read dir/name, which must hold one number or (if max_ok) "max" */
static PsCgroupValue
ps_read_cgroup_value(const char *dir, const char *name, bool max_ok,
					 uint64_t *value)
{
	char		path[PATH_MAX];
	char		buf[PS_CGROUP_VALUE_BUFSIZE];
	int			n;
	long		len;
	const char *p;
	uint64_t	v;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t) n >= sizeof(path))
		return PS_CG_BAD;

	len = procstats_read_file(path, buf, sizeof(buf));
	if (len < 0)
		return errno == ENOENT ? PS_CG_MISSING : PS_CG_BAD;

	/* a single line; trailing blanks and the newline are optional */
	while (len > 0 && (ps_is_blank(buf[len - 1]) || buf[len - 1] == '\n'))
		buf[--len] = '\0';

	if (max_ok && strcmp(buf, "max") == 0)
		return PS_CG_MAX;

	p = buf;
	if (!ps_parse_u64_raw(&p, &v) || *p != '\0')
		return PS_CG_BAD;

	*value = v;
	return PS_CG_NUMBER;
}

bool
procstats_cgroup_memory(const char *cgroup_root, const char *self_cgroup_text,
						uint64_t *current_bytes, uint64_t *limit_bytes)
{
	char		dir[PATH_MAX];
	size_t		rootlen;
	size_t		dirlen;
	bool		found = false;
	uint64_t	best_limit = 0;
	uint64_t	best_current = 0;

	if (cgroup_root == NULL || self_cgroup_text == NULL ||
		current_bytes == NULL || limit_bytes == NULL)
		return false;

	/* the root without trailing slashes; "/" becomes "" and that is fine */
	rootlen = strlen(cgroup_root);
	if (rootlen == 0)
		return false;
	while (rootlen > 0 && cgroup_root[rootlen - 1] == '/')
		rootlen--;
	if (rootlen >= sizeof(dir))
		return false;
	memcpy(dir, cgroup_root, rootlen);
	dir[rootlen] = '\0';

	if (!ps_cgroup_v2_path(self_cgroup_text, dir + rootlen,
						   sizeof(dir) - rootlen))
		return false;
	dirlen = strlen(dir);

	/*
	 * walk from our own cgroup up to and including the root; the limit that
	 * binds is the smallest on the way, and its usage is that cgroup's
	 * memory.current (which counts its other children too)
	 */
	for (;;)
	{
		uint64_t	limit;
		uint64_t	current;

		switch (ps_read_cgroup_value(dir, "memory.max", true, &limit))
		{
			case PS_CG_NUMBER:
				if (!found || limit < best_limit)
				{
					if (ps_read_cgroup_value(dir, "memory.current", false,
											 &current) != PS_CG_NUMBER)
						return false;
					best_limit = limit;
					best_current = current;
					found = true;
				}
				break;
			case PS_CG_MAX:
			case PS_CG_MISSING:
				/* no limit here, or controller not enabled: look higher */
				break;
			case PS_CG_BAD:
				return false;
		}

		if (dirlen <= rootlen)
			break;

		/* drop the last component and any slashes before it */
		while (dirlen > rootlen && dir[dirlen - 1] != '/')
			dirlen--;
		while (dirlen > rootlen && dir[dirlen - 1] == '/')
			dirlen--;
		dir[dirlen] = '\0';
	}

	if (!found)
		return false;
	*current_bytes = best_current;
	*limit_bytes = best_limit;
	return true;
}

bool
procstats_parse_netdev(const char *text, uint64_t *rx_bytes,
					   uint64_t *tx_bytes)
{
	const char *line;
	uint64_t	rx = 0;
	uint64_t	tx = 0;
	int			ninterfaces = 0;

	if (text == NULL || rx_bytes == NULL || tx_bytes == NULL)
		return false;

	for (line = text; *line != '\0'; line = ps_next_line(line))
	{
		const char *p = ps_skip_blanks(line);
		const char *name;
		const char *colon;
		size_t		namelen;
		uint64_t	col[PS_NETDEV_COLUMNS];
		size_t		ncols = 0;
		bool		header = false;

		if (ps_is_eol(*p))
			continue;

		/*
		 * the two header lines use '|' as separator and have no colon.
		 * interface names cannot contain ':', so the first colon ends the
		 * name, and the rx bytes may follow it without a space.
		 */
		for (colon = p; !ps_is_eol(*colon) && *colon != ':'; colon++)
		{
			if (*colon == '|')
				header = true;
		}
		if (header)
			continue;
		if (*colon != ':')
			return false;

		name = p;
		namelen = (size_t) (colon - name);
		while (namelen > 0 && ps_is_blank(name[namelen - 1]))
			namelen--;
		if (namelen == 0)
			return false;

		if (!ps_parse_u64_columns(colon + 1, col, PS_NETDEV_COLUMNS, &ncols))
			return false;
		if (ncols < PS_NETDEV_COLUMNS)
			return false;

		ninterfaces++;
		if (namelen == 2 && strncmp(name, "lo", 2) == 0)
			continue;
		if (!ps_add_u64(&rx, col[PS_NETDEV_RX_BYTES]) ||
			!ps_add_u64(&tx, col[PS_NETDEV_TX_BYTES]))
			return false;
	}

	if (ninterfaces == 0)
		return false;

	*rx_bytes = rx;
	*tx_bytes = tx;
	return true;
}

bool
procstats_parse_loadavg(const char *text, double load[3])
{
	const char *p;
	double		v[3];
	int			i;

	if (text == NULL || load == NULL)
		return false;

	/* "0.12 0.34 0.56 1/234 5678": only the first three fields matter */
	p = text;
	for (i = 0; i < 3; i++)
	{
		if (!ps_parse_decimal_field(&p, &v[i]))
			return false;
	}

	for (i = 0; i < 3; i++)
		load[i] = v[i];
	return true;
}

bool
procstats_disk(const char *path, uint64_t *total_bytes, uint64_t *avail_bytes,
			   double *used_percent)
{
	struct statvfs sv;
	uint64_t	frsize;
	uint64_t	blocks;
	uint64_t	bfree;
	uint64_t	bavail;
	uint64_t	total;
	uint64_t	avail;
	uint64_t	used;
	int			rc;

	if (path == NULL || total_bytes == NULL || avail_bytes == NULL ||
		used_percent == NULL)
		return false;

	do
	{
		rc = statvfs(path, &sv);
	} while (rc != 0 && errno == EINTR);
	if (rc != 0)
		return false;

	/* f_frsize is the unit of the block counts; old systems leave it 0 */
	frsize = sv.f_frsize != 0 ? (uint64_t) sv.f_frsize : (uint64_t) sv.f_bsize;
	blocks = (uint64_t) sv.f_blocks;
	bfree = (uint64_t) sv.f_bfree;
	bavail = (uint64_t) sv.f_bavail;

	if (frsize == 0 || blocks == 0 || bfree > blocks || bavail > blocks)
		return false;

	total = blocks;
	avail = bavail;
	if (!ps_mul_u64(&total, frsize) || !ps_mul_u64(&avail, frsize))
		return false;

	/* like df: blocks reserved for root count as neither used nor free */
	used = blocks - bfree;
	*total_bytes = total;
	*avail_bytes = avail;
	if (used + bavail == 0)
		*used_percent = (double) NAN;
	else
		*used_percent = 100.0 * (double) used / ((double) used + (double) bavail);
	return true;
}

int
procstats_cpu_count(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1 || n > INT_MAX)
		return -1;
	return (int) n;
}
