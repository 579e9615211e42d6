/*
 * test_trends.c — trends.c: a rising series forecasts its crossing times
 * within 10% of the true ones; a falling one does not cross; an anomaly is
 * flagged and a steady (or steadily noisy) series is not.
 */
#include <math.h>
#include <stdio.h>

#include "trends.h"

static int	passed = 0;
static int	failed = 0;

static void
check(int ok, const char *what, double got)
{
	if (ok)
		passed++;
	else
	{
		failed++;
		printf("not ok: %s (got %g)\n", what, got);
	}
}

/* a deterministic pseudo-random value in [-1, 1] */
static double
noise(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return ((double) ((*state >> 8) % 20001) / 10000.0) - 1.0;
}

static void
test_rising(void)
{
	TrendSeries s;
	TrendResult r;
	unsigned	seed = 42;

	/* disk filling at 2 points per hour from 50%, sampled every 60 s, with noise */
	trend_init(&s, 120);
	for (int i = 0; i < 120; i++)
		trend_add(&s, i * 60.0, 50 + 2.0 * i / 60.0 + 0.05 * noise(&seed), 0.1);
	trend_eval(&s, 80, 95, false, &r);
	/* at the last sample (119 min) the true value is 53.97: warning in 13.0 h */
	{
		double		now = 50 + 2.0 * 119 / 60.0;
		double		true_warning = (80 - now) / 2.0 * 3600;
		double		true_critical = (95 - now) / 2.0 * 3600;

		check(fabs(r.slope_per_hour - 2.0) < 0.2, "slope about 2 per hour", r.slope_per_hour);
		check(fabs(r.seconds_to_warning - true_warning) <= 0.1 * true_warning,
			  "time to warning within 10%", r.seconds_to_warning);
		check(fabs(r.seconds_to_critical - true_critical) <= 0.1 * true_critical,
			  "time to critical within 10%", r.seconds_to_critical);
		check(!r.anomaly, "a steady rise is no anomaly", r.z);
	}

	/* cache hit ratio falling toward its (lower) thresholds */
	trend_init(&s, 60);
	for (int i = 0; i < 60; i++)
		trend_add(&s, i * 10.0, 99 - 0.01 * i, 0.1);
	trend_eval(&s, 80, 60, true, &r);
	{
		double		now = 99 - 0.01 * 59;
		double		true_warning = (now - 80) / 0.01 * 10;

		check(fabs(r.seconds_to_warning - true_warning) <= 0.1 * true_warning,
			  "lower-is-worse: time to warning within 10%", r.seconds_to_warning);
	}
	/* the same series is heading away from a higher-is-worse threshold */
	trend_eval(&s, 100, 100, false, &r);
	check(isnan(r.seconds_to_warning), "falling away: no crossing", r.seconds_to_warning);

	/* already past */
	trend_eval(&s, 50, 40, false, &r);
	check(r.seconds_to_warning == 0 && r.seconds_to_critical == 0, "already past: 0", r.seconds_to_warning);
}

static void
test_anomaly(void)
{
	TrendSeries s;
	TrendResult r;
	unsigned	seed = 7;

	/* steady around 40 with +-2 of noise: never an anomaly */
	trend_init(&s, 60);
	for (int i = 0; i < 200; i++)
	{
		trend_add(&s, i, 40 + 2 * noise(&seed), 0.1);
		trend_eval(&s, 70, 90, false, &r);
		if (r.anomaly)
			break;
	}
	check(!r.anomaly, "noisy but steady: no anomaly", r.z);

	/* then a jump to 75 */
	trend_add(&s, 200, 75, 0.1);
	trend_eval(&s, 70, 90, false, &r);
	check(r.anomaly && r.z > 4, "a jump from 40 to 75 is an anomaly", r.z);

	/* a flat series: the noise floor keeps a tiny wobble from counting */
	trend_init(&s, 60);
	for (int i = 0; i < 50; i++)
		trend_add(&s, i, 10, 0.1);
	trend_add(&s, 50, 10.05, 0.1);
	trend_eval(&s, 70, 90, false, &r);
	check(!r.anomaly, "flat then a wobble of 0.05: no anomaly", r.z);

	/* too few values: never */
	trend_init(&s, 60);
	for (int i = 0; i < 5; i++)
		trend_add(&s, i, 1, 0.1);
	trend_add(&s, 5, 1000, 0.1);
	trend_eval(&s, 70, 90, false, &r);
	check(!r.anomaly, "warming up: no anomaly", r.z);

	/* NaN values are ignored */
	trend_add(&s, 6, NAN, 0.1);
	check(s.n == 6, "NaN ignored", s.n);
}

int
main(void)
{
	test_rising();
	test_anomaly();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
