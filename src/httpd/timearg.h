/*
 * timearg.h — perfopt-httpd's time range arguments (timearg.c): a point
 * in time as RFC 3339 or Unix epoch seconds, and the query of
 * /metrics/history (from, to, step, points) checked and turned into the
 * call's parameters.  Pure C.
 */
#ifndef PERFOPT_HTTPD_TIMEARG_H
#define PERFOPT_HTTPD_TIMEARG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the longest range and step, and the most points, /metrics/history takes */
#define HD_RANGE_MAX_SECONDS (31 * 86400)
#define HD_POINTS_MAX 1000
#define HD_POINTS_DEFAULT 300

/*
 * A point in time into *us (microseconds since the Unix epoch, UTC):
 * RFC 3339 ("2026-01-02T03:04:05Z", "...05.123+02:00"; 'T' or a space
 * between date and time, a space where the offset's '+' was, as a query
 * string's '+' decodes to one) from year 1970 to 9999, or Unix epoch
 * seconds (digits, then at most six decimals after a '.').  Strict: no
 * other spelling, no leap second, at most 64 characters; false on
 * anything else.
 */
extern bool hd_parse_time(const char *s, int64_t *us);

/* us as "YYYY-MM-DD HH:MM:SS.ffffff+00" (a timestamptz literal); out needs 40 bytes */
extern void hd_format_time(int64_t us, char *out, size_t size);

/* the history query's parameters, as the call takes them */
typedef struct HdRangeArgs
{
	char		from[40];		/* timestamptz literal, or "" (the default) */
	char		to[40];
	char		points[16];		/* max_points */
	char		step[16];		/* step_seconds, or "" (the smallest that fits) */
} HdRangeArgs;

/*
 * from, to, step and points of a query (each NULL when absent) checked
 * and made parameters: 0, or -1 with a message for a 400 in err.  A from
 * or to that is absent is left to the server (to: now; from: to - 1
 * hour), which checks the range then.  points is 1..1000 (default 300,
 * or 1000 as the cap of an explicit step); step 1..31 days in seconds.
 */
extern int	hd_range_args(const char *from, const char *to, const char *step, const char *points,
						  HdRangeArgs *out, char *err, size_t errsize);

#endif							/* PERFOPT_HTTPD_TIMEARG_H */
