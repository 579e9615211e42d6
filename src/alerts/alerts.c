/*
 * alerts.c — the worker's alert evaluation: after every sample each
 * metric (cpu, memory, each filesystem, connection utilization, query
 * time, cache hit ratio per database, api response time and error rate)
 * is compared with its thresholds and fed to its trend (trends.c).
 *
 * Severity: critical at or past the critical threshold; high past warning
 * for perfopt.alert_sustained_samples samples in a row and a fifth of
 * perfopt.alert_dwell; medium past warning; low for an anomaly that
 * persists as long, or a forecast: a trend line that explains the data
 * (R2 at least 0.9), spans at least perfopt.alert_dwell, reaches warning
 * within perfopt.alert_forecast_horizon, for a value not far from warning.
 * One open alert per (metric, subject), opened and made worse once the
 * worse state came back in perfopt.alert_sustained_samples samples over a
 * fifth of perfopt.alert_dwell with no calm spell that long between them
 * (a spike opens nothing; a value oscillating across the threshold does,
 * once), in place, as a transition.  Hysteresis in time and samples, so it holds at
 * every sampling interval: an alert is lowered or resolved (resolved_by
 * 'auto') only after its lower state held for perfopt.alert_dwell and
 * perfopt.alert_resolve_samples samples (a resolution: clear of warning by
 * perfopt.alert_resolve_margin percent throughout).  A value oscillating
 * around a threshold keeps one alert in one state.  At most three NOTIFY
 * messages per alert per minute, and its resolution.
 *
 * Open alerts live in shared memory, written to perfopt_alerts_data (and
 * their transitions to perfopt_alert_transitions, each with NOTIFY
 * perfopt_alerts) in the worker's transaction when they change; what could
 * not be written (standby, full disk) stays in shared memory and is
 * written later.  The worker loads the open alerts of the table before it
 * first writes (after a start, a crash or a promotion) and, on a standby,
 * once to read them: alerts survive restarts and failovers, and an alert
 * opened before the load adopts the open row of its metric and subject
 * (al_load).
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "alerts.h"
#include "extschema.h"
#include "jsonutil.h"
#include "latency.h"
#include "perfopt.h"
#include "shmem.h"
#include "spiutil.h"
#include "thresholds.h"

typedef struct AlertsShared
{
	int64		next_id;
	bool		loaded;			/* the table's open alerts were read */
	bool		loaded_in_recovery; /* ... on a standby: read again once it may write */
	int			nalerts;
	PerfoptAlert alerts[PERFOPT_MAX_ALERTS];
	int			ntrends;
	PerfoptTrend trends[FLEXIBLE_ARRAY_MEMBER];	/* perfopt_alerts_max_series() */
} AlertsShared;

/* a transition to write and NOTIFY */
typedef struct AlertEvent
{
	int64		id;
	char		event[16];		/* open, escalate, deescalate, resolve */
	char		metric[48];
	int			severity;
	bool		open;
	double		value;
	double		threshold;
} AlertEvent;

/* the worker's own state of a series */
typedef struct AlertSeries
{
	char		metric[48];
	char		subject[NAMEDATALEN];
	int			over_count;		/* samples in a row past warning */
	double		over_since;		/* since when (seconds), 0: not past */
	int			anomaly_count;	/* samples in a row anomalous (bad direction) */
	double		anomaly_since;
	/*
	 * An episode of targets worse than the alert (or than none): since when
	 * (seconds, 0: none), in how many samples, the mildest of them, and
	 * since when it has been calm (0: it is not).
	 */
	double		raise_since;
	int			raise_count;
	int			raise_min;
	double		calm_since;
	/* the open alert's target has been lower than its severity: */
	double		lower_since;	/* since when (seconds), 0: it is not */
	int			lower_count;	/* for this many samples */
	int			lower_max;		/* the highest of those targets */
	bool		lower_clear;	/* every one of them clear by the margin */
	TrendSeries trend;
} AlertSeries;

#define ALERT_MAX_EVENTS 256

static AlertsShared *alerts = NULL;
static AlertSeries *al_series = NULL;
static int	al_nseries = 0;
static AlertEvent al_events[ALERT_MAX_EVENTS];
static int	al_nevents = 0;

static int
al_max_series(void)
{
	return 10 + perfopt_max_databases;
}

static Size
perfopt_alerts_shmem_size(void)
{
	return add_size(offsetof(AlertsShared, trends),
					mul_size(al_max_series(), sizeof(PerfoptTrend)));
}

static void
perfopt_alerts_shmem_init(bool created, LWLock *lock)
{
	bool		found;

	alerts = ShmemInitStruct("perfopt alerts", perfopt_alerts_shmem_size(), &found);
	if (!found)
	{
		memset(alerts, 0, perfopt_alerts_shmem_size());
		alerts->next_id = 1;
	}
}

