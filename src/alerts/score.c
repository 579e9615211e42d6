/*
 * score.c — the performance score, 0 to 100, from measured values only:
 *
 *   database (40%): pending index recommendations (100 x (1 - the share of
 *     the workload's time they would save)), index hygiene (100 x (1 -
 *     invalid, unused or redundant indexes found / user indexes)), this
 *     database's cache hit ratio and the query time (p90) against their
 *     thresholds;
 *   api (35%): p95 and error rate against their thresholds, and the share
 *     of statements under 200 ms;
 *   monitoring (25%): monitoring on, sampling on time, thresholds set by
 *     the DBA (50 while they are all the defaults), no open critical alert.
 *
 * A value against its thresholds scores 100 up to warning, 0 from
 * critical, and linearly in between.  A component without data (no
 * pg_stat_statements, no statement in the interval) is left out and its
 * part's other components share its weight; so do the parts.
 * perfopt_score() returns every component with the value it came from;
 * perfopt_metrics_prometheus() the score and its parts as gauges.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "alerts.h"
#include "extschema.h"
#include "jsonutil.h"
#include "latency.h"
#include "perfopt.h"
#include "score.h"
#include "shmem.h"
#include "spiutil.h"
#include "thresholds.h"

PG_FUNCTION_INFO_V1(perfopt_score);

typedef struct ScorePart
{
	const char *name;
	double		weight;
	double		sum;
	int			n;
	StringInfoData components;
} ScorePart;

static void
sc_part_init(ScorePart *p, const char *name, double weight)
{
	p->name = name;
	p->weight = weight;
	p->sum = 0;
	p->n = 0;
	initStringInfo(&p->components);
}

/* one component: its score (NaN: no data) and the value it came from */
static void
sc_component(ScorePart *p, const char *name, double score, double value, const char *unit,
			 const char *how)
{
	if (p->components.len > 0)
		appendStringInfoString(&p->components, ", ");
	appendStringInfo(&p->components, "\"%s\": {\"score\": ", name);
	if (isnan(score))
		appendStringInfoString(&p->components, "null");
	else
	{
		score = fmin(100, fmax(0, score));
		perfopt_json_number(&p->components, round(score * 10) / 10);
		p->sum += score;
		p->n++;
	}
	appendStringInfoString(&p->components, ", \"value\": ");
	perfopt_json_number(&p->components, value);
	appendStringInfo(&p->components, ", \"unit\": \"%s\", \"how\": ", unit);
	escape_json(&p->components, how);
	appendStringInfoChar(&p->components, '}');
}

/* 100 up to warning, 0 from critical, linear in between */
static double
sc_against(double v, const ThresholdPair *th, bool lower_is_worse)
{
	double		span = th->critical - th->warning;

	if (isnan(v))
		return NAN;
	if (lower_is_worse ? v >= th->warning : v <= th->warning)
		return 100;
	if (lower_is_worse ? v <= th->critical : v >= th->critical)
		return 0;
	return 100 * (th->critical - v) / span;
}

static double
sc_part_score(const ScorePart *p)
{
	return p->n > 0 ? p->sum / p->n : NAN;
}

/* one double from a query, NaN for no row or NULL */
static double
sc_query(const char *sql)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return NAN;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NAN : DatumGetFloat8(d);
}

/*
 * The four figures the database part reads with SQL.  They change when the
 * advisor runs or indexes come and go, so a backend reuses them for
 * SC_QUERIED_MAX_AGE: a dashboard or perfopt-httpd polling the status
 * costs four queries a second at most, not four per call.
 */
#define SC_QUERIED_MAX_AGE_MS 1000

typedef struct ScQueried
{
	TimestampTz at;				/* 0: never read */
	double		pending;
	double		workload;
	double		findings;
	double		indexes;
} ScQueried;

static ScQueried sc_queried;

