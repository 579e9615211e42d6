/*
 * worker.c — the main background worker: the loop that ties the parts
 * together.  Every interval it takes a sample (sampler.c), pushes it to the
 * shared ring (shmem.c), and on a primary writes it to perfopt_samples at
 * most every perfopt.history_interval (history.c).
 *
 * It holds no transaction or snapshot while it waits, reacts to SIGHUP and
 * to its latch (set by perfopt_start/stop_monitoring at commit), and never
 * leaves the loop on an ERROR: a failed sample is logged (rate-limited) and
 * the next one is tried.  A failed history or alert write (a full disk) is
 * tried again one history interval later while the samples go on; failed
 * history writes are counted in perfopt_status()->'history', and a full
 * disk (SQLSTATE 53100) is reported as a WARNING.  Registered to restart
 * after a crash or pg_terminate_backend().
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/timeout.h"

#include "advisor.h"
#include "alerts.h"
#include "control.h"
#include "emergency.h"
#include "history.h"
#include "jobs.h"
#include "latency.h"
#include "perfopt.h"
#include "sampler.h"
#include "workersession.h"
#include "shmem.h"
#include "thresholds.h"
#include "worker.h"

/* an ERROR inside the loop is logged at most this often */
#define WRK_ERROR_LOG_INTERVAL_MS 60000
/* a sample's statements may take this long at most */
#define WRK_STATEMENT_TIMEOUT_MS 10000
/* wake at least this often even when monitoring is off */
#define WRK_IDLE_WAKEUP_MS 60000

static PerfoptSample *wrk_sample_buf;
static TimestampTz wrk_last_error_logged;
static int	wrk_errors_suppressed;
static bool wrk_thresholds_loaded = false;
/* the last failed history and alert writes (0: the last one succeeded) */
static TimestampTz wrk_history_failed_at = 0;
static TimestampTz wrk_alerts_failed_at = 0;
/* history writes failed in a row */
static int	wrk_history_failures = 0;

void
perfopt_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* consistent state: also runs, read-only, on a hot standby */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "perfopt");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "perfopt_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "perfopt worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "perfopt worker");
	RegisterBackgroundWorker(&worker);
}

static void
wrk_detach(int code, Datum arg)
{
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	if (perfopt_shared->worker_pid == MyProcPid)
	{
		perfopt_shared->worker_pid = 0;
		perfopt_shared->worker_latch = NULL;
	}
	LWLockRelease(perfopt_shared->lock);
}

static void
wrk_attach(void)
{
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	perfopt_shared->worker_pid = MyProcPid;
	perfopt_shared->worker_latch = &MyProc->procLatch;
	LWLockRelease(perfopt_shared->lock);
	before_shmem_exit(wrk_detach, (Datum) 0);
}

static void
wrk_report_error(MemoryContext cxt, const char *what)
{
	ErrorData  *edata;
	TimestampTz now = GetCurrentTimestamp();

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();

	if (TimestampDifferenceExceeds(wrk_last_error_logged, now, WRK_ERROR_LOG_INTERVAL_MS))
	{
		bool		disk_full = edata->sqlerrcode == ERRCODE_DISK_FULL;

		/* a full disk needs a DBA; the other failures are mostly transient */
		ereport(disk_full ? WARNING : LOG,
				(errcode(edata->sqlerrcode),
				 errmsg("perfopt: %s failed: %s", what, edata->message),
				 wrk_errors_suppressed > 0 ?
				 errdetail("%d similar failures in the last minute were not logged.",
						   wrk_errors_suppressed) : 0,
				 disk_full ?
				 errhint("Free space on the data directory's filesystem. perfopt keeps sampling and tries again every perfopt.history_interval.") : 0));
		wrk_last_error_logged = now;
		wrk_errors_suppressed = 0;
	}
	else
		wrk_errors_suppressed++;
	FreeErrorData(edata);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* fn in a transaction of its own, its ERROR caught and logged; false on an error */
static bool
wrk_in_transaction(const char *what, void (*fn) (const PerfoptSample *), const PerfoptSample *s)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		enable_timeout_after(STATEMENT_TIMEOUT, WRK_STATEMENT_TIMEOUT_MS);
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, psprintf("perfopt: %s", what));
		fn(s);
		PopActiveSnapshot();
		CommitTransactionCommand();
		disable_timeout(STATEMENT_TIMEOUT, false);
		pgstat_report_activity(STATE_IDLE, NULL);
		ok = true;
	}
	PG_CATCH();
	{
		disable_timeout(STATEMENT_TIMEOUT, false);
		wrk_report_error(cxt, what);
	}
	PG_END_TRY();
	return ok;
}

