/*
 * test_latency_hist.c — unit tests of the latency histogram
 * (src/common/latency_hist.c): every bucket's bounds and index, the 1-2-5
 * boundaries, percentiles of known distributions, counts below a limit,
 * add/sub, the Prometheus cumulative view and the seconds labels.
 */
#include <math.h>				/* NAN */
#include <stdio.h>
#include <string.h>

#include "latency_hist.h"
#include "check.h"


#define MS UINT64_C(1000000)

/* v within 5% of want */
static int
near(uint64_t v, uint64_t want)
{
	uint64_t	d = v > want ? v - want : want - v;

	return d * 20 <= want;
}

/* a small deterministic generator, so failures reproduce */
static uint64_t rng_state = UINT64_C(88172645463325252);

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
test_buckets(void)
{
	int			bad_chain = 0;
	int			bad_width = 0;
	int			bad_index = 0;
	int			bad_order = 0;

	/* every regular bucket, checked quietly and reported once per rule */
	for (int i = 1; i < LH_OVERFLOW; i++)
	{
		uint64_t	lo = lh_bucket_lower(i);
		uint64_t	hi = lh_bucket_upper(i);

		if (lh_bucket_lower(i + 1) != hi)
			bad_chain++;
		if ((hi - lo) * 100 > lo * 5)
			bad_width++;
		if (lh_bucket_index(lo) != i || lh_bucket_index(hi - 1) != i)
			bad_index++;
		if (!(lo < hi) || !(lh_bucket_lower(i - 1) < lo))
			bad_order++;
	}
	CHECK(bad_chain == 0);
	CHECK(bad_width == 0);
	CHECK(bad_index == 0);
	CHECK(bad_order == 0);

	/* the first and last regular buckets, written out */
	CHECK(lh_bucket_lower(1) == 10000 && lh_bucket_upper(1) == 10500);
	CHECK(lh_bucket_lower(490) == UINT64_C(97500000000));
	CHECK(lh_bucket_upper(490) == UINT64_C(100000000000));

	/* underflow and overflow edges */
	CHECK(lh_bucket_index(0) == 0);
	CHECK(lh_bucket_index(9999) == 0);
	CHECK(lh_bucket_index(10000) == 1);
	CHECK(lh_bucket_index(UINT64_C(99999999999)) == 490);
	CHECK(lh_bucket_index(UINT64_C(100000000000)) == LH_NBUCKETS - 1);
	CHECK(lh_bucket_index(UINT64_MAX) == LH_NBUCKETS - 1);
	CHECK(lh_bucket_lower(0) == 0 && lh_bucket_upper(0) == 10000);
	CHECK(lh_bucket_lower(LH_OVERFLOW) == UINT64_C(100000000000));
	CHECK(lh_bucket_upper(LH_OVERFLOW) == UINT64_MAX);

	/* out of range indexes */
	CHECK(lh_bucket_lower(-1) == 0 && lh_bucket_upper(-1) == 0);
	CHECK(lh_bucket_lower(LH_NBUCKETS) == 0 && lh_bucket_upper(LH_NBUCKETS) == 0);

	/* mid-decade spots: 150 us, 2.05 ms (a 0.1 ms bucket), 7.6 s */
	CHECK(lh_bucket_index(150000) == 1 + 70 + 10);
	CHECK(lh_bucket_lower(lh_bucket_index(2050000)) == 2000000);
	CHECK(lh_bucket_upper(lh_bucket_index(2050000)) == 2100000);
	CHECK(lh_bucket_lower(lh_bucket_index(UINT64_C(7600000000))) == UINT64_C(7500000000));
	CHECK(lh_bucket_upper(lh_bucket_index(UINT64_C(7600000000))) == UINT64_C(7750000000));
}

