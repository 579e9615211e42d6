/*
 * caching.h — perfopt-httpd's response representations (caching.c):
 * Accept-Encoding and gzip, strong ETags and If-None-Match.  Pure C, like
 * the other helpers: the unit tests and the fuzzer call the same code.
 */
#ifndef PERFOPT_HTTPD_CACHING_H
#define PERFOPT_HTTPD_CACHING_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Accept-Encoding allows gzip: "gzip" or "x-gzip" with q > 0, or "*" with
 * q > 0 when gzip is not named; q=0 refuses; case insensitive.  NULL,
 * empty or "identity" alone: false.
 */
extern bool hd_accepts_gzip(const char *header);

/*
 * Accept asks for the Prometheus text rather than JSON: it names
 * text/plain (any parameters, "version=0.0.4" included) with q > 0 and
 * more than application/json's; wildcards decide nothing (JSON stays the
 * default).  NULL or empty: false.
 */
extern bool hd_prefers_exposition(const char *header);

/* the strong ETag of a body: '"' + 32 hex digits of its sha256 + '"' */
extern void hd_etag(const void *body, size_t len, char out[40]);

/*
 * If-None-Match matches etag: "*", or a comma-separated list of entity
 * tags one of which has the same opaque part (weak comparison, W/ allowed
 * on either side).  A malformed header never matches.
 */
extern bool hd_etag_matches(const char *if_none_match, const char *etag);

/* gzip (deflate level 1, gzip wrapper; one stream per thread): 0 with *out malloc'd; -1 on failure */
extern int	hd_gzip(const void *in, size_t len, void **out, size_t *outlen);

#endif							/* PERFOPT_HTTPD_CACHING_H */