static const PerfoptShmemPart al_shmem_part = {
	perfopt_alerts_shmem_size, perfopt_alerts_shmem_init, false
};

void
perfopt_alerts_shmem_register(void)
{
	perfopt_shmem_register(&al_shmem_part);
}

const char *
perfopt_alert_severity_name(int severity)
{
	static const char *const names[] = {"none", "low", "medium", "high", "critical"};

	return severity >= 0 && severity <= ALERT_CRITICAL ? names[severity] : "none";
}

/*
 * The first columns of an alert row, in perfopt_alerts_data's order (id,
 * type, metric, subject, severity, state, value, threshold, first_seen,
 * last_seen, resolved_at): for its write and for perfopt_alerts_pending().
 * Returns whether resolved_at is null (the alert is open).
 */
bool
perfopt_alert_datums(const PerfoptAlert *a, Datum *values)
{
	values[0] = Int64GetDatum(a->id);
	values[1] = CStringGetTextDatum(a->type);
	values[2] = CStringGetTextDatum(a->metric);
	values[3] = CStringGetTextDatum(a->subject);
	values[4] = CStringGetTextDatum(perfopt_alert_severity_name(a->severity));
	values[5] = CStringGetTextDatum(a->open ? "open" : "resolved");
	values[6] = Float8GetDatum(a->value);
	values[7] = Float8GetDatum(a->threshold);
	values[8] = TimestampTzGetDatum(a->first_seen);
	values[9] = TimestampTzGetDatum(a->last_seen);
	values[10] = TimestampTzGetDatum(a->resolved_at);
	return a->open;
}

/* ---- evaluation ---- */

typedef struct AlertInput
{
	const char *type;
	const char *metric;
	const char *subject;
	const char *unit;			/* "%" or " ms" */
	double		value;
	const ThresholdPair *th;
	bool		lower_is_worse;
} AlertInput;

/*
 * A line fitted to a window says little about what happens more than this
 * many windows ahead: no forecast alert beyond it.
 */
#define AL_MAX_EXTRAPOLATION 10
/* a forecast needs a line that explains at least this share of the variance */
#define AL_FORECAST_MIN_R2 0.9

static AlertSeries *
al_series_for(const char *metric, const char *subject)
{
	for (int i = 0; i < al_nseries; i++)
		if (strcmp(al_series[i].metric, metric) == 0 &&
			strcmp(al_series[i].subject, subject) == 0)
			return &al_series[i];
	if (al_nseries >= al_max_series())
		return NULL;
	memset(&al_series[al_nseries], 0, sizeof(AlertSeries));
	strlcpy(al_series[al_nseries].metric, metric, sizeof(al_series[0].metric));
	strlcpy(al_series[al_nseries].subject, subject, sizeof(al_series[0].subject));
	trend_init(&al_series[al_nseries].trend, perfopt_trend_window);
	return &al_series[al_nseries++];
}

static bool
al_past(double v, double threshold, bool lower_is_worse)
{
	return lower_is_worse ? v <= threshold : v >= threshold;
}

static void
al_event(const PerfoptAlert *a, const char *event)
{
	AlertEvent *e;

	/* when the table cannot be written for long, the oldest go */
	if (al_nevents == ALERT_MAX_EVENTS)
	{
		memmove(&al_events[0], &al_events[1], sizeof(AlertEvent) * (ALERT_MAX_EVENTS - 1));
		al_nevents--;
	}
	e = &al_events[al_nevents++];
	e->id = a->id;
	strlcpy(e->event, event, sizeof(e->event));
	strlcpy(e->metric, a->metric, sizeof(e->metric));
	e->severity = a->severity;
	e->open = a->open;
	e->value = a->value;
	e->threshold = a->threshold;
}

static PerfoptAlert *
al_open_alert(const char *metric, const char *subject)
{
	for (int i = 0; i < alerts->nalerts; i++)
	{
		PerfoptAlert *a = &alerts->alerts[i];

		if (a->open && strcmp(a->metric, metric) == 0 && strcmp(a->subject, subject) == 0)
			return a;
	}
	return NULL;
}

/* room for one more alert: the oldest resolved and written one goes */
static PerfoptAlert *
al_new_slot(void)
{
	if (alerts->nalerts < PERFOPT_MAX_ALERTS)
		return &alerts->alerts[alerts->nalerts++];
	for (int i = 0; i < alerts->nalerts; i++)
		if (!alerts->alerts[i].open && !alerts->alerts[i].dirty)
			return &alerts->alerts[i];
	return NULL;
}

