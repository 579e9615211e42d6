/*
 * util.c — perfopt-httpd's pure-C helpers (httpd_util.h): hex and
 * constant-time comparison, the token file, bearer tokens, Accept-Encoding
 * and gzip, ETags, pagination cursors, strict decimals, the route table,
 * request-body checks, JSON escaping, token buckets and the SQLSTATE to
 * HTTP status map.  SHA-256 itself is in sha256.c.
 *
 * Every input may be hostile: no function aborts, reads past a NUL or a
 * given length, or keeps anything it allocates unless it hands it back.
 */
#include "httpd_util.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#define ZLIB_CONST
#include <zlib.h>

/* ---- small helpers ---- */

static void hd_err(char *err, size_t errsize, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* fmt into err when there is room for anything */
static void
hd_err(char *err, size_t errsize, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || errsize == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* s[0..n) equals the lower-case literal lit, ignoring ASCII case */
static bool
ncase_eq(const char *s, size_t n, const char *lit)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || ascii_lower(s[i]) != lit[i])
			return false;
	return lit[i] == '\0';
}

static int
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
static size_t
bounded_len(const char *s, size_t max)
{
	size_t		n = 0;

	while (n <= max && s[n] != '\0')
		n++;
	return n;
}

/*
 * s[0..n) as a canonical decimal: digits, no leading zero, "-" first only
 * when allow_minus ("-0" no), within int64.
 */
static bool
parse_dec(const char *s, size_t n, bool allow_minus, int64_t *v)
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

/* ---- hex and comparison ---- */

