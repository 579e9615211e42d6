/*
 * fuzz_httpd.c — libFuzzer target for perfopt-httpd's helpers: the input
 * is a URL path, a header value, a cursor, a number, a request body and a
 * token file all at once.  Nothing may crash, leak or trip a sanitizer,
 * and what is accepted must hold up: routes and numbers are canonical,
 * cursors re-encode to themselves, id lists are 1..100 positive entries,
 * escaped text is a valid JSON string, gzip inflates back, valid UTF-8
 * escapes without replacements, accepted bodies are valid UTF-8, the
 * SQL built around the input keeps its shape, and an accepted time reads
 * back as the same instant.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
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

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_route(const char *s)
{
	int64_t		id = -1;
	HdRoute		r = hd_route_match(s, &id);
	char		want[320];
	size_t		n = strlen(s);

	if (r == HD_ROUTE_NONE)
	{
		if (id != -1)
			abort();
		return;
	}
	if (hd_route_methods(r) == 0 || strcmp(hd_route_name(r), "none") == 0)
		abort();
	if (r == HD_ALERT_RESOLVE)
	{
		if (id < 1)
			abort();
		snprintf(want, sizeof(want), "/api/v1/performance/alerts/%lld/resolve", (long long) id);
	}
	else if (r == HD_DASHBOARD_ASSET)
	{
		/* "/dashboard/" and a file name: [A-Za-z0-9._-], 1 to 64, no leading '.', no ".." */
		size_t		len = n > 11 && s[n - 1] == '/' ? n - 12 : n - 11;

		if (id != -1 || strncmp(s, "/dashboard/", 11) != 0 || len < 1 || len > 64 || s[11] == '.' ||
			strstr(s, "..") != NULL || strspn(s + 11, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
											  "0123456789._-") != len)
			abort();
		return;
	}
	else
	{
		if (id != -1)
			abort();
		snprintf(want, sizeof(want), "%s", hd_route_name(r));
	}
	/* the path itself, or it with one '/' after */
	if (strcmp(s, want) != 0 &&
		!(n == strlen(want) + 1 && strncmp(s, want, n - 1) == 0 && s[n - 1] == '/'))
		abort();
}

/* a time accepted is written back as UTC and reads back as the same instant */
static void
fuzz_time(const char *s)
{
	int64_t		us;
	int64_t		again;
	char		lit[40];
	char		rfc[40];
	HdRangeArgs a;
	char		err[256];

	(void) hd_range_args(s, s, s, s, &a, err, sizeof(err));
	(void) hd_range_args(NULL, s, NULL, NULL, &a, err, sizeof(err));
	if (!hd_parse_time(s, &us))
		return;
	hd_format_time(us, lit, sizeof(lit));
	/* "YYYY-MM-DD HH:MM:SS.ffffff+00" -> "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
	if (strlen(lit) != 29 || strcmp(lit + 26, "+00") != 0)
	{
		/* only an offset may move an instant out of years 1970..9999 */
		if (us >= 0 && us < INT64_C(253402300800000000))
			abort();
		return;
	}
	snprintf(rfc, sizeof(rfc), "%.10sT%.15sZ", lit, lit + 11);
	if (us >= 0 && (!hd_parse_time(rfc, &again) || again != us))
		abort();
}