static void
al_message(PerfoptAlert *a, const AlertInput *in, int severity, const TrendResult *tr,
		   int over_count)
{
	const char *what = in->lower_is_worse ? "below" : "above";

	if (severity == ALERT_CRITICAL)
		snprintf(a->message, sizeof(a->message),
				 "%s of %s is %.1f%s, %s its critical threshold %g%s",
				 in->metric, in->subject, in->value, in->unit, in->lower_is_worse ? "at or below" : "at or above",
				 in->th->critical, in->unit);
	else if (severity == ALERT_HIGH || severity == ALERT_MEDIUM)
		snprintf(a->message, sizeof(a->message),
				 "%s of %s is %.1f%s, %s its warning threshold %g%s for %d sample(s) in a row",
				 in->metric, in->subject, in->value, in->unit, what, in->th->warning, in->unit,
				 over_count);
	else if (tr->anomaly)
		snprintf(a->message, sizeof(a->message),
				 "%s of %s is %.1f%s, a sudden departure from its recent normal %.1f%s (z-score %.1f)",
				 in->metric, in->subject, in->value, in->unit, tr->ewma, in->unit, tr->z);
	else
	{
		char		critical[80] = "";

		if (!isnan(tr->seconds_to_critical))
			snprintf(critical, sizeof(critical), " and its critical threshold in %.1f hour(s)",
					 tr->seconds_to_critical / 3600);
		snprintf(a->message, sizeof(a->message),
				 "%s of %s is %.1f%s and moving %+.2f%s per hour: it would reach its warning threshold %g%s in %.1f hour(s)%s",
				 in->metric, in->subject, in->value, in->unit, tr->slope_per_hour, in->unit,
				 in->th->warning, in->unit, tr->seconds_to_warning / 3600, critical);
	}
}

/*
 * Is a value far from its warning threshold (on the good side)?  Then no
 * forecast: a line through a quiet metric ("cpu 1.5% ... warning in 0.1
 * hour") is noise extrapolated.
 */
static bool
al_far_from_warning(const AlertInput *in)
{
	double		distance = in->lower_is_worse ? in->value - in->th->warning : in->th->warning - in->value;

	return distance > 0.5 * Max(fabs(in->th->warning), fabs(in->th->critical - in->th->warning));
}

/* the severity the value calls for now, with the time rules applied */
static int
al_target(const AlertInput *in, AlertSeries *ser, const TrendResult *tr, double now_s)
{
	double		persist_s = perfopt_alert_dwell / 5.0;
	bool		over_warning = al_past(in->value, in->th->warning, in->lower_is_worse);
	bool		anomalous = tr->anomaly && (in->lower_is_worse ? tr->z < 0 : tr->z > 0);

	ser->over_count = over_warning ? ser->over_count + 1 : 0;
	ser->over_since = !over_warning ? 0 : ser->over_since > 0 ? ser->over_since : now_s;
	ser->anomaly_count = anomalous ? ser->anomaly_count + 1 : 0;
	ser->anomaly_since = !anomalous ? 0 : ser->anomaly_since > 0 ? ser->anomaly_since : now_s;

	if (al_past(in->value, in->th->critical, in->lower_is_worse))
		return ALERT_CRITICAL;
	if (over_warning)
		return ser->over_count >= perfopt_alert_sustained_samples &&
			now_s - ser->over_since >= persist_s ? ALERT_HIGH : ALERT_MEDIUM;
	/* an anomaly that persists, in samples and in time */
	if (anomalous && ser->anomaly_count >= perfopt_alert_sustained_samples &&
		now_s - ser->anomaly_since >= persist_s)
		return ALERT_LOW;
	/*
	 * A forecast only from a line that explains the data, fitted over at
	 * least the dwell time, for a value not far from warning, and not
	 * further ahead than ten windows.
	 */
	if (!isnan(tr->seconds_to_warning) && tr->seconds_to_warning > 0 &&
		tr->seconds_to_warning <= perfopt_alert_forecast_horizon &&
		tr->seconds_to_warning <= AL_MAX_EXTRAPOLATION * tr->window_seconds &&
		!isnan(tr->r2) && tr->r2 >= AL_FORECAST_MIN_R2 &&
		tr->window_seconds >= perfopt_alert_dwell && !al_far_from_warning(in))
		return ALERT_LOW;
	return ALERT_NONE;
}

/*
 * Feed the episode of targets worse than severity; true when it calls for
 * opening or escalating: worse in perfopt.alert_sustained_samples samples
 * over at least a fifth of perfopt.alert_dwell, without a calm spell of
 * that length between them.  A spike opens nothing; a value that keeps
 * coming back past the threshold does, once, at the mildest of what it
 * was (ser->raise_min).
 */
