/*
 * timeseries.c — perfopt_metrics_history(): the sample history of
 * perfopt_samples over a time range as time series, downsampled in the
 * server to min/avg/max per step, at most max_points buckets per series.
 *
 * The step is whole seconds; buckets start at multiples of it since the
 * Unix epoch (so that the same range asked again gives the same buckets),
 * except when one bucket is asked for over a range no such bucket holds:
 * then the one bucket starts at the range's first whole second.  A
 * bucket without a value is left out.  Series: every metric column of
 * perfopt_samples (sample.c's table), the statement latency of
 * perfopt_latency_history (percentiles, rates, error rate; a bucket's
 * min/avg/max are those of the intervals' figures), then per database
 * (label datname) every per-database metric of its databases column.
 *
 * Runs as the caller, reading the table pg_monitor may read; the names in
 * the statements are all schema-qualified and the values parameters.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "extschema.h"
#include "jsonutil.h"
#include "sample.h"
#include "spiutil.h"

PG_FUNCTION_INFO_V1(perfopt_metrics_history);

/*
 * The bucket of a row: its Unix time in numeric (exact to the microsecond,
 * where float8 could round a sample just before a bucket's end into the
 * next) less the anchor $3, over the step $4, rounded down.
 */
#define TS_BUCKET \
	"pg_catalog.floor((pg_catalog.extract('epoch', s.sampled_at)" \
	" OPERATOR(pg_catalog.-) $3::pg_catalog.numeric) OPERATOR(pg_catalog./) $4::pg_catalog.numeric)::pg_catalog.int8"

/* a range longer than this is refused */
#define TS_MAX_RANGE_DAYS 31
#define TS_MAX_POINTS 1000

/* microseconds from the Unix epoch to PostgreSQL's */
#define TS_UNIX_OFFSET_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* floor(a / b) for b > 0 */
static int64
ts_floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b) != 0 && a < 0)
		q--;
	return q;
}

/* buckets of step_us starting at anchor_us + k * step_us that [from_us, to_us) touches */
static int64
ts_bucket_count(int64 from_us, int64 to_us, int64 anchor_us, int64 step_us)
{
	return ts_floor_div(to_us - 1 - anchor_us, step_us) -
		ts_floor_div(from_us - anchor_us, step_us) + 1;
}

static const char *
ts_arg_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? "<NULL>" :
		psprintf("%d", PG_GETARG_INT32(n));
}

/* the statement over the metric columns: bucket, then min, avg, max of each */
static char *
ts_samples_sql(const char *schema)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "/* perfopt */ SELECT " TS_BUCKET " AS b");
	for (int i = 0; i < perfopt_sample_nfields; i++)
	{
		const char *col = quote_identifier(perfopt_sample_fields[i].name);

		appendStringInfo(&sql, ", pg_catalog.min(s.%s), pg_catalog.avg(s.%s), pg_catalog.max(s.%s)",
						 col, col, col);
	}
	appendStringInfo(&sql,
					 " FROM %s.perfopt_samples s"
					 " WHERE s.sampled_at OPERATOR(pg_catalog.>=) $1 AND s.sampled_at OPERATOR(pg_catalog.<) $2"
					 " GROUP BY 1 ORDER BY 1",
					 quote_identifier(schema));
	return sql.data;
}

/* the latency series: their names and their values in a perfopt_latency_history row s */
static const struct
{
	const char *name;
	const char *expr;
}			ts_latency[] = {
	{"latency_p50_ms", "s.p50_ms"},
	{"latency_p95_ms", "s.p95_ms"},
	{"latency_p99_ms", "s.p99_ms"},
	{"statements_per_second",
	"CASE WHEN s.seconds OPERATOR(pg_catalog.>) 0 THEN s.statements::pg_catalog.float8"
	" OPERATOR(pg_catalog./) s.seconds END"},
	{"errors_per_second",
	"CASE WHEN s.seconds OPERATOR(pg_catalog.>) 0 THEN s.errors::pg_catalog.float8"
	" OPERATOR(pg_catalog./) s.seconds END"},
	{"error_rate_pct",
	"CASE WHEN (s.statements OPERATOR(pg_catalog.+) s.errors) OPERATOR(pg_catalog.>) 0"
	" THEN 100 OPERATOR(pg_catalog.*) s.errors::pg_catalog.float8 OPERATOR(pg_catalog./)"
	" (s.statements OPERATOR(pg_catalog.+) s.errors)::pg_catalog.float8 END"},
};

/* the statement over perfopt_latency_history: bucket, then min, avg, max of each series */
static char *
ts_latency_sql(const char *schema)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "/* perfopt */ SELECT " TS_BUCKET " AS b");
	for (int i = 0; i < lengthof(ts_latency); i++)
		appendStringInfo(&sql, ", pg_catalog.min(%s), pg_catalog.avg(%s), pg_catalog.max(%s)",
						 ts_latency[i].expr, ts_latency[i].expr, ts_latency[i].expr);
	appendStringInfo(&sql,
					 " FROM %s.perfopt_latency_history s"
					 " WHERE s.sampled_at OPERATOR(pg_catalog.>=) $1 AND s.sampled_at OPERATOR(pg_catalog.<) $2"
					 " GROUP BY 1 ORDER BY 1",
					 quote_identifier(schema));
	return sql.data;
}

