/*
 * latencyhistory.c — the statement latency history: at each history write
 * of the worker, the statements that completed (and failed) in all
 * databases since the previous write, their rate and their median, p95
 * and p99, as one row of perfopt_latency_history; the retention of
 * perfopt_samples applies.
 *
 * The interval is the difference of two readings since the last reset
 * (latency.c), kept in the worker's own memory; a reset in between starts
 * the interval at the reset.  The first write after the worker starts
 * only takes its reading.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "latency.h"
#include "latencyhistory.h"
#include "spiutil.h"

/* the reading of the previous write (the worker's memory) */
static bool lhw_have_last = false;
static TimestampTz lhw_last_start;	/* its reset time */
static TimestampTz lhw_last_end;
static LatCounters lhw_last;

#define LHW_NARGS 8

void
perfopt_latency_history_write(Oid schema_oid, TimestampTz at, TimestampTz cutoff)
{
	const char *schema = get_namespace_name(schema_oid);
	LatReading	cur;
	LatCounters d;
	TimestampTz from;
	double		seconds;
	Oid			types[LHW_NARGS] = {TIMESTAMPTZOID, FLOAT8OID, INT8OID, INT8OID, INT8OID,
	FLOAT8OID, FLOAT8OID, FLOAT8OID};
	Datum		values[LHW_NARGS];
	char		nulls[LHW_NARGS];
	const double qs[3] = {0.5, 0.95, 0.99};
	Oid			cutoff_type = TIMESTAMPTZOID;
	Datum		cutoff_value = TimestampTzGetDatum(cutoff);

	perfopt_latency_read_total(&cur);
	if (!lhw_have_last)
	{
		/* the first write after a start: nothing to compare with yet */
		lhw_have_last = true;
		lhw_last_start = cur.start;
		lhw_last_end = cur.end;
		lhw_last = cur.all;
		return;
	}
	d = cur.all;
	if (cur.start == lhw_last_start)
	{
		/* the same counts, further on: the difference */
		lh_sub(&d.hist, &cur.all.hist, &lhw_last.hist);
		d.errors = cur.all.errors >= lhw_last.errors ? cur.all.errors - lhw_last.errors : 0;
		d.rollbacks = cur.all.rollbacks >= lhw_last.rollbacks ? cur.all.rollbacks - lhw_last.rollbacks : 0;
		from = lhw_last_end;
	}
	else
		from = cur.start;		/* since the reset */

	seconds = (double) (cur.end - from) / USECS_PER_SEC;

	/* an extension still at 1.0 has no such table: the samples are written all the same */
	if (schema == NULL || !OidIsValid(get_relname_relid("perfopt_latency_history", schema_oid)))
		goto remember;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(at);
	values[1] = Float8GetDatum(seconds > 0 ? seconds : 0);
	values[2] = Int64GetDatum((int64) d.hist.count);
	values[3] = Int64GetDatum((int64) d.errors);
	values[4] = Int64GetDatum((int64) d.rollbacks);
	for (int i = 0; i < 3; i++)
	{
		values[5 + i] = Float8GetDatum((double) lh_percentile(&d.hist, qs[i]) / 1e6);
		if (d.hist.count == 0)
			nulls[5 + i] = 'n';
	}

	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_latency_history"
									   " (sampled_at, seconds, statements, errors, rollbacks,"
									   " p50_ms, p95_ms, p99_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
									   " ON CONFLICT (sampled_at) DO NOTHING",
									   quote_identifier(schema)),
							  LHW_NARGS, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "perfopt: could not insert into perfopt_latency_history");
	if (SPI_execute_with_args(psprintf("/* perfopt */ DELETE FROM %s.perfopt_latency_history"
									   " WHERE sampled_at OPERATOR(pg_catalog.<) $1",
									   quote_identifier(schema)),
							  1, &cutoff_type, &cutoff_value, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "perfopt: could not apply the retention to perfopt_latency_history");
	SPI_finish();

remember:
	lhw_have_last = true;
	lhw_last_start = cur.start;
	lhw_last_end = cur.end;
	lhw_last = cur.all;
}
