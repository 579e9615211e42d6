/*
 * bucket.h — the token bucket behind perfopt-httpd's rate limits
 * (bucket.c; the table of buckets is stats.c's).  Pure C.
 */
#ifndef PERFOPT_HTTPD_BUCKET_H
#define PERFOPT_HTTPD_BUCKET_H

#include <stdbool.h>

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

#endif							/* PERFOPT_HTTPD_BUCKET_H */
