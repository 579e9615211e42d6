/*
 * refresh.c — keeps recommendations fresh without anyone asking: every
 * perfopt.advisor_interval the main worker walks the databases, one at a
 * time, starting a short-lived "perfopt advisor" background worker in
 * each; that worker runs the advisor (as perfopt_advise() does, without
 * an audit row) if the extension is installed there, and exits.  With perfopt.enable_auto_optimization on, every
 * perfopt.auto_optimization_interval the round runs the optimization
 * instead (its builds then wait for perfopt.maintenance_window in the job
 * runner); a run with nothing to do leaves no history or audit row.
 *
 * The main worker only launches and polls (never waits): the advisor's
 * locks and planning happen in the dynamic worker's own transaction.  On a
 * standby nothing is launched (recommendations cannot be written there).
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "advisor.h"
#include "extschema.h"
#include "latency.h"
#include "launcher.h"
#include "optimize.h"
#include "perfopt.h"
#include "workersession.h"

static List *rf_pending = NIL;	/* database OIDs still to visit this round */
static bool rf_round_optimizes = false;	/* this round runs perfopt_optimize() */
static BackgroundWorkerHandle *rf_current = NULL;
static TimestampTz rf_next_round = 0;
static TimestampTz rf_next_optimization = 0;
static bool rf_launch_failed_logged = false;

/* the databases a round visits: connectable, not templates (needs a transaction) */
static List *
rf_databases(void)
{
	List	   *result = NIL;
	Relation	rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
	HeapTuple	tup;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && !db->datistemplate)
			result = lappend_oid(result, db->oid);
	}
	MemoryContextSwitchTo(old);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

static void
rf_launch(Oid dboid)
{
	/* what to run: advice only, or the whole optimization */
	if (!perfopt_start_db_worker("perfopt_advisor_main", "perfopt advisor", dboid,
								 rf_round_optimizes ? "optimize" : "advise", &rf_current))
	{
		rf_current = NULL;
		if (!rf_launch_failed_logged)
			ereport(LOG,
					(errmsg("perfopt: could not start an advisor worker"),
					 errdetail("Recommendations are refreshed when a worker slot is free."),
					 errhint("Raise max_worker_processes.")));
		rf_launch_failed_logged = true;
		return;
	}
	rf_launch_failed_logged = false;
}

/*
 * Called by the main worker after each wakeup, outside any transaction.
 * Returns the milliseconds until it wants to be called again.
 */
long
perfopt_advisor_refresh_tick(void)
{
	TimestampTz now = GetCurrentTimestamp();
	pid_t		pid;

	if (RecoveryInProgress())
	{
		rf_next_round = 0;
		rf_next_optimization = 0;
		return 60000;
	}
	if (!perfopt_enable_auto_optimization)
		rf_next_optimization = 0;
	else if (rf_next_optimization == 0)
		rf_next_optimization = TimestampTzPlusMilliseconds(now,
														   (int64) perfopt_auto_optimization_interval * 1000);
	if (perfopt_advisor_interval <= 0 && rf_next_optimization == 0)
	{
		rf_next_round = 0;
		return 60000;
	}
	if (rf_next_round == 0 && perfopt_advisor_interval > 0)
		rf_next_round = TimestampTzPlusMilliseconds(now, (int64) perfopt_advisor_interval * 1000);

	/* the running advisor, if any, must finish first */
	if (rf_current != NULL)
	{
		if (GetBackgroundWorkerPid(rf_current, &pid) != BGWH_STOPPED)
			return 1000;
		pfree(rf_current);
		rf_current = NULL;
	}

	if (rf_pending == NIL &&
		((rf_next_round != 0 && now >= rf_next_round) ||
		 (rf_next_optimization != 0 && now >= rf_next_optimization)))
	{
		/* an optimization round refreshes the advice too */
		rf_round_optimizes = rf_next_optimization != 0 && now >= rf_next_optimization;
		StartTransactionCommand();
		rf_pending = rf_databases();
		CommitTransactionCommand();
		if (perfopt_advisor_interval > 0)
			rf_next_round = TimestampTzPlusMilliseconds(now, (int64) perfopt_advisor_interval * 1000);
		if (rf_round_optimizes)
			rf_next_optimization = TimestampTzPlusMilliseconds(now,
															   (int64) perfopt_auto_optimization_interval * 1000);
	}
	if (rf_pending != NIL)
	{
		Oid			dboid = linitial_oid(rf_pending);

		rf_pending = list_delete_first(rf_pending);
		rf_launch(dboid);
		return 1000;
	}
	{
		TimestampTz next = rf_next_round;

		if (next == 0 || (rf_next_optimization != 0 && rf_next_optimization < next))
			next = rf_next_optimization;
		return Max(1, (long) ((next - now) / 1000));
	}
}

/* the dynamic worker: advise in one database, then exit */
void
perfopt_advisor_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	Oid			schema;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	perfopt_latency_ignore_self();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	perfopt_worker_session();
	pgstat_report_appname("perfopt advisor");

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	schema = perfopt_extension_schema(true);
	if (OidIsValid(schema) && OidIsValid(perfopt_schema_of_extension("pg_stat_statements", true)))
	{
		bool		optimize = strcmp(MyBgworkerEntry->bgw_extra, "optimize") == 0;

		/*
		 * Called in C, not through SQL: an automatic run is not a caller's
		 * change (not audited), and one with nothing to do writes no
		 * history.  The worker's pinned search_path stands in for the
		 * functions' SET clause.
		 */
		pgstat_report_activity(STATE_RUNNING, optimize ? "perfopt: automatic optimization" :
							   "perfopt: advisor refresh");
		if (optimize)
			perfopt_optimize_automatic();
		else
			perfopt_advise_automatic();
		elog(DEBUG1, "perfopt: advised in database %u", dboid);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