/* the statement over the databases column: datname, bucket, then min, avg, max of each */
static char *
ts_databases_sql(const char *schema)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "/* perfopt */ SELECT (e.value OPERATOR(pg_catalog.->>) 'datname') COLLATE pg_catalog.\"C\" AS d,"
						   " " TS_BUCKET " AS b");
	for (int i = 0; i < perfopt_db_nfields; i++)
	{
		char	   *v = psprintf("(e.value OPERATOR(pg_catalog.->>) %s)::pg_catalog.float8",
								 quote_literal_cstr(perfopt_db_fields[i].name));

		appendStringInfo(&sql, ", pg_catalog.min(%s), pg_catalog.avg(%s), pg_catalog.max(%s)", v, v, v);
	}
	appendStringInfo(&sql,
					 " FROM %s.perfopt_samples s,"
					 " pg_catalog.jsonb_array_elements(s.databases) e"
					 " WHERE s.sampled_at OPERATOR(pg_catalog.>=) $1 AND s.sampled_at OPERATOR(pg_catalog.<) $2"
					 " AND pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.=) 'object'"
					 " AND (e.value OPERATOR(pg_catalog.->>) 'datname') IS NOT NULL"
					 " GROUP BY 1, 2 ORDER BY 1, 2",
					 quote_identifier(schema));
	return sql.data;
}

/*
 * One series: rows [first, last) of the result, column col (min; avg and
 * max follow), bucket number in column bcol.
 */
static void
ts_series(StringInfo buf, const char *name, const char *datname, int first, int last,
		  int bcol, int col, int64 anchor_s, int64 step_s, bool *any)
{
	SPITupleTable *tt = SPI_tuptable;
	bool		first_point = true;

	if (*any)
		appendStringInfoString(buf, ", ");
	*any = true;
	appendStringInfoString(buf, "{\"name\": ");
	escape_json(buf, name);
	appendStringInfoString(buf, ", \"labels\": {");
	if (datname)
	{
		appendStringInfoString(buf, "\"datname\": ");
		escape_json(buf, datname);
	}
	appendStringInfoString(buf, "}, \"points\": [");
	for (int r = first; r < last; r++)
	{
		HeapTuple	tup = tt->vals[r];
		bool		isnull;
		int64		bucket = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, bcol, &isnull));
		Datum		mn = SPI_getbinval(tup, tt->tupdesc, col, &isnull);

		/* min is null exactly when the bucket holds no value of the metric */
		if (isnull)
			continue;
		appendStringInfo(buf, "%s[" INT64_FORMAT ", ", first_point ? "" : ", ",
						 anchor_s + bucket * step_s);
		first_point = false;
		perfopt_json_number(buf, DatumGetFloat8(mn));
		for (int k = 1; k <= 2; k++)
		{
			Datum		v = SPI_getbinval(tup, tt->tupdesc, col + k, &isnull);

			appendStringInfoString(buf, ", ");
			if (isnull)
				appendStringInfoString(buf, "null");
			else
				perfopt_json_number(buf, DatumGetFloat8(v));
		}
		appendStringInfoChar(buf, ']');
	}
	appendStringInfoString(buf, "]}");
}

/*
 * perfopt_metrics_history(from_ts, to_ts, max_points [, step_seconds]):
 * {"from", "to", "step_seconds", "series": [{"name", "labels", "points":
 * [[bucket start (Unix seconds), min, avg, max], ...]}, ...]}.  Without a
 * step (or a NULL one), the smallest that gives at most max_points buckets.
 */