static void
sc_read_queried(ScQueried *q)
{
	Oid			nsp = perfopt_extension_schema(true);
	Oid			pgss = perfopt_schema_of_extension("pg_stat_statements", true);
	const char *schema = OidIsValid(nsp) ? quote_identifier(get_namespace_name(nsp)) : NULL;
	TimestampTz now = GetCurrentTimestamp();

	if (q->at != 0 && !TimestampDifferenceExceeds(q->at, now, SC_QUERIED_MAX_AGE_MS))
		return;
	q->pending = q->workload = q->findings = q->indexes = NAN;
	perfopt_spi_connect();
	if (schema)
	{
		q->pending = sc_query(psprintf("/* perfopt */ SELECT COALESCE(pg_catalog.sum(benefit_ms), 0)::pg_catalog.float8"
									   " FROM %s.perfopt_recommendations WHERE kind OPERATOR(pg_catalog.=) 'create_index'"
									   " AND status OPERATOR(pg_catalog.=) 'new'",
									   schema));
		q->findings = sc_query(psprintf("/* perfopt */ SELECT pg_catalog.count(*)::pg_catalog.float8"
										" FROM %s.perfopt_recommendations"
										" WHERE kind OPERATOR(pg_catalog.=) ANY (ARRAY['drop_index', 'reindex'])"
										" AND status OPERATOR(pg_catalog.=) 'new'", schema));
	}
	if (OidIsValid(pgss))
		q->workload = sc_query(psprintf("/* perfopt */ SELECT pg_catalog.sum(total_exec_time)::pg_catalog.float8"
										" FROM %s.pg_stat_statements(false)"
										" WHERE dbid OPERATOR(pg_catalog.=) %u AND toplevel",
										quote_identifier(get_namespace_name(pgss)), MyDatabaseId));
	q->indexes = sc_query("/* perfopt */ SELECT pg_catalog.count(*)::pg_catalog.float8 FROM pg_catalog.pg_stat_user_indexes");
	SPI_finish();
	q->at = now;
}

static void
sc_database(ScorePart *p, const PerfoptThresholds *th, const LatReading *interval, bool have_interval)
{
	double		pending,
				workload,
				findings,
				indexes,
				hit = NAN,
				p90 = NAN;
	PerfoptSample *latest = perfopt_ring_latest();

	sc_read_queried(&sc_queried);
	pending = sc_queried.pending;
	workload = sc_queried.workload;
	findings = sc_queried.findings;
	indexes = sc_queried.indexes;

	sc_component(p, "index_recommendations",
				 isnan(pending) || isnan(workload) || workload <= 0 ? NAN :
				 100 * (1 - fmin(1, pending / workload)),
				 isnan(pending) || isnan(workload) || workload <= 0 ? NAN : 100 * fmin(1, pending / workload),
				 "% of the workload's time",
				 "100 x (1 - the share of the workload's recorded time the pending create-index recommendations would save)");
	sc_component(p, "index_hygiene",
				 isnan(findings) ? NAN : 100 * (1 - fmin(1, findings / fmax(1, indexes))),
				 findings, "indexes",
				 "100 x (1 - invalid, unused or redundant indexes found / user indexes)");
	if (latest)
	{
		const char *dbname = get_database_name(MyDatabaseId);

		for (int k = 0; k < latest->ndatabases; k++)
			if (dbname && strcmp(latest->databases[k].datname, dbname) == 0)
				hit = latest->databases[k].cache_hit_pct;
	}
	sc_component(p, "cache_hit_ratio", sc_against(hit, &th->cache_hit_ratio, true), hit, "%",
				 "this database's cache hit ratio over the last interval against database.cacheHitRatio");
	if (have_interval && interval->all.hist.count > 0)
		p90 = lh_percentile(&interval->all.hist, 0.90) / 1e6;
	sc_component(p, "query_time", sc_against(p90, &th->query_time, false), p90, "ms",
				 "p90 of the last interval against database.queryTime");
}

static void
sc_api(ScorePart *p, const PerfoptThresholds *th, const LatReading *interval, bool have_interval)
{
	double		p95 = NAN,
				errors = NAN,
				under = NAN;

	if (have_interval && interval->all.hist.count > 0)
	{
		p95 = lh_percentile(&interval->all.hist, 0.95) / 1e6;
		under = 100.0 * lh_count_below(&interval->all.hist, UINT64CONST(200000000)) /
			interval->all.hist.count;
	}
	if (have_interval && interval->all.hist.count + interval->all.errors > 0)
		errors = 100.0 * interval->all.errors / (interval->all.hist.count + interval->all.errors);
	sc_component(p, "response_time", sc_against(p95, &th->response_time, false), p95, "ms",
				 "p95 of the last interval against api.responseTime");
	sc_component(p, "error_rate", sc_against(errors, &th->error_rate, false), errors, "%",
				 "error rate of the last interval against api.errorRate");
	sc_component(p, "under_200ms", under, under, "%",
				 "the share of the last interval's statements that took less than 200 ms");
}