static void
test_125_boundaries(void)
{
	static const uint64_t mant[] = {100, 200, 250, 500};
	int			nvalues = 0;

	for (uint64_t d = 10000; d <= UINT64_C(100000000000); d *= 10)
	{
		for (int m = 0; m < 4; m++)
		{
			uint64_t	v = mant[m] * (d / 100);
			int			found = 0;

			if (v > UINT64_C(100000000000))
				break;
			nvalues++;
			for (int i = 1; i < LH_NBUCKETS; i++)
				if (lh_bucket_lower(i) == v)
					found = 1;
			if (!found)
				fprintf(stderr, "1-2-5 value %llu ns is not a boundary\n",
						(unsigned long long) v);
			CHECK(found);
			CHECK(lh_bucket_lower(lh_bucket_index(v)) == v);
		}
	}
	/* 10 us .. 50 s in seven decades of four, plus 100 s */
	CHECK(nvalues == 29);
}

static void
test_percentiles(void)
{
	static LatencyHist h;
	const int	permille[] = {500, 900, 990};

	/* empty */
	lh_reset(&h);
	CHECK(lh_percentile(&h, 0.5) == 0);
	CHECK(lh_percentile(&h, 0.0) == 0);
	CHECK(lh_percentile(&h, 1.0) == 0);

	/* 100 x 50 ms and 10 x 200 ms */
	for (int i = 0; i < 100; i++)
		lh_record(&h, 50 * MS);
	for (int i = 0; i < 10; i++)
		lh_record(&h, 200 * MS);
	CHECK(h.count == 110);
	CHECK(h.sum_ns == 100 * 50 * MS + 10 * 200 * MS);
	CHECK(h.max_ns == 200 * MS);
	CHECK(near(lh_percentile(&h, 0.5), 50 * MS));
	CHECK(near(lh_percentile(&h, 0.95), 200 * MS));
	CHECK(lh_percentile(&h, 0.95) <= 200 * MS);
	CHECK(lh_percentile(&h, 1.0) == 200 * MS);
	CHECK(near(lh_percentile(&h, 0.0), 50 * MS));
	CHECK(lh_percentile(&h, 0.0) >= 50 * MS);

	/* q outside [0,1] and NaN are clamped */
	CHECK(lh_percentile(&h, -1.0) == lh_percentile(&h, 0.0));
	CHECK(lh_percentile(&h, 7.0) == lh_percentile(&h, 1.0));
	CHECK(lh_percentile(&h, NAN) == lh_percentile(&h, 0.0));

	/* uniform 1..n ms: the true q-quantile is ceil(q * n) ms */
	for (int n = 100; n <= 3000; n += 1450)
	{
		lh_reset(&h);
		for (int i = 1; i <= n; i++)
			lh_record(&h, (uint64_t) i * MS);
		for (int k = 0; k < 3; k++)
		{
			uint64_t	want = (uint64_t) ((permille[k] * n + 999) / 1000) * MS;
			uint64_t	got = lh_percentile(&h, permille[k] / 1000.0);

			if (!near(got, want))
				fprintf(stderr, "uniform 1..%d ms: q=%d/1000 gives %llu, want %llu\n",
						n, permille[k], (unsigned long long) got,
						(unsigned long long) want);
			CHECK(near(got, want));
		}
		CHECK(lh_percentile(&h, 1.0) == (uint64_t) n * MS);
		CHECK(near(lh_percentile(&h, 0.0), MS));
	}

	/* q=1 lands in the max's bucket and is clamped to max_ns */
	lh_reset(&h);
	lh_record(&h, MS);
	lh_record(&h, UINT64_C(1010000000));	/* 1.01 s, bucket [1 s, 1.05 s) */
	CHECK(lh_percentile(&h, 1.0) == UINT64_C(1010000000));
	CHECK(lh_percentile(&h, 0.0) >= MS && lh_percentile(&h, 0.0) < UINT64_C(1050000));

	/*
	 * interpolation, exactly: four values in [1 s, 1.05 s) give each rank
	 * the middle of its quarter of the bucket, 12.5 ms wide
	 */
	lh_reset(&h);
	for (int i = 0; i < 4; i++)
		lh_record(&h, UINT64_C(1000000000) + (uint64_t) i * 12 * MS);
	CHECK(lh_percentile(&h, 0.25) == UINT64_C(1006250000));
	CHECK(lh_percentile(&h, 0.5) == UINT64_C(1018750000));
	CHECK(lh_percentile(&h, 0.75) == UINT64_C(1031250000));
	CHECK(lh_percentile(&h, 1.0) == UINT64_C(1036000000));	/* max_ns */

	/* underflow interpolates over [0, 10 us) and stays <= max */
	lh_reset(&h);
	for (int i = 0; i < 10; i++)
		lh_record(&h, 9000);
	CHECK(lh_percentile(&h, 0.1) == 500);
	CHECK(lh_percentile(&h, 1.0) == 9000);

	/* overflow gives max_ns */
	lh_reset(&h);
	lh_record(&h, UINT64_C(250000000000));
	CHECK(lh_percentile(&h, 0.5) == UINT64_C(250000000000));

	/* count ahead of the buckets (a torn copy) still answers */
	lh_reset(&h);
	lh_record(&h, 5 * MS);
	h.count = 3;
	CHECK(lh_percentile(&h, 1.0) == 5 * MS);
}

