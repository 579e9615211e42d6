/*
 * latency_hist.h — fixed-size log-linear latency histogram of durations in
 * nanoseconds.  Pure C (no PostgreSQL headers, no allocation) so the unit
 * tests can link it alone and the query path can record cheaply.
 *
 * buckets ("1-2-5 log-linear"): seven decades from 10 us to 100 s.  within
 * a decade of lower bound D, [1,2)*D has 20 buckets of width 0.05*D,
 * [2,5)*D has 30 of width 0.1*D and [5,10)*D has 20 of width 0.25*D.  so
 * every bucket is at most 5% wide relative to its lower bound, and every
 * 1-2-5 value (and 2.5) is an exact bucket boundary.  index 0 holds values
 * below 10 us, index LH_NBUCKETS - 1 values of 100 s and more.
 */
#ifndef PERFOPT_LATENCY_HIST_H
#define PERFOPT_LATENCY_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LH_NBUCKETS 492			/* underflow + 7 * 70 + overflow */
#define LH_UNDERFLOW 0
#define LH_OVERFLOW (LH_NBUCKETS - 1)
#define LH_MIN_NS UINT64_C(10000)	/* lower bound of bucket 1 */
#define LH_MAX_NS UINT64_C(100000000000)	/* lower bound of overflow */

/*
 * a histogram.  all zero is empty.  the fields are plain counters, not
 * atomics: one writer per histogram (e.g. one per backend), and a reader
 * that copies it while it is written may see count ahead of the buckets.
 * sum_ns wraps after about 584 years of recorded time.
 */
typedef struct LatencyHist
{
	uint64_t	count;			/* number of recorded values */
	uint64_t	sum_ns;			/* sum of recorded values */
	uint64_t	max_ns;			/* largest recorded value */
	uint64_t	buckets[LH_NBUCKETS];
} LatencyHist;

/* bucket of a value, 0..LH_NBUCKETS-1; integer arithmetic only */
extern int	lh_bucket_index(uint64_t ns);

/*
 * inclusive lower and exclusive upper bound of a bucket in ns.  the
 * underflow bucket is [0, 10 us); the overflow bucket is [100 s,
 * UINT64_MAX), though it also holds UINT64_MAX itself.  an index out of
 * range gives 0 for both.
 */
extern uint64_t lh_bucket_lower(int index);
extern uint64_t lh_bucket_upper(int index);

/* make h empty */
extern void lh_reset(LatencyHist *h);

/* record one value: no allocation, no locks, no floating point */
extern void lh_record(LatencyHist *h, uint64_t ns);

/* dst += src; max_ns becomes the larger of the two */
extern void lh_add(LatencyHist *dst, const LatencyHist *src);

/*
 * dst = a - b, for the delta between two snapshots of one histogram (b
 * taken before a).  each bucket and sum_ns clamp at 0 where b exceeds a (a
 * reset in between); count is the sum of the resulting buckets, so the
 * result is consistent.  max_ns of the result is a->max_ns, i.e. the
 * largest value since a's start, not within the interval.  dst may be a or
 * b.
 */
extern void lh_sub(LatencyHist *dst, const LatencyHist *a,
				   const LatencyHist *b);

/*
 * estimated q-quantile in ns, q in [0,1] (outside, or NaN, is clamped).
 * the rank is ceil(q * count), at least 1.  the result is the middle of
 * that rank's share of its bucket, i.e. lower + width * (k - 0.5) / n for
 * the k-th of n values in the bucket, clamped to [lower, upper) and then
 * to max_ns when max_ns > 0.  the underflow bucket interpolates over
 * [0, 10 us); the overflow bucket gives max_ns.  an empty histogram gives 0.
 */
extern uint64_t lh_percentile(const LatencyHist *h, double q);

/*
 * number of recorded values strictly below limit_ns.  exact when limit_ns
 * is a bucket boundary (every 1-2-5 value from 10 us to 100 s is);
 * otherwise it counts the whole buckets whose upper bound is <= limit_ns,
 * i.e. it rounds down to the boundary below.  the overflow bucket is never
 * counted.
 */
extern uint64_t lh_count_below(const LatencyHist *h, uint64_t limit_ns);

/*
 * the fixed Prometheus bucket set: exposition upper bounds in ns, 100 us
 * to 100 s, all exact boundaries of the histogram.  +Inf is implied and is
 * count.
 */
#define LH_PROM_NBOUNDS 20
extern const uint64_t lh_prom_bounds_ns[LH_PROM_NBOUNDS];

/*
 * cumulative counts for lh_prom_bounds_ns: out[i] = number of values
 * < lh_prom_bounds_ns[i].  Prometheus "le" means <=; for continuous timings
 * the difference is a value landing exactly on a boundary nanosecond, so
 * we count < boundary (what the buckets give exactly) and print the label
 * as the boundary in seconds (lh_format_seconds).
 */
extern void lh_prom_cumulative(const LatencyHist *h,
							   uint64_t out[LH_PROM_NBOUNDS]);

/*
 * ns as decimal seconds without trailing zeros ("0.0001", "0.25", "1",
 * "100"), for an le label.  integer arithmetic only.  buf should hold 32
 * bytes (the longest result, UINT64_MAX ns, needs 22); a smaller buf gets
 * a truncated, NUL-terminated result when bufsize > 0.
 */
extern void lh_format_seconds(uint64_t ns, char *buf, size_t bufsize);

#endif							/* PERFOPT_LATENCY_HIST_H */
