/*
 * params.c — query parameters: the opaque pagination cursor (base64url
 * of "v1:<after>", canonical only), strict decimals (no sign, spaces or
 * leading zeros) and page sizes.
 *
 * Every input may be hostile: no function aborts or reads past a NUL or
 * a given length.
 */
#include "params.h"

#include <stdio.h>
#include <string.h>

#include "strutil.h"

/* ---- decimals ---- */

bool
hd_parse_dec(const char *s, size_t n, bool allow_minus, int64_t *v)
{
	bool		neg = false;
	uint64_t	acc = 0;
	uint64_t	limit;

	if (n > 0 && s[0] == '-' && allow_minus)
	{
		neg = true;
		s++;
		n--;
	}
	/* 19 digits stay below 2^64, so acc cannot wrap */
	if (n == 0 || n > 19)
		return false;
	if (s[0] == '0' && (n > 1 || neg))
		return false;
	for (size_t i = 0; i < n; i++)
	{
		if (!is_digit(s[i]))
			return false;
		acc = acc * 10 + (uint64_t) (s[i] - '0');
	}
	limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	if (acc > limit)
		return false;
	if (v)
	{
		if (neg)
			*v = acc == limit ? INT64_MIN : -(int64_t) acc;
		else
			*v = (int64_t) acc;
	}
	return true;
}

/* ---- cursors and numbers ---- */

static const char b64url[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* "v1:" and 19 digits at most: 22 bytes, 30 characters */
#define HD_CURSOR_MAX 64

void
hd_cursor_encode(int64_t after, char *out, size_t size)
{
	char		raw[32];
	int			rlen;
	size_t		o = 0;

	if (out == NULL || size == 0)
		return;
	out[0] = '\0';
	if (after < 0)
		return;
	rlen = snprintf(raw, sizeof(raw), "v1:%lld", (long long) after);
	if (rlen <= 0 || (size_t) rlen >= sizeof(raw) || size <= ((size_t) rlen * 4 + 2) / 3)
		return;
	for (int i = 0; i < rlen; i += 3)
	{
		uint32_t	v = (uint32_t) (uint8_t) raw[i] << 16;
		int			chars = 2;

		if (i + 1 < rlen)
		{
			v |= (uint32_t) (uint8_t) raw[i + 1] << 8;
			chars++;
		}
		if (i + 2 < rlen)
		{
			v |= (uint8_t) raw[i + 2];
			chars++;
		}
		for (int c = 0; c < chars; c++)
			out[o++] = b64url[(v >> (18 - 6 * c)) & 0x3f];
	}
	out[o] = '\0';
}

static int
b64url_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(b64url, c);
	return p ? (int) (p - b64url) : -1;
}

bool
hd_cursor_decode(const char *cursor, int64_t *after)
{
	uint8_t		raw[HD_CURSOR_MAX];
	size_t		rlen = 0;
	uint32_t	acc = 0;
	int			bits = 0;
	size_t		n;
	int64_t		v;

	if (cursor == NULL)
		return false;
	n = bounded_len(cursor, HD_CURSOR_MAX);
	if (n == 0 || n > HD_CURSOR_MAX || n % 4 == 1)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		int			d = b64url_value(cursor[i]);

		if (d < 0)
			return false;
		acc = (acc << 6) | (uint32_t) d;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			raw[rlen++] = (uint8_t) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* the bits left over must be zero: one spelling per cursor */
	if (acc != 0)
		return false;
	if (rlen < 4 || memcmp(raw, "v1:", 3) != 0 ||
		!hd_parse_dec((const char *) raw + 3, rlen - 3, false, &v))
		return false;
	if (after)
		*after = v;
	return true;
}

bool
hd_parse_int64(const char *s, int64_t *v)
{
	if (s == NULL)
		return false;
	return hd_parse_dec(s, bounded_len(s, 20), true, v);
}

bool
hd_parse_limit(const char *s, int *limit)
{
	int64_t		v;

	if (s == NULL || !hd_parse_dec(s, bounded_len(s, 19), false, &v) || v < 1 || v > 1000)
		return false;
	if (limit)
		*limit = (int) v;
	return true;
}