static void
test_count_below(void)
{
	static LatencyHist h;
	const uint64_t vals[] = {
		100 * MS - 1, 100 * MS, 100 * MS + 1, 150 * MS,
		200 * MS - 1, 200 * MS, 200 * MS + 1, 5000, UINT64_C(200000000000)
	};

	lh_reset(&h);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		lh_record(&h, vals[i]);

	/* values equal to the limit are not below it */
	CHECK(lh_count_below(&h, 100 * MS) == 2);	/* 5000, 100 ms - 1 */
	CHECK(lh_count_below(&h, 200 * MS) == 6);
	CHECK(lh_count_below(&h, 10000) == 1);
	CHECK(lh_count_below(&h, 0) == 0);
	CHECK(lh_count_below(&h, UINT64_C(100000000000)) == 8);
	CHECK(lh_count_below(&h, UINT64_MAX) == 8);

	/* between boundaries it rounds down to whole buckets */
	CHECK(lh_count_below(&h, 100 * MS + 2) == 2);
	CHECK(lh_count_below(&h, 152 * MS) == 4);	/* 150 ms is left out */
}

static void
test_add_sub(void)
{
	static LatencyHist a;
	static LatencyHist b;
	static LatencyHist sum;
	static LatencyHist d;

	lh_reset(&a);
	lh_reset(&b);
	for (int i = 0; i < 1000; i++)
		lh_record(&a, rng() % UINT64_C(20000000000));
	for (int i = 0; i < 300; i++)
		lh_record(&b, rng() % UINT64_C(200000000000));

	sum = a;
	lh_add(&sum, &b);
	CHECK(sum.count == 1300);
	CHECK(sum.sum_ns == a.sum_ns + b.sum_ns);
	CHECK(sum.max_ns == (a.max_ns > b.max_ns ? a.max_ns : b.max_ns));

	/* (a + b) - b == a, except max_ns, which is the later snapshot's */
	lh_sub(&d, &sum, &b);
	CHECK(d.count == a.count);
	CHECK(d.sum_ns == a.sum_ns);
	CHECK(memcmp(d.buckets, a.buckets, sizeof(a.buckets)) == 0);
	CHECK(d.max_ns == sum.max_ns);

	/* in place: dst may be a */
	d = sum;
	lh_sub(&d, &d, &a);
	CHECK(d.count == b.count && d.sum_ns == b.sum_ns);
	CHECK(memcmp(d.buckets, b.buckets, sizeof(b.buckets)) == 0);

	/* b > a (a reset in between) clamps at 0 */
	lh_reset(&a);
	lh_reset(&b);
	lh_record(&a, 50 * MS);
	lh_record(&b, 50 * MS);
	lh_record(&b, 50 * MS);
	lh_record(&b, 300 * MS);
	lh_record(&a, 2 * MS);
	lh_sub(&d, &a, &b);
	CHECK(d.buckets[lh_bucket_index(50 * MS)] == 0);
	CHECK(d.buckets[lh_bucket_index(300 * MS)] == 0);
	CHECK(d.buckets[lh_bucket_index(2 * MS)] == 1);
	CHECK(d.count == 1);
	CHECK(d.sum_ns == 0);
	CHECK(d.max_ns == 50 * MS);
}

