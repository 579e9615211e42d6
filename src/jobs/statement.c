/*
 * statement.c — how the job runner runs a statement: each job statement
 * (and each step partitioned.c builds) at top level, as exec_simple_query
 * would, after checking that it is one perfopt queues; its bookkeeping in
 * short SPI transactions of its own; a DROP INDEX CONCURRENTLY whose
 * failure is only logged.  Used by runner.c and partitioned.c, both in
 * the runner's process, and returning to its memory context.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "jobs.h"
#include "perfopt.h"
#include "spiutil.h"

/* the runner's memory context (runner.c) */
static MemoryContext js_cxt;

void
perfopt_job_set_context(MemoryContext cxt)
{
	js_cxt = cxt;
}

/* a transaction of the runner's own bookkeeping, through SPI (jobs.h) */
void
perfopt_job_xact_begin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	perfopt_spi_connect();
}

void
perfopt_job_xact_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(js_cxt);
}

static bool
js_has_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return defGetBoolean(lfirst(lc));
	return false;
}

/*
 * A partitioned index cannot be dropped concurrently (PostgreSQL 15): its
 * DROP takes ACCESS EXCLUSIVE locks on the table tree, for an instant,
 * under the job's lock_timeout.
 */
static bool
js_drops_partitioned_index(DropStmt *drop)
{
	ListCell   *lc;
	bool		partitioned = false;

	foreach(lc, drop->objects)
	{
		Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(lfirst(lc)), NoLock, true);

		if (OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_PARTITIONED_INDEX)
			partitioned = true;
		else if (partitioned || lc != list_head(drop->objects))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a job drops either one partitioned index or plain indexes")));
	}
	return partitioned;
}

/*
 * Only the statements perfopt queues, each a single one, and none that
 * takes a lock the application would wait on: no plain CREATE INDEX or
 * REINDEX, no VACUUM FULL (CREATE and DROP STATISTICS take SHARE UPDATE
 * EXCLUSIVE, which reads and writes do not wait for).
 */
static void
js_check_statement(Node *stmt)
{
	bool		allowed = false;

	if (IsA(stmt, IndexStmt))
		allowed = ((IndexStmt *) stmt)->concurrent;
	else if (IsA(stmt, DropStmt))
	{
		DropStmt   *drop = (DropStmt *) stmt;

		allowed = drop->removeType == OBJECT_INDEX && drop->concurrent;
		if (allowed && js_drops_partitioned_index(drop))
			drop->concurrent = false;
		/* DROP STATISTICS: a SHARE UPDATE EXCLUSIVE lock, like ANALYZE's */
		if (drop->removeType == OBJECT_STATISTIC_EXT)
			allowed = true;
	}
	else if (IsA(stmt, CreateStatsStmt))
		allowed = ((CreateStatsStmt *) stmt)->if_not_exists;
	else if (IsA(stmt, ReindexStmt))
		allowed = js_has_option(((ReindexStmt *) stmt)->params, "concurrently");
	else if (IsA(stmt, VacuumStmt))
		allowed = !js_has_option(((VacuumStmt *) stmt)->options, "full");
	if (!allowed)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a job runs only CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, VACUUM (not FULL), ANALYZE, CREATE STATISTICS IF NOT EXISTS or DROP STATISTICS")));
}

/*
 * Run one statement at top level, as exec_simple_query would: parse trees
 * in a context of their own, a portal run with isTopLevel, and the
 * statement free to commit and start transactions inside.
 */
void
perfopt_job_execute(const char *sql, Node *stmt)
{
	MemoryContext parsecxt = AllocSetContextCreate(TopMemoryContext, "perfopt job statement",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(parsecxt);

	PG_TRY();
	{
		List	   *raw;
		RawStmt    *parsetree;
		List	   *querytrees;
		List	   *plantrees;
		Portal		portal;
		DestReceiver *receiver;
		QueryCompletion qc;
		bool		snapshot_set = false;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		MemoryContextSwitchTo(parsecxt);
		if (stmt != NULL)
		{
			/* a step perfopt built itself (partitioned.c): already checked */
			parsetree = makeNode(RawStmt);
			parsetree->stmt = copyObject(stmt);
		}
		else
		{
			raw = pg_parse_query(sql);
			if (list_length(raw) != 1)
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("a job statement must be a single statement")));
			parsetree = linitial_node(RawStmt, raw);
			js_check_statement(parsetree->stmt);
		}
		if (analyze_requires_snapshot(parsetree))
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			snapshot_set = true;
		}
		querytrees = pg_analyze_and_rewrite_fixedparams(parsetree, sql, NULL, 0, NULL);
		plantrees = pg_plan_queries(querytrees, sql, CURSOR_OPT_PARALLEL_OK, NULL);
		if (snapshot_set)
			PopActiveSnapshot();

		portal = CreatePortal("", true, true);
		portal->visible = false;
		PortalDefineQuery(portal, NULL, sql, CreateCommandTag(parsetree->stmt), plantrees, NULL);
		PortalStart(portal, NULL, 0, InvalidSnapshot);
		receiver = CreateDestReceiver(DestNone);
		(void) perfopt_PortalRun(portal, FETCH_ALL, true, receiver, receiver, &qc);
		receiver->rDestroy(receiver);
		PortalDrop(portal, false);
		CommitTransactionCommand();
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(parsecxt);
	}
	PG_END_TRY();
}

/* after an error this runner only logs: report it, abort, carry on */
void
perfopt_job_log_and_abort(void)
{
	EmitErrorReport();
	FlushErrorState();
	AbortCurrentTransaction();
	MemoryContextSwitchTo(js_cxt);
}

/* DROP INDEX CONCURRENTLY IF EXISTS; a failure is logged, not raised */
void
perfopt_job_drop_quietly(const char *index_name)
{
	/* a partitioned index is dropped with a brief ACCESS EXCLUSIVE lock */
	SetConfigOption("lock_timeout", psprintf("%d", perfopt_job_lock_timeout), PGC_SUSET, PGC_S_SESSION);
	PG_TRY();
	{
		perfopt_job_execute(psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s", index_name), NULL);
	}
	PG_CATCH();
	{
		perfopt_job_log_and_abort();
	}
	PG_END_TRY();
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_SESSION);
}