static bool
al_raise_due(AlertSeries *ser, int target, int severity, double now_s)
{
	double		persist_s = perfopt_alert_dwell / 5.0;

	if (target <= severity)
	{
		if (ser->raise_since != 0 && ser->calm_since == 0)
			ser->calm_since = now_s;
		if (ser->raise_since != 0 && now_s - ser->calm_since >= persist_s)
			ser->raise_since = 0;
		return false;
	}
	if (ser->raise_since == 0)
	{
		ser->raise_since = now_s;
		ser->raise_count = 0;
		ser->raise_min = target;
	}
	ser->calm_since = 0;
	ser->raise_count++;
	ser->raise_min = Min(ser->raise_min, target);
	/* without a dwell time, the first sample counts (samples only) */
	if (ser->raise_count < (perfopt_alert_dwell > 0 ? perfopt_alert_sustained_samples : 1) ||
		now_s - ser->raise_since < persist_s)
		return false;
	ser->raise_since = 0;
	return true;
}

static void
al_evaluate_one(const AlertInput *in, TimestampTz now, double now_s, PerfoptTrend *trend_out)
{
	AlertSeries *ser;
	TrendResult tr;
	PerfoptAlert *a;
	bool		clear;
	bool		raise;
	int			target;
	double		margin;

	if (isnan(in->value) || (ser = al_series_for(in->metric, in->subject)) == NULL)
		return;
	/* z-scores assume at least 2% of the warning threshold of noise */
	trend_add(&ser->trend, now_s, in->value, 0.02 * fabs(in->th->warning));
	trend_eval(&ser->trend, in->th->warning, in->th->critical, in->lower_is_worse, &tr);
	if (trend_out)
	{
		strlcpy(trend_out->metric, in->metric, sizeof(trend_out->metric));
		strlcpy(trend_out->subject, in->subject, sizeof(trend_out->subject));
		trend_out->warning = in->th->warning;
		trend_out->critical = in->th->critical;
		trend_out->at = now;
		trend_out->r = tr;
	}

	target = al_target(in, ser, &tr, now_s);
	margin = fabs(in->th->warning) * perfopt_alert_resolve_margin / 100.0;
	clear = target == ALERT_NONE &&
		(in->lower_is_worse ? in->value > in->th->warning + margin
		 : in->value < in->th->warning - margin);

	a = al_open_alert(in->metric, in->subject);
	raise = al_raise_due(ser, target, a ? a->severity : ALERT_NONE, now_s);
	if (a == NULL)
	{
		if (!raise || (a = al_new_slot()) == NULL)
			return;
		target = ser->raise_min;
		memset(a, 0, sizeof(PerfoptAlert));
		a->id = alerts->next_id++;
		strlcpy(a->type, in->type, sizeof(a->type));
		strlcpy(a->metric, in->metric, sizeof(a->metric));
		strlcpy(a->subject, in->subject, sizeof(a->subject));
		a->open = true;
		a->severity = target;
		a->first_seen = now;
		a->last_seen = now;
		a->value = in->value;
		a->threshold = target == ALERT_CRITICAL ? in->th->critical : in->th->warning;
		a->dirty = true;
		al_message(a, in, target, &tr, ser->over_count);
		al_event(a, "open");
		ser->lower_since = 0;
		return;
	}

	a->value = in->value;
	a->last_seen = now;
	a->dirty = true;
	if (target > a->severity)
	{
		/* worse, for long enough: the mildest of what it was meanwhile */
		ser->lower_since = 0;
		if (!raise)
			return;
		target = ser->raise_min;
		a->severity = target;
		a->threshold = target == ALERT_CRITICAL ? in->th->critical : in->th->warning;
		al_message(a, in, target, &tr, ser->over_count);
		al_event(a, "escalate");
		ser->lower_since = 0;
		return;
	}
	if (target == a->severity || (target == ALERT_NONE && !clear))
	{
		/* as bad as it was, or not clear by the margin: the wait starts over */
		ser->lower_since = 0;
		return;
	}

	/*
	 * Better: only once the lower state has held for perfopt.alert_dwell
	 * seconds and perfopt.alert_resolve_samples samples, so that a value
	 * that oscillates around a threshold keeps one state at any sampling
	 * interval.  Then the alert goes down to the worst of what it was
	 * meanwhile, or resolves when that was nothing.
	 */
	if (ser->lower_since == 0)
	{
		ser->lower_since = now_s;
		ser->lower_count = 0;
		ser->lower_max = ALERT_NONE;
	}
	ser->lower_count++;
	ser->lower_max = Max(ser->lower_max, target);
	if (ser->lower_count < perfopt_alert_resolve_samples ||
		now_s - ser->lower_since < perfopt_alert_dwell)
		return;
	ser->lower_since = 0;
	if (ser->lower_max == ALERT_NONE)
	{
		a->open = false;
		a->resolved_at = now;
		strlcpy(a->resolved_by, "auto", sizeof(a->resolved_by));
		al_event(a, "resolve");
		return;
	}
	a->severity = ser->lower_max;
	a->threshold = in->th->warning;
	al_message(a, in, ser->lower_max, &tr, ser->over_count);
	al_event(a, "deescalate");
}

