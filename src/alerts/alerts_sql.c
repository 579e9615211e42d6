/*
 * alerts_sql.c — the SQL surface of the alerts and trends: the shared
 * memory rows behind perfopt_alerts (those not written yet) and
 * perfopt_trends, keyset pages of perfopt_alerts, manual resolution (one,
 * or many with an outcome per id), the summary in perfopt_status() and
 * the open alerts by severity in the Prometheus exposition.
 *
 * A resolution is written in the caller's transaction (as the extension's
 * owner, audited, with NOTIFY perfopt_alerts) and leaves shared memory at
 * commit.  Alerts are stored in perfopt.database: elsewhere a resolution
 * is refused with a hint, as on a standby.
 */
#include "postgres.h"

#include <math.h>

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "alerts.h"
#include "alerts_sql.h"
#include "atcommit.h"
#include "audit.h"
#include "extschema.h"
#include "jsonutil.h"
#include "perfopt.h"
#include "shmem.h"
#include "spiutil.h"

PG_FUNCTION_INFO_V1(perfopt_alerts_pending);
PG_FUNCTION_INFO_V1(perfopt_alerts_page);
PG_FUNCTION_INFO_V1(perfopt_trends_rows);
PG_FUNCTION_INFO_V1(perfopt_resolve_alert);
PG_FUNCTION_INFO_V1(perfopt_resolve_alerts);

/* at most this many ids in one perfopt_resolve_alerts() call */
#define ALERTS_MAX_BULK 1000

static Datum
al_text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL || s[0] == '\0');
	return *isnull ? (Datum) 0 : CStringGetTextDatum(s);
}

Datum
perfopt_alerts_pending(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PerfoptAlert *rows;
	int			n;

	perfopt_require_shmem();
	InitMaterializedSRF(fcinfo, 0);
	n = perfopt_alerts_copy(&rows);
	for (int i = 0; i < n; i++)
	{
		PerfoptAlert *a = &rows[i];
		Datum		values[13];
		bool		nulls[13] = {false};

		nulls[10] = perfopt_alert_datums(a, values);
		values[11] = al_text_or_null(a->open ? NULL : a->resolved_by, &nulls[11]);
		values[12] = CStringGetTextDatum(a->message);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * perfopt_alerts_page(state text, after bigint, lim int): one keyset page of
 * perfopt_alerts, {"items": [...], "next_after": id or null}.  Written in C
 * since 1.1 (1.0 had it in plpgsql) with the same checks, messages and
 * result: no procedural body is left whose names would be looked up through
 * the search_path of the moment.  Runs as the caller, like the view it reads;
 * a NULL argument shows as <NULL> in the messages, as plpgsql's RAISE did.
 */
Datum
perfopt_alerts_page(PG_FUNCTION_ARGS)
{
	char	   *state = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		after = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);
	int32		lim = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;
	Datum		page;

	if (state != NULL && strcmp(state, "open") != 0 && strcmp(state, "resolved") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state must be open, resolved or NULL (all), not %s", state)));
	if (PG_ARGISNULL(1) || after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("after must be 0 or a previous next_after, not %s",
						PG_ARGISNULL(1) ? "<NULL>" : psprintf(INT64_FORMAT, after))));
	if (PG_ARGISNULL(2) || lim < 1 || lim > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lim must be between 1 and 1000, not %s",
						PG_ARGISNULL(2) ? "<NULL>" : psprintf("%d", lim))));

	values[0] = Int64GetDatum(after);
	values[1] = state ? CStringGetTextDatum(state) : (Datum) 0;
	nulls[1] = state ? ' ' : 'n';
	values[2] = Int32GetDatum(lim);
	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ SELECT pg_catalog.jsonb_build_object("
									   " 'items', COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(a) ORDER BY a.id),"
									   "                   '[]'::pg_catalog.jsonb),"
									   " 'next_after', CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.=) $3"
									   "               THEN pg_catalog.max(a.id) END)"
									   " FROM (SELECT x.* FROM %s.perfopt_alerts x"
									   "       WHERE x.id OPERATOR(pg_catalog.>) $1"
									   "       AND ($2 IS NULL OR x.state OPERATOR(pg_catalog.=) $2)"
									   "       ORDER BY x.id LIMIT $3) a",
									   quote_identifier(get_namespace_name(perfopt_extension_schema(false)))),
							  3, types, values, nulls, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "perfopt: could not read perfopt_alerts");
	page = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	page = SPI_datumTransfer(page, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(page);
}

static Datum
al_seconds_or_null(double s, bool *isnull)
{
	*isnull = isnan(s);
	return *isnull ? (Datum) 0 : Float8GetDatum(s);
}

/*
 * at + seconds as a timestamp, or NULL when there is none or it lies past
 * the last timestamp PostgreSQL has: a nearly flat series crosses its
 * threshold millions of years away ("timestamp out of range" before)
 */
static Datum
al_at_or_null(TimestampTz at, double seconds, bool *isnull)
{
	*isnull = !(seconds >= 0 && seconds < (double) (END_TIMESTAMP - at) / USECS_PER_SEC);
	return *isnull ? (Datum) 0 : TimestampTzGetDatum(at + (int64) (seconds * USECS_PER_SEC));
}

