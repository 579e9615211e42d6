/*
 * launcher.c — owns the registration of perfopt's per-database dynamic
 * background workers: the advisor workers (advisor/refresh.c) and the job
 * runners (jobs/dispatch.c).  Called in the main worker, which polls the
 * handles it gets back and never waits on them.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"

#include "launcher.h"

bool
perfopt_start_db_worker(const char *function, const char *type, Oid dboid,
						const char *extra, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "perfopt");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s for database %u", type, dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", type);
	snprintf(worker.bgw_extra, BGW_EXTRALEN, "%s", extra ? extra : "");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&worker, handle);
}
