/*
 * strutil.h — perfopt-httpd's small character helpers, shared by the
 * pure-C files (tokens.c, caching.c, params.c, routes.c, body.c,
 * errors.c): HTTP whitespace, ASCII case, hex digits, bounded lengths and
 * "where: problem" messages.  Inline, so that each file stays standalone
 * for the unit tests and the fuzzer.
 */
#ifndef PERFOPT_HTTPD_STRUTIL_H
#define PERFOPT_HTTPD_STRUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

static inline void hd_err(char *err, size_t errsize, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* fmt into err when there is room for anything */
static inline void
hd_err(char *err, size_t errsize, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || errsize == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

static inline bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* s[0..n) equals the lower-case literal lit, ignoring ASCII case */
static inline bool
ncase_eq(const char *s, size_t n, const char *lit)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || ascii_lower(s[i]) != lit[i])
			return false;
	return lit[i] == '\0';
}

static inline int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* strlen, but stops counting above max */
static inline size_t
bounded_len(const char *s, size_t max)
{
	size_t		n = 0;

	while (n <= max && s[n] != '\0')
		n++;
	return n;
}

#endif							/* PERFOPT_HTTPD_STRUTIL_H */
