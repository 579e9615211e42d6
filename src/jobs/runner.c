/*
 * runner.c — the "perfopt job runner": a dynamic background worker in one
 * database that runs the queued jobs of perfopt_jobs one after another,
 * each statement at top level as psql would send it, so CREATE INDEX
 * CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and VACUUM
 * work (their parse trees live in a context that survives the
 * statements' own internal commits; statement.c runs them).
 *
 * Per job: lock_timeout and statement_timeout from the GUCs; a free-disk
 * check before a build; on failure, the INVALID index the build left is
 * dropped; lock timeouts and deadlocks are retried with exponential
 * backoff (waiting on the latch, holding no transaction), other errors
 * fail the job with the error kept, and a cancel (pg_cancel_backend)
 * cancels it.  After a build: ANALYZE and the first verification
 * (verify.c); a create_statistics job runs CREATE STATISTICS (for the
 * table's owner) and ANALYZE (as it) and is verified at once (statistics.c).  At start it fails jobs that a crash or a shutdown left
 * "running", drops INVALID indexes named perfopt_* that no build is
 * working on and what failed builds on partitioned tables left
 * (partitioned.c), and judges the builds whose observation window has
 * passed.
 * It exits when no job is left, telling the main worker when the next
 * verdict is due.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timeout.h"

#include "compat.h"
#include "extschema.h"
#include "jobs.h"
#include "latency.h"
#include "perfopt.h"
#include "procstats.h"
#include "workersession.h"
#include "usercode.h"

/* the first retry waits this long, each next one twice as long */
#define RN_RETRY_BASE_SECONDS 5
/* the runner waits for a due retry at most this long, then leaves */
#define RN_MAX_WAIT_MS (5 * 60 * 1000L)
/* a build needs room for the index and for its sort */
#define RN_DISK_FACTOR 2.0

typedef struct RnJob
{
	int64		id;
	char	   *kind;
	char	   *statement;
	char	   *index_name;		/* schema-qualified, quoted; may be NULL */
	char	   *target_table;	/* schema-qualified, quoted; may be NULL */
	int			attempts;
	double		estimated_size;
	int64		recommendation_id;	/* 0: none */
} RnJob;

static MemoryContext rn_cxt;
static char *rn_schema;			/* quoted schema of the extension */

static char *
rn_text(int row, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(rn_cxt, v) : NULL;
}

