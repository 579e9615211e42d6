/*
 * trends.h — trends and anomalies of one metric series (trends.c): a
 * least-squares line over a window of recent samples, the time it takes to
 * cross the warning and critical thresholds, and an EWMA with a z-score
 * that flags sudden departures from the recent normal.  Pure C, no
 * allocation: a series is a fixed-size struct.
 */
#ifndef PERFOPT_TRENDS_H
#define PERFOPT_TRENDS_H

#include <stdbool.h>

#define TREND_MAX_WINDOW 240
/* EWMA weight of the newest value */
#define TREND_EWMA_ALPHA 0.2
/* a z-score at least this large is an anomaly */
#define TREND_ANOMALY_Z 4.0
/* values seen before a z-score counts */
#define TREND_WARMUP 10
/* the fewest points a line is fitted to */
#define TREND_MIN_POINTS 5

typedef struct TrendSeries
{
	int			window;			/* points kept, <= TREND_MAX_WINDOW */
	int			n;				/* points held */
	int			head;			/* where the next point goes */
	double		t[TREND_MAX_WINDOW];	/* seconds */
	double		v[TREND_MAX_WINDOW];
	double		ewma;
	double		ewvar;
	long		nobs;			/* values seen in all */
	double		last_z;			/* of the newest value, against the EWMA before it */
} TrendSeries;

typedef struct TrendResult
{
	int			points;
	double		last;			/* the newest value */
	double		slope_per_hour; /* NaN with too few points */
	double		seconds_to_warning;	/* NaN: not heading there; 0: already there */
	double		seconds_to_critical;
	double		ewma;
	double		z;
	bool		anomaly;
	double		r2;				/* how much of the variance the line explains; NaN without a line */
	double		window_seconds; /* from the oldest point held to the newest */
} TrendResult;

extern void trend_init(TrendSeries *s, int window);
/*
 * min_sd: the smallest standard deviation the z-score assumes, so that a
 * steady series does not make every small change an anomaly (the caller
 * knows the scale: a share of the metric's warning threshold).
 */
extern void trend_add(TrendSeries *s, double t_seconds, double value, double min_sd);
extern void trend_eval(const TrendSeries *s, double warning, double critical,
					   bool lower_is_worse, TrendResult *out);

#endif							/* PERFOPT_TRENDS_H */
