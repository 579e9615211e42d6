/*
 * caching.c — the representations of a response: whether the client
 * takes gzip (Accept-Encoding with q-values), the gzip itself (zlib), the
 * strong ETag of a body and the If-None-Match comparison.
 *
 * Each thread keeps one deflate stream and resets it for the next body:
 * setting one up allocates and clears about 256 KiB, which cost ten times
 * the compression of a /metrics body (about 1 ms against 0.1 ms).  The
 * stream goes with its thread (a pthread key's destructor).
 *
 * Every input may be hostile: no function aborts, reads past a NUL or a
 * given length, or keeps anything it allocates unless it hands it back.
 */
#include "caching.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "strutil.h"
#include "tokens.h"

/* ---- Accept-Encoding ---- */

/* s[0..n) trimmed of spaces and tabs */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_ows(**s))
	{
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*s)[*n - 1]))
		(*n)--;
}

/* a qvalue ("0" to "1", at most three decimals) in thousandths; -1 if malformed */
static int
parse_qvalue(const char *s, size_t n)
{
	size_t		i = 1;
	int			frac = 0;
	int			digits = 0;
	int			v;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	if (i < n && s[i] == '.')
	{
		i++;
		while (i < n && digits < 3 && is_digit(s[i]))
		{
			frac = frac * 10 + (s[i] - '0');
			digits++;
			i++;
		}
	}
	if (i != n)
		return -1;
	for (; digits < 3; digits++)
		frac *= 10;
	v = (s[0] - '0') * 1000 + frac;
	return v > 1000 ? -1 : v;
}

/* one element "coding;q=x;..." : its coding and q (thousandths; -1 malformed) */
static int
element_q(const char *s, size_t n, const char **coding, size_t *clen)
{
	const char *semi = memchr(s, ';', n);
	size_t		first = semi ? (size_t) (semi - s) : n;
	int			q = 1000;

	*coding = s;
	*clen = first;
	trim(coding, clen);
	while (semi)
	{
		const char *param = semi + 1;
		size_t		rest = n - (size_t) (param - s);
		size_t		plen;
		const char *eq;
		size_t		vlen;

		semi = memchr(param, ';', rest);
		plen = semi ? (size_t) (semi - param) : rest;
		trim(&param, &plen);
		if (plen == 0 || ascii_lower(param[0]) != 'q')
			continue;
		eq = param + 1;
		while (eq < param + plen && is_ows(*eq))
			eq++;
		if (eq == param + plen || *eq != '=')
			continue;			/* a parameter that only starts with q */
		eq++;
		vlen = (size_t) (param + plen - eq);
		trim(&eq, &vlen);
		q = parse_qvalue(eq, vlen);
	}
	return q;
}

bool
hd_accepts_gzip(const char *header)
{
	int			gzip_q = -1;	/* best q of gzip or x-gzip; -1: not named */
	int			star_q = -1;
	const char *p = header;

	if (p == NULL)
		return false;
	while (*p)
	{
		const char *e = p;
		const char *coding;
		size_t		clen;
		int			q;

		while (*e && *e != ',')
			e++;
		q = element_q(p, (size_t) (e - p), &coding, &clen);
		/* an element with a malformed q is ignored */
		if (q >= 0)
		{
			if (ncase_eq(coding, clen, "gzip") || ncase_eq(coding, clen, "x-gzip"))
				gzip_q = q > gzip_q ? q : gzip_q;
			else if (clen == 1 && coding[0] == '*')
				star_q = q > star_q ? q : star_q;
		}
		p = *e ? e + 1 : e;
	}
	/* gzip named: its own q decides, whatever "*" says */
	if (gzip_q >= 0)
		return gzip_q > 0;
	return star_q > 0;
}

/* ---- Accept (the exposition of /metrics) ---- */

bool
hd_prefers_exposition(const char *header)
{
	int			text_q = -1;	/* best q of text/plain, whatever its parameters */
	int			json_q = -1;	/* best q of application/json */
	const char *p = header;

	if (p == NULL)
		return false;
	while (*p)
	{
		const char *e = p;
		const char *range;
		size_t		rlen;
		int			q;

		while (*e && *e != ',')
			e++;
		q = element_q(p, (size_t) (e - p), &range, &rlen);
		if (q >= 0)
		{
			if (ncase_eq(range, rlen, "text/plain"))
				text_q = q > text_q ? q : text_q;
			else if (ncase_eq(range, rlen, "application/json"))
				json_q = q > json_q ? q : json_q;
		}
		p = *e ? e + 1 : e;
	}
	return text_q > 0 && text_q > json_q;
}

/* ---- ETags ---- */