/* jobs a crash or shutdown left running fail; perfopt's INVALID indexes go */
static void
rn_recover(void)
{
	List	   *invalid = NIL;
	List	   *builds = NIL;	/* interrupted builds: index, table, ... */
	ListCell   *lc;

	perfopt_job_xact_begin();
	if (SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_jobs SET state = 'failed',"
							 " finished_at = pg_catalog.now(), last_sqlstate = '57P01', runner_pid = NULL,"
							 " last_error = 'interrupted: the server or the job runner stopped during the job'"
							 " WHERE state OPERATOR(pg_catalog.=) 'running'", rn_schema), false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "perfopt: could not update perfopt_jobs");
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("perfopt: %d job(s) interrupted by a crash or a shutdown are marked failed",
						(int) SPI_processed)));

	/*
	 * Builds on partitioned tables that ended badly lately: their cleanup
	 * may have met a lock (partitioned.c), try it again.
	 */
	if (SPI_execute(psprintf("/* perfopt */ SELECT j.index_name, j.target_table FROM %s.perfopt_jobs j"
							 " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(j.target_table)"
							 " WHERE j.kind OPERATOR(pg_catalog.=) 'create_index'"
							 " AND j.state OPERATOR(pg_catalog.=) ANY (ARRAY['failed', 'cancelled'])"
							 " AND j.finished_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 day')"
							 " AND j.index_name IS NOT NULL AND c.relkind OPERATOR(pg_catalog.=) 'p'", rn_schema),
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_jobs");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		MemoryContext spi = MemoryContextSwitchTo(rn_cxt);

		builds = lappend(lappend(builds, rn_text((int) r, 1)), rn_text((int) r, 2));
		MemoryContextSwitchTo(spi);
	}
	if (SPI_execute("/* perfopt */ SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'"
					" OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname)"
					" FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid"
					" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					" WHERE NOT i.indisvalid AND c.relname OPERATOR(pg_catalog.~~) 'perfopt\\_%'"
					" AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p"
					"                 WHERE p.index_relid OPERATOR(pg_catalog.=) i.indexrelid)", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not look for invalid indexes");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		/* the list must outlive SPI_finish() too, not only its strings */
		MemoryContext spi = MemoryContextSwitchTo(rn_cxt);

		invalid = lappend(invalid, rn_text((int) r, 1));
		MemoryContextSwitchTo(spi);
	}
	perfopt_job_xact_end();

	foreach(lc, invalid)
	{
		ereport(LOG, (errmsg("perfopt: dropping the invalid index %s left by an interrupted build",
							 (char *) lfirst(lc))));
		perfopt_job_drop_quietly(lfirst(lc));
	}
	/* a partitioned build may also leave partition indexes not yet attached */
	for (int i = 0; i + 1 < list_length(builds); i += 2)
		perfopt_partitioned_cleanup(list_nth(builds, i), list_nth(builds, i + 1));
}

/* the next job due, now running; false and *wait_ms (-1: none left) otherwise */
static bool
rn_claim(RnJob *job, long *wait_ms)
{
	bool		found = false;

	int			minutes_until_open;
	bool		builds_allowed = perfopt_in_maintenance_window(&minutes_until_open);

	*wait_ms = -1;
	perfopt_job_xact_begin();
	/* builds start only inside perfopt.maintenance_window; maintenance any time */
	if (SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_jobs SET state = 'running',"
							 " started_at = pg_catalog.now(), attempts = attempts OPERATOR(pg_catalog.+) 1,"
							 " runner_pid = pg_catalog.pg_backend_pid()"
							 " WHERE id OPERATOR(pg_catalog.=) (SELECT id FROM %s.perfopt_jobs"
							 "             WHERE state OPERATOR(pg_catalog.=) 'queued'"
							 "             AND not_before OPERATOR(pg_catalog.<=) pg_catalog.now()%s ORDER BY id LIMIT 1"
							 "             FOR UPDATE SKIP LOCKED)"
							 " RETURNING id, kind, statement, index_name, attempts,"
							 "  COALESCE(estimated_size_bytes, 0), COALESCE(recommendation_id, 0), target_table",
							 rn_schema, rn_schema,
							 builds_allowed ? "" : " AND kind OPERATOR(pg_catalog.<>) ALL (ARRAY['create_index', 'reindex'])"),
					false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "perfopt: could not claim a job");
	if (SPI_processed == 1)
	{
		job->id = strtoll(rn_text(0, 1), NULL, 10);
		job->kind = rn_text(0, 2);
		job->statement = rn_text(0, 3);
		job->index_name = rn_text(0, 4);
		job->attempts = atoi(rn_text(0, 5));
		job->estimated_size = strtod(rn_text(0, 6), NULL);
		job->recommendation_id = strtoll(rn_text(0, 7), NULL, 10);
		job->target_table = rn_text(0, 8);
		found = true;
	}
	else if (SPI_execute(psprintf("/* perfopt */ SELECT (EXTRACT(epoch FROM pg_catalog.min(not_before)"
								  " OPERATOR(pg_catalog.-) pg_catalog.now()) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8"
								  " FROM %s.perfopt_jobs WHERE state OPERATOR(pg_catalog.=) 'queued'%s", rn_schema,
								  builds_allowed ? "" : " AND kind OPERATOR(pg_catalog.<>) ALL (ARRAY['create_index', 'reindex'])"),
						 true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *ms = rn_text(0, 1);

		/*
		 * Wait here for a retry that is close; a later one (or a window
		 * that opens later) is picked up by the main worker's periodic
		 * visit, so no worker slot is held for hours.
		 */
		if (ms && strtol(ms, NULL, 10) <= RN_MAX_WAIT_MS)
			*wait_ms = Max(1, strtol(ms, NULL, 10));
	}
	perfopt_job_xact_end();
	return found;
}

static void
rn_finish(RnJob *job, const char *state, const char *error, const char *sqlstate,
		  int retry_in_seconds)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(state);
	values[1] = error ? CStringGetTextDatum(error) : (Datum) 0;
	nulls[1] = error ? ' ' : 'n';
	values[2] = sqlstate ? CStringGetTextDatum(sqlstate) : (Datum) 0;
	nulls[2] = sqlstate ? ' ' : 'n';
	values[3] = Int32GetDatum(retry_in_seconds);

	perfopt_job_xact_begin();
	if (SPI_execute_with_args(psprintf("/* perfopt */ UPDATE %s.perfopt_jobs SET state = $1,"
									   " last_error = COALESCE($2, last_error), last_sqlstate = COALESCE($3, last_sqlstate),"
									   " runner_pid = NULL,"
									   " finished_at = CASE WHEN $1 OPERATOR(pg_catalog.=) 'queued' THEN NULL ELSE pg_catalog.now() END,"
									   " not_before = pg_catalog.now() OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $4)"
									   " WHERE id OPERATOR(pg_catalog.=) " INT64_FORMAT, rn_schema, job->id),
							  4, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "perfopt: could not record the outcome of job " INT64_FORMAT, job->id);
	if (strcmp(state, "succeeded") == 0 && job->recommendation_id > 0 &&
		SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_recommendations SET status = 'applied',"
							 " updated_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) " INT64_FORMAT
							 " AND status OPERATOR(pg_catalog.=) 'new'",
							 rn_schema, job->recommendation_id), false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "perfopt: could not mark recommendation " INT64_FORMAT " applied",
			 job->recommendation_id);
	perfopt_job_xact_end();
}

