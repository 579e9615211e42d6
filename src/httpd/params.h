/*
 * params.h — perfopt-httpd's query parameters (params.c): the opaque
 * pagination cursor, strict canonical decimals and page sizes.  Pure C.
 */
#ifndef PERFOPT_HTTPD_PARAMS_H
#define PERFOPT_HTTPD_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* the same over s[0..n), '-' first only when allow_minus; v may be NULL */
extern bool hd_parse_dec(const char *s, size_t n, bool allow_minus, int64_t *v);

#endif							/* PERFOPT_HTTPD_PARAMS_H */