static void
fuzz_bearer(const char *s, const HdTokens *tokens)
{
	const char *t;
	size_t		n;

	if (!hd_bearer(s, &t, &n))
		return;
	if (n < 1 || n > 4096 || t < s || t + n > s + strlen(s))
		abort();
	if (strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") < n)
		abort();
	(void) hd_tokens_lookup(tokens, t, n);
}

static void
fuzz_numbers(const char *s)
{
	int64_t		v;
	int			limit;
	char		back[64];

	if (hd_cursor_decode(s, &v))
	{
		int64_t		again;

		if (v < 0)
			abort();
		hd_cursor_encode(v, back, sizeof(back));
		if (strcmp(back, s) != 0 || !hd_cursor_decode(back, &again) || again != v)
			abort();
	}
	if (hd_parse_int64(s, &v))
	{
		snprintf(back, sizeof(back), "%lld", (long long) v);
		if (strcmp(back, s) != 0)
			abort();
		/* a cursor of any value >= 0 decodes to it */
		if (v >= 0)
		{
			int64_t		again;

			hd_cursor_encode(v, back, sizeof(back));
			if (!hd_cursor_decode(back, &again) || again != v)
				abort();
		}
	}
	if (hd_parse_limit(s, &limit))
	{
		snprintf(back, sizeof(back), "%d", limit);
		if (limit < 1 || limit > 1000 || strcmp(back, s) != 0)
			abort();
	}
}

static void
fuzz_bodies(const uint8_t *data, size_t size)
{
	int64_t    *ids = NULL;
	int			n = -1;
	char		err[256];
	int			obj_rc;

	obj_rc = hd_check_json_object((const char *) data, size, err, sizeof(err));
	if (obj_rc != 0 && (obj_rc != -1 || err[0] == '\0'))
		abort();
	/* what is accepted can be sent: UTF-8, no NUL, no \u0000 */
	if (obj_rc == 0 && !hd_utf8_valid((const char *) data, size))
		abort();
	if (hd_parse_ids((const char *) data, size, 100, &ids, &n, err, sizeof(err)) == 0)
	{
		if (ids == NULL || n < 1 || n > 100 || obj_rc != 0)
			abort();
		for (int i = 0; i < n; i++)
			if (ids[i] < 1)
				abort();
		free(ids);
	}
	else if (ids != NULL || n != 0 || err[0] == '\0')
		abort();
}

/* the escaped text is the inside of a valid JSON string; a cut copy is its prefix */
static void
fuzz_escape(const char *s)
{
	size_t		n = strlen(s);
	size_t		size = 6 * n + 3;
	char	   *doc = malloc(size + 2);
	char		small[16];
	cJSON	   *str;

	if (doc == NULL)
		return;
	doc[0] = '"';
	hd_json_escape(s, doc + 1, size);
	strcat(doc, "\"");
	str = cJSON_Parse(doc);
	if (!cJSON_IsString(str))
		abort();
	/* without replacements the string reads back as it was */
	if (strstr(doc, "ufffd") == NULL && strcmp(str->valuestring, s) != 0)
		abort();
	cJSON_Delete(str);
	hd_json_escape(s, small, sizeof(small));
	if (strlen(small) >= sizeof(small) || strncmp(small, doc + 1, strlen(small)) != 0)
		abort();
	free(doc);
}

/* valid UTF-8 has no NUL, and escapes to a JSON string that reads back as it was */
static void
fuzz_utf8(const uint8_t *data, size_t size, const char *s)
{
	size_t		osize = 6 * size + 3;
	char	   *doc;
	cJSON	   *str;

	if (!hd_utf8_valid((const char *) data, size))
		return;
	if (memchr(data, '\0', size) != NULL)
		abort();
	doc = malloc(osize + 1);
	if (doc == NULL)
		return;
	doc[0] = '"';
	hd_json_escape(s, doc + 1, osize - 1);
	strcat(doc, "\"");
	str = cJSON_Parse(doc);
	if (!cJSON_IsString(str) || strcmp(str->valuestring, s) != 0)
		abort();
	cJSON_Delete(str);
	free(doc);
}

/* a toy quoting that refuses a byte, as PQescapeLiteral refuses an incomplete character */
static char *
toy_quote(void *ctx, const char *s, size_t len)
{
	char	   *out;

	(void) ctx;
	if (memchr(s, 0xff, len) != NULL)
		return NULL;
	out = malloc(len + 3);
	if (out == NULL)
		return NULL;
	out[0] = '[';
	memcpy(out + 1, s, len);
	out[len + 1] = ']';
	out[len + 2] = '\0';
	return out;
}

static void
toy_release(void *ctx, char *quoted)
{
	(void) ctx;
	free(quoted);
}

/* the input as a call template and as a parameter; the request around a call */
static void
fuzz_sql(const char *s)
{
	const char *params[3] = {s, NULL, "x"};
	char	   *out = NULL;
	int			rc = hd_sql_call(s, "\"sch\"", 3, params, toy_quote, toy_release, NULL, &out);

	if (rc == 0)
	{
		if (out == NULL || (strchr(s, '$') == NULL && strcmp(out, s) != 0))
			abort();
		free(out);
	}
	else if (out != NULL || (rc != -1 && rc != -2) ||
			 (rc == -1 && strchr(s, 0xff) == NULL))
		abort();

	rc = hd_sql_call("SELECT $S.f($1, $2)", "\"sch\"", 2, params, toy_quote, toy_release, NULL, &out);
	if (rc == 0)
	{
		if (strncmp(out, "SELECT \"sch\".f([", strlen("SELECT \"sch\".f([")) != 0 ||
			strstr(out, "], NULL)") == NULL)
			abort();
		free(out);
	}
	else if (rc != -1 || out != NULL)
		abort();

	out = hd_sql_request(s[0] & 1, "\"role\"", s);
	if (s[0] == '\0' ? out != NULL : out == NULL || strncmp(out, HD_SQL_TAG, strlen(HD_SQL_TAG)) != 0 ||
		strstr(out, s) == NULL || strlen(out) < strlen("DISCARD SEQUENCES") ||
		strcmp(out + strlen(out) - strlen("DISCARD SEQUENCES"), "DISCARD SEQUENCES") != 0)
		abort();
	free(out);

	if (hd_sqlstate_description(s) == NULL || hd_sqlstate_description(s)[0] == '\0')
		abort();
	{
		const char *base = strrchr(s, '/') ? strrchr(s, '/') + 1 : s;

		if (hd_error_is_perfopt(s, "a.c:bb.c") && strcmp(base, "a.c") != 0 && strcmp(base, "bb.c") != 0)
			abort();
	}
}

static void
fuzz_gzip(const uint8_t *data, size_t size)
{
	void	   *gzd;
	size_t		gzlen;
	unsigned char *back;
	z_stream	zs;
	int			rc;

	if (hd_gzip(data, size, &gzd, &gzlen) != 0)
		abort();
	back = malloc(size + 1);
	if (back == NULL)
	{
		free(gzd);
		return;
	}
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		abort();
	zs.next_in = gzd;
	zs.avail_in = (uInt) gzlen;
	zs.next_out = back;
	zs.avail_out = (uInt) size + 1;
	rc = inflate(&zs, Z_FINISH);
	if (rc != Z_STREAM_END || zs.total_out != size || (size > 0 && memcmp(back, data, size) != 0))
		abort();
	inflateEnd(&zs);
	free(back);
	free(gzd);
}

static void
fuzz_bucket(const uint8_t *data, size_t size)
{
	HdBucket	b = {0, 0};
	double		d[3];
	int			retry;

	if (size < sizeof(d))
		return;
	memcpy(d, data, sizeof(d));
	for (int i = 0; i < 4; i++)
	{
		if (hd_bucket_take(&b, d[0] + i, d[1], d[2], &retry))
		{
			if (retry != 0)
				abort();
		}
		else if (retry < 1 || retry > 86400)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);
	HdTokens	tokens = {0, NULL};
	char		err[256];
	char		etag[40];
	int			status;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* the token file first: the bearer token is looked up in it */
	if (hd_tokens_parse((const char *) data, size, &tokens, err, sizeof(err)) == 0)
	{
		if (tokens.n < 0 || (tokens.n > 0) != (tokens.items != NULL))
			abort();
		for (int i = 0; i < tokens.n; i++)
			if (tokens.items[i].role[0] == '\0' || strlen(tokens.items[i].role) > 63)
				abort();
		(void) hd_tokens_lookup(&tokens, (const char *) data, size);
	}
	else if (strncmp(err, "line ", 5) != 0 || tokens.n != 0 || tokens.items != NULL)
		abort();

	fuzz_route(s);
	fuzz_time(s);
	/* an Accept without text/plain never selects the exposition */
	if (hd_prefers_exposition(s) && strcasestr(s, "text/plain") == NULL)
		abort();
	(void) hd_route_state_valid(HD_JOBS, s, NULL);
	fuzz_bearer(s, &tokens);
	hd_tokens_free(&tokens);
	(void) hd_accepts_gzip(s);

	hd_etag(data, size, etag);
	if (!hd_etag_matches(etag, etag) || !hd_etag_matches("*", etag))
		abort();
	(void) hd_etag_matches(s, etag);
	(void) hd_etag_matches(etag, s);

	fuzz_numbers(s);
	fuzz_bodies(data, size);
	fuzz_escape(s);
	fuzz_utf8(data, size, s);
	fuzz_sql(s);
	fuzz_gzip(data, size);
	fuzz_bucket(data, size);

	status = hd_status_for_sqlstate(s);
	if (status != 400 && status != 403 && status != 404 && status != 409 &&
		status != 500 && status != 503)
		abort();
	free(s);
	return 0;
}
