/*
 * test_httpd_util.c — perfopt-httpd's helpers: SHA-256 against the FIPS
 * vectors, the token file and lookups, bearer tokens, Accept-Encoding,
 * ETags, gzip (inflated back with zlib), cursors, strict decimals, the
 * route table, request text and bodies, JSON escaping, token buckets, the
 * SQL the shim sends, the SQLSTATE map and what error bodies may say.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "body.h"
#include "bucket.h"
#include "caching.h"
#include "errors.h"
#include "params.h"
#include "routes.h"
#include "sql.h"
#include "text.h"
#include "timearg.h"
#include "tokens.h"

static int	passed = 0;
static int	failed = 0;

static void
check(int ok, const char *what)
{
	if (ok)
		passed++;
	else
	{
		failed++;
		printf("not ok: %s\n", what);
	}
}

/* the hex sha256 of data */
static void
sha_hex(const void *data, size_t len, char out[65])
{
	uint8_t		h[32];

	hd_sha256(data, len, h);
	hd_hex(h, 32, out);
}

static void
sha_case(const void *data, size_t len, const char *want, const char *what)
{
	char		got[65];
	char		msg[256];

	sha_hex(data, len, got);
	snprintf(msg, sizeof(msg), "sha256 %s: %s", what, got);
	check(strcmp(got, want) == 0, msg);
}