void
hd_etag(const void *body, size_t len, char out[40])
{
	uint8_t		hash[32];
	char		hex[65];

	hd_sha256(body, len, hash);
	hd_hex(hash, 16, hex);
	out[0] = '"';
	memcpy(out + 1, hex, 32);
	out[33] = '"';
	out[34] = '\0';
}

static bool
etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/* an entity-tag at *p: [W/]"opaque"; *p moves past it; its opaque part */
static bool
etag_parse(const char **p, const char **opaque, size_t *olen)
{
	const char *s = *p;

	if (s[0] == 'W' && s[1] == '/')
		s += 2;
	if (*s != '"')
		return false;
	s++;
	*opaque = s;
	while (etagc((unsigned char) *s))
		s++;
	if (*s != '"')
		return false;
	*olen = (size_t) (s - *opaque);
	*p = s + 1;
	return true;
}

bool
hd_etag_matches(const char *if_none_match, const char *etag)
{
	const char *p = if_none_match;
	const char *mine;
	size_t		mlen;
	bool		matched = false;

	if (p == NULL || etag == NULL)
		return false;
	while (is_ows(*etag))
		etag++;
	if (!etag_parse(&etag, &mine, &mlen))
		return false;
	while (is_ows(*etag))
		etag++;
	if (*etag != '\0')
		return false;

	while (is_ows(*p))
		p++;
	if (*p == '*')
	{
		p++;
		while (is_ows(*p))
			p++;
		return *p == '\0';
	}
	/* the whole list must be well formed; empty elements are allowed */
	for (;;)
	{
		const char *o;
		size_t		olen;

		while (is_ows(*p))
			p++;
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (!etag_parse(&p, &o, &olen))
			return false;
		if (olen == mlen && memcmp(o, mine, mlen) == 0)
			matched = true;
		while (is_ows(*p))
			p++;
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return false;
	}
	return matched;
}

/* ---- gzip ---- */

static pthread_key_t stream_key;
static pthread_once_t stream_once = PTHREAD_ONCE_INIT;
static bool stream_key_ok = false;

static void
stream_free(void *p)
{
	deflateEnd((z_stream *) p);
	free(p);
}

static void
stream_key_create(void)
{
	stream_key_ok = pthread_key_create(&stream_key, stream_free) == 0;
}

/* this thread's deflate stream, reset for a new body; NULL when out of memory */
static z_stream *
thread_stream(void)
{
	z_stream   *zs;

	pthread_once(&stream_once, stream_key_create);
	if (!stream_key_ok)
		return NULL;
	zs = pthread_getspecific(stream_key);
	if (zs != NULL)
		return deflateReset(zs) == Z_OK ? zs : NULL;
	zs = calloc(1, sizeof(*zs));
	if (zs == NULL)
		return NULL;
	/* level 1: a tenth of level 6's CPU for a body a sixth larger; 15 + 16: a 32K window and the gzip wrapper */
	if (deflateInit2(zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
	{
		free(zs);
		return NULL;
	}
	if (pthread_setspecific(stream_key, zs) != 0)
	{
		stream_free(zs);
		return NULL;
	}
	return zs;
}

int
hd_gzip(const void *in, size_t len, void **out, size_t *outlen)
{
	static const unsigned char empty[1];
	const unsigned char *src = in ? in : empty;
	size_t		left = len;
	unsigned char *buf;
	size_t		cap;
	size_t		done = 0;
	z_stream   *zs;

	if (out == NULL || outlen == NULL)
		return -1;
	*out = NULL;
	*outlen = 0;
	if (in == NULL && len > 0)
		return -1;
	if ((zs = thread_stream()) == NULL)
		return -1;
	cap = (size_t) deflateBound(zs, (uLong) len);
	if (cap < 64)
		cap = 64;
	buf = malloc(cap);
	if (buf == NULL)
		return -1;

	/* zlib counts in uInt: hand it the input and the room in pieces */
	for (;;)
	{
		uInt		room;
		int			rc;

		if (zs->avail_in == 0 && left > 0)
		{
			uInt		chunk = left > UINT_MAX ? UINT_MAX : (uInt) left;

			zs->next_in = src;
			zs->avail_in = chunk;
			src += chunk;
			left -= chunk;
		}
		if (done == cap)
		{
			unsigned char *nb;

			if (cap > SIZE_MAX / 2 || (nb = realloc(buf, cap * 2)) == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		room = cap - done > UINT_MAX ? UINT_MAX : (uInt) (cap - done);
		zs->next_out = buf + done;
		zs->avail_out = room;
		rc = deflate(zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
		done += room - zs->avail_out;
		if (rc == Z_STREAM_END)
		{
			*out = buf;
			*outlen = done;
			return 0;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			break;
	}
	free(buf);
	return -1;
}

