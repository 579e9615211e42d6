/*
 * export.c — JSON and Prometheus renderings of samples and status.
 *
 * Pure formatting over copies the caller made: takes no locks and reads no
 * shared memory.  Names come from the field tables in sample.c; label
 * values that users control (database names) go through promtext.c.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "export.h"
#include "jsonutil.h"
#include "perfopt.h"
#include "promtext.h"

static void
exp_fields(StringInfo buf, const PerfoptField *fields, int nfields,
		   const void *base, PerfoptFieldGroup group, bool *first)
{
	for (int i = 0; i < nfields; i++)
	{
		if (fields[i].group != group)
			continue;
		if (!*first)
			appendStringInfoString(buf, ", ");
		*first = false;
		escape_json(buf, fields[i].name);
		appendStringInfoString(buf, ": ");
		perfopt_json_number(buf, perfopt_field_value(&fields[i], base));
	}
}

void
perfopt_json_group(StringInfo buf, const PerfoptSample *s, PerfoptFieldGroup group)
{
	bool		first = true;

	appendStringInfoChar(buf, '{');
	exp_fields(buf, perfopt_sample_fields, perfopt_sample_nfields, s, group, &first);
	appendStringInfoChar(buf, '}');
}

void
perfopt_json_databases(StringInfo buf, const PerfoptSample *s)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < s->ndatabases; i++)
	{
		const PerfoptDbSample *d = &s->databases[i];
		bool		first = false;

		if (i > 0)
			appendStringInfoString(buf, ", ");
		appendStringInfo(buf, "{\"datid\": %u, \"datname\": ", d->datid);
		escape_json(buf, d->datname);
		exp_fields(buf, perfopt_db_fields, perfopt_db_nfields, d,
				   PERFOPT_GROUP_SERVER, &first);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoChar(buf, ']');
}

void
perfopt_json_metrics(StringInfo buf, const PerfoptSample *s, bool system, bool server)
{
	appendStringInfoString(buf, "{\"sampled_at\": ");
	perfopt_json_timestamp(buf, s->sampled_at);
	appendStringInfoString(buf, ", \"interval_seconds\": ");
	perfopt_json_number(buf, s->interval_seconds);
	appendStringInfo(buf, ", \"is_standby\": %s", s->is_standby ? "true" : "false");
	if (system)
	{
		appendStringInfoString(buf, ", \"system\": ");
		perfopt_json_group(buf, s, PERFOPT_GROUP_SYSTEM);
	}
	if (server)
	{
		appendStringInfoString(buf, ", \"server\": ");
		perfopt_json_group(buf, s, PERFOPT_GROUP_SERVER);
		appendStringInfoString(buf, ", \"databases\": ");
		perfopt_json_databases(buf, s);
		appendStringInfo(buf, ", \"databases_omitted\": %d", s->ndatabases_omitted);
	}
	appendStringInfoChar(buf, '}');
}

/* Prometheus */

static void
exp_prom_number(StringInfo buf, double v)
{
	char		tmp[64];

	snprintf(tmp, sizeof(tmp), "%.10g", v);
	appendStringInfoString(buf, tmp);
}

static void
exp_prom_header(StringInfo buf, const char *name, const char *type,
				const char *help, const char **last)
{
	char		tmp[512];

	if (*last != NULL && strcmp(*last, name) == 0)
		return;
	*last = name;
	prom_escape_help(help, tmp, sizeof(tmp));
	appendStringInfo(buf, "# HELP %s %s\n# TYPE %s %s\n", name, tmp, name, type);
}

static void
exp_prom_gauge(StringInfo buf, const char *name, const char *help, double v)
{
	const char *last = NULL;

	exp_prom_header(buf, name, "gauge", help, &last);
	appendStringInfo(buf, "%s ", name);
	exp_prom_number(buf, v);
	appendStringInfoChar(buf, '\n');
}

static void
exp_prom_label_value(StringInfo buf, const char *value)
{
	char		tmp[2 * NAMEDATALEN + 1];

	/* a name is below NAMEDATALEN, so twice that always fits */
	prom_escape_label_value(value, tmp, sizeof(tmp));
	appendStringInfoString(buf, tmp);
}

static void
exp_prom_samples(StringInfo buf, const PerfoptSample *s)
{
	const char *last = NULL;

	for (int i = 0; i < perfopt_sample_nfields; i++)
	{
		const PerfoptField *f = &perfopt_sample_fields[i];
		double		v = perfopt_field_value(f, s);

		if (f->prom_name == NULL || isnan(v) || isinf(v))
			continue;
		exp_prom_header(buf, f->prom_name, "gauge", f->prom_help, &last);
		appendStringInfoString(buf, f->prom_name);
		if (f->prom_label)
			appendStringInfo(buf, "{%s}", f->prom_label);
		appendStringInfoChar(buf, ' ');
		exp_prom_number(buf, v * f->prom_scale);
		appendStringInfoChar(buf, '\n');
	}

	/* per database: one family per field, a sample per database */
	for (int i = 0; i < perfopt_db_nfields; i++)
	{
		const PerfoptField *f = &perfopt_db_fields[i];

		for (int k = 0; k < s->ndatabases; k++)
		{
			double		v = perfopt_field_value(f, &s->databases[k]);

			if (isnan(v) || isinf(v))
				continue;
			exp_prom_header(buf, f->prom_name, "gauge", f->prom_help, &last);
			appendStringInfo(buf, "%s{datname=\"", f->prom_name);
			exp_prom_label_value(buf, s->databases[k].datname);
			appendStringInfoString(buf, "\"} ");
			exp_prom_number(buf, v * f->prom_scale);
			appendStringInfoChar(buf, '\n');
		}
	}
	exp_prom_gauge(buf, "perfopt_databases_omitted",
				   "Databases beyond perfopt.max_databases left out of the last sample.",
				   s->ndatabases_omitted);
	exp_prom_gauge(buf, "perfopt_server_in_recovery",
				   "1 when the server is a standby.", s->is_standby ? 1 : 0);
	exp_prom_gauge(buf, "perfopt_last_sample_timestamp_seconds",
				   "Unix time of the last sample.",
				   (double) (s->sampled_at - SetEpochTimestamp()) / USECS_PER_SEC);
}

void
perfopt_prometheus(StringInfo buf, const PerfoptSample *latest, const PerfoptStatus *st)
{
	const char *last = NULL;

	exp_prom_gauge(buf, "perfopt_monitoring_enabled",
				   "1 when the worker samples (perfopt_start_monitoring / perfopt_stop_monitoring).",
				   st->monitoring_enabled && perfopt_enable_performance_monitoring ? 1 : 0);
	exp_prom_gauge(buf, "perfopt_worker_up", "1 while the perfopt worker runs.",
				   st->worker_pid != 0 ? 1 : 0);
	exp_prom_gauge(buf, "perfopt_sample_interval_seconds",
				   "Time between two samples.", st->interval_ms / 1000.0);
	exp_prom_header(buf, "perfopt_samples_total", "counter",
					"Samples taken since the server started.", &last);
	appendStringInfo(buf, "perfopt_samples_total " UINT64_FORMAT "\n", st->samples_taken);
	if (latest)
		exp_prom_samples(buf, latest);
}
