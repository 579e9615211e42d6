/*
 * tokens.h — perfopt-httpd's authentication helpers (tokens.c): SHA-256
 * (nettle's), hex, constant-time comparison, the token file and the
 * bearer token of an Authorization header.
 *
 * No PostgreSQL, libpq or libmicrohttpd headers, so the unit tests and
 * the fuzzer call the same code as the server.  Every input may be
 * hostile: strings are NUL-terminated unless a length is given; nothing
 * aborts.
 */
#ifndef PERFOPT_HTTPD_TOKENS_H
#define PERFOPT_HTTPD_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4) of data[0..len), nettle's; data may be NULL when len is 0 */
extern void hd_sha256(const void *data, size_t len, uint8_t out[32]);
/* in as lower-case hex into out, which holds 2 * len + 1 bytes */
extern void hd_hex(const uint8_t *in, size_t len, char *out);
/* a == b over len bytes, in time that depends on len only */
extern bool hd_consttime_eq(const void *a, const void *b, size_t len);

/*
 * The token file: one "<64 hex digits: sha256 of the token> <role>" per
 * line; blank lines and lines starting with '#' are ignored; spaces and
 * tabs around the fields (and a '\r' before the '\n') are tolerated; the
 * hex digits may be upper or lower case; role = [A-Za-z_][A-Za-z0-9_]{0,62}.
 * A duplicate hash is an error.  A file without any token parses (n = 0).
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
/* the same for a hash the caller computed (hd_sha256 of the token) */
extern const char *hd_tokens_lookup_hash(const HdTokens *t, const uint8_t hash[32]);

/*
 * The value of an Authorization header: "Bearer <token>", the scheme case
 * insensitive, one or more spaces, the token 1..4096 characters of
 * [A-Za-z0-9-._~+/=]; spaces and tabs around the value are tolerated.
 * true with *token pointing into header and *len set; else false.
 */
extern bool hd_bearer(const char *header, const char **token, size_t *len);

#endif							/* PERFOPT_HTTPD_TOKENS_H */
