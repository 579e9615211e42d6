/*
 * sqlapi.c — the C functions behind perfopt's SQL surface for monitoring:
 * status, metrics (JSON and Prometheus), the recent-sample view, and the
 * run-time monitoring switches.
 *
 * Readers copy what they need out of shared memory under a shared lock and
 * format outside it.  Writers validate every argument before changing
 * anything, record the change in perfopt_audit_log and stage it to apply at
 * commit (control.c).  Privileges are the SQL script's: readers granted to
 * pg_monitor, writers revoked from PUBLIC.
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "alerts_sql.h"
#include "apimetrics.h"
#include "audit.h"
#include "control.h"
#include "export.h"
#include "jsonutil.h"
#include "latency.h"
#include "perfopt.h"
#include "score.h"
#include "shmem.h"
#include "valuestore.h"

PG_FUNCTION_INFO_V1(perfopt_status);
PG_FUNCTION_INFO_V1(perfopt_metrics);
PG_FUNCTION_INFO_V1(perfopt_database_metrics);
PG_FUNCTION_INFO_V1(perfopt_metrics_prometheus);
PG_FUNCTION_INFO_V1(perfopt_recent_samples);
PG_FUNCTION_INFO_V1(perfopt_start_monitoring);
PG_FUNCTION_INFO_V1(perfopt_stop_monitoring);

/* the latest sample, or an all-null one when none was taken yet */
static PerfoptSample *
api_latest(void)
{
	PerfoptSample *s = perfopt_ring_latest();

	if (s == NULL)
	{
		s = perfopt_sample_alloc();
		s->is_standby = RecoveryInProgress();
	}
	return s;
}

static void
api_monitoring_json(StringInfo buf, bool enabled, int override_ms)
{
	int			interval = override_ms > 0 ? override_ms : perfopt_monitoring_interval;

	appendStringInfo(buf,
					 "{\"enabled\": %s, \"enabled_by_configuration\": %s,"
					 " \"interval_ms\": %d, \"interval_source\": \"%s\"}",
					 enabled && perfopt_enable_performance_monitoring ? "true" : "false",
					 perfopt_enable_performance_monitoring ? "true" : "false",
					 interval,
					 override_ms > 0 ? "perfopt_start_monitoring" : "perfopt.monitoring_interval");
}

/* the advisor's value samples: counts only, never a value */
static void
api_value_samples_json(StringInfo buf)
{
	PerfoptValueCounts c;

	perfopt_value_store_counts(&c);
	appendStringInfo(buf,
					 "{\"enabled\": %s, \"sample_rate\": ",
					 perfopt_value_store_ready() && perfopt_value_sample_rate > 0 ? "true" : "false");
	perfopt_json_number(buf, perfopt_value_sample_rate);
	appendStringInfo(buf,
					 ", \"capacity\": %d, \"statements\": %d, \"value_sets\": %d, \"observations\": %d,"
					 " \"offered\": " UINT64_FORMAT ", \"dropped\": " UINT64_FORMAT
					 ", \"skipped\": " UINT64_FORMAT ", \"evicted\": " UINT64_FORMAT "}",
					 c.capacity, c.statements, c.value_sets, c.observations,
					 c.offered, c.dropped, c.skipped, c.evicted);
}

Datum
perfopt_status(PG_FUNCTION_ARGS)
{
	PerfoptStatus st;
	PerfoptSample *latest;
	StringInfoData buf;

	perfopt_status_read(&st);
	latest = perfopt_ring_latest();

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"version\": \"" PERFOPT_VERSION "\", \"monitoring\": ");
	api_monitoring_json(&buf, st.monitoring_enabled, st.interval_override_ms);
	if (st.worker_pid != 0)
		appendStringInfo(&buf, ", \"worker_pid\": %d", (int) st.worker_pid);
	else
		appendStringInfoString(&buf, ", \"worker_pid\": null");
	appendStringInfo(&buf, ", \"is_standby\": %s, \"samples_taken\": " UINT64_FORMAT
					 ", \"samples_in_ring\": %d, \"ring_size\": %d, \"last_sample_at\": ",
					 RecoveryInProgress() ? "true" : "false",
					 st.samples_taken, st.samples_in_ring, perfopt_sample_ring_size);
	perfopt_json_timestamp(&buf, latest ? latest->sampled_at : 0);
	appendStringInfoString(&buf, ", \"history\": {\"database\": ");
	escape_json(&buf, perfopt_database);
	appendStringInfo(&buf, ", \"interval_seconds\": %d, \"retention_minutes\": %d, \"last_written_at\": ",
					 perfopt_history_interval, perfopt_history_retention);
	perfopt_json_timestamp(&buf, st.last_persisted_at);
	appendStringInfo(&buf, ", \"write_failures\": " UINT64_FORMAT ", \"last_failed_at\": ",
					 st.history_write_failures);
	perfopt_json_timestamp(&buf, st.history_failed_at);
	appendStringInfoString(&buf, "}, \"latest\": ");
	if (latest)
		perfopt_json_metrics(&buf, latest, true, true);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, ", \"api\": ");
	perfopt_api_json(&buf, PERFOPT_API_OVERALL);
	appendStringInfoString(&buf, ", \"alerts\": ");
	perfopt_alerts_status_json(&buf);
	appendStringInfoString(&buf, ", \"score\": ");
	perfopt_score_json(&buf);
	appendStringInfoString(&buf, ", \"value_samples\": ");
	api_value_samples_json(&buf);
	appendStringInfoChar(&buf, '}');

	PG_RETURN_DATUM(perfopt_jsonb_from_text(buf.data));
}