/* a failed build leaves its index INVALID: drop it, and only then */
static void
rn_drop_if_invalid(const char *index_name)
{
	bool		invalid = false;
	Oid			type = TEXTOID;
	Datum		value = CStringGetTextDatum(index_name);

	perfopt_job_xact_begin();
	if (SPI_execute_with_args("/* perfopt */ SELECT NOT i.indisvalid FROM pg_catalog.pg_index i"
							  " WHERE i.indexrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)",
							  1, &type, &value, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		invalid = strcmp(rn_text(0, 1), "t") == 0;
	perfopt_job_xact_end();
	if (invalid)
		perfopt_job_drop_quietly(index_name);
}

/* the verification's own failures are logged; the job stays succeeded */
static void
rn_verify_after_build(RnJob *job)
{
	PG_TRY();
	{
		perfopt_job_execute(psprintf("ANALYZE %s", job->target_table), NULL);
		perfopt_verify_after_build(rn_schema, job->id, job->recommendation_id, job->index_name);
	}
	PG_CATCH();
	{
		perfopt_job_log_and_abort();
	}
	PG_END_TRY();
}

/* statistics: the verdict at once; its own failures are logged */
static void
rn_verify_statistics(RnJob *job)
{
	PG_TRY();
	{
		perfopt_statistics_verify(rn_schema, job->id, job->recommendation_id, job->index_name,
								  job->target_table);
	}
	PG_CATCH();
	{
		perfopt_job_log_and_abort();
	}
	PG_END_TRY();
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_SESSION);
}

static void
rn_verify_due(void)
{
	PG_TRY();
	{
		perfopt_verify_due(rn_schema);
	}
	PG_CATCH();
	{
		perfopt_job_log_and_abort();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(rn_cxt);
}

/*
 * What the job row says of a failure: perfopt's words and the SQLSTATE,
 * never the server's message (rn_run logs that).
 */
static char *
rn_error_text(ErrorData *edata, bool cancelled)
{
	const char *sqlstate = unpack_sql_state(edata->sqlerrcode);

	if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		return psprintf("a lock was not granted within perfopt.job_lock_timeout (lock timeout, SQLSTATE %s)",
						sqlstate);
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		return psprintf(cancelled ? "cancelled on a user request (pg_cancel_backend, SQLSTATE %s)" :
						"ran longer than perfopt.job_statement_timeout (statement timeout, SQLSTATE %s)",
						sqlstate);
	return psprintf("%s; the server log has the message", perfopt_error_summary(edata->sqlerrcode));
}

static void
rn_run(RnJob *job)
{
	ErrorData  *volatile edata = NULL;
	uint64_t	total;
	uint64_t	avail;
	double		pct;
	bool		partitioned = strcmp(job->kind, "create_index") == 0 && job->target_table &&
		perfopt_partitioned_table(job->target_table);

	if (strcmp(job->kind, "create_index") == 0 && job->estimated_size > 0 &&
		procstats_disk(".", &total, &avail, &pct) &&
		(double) avail < job->estimated_size * RN_DISK_FACTOR)
	{
		rn_finish(job, "failed",
				  psprintf("not enough free disk: the build needs about %.0f MB, %.0f MB are free",
						   job->estimated_size * RN_DISK_FACTOR / (1024 * 1024),
						   (double) avail / (1024 * 1024)),
				  "53100", 0);
		return;
	}

	/*
	 * lock_timeout is armed by the lock manager itself; statement_timeout
	 * only by postgres.c for client statements, so arm it here.
	 */
	SetConfigOption("lock_timeout", psprintf("%d", perfopt_job_lock_timeout), PGC_SUSET, PGC_S_SESSION);
	pgstat_report_activity(STATE_RUNNING, job->statement);
	PG_TRY();
	{
		if (perfopt_job_statement_timeout > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, perfopt_job_statement_timeout);
		if (partitioned)
			perfopt_partitioned_build(job->statement, job->target_table);
		else if (strcmp(job->kind, "create_statistics") == 0 && job->target_table &&
				 job->index_name)
			perfopt_statistics_build(job->statement, job->target_table, job->index_name);
		else if (strcmp(job->kind, "drop_statistics") == 0 && job->target_table &&
				 job->index_name)
			perfopt_statistics_drop(job->index_name, job->target_table);
		else
			perfopt_job_execute(job->statement, NULL);
		disable_timeout(STATEMENT_TIMEOUT, false);
	}
	PG_CATCH();
	{
		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(rn_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(rn_cxt);
	}
	PG_END_TRY();
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_SESSION);
	pgstat_report_activity(STATE_IDLE, NULL);

	if (edata == NULL)
	{
		rn_finish(job, "succeeded", NULL, NULL, 0);
		if (strcmp(job->kind, "create_index") == 0 && job->recommendation_id > 0 &&
			job->index_name && job->target_table)
			rn_verify_after_build(job);
		else if (strcmp(job->kind, "create_statistics") == 0 && job->recommendation_id > 0 &&
				 job->index_name && job->target_table)
			rn_verify_statistics(job);
		return;
	}

	/* no debris: a build that failed leaves an INVALID index behind */
	if (partitioned && job->index_name)
		perfopt_partitioned_cleanup(job->index_name, job->target_table);
	else if (job->index_name &&
			 (strcmp(job->kind, "create_index") == 0 || strcmp(job->kind, "reindex") == 0))
		rn_drop_if_invalid(job->index_name);

	{
		const char *sqlstate = unpack_sql_state(edata->sqlerrcode);
		bool		retry = (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
							 edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED) &&
			job->attempts < perfopt_job_max_attempts;
		bool		cancelled = edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			strstr(edata->message, "statement timeout") == NULL;

		/*
		 * The message may quote row values (an index expression that fails
		 * on a row): it goes to the server log only; the job row, which
		 * pg_monitor reads, keeps the SQLSTATE and perfopt's words for it.
		 */
		ereport(LOG,
				(errmsg("perfopt: job " INT64_FORMAT " (%s) %s: %s", job->id, job->kind,
						retry ? "will be retried" : cancelled ? "was cancelled" : "failed",
						edata->message)));
		rn_finish(job, retry ? "queued" : cancelled ? "cancelled" : "failed",
				  rn_error_text(edata, cancelled), sqlstate,
				  retry ? RN_RETRY_BASE_SECONDS * (1 << Min(job->attempts - 1, 10)) : 0);
		/* a statistics object whose ANALYZE failed for good goes again */
		if (!retry && strcmp(job->kind, "create_statistics") == 0 && job->index_name &&
			job->target_table)
			perfopt_statistics_cleanup(job->index_name, job->target_table);
	}
	FreeErrorData(edata);
}

void
perfopt_job_runner_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	Oid			schema;

	pqsignal(SIGTERM, die);
	pqsignal(SIGINT, StatementCancelHandler);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	perfopt_latency_ignore_self();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/* job statements and bookkeeping: pg_catalog names, read-write, read committed */
	perfopt_worker_session();
	pgstat_report_appname("perfopt job runner");
	rn_cxt = AllocSetContextCreate(TopMemoryContext, "perfopt job runner", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(rn_cxt);
	perfopt_job_set_context(rn_cxt);

	StartTransactionCommand();
	schema = perfopt_extension_schema(true);
	/* an older version of the extension has no job table */
	if (OidIsValid(schema) && OidIsValid(get_relname_relid("perfopt_jobs", schema)))
		rn_schema = MemoryContextStrdup(rn_cxt, quote_identifier(get_namespace_name(schema)));
	CommitTransactionCommand();
	MemoryContextSwitchTo(rn_cxt);
	if (rn_schema == NULL)
		proc_exit(0);

	rn_recover();
	rn_verify_due();
	for (;;)
	{
		RnJob		job;
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		memset(&job, 0, sizeof(job));
		if (rn_claim(&job, &wait_ms))
		{
			rn_run(&job);
			continue;
		}
		if (wait_ms < 0)
			break;
		/* a retry is due later: wait for it without a transaction */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(wait_ms, 60000L), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	/* verdicts due later: the worker brings a runner back when they are */
	PG_TRY();
	{
		perfopt_verify_schedule(rn_schema);
	}
	PG_CATCH();
	{
		perfopt_job_log_and_abort();
	}
	PG_END_TRY();
	proc_exit(0);
}