void
perfopt_alerts_evaluate(const PerfoptSample *s)
{
	PerfoptThresholds th;
	LatReading	interval;
	TimestampTz now = s->sampled_at;
	double		now_s = (double) now / USECS_PER_SEC;
	double		p90 = NAN,
				p95 = NAN,
				error_rate = NAN;
	AlertInput	inputs[10];
	int			ninputs = 0;
	int			ntrends = 0;
	PerfoptTrend *trends;

	if (alerts == NULL)
		return;
	if (al_series == NULL)
		al_series = MemoryContextAllocZero(TopMemoryContext, sizeof(AlertSeries) * al_max_series());
	perfopt_thresholds_get(&th);
	if (perfopt_latency_read_interval(&interval))
	{
		uint64		statements = interval.all.hist.count + interval.all.errors;

		if (interval.all.hist.count > 0)
		{
			p90 = lh_percentile(&interval.all.hist, 0.90) / 1e6;
			p95 = lh_percentile(&interval.all.hist, 0.95) / 1e6;
		}
		if (statements > 0)
			error_rate = 100.0 * interval.all.errors / statements;
	}
	/* the worker calls this outside any transaction, in TopMemoryContext */
	pfree(interval.dbs);

#define AL_INPUT(t, m, subj, u, v, pair, low) \
	inputs[ninputs++] = (AlertInput) {t, m, subj, u, v, &(pair), low}
	AL_INPUT("cpu", "cpu", "host", "%", s->cpu_busy_pct, th.cpu, false);
	AL_INPUT("memory", "memory", "host", "%", s->memory_used_pct, th.memory, false);
	AL_INPUT("disk", "disk.utilization", "data", "%", s->data_disk_used_pct, th.disk_utilization, false);
	AL_INPUT("disk", "disk.utilization", "wal", "%", s->wal_disk_used_pct, th.disk_utilization, false);
	AL_INPUT("database", "database.connectionUtilization", "server", "%", s->pool_utilization_pct,
			 th.connection_utilization, false);
	AL_INPUT("database", "database.queryTime", "server", " ms", p90, th.query_time, false);
	AL_INPUT("api", "api.responseTime", "server", " ms", p95, th.response_time, false);
	AL_INPUT("api", "api.errorRate", "server", "%", error_rate, th.error_rate, false);
	/* off (null) unless a DBA set them */
	if (!isnan(th.network_rx.warning))
		AL_INPUT("network", "network.receiveBytesPerSecond", "host", " B/s",
				 s->network_rx_bytes_per_second, th.network_rx, false);
	if (!isnan(th.network_tx.warning))
		AL_INPUT("network", "network.transmitBytesPerSecond", "host", " B/s",
				 s->network_tx_bytes_per_second, th.network_tx, false);
#undef AL_INPUT

	trends = palloc0(sizeof(PerfoptTrend) * al_max_series());
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < ninputs; i++)
		al_evaluate_one(&inputs[i], now, now_s,
						!isnan(inputs[i].value) && ntrends < al_max_series() ? &trends[ntrends++] : NULL);
	for (int k = 0; k < s->ndatabases; k++)
	{
		AlertInput	in = {"database", "database.cacheHitRatio", s->databases[k].datname, "%",
		s->databases[k].cache_hit_pct, &th.cache_hit_ratio, true};

		al_evaluate_one(&in, now, now_s,
						!isnan(in.value) && ntrends < al_max_series() ? &trends[ntrends++] : NULL);
	}
	memcpy(alerts->trends, trends, sizeof(PerfoptTrend) * ntrends);
	alerts->ntrends = ntrends;
	LWLockRelease(perfopt_shared->lock);
	pfree(trends);
}

/* ---- persistence ---- */

/* the events of alert old now belong to alert new */
static void
al_events_renumber(int64 old, int64 new)
{
	for (int i = 0; i < al_nevents; i++)
		if (al_events[i].id == old)
			al_events[i].id = new;
}

/*
 * An alert this node opened before it could write (a standby since
 * promoted, a restart after a crash) finds the open row of the same
 * metric and subject that the table already has: it becomes that alert
 * (its id, its first_seen), changed in place.  Its own "open" becomes an
 * escalation or de-escalation from the row's severity, or nothing.
 */