/* the alerts that changed (alerts.c) */
static void
wrk_write_alerts(const PerfoptSample *s)
{
	perfopt_alerts_persist();
}

/* emergency.c's actions: every one is audited, so only where the extension is */
static void
wrk_emergency(const PerfoptSample *s)
{
	if (perfopt_history_available())
		perfopt_emergency_act(s);
}

static bool
wrk_history_due(TimestampTz now)
{
	TimestampTz last;

	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	last = perfopt_shared->last_persisted_at;
	LWLockRelease(perfopt_shared->lock);
	/* after a failed write (a full disk) the next try waits an interval too */
	if (wrk_history_failed_at != 0 &&
		!TimestampDifferenceExceeds(wrk_history_failed_at, now, perfopt_history_interval * 1000 - 50))
		return false;
	/* a little slack so jitter does not skip every other sample */
	return last == 0 ||
		TimestampDifferenceExceeds(last, now, perfopt_history_interval * 1000 - 50);
}

/* a history write failed at the time of sample s: count it, retry later */
static void
wrk_history_failed(const PerfoptSample *s)
{
	wrk_history_failed_at = s->sampled_at;
	wrk_history_failures++;
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	perfopt_shared->history_write_failures++;
	perfopt_shared->history_failed_at = s->sampled_at;
	LWLockRelease(perfopt_shared->lock);
}

/* alerts are written every sample, but after a failure once an interval */
static bool
wrk_alerts_due(TimestampTz now)
{
	return wrk_alerts_failed_at == 0 ||
		TimestampDifferenceExceeds(wrk_alerts_failed_at, now, perfopt_history_interval * 1000 - 50);
}

/*
 * Take one sample.  With push false it only refreshes the counters that the
 * next sample's rates are computed against.
 */
static void
wrk_sample(bool push, TimestampTz prev_at)
{
	PerfoptSample *s = wrk_sample_buf;
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool persisted = false;
	volatile bool writing = false;

	perfopt_sample_clear(s);
	s->is_standby = RecoveryInProgress();
	s->sampled_at = GetCurrentTimestamp();
	s->interval_seconds = prev_at ? (double) (s->sampled_at - prev_at) / USECS_PER_SEC : 0;
	perfopt_sampler_machine(s);

	PG_TRY();
	{
		/* a background worker arms statement_timeout itself */
		enable_timeout_after(STATEMENT_TIMEOUT, WRK_STATEMENT_TIMEOUT_MS);
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "perfopt: sampling");

		perfopt_sampler_server(s);

		/* the stored thresholds, once (shared memory starts with the defaults) */
		if (!wrk_thresholds_loaded && perfopt_history_available())
		{
			perfopt_thresholds_load();
			wrk_thresholds_loaded = true;
		}
		/* a standby goes on with the replicated open alerts */
		if (s->is_standby && perfopt_history_available())
			perfopt_alerts_load_on_standby();

		if (push && !s->is_standby && wrk_history_due(s->sampled_at) &&
			perfopt_history_available())
		{
			pgstat_report_activity(STATE_RUNNING, "perfopt: writing history");
			writing = true;
			perfopt_history_write(s);
			persisted = true;
		}

		PopActiveSnapshot();
		CommitTransactionCommand();
		disable_timeout(STATEMENT_TIMEOUT, false);
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_CATCH();
	{
		disable_timeout(STATEMENT_TIMEOUT, false);
		wrk_report_error(cxt, writing ? "writing history" : "sampling");
		if (writing)
			wrk_history_failed(s);
		persisted = false;
	}
	PG_END_TRY();

	if (!push)
		return;
	perfopt_ring_push(s);
	/* the statements' latency over the same interval */
	perfopt_latency_tick();
	perfopt_alerts_evaluate(s);
	if (!s->is_standby && perfopt_alerts_to_write() && wrk_alerts_due(s->sampled_at))
	{
		if (wrk_in_transaction("writing alerts", wrk_write_alerts, s))
		{
			perfopt_alerts_persisted();
			wrk_alerts_failed_at = 0;
		}
		else
			wrk_alerts_failed_at = s->sampled_at;
	}
	if (perfopt_enable_emergency_optimization && !s->is_standby)
		(void) wrk_in_transaction("emergency actions", wrk_emergency, s);
	if (persisted)
	{
		LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
		perfopt_shared->last_persisted_at = s->sampled_at;
		LWLockRelease(perfopt_shared->lock);
		if (wrk_history_failures > 0)
			ereport(LOG,
					(errmsg("perfopt: history writes resumed (%d attempt(s) had failed)",
							wrk_history_failures)));
		wrk_history_failed_at = 0;
		wrk_history_failures = 0;
	}
}

