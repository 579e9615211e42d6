/*
 * trends.c — least-squares trend, threshold-crossing forecast and EWMA
 * anomaly score of one metric series.  Pure C: the alerts code keeps one
 * TrendSeries per metric and subject and feeds it every sample.
 */
#include "trends.h"

#include <math.h>
#include <string.h>

void
trend_init(TrendSeries *s, int window)
{
	memset(s, 0, sizeof(*s));
	if (window < TREND_MIN_POINTS)
		window = TREND_MIN_POINTS;
	if (window > TREND_MAX_WINDOW)
		window = TREND_MAX_WINDOW;
	s->window = window;
	s->last_z = 0;
}

/* the noise floor of the z-score: steady series are not all anomalies */
static double
trend_sd(const TrendSeries *s, double min_sd)
{
	double		sd = sqrt(s->ewvar > 0 ? s->ewvar : 0);
	double		floor_ = fmax(fmax(0.01 * fabs(s->ewma), min_sd), 1e-9);

	return fmax(sd, floor_);
}

void
trend_add(TrendSeries *s, double t_seconds, double value, double min_sd)
{
	if (!isfinite(value) || !isfinite(t_seconds))
		return;
	/* the z-score of the new value against what came before it */
	if (s->nobs == 0)
	{
		s->ewma = value;
		s->ewvar = 0;
		s->last_z = 0;
	}
	else
	{
		double		diff = value - s->ewma;

		s->last_z = diff / trend_sd(s, min_sd);
		s->ewma += TREND_EWMA_ALPHA * diff;
		s->ewvar = (1 - TREND_EWMA_ALPHA) * (s->ewvar + TREND_EWMA_ALPHA * diff * diff);
	}
	s->nobs++;

	s->t[s->head] = t_seconds;
	s->v[s->head] = value;
	s->head = (s->head + 1) % s->window;
	if (s->n < s->window)
		s->n++;
}

/* seconds until the fitted line reaches threshold; NaN when it does not */
static double
trend_crossing(double now_fitted, double slope, double threshold, bool lower_is_worse)
{
	bool		past = lower_is_worse ? now_fitted <= threshold : now_fitted >= threshold;

	if (past)
		return 0;
	if (lower_is_worse ? slope >= 0 : slope <= 0)
		return NAN;
	return (threshold - now_fitted) / slope;
}

/*
 * The share of the values' variance the line explains (1: every point on
 * it; 0: no better than the mean).  A flat series is explained perfectly.
 */
static double
trend_r2(const TrendSeries *s, double slope, double intercept, double t0, double mean)
{
	double		ss_res = 0,
				ss_tot = 0;

	for (int i = 0; i < s->n; i++)
	{
		double		fit = intercept + slope * (s->t[i] - t0);

		ss_res += (s->v[i] - fit) * (s->v[i] - fit);
		ss_tot += (s->v[i] - mean) * (s->v[i] - mean);
	}
	return ss_tot > 0 ? fmax(0, 1 - ss_res / ss_tot) : 1;
}

void
trend_eval(const TrendSeries *s, double warning, double critical, bool lower_is_worse,
		   TrendResult *out)
{
	double		st = 0,
				sv = 0,
				stt = 0,
				stv = 0;
	double		t0;
	int			newest;

	memset(out, 0, sizeof(*out));
	out->points = s->n;
	out->slope_per_hour = NAN;
	out->seconds_to_warning = NAN;
	out->seconds_to_critical = NAN;
	out->last = NAN;
	out->ewma = s->nobs > 0 ? s->ewma : NAN;
	out->z = s->last_z;
	out->anomaly = s->nobs > TREND_WARMUP && fabs(s->last_z) >= TREND_ANOMALY_Z;
	out->r2 = NAN;
	if (s->n == 0)
		return;
	newest = (s->head + s->window - 1) % s->window;
	out->last = s->v[newest];
	out->window_seconds = s->t[newest] - s->t[s->n < s->window ? 0 : s->head];
	if (s->n < TREND_MIN_POINTS)
		return;

	/* least squares, times relative to the newest point for precision */
	t0 = s->t[newest];
	for (int i = 0; i < s->n; i++)
	{
		double		t = s->t[i] - t0;

		st += t;
		sv += s->v[i];
		stt += t * t;
		stv += t * s->v[i];
	}
	{
		double		denom = s->n * stt - st * st;
		double		slope;
		double		intercept;

		if (denom <= 0)
			return;
		slope = (s->n * stv - st * sv) / denom;
		intercept = (sv - slope * st) / s->n;	/* the fitted value now */
		out->r2 = trend_r2(s, slope, intercept, t0, sv / s->n);
		out->slope_per_hour = slope * 3600;
		out->seconds_to_warning = trend_crossing(intercept, slope, warning, lower_is_worse);
		out->seconds_to_critical = trend_crossing(intercept, slope, critical, lower_is_worse);
	}
}
