/*
 * latency_hist.c — the 1-2-5 log-linear latency histogram: bucket
 * arithmetic, recording, merging, interval deltas, percentiles and the
 * Prometheus bucket view.
 *
 * Pure C: no PostgreSQL headers, no allocation.  The record path is
 * integer only, without locks and with at most six loop iterations (the
 * decade search); everything else runs at report time.
 */
#include "latency_hist.h"

#include <string.h>

#define LH_NDECADES 7
#define LH_PER_DECADE 70

/* decade lower bounds, plus the end of the last decade */
static const uint64_t lh_pow10[LH_NDECADES + 1] = {
	UINT64_C(10000), UINT64_C(100000), UINT64_C(1000000),
	UINT64_C(10000000), UINT64_C(100000000), UINT64_C(1000000000),
	UINT64_C(10000000000), UINT64_C(100000000000)
};

const uint64_t lh_prom_bounds_ns[LH_PROM_NBOUNDS] = {
	UINT64_C(100000), UINT64_C(250000), UINT64_C(500000),
	UINT64_C(1000000), UINT64_C(2500000), UINT64_C(5000000),
	UINT64_C(10000000), UINT64_C(25000000), UINT64_C(50000000),
	UINT64_C(100000000), UINT64_C(200000000), UINT64_C(250000000),
	UINT64_C(500000000), UINT64_C(1000000000), UINT64_C(2500000000),
	UINT64_C(5000000000), UINT64_C(10000000000), UINT64_C(25000000000),
	UINT64_C(50000000000), UINT64_C(100000000000)
};

int
lh_bucket_index(uint64_t ns)
{
	int			d = 0;
	uint64_t	q;
	int			sub;

	if (ns < LH_MIN_NS)
		return LH_UNDERFLOW;
	if (ns >= LH_MAX_NS)
		return LH_OVERFLOW;
	while (ns >= lh_pow10[d + 1])
		d++;

	/* q in [100, 1000): the mantissa in hundredths of the decade */
	q = ns / (lh_pow10[d] / 100);
	if (q < 200)
		sub = (int) ((q - 100) / 5);
	else if (q < 500)
		sub = 20 + (int) ((q - 200) / 10);
	else
		sub = 50 + (int) ((q - 500) / 25);
	return 1 + d * LH_PER_DECADE + sub;
}

uint64_t
lh_bucket_lower(int index)
{
	int			d;
	int			s;
	uint64_t	q;

	if (index <= LH_UNDERFLOW || index > LH_OVERFLOW)
		return 0;
	if (index == LH_OVERFLOW)
		return LH_MAX_NS;
	d = (index - 1) / LH_PER_DECADE;
	s = (index - 1) % LH_PER_DECADE;
	if (s < 20)
		q = 100 + 5 * (uint64_t) s;
	else if (s < 50)
		q = 200 + 10 * (uint64_t) (s - 20);
	else
		q = 500 + 25 * (uint64_t) (s - 50);
	return q * (lh_pow10[d] / 100);
}

uint64_t
lh_bucket_upper(int index)
{
	if (index < LH_UNDERFLOW || index > LH_OVERFLOW)
		return 0;
	if (index == LH_OVERFLOW)
		return UINT64_MAX;
	if (index == LH_UNDERFLOW)
		return LH_MIN_NS;
	return lh_bucket_lower(index + 1);
}

void
lh_reset(LatencyHist *h)
{
	memset(h, 0, sizeof(*h));
}

void
lh_record(LatencyHist *h, uint64_t ns)
{
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->buckets[lh_bucket_index(ns)]++;
}

void
lh_add(LatencyHist *dst, const LatencyHist *src)
{
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	for (int i = 0; i < LH_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

/* a - b, or 0 when b is larger */
static inline uint64_t
lh_sub_clamp(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

void
lh_sub(LatencyHist *dst, const LatencyHist *a, const LatencyHist *b)
{
	uint64_t	count = 0;
	uint64_t	max_ns = a->max_ns;

	/* element by element, so dst may alias a or b */
	dst->sum_ns = lh_sub_clamp(a->sum_ns, b->sum_ns);
	for (int i = 0; i < LH_NBUCKETS; i++)
	{
		dst->buckets[i] = lh_sub_clamp(a->buckets[i], b->buckets[i]);
		count += dst->buckets[i];
	}
	dst->count = count;
	dst->max_ns = max_ns;
}

uint64_t
lh_percentile(const LatencyHist *h, double q)
{
	uint64_t	rank;
	uint64_t	cum = 0;
	double		r;

	if (h->count == 0)
		return 0;
	if (!(q > 0.0))				/* also NaN */
		q = 0.0;
	if (q > 1.0)
		q = 1.0;

	/* rank = ceil(q * count) in [1, count], without libm */
	r = q * (double) h->count;
	if (r >= (double) h->count)
		rank = h->count;
	else
	{
		rank = (uint64_t) r;
		if ((double) rank < r)
			rank++;
	}
	if (rank < 1)
		rank = 1;

	for (int i = 0; i < LH_NBUCKETS; i++)
	{
		uint64_t	n = h->buckets[i];
		uint64_t	lower;
		uint64_t	upper;
		uint64_t	v;

		if (n == 0 || cum + n < rank)
		{
			cum += n;
			continue;
		}
		if (i == LH_OVERFLOW)
			return h->max_ns;
		lower = lh_bucket_lower(i);
		upper = lh_bucket_upper(i);
		/* middle of the rank's 1/n share of the bucket */
		v = lower + (uint64_t) ((double) (upper - lower) *
								((double) (rank - cum) - 0.5) / (double) n);
		if (v >= upper)
			v = upper - 1;
		if (h->max_ns > 0 && v > h->max_ns)
			v = h->max_ns;
		return v;
	}

	/* count ahead of the buckets (copied while written): the largest */
	return h->max_ns;
}

uint64_t
lh_count_below(const LatencyHist *h, uint64_t limit_ns)
{
	int			end = lh_bucket_index(limit_ns);
	uint64_t	n = 0;

	/* buckets before limit_ns's own end at or below it */
	for (int i = 0; i < end; i++)
		n += h->buckets[i];
	return n;
}

void
lh_prom_cumulative(const LatencyHist *h, uint64_t out[LH_PROM_NBOUNDS])
{
	uint64_t	cum = 0;
	int			i = 0;

	for (int b = 0; b < LH_PROM_NBOUNDS; b++)
	{
		int			end = lh_bucket_index(lh_prom_bounds_ns[b]);

		while (i < end)
			cum += h->buckets[i++];
		out[b] = cum;
	}
}

void
lh_format_seconds(uint64_t ns, char *buf, size_t bufsize)
{
	char		tmp[32];
	char	   *p = tmp + sizeof(tmp);
	uint64_t	whole = ns / UINT64_C(1000000000);
	uint64_t	frac = ns % UINT64_C(1000000000);
	size_t		len;

	if (bufsize == 0)
		return;

	/* right to left: fraction without trailing zeros, point, whole part */
	if (frac > 0)
	{
		int			nd = 9;

		for (; frac % 10 == 0; nd--)
			frac /= 10;
		for (; nd > 0; nd--, frac /= 10)
			*--p = (char) ('0' + frac % 10);
		*--p = '.';
	}
	do
	{
		*--p = (char) ('0' + whole % 10);
		whole /= 10;
	} while (whole > 0);

	len = (size_t) (tmp + sizeof(tmp) - p);
	if (len > bufsize - 1)
		len = bufsize - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
}