Datum
perfopt_metrics_history(PG_FUNCTION_ARGS)
{
	bool		has_step = PG_NARGS() > 3 && !PG_ARGISNULL(3);
	TimestampTz from_ts;
	TimestampTz to_ts;
	int32		max_points;
	int64		from_us;
	int64		to_us;
	int64		step_s = 0;
	int64		anchor_s = 0;
	int64		range_us;
	Oid			types[4] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID};
	Datum		values[4];
	char	   *schema;
	StringInfoData buf;
	bool		any = false;
	Datum		result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("from_ts and to_ts must not be null")));
	from_ts = PG_GETARG_TIMESTAMPTZ(0);
	to_ts = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(from_ts) || TIMESTAMP_NOT_FINITE(to_ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_ts and to_ts must be finite")));
	if (from_ts >= to_ts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_ts must be earlier than to_ts")));
	range_us = to_ts - from_ts;
	if (range_us > (int64) TS_MAX_RANGE_DAYS * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the range from from_ts to to_ts must not exceed %d days", TS_MAX_RANGE_DAYS)));
	if (PG_ARGISNULL(2) || PG_GETARG_INT32(2) < 1 || PG_GETARG_INT32(2) > TS_MAX_POINTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_points must be between 1 and %d, not %s",
						TS_MAX_POINTS, ts_arg_text(fcinfo, 2))));
	max_points = PG_GETARG_INT32(2);

	from_us = from_ts + TS_UNIX_OFFSET_US;
	to_us = to_ts + TS_UNIX_OFFSET_US;

	if (has_step)
	{
		int32		step = PG_GETARG_INT32(3);
		int64		n;

		if (step < 1 || (int64) step * USECS_PER_SEC > (int64) TS_MAX_RANGE_DAYS * USECS_PER_DAY)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("step_seconds must be between 1 and %d, not %d",
							TS_MAX_RANGE_DAYS * SECS_PER_DAY, step)));
		step_s = step;
		n = ts_bucket_count(from_us, to_us, 0, step_s * USECS_PER_SEC);
		if (n > max_points)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a step of %d seconds gives " INT64_FORMAT " points over the range, more than max_points (%d)",
							step, n, max_points),
					 errhint("Ask for a longer step, a shorter range or more points.")));
	}
	else
	{
		/* the range from the first whole second, the anchored bucket's start */
		int64		first_s = ts_floor_div(from_us, USECS_PER_SEC);
		int64		span_us = to_us - first_s * USECS_PER_SEC;
		int64		s0 = Max((int64) 1, (span_us + (int64) max_points * USECS_PER_SEC - 1) /
							 ((int64) max_points * USECS_PER_SEC));

		/*
		 * Epoch-aligned buckets may need one more than the range over the
		 * step: take the smallest step from s0 up whose buckets fit.  Two
		 * s0 always fit when max_points >= 2.
		 */
		for (int64 s = s0; s <= 2 * s0 && max_points >= 2; s++)
		{
			if ((s & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
			if (ts_bucket_count(from_us, to_us, 0, s * USECS_PER_SEC) <= max_points)
			{
				step_s = s;
				break;
			}
		}
		if (step_s == 0 && ts_bucket_count(from_us, to_us, 0, s0 * USECS_PER_SEC) <= max_points)
			step_s = s0;
		if (step_s == 0)
		{
			/* one bucket over a range across a multiple of s0: from its first second */
			step_s = s0;
			anchor_s = first_s;
		}
	}

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"from\": ");
	perfopt_json_timestamp(&buf, from_ts);
	appendStringInfoString(&buf, ", \"to\": ");
	perfopt_json_timestamp(&buf, to_ts);
	appendStringInfo(&buf, ", \"step_seconds\": " INT64_FORMAT ", \"series\": [", step_s);

	schema = get_namespace_name(perfopt_extension_schema(false));
	if (schema == NULL)
		elog(ERROR, "perfopt: the extension's schema is gone");
	values[0] = TimestampTzGetDatum(from_ts);
	values[1] = TimestampTzGetDatum(to_ts);
	values[2] = Int64GetDatum(anchor_s);
	values[3] = Int64GetDatum(step_s);

	perfopt_spi_connect();
	if (SPI_execute_with_args(ts_samples_sql(schema), 4, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_samples");
	for (int i = 0; i < perfopt_sample_nfields; i++)
		ts_series(&buf, perfopt_sample_fields[i].name, NULL, 0, (int) SPI_processed,
				  1, 2 + 3 * i, anchor_s, step_s, &any);

	if (SPI_execute_with_args(ts_latency_sql(schema), 4, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_latency_history");
	for (int i = 0; i < lengthof(ts_latency); i++)
		ts_series(&buf, ts_latency[i].name, NULL, 0, (int) SPI_processed,
				  1, 2 + 3 * i, anchor_s, step_s, &any);

	if (SPI_execute_with_args(ts_databases_sql(schema), 4, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read the databases of perfopt_samples");
	for (int first = 0, n = (int) SPI_processed; first < n;)
	{
		bool		isnull;
		char	   *datname = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[first],
																SPI_tuptable->tupdesc, 1, &isnull));
		int			last = first + 1;

		CHECK_FOR_INTERRUPTS();
		while (last < n)
		{
			char	   *next = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[last],
																 SPI_tuptable->tupdesc, 1, &isnull));

			if (strcmp(next, datname) != 0)
				break;
			last++;
		}
		for (int i = 0; i < perfopt_db_nfields; i++)
			ts_series(&buf, perfopt_db_fields[i].name, datname, first, last,
					  2, 3 + 3 * i, anchor_s, step_s, &any);
		first = last;
	}
	SPI_finish();

	appendStringInfoString(&buf, "]}");
	result = perfopt_jsonb_from_text(buf.data);
	pfree(buf.data);
	PG_RETURN_DATUM(result);
}
