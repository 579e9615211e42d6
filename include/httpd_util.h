/*
 * httpd_util.h — perfopt-httpd's pure-C helpers: SHA-256, the token file
 * and bearer tokens, Accept-Encoding and gzip, ETags, pagination cursors,
 * strict number parsing, the route table, request text and body checks,
 * JSON escaping, token buckets, the SQL text the shim sends, and the
 * SQLSTATE to HTTP status map and error descriptions.
 *
 * No PostgreSQL, libpq or libmicrohttpd headers, so the unit tests and the
 * fuzzer call the same code as the server.  Every input may be hostile:
 * strings are NUL-terminated unless a length is given; nothing aborts.
 */
#ifndef PERFOPT_HTTPD_UTIL_H
#define PERFOPT_HTTPD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- SHA-256 (sha256.c) ---- */

extern void hd_sha256(const void *data, size_t len, uint8_t out[32]);
/* in as lower-case hex into out, which holds 2 * len + 1 bytes */
extern void hd_hex(const uint8_t *in, size_t len, char *out);
/* a == b over len bytes, in time that depends on len only */
extern bool hd_consttime_eq(const void *a, const void *b, size_t len);

/* ---- the token file ---- */

/*
 * One "<64 hex digits: sha256 of the token> <role>" per line; blank lines
 * and lines starting with '#' are ignored; spaces and tabs around the
 * fields (and a '\r' before the '\n') are tolerated; the hex digits may be
 * upper or lower case; role = [A-Za-z_][A-Za-z0-9_]{0,62}.  A duplicate
 * hash is an error.  A file without any token parses (n = 0).
 */
typedef struct HdToken
{
	uint8_t		hash[32];
	char		role[64];
} HdToken;

typedef struct HdTokens
{
	int			n;
	HdToken    *items;			/* malloc'd; NULL when n = 0 */
} HdTokens;

/* 0 ok; -1 with "line N: problem" in err and *out empty */
extern int	hd_tokens_parse(const char *text, size_t len, HdTokens *out,
							char *err, size_t errsize);
extern void hd_tokens_free(HdTokens *t);

/*
 * The role whose hash is sha256(token), or NULL.  Compares against every
 * entry with hd_consttime_eq: no early exit, no branch on the hash bytes.
 */
extern const char *hd_tokens_lookup(const HdTokens *t, const char *token, size_t len);

/*
 * The value of an Authorization header: "Bearer <token>", the scheme case
 * insensitive, one or more spaces, the token 1..4096 characters of
 * [A-Za-z0-9-._~+/=]; spaces and tabs around the value are tolerated.
 * true with *token pointing into header and *len set; else false.
 */
extern bool hd_bearer(const char *header, const char **token, size_t *len);

/* ---- content coding and validators ---- */

/*
 * Accept-Encoding allows gzip: "gzip" or "x-gzip" with q > 0, or "*" with
 * q > 0 when gzip is not named; q=0 refuses; case insensitive.  NULL,
 * empty or "identity" alone: false.
 */
extern bool hd_accepts_gzip(const char *header);

/* the strong ETag of a body: '"' + 32 hex digits of its sha256 + '"' */
extern void hd_etag(const void *body, size_t len, char out[40]);

/*
 * If-None-Match matches etag: "*", or a comma-separated list of entity
 * tags one of which has the same opaque part (weak comparison, W/ allowed
 * on either side).  A malformed header never matches.
 */
extern bool hd_etag_matches(const char *if_none_match, const char *etag);

/* gzip (deflate level 6, gzip wrapper): 0 with *out malloc'd; -1 on failure */
extern int	hd_gzip(const void *in, size_t len, void **out, size_t *outlen);

/* ---- cursors and numbers ---- */

/*
 * The opaque pagination cursor: base64url without padding of "v1:<after>".
 * Encoding writes "" when after < 0 or out is too small (it needs at most
 * 31 bytes; give it 64).  Decoding accepts
 * only what encoding writes (canonical: no leading zeros, no stray bits);
 * false on anything else, on a negative or overflowing value, on more than
 * 64 characters.
 */
extern void hd_cursor_encode(int64_t after, char *out, size_t size);
extern bool hd_cursor_decode(const char *cursor, int64_t *after);

/*
 * Strict canonical decimal: digits only (hd_parse_int64: an optional
 * leading '-'), non-empty, no spaces, no '+', no leading zeros ("0" is
 * fine, "01" and "-0" are not), no overflow.
 */
extern bool hd_parse_int64(const char *s, int64_t *v);
/* the same for a page size: 1..1000 */
extern bool hd_parse_limit(const char *s, int *limit);

/* ---- routes ---- */