static void
sc_monitoring(ScorePart *p)
{
	PerfoptStatus st;
	PerfoptSample *latest = perfopt_ring_latest();
	PerfoptAlert *alerts;
	int			n = perfopt_alerts_copy(&alerts);
	int			critical = 0;
	bool		on;
	double		age = NAN;
	PerfoptThresholds current;
	PerfoptThresholds defaults;
	bool		stored;

	perfopt_status_read(&st);
	on = st.monitoring_enabled && perfopt_enable_performance_monitoring;
	if (latest)
		age = (double) (GetCurrentTimestamp() - latest->sampled_at) / USECS_PER_SEC;
	for (int i = 0; i < n; i++)
		critical += alerts[i].open && alerts[i].severity == ALERT_CRITICAL;
	/* the DBA has set thresholds when they differ from the defaults */
	perfopt_thresholds_get(&current);
	thresholds_defaults(&defaults);
	stored = memcmp(&current, &defaults, sizeof(current)) != 0;

	sc_component(p, "monitoring_on", on ? 100 : 0, on ? 1 : 0, "",
				 "100 while the worker samples (perfopt.enable_performance_monitoring, perfopt_start/stop_monitoring)");
	sc_component(p, "sampling_on_time",
				 st.worker_pid != 0 && !isnan(age) && age * 1000 <= 3.0 * st.interval_ms + 1000 ? 100 : 0,
				 age, "s since the last sample",
				 "100 when the worker runs and the last sample is at most three intervals old");
	sc_component(p, "thresholds_set", stored ? 100 : 50, stored ? 1 : 0, "",
				 "100 once perfopt_set_thresholds() changed a threshold, 50 with the defaults");
	sc_component(p, "no_open_critical_alert", critical == 0 ? 100 : 0, critical, "alerts",
				 "100 without an open critical alert");
}

/* the three parts, computed; returns the overall score (NaN: none) */
static double
sc_compute(ScorePart parts[3])
{
	PerfoptThresholds th;
	LatReading	interval;
	bool		have_interval;
	double		total = 0;
	double		weights = 0;

	perfopt_thresholds_get(&th);
	have_interval = perfopt_latency_read_interval(&interval);
	sc_part_init(&parts[0], "database", 40);
	sc_part_init(&parts[1], "api", 35);
	sc_part_init(&parts[2], "monitoring", 25);
	sc_database(&parts[0], &th, &interval, have_interval);
	sc_api(&parts[1], &th, &interval, have_interval);
	sc_monitoring(&parts[2]);

	for (int i = 0; i < 3; i++)
	{
		double		s = sc_part_score(&parts[i]);

		if (!isnan(s))
		{
			total += s * parts[i].weight;
			weights += parts[i].weight;
		}
	}
	return weights > 0 ? round(total / weights * 10) / 10 : NAN;
}

double
perfopt_score_json(StringInfo buf)
{
	ScorePart	parts[3];
	double		total = sc_compute(parts);

	appendStringInfoString(buf, "{\"score\": ");
	perfopt_json_number(buf, total);
	for (int i = 0; i < 3; i++)
	{
		double		s = sc_part_score(&parts[i]);

		appendStringInfo(buf, ", \"%s\": {\"score\": ", parts[i].name);
		perfopt_json_number(buf, isnan(s) ? s : round(s * 10) / 10);
		appendStringInfo(buf, ", \"weight_percent\": %.0f, \"components\": {%s}}",
						 parts[i].weight, parts[i].components.data);
	}
	appendStringInfoChar(buf, '}');
	return total;
}

/*
 * The score and its parts as Prometheus gauges (in
 * perfopt_metrics_prometheus()); a score without data is left out.
 */
void
perfopt_score_prometheus(StringInfo buf)
{
	ScorePart	parts[3];
	double		total = sc_compute(parts);

	appendStringInfoString(buf,
						   "# HELP perfopt_score The performance score, 0 to 100 (perfopt_score()).\n"
						   "# TYPE perfopt_score gauge\n");
	if (!isnan(total))
		appendStringInfo(buf, "perfopt_score %.1f\n", total);
	appendStringInfoString(buf,
						   "# HELP perfopt_score_part The parts of the performance score, 0 to 100, by part (weights 40, 35, 25).\n"
						   "# TYPE perfopt_score_part gauge\n");
	for (int i = 0; i < 3; i++)
	{
		double		s = sc_part_score(&parts[i]);

		if (!isnan(s))
			appendStringInfo(buf, "perfopt_score_part{part=\"%s\"} %.1f\n",
							 parts[i].name, round(s * 10) / 10);
	}
}

Datum
perfopt_score(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	perfopt_require_shmem();
	initStringInfo(&buf);
	perfopt_score_json(&buf);
	PG_RETURN_DATUM(perfopt_jsonb_from_text(buf.data));
}
