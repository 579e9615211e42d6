/*
 * emergency.c — the emergency actions (perfopt.enable_emergency_optimization,
 * off by default), taken by the worker after a sample:
 *
 * - connection utilization at or above its critical threshold: terminate
 *   the sessions idle in transaction for longer than
 *   perfopt.emergency_idle_in_transaction_age;
 * - query time (p90 of the last interval) at or above its critical
 *   threshold: cancel the statements running for longer than
 *   perfopt.emergency_blocker_age that block another session
 *   (pg_blocking_pids).
 *
 * Never a superuser's or a replication role's session, never a process
 * other than a client backend (so not replication, autovacuum or perfopt's
 * workers: the backend type is what a client cannot set, unlike its
 * application_name).  perfopt-httpd's sessions are clients like any
 * other; they never idle in a transaction.  At most
 * EMERGENCY_MAX_ACTIONS per sample.  Every action is logged and written to
 * perfopt_audit_log with its evidence, in the worker's transaction, so
 * actions are taken only where the extension exists in perfopt.database
 * and on a primary.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "audit.h"
#include "emergency.h"
#include "jsonutil.h"
#include "latency.h"
#include "perfopt.h"
#include "spiutil.h"
#include "thresholds.h"

#define EMERGENCY_MAX_ACTIONS 100

/* the sessions perfopt may act on: whose, and what they are */
#define EMERGENCY_SESSIONS \
	" FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.usesysid" \
	" WHERE a.backend_type OPERATOR(pg_catalog.=) 'client backend' AND NOT r.rolsuper AND NOT r.rolreplication" \
	" AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()"

/*
 * the columns every action's evidence shows, then the action's own.  The
 * statement is named by its query id (pg_stat_statements' queryid, where
 * compute_query_id is on), never by its text: pg_stat_activity.query
 * holds the literals as the client sent them (values, passwords).
 */
#define EMERGENCY_COLUMNS \
	"SELECT a.pid, a.usename::pg_catalog.text, a.datname::pg_catalog.text, a.application_name," \
	" a.client_addr::pg_catalog.text, a.state, a.query_id"

static void
em_act(const char *action, const char *function, const char *metric, double value,
	   double threshold, const char *sql, int age_seconds)
{
	Oid			type = INT4OID;
	Datum		arg = Int32GetDatum(age_seconds);
	SPITupleTable *rows;
	uint64		n;

	perfopt_spi_connect();
	if (SPI_execute_with_args(sql, 1, &type, &arg, NULL, true, EMERGENCY_MAX_ACTIONS) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read pg_stat_activity");
	rows = SPI_tuptable;
	n = SPI_processed;
	for (uint64 r = 0; r < n; r++)
	{
		TupleDesc	desc = rows->tupdesc;
		HeapTuple	tup = rows->vals[r];
		char	   *pid = SPI_getvalue(tup, desc, 1);
		StringInfoData ev;
		bool		done;
		const char *keys[] = {"user", "database", "application", "client", "state", "query_id", "seconds", "blocked_sessions"};

		/* the signal: true when the backend was there to receive it */
		if (SPI_execute(psprintf("/* perfopt */ SELECT pg_catalog.%s(%s)", function, pid), false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "perfopt: could not call %s", function);
		done = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0;

		initStringInfo(&ev);
		appendStringInfo(&ev, "{\"metric\": \"%s\", \"value\": ", metric);
		perfopt_json_number(&ev, value);
		appendStringInfoString(&ev, ", \"critical_threshold\": ");
		perfopt_json_number(&ev, threshold);
		appendStringInfo(&ev, ", \"age_limit_seconds\": %d, \"pid\": %s", age_seconds, pid);
		for (int c = 2; c <= desc->natts && c - 2 < (int) lengthof(keys); c++)
		{
			char	   *v = SPI_getvalue(tup, desc, c);

			appendStringInfo(&ev, ", \"%s\": ", keys[c - 2]);
			if (v == NULL)
				appendStringInfoString(&ev, "null");
			else if (c >= 7)	/* query_id and the counts: numbers */
				appendStringInfoString(&ev, v);
			else
				escape_json(&ev, v);
		}
		appendStringInfoChar(&ev, '}');
		if (done)
			ereport(LOG,
					(errmsg("perfopt: emergency action: %s backend %s, because %s is %.1f (critical: %.1f)",
							strcmp(action, "terminated") == 0 ? "terminated" : "cancelled the statement of",
							pid, metric, value, threshold)));
		else
			ereport(LOG,
					(errmsg("perfopt: emergency action: backend %s had exited before it could be %s (%s is %.1f, critical: %.1f)",
							pid, action, metric, value, threshold)));
		perfopt_audit(strcmp(function, "pg_terminate_backend") == 0 ?
					  "emergency_terminate" : "emergency_cancel",
					  ev.data, done ? action : "backend gone");
	}
	SPI_finish();
}

void
perfopt_emergency_act(const PerfoptSample *s)
{
	PerfoptThresholds th;
	LatReading	interval;

	if (!perfopt_enable_emergency_optimization)
		return;
	perfopt_thresholds_get(&th);

	if (!isnan(s->pool_utilization_pct) &&
		s->pool_utilization_pct >= th.connection_utilization.critical)
		em_act("terminated", "pg_terminate_backend", "database.connectionUtilization",
			   s->pool_utilization_pct, th.connection_utilization.critical,
			   "/* perfopt */ " EMERGENCY_COLUMNS ","
			   " EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) a.state_change)::pg_catalog.int8"
			   EMERGENCY_SESSIONS
			   " AND a.state OPERATOR(pg_catalog.~~) 'idle in transaction%'"
			   " AND a.state_change OPERATOR(pg_catalog.<)"
			   "     (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $1))"
			   " ORDER BY a.state_change",
			   perfopt_emergency_idle_in_transaction_age);

	if (perfopt_latency_read_interval(&interval) && interval.all.hist.count > 0)
	{
		double		p90_ms = lh_percentile(&interval.all.hist, 0.90) / 1e6;

		if (p90_ms >= th.query_time.critical)
			em_act("cancelled", "pg_cancel_backend", "database.queryTime", p90_ms,
				   th.query_time.critical,
				   "/* perfopt */ " EMERGENCY_COLUMNS ","
				   " EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) a.query_start)::pg_catalog.int8,"
				   " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity w"
				   "  WHERE a.pid OPERATOR(pg_catalog.=) ANY (pg_catalog.pg_blocking_pids(w.pid)))"
				   EMERGENCY_SESSIONS
				   " AND a.state OPERATOR(pg_catalog.=) 'active'"
				   " AND a.query_start OPERATOR(pg_catalog.<)"
				   "     (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $1))"
				   " AND EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity w"
				   "             WHERE a.pid OPERATOR(pg_catalog.=) ANY (pg_catalog.pg_blocking_pids(w.pid)))"
				   " ORDER BY a.query_start",
				   perfopt_emergency_blocker_age);
	}
}