static void
test_sha256(void)
{
	char	   *million = malloc(1000000);
	char		as[128];
	uint8_t		a[4] = {1, 2, 3, 4};
	uint8_t		b[4] = {1, 2, 3, 5};
	char		hex[9];

	/* FIPS 180-4 examples */
	sha_case("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "\"\"");
	sha_case("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
	sha_case("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
			 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "448 bits");
	sha_case("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
			 "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
			 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1", "896 bits");
	if (million)
	{
		memset(million, 'a', 1000000);
		sha_case(million, 1000000,
				 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "a x 1000000");
		free(million);
	}
	else
		check(0, "malloc for the million a");

	/* the padding boundaries */
	memset(as, 'a', sizeof(as));
	sha_case(as, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318", "a x 55");
	sha_case(as, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a", "a x 56");
	sha_case(as, 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34", "a x 63");
	sha_case(as, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb", "a x 64");
	sha_case(as, 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0", "a x 65");
	sha_case(as, 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb", "a x 119");
	sha_case(as, 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c", "a x 120");

	hd_hex(a, 4, hex);
	check(strcmp(hex, "01020304") == 0, "hd_hex");
	hd_hex((const uint8_t *) "\xab\xff", 2, hex);
	check(strcmp(hex, "abff") == 0, "hd_hex is lower case");
	check(hd_consttime_eq(a, a, 4), "consttime_eq equal");
	check(!hd_consttime_eq(a, b, 4), "consttime_eq differ in the last byte");
	check(hd_consttime_eq(a, b, 3), "consttime_eq over a prefix");
	check(hd_consttime_eq(a, b, 0), "consttime_eq of nothing");
	check(!hd_consttime_eq(a, NULL, 4), "consttime_eq with NULL");
}

/* ---- the token file ---- */

/* a bad token file: refused with "line N:" and the problem, nothing kept */
static void
tokens_bad(const char *text, size_t len, int line, const char *problem)
{
	HdTokens	t = {7, (HdToken *) &t};
	char		err[256];
	char		prefix[32];
	char		what[512];
	int			rc;

	rc = hd_tokens_parse(text, len, &t, err, sizeof(err));
	snprintf(prefix, sizeof(prefix), "line %d: ", line);
	snprintf(what, sizeof(what), "token file refused at line %d with \"%s\": got %d, \"%s\"",
			 line, problem, rc, err);
	check(rc == -1 && strncmp(err, prefix, strlen(prefix)) == 0 &&
		  strstr(err, problem) != NULL && t.n == 0 && t.items == NULL, what);
	if (rc == 0)
		hd_tokens_free(&t);
}

static void
test_tokens(void)
{
	char		ha[65];
	char		hb[65];
	char		hc[65];
	char		text[2048];
	char		role63[64];
	char		role64[65];
	HdTokens	t;
	char		err[256];
	int			rc;

	sha_hex("secret-reader", 13, ha);
	sha_hex("secret-writer", 13, hb);
	sha_hex("secret-admin", 12, hc);
	/* the third in upper case */
	for (char *p = hc; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char) (*p - 'a' + 'A');
	memset(role63, 'r', 63);
	role63[63] = '\0';
	role63[0] = '_';
	snprintf(text, sizeof(text),
			 "# perfopt-httpd tokens\n"
			 "\n"
			 "   \t\n"
			 "  %s   reader  \n"
			 "\t%s\tperfopt_writer9\r\n"
			 "   # an indented comment\n"
			 "%s %s",
			 ha, hb, hc, role63);
	rc = hd_tokens_parse(text, strlen(text), &t, err, sizeof(err));
	check(rc == 0, "a good token file parses");
	check(t.n == 3, "three tokens");
	if (rc == 0 && t.n == 3)
	{
		check(strcmp(t.items[0].role, "reader") == 0, "role 1");
		check(strcmp(t.items[1].role, "perfopt_writer9") == 0, "role 2 (tabs, CRLF)");
		check(strcmp(t.items[2].role, role63) == 0, "role 3: 63 characters, no final newline");
		check(t.items[0].hash[0] == (uint8_t) (((ha[0] >= 'a' ? ha[0] - 'a' + 10 : ha[0] - '0') << 4) |
											   (ha[1] >= 'a' ? ha[1] - 'a' + 10 : ha[1] - '0')),
			  "hash bytes decoded");
		check(hd_tokens_lookup(&t, "secret-reader", 13) == t.items[0].role, "lookup reader");
		check(hd_tokens_lookup(&t, "secret-writer", 13) == t.items[1].role, "lookup writer");
		check(hd_tokens_lookup(&t, "secret-admin", 12) == t.items[2].role,
			  "lookup of an upper-case hash");
		check(hd_tokens_lookup(&t, "secret-reader", 12) == NULL, "lookup of a prefix misses");
		check(hd_tokens_lookup(&t, "secret-readex", 13) == NULL, "lookup miss");
		check(hd_tokens_lookup(&t, "", 0) == NULL, "lookup of the empty token misses");
		check(hd_tokens_lookup(&t, NULL, 3) == NULL, "lookup of NULL");
	}
	hd_tokens_free(&t);
	check(t.n == 0 && t.items == NULL, "freed");
	hd_tokens_free(&t);
	hd_tokens_free(NULL);
	check(hd_tokens_lookup(NULL, "x", 1) == NULL, "lookup in NULL");

	/* only len bytes are read: a good line followed by garbage */
	snprintf(text, sizeof(text), "%s reader\nnot a token line", ha);
	rc = hd_tokens_parse(text, 65 + 6, &t, err, sizeof(err));
	check(rc == 0 && t.n == 1 && hd_tokens_lookup(&t, "secret-reader", 13) != NULL,
		  "length-bounded token file");
	hd_tokens_free(&t);

	/* nothing but comments: no tokens, no error */
	rc = hd_tokens_parse("# none yet\n\n", 12, &t, err, sizeof(err));
	check(rc == 0 && t.n == 0 && t.items == NULL, "a file of comments has no tokens");
	rc = hd_tokens_parse("", 0, &t, err, sizeof(err));
	check(rc == 0 && t.n == 0 && t.items == NULL, "an empty file has no tokens");
	rc = hd_tokens_parse(NULL, 10, &t, err, sizeof(err));
	check(rc == 0 && t.n == 0, "NULL text has no tokens");
	check(hd_tokens_lookup(&t, "secret-reader", 13) == NULL, "lookup in an empty set");
	check(hd_tokens_parse("x", 1, NULL, err, sizeof(err)) == -1, "NULL out refused");

	/* bad lines, each with its line number */
	snprintf(text, sizeof(text), "# x\nabc reader\n");
	tokens_bad(text, strlen(text), 2, "64 hex digits");
	snprintf(text, sizeof(text), "%.63s reader\n", ha);
	tokens_bad(text, strlen(text), 1, "64 hex digits");
	snprintf(text, sizeof(text), "%s0 reader\n", ha);
	tokens_bad(text, strlen(text), 1, "64 hex digits");
	snprintf(text, sizeof(text), "\n\n%.63sg reader\n", ha);
	tokens_bad(text, strlen(text), 3, "64 hex digits");
	snprintf(text, sizeof(text), "%s reader\n%s\n", ha, hb);
	tokens_bad(text, strlen(text), 2, "no role");
	snprintf(text, sizeof(text), "%s   \t\n", ha);
	tokens_bad(text, strlen(text), 1, "no role");
	snprintf(text, sizeof(text), "%s 1reader\n", ha);
	tokens_bad(text, strlen(text), 1, "the role must be");
	snprintf(text, sizeof(text), "%s read-er\n", ha);
	tokens_bad(text, strlen(text), 1, "the role must be");
	snprintf(text, sizeof(text), "%s \"reader\"\n", ha);
	tokens_bad(text, strlen(text), 1, "the role must be");
	snprintf(text, sizeof(text), "%s reader writer\n", ha);
	tokens_bad(text, strlen(text), 1, "unexpected text after the role");
	memset(role64, 'r', 64);
	role64[64] = '\0';
	snprintf(text, sizeof(text), "%s %s\n", ha, role64);
	tokens_bad(text, strlen(text), 1, "longer than 63 characters");
	/* the same hash twice, once in upper case */
	snprintf(text, sizeof(text), "%s reader\n%s writer\n", hc, hc);
	for (size_t i = 0; i < 64; i++)
		if (text[i] >= 'A' && text[i] <= 'F')
			text[i] = (char) (text[i] - 'A' + 'a');
	tokens_bad(text, strlen(text), 2, "duplicate hash (also on line 1)");
	/* a NUL byte in a role */
	snprintf(text, sizeof(text), "%s reader\n", ha);
	text[68] = '\0';
	tokens_bad(text, 65 + 7, 1, "the role must be");
	/* err may be small or absent */
	check(hd_tokens_parse("zz r", 4, &t, err, 4) == -1 && strcmp(err, "lin") == 0,
		  "err truncated safely");
	check(hd_tokens_parse("zz r", 4, &t, NULL, 0) == -1, "no err buffer");
}

/* ---- bearer tokens ---- */

static void
bearer_good(const char *header, const char *token)
{
	const char *t = NULL;
	size_t		n = 0;
	char		what[256];

	snprintf(what, sizeof(what), "bearer accepted: [%.200s]", header);
	check(hd_bearer(header, &t, &n) && n == strlen(token) && memcmp(t, token, n) == 0, what);
}

static void
bearer_bad(const char *header, const char *what)
{
	const char *t = "x";
	size_t		n = 5;
	char		msg[256];

	snprintf(msg, sizeof(msg), "bearer refused: %s", what);
	check(!hd_bearer(header, &t, &n) && t == NULL && n == 0, msg);
}

static void
test_bearer(void)
{
	char	   *big = malloc(8 + 4097 + 1);

	bearer_good("Bearer abc", "abc");
	bearer_good("bearer   abc.def-_~+/==", "abc.def-_~+/==");
	bearer_good("BEARER x", "x");
	bearer_good("  Bearer tok \t", "tok");
	check(hd_bearer("Bearer abc", NULL, NULL), "bearer with NULL outputs");

	bearer_bad(NULL, "NULL");
	bearer_bad("", "empty");
	bearer_bad("abc", "missing scheme");
	bearer_bad("Basic dXNlcjpwYXNz", "Basic");
	bearer_bad("Bearer", "no token");
	bearer_bad("Bearer ", "empty token");
	bearer_bad("Bearer    ", "empty token, spaces");
	bearer_bad("Bearerabc", "no space");
	bearer_bad("Bearer\tabc", "a tab, not a space");
	bearer_bad("Bear abc", "short scheme");
	bearer_bad("Bearer ab c", "two words");
	bearer_bad("Bearer a\"b", "a quote");
	bearer_bad("Bearer a,b", "a comma");
	bearer_bad("Bearer a\nb", "a newline");
	bearer_bad("Bearer abc\r\n", "a CRLF after");
	bearer_bad("Bearer \xc3\xa9", "non-ASCII");

	if (big)
	{
		memcpy(big, "Bearer ", 7);
		memset(big + 7, 'A', 4096);
		big[7 + 4096] = '\0';
		check(hd_bearer(big, NULL, NULL), "a 4096-character token");
		big[7 + 4096] = 'A';
		big[7 + 4097] = '\0';
		bearer_bad(big, "a 4097-character token");
		free(big);
	}
}

/* ---- Accept-Encoding, ETags, gzip ---- */

static void
gz(const char *header, bool want)
{
	char		what[256];

	snprintf(what, sizeof(what), "Accept-Encoding [%s] -> %s",
			 header ? header : "(NULL)", want ? "gzip" : "no gzip");
	check(hd_accepts_gzip(header) == want, what);
}

static void
expo(const char *accept, bool want)
{
	char		what[256];

	snprintf(what, sizeof(what), "Accept [%s] -> %s", accept ? accept : "(NULL)", want ? "exposition" : "JSON");
	check(hd_prefers_exposition(accept) == want, what);
}

static void
test_accept(void)
{
	expo("text/plain; version=0.0.4", true);
	expo("text/plain;version=0.0.4; charset=utf-8", true);
	expo("text/plain", true);
	expo("TEXT/Plain", true);
	expo("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
		 "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", true);
	expo("application/json, text/plain;q=0.5", false);
	expo("text/plain, application/json", false);
	expo("text/plain;q=0.9, application/json;q=0.8", true);
	expo("text/plain;q=0", false);
	expo("text/plain;q=2", false);
	expo("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false);
	expo("*/*", false);
	expo("text/*", false);
	expo("application/json", false);
	expo("text/plainx", false);
	expo("", false);
	expo(NULL, false);
}

static void
test_accept_encoding(void)
{
	gz("gzip", true);
	gz("GZIP", true);
	gz("x-gzip", true);
	gz("X-Gzip", true);
	gz("gzip;q=0", false);
	gz("gzip;q=0.0", false);
	gz("gzip;q=0.000", false);
	gz("gzip;q=0.001", true);
	gz("gzip;q=0.5", true);
	gz("gzip; q=0.5", true);
	gz("gzip ; Q = 0.5 ", true);
	gz("gzip;q=1", true);
	gz("gzip;q=1.000", true);
	gz("gzip;q=1.5", false);		/* malformed q: the element is ignored */
	gz("gzip;q=0.0001", false);
	gz("gzip;q=abc", false);
	gz("gzip;q=", false);
	gz("gzip;level=9", true);
	gz("gzip;quality=0", true);
	gz("*", true);
	gz("*;q=0", false);
	gz("*;q=0.1", true);
	gz("deflate, gzip", true);
	gz("deflate,gzip", true);
	gz("  deflate ,  gzip  ", true);
	gz("br;q=1.0, gzip;q=0.8, *;q=0.1", true);
	gz("deflate, gzip;q=0, *", false);	/* gzip named: its q wins */
	gz("deflate, *;q=0", false);
	gz("deflate", false);
	gz("identity", false);
	gz("identity, deflate;q=0.5", false);
	gz("gzips", false);
	gz("gzi", false);
	gz("", false);
	gz(",,,", false);
	gz(NULL, false);
	gz("gzip;q=0, x-gzip", true);
}

static void
inm(const char *header, const char *etag, bool want)
{
	char		what[512];

	snprintf(what, sizeof(what), "If-None-Match [%s] vs %s -> %s",
			 header ? header : "(NULL)", etag ? etag : "(NULL)", want ? "match" : "no match");
	check(hd_etag_matches(header, etag) == want, what);
}

static void
test_etag(void)
{
	char		e[40];
	char		e2[40];
	char		h[256];
	char		weak[64];

	hd_etag("hello", 5, e);
	check(strcmp(e, "\"2cf24dba5fb0a30e26e83b2ac5b9e29e\"") == 0, "the ETag of hello");
	check(strlen(e) == 34, "an ETag is 34 characters");
	hd_etag("hello", 5, e2);
	check(strcmp(e, e2) == 0, "the same body, the same ETag");
	hd_etag("hellp", 5, e2);
	check(strcmp(e, e2) != 0, "another body, another ETag");
	hd_etag(NULL, 0, e2);
	check(strcmp(e2, "\"e3b0c44298fc1c149afbf4c8996fb924\"") == 0, "the ETag of nothing");

	inm(e, e, true);
	inm("*", e, true);
	inm("  *  ", e, true);
	snprintf(h, sizeof(h), "\"abc\", %s", e);
	inm(h, e, true);
	snprintf(h, sizeof(h), "\"abc\",%s,\"def\"", e);
	inm(h, e, true);
	snprintf(weak, sizeof(weak), "W/%s", e);
	inm(weak, e, true);
	snprintf(h, sizeof(h), "\"x\", %s", weak);
	inm(h, e, true);
	inm(e, weak, true);			/* weak comparison either way */
	snprintf(h, sizeof(h), " , ,%s, ", e);
	inm(h, e, true);

	inm("\"abc\"", e, false);
	inm("\"abc\", W/\"def\"", e, false);
	inm("", e, false);
	inm(NULL, e, false);
	inm(e, NULL, false);
	inm("garbage", e, false);
	snprintf(h, sizeof(h), "%s, garbage", e);
	inm(h, e, false);			/* a malformed header never matches */
	snprintf(h, sizeof(h), "%.33s", e);
	inm(h, e, false);			/* unterminated */
	snprintf(h, sizeof(h), "%s %s", e, e);
	inm(h, e, false);			/* no comma */
	inm("*, \"abc\"", e, false);
	snprintf(h, sizeof(h), "w/%s", e);
	inm(h, e, false);			/* W/ is case sensitive */
	snprintf(h, sizeof(h), "W/ %s", e);
	inm(h, e, false);
	inm("\"a b\"", "\"a b\"", false);	/* a space is no etagc */
	inm("\"\"", "\"\"", true);
	inm("\"x\"", "\"x\"junk", false);	/* our own ETag must be one tag */
}

static void
test_gzip_one(const void *data, size_t len, const char *what)
{
	void	   *gzd = NULL;
	size_t		gzlen = 0;
	unsigned char *back = malloc(len + 1);
	z_stream	zs;
	int			rc;
	char		msg[256];

	rc = hd_gzip(data, len, &gzd, &gzlen);
	snprintf(msg, sizeof(msg), "gzip %s", what);
	check(rc == 0 && gzd != NULL && gzlen >= 18, msg);
	if (rc != 0 || back == NULL)
	{
		free(back);
		free(gzd);
		return;
	}
	snprintf(msg, sizeof(msg), "gzip %s: the gzip magic", what);
	check(((unsigned char *) gzd)[0] == 0x1f && ((unsigned char *) gzd)[1] == 0x8b, msg);

	memset(&zs, 0, sizeof(zs));
	rc = inflateInit2(&zs, 15 + 16);
	zs.next_in = gzd;
	zs.avail_in = (uInt) gzlen;
	zs.next_out = back;
	zs.avail_out = (uInt) len + 1;
	if (rc == Z_OK)
		rc = inflate(&zs, Z_FINISH);
	snprintf(msg, sizeof(msg), "gzip %s: inflates back", what);
	check(rc == Z_STREAM_END && zs.total_out == len && zs.avail_in == 0 &&
		  memcmp(back, data, len) == 0, msg);
	inflateEnd(&zs);
	free(back);
	free(gzd);
}

static void
test_gzip(void)
{
	size_t		n = 300000;
	unsigned char *noise = malloc(n);
	char	   *text = malloc(n);
	void	   *out = (void *) 1;
	size_t		outlen = 1;
	uint32_t	x = 12345;

	test_gzip_one("", 0, "empty");
	test_gzip_one("hello", 5, "hello");
	if (noise == NULL || text == NULL)
	{
		check(0, "malloc for gzip");
		free(noise);
		free(text);
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		x = x * 1103515245 + 12345;
		noise[i] = (unsigned char) (x >> 16);
		text[i] = "{\"metric\": 1.5, }"[i % 17];
	}
	test_gzip_one(noise, n, "300k of noise (grows)");
	test_gzip_one(text, n, "300k of JSON-ish text");
	{
		void	   *gzd;
		size_t		gzlen;

		check(hd_gzip(text, n, &gzd, &gzlen) == 0 && gzlen < n / 20, "repetitive text shrinks");
		free(gzd);
	}
	check(hd_gzip(NULL, 5, &out, &outlen) == -1 && out == NULL && outlen == 0,
		  "gzip of NULL with a length fails");
	check(hd_gzip("x", 1, NULL, &outlen) == -1, "gzip without out fails");
	free(noise);
	free(text);
}

/* ---- cursors and numbers ---- */

/* base64url without padding of s, for crafted cursors */
static void
b64(const char *s, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t		n = strlen(s);
	size_t		o = 0;

	for (size_t i = 0; i < n; i += 3)
	{
		uint32_t	v = (uint32_t) (uint8_t) s[i] << 16;
		size_t		k = n - i >= 3 ? 4 : n - i + 1;

		if (i + 1 < n)
			v |= (uint32_t) (uint8_t) s[i + 1] << 8;
		if (i + 2 < n)
			v |= (uint8_t) s[i + 2];
		for (size_t c = 0; c < k; c++)
			out[o++] = a[(v >> (18 - 6 * c)) & 0x3f];
	}
	out[o] = '\0';
}

static void
cursor_bad(const char *cursor, const char *what)
{
	int64_t		v = 77;
	char		msg[256];

	snprintf(msg, sizeof(msg), "cursor refused: %s [%.80s]", what, cursor ? cursor : "(NULL)");
	check(!hd_cursor_decode(cursor, &v) && v == 77, msg);
}

static void
cursor_bad_raw(const char *raw, const char *what)
{
	char		c[256];

	b64(raw, c);
	cursor_bad(c, what);
}

static void
test_cursor(void)
{
	int64_t		values[] = {0, 1, 9, 10, 42, 999, 1234567890123, INT64_MAX - 1, INT64_MAX};
	char		c[64];
	char		msg[128];
	char		longc[80];

	hd_cursor_encode(0, c, sizeof(c));
	check(strcmp(c, "djE6MA") == 0, "cursor of 0 is base64url(\"v1:0\")");
	hd_cursor_encode(INT64_MAX, c, sizeof(c));
	check(strcmp(c, "djE6OTIyMzM3MjAzNjg1NDc3NTgwNw") == 0, "cursor of INT64_MAX");
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
	{
		int64_t		back = -1;

		hd_cursor_encode(values[i], c, sizeof(c));
		snprintf(msg, sizeof(msg), "cursor round trip %lld (%s)", (long long) values[i], c);
		check(hd_cursor_decode(c, &back) && back == values[i] &&
			  strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(c),
			  msg);
	}
	hd_cursor_encode(-1, c, sizeof(c));
	check(c[0] == '\0', "no cursor for a negative value");
	hd_cursor_encode(INT64_MAX, c, 30);
	check(c[0] == '\0', "no cursor into too small a buffer");
	hd_cursor_encode(INT64_MAX, c, 31);
	check(strlen(c) == 30, "a cursor fits in 31 bytes");
	check(hd_cursor_decode("djE6MA", NULL), "decode without an output");

	cursor_bad(NULL, "NULL");
	cursor_bad("", "empty");
	cursor_bad("!!!!", "not base64url");
	cursor_bad("djE6MA==", "padding");
	cursor_bad("djE6M", "a length that is no whole byte");
	cursor_bad("djE6MB", "stray bits");
	cursor_bad("djE6MA ", "a space");
	cursor_bad("djE+MA", "standard base64");
	cursor_bad("hello", "garbage");
	cursor_bad_raw("v1:-1", "negative");
	cursor_bad_raw("v1:-0", "minus zero");
	cursor_bad_raw("v1:9223372036854775808", "overflow");
	cursor_bad_raw("v1:99999999999999999999999", "far overflow");
	cursor_bad_raw("v2:5", "v2");
	cursor_bad_raw("v1:", "no number");
	cursor_bad_raw("v1", "no colon");
	cursor_bad_raw("v1:01", "a leading zero");
	cursor_bad_raw("v1: 1", "a space");
	cursor_bad_raw("v1:1x", "trailing text");
	cursor_bad_raw("V1:1", "upper-case v");
	memset(longc, 'A', 65);
	longc[65] = '\0';
	cursor_bad(longc, "65 characters");
	memset(longc, 'A', 79);
	longc[79] = '\0';
	cursor_bad(longc, "79 characters");
	/* 64 characters decode to 48 bytes, which are no cursor */
	memset(longc, 'A', 64);
	longc[64] = '\0';
	cursor_bad(longc, "64 characters of zeros");
}

static void
i64(const char *s, bool ok, int64_t want)
{
	int64_t		v = 55;
	char		what[256];

	snprintf(what, sizeof(what), "parse_int64 [%.80s] -> %s", s ? s : "(NULL)", ok ? "ok" : "refused");
	if (ok)
		check(hd_parse_int64(s, &v) && v == want, what);
	else
		check(!hd_parse_int64(s, &v) && v == 55, what);
}

static void
lim(const char *s, bool ok, int want)
{
	int			v = 55;
	char		what[256];

	snprintf(what, sizeof(what), "parse_limit [%.80s] -> %s", s ? s : "(NULL)", ok ? "ok" : "refused");
	if (ok)
		check(hd_parse_limit(s, &v) && v == want, what);
	else
		check(!hd_parse_limit(s, &v) && v == 55, what);
}

static void
test_numbers(void)
{
	char		huge[1001];

	memset(huge, '9', 1000);
	huge[1000] = '\0';

	i64("0", true, 0);
	i64("7", true, 7);
	i64("-7", true, -7);
	i64("9223372036854775807", true, INT64_MAX);
	i64("-9223372036854775808", true, INT64_MIN);
	i64("9223372036854775808", false, 0);
	i64("-9223372036854775809", false, 0);
	i64("18446744073709551616", false, 0);
	i64("99999999999999999999", false, 0);
	i64(huge, false, 0);
	i64("", false, 0);
	i64(NULL, false, 0);
	i64("-", false, 0);
	i64("+1", false, 0);
	i64(" 1", false, 0);
	i64("1 ", false, 0);
	i64("1x", false, 0);
	i64("1.0", false, 0);
	i64("1e3", false, 0);
	i64("0x10", false, 0);
	i64("01", false, 0);		/* no leading zeros: one spelling per value */
	i64("00", false, 0);
	i64("-0", false, 0);
	i64("-01", false, 0);
	i64("--1", false, 0);

	lim("1", true, 1);
	lim("50", true, 50);
	lim("1000", true, 1000);
	lim("0", false, 0);
	lim("1001", false, 0);
	lim("-1", false, 0);
	lim("01", false, 0);
	lim("+1", false, 0);
	lim(" 1", false, 0);
	lim("1 ", false, 0);
	lim("1x", false, 0);
	lim("", false, 0);
	lim(NULL, false, 0);
	lim("4294967297", false, 0);
	lim("9223372036854775808", false, 0);
	lim(huge, false, 0);
	check(hd_parse_limit("10", NULL), "parse_limit without an output");
}

/* ---- routes ---- */

static void
route(const char *path, HdRoute want, int64_t want_id)
{
	int64_t		id = -5;
	char		what[512];
	HdRoute		got = hd_route_match(path, &id);

	snprintf(what, sizeof(what), "route [%.300s] -> %s (got %s, id %lld)",
			 path ? path : "(NULL)", hd_route_name(want), hd_route_name(got), (long long) id);
	check(got == want && id == (want == HD_ALERT_RESOLVE ? want_id : -5), what);
}

static void
test_routes(void)
{
	static const struct
	{
		const char *path;
		HdRoute		route;
		unsigned	methods;
	}			all[] = {
		{"/api/v1/performance/status", HD_STATUS, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/optimize", HD_OPTIMIZE, HD_METHOD_POST},
		{"/api/v1/performance/history", HD_HISTORY, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/recommendations", HD_RECOMMENDATIONS, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/metrics", HD_METRICS, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/metrics/history", HD_METRICS_HISTORY, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/alerts", HD_ALERTS, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/alerts/resolve", HD_ALERTS_RESOLVE, HD_METHOD_POST},
		{"/api/v1/performance/thresholds", HD_THRESHOLDS, HD_METHOD_GET | HD_METHOD_HEAD | HD_METHOD_PUT},
		{"/api/v1/performance/database", HD_DATABASE, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/database/optimize", HD_DATABASE_OPTIMIZE, HD_METHOD_POST},
		{"/api/v1/performance/api", HD_API, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/monitoring/start", HD_MONITORING_START, HD_METHOD_POST},
		{"/api/v1/performance/monitoring/stop", HD_MONITORING_STOP, HD_METHOD_POST},
		{"/api/v1/performance/prometheus-rules", HD_PROMETHEUS_RULES, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/trends", HD_TRENDS, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/slow-queries", HD_SLOW_QUERIES, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/jobs", HD_JOBS, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/verifications", HD_VERIFICATIONS, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/api/v1/performance/audit", HD_AUDIT, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/metrics", HD_PROMETHEUS, HD_METHOD_GET | HD_METHOD_HEAD},
		{"/healthz", HD_HEALTHZ, HD_METHOD_GET | HD_METHOD_HEAD},
	};
	char		p[600];
	char		what[256];
	char		allow[64];

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
	{
		route(all[i].path, all[i].route, 0);
		snprintf(p, sizeof(p), "%s/", all[i].path);
		route(p, all[i].route, 0);
		snprintf(p, sizeof(p), "%s//", all[i].path);
		route(p, HD_ROUTE_NONE, 0);
		snprintf(p, sizeof(p), "%sx", all[i].path);
		route(p, HD_ROUTE_NONE, 0);
		snprintf(p, sizeof(p), "%.*s", (int) strlen(all[i].path) - 1, all[i].path);
		route(p, HD_ROUTE_NONE, 0);
		snprintf(p, sizeof(p), "%s/x", all[i].path);
		route(p, HD_ROUTE_NONE, 0);
		snprintf(what, sizeof(what), "route name of %s", all[i].path);
		check(strcmp(hd_route_name(all[i].route), all[i].path) == 0, what);
		snprintf(what, sizeof(what), "methods of %s", all[i].path);
		check(hd_route_methods(all[i].route) == all[i].methods, what);
	}
	/* the dashboard: /, /dashboard and the file names under it */
	route("/", HD_ROOT, 0);
	route("/dashboard", HD_DASHBOARD, 0);
	route("/dashboard/", HD_DASHBOARD, 0);
	route("/dashboardx", HD_ROUTE_NONE, 0);
	route("/dashboard//", HD_ROUTE_NONE, 0);
	route("/dashboard/dashboard.js", HD_DASHBOARD_ASSET, 0);
	route("/dashboard/dashboard.js/", HD_DASHBOARD_ASSET, 0);
	route("/dashboard/A-b_c.9", HD_DASHBOARD_ASSET, 0);
	route("/dashboard/.hidden", HD_ROUTE_NONE, 0);
	route("/dashboard/..", HD_ROUTE_NONE, 0);
	route("/dashboard/a/b.js", HD_ROUTE_NONE, 0);
	route("/dashboard/a%2fb.js", HD_ROUTE_NONE, 0);
	route("/dashboard/a b.js", HD_ROUTE_NONE, 0);
	route("/dashboard/\xc3\xa9.js", HD_ROUTE_NONE, 0);
	/* a file name of 64 characters matches, of 65 not */
	snprintf(p, sizeof(p), "/dashboard/%064d", 0);
	route(p, HD_DASHBOARD_ASSET, 0);
	snprintf(p, sizeof(p), "/dashboard/%065d", 0);
	route(p, HD_ROUTE_NONE, 0);
	check(strcmp(hd_route_name(HD_DASHBOARD_ASSET), "/dashboard/{asset}") == 0, "the asset route's name");
	check(hd_route_methods(HD_ROOT) == (HD_METHOD_GET | HD_METHOD_HEAD) &&
		  hd_route_methods(HD_DASHBOARD) == (HD_METHOD_GET | HD_METHOD_HEAD) &&
		  hd_route_methods(HD_DASHBOARD_ASSET) == (HD_METHOD_GET | HD_METHOD_HEAD),
		  "the dashboard's routes take GET and HEAD");
	route("/api/v1/performance/alerts/7/resolve", HD_ALERT_RESOLVE, 7);
	route("/api/v1/performance/alerts/7/resolve/", HD_ALERT_RESOLVE, 7);
	route("/api/v1/performance/alerts/1/resolve", HD_ALERT_RESOLVE, 1);
	route("/api/v1/performance/alerts/9223372036854775807/resolve", HD_ALERT_RESOLVE, INT64_MAX);
	route("/api/v1/performance/alerts/0/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/abc/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/-1/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/+1/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/01/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/1.0/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/%31/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/9223372036854775808/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/99999999999999999999999/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts//resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/7//resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/7/resolve//", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/7/8/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/7", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/7/resolvex", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/ 7/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/alerts/{id}/resolve", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/../performance/status", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/status/..", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/./status", HD_ROUTE_NONE, 0);
	route("//api/v1/performance/status", HD_ROUTE_NONE, 0);
	route("/api/v1//performance/status", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/STATUS", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/status?x=1", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/status%2F", HD_ROUTE_NONE, 0);
	route("api/v1/performance/status", HD_ROUTE_NONE, 0);
	route("/api/v1/performance", HD_ROUTE_NONE, 0);
	route("/api/v1/performance/", HD_ROUTE_NONE, 0);
	route("", HD_ROUTE_NONE, 0);
	route(NULL, HD_ROUTE_NONE, 0);
	check(hd_route_match("/api/v1/performance/alerts/3/resolve", NULL) == HD_ALERT_RESOLVE,
		  "route with a NULL id");
	/* very long paths */
	memset(p, 'a', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	route(p, HD_ROUTE_NONE, 0);
	snprintf(p, sizeof(p), "/api/v1/performance/alerts/7/resolve");
	memset(p + strlen(p), '/', 1);
	memset(p + 37, 'x', 300);
	p[337] = '\0';
	route(p, HD_ROUTE_NONE, 0);

	check(strcmp(hd_route_name(HD_ALERT_RESOLVE), "/api/v1/performance/alerts/{id}/resolve") == 0,
		  "route name of the single resolve");
	check(strcmp(hd_route_name(HD_ROUTE_NONE), "none") == 0, "route name of none");
	check(strcmp(hd_route_name((HdRoute) 99), "none") == 0, "route name out of range");
	check(hd_route_methods(HD_ALERT_RESOLVE) == HD_METHOD_POST, "methods of the single resolve");
	check(hd_route_methods(HD_ROUTE_NONE) == 0, "methods of none");
	check(hd_route_methods((HdRoute) 99) == 0, "methods out of range");

	check(hd_method_bit("GET") == HD_METHOD_GET, "GET");
	check(hd_method_bit("POST") == HD_METHOD_POST, "POST");
	check(hd_method_bit("PUT") == HD_METHOD_PUT, "PUT");
	check(hd_method_bit("HEAD") == HD_METHOD_HEAD, "HEAD");
	check(hd_method_bit("get") == 0, "get: methods are case sensitive");
	check(hd_method_bit("DELETE") == 0, "DELETE");
	check(hd_method_bit("GETX") == 0, "GETX");
	check(hd_method_bit("") == 0, "empty method");
	check(hd_method_bit(NULL) == 0, "NULL method");

	hd_allow_header(hd_route_methods(HD_STATUS), allow, sizeof(allow));
	check(strcmp(allow, "GET, HEAD") == 0, "Allow: GET, HEAD");
	hd_allow_header(hd_route_methods(HD_OPTIMIZE), allow, sizeof(allow));
	check(strcmp(allow, "POST") == 0, "Allow: POST");
	hd_allow_header(hd_route_methods(HD_THRESHOLDS), allow, sizeof(allow));
	check(strcmp(allow, "GET, HEAD, PUT") == 0, "Allow: GET, HEAD, PUT");
	hd_allow_header(0xf, allow, sizeof(allow));
	check(strcmp(allow, "GET, HEAD, POST, PUT") == 0, "Allow: all four");
	hd_allow_header(0, allow, sizeof(allow));
	check(strcmp(allow, "") == 0, "Allow: nothing");
	hd_allow_header(0xf0, allow, sizeof(allow));
	check(strcmp(allow, "") == 0, "Allow: unknown bits");
	hd_allow_header(hd_route_methods(HD_STATUS), allow, 10);
	check(strcmp(allow, "GET, HEAD") == 0, "Allow fits exactly");
	hd_allow_header(hd_route_methods(HD_STATUS), allow, 9);
	check(strcmp(allow, "") == 0, "Allow does not fit: empty, not cut");
	hd_allow_header(HD_METHOD_GET, NULL, 0);

	check(hd_route_mutates(HD_OPTIMIZE, HD_METHOD_POST), "POST optimize mutates");
	check(hd_route_mutates(HD_ALERT_RESOLVE, HD_METHOD_POST), "POST resolve mutates");
	check(hd_route_mutates(HD_THRESHOLDS, HD_METHOD_PUT), "PUT thresholds mutates");
	check(!hd_route_mutates(HD_THRESHOLDS, HD_METHOD_GET), "GET thresholds does not");
	check(!hd_route_mutates(HD_THRESHOLDS, HD_METHOD_HEAD), "HEAD thresholds does not");
	check(!hd_route_mutates(HD_STATUS, HD_METHOD_GET), "GET status does not");
	check(!hd_route_mutates(HD_STATUS, HD_METHOD_POST), "POST status (a 405) does not");
	check(!hd_route_mutates(HD_ROUTE_NONE, HD_METHOD_POST), "POST to no route does not");
	check(!hd_route_mutates(HD_OPTIMIZE, HD_METHOD_POST | HD_METHOD_PUT), "two bits are no method");

	/* the table's rows: every method a route allows has one, and it is consistent */
	for (int r = HD_ROUTE_NONE + 1; r < HD_NROUTES; r++)
	{
		const int	bits[] = {HD_METHOD_GET, HD_METHOD_HEAD, HD_METHOD_POST, HD_METHOD_PUT};
		/* the dashboard's routes call nothing and need no token */
		bool		dashboard = r == HD_ROOT || r == HD_DASHBOARD || r == HD_DASHBOARD_ASSET;

		for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		{
			const HdRouteDef *def = hd_route_def((HdRoute) r, bits[i]);
			bool		allowed = (hd_route_methods((HdRoute) r) & (unsigned) bits[i]) != 0;

			snprintf(what, sizeof(what), "row of %s for method bit %d", hd_route_name((HdRoute) r), bits[i]);
			check((def != NULL) == allowed, what);
			if (def == NULL)
				continue;
			snprintf(what, sizeof(what), "row of %s, bit %d: route, path, read-only and rate class agree",
					 hd_route_name((HdRoute) r), bits[i]);
			check((int) def->route == r && strcmp(def->path, hd_route_name((HdRoute) r)) == 0 &&
				  def->read_only == (bits[i] == HD_METHOD_GET || bits[i] == HD_METHOD_HEAD) &&
				  (def->rate == HD_RATE_WRITE) == !def->read_only &&
				  (def->rate == HD_RATE_ADDRESS) == (r == HD_HEALTHZ || dashboard) &&
				  def->cache_control != NULL &&
				  (def->content_type != NULL || def->answer == HD_ANSWER_ASSET), what);
			snprintf(what, sizeof(what), "row of %s, bit %d: the call names perfopt's schema",
					 hd_route_name((HdRoute) r), bits[i]);
			check(r == HD_HEALTHZ ? def->sql == NULL && def->answer == HD_ANSWER_HEALTH :
				  dashboard ? def->sql == NULL && def->sql_alt == NULL &&
				  def->answer == (r == HD_ROOT ? HD_ANSWER_REDIRECT : HD_ANSWER_ASSET) &&
				  strcmp(def->cache_control, "no-cache") == 0 :
				  def->sql != NULL && strstr(def->sql, "$S.perfopt_") != NULL &&
				  (def->sql_alt == NULL || strstr(def->sql_alt, "$S.perfopt_") != NULL), what);
		}
	}
	check(hd_route_def(HD_ROUTE_NONE, HD_METHOD_GET) == NULL, "no row for no route");
	check(hd_route_def(HD_THRESHOLDS, HD_METHOD_GET | HD_METHOD_PUT) == NULL, "no row for two methods");
	check(hd_route_def(HD_THRESHOLDS, 0) == NULL, "no row for no method");
	check(hd_route_def(HD_THRESHOLDS, HD_METHOD_PUT)->args == HD_ARGS_OBJECT &&
		  strcmp(hd_route_def(HD_THRESHOLDS, HD_METHOD_PUT)->cache_control, "no-store") == 0 &&
		  strcmp(hd_route_def(HD_THRESHOLDS, HD_METHOD_GET)->cache_control, "no-cache") == 0,
		  "thresholds: PUT takes an object and is no-store, GET is no-cache");
	check(strcmp(hd_route_def(HD_RECOMMENDATIONS, HD_METHOD_GET)->cache_control, "max-age=180") == 0 &&
		  strcmp(hd_route_def(HD_SLOW_QUERIES, HD_METHOD_GET)->cache_control, "max-age=180") == 0 &&
		  strcmp(hd_route_def(HD_HISTORY, HD_METHOD_HEAD)->cache_control, "max-age=60") == 0 &&
		  strcmp(hd_route_def(HD_ALERTS, HD_METHOD_GET)->cache_control, "no-cache") == 0 &&
		  strcmp(hd_route_def(HD_AUDIT, HD_METHOD_GET)->cache_control, "private, no-cache") == 0,
		  "Cache-Control of the advice, the history, alerts (revalidated) and the audit log (private)");
	check(hd_route_def(HD_ALERTS, HD_METHOD_GET)->args == HD_ARGS_NEWEST_STATE_PAGE &&
		  hd_route_def(HD_JOBS, HD_METHOD_GET)->args == HD_ARGS_NEWEST_STATE_PAGE &&
		  hd_route_def(HD_HISTORY, HD_METHOD_GET)->args == HD_ARGS_NEWEST_PAGE &&
		  hd_route_def(HD_VERIFICATIONS, HD_METHOD_GET)->args == HD_ARGS_NEWEST_PAGE &&
		  hd_route_def(HD_AUDIT, HD_METHOD_GET)->args == HD_ARGS_NEWEST_PAGE &&
		  hd_route_def(HD_RECOMMENDATIONS, HD_METHOD_GET)->args == HD_ARGS_AFTER_PAGE,
		  "lists page newest first, recommendations oldest first");
	check(strstr(hd_route_def(HD_AUDIT, HD_METHOD_GET)->sql, "$S.perfopt_audit_page(") != NULL,
		  "the audit log through perfopt_audit_page(), which readers may not call");
	check(hd_route_state_valid(HD_ALERTS, "open", NULL) && hd_route_state_valid(HD_ALERTS, "resolved", NULL) &&
		  !hd_route_state_valid(HD_ALERTS, "queued", NULL) && !hd_route_state_valid(HD_ALERTS, "Open", NULL) &&
		  !hd_route_state_valid(HD_ALERTS, "", NULL) && !hd_route_state_valid(HD_ALERTS, NULL, NULL) &&
		  hd_route_state_valid(HD_JOBS, "queued", NULL) && hd_route_state_valid(HD_JOBS, "cancelled", NULL) &&
		  !hd_route_state_valid(HD_JOBS, "open", NULL) && !hd_route_state_valid(HD_JOBS, "failed ", NULL) &&
		  !hd_route_state_valid(HD_HISTORY, "open", NULL),
		  "the states a list filters by");
	check(strstr(hd_route_def(HD_METRICS, HD_METHOD_GET)->sql_alt, "perfopt_metrics_prometheus") != NULL &&
		  strncmp(hd_route_def(HD_METRICS, HD_METHOD_GET)->content_type_alt, "text/plain", 10) == 0,
		  "metrics?format=prometheus: the exposition");
	check(strstr(hd_route_def(HD_PROMETHEUS_RULES, HD_METHOD_GET)->sql, "perfopt_prometheus_rules()") != NULL &&
		  strncmp(hd_route_def(HD_PROMETHEUS_RULES, HD_METHOD_GET)->content_type, "application/yaml", 16) == 0 &&
		  strcmp(hd_route_def(HD_PROMETHEUS_RULES, HD_METHOD_HEAD)->cache_control, "no-cache") == 0,
		  "prometheus-rules: the rules file as YAML, revalidated");
}

/* ---- request bodies ---- */

static void
ids_good(const char *body, int max, int want_n, const int64_t *want)
{
	int64_t    *ids = NULL;
	int			n = -1;
	char		err[256] = "";
	char		what[512];
	int			rc = hd_parse_ids(body, strlen(body), max, &ids, &n, err, sizeof(err));

	snprintf(what, sizeof(what), "ids accepted: %.200s (%s)", body, err);
	check(rc == 0 && n == want_n && ids != NULL &&
		  (want == NULL || memcmp(ids, want, (size_t) n * sizeof(int64_t)) == 0), what);
	free(ids);
}

static void
ids_bad_len(const char *body, size_t len, int max, const char *want_err)
{
	int64_t    *ids = (int64_t *) &len;
	int			n = -1;
	char		err[256] = "";
	char		what[512];
	int			rc = hd_parse_ids(body, len, max, &ids, &n, err, sizeof(err));

	snprintf(what, sizeof(what), "ids refused: %.200s: want \"%s\", got \"%s\"",
			 body ? body : "(NULL)", want_err, err);
	check(rc == -1 && ids == NULL && n == 0 && strcmp(err, want_err) == 0, what);
	if (rc == 0)
		free(ids);
}

static void
ids_bad(const char *body, const char *want_err)
{
	ids_bad_len(body, strlen(body), 100, want_err);
}

static void
test_ids(void)
{
	static const int64_t one_two_three[] = {1, 2, 3};
	static const int64_t big[] = {INT64_MAX, 5};
	char		body[4096];
	size_t		o;

	ids_good("{\"ids\": [1, 2, 3]}", 100, 3, one_two_three);
	ids_good("{\"ids\":[1,2,3]}", 3, 3, one_two_three);
	ids_good("\n {\n\t\"ids\" : [ 9223372036854775807 ,5 ]\r\n} \n", 100, 2, big);
	ids_good("{\"i\\u0064s\": [1, 2, 3]}", 100, 3, one_two_three);
	ids_good("{\"ids\": [5, 5]}", 100, 2, NULL);	/* duplicates are the caller's business */

	/* exactly max, then one more */
	o = (size_t) snprintf(body, sizeof(body), "{\"ids\": [");
	for (int i = 1; i <= 100; i++)
		o += (size_t) snprintf(body + o, sizeof(body) - o, "%s%d", i > 1 ? ", " : "", i);
	snprintf(body + o, sizeof(body) - o, "]}");
	ids_good(body, 100, 100, NULL);
	snprintf(body + o, sizeof(body) - o, ", 101]}");
	ids_bad(body, "ids: at most 100 ids");
	ids_bad_len("{\"ids\": [1, 2]}", 15, 1, "ids: at most 1 ids");
	ids_bad_len("{\"ids\": [1]}", 12, 0, "ids: at most 0 ids");

	/* only len bytes are read */
	memcpy(body, "{\"ids\": [4]}, garbage", 22);
	{
		int64_t    *ids = NULL;
		int			n = 0;
		char		err[128];

		check(hd_parse_ids(body, 12, 100, &ids, &n, err, sizeof(err)) == 0 && n == 1 && ids[0] == 4,
			  "length-bounded ids body");
		free(ids);
	}

	ids_bad("", "body: not valid JSON");
	ids_bad_len(NULL, 5, 100, "body: not valid JSON");
	ids_bad("not json", "body: not valid JSON");
	ids_bad("{\"ids\": [1, 2]", "body: not valid JSON");
	ids_bad("{\"ids\": [1, 2]} x", "body: not valid JSON");
	ids_bad("{\"ids\": [1, 2]}{}", "body: not valid JSON");
	ids_bad_len("{\"ids\": [1]}\0", 13, 100, "body: not valid JSON (a NUL byte)");
	ids_bad("[1, 2]", "body: must be a JSON object {\"ids\": [...]}");
	ids_bad("\"ids\"", "body: must be a JSON object {\"ids\": [...]}");
	ids_bad("{}", "ids: missing");
	ids_bad("{\"ids\": [1], \"extra\": 1}", "extra: unknown key");
	ids_bad("{\"x\": 1, \"ids\": [1]}", "x: unknown key");
	ids_bad("{\"IDS\": [1]}", "IDS: unknown key");
	ids_bad("{\"ids\": [1], \"ids\": [2]}", "ids: given twice");
	ids_bad("{\"ids\\u0000x\": [1]}", "body: \\u0000 is not allowed (jsonb cannot store it)");
	ids_bad("{\"ids\": 5}", "ids: must be an array of positive integers");
	ids_bad("{\"ids\": null}", "ids: must be an array of positive integers");
	ids_bad("{\"ids\": {\"a\": 1}}", "ids: must be an array of positive integers");
	ids_bad("{\"ids\": []}", "ids: must not be empty");
	ids_bad("{\"ids\": [1, 1.5]}", "ids[1]: must be a positive integer");
	ids_bad("{\"ids\": [1.0]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [1, 2, 3, -1]}", "ids[3]: must be a positive integer");
	ids_bad("{\"ids\": [0]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [-0]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [01]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [1e3]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [1E3]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [\"1\"]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [1, [2]]}", "ids[1]: must be a positive integer");
	ids_bad("{\"ids\": [1, {\"a\": 2}]}", "ids[1]: must be a positive integer");
	ids_bad("{\"ids\": [true]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [null]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [9223372036854775808]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [99999999999999999999]}", "ids[0]: must be a positive integer");
	ids_bad("{\"ids\": [1, 2, 3, 4, 123456789012345678901234567890]}",
			"ids[4]: must be a positive integer");
	{
		int64_t    *ids = NULL;
		int			n = 0;

		check(hd_parse_ids("{\"ids\": [1]}", 12, 100, &ids, &n, NULL, 0) == 0 && n == 1,
			  "ids without an err buffer");
		free(ids);
		check(hd_parse_ids("{\"ids\": [1]}", 12, 100, NULL, &n, NULL, 0) == -1,
			  "ids without an output");
	}
}

static void
obj(const char *body, int want_rc, const char *want_err)
{
	char		err[256] = "x";
	char		what[512];
	int			rc = hd_check_json_object(body, body ? strlen(body) : 0, err, sizeof(err));

	snprintf(what, sizeof(what), "json object [%s] -> %d \"%s\" (got %d \"%s\")",
			 body ? body : "(NULL)", want_rc, want_err, rc, err);
	check(rc == want_rc && strcmp(err, want_err) == 0, what);
}

static void
test_json_object(void)
{
	obj("{}", 0, "");
	obj("{\"a\": 1}", 0, "");
	obj(" {\"cpu\": {\"warning\": 50}} \n", 0, "");
	obj("[]", -1, "body: must be a JSON object");
	obj("1", -1, "body: must be a JSON object");
	obj("\"x\"", -1, "body: must be a JSON object");
	obj("null", -1, "body: must be a JSON object");
	obj("{", -1, "body: not valid JSON");
	obj("{} {}", -1, "body: not valid JSON");
	obj("{}x", -1, "body: not valid JSON");
	obj("", -1, "body: not valid JSON");
	obj(NULL, -1, "body: not valid JSON");
	check(hd_check_json_object("{}  ", 2, NULL, 0) == 0, "json object, length bounded");
	check(hd_check_json_object("{}\0", 3, NULL, 0) == -1, "json object with a NUL after it");

	/* what jsonb would refuse with a server error: refused here as bad input */
	obj("{\"cpu\\u0000\": {\"warning\": 70}}", -1, "body: \\u0000 is not allowed (jsonb cannot store it)");
	obj("{\"cpu\": {\"warning\\u0000x\": 70}}", -1, "body: \\u0000 is not allowed (jsonb cannot store it)");
	obj("{\"x\": \"a\\u0000\"}", -1, "body: \\u0000 is not allowed (jsonb cannot store it)");
	obj("{\"x\": \"\\\\u0000\"}", 0, "");	/* an escaped backslash, then text */
	obj("{\"x\": \"\\\\\\u0000\"}", -1, "body: \\u0000 is not allowed (jsonb cannot store it)");
	obj("{\"x\": \"\\u0001\\u00e9\"}", 0, "");
	obj("{\"x\xff\": 1}", -1, "body: not valid UTF-8");
	obj("{\"x\": \"\xe2\x28\xa1\"}", -1, "body: not valid UTF-8");
	obj("{\"x\": \"\xc0\xaf\"}", -1, "body: not valid UTF-8");
	obj("{\"x\": \"caf\xc3\xa9\"}", 0, "");
}

static void
utf8(const char *s, size_t len, bool want)
{
	char		what[128];

	snprintf(what, sizeof(what), "utf8 valid [%.40s] (%zu bytes) -> %d", s ? s : "(NULL)", len, want);
	check(hd_utf8_valid(s, len) == want, what);
}

static void
test_utf8(void)
{
	utf8("", 0, true);
	utf8(NULL, 0, true);
	utf8(NULL, 1, false);
	utf8("open", 4, true);
	utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, true);
	utf8("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7, true);
	utf8("\xe2", 1, false);				/* ?state=%E2 */
	utf8("\xe2\x82", 2, false);
	utf8("\xe2\x82\xac", 2, false);		/* cut by the length */
	utf8("\xff", 1, false);
	utf8("\x80", 1, false);
	utf8("\xc3\x28", 2, false);
	utf8("\xc0\xaf", 2, false);			/* overlong */
	utf8("\xe0\x80\xaf", 3, false);
	utf8("\xed\xa0\x80", 3, false);		/* a surrogate */
	utf8("\xf4\x90\x80\x80", 4, false);	/* above U+10FFFF */
	utf8("\xf5\x80\x80\x80", 4, false);
	utf8("open\0x", 6, false);			/* ?state=open%00x */
	utf8("\0", 1, false);
}

static void
esc(const char *s, size_t size, const char *want)
{
	char		out[256];
	char		what[512];

	memset(out, '#', sizeof(out));
	hd_json_escape(s, out, size);
	snprintf(what, sizeof(what), "json escape into %zu: want [%s] got [%.200s]", size, want, out);
	check(strcmp(out, want) == 0 && out[size] == '#', what);
}

static void
test_json_escape(void)
{
	char		big[10000];
	char		out[64];

	esc("plain", 64, "plain");
	esc("a\"b\\c", 64, "a\\\"b\\\\c");
	esc("line\nnext\r\ttab", 64, "line\\nnext\\r\\ttab");
	esc("\x01\x1f\x7f", 64, "\\u0001\\u001f\x7f");
	esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	esc("bad \xff \xc3 \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80", 128,
		"bad \\ufffd \\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\\ufffd");
	esc("\xe2\x82", 64, "\\ufffd\\ufffd");
	esc("", 64, "");
	esc(NULL, 64, "");
	/* truncation: never half an escape or a character */
	esc("abc\"def", 5, "abc");
	esc("abc\"def", 6, "abc\\\"");
	esc("a\x01", 7, "a");
	esc("a\x01", 8, "a\\u0001");
	esc("a\xc3\xa9", 3, "a");
	esc("a\xc3\xa9", 4, "a\xc3\xa9");
	esc("abc", 1, "");
	esc("abc", 3, "ab");
	esc("abc", 4, "abc");

	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	hd_json_escape(big, out, sizeof(out));
	check(strlen(out) == 62 && out[0] == '\\' && out[61] == '"', "a long string truncated to pairs");
	out[0] = 'x';
	hd_json_escape("abc", out, 0);
	check(out[0] == 'x', "size 0 writes nothing");
	hd_json_escape("abc", NULL, 10);
}

/* ---- rate limits ---- */

static void
test_bucket(void)
{
	HdBucket	b = {0, 0};
	int			ra = -1;
	bool		ok;

	/* a burst of three, one a second */
	check(hd_bucket_take(&b, 100, 1, 3, &ra) && ra == 0, "take 1 of the burst");
	check(hd_bucket_take(&b, 100, 1, 3, &ra), "take 2 of the burst");
	check(hd_bucket_take(&b, 100, 1, 3, &ra), "take 3 of the burst");
	check(!hd_bucket_take(&b, 100, 1, 3, &ra) && ra == 1, "the fourth is refused, retry in 1s");
	check(!hd_bucket_take(&b, 100.5, 1, 3, &ra) && ra == 1, "half a token: retry in 1s");
	check(hd_bucket_take(&b, 101, 1, 3, &ra), "a second later, one more");
	check(!hd_bucket_take(&b, 101, 1, 3, &ra) && ra == 1, "and then none");
	/* a long pause refills only up to the burst */
	check(hd_bucket_take(&b, 10000, 1, 3, &ra), "after a pause 1");
	check(hd_bucket_take(&b, 10000, 1, 3, &ra), "after a pause 2");
	check(hd_bucket_take(&b, 10000, 1, 3, &ra), "after a pause 3");
	check(!hd_bucket_take(&b, 10000, 1, 3, &ra), "after a pause, still at most the burst");
	/* a clock that goes back refills nothing */
	check(!hd_bucket_take(&b, 5000, 1, 3, &ra) && ra == 1, "clock back: nothing");
	check(b.last == 10000, "clock back: last kept");

	/* one every eight seconds (exact in binary) */
	b.tokens = 0;
	b.last = 0;
	check(hd_bucket_take(&b, 50, 0.125, 1, &ra), "slow bucket: the first");
	check(!hd_bucket_take(&b, 50, 0.125, 1, &ra) && ra == 8, "slow bucket: retry in 8s");
	check(!hd_bucket_take(&b, 54, 0.125, 1, &ra) && ra == 4, "slow bucket: retry in 4s");
	check(!hd_bucket_take(&b, 57.5, 0.125, 1, &ra) && ra == 1, "slow bucket: retry in 0.5s -> 1");
	check(hd_bucket_take(&b, 58, 0.125, 1, &ra), "slow bucket: refilled");
	check(!hd_bucket_take(&b, 58, 1e-9, 1, &ra) && ra == 86400, "a very slow rate: at most a day");

	/* bad parameters refuse */
	b.tokens = 0;
	b.last = 0;
	check(!hd_bucket_take(&b, 10, 0, 5, &ra) && ra == 1, "rate 0 refuses");
	check(!hd_bucket_take(&b, 10, -1, 5, &ra) && ra == 1, "negative rate refuses");
	check(!hd_bucket_take(&b, 10, 1, 0.5, &ra) && ra == 1, "burst below 1 refuses");
	check(!hd_bucket_take(&b, NAN, 1, 5, &ra) && ra == 1, "NaN now refuses");
	check(!hd_bucket_take(&b, 10, INFINITY, 5, &ra) && ra == 1, "infinite rate refuses");
	check(!hd_bucket_take(NULL, 10, 1, 5, &ra) && ra == 1, "NULL bucket refuses");
	/* a damaged bucket starts over, full */
	b.tokens = NAN;
	b.last = 3;
	check(hd_bucket_take(&b, 10, 1, 5, NULL) && b.tokens == 4, "a NaN bucket starts full");
	ok = true;
	for (int i = 0; i < 4; i++)
		ok = ok && hd_bucket_take(&b, 10, 1, 5, NULL);
	check(ok && !hd_bucket_take(&b, 10, 1, 5, NULL), "and then runs dry");
}

/* ---- errors ---- */

static void
test_sqlstate(void)
{
	static const struct
	{
		const char *code;
		int			status;
	}			cases[] = {
		{"42501", 403},
		{"22023", 400}, {"22P02", 400}, {"22004", 400}, {"22003", 400}, {"22007", 400}, {"22008", 400},
		{"P0002", 404},
		{"55P03", 409}, {"57014", 409}, {"25006", 409}, {"55000", 409},
		{"53000", 503}, {"53100", 503}, {"53200", 503}, {"53300", 503}, {"53400", 503},
		{"57P01", 503}, {"57P02", 503}, {"57P03", 503},
		{"08000", 503}, {"08003", 503}, {"08006", 503}, {"08001", 503}, {"08P01", 503},
		{"22000", 500}, {"22012", 500}, {"42P01", 500}, {"42883", 500}, {"XX000", 500},
		{"P0001", 500}, {"57000", 500}, {"57P04", 500}, {"55006", 500}, {"23505", 500},
		{"", 500}, {"4250", 500}, {"425011", 500}, {"42501 ", 500}, {" 42501", 500},
		{"p0002", 500}, {"53", 500}, {"08", 500}, {"5300x", 500},
	};
	char		what[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int			got = hd_status_for_sqlstate(cases[i].code);

		snprintf(what, sizeof(what), "sqlstate [%s] -> %d (got %d)", cases[i].code, cases[i].status, got);
		check(got == cases[i].status, what);
	}
	check(hd_status_for_sqlstate(NULL) == 500, "sqlstate NULL -> 500");
}

static void
test_messages(void)
{
	static const char own[] = "thresholds.c:sqlapi.c:alerts_sql.c";
	static const struct
	{
		const char *file;
		bool		own;
	}			cases[] = {
		{"thresholds.c", true},
		{"sqlapi.c", true},
		{"alerts_sql.c", true},
		{"src/monitoring/sqlapi.c", true},
		{"numutils.c", false},		/* a cast of a row's value */
		{"pl_exec.c", false},		/* RAISE in a user's function */
		{"aclchk.c", false},
		{"alerts.c", false},		/* a prefix of an own file */
		{"sql.c", false},			/* a suffix of one */
		{"thresholds.c:sqlapi.c", false},
		{"thresholds", false},
		{"Thresholds.c", false},
		{"thresholds.c ", false},
		{"src/", false},
		{"", false},
	};
	char		what[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		snprintf(what, sizeof(what), "perfopt's error from [%s] -> %d", cases[i].file, cases[i].own);
		check(hd_error_is_perfopt(cases[i].file, own) == cases[i].own, what);
	}
	check(!hd_error_is_perfopt(NULL, own), "perfopt's error from NULL -> 0");
	check(!hd_error_is_perfopt("thresholds.c", NULL), "no own files -> 0");
	check(!hd_error_is_perfopt("thresholds.c", ""), "empty own files -> 0");
	check(!hd_error_is_perfopt("", "a.c::b.c"), "an empty name in the list matches nothing");

	check(strstr(hd_sqlstate_description("42501"), "privilege") != NULL, "description 42501");
	check(strcmp(hd_sqlstate_description("22P02"), "invalid text representation") == 0, "description 22P02");
	check(strcmp(hd_sqlstate_description("22012"), "data exception") == 0, "description 22012 by its class");
	check(strcmp(hd_sqlstate_description("53100"), "insufficient resources") == 0, "description 53100 by its class");
	check(strcmp(hd_sqlstate_description("P0002"), "not found") == 0, "description P0002");
	check(strcmp(hd_sqlstate_description("XX000"), "internal error") == 0, "description XX000");
	check(strcmp(hd_sqlstate_description("ZZ999"), "internal error") == 0, "description of an unknown class");
	check(strcmp(hd_sqlstate_description("2201"), "internal error") == 0, "description of a short code");
	check(strcmp(hd_sqlstate_description("220123"), "internal error") == 0, "description of a long code");
	check(strcmp(hd_sqlstate_description("22p02"), "internal error") == 0, "description of a lower-case code");
	check(strcmp(hd_sqlstate_description(NULL), "internal error") == 0, "description NULL");
}

/* ---- the SQL the shim sends ---- */

typedef struct QuoteCtx
{
	int			quoted;
	int			released;
} QuoteCtx;

/* 'text' with quotes doubled; NULL for text containing "bad" (a failed PQescapeLiteral) */
static char *
fake_quote(void *ctx, const char *s, size_t len)
{
	QuoteCtx   *q = ctx;
	char	   *out;
	size_t		o = 0;

	if (strstr(s, "bad") != NULL || strlen(s) != len)
		return NULL;
	out = malloc(2 * len + 3);
	if (out == NULL)
		return NULL;
	out[o++] = '\'';
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '\'')
			out[o++] = '\'';
		out[o++] = s[i];
	}
	out[o++] = '\'';
	out[o] = '\0';
	q->quoted++;
	return out;
}

static void
fake_release(void *ctx, char *quoted)
{
	((QuoteCtx *) ctx)->released++;
	free(quoted);
}

static void
call_case(const char *tmpl, const char *schema, int n, const char *const *params,
		  int want_rc, const char *want)
{
	QuoteCtx	q = {0, 0};
	char	   *out = (char *) "untouched";
	char		what[512];
	int			rc = hd_sql_call(tmpl, schema, n, params, fake_quote, fake_release, &q, &out);

	snprintf(what, sizeof(what), "sql call [%s] -> %d [%s] (got %d [%s], %d quoted, %d released)",
			 tmpl ? tmpl : "(NULL)", want_rc, want ? want : "(NULL)", rc, out ? out : "(NULL)",
			 q.quoted, q.released);
	check(rc == want_rc && q.quoted == q.released &&
		  (want ? out != NULL && strcmp(out, want) == 0 : out == NULL), what);
	if (rc == 0)
		free(out);
}

static void
test_sql_call(void)
{
	const char *none[] = {NULL, NULL, NULL};
	const char *state[] = {"open", "0", "50"};
	const char *quote[] = {"it's", NULL};
	const char *tricky[] = {"$1 $S $2", "x"};
	const char *bad[] = {"open", "bad\xe2"};

	call_case("SELECT $S.perfopt_status()::pg_catalog.text", "\"public\"", 0, NULL, 0,
			  "SELECT \"public\".perfopt_status()::pg_catalog.text");
	call_case("SELECT $S.perfopt_alerts_page($1::pg_catalog.text, $2::pg_catalog.int8, $3::pg_catalog.int4)",
			  "\"po\"", 3, state, 0,
			  "SELECT \"po\".perfopt_alerts_page('open'::pg_catalog.text, '0'::pg_catalog.int8, '50'::pg_catalog.int4)");
	call_case("SELECT $S.f($1::pg_catalog.text)", "s", 1, none, 0, "SELECT s.f(NULL::pg_catalog.text)");
	call_case("SELECT $1, $2", "s", 2, quote, 0, "SELECT 'it''s', NULL");
	/* what was put in is never scanned again */
	call_case("SELECT $1, $2, $S", "\"$1\"", 2, tricky, 0, "SELECT '$1 $S $2', 'x', \"$1\"");
	/* a parameter that cannot be quoted is refused, not sent as NULL */
	call_case("SELECT $S.perfopt_alerts_page($1::pg_catalog.text, $2::pg_catalog.int8)", "s", 2, bad, -1, NULL);
	/* mistakes in the template */
	call_case("SELECT $2", "s", 1, state, -2, NULL);
	call_case("SELECT $S.f()", NULL, 0, NULL, -2, NULL);
	call_case(NULL, "s", 0, NULL, -2, NULL);
	call_case("SELECT $1", "s", HD_SQL_MAX_PARAMS + 1, state, -2, NULL);
	call_case("SELECT 1 $ $$ $x", "s", 0, NULL, 0, "SELECT 1 $ $$ $x");
	check(hd_sql_call("SELECT 1", "s", 0, NULL, NULL, NULL, NULL, NULL) == -2, "sql call without out");
}

static void
test_sql_request(void)
{
	char	   *sql = hd_sql_request(true, "\"api_reader\"", "SELECT \"public\".perfopt_status()::pg_catalog.text");
	int			n = 0;
	bool		tagged = true;
	char		what[256];

	check(sql != NULL, "request sql");
	if (sql == NULL)
		return;
	/* every statement is tagged; the call and COMMIT are where the results are read */
	for (char *p = sql, *next; p != NULL; p = next)
	{
		next = strstr(p, "; ");
		if (next)
		{
			*next = '\0';
			next += 2;
		}
		n++;
		tagged = tagged && strncmp(p, HD_SQL_TAG, strlen(HD_SQL_TAG)) == 0;
		p += strlen(HD_SQL_TAG);
		if (n == 1)
			check(strcmp(p, "BEGIN READ ONLY") == 0, "request: BEGIN READ ONLY first");
		if (n == 2)
			check(strcmp(p, "SET LOCAL ROLE \"api_reader\"") == 0, "request: the role second");
		if (n == HD_STEP_CALL)
			check(strcmp(p, "SELECT \"public\".perfopt_status()::pg_catalog.text") == 0, "request: the call");
		if (n == HD_STEP_COMMIT)
			check(strcmp(p, "COMMIT") == 0, "request: COMMIT");
		if (n == HD_STEP_COMMIT + 1)
			check(strcmp(p, "SET SESSION AUTHORIZATION DEFAULT") == 0, "request: then the reset");
		if (n == HD_REQUEST_STEPS)
			check(strcmp(p, "DISCARD SEQUENCES") == 0, "request: the reset ends it");
	}
	snprintf(what, sizeof(what), "request: %d statements, want %d", n, HD_REQUEST_STEPS);
	check(n == HD_REQUEST_STEPS, what);
	check(tagged, "request: every statement starts with /* perfopt */");
	free(sql);

	sql = hd_sql_request(false, "\"api_admin\"", "SELECT 1");
	check(sql != NULL && strncmp(sql, HD_SQL_TAG "BEGIN; ", strlen(HD_SQL_TAG) + 7) == 0, "request: BEGIN for a change");
	free(sql);
	check(hd_sql_request(true, NULL, "SELECT 1") == NULL, "request without a role");
	check(hd_sql_request(true, "r", "") == NULL, "request without a call");

	/* the rollback after a failure resets the same way */
	check(strncmp(HD_SQL_ROLLBACK_RESET, HD_SQL_TAG "ROLLBACK; " HD_SQL_RESET,
				  strlen(HD_SQL_ROLLBACK_RESET)) == 0, "rollback then the reset");
	check(strstr(HD_SQL_EXTENSION_SCHEMA, "OPERATOR(pg_catalog.=)") != NULL &&
		  strstr(HD_SQL_EXTENSION_SCHEMA, " = ") == NULL, "the schema lookup qualifies its operators");
}

/* ---- the time range of /metrics/history ---- */

static void
time_is(const char *s, bool ok, const char *want)
{
	int64_t		us = -1;
	char		got[40] = "";
	char		what[256];
	bool		r = hd_parse_time(s, &us);

	if (r)
		hd_format_time(us, got, sizeof(got));
	snprintf(what, sizeof(what), "time [%.100s] -> %s (got %s %s)", s ? s : "(NULL)",
			 ok ? want : "refused", r ? "accepted" : "refused", got);
	check(r == ok && (!ok || strcmp(got, want) == 0), what);
}

static void
range_is(const char *from, const char *to, const char *step, const char *points,
		 int rc, const char *want)
{
	HdRangeArgs a;
	char		err[256] = "";
	char		got[256];
	char		what[512];
	int			r = hd_range_args(from, to, step, points, &a, err, sizeof(err));

	if (r == 0)
		snprintf(got, sizeof(got), "%s|%s|%s|%s", a.from, a.to, a.points, a.step);
	else
		snprintf(got, sizeof(got), "%s", err);
	snprintf(what, sizeof(what), "range %s %s %s %s -> [%s] (got %d [%s])", from ? from : "-",
			 to ? to : "-", step ? step : "-", points ? points : "-", want, r, got);
	check(r == rc && strcmp(got, want) == 0, what);
}

static void
test_time_args(void)
{
	time_is("1970-01-01T00:00:00Z", true, "1970-01-01 00:00:00.000000+00");
	time_is("2026-12-06T05:31:15Z", true, "2026-12-06 05:31:15.000000+00");
	time_is("2026-12-06t05:31:15z", true, "2026-12-06 05:31:15.000000+00");
	time_is("2026-12-06 05:31:15Z", true, "2026-12-06 05:31:15.000000+00");
	time_is("2026-12-06T05:31:15.5Z", true, "2026-12-06 05:31:15.500000+00");
	time_is("2026-12-06T05:31:15.123456Z", true, "2026-12-06 05:31:15.123456+00");
	time_is("2026-12-06T07:31:15+02:00", true, "2026-12-06 05:31:15.000000+00");
	time_is("2026-12-06T07:31:15 02:00", true, "2026-12-06 05:31:15.000000+00");
	time_is("2026-12-06T00:01:15-05:30", true, "2026-12-06 05:31:15.000000+00");
	time_is("2024-02-29T23:59:59.999999Z", true, "2024-02-29 23:59:59.999999+00");
	time_is("2000-02-29T00:00:00Z", true, "2000-02-29 00:00:00.000000+00");
	time_is("9999-12-31T23:59:59Z", true, "9999-12-31 23:59:59.000000+00");
	time_is("0", true, "1970-01-01 00:00:00.000000+00");
	time_is("1796535390", true, "2026-12-06 05:36:30.000000+00");
	time_is("1796535390.25", true, "2026-12-06 05:36:30.250000+00");
	time_is("253402300799", true, "9999-12-31 23:59:59.000000+00");
	time_is(NULL, false, "");
	time_is("", false, "");
	time_is("now", false, "");
	time_is("epoch", false, "");
	time_is("today", false, "");
	time_is("-1", false, "");
	time_is("+1", false, "");
	time_is("01", false, "");
	time_is("1.", false, "");
	time_is(".5", false, "");
	time_is("1.1234567", false, "");
	time_is("1e9", false, "");
	time_is(" 1", false, "");
	time_is("1 ", false, "");
	time_is("253402300800", false, "");
	time_is("99999999999999999999", false, "");
	time_is("2026-12-06", false, "");
	time_is("2026-12-06T05:31:15", false, "");
	time_is("2026-12-06T05:31Z", false, "");
	time_is("2026-12-06T05:31:15.Z", false, "");
	time_is("2026-12-06T05:31:15.1234567Z", false, "");
	time_is("2026-12-06T05:31:15ZZ", false, "");
	time_is("2026-12-06T05:31:15+02", false, "");
	time_is("2026-12-06T05:31:15+0200", false, "");
	time_is("2026-12-06T05:31:15+24:00", false, "");
	time_is("2026-12-06T05:31:15+02:60", false, "");
	time_is("2026-12-06T24:00:00Z", false, "");
	time_is("2026-12-06T23:60:00Z", false, "");
	time_is("2026-12-06T23:59:60Z", false, "");
	time_is("2026-13-01T00:00:00Z", false, "");
	time_is("2026-00-01T00:00:00Z", false, "");
	time_is("2026-12-00T00:00:00Z", false, "");
	time_is("2026-12-32T00:00:00Z", false, "");
	time_is("2023-02-29T00:00:00Z", false, "");
	time_is("1900-02-29T00:00:00Z", false, "");
	time_is("1969-12-31T23:59:59Z", false, "");
	time_is("2026-12-06X05:31:15Z", false, "");
	time_is("2026/12/06T05:31:15Z", false, "");
	time_is("2026-1-06T05:31:15Z", false, "");
	time_is("+2026-12-06T05:31:15Z", false, "");
	time_is("2026-12-06T05:31:15Z'; DROP TABLE x; --", false, "");
	time_is("1111111111111111111111111111111111111111111111111111111111111111111111", false, "");

	range_is(NULL, NULL, NULL, NULL, 0, "||300|");
	range_is(NULL, NULL, "60", NULL, 0, "||1000|60");
	range_is(NULL, NULL, "60", "10", 0, "||10|60");
	range_is(NULL, NULL, NULL, "1", 0, "||1|");
	range_is(NULL, NULL, NULL, "1000", 0, "||1000|");
	range_is("1700000000", "1700003600", NULL, NULL, 0,
			 "2023-11-14 22:13:20.000000+00|2023-11-14 23:13:20.000000+00|300|");
	range_is("2024-01-01T00:00:00Z", NULL, NULL, NULL, 0, "2024-01-01 00:00:00.000000+00||300|");
	range_is(NULL, "2024-01-01T00:00:00Z", NULL, NULL, 0, "|2024-01-01 00:00:00.000000+00|300|");
	range_is("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "2678400", NULL, 0,
			 "2024-01-01 00:00:00.000000+00|2024-02-01 00:00:00.000000+00|1000|2678400");
	range_is("x", NULL, NULL, NULL, -1, "from must be an RFC 3339 timestamp or Unix epoch seconds");
	range_is(NULL, "now", NULL, NULL, -1, "to must be an RFC 3339 timestamp or Unix epoch seconds");
	range_is("1700003600", "1700003600", NULL, NULL, -1, "from must be earlier than to");
	range_is("1700003601", "1700003600", NULL, NULL, -1, "from must be earlier than to");
	range_is("2024-01-01T00:00:00Z", "2024-02-01T00:00:00.000001Z", NULL, NULL, -1,
			 "the range from from to to must not exceed 31 days");
	range_is(NULL, NULL, "0", NULL, -1, "step must be an integer number of seconds from 1 to 2678400");
	range_is(NULL, NULL, "-1", NULL, -1, "step must be an integer number of seconds from 1 to 2678400");
	range_is(NULL, NULL, "1.5", NULL, -1, "step must be an integer number of seconds from 1 to 2678400");
	range_is(NULL, NULL, "2678401", NULL, -1, "step must be an integer number of seconds from 1 to 2678400");
	range_is(NULL, NULL, "", NULL, -1, "step must be an integer number of seconds from 1 to 2678400");
	range_is(NULL, NULL, NULL, "0", -1, "points must be an integer from 1 to 1000");
	range_is(NULL, NULL, NULL, "1001", -1, "points must be an integer from 1 to 1000");
	range_is(NULL, NULL, NULL, "010", -1, "points must be an integer from 1 to 1000");
	range_is(NULL, NULL, NULL, "abc", -1, "points must be an integer from 1 to 1000");
}

int
main(void)
{
	test_sha256();
	test_tokens();
	test_bearer();
	test_accept_encoding();
	test_accept();
	test_etag();
	test_gzip();
	test_cursor();
	test_numbers();
	test_routes();
	test_ids();
	test_json_object();
	test_utf8();
	test_json_escape();
	test_bucket();
	test_sqlstate();
	test_messages();
	test_sql_call();
	test_sql_request();
	test_time_args();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