/* the routes of the REST API */
typedef enum HdRoute
{
	HD_ROUTE_NONE = 0,
	HD_STATUS,					/* GET  /api/v1/performance/status */
	HD_OPTIMIZE,				/* POST /api/v1/performance/optimize */
	HD_HISTORY,					/* GET  /api/v1/performance/history */
	HD_RECOMMENDATIONS,			/* GET  /api/v1/performance/recommendations */
	HD_METRICS,					/* GET  /api/v1/performance/metrics */
	HD_ALERTS,					/* GET  /api/v1/performance/alerts */
	HD_ALERT_RESOLVE,			/* POST /api/v1/performance/alerts/{id}/resolve */
	HD_ALERTS_RESOLVE,			/* POST /api/v1/performance/alerts/resolve (bulk) */
	HD_THRESHOLDS,				/* GET and PUT /api/v1/performance/thresholds */
	HD_DATABASE,				/* GET  /api/v1/performance/database */
	HD_DATABASE_OPTIMIZE,		/* POST /api/v1/performance/database/optimize */
	HD_API,						/* GET  /api/v1/performance/api */
	HD_MONITORING_START,		/* POST /api/v1/performance/monitoring/start */
	HD_MONITORING_STOP,			/* POST /api/v1/performance/monitoring/stop */
	HD_PROMETHEUS,				/* GET  /metrics */
	HD_HEALTHZ					/* GET  /healthz */
} HdRoute;

#define HD_METHOD_GET	0x1
#define HD_METHOD_POST	0x2
#define HD_METHOD_PUT	0x4
#define HD_METHOD_HEAD	0x8		/* allowed wherever GET is */

/*
 * The route of a URL path (without the query string, not percent-decoded):
 * exact paths, one trailing '/' tolerated; "..", "//" or more than 256
 * characters never match.  *id (may be NULL) is written only for
 * HD_ALERT_RESOLVE: a canonical decimal >= 1.
 */
extern HdRoute hd_route_match(const char *path, int64_t *id);
/* the methods a route allows: HD_METHOD_* bits, HEAD wherever GET */
extern unsigned hd_route_methods(HdRoute r);
/* "GET" -> HD_METHOD_GET and so on (case sensitive); 0 for any other */
extern int	hd_method_bit(const char *method);
/* the Allow header for methods: "GET, HEAD", "POST", "GET, HEAD, PUT"; "" when size is too small */
extern void hd_allow_header(unsigned methods, char *out, size_t size);
/* a stable label for logs and metrics: the path template, "none" for HD_ROUTE_NONE */
extern const char *hd_route_name(HdRoute r);
/* the request changes state: method_bit is POST or PUT and the route allows it */
extern bool hd_route_mutates(HdRoute r, int method_bit);

/* ---- request text ---- */

/*
 * s[0..len) is valid UTF-8 (no overlong forms, surrogates or code points
 * above U+10FFFF) and has no NUL byte: what may be sent to the database,
 * whose encoding the shim's sessions set to UTF8.  NULL is valid only
 * with len 0.
 */
extern bool hd_utf8_valid(const char *s, size_t len);

/* ---- request bodies ---- */

/*
 * The bulk resolve body {"ids": [1, 2, ...]}: only that key, an array of
 * 1..max integers >= 1 (written as plain digits: no fraction, exponent or
 * leading zero; within int64).  0 with *ids malloc'd and *n set; -1 with
 * "<where>: <problem>" in err, *ids NULL and *n 0.
 */
extern int	hd_parse_ids(const char *body, size_t len, int max, int64_t **ids, int *n,
						 char *err, size_t errsize);

/*
 * A body that must be a JSON object: 0 ok; -1 with err.  Like every body
 * (hd_parse_ids too) it must be valid UTF-8 without NUL bytes and without
 * a \u0000 escape, which jsonb cannot store (the server would answer
 * with an error, not a refusal of bad input).
 */
extern int	hd_check_json_object(const char *body, size_t len, char *err, size_t errsize);

/*
 * s escaped for the inside of a JSON string into out (size bytes), always
 * NUL-terminated when size > 0.  Invalid UTF-8 becomes \ufffd; truncation
 * never splits an escape or a character.  NULL s: "".
 */
extern void hd_json_escape(const char *s, char *out, size_t size);

/* ---- rate limits ---- */

/*
 * A token bucket: rate tokens per second, at most burst; now in seconds
 * from a monotonic clock.  Takes one token and returns true; else false
 * with *retry_after the whole seconds until a token is there (1..86400).
 * A fresh bucket (last == 0) starts full.  A rate <= 0, a burst below 1 or
 * a non-finite argument refuses with *retry_after = 1.
 */
typedef struct HdBucket
{
	double		tokens;
	double		last;
} HdBucket;

extern bool hd_bucket_take(HdBucket *b, double now, double rate, double burst,
						   int *retry_after);

