/*
 * text.c — request text and JSON strings: whether text is valid UTF-8
 * without NUL bytes (what may reach the database), and escaping for the
 * inside of a JSON string (error bodies, the request log).
 *
 * Every input may be hostile: no function aborts or reads past a NUL or
 * a given length.
 */
#include "text.h"

#include <stdio.h>
#include <string.h>

/*
 * The length of the valid UTF-8 sequence of 2..4 bytes at p, of which at
 * most left bytes may be read; 0 if there is none.  The bytes are checked
 * in order and the first bad one stops it, so a NUL ends a string too.
 */
static int
utf8_seq(const unsigned char *p, size_t left)
{
	int			n;
	unsigned char lo = 0x80;
	unsigned char hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
	{
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;			/* no overlong forms */
		if (p[0] == 0xed)
			hi = 0x9f;			/* no surrogates */
	}
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
	{
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		if (p[0] == 0xf4)
			hi = 0x8f;			/* nothing above U+10FFFF */
	}
	else
		return 0;
	if ((size_t) n > left || p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

bool
hd_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	if (s == NULL)
		return len == 0;
	while (i < len)
	{
		int			n;

		if (p[i] == 0)
			return false;
		if (p[i] < 0x80)
		{
			i++;
			continue;
		}
		n = utf8_seq(p + i, len - i);
		if (n == 0)
			return false;
		i += (size_t) n;
	}
	return true;
}


/* ---- JSON escaping ---- */

void
hd_json_escape(const char *s, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		o = 0;

	if (out == NULL || size == 0)
		return;
	while (p != NULL && *p)
	{
		char		rep[8];
		const char *r = NULL;
		size_t		adv = 1;
		size_t		rlen;
		int			seq;

		switch (*p)
		{
			case '"':
				r = "\\\"";
				break;
			case '\\':
				r = "\\\\";
				break;
			case '\n':
				r = "\\n";
				break;
			case '\r':
				r = "\\r";
				break;
			case '\t':
				r = "\\t";
				break;
			default:
				break;
		}
		if (r != NULL)
			rlen = strlen(r);
		else if (*p < 0x20)
		{
			snprintf(rep, sizeof(rep), "\\u%04x", *p);
			r = rep;
			rlen = 6;
		}
		else if (*p < 0x80)
		{
			r = (const char *) p;
			rlen = 1;
		}
		else if ((seq = utf8_seq(p, 4)) > 0)
		{
			/* valid UTF-8 as it is */
			r = (const char *) p;
			rlen = adv = (size_t) seq;
		}
		else
		{
			r = "\\ufffd";
			rlen = 6;
		}
		/* all of it or stop: never half an escape or a character */
		if (rlen >= size - o)
			break;
		memcpy(out + o, r, rlen);
		o += rlen;
		p += adv;
	}
	out[o] = '\0';
}