static void
al_adopt(PerfoptAlert *a, int64 id, int row_severity, TimestampTz first_seen)
{
	int64		old = a->id;
	int			keep = 0;

	for (int i = 0; i < al_nevents; i++)
	{
		AlertEvent *e = &al_events[i];

		if (e->id == old && strcmp(e->event, "open") == 0)
		{
			if (e->severity == row_severity)
				continue;
			strlcpy(e->event, e->severity > row_severity ? "escalate" : "deescalate",
					sizeof(e->event));
		}
		al_events[keep++] = *e;
	}
	al_nevents = keep;
	al_events_renumber(old, id);
	a->id = id;
	a->first_seen = Min(a->first_seen, first_seen);
	a->persisted = true;
	a->dirty = true;
}

/*
 * Read the open alerts of perfopt_alerts_data into shared memory, once a
 * node may write (at the first write on a primary: after a start, a crash,
 * or a promotion).  Alerts this node opened meanwhile adopt the rows of the
 * same metric and subject; the others get ids after every id in the table,
 * since the ids they got here may be taken there.  No alert is lost or
 * opened twice.
 */
static void
al_load(const char *schema)
{
	int64		max_id = 0;
	SPITupleTable *rows;
	uint64		nrows;
	PerfoptAlert *loaded;

	if (SPI_execute(psprintf("/* perfopt */ SELECT id, type, metric, subject, severity, value, threshold,"
							 " first_seen, last_seen, message,"
							 " (SELECT pg_catalog.max(id) FROM %s.perfopt_alerts_data)"
							 " FROM %s.perfopt_alerts_data WHERE state OPERATOR(pg_catalog.=) 'open'"
							 " ORDER BY id LIMIT %d",
							 schema, schema, PERFOPT_MAX_ALERTS), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_alerts_data");
	rows = SPI_tuptable;
	nrows = SPI_processed;
	/* the next id follows every id ever written */
	{
		bool		isnull = true;
		Datum		d = nrows > 0 ?
			SPI_getbinval(rows->vals[0], rows->tupdesc, 11, &isnull) : (Datum) 0;

		if (nrows == 0 &&
			SPI_execute(psprintf("/* perfopt */ SELECT pg_catalog.max(id) FROM %s.perfopt_alerts_data", schema),
						true, 1) == SPI_OK_SELECT && SPI_processed == 1)
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			max_id = DatumGetInt64(d);
	}
	/* the rows as C values, before the lock: nothing but copies under it */
	loaded = palloc0(sizeof(PerfoptAlert) * Max(nrows, 1));
	for (uint64 r = 0; r < nrows; r++)
	{
		HeapTuple	tup = rows->vals[r];
		TupleDesc	desc = rows->tupdesc;
		bool		isnull;
		PerfoptAlert *a = &loaded[r];
		char	   *sev = SPI_getvalue(tup, desc, 5);

		a->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		strlcpy(a->type, SPI_getvalue(tup, desc, 2), sizeof(a->type));
		strlcpy(a->metric, SPI_getvalue(tup, desc, 3), sizeof(a->metric));
		strlcpy(a->subject, SPI_getvalue(tup, desc, 4), sizeof(a->subject));
		a->severity = ALERT_NONE;
		for (int sv = ALERT_LOW; sv <= ALERT_CRITICAL; sv++)
			if (strcmp(sev, perfopt_alert_severity_name(sv)) == 0)
				a->severity = sv;
		a->value = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
		a->threshold = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &isnull));
		a->first_seen = DatumGetTimestampTz(SPI_getbinval(tup, desc, 8, &isnull));
		a->last_seen = DatumGetTimestampTz(SPI_getbinval(tup, desc, 9, &isnull));
		strlcpy(a->message, SPI_getvalue(tup, desc, 10), sizeof(a->message));
		a->open = true;
		a->persisted = true;
	}
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	alerts->next_id = Max(alerts->next_id, max_id + 1);
	/*
	 * Never written: new ids, clear of the table's (first, so that no id
	 * an alert adopts below is also one of these)
	 */
	for (int i = 0; i < alerts->nalerts; i++)
	{
		PerfoptAlert *m = &alerts->alerts[i];

		if (!m->persisted && m->id <= max_id)
		{
			int64		id = alerts->next_id++;

			al_events_renumber(m->id, id);
			m->id = id;
		}
	}
	for (uint64 r = 0; r < nrows; r++)
	{
		PerfoptAlert *row = &loaded[r];
		PerfoptAlert *a = NULL;
		bool		known = false;

		for (int i = 0; i < alerts->nalerts; i++)
		{
			PerfoptAlert *m = &alerts->alerts[i];

			known |= m->id == row->id && m->persisted;
			if (!m->persisted && m->open && strcmp(m->metric, row->metric) == 0 &&
				strcmp(m->subject, row->subject) == 0)
				a = m;
		}
		if (known)
			continue;
		if (a != NULL)
		{
			al_adopt(a, row->id, row->severity, row->first_seen);
			continue;
		}
		if ((a = al_new_slot()) == NULL)
			continue;
		*a = *row;
	}
	alerts->loaded = true;
	alerts->loaded_in_recovery = RecoveryInProgress();
	LWLockRelease(perfopt_shared->lock);
	pfree(loaded);
}