Datum
perfopt_metrics(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	perfopt_json_metrics(&buf, api_latest(), true, true);
	/* the document is an object: the statement latency joins it */
	Assert(buf.len > 0 && buf.data[buf.len - 1] == '}');
	buf.data[--buf.len] = '\0';
	appendStringInfoString(&buf, ", \"api\": ");
	perfopt_api_json(&buf, PERFOPT_API_DATABASES);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(perfopt_jsonb_from_text(buf.data));
}

Datum
perfopt_database_metrics(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	perfopt_json_metrics(&buf, api_latest(), false, true);
	PG_RETURN_DATUM(perfopt_jsonb_from_text(buf.data));
}

Datum
perfopt_metrics_prometheus(PG_FUNCTION_ARGS)
{
	PerfoptStatus st;
	PerfoptSample *latest;
	StringInfoData buf;

	perfopt_status_read(&st);
	latest = perfopt_ring_latest();
	initStringInfo(&buf);
	perfopt_prometheus(&buf, latest, &st);
	perfopt_latency_prometheus(&buf);
	perfopt_alerts_prometheus(&buf);
	perfopt_score_prometheus(&buf);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/* one row of perfopt_recent_samples, in perfopt_samples' column order */
static void
api_sample_row(ReturnSetInfo *rsinfo, const PerfoptSample *s)
{
	TupleDesc	desc = rsinfo->setDesc;
	int			natts = 3 + perfopt_sample_nfields + 2;
	Datum	   *values = palloc0(sizeof(Datum) * natts);
	bool	   *nulls = palloc0(sizeof(bool) * natts);
	StringInfoData dbs;
	int			k = 0;

	if (desc->natts != natts)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("perfopt_samples has %d columns, the library expects %d",
						desc->natts, natts),
				 errhint("Update the extension with ALTER EXTENSION perfopt UPDATE.")));

	values[k++] = TimestampTzGetDatum(s->sampled_at);
	nulls[k] = isnan(s->interval_seconds);
	values[k++] = Float8GetDatum(s->interval_seconds);
	values[k++] = BoolGetDatum(s->is_standby);
	for (int i = 0; i < perfopt_sample_nfields; i++)
	{
		double		v = perfopt_field_value(&perfopt_sample_fields[i], s);

		nulls[k] = isnan(v) || isinf(v);
		values[k++] = Float8GetDatum(v);
	}
	values[k++] = Int32GetDatum(s->ndatabases_omitted);
	initStringInfo(&dbs);
	perfopt_json_databases(&dbs, s);
	values[k++] = perfopt_jsonb_from_text(dbs.data);

	tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
}

Datum
perfopt_recent_samples(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PerfoptSample **samples;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	n = perfopt_ring_copy(&samples);
	for (int i = 0; i < n; i++)
		api_sample_row(rsinfo, samples[i]);
	return (Datum) 0;
}

/* the JSON answer of start/stop: the state after commit and whether it changes */
static Datum
api_control_result(bool enabled, int override_ms, bool changed)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"changed\": %s, \"monitoring\": ", changed ? "true" : "false");
	api_monitoring_json(&buf, enabled, override_ms);
	appendStringInfoChar(&buf, '}');
	return perfopt_jsonb_from_text(buf.data);
}

static Datum
api_set_monitoring(const char *action, bool enabled, int override_ms)
{
	bool		cur_enabled;
	int			cur_override;
	char		args[64];

	perfopt_control_current(&cur_enabled, &cur_override);
	if (cur_enabled == enabled && cur_override == override_ms)
		return api_control_result(enabled, override_ms, false);

	if (enabled && override_ms > 0)
		snprintf(args, sizeof(args), "{\"interval_ms\": %d}", override_ms);
	else
		snprintf(args, sizeof(args), "{}");
	perfopt_audit(action, args, "applied at commit");
	perfopt_control_stage(enabled, override_ms);
	return api_control_result(enabled, override_ms, true);
}

/*
 * perfopt_start_monitoring() resumes at perfopt.monitoring_interval;
 * perfopt_start_monitoring(interval_ms) sets a run-time interval that
 * stays until the next call or a change of perfopt.monitoring_interval.
 */
Datum
perfopt_start_monitoring(PG_FUNCTION_ARGS)
{
	int			interval_ms = 0;

	perfopt_require_shmem();
	if (PG_NARGS() > 0)
	{
		if (PG_ARGISNULL(0))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("interval_ms must not be null"),
					 errhint("Call perfopt_start_monitoring() without an argument to use perfopt.monitoring_interval.")));
		interval_ms = PG_GETARG_INT32(0);
		if (interval_ms < PERFOPT_MIN_INTERVAL_MS || interval_ms > PERFOPT_MAX_INTERVAL_MS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("interval_ms must be between %d and %d, not %d",
							PERFOPT_MIN_INTERVAL_MS, PERFOPT_MAX_INTERVAL_MS, interval_ms)));
	}
	if (!perfopt_enable_performance_monitoring)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("monitoring is disabled by configuration"),
				 errhint("Set perfopt.enable_performance_monitoring = on and reload.")));

	return api_set_monitoring("start_monitoring", true, interval_ms);
}

Datum
perfopt_stop_monitoring(PG_FUNCTION_ARGS)
{
	bool		cur_enabled;
	int			cur_override;

	perfopt_require_shmem();
	/* stopping keeps the interval for the next start */
	perfopt_control_current(&cur_enabled, &cur_override);
	return api_set_monitoring("stop_monitoring", false, cur_override);
}
