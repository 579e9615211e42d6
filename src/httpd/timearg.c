/*
 * timearg.c — the time range of /metrics/history: RFC 3339 and Unix epoch
 * seconds parsed strictly into microseconds since the epoch, written back
 * as a timestamptz literal in UTC (the server never parses the caller's
 * text: 'now', 'epoch' and the like never reach it), and the query's
 * from, to, step and points checked before the database sees them.
 *
 * Every input may be hostile: no function aborts or reads past a NUL.
 */
#include "timearg.h"

#include <stdio.h>
#include <string.h>

#include "params.h"
#include "strutil.h"

#define HD_TIME_MAX_LEN 64
#define US_PER_SEC INT64_C(1000000)

/* days since 1970-01-01 of a civil date (proleptic Gregorian) */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* the civil date of days since 1970-01-01 */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* exactly n digits at s as a number; false when any is not a digit */
static bool
digits(const char *s, int n, int *v)
{
	int			acc = 0;

	for (int i = 0; i < n; i++)
	{
		if (!is_digit(s[i]))
			return false;
		acc = acc * 10 + (s[i] - '0');
	}
	*v = acc;
	return true;
}

/* ".f" with 1 to 6 digits at *p (advanced past it) into microseconds; absent is 0 */
static bool
fraction(const char **p, int64_t *us)
{
	const char *s = *p;
	int64_t		v = 0;
	int			n = 0;

	*us = 0;
	if (*s != '.')
		return true;
	s++;
	while (is_digit(s[n]) && n < 7)
		n++;
	if (n < 1 || n > 6)
		return false;
	for (int i = 0; i < 6; i++)
		v = v * 10 + (i < n ? s[i] - '0' : 0);
	*us = v;
	*p = s + n;
	return true;
}

static bool
parse_epoch(const char *s, size_t n, int64_t *us)
{
	const char *dot = memchr(s, '.', n);
	size_t		ilen = dot ? (size_t) (dot - s) : n;
	int64_t		secs;
	int64_t		frac = 0;

	/* 253402300799 is 9999-12-31T23:59:59Z, the last second RFC 3339 has */
	if (!hd_parse_dec(s, ilen, false, &secs) || secs > INT64_C(253402300799))
		return false;
	if (dot)
	{
		const char *p = dot;

		if (!fraction(&p, &frac) || p != s + n)
			return false;
	}
	*us = secs * US_PER_SEC + frac;
	return true;
}

static bool
parse_rfc3339(const char *s, size_t n, int64_t *us)
{
	int			y, mo, d, h, mi, sec, oh = 0, om = 0;
	int			sign = 0;
	int64_t		frac;
	const char *p;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	/* YYYY-MM-DDTHH:MM:SS is 19 characters */
	if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
		!digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
		!digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
		!digits(s + 17, 2, &sec))
		return false;
	p = s + 19;
	if (!fraction(&p, &frac))
		return false;
	if ((*p == 'Z' || *p == 'z') && p + 1 == s + n)
		sign = 0;
	else if ((*p == '+' || *p == '-' || *p == ' ') && p + 6 == s + n &&
			 digits(p + 1, 2, &oh) && p[3] == ':' && digits(p + 4, 2, &om))
		sign = *p == '-' ? -1 : 1;
	else
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
		d > mdays[mo - 1] + (mo == 2 && is_leap(y)) ||
		h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59)
		return false;
	*us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
		   sign * (oh * 3600 + om * 60)) * US_PER_SEC + frac;
	return true;
}

bool
hd_parse_time(const char *s, int64_t *us)
{
	size_t		n;
	int64_t		v;
	bool		ok;

	if (s == NULL)
		return false;
	n = bounded_len(s, HD_TIME_MAX_LEN);
	if (n == 0 || n > HD_TIME_MAX_LEN)
		return false;
	ok = (n > 4 && s[4] == '-') ? parse_rfc3339(s, n, &v) : parse_epoch(s, n, &v);
	if (ok && us)
		*us = v;
	return ok;
}

void
hd_format_time(int64_t us, char *out, size_t size)
{
	int64_t		secs = us / US_PER_SEC;
	int64_t		frac = us % US_PER_SEC;
	int64_t		days;
	int64_t		rem;
	int64_t		y;
	int			m;
	int			d;

	if (out == NULL || size == 0)
		return;
	if (frac < 0)
	{
		frac += US_PER_SEC;
		secs--;
	}
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0)
	{
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(out, size, "%04lld-%02d-%02d %02d:%02d:%02d.%06lld+00",
			 (long long) y, m, d, (int) (rem / 3600), (int) (rem / 60 % 60), (int) (rem % 60),
			 (long long) frac);
}

int
hd_range_args(const char *from, const char *to, const char *step, const char *points,
			  HdRangeArgs *out, char *err, size_t errsize)
{
	int64_t		from_us = 0;
	int64_t		to_us = 0;
	int64_t		v;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	if (from && !hd_parse_time(from, &from_us))
	{
		hd_err(err, errsize, "from must be an RFC 3339 timestamp or Unix epoch seconds");
		return -1;
	}
	if (to && !hd_parse_time(to, &to_us))
	{
		hd_err(err, errsize, "to must be an RFC 3339 timestamp or Unix epoch seconds");
		return -1;
	}
	if (from && to && from_us >= to_us)
	{
		hd_err(err, errsize, "from must be earlier than to");
		return -1;
	}
	if (from && to && to_us - from_us > (int64_t) HD_RANGE_MAX_SECONDS * US_PER_SEC)
	{
		hd_err(err, errsize, "the range from from to to must not exceed 31 days");
		return -1;
	}
	if (step && (!hd_parse_int64(step, &v) || v < 1 || v > HD_RANGE_MAX_SECONDS))
	{
		hd_err(err, errsize, "step must be an integer number of seconds from 1 to %d",
			   HD_RANGE_MAX_SECONDS);
		return -1;
	}
	if (step)
		snprintf(out->step, sizeof(out->step), "%lld", (long long) v);
	if (points && (!hd_parse_int64(points, &v) || v < 1 || v > HD_POINTS_MAX))
	{
		hd_err(err, errsize, "points must be an integer from 1 to %d", HD_POINTS_MAX);
		return -1;
	}
	snprintf(out->points, sizeof(out->points), "%lld",
			 (long long) (points ? v : step ? HD_POINTS_MAX : HD_POINTS_DEFAULT));
	if (from)
		hd_format_time(from_us, out->from, sizeof(out->from));
	if (to)
		hd_format_time(to_us, out->to, sizeof(out->to));
	return 0;
}