/*
 * On a standby, once: the open alerts replicated from the primary, so that
 * the standby goes on with them (their ids) instead of opening its own.
 * Called in the worker's sampling transaction.
 */
void
perfopt_alerts_load_on_standby(void)
{
	Oid			nsp = perfopt_extension_schema_locked();

	if (alerts == NULL || alerts->loaded || !OidIsValid(nsp) ||
		!OidIsValid(get_relname_relid("perfopt_alerts_data", nsp)))
		return;
	perfopt_spi_connect();
	al_load(quote_identifier(get_namespace_name(nsp)));
	SPI_finish();
}

bool
perfopt_alerts_to_write(void)
{
	bool		any;

	if (alerts == NULL)
		return false;
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	any = !alerts->loaded || alerts->loaded_in_recovery || al_nevents > 0;
	for (int i = 0; i < alerts->nalerts && !any; i++)
		any = alerts->alerts[i].dirty;
	LWLockRelease(perfopt_shared->lock);
	return any;
}

void
perfopt_alert_notify(int64 id, const char *event, const char *metric, const char *severity,
					 bool open, double value, double threshold)
{
	StringInfoData js;

	initStringInfo(&js);
	appendStringInfo(&js, "{\"id\": " INT64_FORMAT ", \"event\": \"%s\", \"metric\": ", id, event);
	escape_json(&js, metric);
	appendStringInfo(&js, ", \"severity\": \"%s\", \"state\": \"%s\", \"value\": ",
					 severity, open ? "open" : "resolved");
	perfopt_json_number(&js, value);
	appendStringInfoString(&js, ", \"threshold\": ");
	perfopt_json_number(&js, threshold);
	appendStringInfoChar(&js, '}');
	Async_Notify("perfopt_alerts", js.data);
	pfree(js.data);
}

/*
 * At most AL_NOTIFY_PER_MINUTE NOTIFY messages per alert per minute for
 * its open and its changes, and always one for its resolution (once per
 * alert): a listener is told, not flooded, and never left believing an
 * alert is open that is not.  The transitions are all written.
 */
#define AL_NOTIFY_PER_MINUTE 3
typedef struct AlNotified
{
	int64		id;
	double		since;			/* the minute's start, seconds */
	int			count;
} AlNotified;
static AlNotified al_notified[PERFOPT_MAX_ALERTS];

static bool
al_may_notify(int64 id, double now_s)
{
	AlNotified *slot = &al_notified[0];

	for (int i = 0; i < PERFOPT_MAX_ALERTS; i++)
	{
		if (al_notified[i].id == id)
		{
			slot = &al_notified[i];
			break;
		}
		/* else the one told longest ago makes room */
		if (al_notified[i].since < slot->since)
			slot = &al_notified[i];
	}
	if (slot->id != id || now_s - slot->since >= 60)
	{
		slot->id = id;
		slot->since = now_s;
		slot->count = 0;
	}
	return slot->count++ < AL_NOTIFY_PER_MINUTE;
}