static void
test_prom(void)
{
	static LatencyHist h;
	static uint64_t vals[5000];
	uint64_t	out[LH_PROM_NBOUNDS];
	int			nvals = 0;
	int			mismatches = 0;

	/* the bounds are increasing exact boundaries */
	for (int b = 0; b < LH_PROM_NBOUNDS; b++)
	{
		CHECK(lh_bucket_lower(lh_bucket_index(lh_prom_bounds_ns[b])) == lh_prom_bounds_ns[b]);
		if (b > 0)
			CHECK(lh_prom_bounds_ns[b] > lh_prom_bounds_ns[b - 1]);
	}
	CHECK(lh_prom_bounds_ns[0] == 100000);
	CHECK(lh_prom_bounds_ns[LH_PROM_NBOUNDS - 1] == UINT64_C(100000000000));

	/* values on, just below and just above every bound, then random ones */
	lh_reset(&h);
	for (int b = 0; b < LH_PROM_NBOUNDS; b++)
	{
		vals[nvals++] = lh_prom_bounds_ns[b] - 1;
		vals[nvals++] = lh_prom_bounds_ns[b];
		vals[nvals++] = lh_prom_bounds_ns[b] + 1;
	}
	while (nvals < 5000)
	{
		/* log-ish spread: 1 ns .. ~300 s */
		uint64_t	r = rng();

		vals[nvals++] = (r >> 8) % (UINT64_C(1) << (r % 39));
	}
	for (int i = 0; i < nvals; i++)
		lh_record(&h, vals[i]);

	lh_prom_cumulative(&h, out);
	for (int b = 0; b < LH_PROM_NBOUNDS; b++)
	{
		uint64_t	brute = 0;

		for (int i = 0; i < nvals; i++)
			if (vals[i] < lh_prom_bounds_ns[b])
				brute++;
		if (out[b] != brute)
			mismatches++;
		CHECK(out[b] <= h.count);
		if (b > 0)
			CHECK(out[b] >= out[b - 1]);
		CHECK(out[b] == lh_count_below(&h, lh_prom_bounds_ns[b]));
	}
	CHECK(mismatches == 0);
	/* the generator reaches both ends */
	CHECK(out[0] > 0 && out[LH_PROM_NBOUNDS - 1] < h.count);
}

static void
test_format(void)
{
	static const char *const want[LH_PROM_NBOUNDS] = {
		"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
		"0.01", "0.025", "0.05", "0.1", "0.2", "0.25", "0.5",
		"1", "2.5", "5", "10", "25", "50", "100"
	};
	char		buf[32];

	for (int b = 0; b < LH_PROM_NBOUNDS; b++)
	{
		lh_format_seconds(lh_prom_bounds_ns[b], buf, sizeof(buf));
		if (strcmp(buf, want[b]) != 0)
			fprintf(stderr, "format %llu: \"%s\", want \"%s\"\n",
					(unsigned long long) lh_prom_bounds_ns[b], buf, want[b]);
		CHECK(strcmp(buf, want[b]) == 0);
	}

	lh_format_seconds(1, buf, sizeof(buf));
	CHECK(strcmp(buf, "0.000000001") == 0);
	lh_format_seconds(123456789, buf, sizeof(buf));
	CHECK(strcmp(buf, "0.123456789") == 0);
	lh_format_seconds(0, buf, sizeof(buf));
	CHECK(strcmp(buf, "0") == 0);
	lh_format_seconds(UINT64_C(1000000010), buf, sizeof(buf));
	CHECK(strcmp(buf, "1.00000001") == 0);
	lh_format_seconds(UINT64_MAX, buf, sizeof(buf));
	CHECK(strcmp(buf, "18446744073.709551615") == 0);

	/* a short buffer is truncated and terminated; size 0 writes nothing */
	lh_format_seconds(250000000, buf, 4);
	CHECK(strcmp(buf, "0.2") == 0);
	buf[0] = 'z';
	lh_format_seconds(250000000, buf, 0);
	CHECK(buf[0] == 'z');
}

int
main(void)
{
	test_buckets();
	test_125_boundaries();
	test_percentiles();
	test_count_below();
	test_add_sub();
	test_prom();
	test_format();

	return check_report();
}
