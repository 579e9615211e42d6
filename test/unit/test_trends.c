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

static void
test_fit(void)
{
	TrendSeries s;
	TrendResult r;
	unsigned	seed = 3;

	/* a clean rise: the line explains nearly all of it */
	trend_init(&s, 60);
	for (int i = 0; i < 60; i++)
		trend_add(&s, i * 5.0, 20 + 0.1 * i + 0.01 * noise(&seed), 0.1);
	trend_eval(&s, 70, 90, false, &r);
	check(r.r2 > 0.99, "a clean rise: R2 near 1", r.r2);
	check(fabs(r.window_seconds - 295) < 1e-9, "the window spans 59 intervals of 5 s", r.window_seconds);

	/* noise around a level with a slight drift: the line explains little */
	trend_init(&s, 60);
	for (int i = 0; i < 60; i++)
		trend_add(&s, i, 1.5 + 0.002 * i + 1.0 * noise(&seed), 0.1);
	trend_eval(&s, 70, 90, false, &r);
	check(r.r2 < 0.3, "noise around a level: R2 low", r.r2);

	/* a flat series is explained perfectly */
	trend_init(&s, 60);
	for (int i = 0; i < 10; i++)
		trend_add(&s, i, 5, 0.1);
	trend_eval(&s, 70, 90, false, &r);
	check(r.r2 == 1, "flat: R2 1", r.r2);

	/* too few points: no line, no R2 */
	trend_init(&s, 60);
	trend_add(&s, 0, 1, 0.1);
	trend_add(&s, 1, 2, 0.1);
	trend_eval(&s, 70, 90, false, &r);
	check(isnan(r.r2) && r.window_seconds == 1, "two points: no R2, a window of 1 s", r.r2);
}

int
main(void)
{
	test_rising();
	test_anomaly();
	test_fit();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