void
perfopt_alerts_persist(void)
{
	double		now_s = (double) GetCurrentTimestamp() / USECS_PER_SEC;
	Oid			nsp = perfopt_extension_schema_locked();
	const char *schema;
	PerfoptAlert *copy;
	int			n = 0;

	if (alerts == NULL || !OidIsValid(nsp) ||
		!OidIsValid(get_relname_relid("perfopt_alerts_data", nsp)))
		return;
	schema = quote_identifier(get_namespace_name(nsp));
	/* the changed ones are written from a copy (no lock across SPI) made outside SPI's memory */
	copy = palloc(sizeof(PerfoptAlert) * PERFOPT_MAX_ALERTS);
	perfopt_spi_connect();
	if (!alerts->loaded || alerts->loaded_in_recovery)
		al_load(schema);

	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	for (int i = 0; i < alerts->nalerts; i++)
		if (alerts->alerts[i].dirty)
			copy[n++] = alerts->alerts[i];
	LWLockRelease(perfopt_shared->lock);

	for (int i = 0; i < n; i++)
	{
		PerfoptAlert *a = &copy[i];
		Oid			types[12] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		FLOAT8OID, FLOAT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
		Datum		values[12];
		char		nulls[12] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

		nulls[10] = perfopt_alert_datums(a, values) ? 'n' : ' ';
		values[11] = CStringGetTextDatum(a->open ? a->message : psprintf("%s (resolved)", a->message));
		/* a row a DBA resolved stays resolved: the worker then forgets it */
		if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_alerts_data AS d"
										   " (id, type, metric, subject, severity, state, value, threshold,"
										   "  first_seen, last_seen, resolved_at, resolved_by, message)"
										   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
										   "  CASE WHEN $6 OPERATOR(pg_catalog.=) 'resolved' THEN 'auto' END, $12)"
										   " ON CONFLICT (id) DO UPDATE SET severity = excluded.severity,"
										   "  state = excluded.state, value = excluded.value,"
										   "  threshold = excluded.threshold, last_seen = excluded.last_seen,"
										   "  resolved_at = excluded.resolved_at, resolved_by = excluded.resolved_by,"
										   "  message = excluded.message"
										   " WHERE d.state OPERATOR(pg_catalog.=) 'open' RETURNING d.id", schema),
								  12, types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "perfopt: could not write perfopt_alerts_data");
		if (SPI_processed == 0)
			a->open = false;	/* resolved by a DBA meanwhile */
	}
	for (int i = 0; i < al_nevents; i++)
	{
		AlertEvent *e = &al_events[i];
		Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, FLOAT8OID, FLOAT8OID};
		Datum		values[5];

		values[0] = Int64GetDatum(e->id);
		values[1] = CStringGetTextDatum(e->event);
		values[2] = CStringGetTextDatum(perfopt_alert_severity_name(e->severity));
		values[3] = Float8GetDatum(e->value);
		values[4] = Float8GetDatum(e->threshold);
		if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_alert_transitions"
										   " (alert_id, event, severity, value, threshold)"
										   " SELECT $1, $2, $3, $4, $5 WHERE EXISTS"
										   " (SELECT 1 FROM %s.perfopt_alerts_data WHERE id OPERATOR(pg_catalog.=) $1)",
										   schema, schema),
								  5, types, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "perfopt: could not write perfopt_alert_transitions");
		if (strcmp(e->event, "resolve") == 0 || al_may_notify(e->id, now_s))
			perfopt_alert_notify(e->id, e->event, e->metric, perfopt_alert_severity_name(e->severity),
								 e->open, e->value, e->threshold);
	}
	SPI_finish();

	/* what was written, for perfopt_alerts_persisted() after the commit */
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < alerts->nalerts; k++)
		{
			PerfoptAlert *a = &alerts->alerts[k];

			if (a->id != copy[i].id)
				continue;
			/* written as it is now: not dirty after the commit */
			if (a->last_seen == copy[i].last_seen && a->open == copy[i].open)
				a->dirty = false;
			a->persisted = true;
			if (!copy[i].open)
				a->open = false;
		}
	LWLockRelease(perfopt_shared->lock);
	pfree(copy);
}

/*
 * After the commit: the events are out, resolved alerts leave shared
 * memory.  (After an abort the worker's next transaction writes them
 * again: the rows are upserts and dirty stays set.)
 */
void
perfopt_alerts_persisted(void)
{
	int			keep = 0;

	if (alerts == NULL)
		return;
	al_nevents = 0;
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < alerts->nalerts; i++)
		if (alerts->alerts[i].open || alerts->alerts[i].dirty)
			alerts->alerts[keep++] = alerts->alerts[i];
	alerts->nalerts = keep;
	LWLockRelease(perfopt_shared->lock);
}

void
perfopt_alerts_forget(int64 id)
{
	if (alerts == NULL)
		return;
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < alerts->nalerts; i++)
		if (alerts->alerts[i].id == id)
		{
			alerts->alerts[i] = alerts->alerts[--alerts->nalerts];
			break;
		}
	LWLockRelease(perfopt_shared->lock);
}

int
perfopt_alerts_copy(PerfoptAlert **out)
{
	int			n;

	*out = palloc(sizeof(PerfoptAlert) * PERFOPT_MAX_ALERTS);
	if (alerts == NULL)
		return 0;
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	n = alerts->nalerts;
	memcpy(*out, alerts->alerts, sizeof(PerfoptAlert) * n);
	LWLockRelease(perfopt_shared->lock);
	return n;
}

int
perfopt_trends_copy(PerfoptTrend **out)
{
	int			n;

	*out = palloc(sizeof(PerfoptTrend) * al_max_series());
	if (alerts == NULL)
		return 0;
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	n = alerts->ntrends;
	memcpy(*out, alerts->trends, sizeof(PerfoptTrend) * n);
	LWLockRelease(perfopt_shared->lock);
	return n;
}