void
hd_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	if (out == NULL)
		return;
	if (in == NULL)
		len = 0;
	for (size_t i = 0; i < len; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

bool
hd_consttime_eq(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a;
	const volatile uint8_t *y = b;
	volatile uint8_t diff = 0;

	if (len == 0)
		return true;
	if (a == NULL || b == NULL)
		return false;
	/* every byte, whatever the earlier ones were */
	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* ---- the token file ---- */

static bool
role_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
role_char(char c)
{
	return role_start(c) || is_digit(c);
}

/* one more slot in items/lines; false when out of memory */
static bool
tokens_grow(HdToken **items, size_t **lines, int n, int *cap)
{
	int			newcap;
	HdToken    *ni;
	size_t	   *nl;

	if (n < *cap)
		return true;
	if (*cap >= INT_MAX / 2)
		return false;
	newcap = *cap ? *cap * 2 : 16;
	ni = realloc(*items, (size_t) newcap * sizeof(HdToken));
	if (ni == NULL)
		return false;
	*items = ni;
	nl = realloc(*lines, (size_t) newcap * sizeof(size_t));
	if (nl == NULL)
		return false;
	*lines = nl;
	*cap = newcap;
	return true;
}

/*
 * One line text[b..e) (no '\n'); adds its token or returns false with err.
 * Blank lines and comments add nothing.
 */
static bool
tokens_line(const char *text, size_t b, size_t e, size_t lineno,
			HdToken **items, size_t **lines, int *n, int *cap,
			char *err, size_t errsize)
{
	uint8_t		hash[32];
	size_t		h;
	size_t		r;
	size_t		rlen;

	if (e > b && text[e - 1] == '\r')
		e--;
	while (b < e && is_ows(text[b]))
		b++;
	while (e > b && is_ows(text[e - 1]))
		e--;
	if (b == e || text[b] == '#')
		return true;

	/* the hash */
	h = b;
	while (b < e && !is_ows(text[b]))
		b++;
	if (b - h != 64)
	{
		hd_err(err, errsize, "line %zu: the hash must be 64 hex digits (the sha256 of the token)", lineno);
		return false;
	}
	for (int i = 0; i < 32; i++)
	{
		int			hi = hex_value(text[h + 2 * i]);
		int			lo = hex_value(text[h + 2 * i + 1]);

		if (hi < 0 || lo < 0)
		{
			hd_err(err, errsize, "line %zu: the hash must be 64 hex digits (the sha256 of the token)", lineno);
			return false;
		}
		hash[i] = (uint8_t) (hi << 4 | lo);
	}
	if (b == e)
	{
		hd_err(err, errsize, "line %zu: no role after the hash", lineno);
		return false;
	}

	/* the role */
	while (b < e && is_ows(text[b]))
		b++;
	r = b;
	while (b < e && !is_ows(text[b]))
		b++;
	if (b != e)
	{
		hd_err(err, errsize, "line %zu: unexpected text after the role", lineno);
		return false;
	}
	rlen = b - r;
	for (size_t i = 0; i < rlen; i++)
		if (i == 0 ? !role_start(text[r]) : !role_char(text[r + i]))
		{
			hd_err(err, errsize, "line %zu: the role must be letters, digits and '_', not starting with a digit", lineno);
			return false;
		}
	if (rlen >= sizeof((*items)->role))
	{
		hd_err(err, errsize, "line %zu: the role is longer than %zu characters",
			   lineno, sizeof((*items)->role) - 1);
		return false;
	}

	for (int i = 0; i < *n; i++)
		if (memcmp((*items)[i].hash, hash, 32) == 0)
		{
			hd_err(err, errsize, "line %zu: duplicate hash (also on line %zu)", lineno, (*lines)[i]);
			return false;
		}

	if (!tokens_grow(items, lines, *n, cap))
	{
		hd_err(err, errsize, "line %zu: out of memory", lineno);
		return false;
	}
	memcpy((*items)[*n].hash, hash, 32);
	memcpy((*items)[*n].role, text + r, rlen);
	(*items)[*n].role[rlen] = '\0';
	(*lines)[*n] = lineno;
	(*n)++;
	return true;
}

int
hd_tokens_parse(const char *text, size_t len, HdTokens *out, char *err, size_t errsize)
{
	HdToken    *items = NULL;
	size_t	   *lines = NULL;
	int			n = 0;
	int			cap = 0;
	size_t		pos = 0;
	size_t		lineno = 0;
	bool		ok = true;

	hd_err(err, errsize, "%s", "");
	if (out == NULL)
	{
		hd_err(err, errsize, "line 0: nowhere to put the tokens");
		return -1;
	}
	out->n = 0;
	out->items = NULL;
	if (text == NULL)
		len = 0;

	while (ok && pos < len)
	{
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t		end = nl ? (size_t) (nl - text) : len;

		lineno++;
		ok = tokens_line(text, pos, end, lineno, &items, &lines, &n, &cap, err, errsize);
		pos = nl ? end + 1 : len;
	}
	free(lines);
	if (!ok)
	{
		free(items);
		return -1;
	}
	if (n == 0)
	{
		free(items);
		items = NULL;
	}
	out->n = n;
	out->items = items;
	return 0;
}

void
hd_tokens_free(HdTokens *t)
{
	if (t == NULL)
		return;
	free(t->items);
	t->items = NULL;
	t->n = 0;
}

const char *
hd_tokens_lookup(const HdTokens *t, const char *token, size_t len)
{
	uint8_t		hash[32];
	size_t		found = 0;		/* index + 1 of the match; 0: none */

	if (t == NULL || t->items == NULL || t->n <= 0 || token == NULL)
		return NULL;
	hd_sha256(token, len, hash);
	/* every entry, and the match is selected with a mask, not a branch */
	for (int i = 0; i < t->n; i++)
	{
		size_t		mask = (size_t) 0 - (size_t) hd_consttime_eq(hash, t->items[i].hash, 32);

		found = (found & ~mask) | (((size_t) i + 1) & mask);
	}
	return found ? t->items[found - 1].role : NULL;
}

/* ---- bearer tokens ---- */

#define HD_BEARER_MAX 4096

static bool
bearer_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

bool
hd_bearer(const char *header, const char **token, size_t *len)
{
	const char *p = header;
	const char *t;
	size_t		n = 0;

	if (token)
		*token = NULL;
	if (len)
		*len = 0;
	if (p == NULL)
		return false;
	while (is_ows(*p))
		p++;
	if (bounded_len(p, 6) < 6 || !ncase_eq(p, 6, "bearer"))
		return false;
	p += 6;
	if (*p != ' ')
		return false;
	while (*p == ' ')
		p++;
	t = p;
	while (bearer_char(*p))
	{
		if (++n > HD_BEARER_MAX)
			return false;
		p++;
	}
	if (n == 0)
		return false;
	while (is_ows(*p))
		p++;
	if (*p != '\0')
		return false;
	if (token)
		*token = t;
	if (len)
		*len = n;
	return true;
}

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

int
hd_gzip(const void *in, size_t len, void **out, size_t *outlen)
{
	static const unsigned char empty[1];
	const unsigned char *src = in ? in : empty;
	size_t		left = len;
	unsigned char *buf;
	size_t		cap;
	size_t		done = 0;
	z_stream	zs;

	if (out == NULL || outlen == NULL)
		return -1;
	*out = NULL;
	*outlen = 0;
	if (in == NULL && len > 0)
		return -1;
	memset(&zs, 0, sizeof(zs));
	/* 15 + 16: a 32K window and the gzip header and trailer */
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = (size_t) deflateBound(&zs, (uLong) len);
	if (cap < 64)
		cap = 64;
	buf = malloc(cap);
	if (buf == NULL)
	{
		deflateEnd(&zs);
		return -1;
	}

	/* zlib counts in uInt: hand it the input and the room in pieces */
	for (;;)
	{
		uInt		room;
		int			rc;

		if (zs.avail_in == 0 && left > 0)
		{
			uInt		chunk = left > UINT_MAX ? UINT_MAX : (uInt) left;

			zs.next_in = src;
			zs.avail_in = chunk;
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
		zs.next_out = buf + done;
		zs.avail_out = room;
		rc = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
		done += room - zs.avail_out;
		if (rc == Z_STREAM_END)
		{
			deflateEnd(&zs);
			*out = buf;
			*outlen = done;
			return 0;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			break;
	}
	deflateEnd(&zs);
	free(buf);
	return -1;
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
		!parse_dec((const char *) raw + 3, rlen - 3, false, &v))
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
	return parse_dec(s, bounded_len(s, 20), true, v);
}

bool
hd_parse_limit(const char *s, int *limit)
{
	int64_t		v;

	if (s == NULL || !parse_dec(s, bounded_len(s, 19), false, &v) || v < 1 || v > 1000)
		return false;
	if (limit)
		*limit = (int) v;
	return true;
}

/* ---- routes ---- */

#define GET_HEAD (HD_METHOD_GET | HD_METHOD_HEAD)

typedef struct HdRouteDef
{
	const char *path;			/* the template for HD_ALERT_RESOLVE */
	unsigned	methods;
} HdRouteDef;

static const HdRouteDef hd_routes[] = {
	[HD_ROUTE_NONE] = {"none", 0},
	[HD_STATUS] = {"/api/v1/performance/status", GET_HEAD},
	[HD_OPTIMIZE] = {"/api/v1/performance/optimize", HD_METHOD_POST},
	[HD_HISTORY] = {"/api/v1/performance/history", GET_HEAD},
	[HD_RECOMMENDATIONS] = {"/api/v1/performance/recommendations", GET_HEAD},
	[HD_METRICS] = {"/api/v1/performance/metrics", GET_HEAD},
	[HD_ALERTS] = {"/api/v1/performance/alerts", GET_HEAD},
	[HD_ALERT_RESOLVE] = {"/api/v1/performance/alerts/{id}/resolve", HD_METHOD_POST},
	[HD_ALERTS_RESOLVE] = {"/api/v1/performance/alerts/resolve", HD_METHOD_POST},
	[HD_THRESHOLDS] = {"/api/v1/performance/thresholds", GET_HEAD | HD_METHOD_PUT},
	[HD_DATABASE] = {"/api/v1/performance/database", GET_HEAD},
	[HD_DATABASE_OPTIMIZE] = {"/api/v1/performance/database/optimize", HD_METHOD_POST},
	[HD_API] = {"/api/v1/performance/api", GET_HEAD},
	[HD_MONITORING_START] = {"/api/v1/performance/monitoring/start", HD_METHOD_POST},
	[HD_MONITORING_STOP] = {"/api/v1/performance/monitoring/stop", HD_METHOD_POST},
	[HD_PROMETHEUS] = {"/metrics", GET_HEAD},
	[HD_HEALTHZ] = {"/healthz", GET_HEAD},
};

#define HD_NROUTES ((int) (sizeof(hd_routes) / sizeof(hd_routes[0])))
#define HD_PATH_MAX 256
#define ALERT_PREFIX "/api/v1/performance/alerts/"
#define ALERT_SUFFIX "/resolve"

HdRoute
hd_route_match(const char *path, int64_t *id)
{
	size_t		n;
	size_t		plen = strlen(ALERT_PREFIX);
	size_t		slen = strlen(ALERT_SUFFIX);
	int64_t		v;

	if (path == NULL)
		return HD_ROUTE_NONE;
	n = bounded_len(path, HD_PATH_MAX);
	if (n == 0 || n > HD_PATH_MAX || path[0] != '/')
		return HD_ROUTE_NONE;
	if (strstr(path, "//") != NULL || strstr(path, "..") != NULL)
		return HD_ROUTE_NONE;
	if (n > 1 && path[n - 1] == '/')
		n--;

	for (int r = 1; r < HD_NROUTES; r++)
	{
		if (r == HD_ALERT_RESOLVE)
			continue;
		if (strlen(hd_routes[r].path) == n && memcmp(hd_routes[r].path, path, n) == 0)
			return (HdRoute) r;
	}
	if (n > plen + slen &&
		memcmp(path, ALERT_PREFIX, plen) == 0 &&
		memcmp(path + n - slen, ALERT_SUFFIX, slen) == 0 &&
		parse_dec(path + plen, n - plen - slen, false, &v) && v >= 1)
	{
		if (id)
			*id = v;
		return HD_ALERT_RESOLVE;
	}
	return HD_ROUTE_NONE;
}

unsigned
hd_route_methods(HdRoute r)
{
	if ((int) r < 0 || (int) r >= HD_NROUTES)
		return 0;
	return hd_routes[r].methods;
}

int
hd_method_bit(const char *method)
{
	if (method == NULL)
		return 0;
	if (strcmp(method, "GET") == 0)
		return HD_METHOD_GET;
	if (strcmp(method, "POST") == 0)
		return HD_METHOD_POST;
	if (strcmp(method, "PUT") == 0)
		return HD_METHOD_PUT;
	if (strcmp(method, "HEAD") == 0)
		return HD_METHOD_HEAD;
	return 0;
}

void
hd_allow_header(unsigned methods, char *out, size_t size)
{
	static const struct
	{
		unsigned	bit;
		const char *name;
	}			order[] = {
		{HD_METHOD_GET, "GET"},
		{HD_METHOD_HEAD, "HEAD"},
		{HD_METHOD_POST, "POST"},
		{HD_METHOD_PUT, "PUT"},
	};
	char		buf[32] = "";
	size_t		n = 0;

	if (out == NULL || size == 0)
		return;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
	{
		if (!(methods & order[i].bit))
			continue;
		n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? ", " : "", order[i].name);
	}
	/* all of it or nothing: a cut method name would be wrong */
	if (n < size)
		memcpy(out, buf, n + 1);
	else
		out[0] = '\0';
}

const char *
hd_route_name(HdRoute r)
{
	if ((int) r <= 0 || (int) r >= HD_NROUTES)
		return "none";
	return hd_routes[r].path;
}

bool
hd_route_mutates(HdRoute r, int method_bit)
{
	if (method_bit != HD_METHOD_POST && method_bit != HD_METHOD_PUT)
		return false;
	return (hd_route_methods(r) & (unsigned) method_bit) != 0;
}

/* ---- request text ---- */

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

/* ---- request bodies ---- */

static bool
json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * A "\u0000" escape inside a JSON string of s[0..len): cJSON reads it as
 * the end of the string (a key "a\u0000b" becomes "a"), jsonb refuses it.
 * "\\u0000" is an escaped backslash and then text, not the escape.
 */
static bool
json_nul_escape(const char *s, size_t len)
{
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		if (!in_string)
			in_string = s[i] == '"';
		else if (s[i] == '"')
			in_string = false;
		else if (s[i] == '\\')
		{
			if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
				return true;
			i++;				/* the escaped character */
		}
	}
	return false;
}

/*
 * body[0..len) as one JSON value with nothing but whitespace after it, or
 * NULL with err.  cJSON reads a NUL-terminated copy, so it cannot run past
 * the body whatever it does.
 */
static cJSON *
parse_body(const char *body, size_t len, char *err, size_t errsize)
{
	char	   *copy;
	const char *end = NULL;
	cJSON	   *root;

	if (body == NULL || len == 0 || len == SIZE_MAX)
	{
		hd_err(err, errsize, "body: not valid JSON");
		return NULL;
	}
	if (memchr(body, '\0', len) != NULL)
	{
		hd_err(err, errsize, "body: not valid JSON (a NUL byte)");
		return NULL;
	}
	/* PostgreSQL would refuse both, as a server error rather than bad input */
	if (!hd_utf8_valid(body, len))
	{
		hd_err(err, errsize, "body: not valid UTF-8");
		return NULL;
	}
	if (json_nul_escape(body, len))
	{
		hd_err(err, errsize, "body: \\u0000 is not allowed (jsonb cannot store it)");
		return NULL;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
	{
		hd_err(err, errsize, "body: out of memory");
		return NULL;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len, &end, false);
	if (root != NULL)
	{
		while (end < copy + len && json_ws(*end))
			end++;
		if (end != copy + len)
		{
			cJSON_Delete(root);
			root = NULL;
		}
	}
	free(copy);
	if (root == NULL)
		hd_err(err, errsize, "body: not valid JSON");
	return root;
}

int
hd_check_json_object(const char *body, size_t len, char *err, size_t errsize)
{
	cJSON	   *root;
	bool		ok;

	hd_err(err, errsize, "%s", "");
	root = parse_body(body, len, err, errsize);
	if (root == NULL)
		return -1;
	ok = cJSON_IsObject(root);
	cJSON_Delete(root);
	if (!ok)
	{
		hd_err(err, errsize, "body: must be a JSON object");
		return -1;
	}
	return 0;
}

/* the raw key k[0..n) (escapes and all) spells exactly "ids" */
static bool
raw_key_is_ids(const char *k, size_t n)
{
	static const char want[] = "ids";
	size_t		i = 0;
	size_t		got = 0;

	while (i < n)
	{
		unsigned	c;

		if (k[i] == '\\')
		{
			if (n - i < 6 || k[i + 1] != 'u')
				return false;
			c = 0;
			for (int j = 2; j < 6; j++)
			{
				int			h = hex_value(k[i + j]);

				if (h < 0)
					return false;
				c = c * 16 + (unsigned) h;
			}
			i += 6;
		}
		else
			c = (unsigned char) k[i++];
		if (got >= 3 || c != (unsigned char) want[got])
			return false;
		got++;
	}
	return got == 3;
}

/*
 * The raw text of a document cJSON read as {"<key>": [...]}: a pointer
 * just past the '[', with *key and *klen the raw key; NULL if it is not.
 */
static const char *
raw_array_start(const char *s, const char *end, const char **key, size_t *klen)
{
	/* cJSON skips a UTF-8 byte order mark and anything <= ' ' */
	if (end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (s < end && (unsigned char) *s <= ' ')
		s++;
	if (s == end || *s++ != '{')
		return NULL;
	while (s < end && (unsigned char) *s <= ' ')
		s++;
	if (s == end || *s++ != '"')
		return NULL;
	*key = s;
	while (s < end && *s != '"')
		s += (*s == '\\' && end - s >= 2) ? 2 : 1;
	if (s >= end)
		return NULL;
	*klen = (size_t) (s - *key);
	s++;
	while (s < end && (unsigned char) *s <= ' ')
		s++;
	if (s == end || *s++ != ':')
		return NULL;
	while (s < end && (unsigned char) *s <= ' ')
		s++;
	if (s == end || *s++ != '[')
		return NULL;
	return s;
}

static bool
number_char(char c)
{
	return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

int
hd_parse_ids(const char *body, size_t len, int max, int64_t **ids, int *n,
			 char *err, size_t errsize)
{
	cJSON	   *root;
	const cJSON *item;
	const cJSON *arr = NULL;
	const char *end;
	const char *p;
	const char *key;
	size_t		klen;
	size_t		count = 0;
	int64_t    *out = NULL;
	int			i = 0;

	hd_err(err, errsize, "%s", "");
	if (ids == NULL || n == NULL)
	{
		hd_err(err, errsize, "ids: nowhere to put them");
		return -1;
	}
	*ids = NULL;
	*n = 0;
	root = parse_body(body, len, err, errsize);
	if (root == NULL)
		return -1;
	if (!cJSON_IsObject(root))
	{
		hd_err(err, errsize, "body: must be a JSON object {\"ids\": [...]}");
		goto fail;
	}
	cJSON_ArrayForEach(item, root)
	{
		if (item->string == NULL || strcmp(item->string, "ids") != 0)
		{
			hd_err(err, errsize, "%.64s: unknown key", item->string ? item->string : "");
			goto fail;
		}
		if (arr != NULL)
		{
			hd_err(err, errsize, "ids: given twice");
			goto fail;
		}
		arr = item;
	}
	if (arr == NULL)
	{
		hd_err(err, errsize, "ids: missing");
		goto fail;
	}
	if (!cJSON_IsArray(arr))
	{
		hd_err(err, errsize, "ids: must be an array of positive integers");
		goto fail;
	}
	cJSON_ArrayForEach(item, arr)
	{
		if (++count > (size_t) (max > 0 ? max : 0))
			break;
	}
	if (count == 0)
	{
		hd_err(err, errsize, "ids: must not be empty");
		goto fail;
	}
	if (count > (size_t) (max > 0 ? max : 0))
	{
		hd_err(err, errsize, "ids: at most %d ids", max > 0 ? max : 0);
		goto fail;
	}

	/*
	 * cJSON keeps numbers as doubles only: the digits are read from the
	 * text, which is exactly {"ids": [n, n, ...]} by now.
	 */
	end = body + len;
	p = raw_array_start(body, end, &key, &klen);
	if (p == NULL || !raw_key_is_ids(key, klen))
	{
		hd_err(err, errsize, "body: only the key \"ids\" is allowed");
		goto fail;
	}
	out = malloc(count * sizeof(int64_t));
	if (out == NULL)
	{
		hd_err(err, errsize, "ids: out of memory");
		goto fail;
	}
	cJSON_ArrayForEach(item, arr)
	{
		const char *t;

		while (p < end && (unsigned char) *p <= ' ')
			p++;
		t = p;
		while (p < end && number_char(*p))
			p++;
		if (!cJSON_IsNumber(item) || !parse_dec(t, (size_t) (p - t), false, &out[i]) ||
			out[i] < 1)
		{
			hd_err(err, errsize, "ids[%d]: must be a positive integer", i);
			goto fail;
		}
		i++;
		while (p < end && (unsigned char) *p <= ' ')
			p++;
		if (p == end || (*p != ',' && *p != ']'))
		{
			/* cannot happen after cJSON read it; refuse rather than guess */
			hd_err(err, errsize, "body: not valid JSON");
			goto fail;
		}
		p++;
	}
	cJSON_Delete(root);
	*ids = out;
	*n = i;
	return 0;

fail:
	free(out);
	cJSON_Delete(root);
	return -1;
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

/* ---- rate limits ---- */

#define HD_RETRY_MAX 86400

bool
hd_bucket_take(HdBucket *b, double now, double rate, double burst, int *retry_after)
{
	double		wait;

	if (retry_after)
		*retry_after = 1;
	if (b == NULL || !isfinite(now) || !isfinite(rate) || !isfinite(burst) ||
		rate <= 0 || burst < 1)
		return false;
	/* fresh, or damaged: full */
	if (b->last == 0 || !isfinite(b->last) || !isfinite(b->tokens))
	{
		b->tokens = burst;
		b->last = now;
	}
	else if (now > b->last)
	{
		/* a clock that goes back refills nothing */
		b->tokens += (now - b->last) * rate;
		b->last = now;
	}
	if (!(b->tokens <= burst))
		b->tokens = burst;
	if (b->tokens < 0)
		b->tokens = 0;
	if (b->tokens >= 1)
	{
		b->tokens -= 1;
		if (retry_after)
			*retry_after = 0;
		return true;
	}
	wait = (1 - b->tokens) / rate;
	if (retry_after)
	{
		if (!(wait < HD_RETRY_MAX))
			*retry_after = HD_RETRY_MAX;
		else
		{
			int			s = (int) wait;

			if (s < wait)
				s++;
			*retry_after = s < 1 ? 1 : s;
		}
	}
	return false;
}

/* ---- errors ---- */

int
hd_status_for_sqlstate(const char *sqlstate)
{
	static const struct
	{
		const char *code;		/* five characters, or a two-character class */
		int			status;
	}			map[] = {
		{"42501", 403},
		{"22023", 400},
		{"22P02", 400},
		{"22004", 400},
		{"22003", 400},
		{"22007", 400},
		{"22008", 400},
		{"P0002", 404},
		{"55P03", 409},
		{"57014", 409},
		{"25006", 409},
		{"55000", 409},
		{"57P01", 503},
		{"57P02", 503},
		{"57P03", 503},
		{"53", 503},
		{"08", 503},
	};
	const char *s = sqlstate;

	if (s == NULL)
		return 500;
	for (int i = 0; i < 5; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'A' && s[i] <= 'Z'))
			return 500;
	if (s[5] != '\0')
		return 500;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(s, map[i].code, strlen(map[i].code)) == 0)
			return map[i].status;
	return 500;
}

/*
 * Short descriptions by SQLSTATE, then by class.  An error body carries
 * one of these instead of the server's message, which may quote row
 * values (invalid input syntax for type integer: "<value>").
 */
const char *
hd_sqlstate_description(const char *sqlstate)
{
	static const struct
	{
		const char *code;		/* five characters, or a two-character class */
		const char *text;
	}			map[] = {
		{"42501", "insufficient privilege: the token's role may not do this"},
		{"22023", "invalid parameter value"},
		{"22P02", "invalid text representation"},
		{"22004", "null value not allowed"},
		{"22003", "numeric value out of range"},
		{"22007", "invalid datetime format"},
		{"22008", "datetime field overflow"},
		{"22021", "character not in repertoire"},
		{"P0002", "not found"},
		{"55P03", "lock not available: another operation holds it"},
		{"57014", "canceled: the statement took too long"},
		{"25006", "read-only transaction: this server does not accept changes"},
		{"55000", "object not in prerequisite state"},
		{"57P01", "the database server is shutting down"},
		{"57P02", "the database server crashed"},
		{"57P03", "the database server cannot take connections now"},
		{"3F000", "invalid schema name"},
		{"42883", "undefined function"},
		{"42P01", "undefined table"},
		{"08", "connection exception"},
		{"22", "data exception"},
		{"23", "integrity constraint violation"},
		{"25", "invalid transaction state"},
		{"40", "transaction rollback"},
		{"42", "syntax error or access rule violation"},
		{"53", "insufficient resources"},
		{"54", "program limit exceeded"},
		{"55", "object not in prerequisite state"},
		{"57", "operator intervention"},
		{"P0", "PL/pgSQL error"},
		{"XX", "internal error"},
	};
	const char *s = sqlstate;

	if (s == NULL)
		return "internal error";
	for (int i = 0; i < 5; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'A' && s[i] <= 'Z'))
			return "internal error";
	if (s[5] != '\0')
		return "internal error";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(s, map[i].code, strlen(map[i].code)) == 0)
			return map[i].text;
	return "internal error";
}

bool
hd_message_is_perfopt(const char *message)
{
	const char *p = message;

	if (p == NULL || strncmp(p, "perfopt", 7) != 0)
		return false;
	p += 7;
	/* "perfopt_<function>: ...": one of perfopt's SQL functions names itself */
	if (*p == '_')
	{
		p++;
		if (!(*p >= 'a' && *p <= 'z'))
			return false;
		while ((*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '_')
			p++;
	}
	return p[0] == ':' && p[1] == ' ';
}

/* ---- the SQL the shim sends ---- */

int
hd_sql_call(const char *tmpl, const char *schema, int nparams, const char *const *params,
			HdQuoteFn quote, HdFreeFn release, void *ctx, char **out)
{
	char	   *lits[HD_SQL_MAX_PARAMS] = {NULL};
	size_t		need = 1;
	size_t		len = 0;
	char	   *sql = NULL;
	int			rc = 0;

	if (out)
		*out = NULL;
	if (out == NULL || tmpl == NULL || nparams < 0 || nparams > HD_SQL_MAX_PARAMS ||
		(nparams > 0 && (params == NULL || quote == NULL)))
		return -2;
	/* a parameter that cannot be quoted is refused, never inlined as NULL */
	for (int i = 0; i < nparams; i++)
		if (params[i] != NULL && (lits[i] = quote(ctx, params[i], strlen(params[i]))) == NULL)
		{
			rc = -1;
			goto done;
		}

	/* two passes over the template only: what was inserted is never scanned */
	for (int pass = 0; pass < 2; pass++)
	{
		for (const char *p = tmpl; *p; p++)
		{
			const char *piece = NULL;

			if (p[0] == '$' && p[1] == 'S')
				piece = schema;
			else if (p[0] == '$' && p[1] >= '1' && p[1] <= '9')
			{
				int			k = p[1] - '1';

				if (k >= nparams)
				{
					rc = -2;
					goto done;
				}
				piece = lits[k] ? lits[k] : "NULL";
			}
			else
			{
				if (pass == 0)
					need++;
				else
					sql[len++] = *p;
				continue;
			}
			if (piece == NULL)
			{
				rc = -2;
				goto done;
			}
			if (pass == 0)
				need += strlen(piece);
			else
			{
				memcpy(sql + len, piece, strlen(piece));
				len += strlen(piece);
			}
			p++;
		}
		if (pass == 0 && (sql = malloc(need)) == NULL)
		{
			rc = -2;
			goto done;
		}
	}
	sql[len] = '\0';
	*out = sql;
	sql = NULL;

done:
	free(sql);
	for (int i = 0; i < nparams && i < HD_SQL_MAX_PARAMS; i++)
		if (lits[i] && release)
			release(ctx, lits[i]);
	return rc;
}

char *
hd_sql_request(bool read_only, const char *role, int timeout_ms, const char *call)
{
	static const char fmt[] =
		HD_SQL_TAG "BEGIN%s; "
		HD_SQL_TAG "SET LOCAL search_path = pg_catalog, pg_temp; "
		HD_SQL_TAG "SET LOCAL ROLE %s; "
		HD_SQL_TAG "SET LOCAL statement_timeout = %d; "
		HD_SQL_TAG "%s; "
		HD_SQL_TAG "COMMIT; "
		HD_SQL_RESET;
	size_t		size;
	char	   *sql;

	if (role == NULL || call == NULL || role[0] == '\0' || call[0] == '\0')
		return NULL;
	size = sizeof(fmt) + strlen(role) + strlen(call) + 32;
	sql = malloc(size);
	if (sql == NULL)
		return NULL;
	snprintf(sql, size, fmt, read_only ? " READ ONLY" : "", role, timeout_ms < 0 ? 0 : timeout_ms, call);
	return sql;
}
