/*
 * tokens.c — who is calling: SHA-256 (nettle's sha256, the same digest
 * the token file has always held), hex, constant-time comparison, the
 * token file ("<sha256 hex> <role>" lines) and its lookup, and the bearer
 * token of an Authorization header.
 *
 * Every input may be hostile: no function aborts, reads past a NUL or a
 * given length, or keeps anything it allocates unless it hands it back.
 */
#include "tokens.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "strutil.h"

/* ---- SHA-256 ---- */

void
hd_sha256(const void *data, size_t len, uint8_t out[32])
{
	struct sha256_ctx ctx;
	static const uint8_t empty[1];

	sha256_init(&ctx);
	/* nettle takes any length at once, in pieces of its own */
	sha256_update(&ctx, len, data ? data : empty);
	sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
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
hd_tokens_lookup_hash(const HdTokens *t, const uint8_t hash[32])
{
	size_t		found = 0;		/* index + 1 of the match; 0: none */

	if (t == NULL || t->items == NULL || t->n <= 0 || hash == NULL)
		return NULL;
	/* every entry, and the match is selected with a mask, not a branch */
	for (int i = 0; i < t->n; i++)
	{
		size_t		mask = (size_t) 0 - (size_t) hd_consttime_eq(hash, t->items[i].hash, 32);

		found = (found & ~mask) | (((size_t) i + 1) & mask);
	}
	return found ? t->items[found - 1].role : NULL;
}

const char *
hd_tokens_lookup(const HdTokens *t, const char *token, size_t len)
{
	uint8_t		hash[32];

	if (t == NULL || t->items == NULL || t->n <= 0 || token == NULL)
		return NULL;
	hd_sha256(token, len, hash);
	return hd_tokens_lookup_hash(t, hash);
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

