/*
 * history.c — the persisted sample history: one row per written sample in
 * perfopt_samples, in the extension's schema of perfopt.database.
 *
 * Called only by the worker, inside its sampling transaction, on a primary.
 * The statement text is built once from the field tables (sample.c) with
 * the schema name quoted; values always travel as parameters.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "export.h"
#include "extschema.h"
#include "history.h"
#include "latencyhistory.h"
#include "perfopt.h"
#include "spiutil.h"

/* sampled_at, interval_seconds, is_standby, fields..., databases_omitted, databases */
#define HIST_FIXED_BEFORE 3
#define HIST_FIXED_AFTER 2

bool
perfopt_history_available(void)
{
	return OidIsValid(perfopt_extension_schema_locked());
}

static char *
hist_insert_sql(const char *schema)
{
	StringInfoData sql;
	int			param = 1;

	initStringInfo(&sql);
	appendStringInfo(&sql, "/* perfopt */ INSERT INTO %s.perfopt_samples"
					 " (sampled_at, interval_seconds, is_standby",
					 quote_identifier(schema));
	for (int i = 0; i < perfopt_sample_nfields; i++)
		appendStringInfo(&sql, ", %s", perfopt_sample_fields[i].name);
	appendStringInfoString(&sql, ", databases_omitted, databases) VALUES ($1, $2, $3");
	param = HIST_FIXED_BEFORE + 1;
	for (int i = 0; i < perfopt_sample_nfields; i++)
		appendStringInfo(&sql, ", $%d", param++);
	appendStringInfo(&sql, ", $%d, $%d::pg_catalog.jsonb)", param, param + 1);
	return sql.data;
}

void
perfopt_history_write(const PerfoptSample *s)
{
	Oid			schema_oid = perfopt_extension_schema_locked();
	char	   *schema;
	int			nargs = HIST_FIXED_BEFORE + perfopt_sample_nfields + HIST_FIXED_AFTER;
	Oid		   *types = palloc(sizeof(Oid) * nargs);
	Datum	   *values = palloc(sizeof(Datum) * nargs);
	char	   *nulls = palloc(nargs);
	StringInfoData dbs;
	int			k = 0;
	TimestampTz cutoff;
	char		delete_sql[NAMEDATALEN * 2 + 128];
	Oid			delete_type = TIMESTAMPTZOID;
	Datum		delete_value;

	if (!OidIsValid(schema_oid))
		return;
	schema = get_namespace_name(schema_oid);
	if (schema == NULL)
		return;

	types[k] = TIMESTAMPTZOID;
	values[k++] = TimestampTzGetDatum(s->sampled_at);
	types[k] = FLOAT8OID;
	values[k++] = Float8GetDatum(s->interval_seconds);
	types[k] = BOOLOID;
	values[k++] = BoolGetDatum(s->is_standby);
	memset(nulls, ' ', nargs);
	for (int i = 0; i < perfopt_sample_nfields; i++)
	{
		double		v = perfopt_field_value(&perfopt_sample_fields[i], s);

		types[k] = FLOAT8OID;
		values[k] = Float8GetDatum(v);
		if (isnan(v) || isinf(v))
			nulls[k] = 'n';
		k++;
	}
	types[k] = INT4OID;
	values[k++] = Int32GetDatum(s->ndatabases_omitted);
	initStringInfo(&dbs);
	perfopt_json_databases(&dbs, s);
	types[k] = TEXTOID;
	values[k++] = CStringGetTextDatum(dbs.data);

	perfopt_spi_connect();
	if (SPI_execute_with_args(hist_insert_sql(schema), nargs, types, values, nulls,
							  false, 0) != SPI_OK_INSERT)
		elog(ERROR, "perfopt: could not insert into perfopt_samples");

	cutoff = s->sampled_at - (TimestampTz) perfopt_history_retention * 60 * USECS_PER_SEC;
	delete_value = TimestampTzGetDatum(cutoff);
	snprintf(delete_sql, sizeof(delete_sql),
			 "/* perfopt */ DELETE FROM %s.perfopt_samples WHERE sampled_at OPERATOR(pg_catalog.<) $1",
			 quote_identifier(schema));
	if (SPI_execute_with_args(delete_sql, 1, &delete_type, &delete_value, NULL,
							  false, 0) != SPI_OK_DELETE)
		elog(ERROR, "perfopt: could not apply the retention to perfopt_samples");
	SPI_finish();

	/* the statements' latency over the same time, with the same retention */
	perfopt_latency_history_write(schema_oid, s->sampled_at, cutoff);
}
