/*
 * dispatch.c — the main worker's side of the job runner: it takes the
 * databases that have queued jobs (told at commit by jobs/queue.c; every
 * database after a start or a crash, so unfinished jobs are cleaned up)
 * and starts one "perfopt job runner" per database, at most
 * perfopt.max_index_builds at once (0 pauses the jobs).
 *
 * A database whose next verification verdict is due (its last runner said
 * when) gets a runner then.  Every ten minutes it visits every database
 * again, for retries due later
 * and builds waiting for the maintenance window (a runner leaves rather
 * than wait more than five minutes), and for jobs a killed runner left.
 * It only launches and polls, holding no transaction while it waits; the
 * runners do the work.  Nothing runs on a standby.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "jobs.h"
#include "launcher.h"
#include "perfopt.h"
#include "shmem.h"

typedef struct DispRunner
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} DispRunner;

static List *disp_todo = NIL;	/* database OIDs waiting for a runner */
static List *disp_running = NIL;	/* DispRunner */
static bool disp_launch_failed_logged = false;
static TimestampTz disp_next_visit = 0;

/* every database is visited this often: retries due later, windows that open */
#define DISP_VISIT_INTERVAL_MS (10 * 60 * 1000)

static List *
disp_all_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && !db->datistemplate)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			result = lappend_oid(result, db->oid);
			MemoryContextSwitchTo(old);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

static bool
disp_is_running(Oid dboid)
{
	ListCell   *lc;

	foreach(lc, disp_running)
		if (((DispRunner *) lfirst(lc))->dboid == dboid)
			return true;
	return false;
}

static bool
disp_launch(Oid dboid)
{
	DispRunner *r;
	MemoryContext old;

	old = MemoryContextSwitchTo(TopMemoryContext);
	r = palloc0(sizeof(DispRunner));
	r->dboid = dboid;
	if (!perfopt_start_db_worker("perfopt_job_runner_main", "perfopt job runner", dboid,
								 NULL, &r->handle))
	{
		MemoryContextSwitchTo(old);
		pfree(r);
		if (!disp_launch_failed_logged)
			ereport(LOG,
					(errmsg("perfopt: could not start a job runner"),
					 errdetail("Queued jobs wait for a free worker slot."),
					 errhint("Raise max_worker_processes.")));
		disp_launch_failed_logged = true;
		return false;
	}
	disp_running = lappend(disp_running, r);
	MemoryContextSwitchTo(old);
	disp_launch_failed_logged = false;
	return true;
}

/*
 * Append to dbs the databases whose next verdict is due, and forget them;
 * the milliseconds until the next one that is not due yet.
 */
static long
disp_due_verdicts(Oid *dbs, int *ndbs)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = 0;
	int			i = 0;

	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	while (i < perfopt_shared->verify_ndbs)
	{
		if (perfopt_shared->verify_due[i] <= now)
		{
			dbs[(*ndbs)++] = perfopt_shared->verify_dbs[i];
			perfopt_shared->verify_ndbs--;
			perfopt_shared->verify_dbs[i] = perfopt_shared->verify_dbs[perfopt_shared->verify_ndbs];
			perfopt_shared->verify_due[i] = perfopt_shared->verify_due[perfopt_shared->verify_ndbs];
			continue;
		}
		if (next == 0 || perfopt_shared->verify_due[i] < next)
			next = perfopt_shared->verify_due[i];
		i++;
	}
	LWLockRelease(perfopt_shared->lock);
	return next == 0 ? 60000 : Max(1, (long) ((next - now) / 1000));
}

long
perfopt_jobs_dispatch_tick(void)
{
	Oid			dbs[2 * PERFOPT_JOB_DBS];
	int			ndbs;
	bool		scan_all;
	long		next_verdict_ms;
	ListCell   *lc;
	MemoryContext old;

	if (RecoveryInProgress())
		return 60000;

	/* forget runners that finished */
	foreach(lc, disp_running)
	{
		DispRunner *r = lfirst(lc);
		pid_t		pid;

		if (GetBackgroundWorkerPid(r->handle, &pid) == BGWH_STOPPED)
		{
			pfree(r->handle);
			pfree(r);
			disp_running = foreach_delete_current(disp_running, lc);
		}
	}

	if (GetCurrentTimestamp() >= disp_next_visit)
	{
		LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
		perfopt_shared->jobs_scan_all |= (disp_next_visit != 0);
		LWLockRelease(perfopt_shared->lock);
		disp_next_visit = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DISP_VISIT_INTERVAL_MS);
	}

	/* the worker loop calls this on every wakeup: look before taking */
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	ndbs = perfopt_shared->jobs_ndbs;
	scan_all = perfopt_shared->jobs_scan_all;
	LWLockRelease(perfopt_shared->lock);
	if (ndbs > 0 || scan_all)
	{
		LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
		ndbs = perfopt_shared->jobs_ndbs;
		memcpy(dbs, perfopt_shared->jobs_dbs, sizeof(Oid) * ndbs);
		scan_all = perfopt_shared->jobs_scan_all;
		perfopt_shared->jobs_ndbs = 0;
		perfopt_shared->jobs_scan_all = false;
		LWLockRelease(perfopt_shared->lock);
	}

	/* databases whose next verdict is due now (told by their last runner) */
	next_verdict_ms = disp_due_verdicts(dbs, &ndbs);

	old = MemoryContextSwitchTo(TopMemoryContext);
	if (scan_all)
		disp_todo = list_concat_unique_oid(disp_todo, disp_all_databases());
	for (int i = 0; i < ndbs; i++)
		disp_todo = list_append_unique_oid(disp_todo, dbs[i]);
	MemoryContextSwitchTo(old);

	/*
	 * One runner per database (never two builds on one table); a database
	 * whose runner still runs keeps its turn, since the runner may be on
	 * its way out before it saw the newest job.
	 */
	foreach(lc, disp_todo)
	{
		Oid			dboid = lfirst_oid(lc);

		if (disp_is_running(dboid))
			continue;
		if (list_length(disp_running) >= perfopt_max_index_builds)
			break;
		if (disp_launch(dboid))
			disp_todo = foreach_delete_current(disp_todo, lc);
	}
	return (disp_running != NIL || disp_todo != NIL) ? 1000 : Min(60000, next_verdict_ms);
}