Datum
perfopt_trends_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PerfoptTrend *rows;
	int			n;

	perfopt_require_shmem();
	InitMaterializedSRF(fcinfo, 0);
	n = perfopt_trends_copy(&rows);
	for (int i = 0; i < n; i++)
	{
		PerfoptTrend *t = &rows[i];
		Datum		values[14];
		bool		nulls[14] = {false};

		values[0] = CStringGetTextDatum(t->metric);
		values[1] = CStringGetTextDatum(t->subject);
		values[2] = TimestampTzGetDatum(t->at);
		values[3] = Int32GetDatum(t->r.points);
		values[4] = al_seconds_or_null(t->r.last, &nulls[4]);
		values[5] = al_seconds_or_null(t->r.slope_per_hour, &nulls[5]);
		values[6] = al_seconds_or_null(t->r.seconds_to_warning, &nulls[6]);
		values[7] = al_seconds_or_null(t->r.seconds_to_critical, &nulls[7]);
		values[8] = al_at_or_null(t->at, t->r.seconds_to_warning, &nulls[8]);
		values[9] = al_at_or_null(t->at, t->r.seconds_to_critical, &nulls[9]);
		values[10] = al_seconds_or_null(t->r.ewma, &nulls[10]);
		values[11] = Float8GetDatum(t->r.z);
		values[12] = BoolGetDatum(t->r.anomaly);
		values[13] = Float8GetDatum(t->warning);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

void
perfopt_alerts_status_json(StringInfo buf)
{
	PerfoptAlert *rows;
	PerfoptTrend *trends;
	int			n = perfopt_alerts_copy(&rows);
	int			nt = perfopt_trends_copy(&trends);
	int			counts[ALERT_CRITICAL + 1] = {0};
	int			open = 0;
	bool		first = true;

	for (int i = 0; i < n; i++)
		if (rows[i].open)
		{
			open++;
			counts[rows[i].severity]++;
		}
	appendStringInfo(buf, "{\"open\": %d, \"low\": %d, \"medium\": %d, \"high\": %d, \"critical\": %d, \"trends\": [",
					 open, counts[ALERT_LOW], counts[ALERT_MEDIUM], counts[ALERT_HIGH], counts[ALERT_CRITICAL]);
	/* the series heading somewhere, or behaving oddly */
	for (int i = 0; i < nt; i++)
	{
		TrendResult *r = &trends[i].r;

		if (isnan(r->seconds_to_warning) && isnan(r->seconds_to_critical) && !r->anomaly)
			continue;
		appendStringInfo(buf, "%s{\"metric\": ", first ? "" : ", ");
		escape_json(buf, trends[i].metric);
		appendStringInfoString(buf, ", \"subject\": ");
		escape_json(buf, trends[i].subject);
		appendStringInfoString(buf, ", \"slope_per_hour\": ");
		perfopt_json_number(buf, r->slope_per_hour);
		appendStringInfoString(buf, ", \"seconds_to_warning\": ");
		perfopt_json_number(buf, r->seconds_to_warning);
		appendStringInfoString(buf, ", \"seconds_to_critical\": ");
		perfopt_json_number(buf, r->seconds_to_critical);
		appendStringInfo(buf, ", \"anomaly\": %s}", r->anomaly ? "true" : "false");
		first = false;
	}
	appendStringInfoString(buf, "]}");
}

/* the open alerts per severity, every severity (0 too), as a gauge */
void
perfopt_alerts_prometheus(StringInfo buf)
{
	PerfoptAlert *rows;
	int			n = perfopt_alerts_copy(&rows);
	int			counts[ALERT_CRITICAL + 1] = {0};

	for (int i = 0; i < n; i++)
		if (rows[i].open && rows[i].severity >= ALERT_LOW && rows[i].severity <= ALERT_CRITICAL)
			counts[rows[i].severity]++;
	appendStringInfoString(buf,
						   "# HELP perfopt_alerts_open Open alerts against the thresholds, by severity (perfopt_alerts).\n"
						   "# TYPE perfopt_alerts_open gauge\n");
	for (int sv = ALERT_LOW; sv <= ALERT_CRITICAL; sv++)
		appendStringInfo(buf, "perfopt_alerts_open{severity=\"%s\"} %d\n",
						 perfopt_alert_severity_name(sv), counts[sv]);
}

/* ---- resolution ---- */

/* at commit (atcommit.c): a resolved alert leaves the open set */
static void
al_forget_at_commit(const void *data)
{
	perfopt_alerts_forget(*(const int64 *) data);
}

static void
al_check_where(const char *what)
{
	perfopt_require_shmem();
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot resolve alerts on a standby"),
				 errhint("Resolve them on the primary.")));
	if (strcmp(get_database_name(MyDatabaseId), perfopt_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("alerts are stored in database \"%s\"", perfopt_database),
				 errhint("Connect to database \"%s\" (perfopt.database) to resolve them.",
						 perfopt_database)));
}

typedef enum AlResolveOutcome
{
	AL_RESOLVED,
	AL_ALREADY_RESOLVED,
	AL_NOT_FOUND
} AlResolveOutcome;