/* ---- the SQL the shim sends ---- */

/*
 * Every statement the shim sends starts with this comment (perfopt's
 * advisor and pg_stat_statements readers filter on it), and names every
 * function, operator and type with its schema: the session's search_path
 * is not trusted, even though each request pins it.
 */
#define HD_SQL_TAG "/* perfopt */ "

/* the extension's schema: one row, or none when it is not installed */
#define HD_SQL_EXTENSION_SCHEMA \
	HD_SQL_TAG "SELECT n.nspname FROM pg_catalog.pg_extension e" \
	" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace" \
	" WHERE e.extname OPERATOR(pg_catalog.=) 'perfopt'"

/*
 * What returns a pooled session to the state the connection opened with,
 * sent after each request's COMMIT (or ROLLBACK) in the same round trip:
 * DISCARD ALL, which refuses to run in the implicit transaction of a
 * multi-statement query, spelled out as the statements it stands for,
 * less DISCARD PLANS (cached plans follow search_path and role by
 * themselves, and replanning perfopt's own queries on every request would
 * cost more than everything else here).  SET SESSION AUTHORIZATION DEFAULT
 * also resets the role, which RESET ALL leaves alone.
 */
#define HD_SQL_RESET \
	HD_SQL_TAG "SET SESSION AUTHORIZATION DEFAULT; " \
	HD_SQL_TAG "RESET ALL; " \
	HD_SQL_TAG "DEALLOCATE ALL; " \
	HD_SQL_TAG "CLOSE ALL; " \
	HD_SQL_TAG "UNLISTEN *; " \
	HD_SQL_TAG "SELECT pg_catalog.pg_advisory_unlock_all(); " \
	HD_SQL_TAG "DISCARD TEMP; " \
	HD_SQL_TAG "DISCARD SEQUENCES"
/* the results HD_SQL_RESET produces */
#define HD_SQL_RESET_STEPS 8

/* after a failed request: leave the transaction, then the same reset */
#define HD_SQL_ROLLBACK_RESET HD_SQL_TAG "ROLLBACK; " HD_SQL_RESET
#define HD_SQL_ROLLBACK_RESET_STEPS (1 + HD_SQL_RESET_STEPS)

#define HD_SQL_MAX_PARAMS 9

/* quote s[0..len) as a literal (malloc'd or the caller's allocator); NULL when it cannot */
typedef char *(*HdQuoteFn) (void *ctx, const char *s, size_t len);
typedef void (*HdFreeFn) (void *ctx, char *quoted);

/*
 * A call's SQL: tmpl with each "$S" replaced by schema (an identifier
 * the caller quoted) and "$1".."$9" by params[0..] quoted by quote and
 * handed back to release; a NULL parameter is SQL NULL.  Only the
 * template is scanned, never what was put in.  0 with *out malloc'd;
 * -1 when quote fails for a parameter (it is refused, never inlined as
 * NULL); -2 when out of memory, or the template names a parameter beyond
 * nparams or "$S" without a schema.
 */
extern int	hd_sql_call(const char *tmpl, const char *schema, int nparams,
						const char *const *params, HdQuoteFn quote, HdFreeFn release,
						void *ctx, char **out);

/*
 * One request as one simple query (one round trip), results in this order:
 *   1 BEGIN [READ ONLY]          2 SET LOCAL search_path = pg_catalog, pg_temp
 *   3 SET LOCAL ROLE role        4 SET LOCAL statement_timeout = timeout_ms
 *   5 the call                   6 COMMIT
 *   then HD_SQL_RESET.
 * role is a quoted identifier, call one statement without a tag or ';'.
 * malloc'd; NULL when out of memory or role or call is missing.
 */
#define HD_STEP_CALL 5
#define HD_STEP_COMMIT 6
#define HD_REQUEST_STEPS (HD_STEP_COMMIT + HD_SQL_RESET_STEPS)
extern char *hd_sql_request(bool read_only, const char *role, int timeout_ms, const char *call);

/* ---- errors ---- */

/* the HTTP status for a PostgreSQL SQLSTATE; 500 for NULL or unknown */
extern int	hd_status_for_sqlstate(const char *sqlstate);

/*
 * A short description of a SQLSTATE (by code, then by class; "internal
 * error" for anything else), for error bodies in place of the server's
 * message.  Never NULL.
 */
extern const char *hd_sqlstate_description(const char *sqlstate);

/*
 * The message is perfopt's own and may be shown to the caller: it starts
 * with "perfopt: " or with the name of one of perfopt's SQL functions
 * ("perfopt_alerts_page: ").  Any other server message may quote row
 * values and stays in the server's log.
 */
extern bool hd_message_is_perfopt(const char *message);

#endif							/* PERFOPT_HTTPD_UTIL_H */
