/*
 * queue.c — puts jobs in perfopt_jobs and tells the worker, at commit, that
 * this database has some: SQL calls never wait for a job (a concurrent
 * build waits for every older transaction, theirs included: a
 * self-deadlock), they queue and return.
 *
 * Rows are inserted as the extension's owner, in the caller's transaction;
 * a rolled-back call queues nothing and wakes nobody.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "atcommit.h"
#include "extschema.h"
#include "jobs.h"
#include "shmem.h"
#include "spiutil.h"

/* at commit (atcommit.c): list this database, wake the worker */
static void
queue_wake_worker(const void *data)
{
	Latch	   *latch = NULL;
	bool		listed = false;

	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < perfopt_shared->jobs_ndbs; i++)
		listed |= (perfopt_shared->jobs_dbs[i] == MyDatabaseId);
	if (!listed)
	{
		if (perfopt_shared->jobs_ndbs < PERFOPT_JOB_DBS)
			perfopt_shared->jobs_dbs[perfopt_shared->jobs_ndbs++] = MyDatabaseId;
		else
			perfopt_shared->jobs_scan_all = true;
	}
	latch = perfopt_shared->worker_latch;
	LWLockRelease(perfopt_shared->lock);
	if (latch)
		SetLatch(latch);
}

void
perfopt_jobs_wake_at_commit(void)
{
	perfopt_at_commit(queue_wake_worker, NULL, 0);
}

int64
perfopt_job_queue(const char *kind, const char *statement, const char *target_table,
				  const char *index_name, double estimated_size_bytes,
				  int64 recommendation_id, int64 run_id)
{
	char	   *schema = get_namespace_name(perfopt_extension_schema(false));
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	PerfoptSavedUser saved;
	bool		isnull;
	int64		id;

	values[0] = CStringGetTextDatum(kind);
	values[1] = CStringGetTextDatum(statement);
	values[2] = target_table ? CStringGetTextDatum(target_table) : (Datum) 0;
	nulls[2] = target_table ? ' ' : 'n';
	values[3] = index_name ? CStringGetTextDatum(index_name) : (Datum) 0;
	nulls[3] = index_name ? ' ' : 'n';
	values[4] = Int64GetDatum((int64) estimated_size_bytes);
	values[5] = Int64GetDatum(recommendation_id);
	nulls[5] = recommendation_id > 0 ? ' ' : 'n';
	values[6] = Int64GetDatum(run_id);
	nulls[6] = run_id > 0 ? ' ' : 'n';

	perfopt_as_owner_begin(&saved);
	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_jobs"
									   " (kind, statement, target_table, index_name,"
									   "  estimated_size_bytes, recommendation_id, run_id)"
									   " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
									   quote_identifier(schema)),
							  7, types, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "perfopt: could not queue a job");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	perfopt_as_owner_end(&saved);
	perfopt_jobs_wake_at_commit();
	return id;
}