static const char *const al_outcome_names[] = {"resolved", "already_resolved", "not_found"};

/* inside SPI, as the extension's owner */
static AlResolveOutcome
al_resolve(const char *schema, int64 id, const char *by)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(by);
	if (SPI_execute_with_args(psprintf("/* perfopt */ UPDATE %s.perfopt_alerts_data SET state = 'resolved',"
									   " resolved_at = pg_catalog.now(), resolved_by = $2"
									   " WHERE id OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) 'open'"
									   " RETURNING metric, severity, value, threshold", schema),
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "perfopt: could not update perfopt_alerts_data");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		perfopt_alert_notify(id, "resolve", SPI_getvalue(tup, desc, 1), SPI_getvalue(tup, desc, 2), false,
							 DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull)),
							 DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull)));
		if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_alert_transitions"
										   " (alert_id, event, severity, value, threshold)"
										   " SELECT id, 'resolve', severity, value, threshold"
										   " FROM %s.perfopt_alerts_data WHERE id OPERATOR(pg_catalog.=) $1",
										   schema, schema),
								  1, types, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "perfopt: could not write perfopt_alert_transitions");
		perfopt_at_commit(al_forget_at_commit, &id, sizeof(id));
		return AL_RESOLVED;
	}
	if (SPI_execute_with_args(psprintf("/* perfopt */ SELECT 1 FROM %s.perfopt_alerts_data"
									   " WHERE id OPERATOR(pg_catalog.=) $1", schema),
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_alerts_data");
	return SPI_processed == 1 ? AL_ALREADY_RESOLVED : AL_NOT_FOUND;
}

/* resolve each id; outcomes[i] for ids[i] */
static void
al_resolve_all(const int64 *ids, int n, AlResolveOutcome *outcomes)
{
	const char *schema = quote_identifier(get_namespace_name(perfopt_extension_schema(false)));
	char	   *by = GetUserNameFromId(GetUserId(), false);
	PerfoptSavedUser saved;

	perfopt_as_owner_begin(&saved);
	perfopt_spi_connect();
	for (int i = 0; i < n; i++)
		outcomes[i] = al_resolve(schema, ids[i], by);
	SPI_finish();
	perfopt_as_owner_end(&saved);
}

Datum
perfopt_resolve_alert(PG_FUNCTION_ARGS)
{
	int64		id;
	AlResolveOutcome outcome;

	al_check_where("perfopt_resolve_alert");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the alert id must not be NULL")));
	id = PG_GETARG_INT64(0);
	al_resolve_all(&id, 1, &outcome);
	if (outcome == AL_NOT_FOUND)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("alert " INT64_FORMAT " does not exist", id),
				 errhint("SELECT id FROM perfopt_alerts WHERE state = 'open' lists the open alerts.")));
	perfopt_audit("resolve_alert", psprintf("{\"id\": " INT64_FORMAT "}", id),
				  al_outcome_names[outcome]);
	PG_RETURN_DATUM(perfopt_jsonb_from_text(
											psprintf("{\"id\": " INT64_FORMAT ", \"changed\": %s, \"state\": \"resolved\", \"message\": \"%s\"}",
													 id, outcome == AL_RESOLVED ? "true" : "false",
													 outcome == AL_RESOLVED ? "resolved" : "already resolved: nothing changed")));
}

Datum
perfopt_resolve_alerts(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int64	   *ids;
	AlResolveOutcome *outcomes;
	StringInfoData out;
	StringInfoData args;
	int			counts[3] = {0};

	al_check_where("perfopt_resolve_alerts");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the array of ids must not be NULL")));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the ids must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n > ALERTS_MAX_BULK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at most %d ids at once, got %d", ALERTS_MAX_BULK, n)));
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("id %d of the array is NULL", i + 1)));
	ids = palloc(sizeof(int64) * Max(n, 1));
	outcomes = palloc(sizeof(AlResolveOutcome) * Max(n, 1));
	for (int i = 0; i < n; i++)
		ids[i] = DatumGetInt64(elems[i]);
	al_resolve_all(ids, n, outcomes);

	initStringInfo(&out);
	initStringInfo(&args);
	appendStringInfoChar(&out, '[');
	appendStringInfoString(&args, "{\"ids\": [");
	for (int i = 0; i < n; i++)
	{
		appendStringInfo(&out, "%s{\"id\": " INT64_FORMAT ", \"outcome\": \"%s\"}",
						 i ? ", " : "", ids[i], al_outcome_names[outcomes[i]]);
		appendStringInfo(&args, "%s" INT64_FORMAT, i ? ", " : "", ids[i]);
		counts[outcomes[i]]++;
	}
	appendStringInfoChar(&out, ']');
	appendStringInfoString(&args, "]}");
	perfopt_audit("resolve_alerts", args.data,
				  psprintf("%d resolved, %d already resolved, %d not found",
						   counts[AL_RESOLVED], counts[AL_ALREADY_RESOLVED], counts[AL_NOT_FOUND]));
	PG_RETURN_DATUM(perfopt_jsonb_from_text(out.data));
}
