/*
 * apimetrics.c — the SQL side of the statement latency measurements
 * (latency.c): perfopt_api_metrics(), perfopt_reset_api_metrics(), and the
 * "api" part of perfopt_status() and perfopt_metrics().
 *
 * A reset is audited in the caller's transaction and applied when it
 * commits, so a rolled-back call changes nothing.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "apimetrics.h"
#include "atcommit.h"
#include "audit.h"
#include "jsonutil.h"
#include "latency.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(perfopt_api_metrics);
PG_FUNCTION_INFO_V1(perfopt_reset_api_metrics);

static const char *
api_track_name(void)
{
	switch (perfopt_track)
	{
		case PERFOPT_TRACK_NONE:
			return "none";
		case PERFOPT_TRACK_ALL:
			return "all";
		default:
			return "top";
	}
}

void
perfopt_api_json(StringInfo buf, PerfoptApiDetail detail)
{
	LatReading	interval;
	bool		have = perfopt_latency_read_interval(&interval);

	appendStringInfo(buf, "{\"track\": \"%s\", \"last_interval\": ", api_track_name());
	if (!have)
		appendStringInfoString(buf, "null");
	else if (detail == PERFOPT_API_OVERALL)
		perfopt_latency_json_stats(buf, &interval.all,
								   (double) (interval.end - interval.start) / USECS_PER_SEC);
	else
		perfopt_latency_json_reading(buf, &interval);
	if (detail == PERFOPT_API_ALL)
	{
		LatReading	total;

		perfopt_latency_read_total(&total);
		appendStringInfoString(buf, ", \"since_reset\": ");
		perfopt_latency_json_reading(buf, &total);
	}
	appendStringInfoChar(buf, '}');
}

Datum
perfopt_api_metrics(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	perfopt_require_shmem();
	initStringInfo(&buf);
	perfopt_api_json(&buf, PERFOPT_API_ALL);
	PG_RETURN_DATUM(perfopt_jsonb_from_text(buf.data));
}

/* at commit (atcommit.c) */
static void
api_reset_at_commit(const void *data)
{
	perfopt_latency_reset();
}

Datum
perfopt_reset_api_metrics(PG_FUNCTION_ARGS)
{
	perfopt_require_shmem();
	perfopt_audit("reset_api_metrics", "{}", "reset at commit");
	perfopt_at_commit(api_reset_at_commit, NULL, 0);
	PG_RETURN_VOID();
}