static bool
wrk_monitoring_enabled(void)
{
	bool		enabled;

	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	enabled = perfopt_shared->monitoring_enabled;
	LWLockRelease(perfopt_shared->lock);
	return enabled && perfopt_enable_performance_monitoring;
}

void
perfopt_worker_main(Datum main_arg)
{
	TimestampTz last_at = 0;
	bool		was_enabled = false;
	int			seen_guc_interval;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	perfopt_latency_ignore_self();
	BackgroundWorkerInitializeConnection(perfopt_database, NULL, 0);
	/* no ALTER DATABASE/ROLE ... SET (search_path, read-only, isolation) reaches it */
	perfopt_worker_session();
	SetConfigOption("application_name", "perfopt worker", PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname("perfopt worker");
	/* perfopt's own statements must never hold up the application */
	SetConfigOption("lock_timeout", "1000", PGC_SUSET, PGC_S_OVERRIDE);

	wrk_attach();
	wrk_sample_buf = MemoryContextAllocZero(TopMemoryContext,
											PerfoptSampleSize(perfopt_max_databases));
	perfopt_sampler_init();
	seen_guc_interval = perfopt_monitoring_interval;

	ereport(LOG,
			(errmsg("perfopt worker started in database \"%s\"", perfopt_database)));

	for (;;)
	{
		bool		enabled = wrk_monitoring_enabled();
		long		timeout = WRK_IDLE_WAKEUP_MS;
		TimestampTz now = GetCurrentTimestamp();

		if (enabled)
		{
			int			interval_ms = perfopt_effective_interval_ms();
			TimestampTz next = TimestampTzPlusMilliseconds(last_at, interval_ms);

			if (!was_enabled)
			{
				/* (re)start: a baseline, so the first rates span one interval */
				wrk_sample(false, 0);
				last_at = GetCurrentTimestamp();
			}
			else if (now >= next)
			{
				wrk_sample(true, last_at);
				/* keep the cadence unless we fell more than an interval behind */
				last_at = (now - next) < (TimestampTz) interval_ms * 1000 ? next : now;
			}
			next = TimestampTzPlusMilliseconds(last_at, interval_ms);
			now = GetCurrentTimestamp();
			timeout = Max(0, (long) ((next - now + 999) / 1000));
		}
		was_enabled = enabled;
		timeout = Min(timeout, perfopt_advisor_refresh_tick());
		timeout = Min(timeout, perfopt_jobs_dispatch_tick());

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(timeout, WRK_IDLE_WAKEUP_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* a new maintenance window or job limit: look at the queues again */
			LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
			perfopt_shared->jobs_scan_all = true;
			LWLockRelease(perfopt_shared->lock);
			if (perfopt_monitoring_interval != seen_guc_interval)
			{
				seen_guc_interval = perfopt_monitoring_interval;
				perfopt_control_drop_override();
			}
		}
	}
}
