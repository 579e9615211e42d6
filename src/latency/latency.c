/*
 * latency.c — statement latency, errors and rollbacks, measured in the
 * server itself.
 *
 * Executor and utility hooks time each statement (perfopt.track: top-level
 * ones, all of them, or none) and record it in a log-linear histogram
 * (latency_hist.c) in the backend's own slot of shared memory, indexed by
 * its backend id.  The query path takes no lock, allocates nothing and
 * does no I/O: a slot has one writer, which bumps the slot's change count
 * around each write (odd while writing) so that readers, who sum all
 * slots, retry a slot they caught half-written.
 *
 * A top-level statement is timed from the statement's start
 * (GetCurrentStatementStartTimestamp: parse and planning included) to its
 * ExecutorEnd or the end of its utility command; a nested one from its own
 * ExecutorStart.  A statement that ends in ERROR never reaches those:
 * emit_log_hook counts it when a client backend reports an ERROR with no
 * perfopt hook frame left on the stack (an error caught by an exception
 * block inside a function is never reported: not a statement error).
 * When log_min_messages hides errors from the hook, the (sub)transaction
 * abort that follows a failed statement counts it instead, for errors
 * raised once execution or a utility command began.  Every transaction
 * abort counts as a rollback.
 *
 * When a backend exits, its counters are folded into per-database
 * "retired" counters under the latency lock, so nothing is lost.  A reset
 * bumps a generation number: a slot of an older generation counts as
 * empty and is cleared by its owner at its next write.  The worker
 * publishes the difference between two readings after each sample: the
 * "last interval".  perfopt's own background processes and statements
 * that start with the comment perfopt puts on its own SQL are not
 * measured; neither are parallel workers (their leader's statement is).
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "compat.h"
#include "jsonutil.h"
#include "latency.h"
#include "perfopt.h"
#include "promtext.h"
#include "shmem.h"

/* nested statements deeper than this are not timed */
#define LAT_MAX_NESTING 64
/* the comment perfopt's own SQL starts with */
#define LAT_OWN_PREFIX "/* perfopt */"

typedef struct LatSlot
{
	uint32		changecount;	/* odd while its backend writes */
	uint32		generation;		/* the reset generation of the counters */
	LatCounters c;
} LatSlot;

typedef struct LatShared
{
	LWLock	   *lock;			/* retired, interval and reset fields */
	pg_atomic_uint32 generation;
	TimestampTz reset_at;
	int			nslots;
	int			maxdbs;
	/* backends that exited since the reset */
	int			nretired;
	LatCounters retired_other;
	/* the last interval, published by the worker */
	bool		have_interval;
	TimestampTz interval_start;
	TimestampTz interval_end;
	LatCounters interval_all;
	LatCounters interval_other;
	int			ninterval;
	/* then LatCounters retired[maxdbs], interval[maxdbs], LatSlot slots[nslots] */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} LatShared;

int			perfopt_track = PERFOPT_TRACK_TOP;

static LatShared *lat = NULL;

static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

/* this backend */
/* executor runs and utility commands under way: 0 between top-level statements */
int			perfopt_statement_nesting = 0;
static bool lat_top_active = false;	/* a top-level statement is running */
static bool lat_error_counted = false;	/* its error was counted already */
static bool lat_ignored = false;
static LatSlot *lat_slot = NULL;
static TimestampTz lat_nested_start[LAT_MAX_NESTING];

static LatCounters *
lat_retired(void)
{
	return (LatCounters *) lat->data;
}

static LatCounters *
lat_interval(void)
{
	return lat_retired() + lat->maxdbs;
}

static LatSlot *
lat_slots(void)
{
	return (LatSlot *) (lat_interval() + lat->maxdbs);
}

static Size
perfopt_latency_shmem_size(void)
{
	Size		size = offsetof(LatShared, data);

	size = add_size(size, mul_size(2 * perfopt_max_databases, sizeof(LatCounters)));
	size = add_size(size, mul_size(MaxBackends, sizeof(LatSlot)));
	return size;
}

static void
perfopt_latency_shmem_init(bool created, LWLock *lock)
{
	bool		found;

	lat = ShmemInitStruct("perfopt latency", perfopt_latency_shmem_size(), &found);
	if (!found)
	{
		memset(lat, 0, perfopt_latency_shmem_size());
		lat->lock = lock;
		pg_atomic_init_u32(&lat->generation, 1);
		lat->reset_at = GetCurrentTimestamp();
		lat->nslots = MaxBackends;
		lat->maxdbs = perfopt_max_databases;
	}
}

static const PerfoptShmemPart lat_shmem_part = {
	perfopt_latency_shmem_size, perfopt_latency_shmem_init, true
};

void
perfopt_latency_shmem_register(void)
{
	perfopt_shmem_register(&lat_shmem_part);
}

static void
lat_zero(LatCounters *c, Oid dboid)
{
	c->dboid = dboid;
	c->errors = 0;
	c->rollbacks = 0;
	lh_reset(&c->hist);
}

static void
lat_add(LatCounters *dst, const LatCounters *src)
{
	dst->errors += src->errors;
	dst->rollbacks += src->rollbacks;
	lh_add(&dst->hist, &src->hist);
}

/* ---- the writer: this backend's slot ---- */

static void lat_fold_at_exit(int code, Datum arg);

static inline void
lat_begin_write(LatSlot *slot)
{
	uint32		generation = pg_atomic_read_u32(&lat->generation);

	slot->changecount++;
	pg_write_barrier();
	if (slot->generation != generation)
	{
		/* a reset happened: this slot's counters belong to the past */
		lat_zero(&slot->c, slot->c.dboid);
		slot->generation = generation;
	}
}

static inline void
lat_end_write(LatSlot *slot)
{
	pg_write_barrier();
	slot->changecount++;
}

/* the slot, claimed at the first use; NULL when this backend is not measured */
static LatSlot *
lat_my_slot(void)
{
	if (lat_slot != NULL)
		return lat_slot;
	if (lat == NULL || lat_ignored || IsParallelWorker() || proc_exit_inprogress ||
		PERFOPT_MY_BACKEND_INDEX < 0 || PERFOPT_MY_BACKEND_INDEX >= lat->nslots ||
		!OidIsValid(MyDatabaseId))
		return NULL;
	lat_slot = &lat_slots()[PERFOPT_MY_BACKEND_INDEX];
	lat_begin_write(lat_slot);
	/* whatever a previous owner could not fold is not ours */
	lat_zero(&lat_slot->c, MyDatabaseId);
	lat_end_write(lat_slot);
	on_shmem_exit(lat_fold_at_exit, (Datum) 0);
	return lat_slot;
}

static bool
lat_measured(int nesting, const char *source)
{
	if (perfopt_track == PERFOPT_TRACK_NONE || lat_ignored)
		return false;
	if (nesting > 0 && perfopt_track != PERFOPT_TRACK_ALL)
		return false;
	if (source != NULL && strncmp(source, LAT_OWN_PREFIX, strlen(LAT_OWN_PREFIX)) == 0)
		return false;
	return true;
}

static void
lat_record(TimestampTz start)
{
	LatSlot    *slot = lat_my_slot();
	TimestampTz now = GetCurrentTimestamp();

	if (slot == NULL || start == 0)
		return;
	lat_begin_write(slot);
	lh_record(&slot->c.hist, now > start ? (uint64_t) (now - start) * 1000 : 0);
	lat_end_write(slot);
}

static TimestampTz
lat_start_of(int nesting)
{
	if (nesting == 0)
		return GetCurrentStatementStartTimestamp();
	return nesting < LAT_MAX_NESTING ? lat_nested_start[nesting] : 0;
}

/* ---- hooks ---- */

static void
lat_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (perfopt_statement_nesting == 0)
	{
		lat_top_active = true;
		lat_error_counted = false;
	}
	else if (perfopt_statement_nesting < LAT_MAX_NESTING && perfopt_track == PERFOPT_TRACK_ALL)
		lat_nested_start[perfopt_statement_nesting] = GetCurrentTimestamp();
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
lat_ExecutorRun(PERFOPT_EXECUTOR_RUN_PARAMS)
{
	perfopt_statement_nesting++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(PERFOPT_EXECUTOR_RUN_ARGS);
		else
			standard_ExecutorRun(PERFOPT_EXECUTOR_RUN_ARGS);
	}
	PG_FINALLY();
	{
		perfopt_statement_nesting--;
	}
	PG_END_TRY();
}

static void
lat_ExecutorFinish(QueryDesc *queryDesc)
{
	perfopt_statement_nesting++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		perfopt_statement_nesting--;
	}
	PG_END_TRY();
}

static void
lat_ExecutorEnd(QueryDesc *queryDesc)
{
	if (lat_measured(perfopt_statement_nesting, queryDesc->sourceText) &&
		!(queryDesc->estate && (queryDesc->estate->es_top_eflags & EXEC_FLAG_EXPLAIN_ONLY)))
		lat_record(lat_start_of(perfopt_statement_nesting));
	if (perfopt_statement_nesting == 0)
		lat_top_active = false;
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
lat_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	int			nesting = perfopt_statement_nesting;
	volatile TimestampTz start = 0;

	if (nesting == 0)
	{
		lat_top_active = true;
		lat_error_counted = false;
	}
	else if (perfopt_track == PERFOPT_TRACK_ALL)
		start = GetCurrentTimestamp();

	perfopt_statement_nesting++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		/* the abort that follows counts the error (lat_top_active stays) */
		perfopt_statement_nesting--;
		PG_RE_THROW();
	}
	PG_END_TRY();
	perfopt_statement_nesting--;

	if (lat_measured(nesting, queryString))
		lat_record(nesting == 0 ? GetCurrentStatementStartTimestamp() : start);
	if (nesting == 0)
		lat_top_active = false;
}

static void
lat_count(bool error, bool rollback)
{
	LatSlot    *slot;

	if (!lat_measured(0, NULL) || (slot = lat_my_slot()) == NULL)
		return;
	lat_begin_write(slot);
	slot->c.errors += error ? 1 : 0;
	slot->c.rollbacks += rollback ? 1 : 0;
	lat_end_write(slot);
}

/* a client's statement failed: its ERROR is reported with no hook frame left */
static void
lat_emit_log(ErrorData *edata)
{
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
	if (edata->elevel == ERROR && perfopt_statement_nesting == 0 && MyBackendType == B_BACKEND &&
		!lat_error_counted)
	{
		lat_count(true, false);
		lat_error_counted = true;
		lat_top_active = false;
	}
}

/* the abort after a failed statement, when the hook did not see its error */
static void
lat_count_abort(bool rollback)
{
	bool		error = lat_top_active && perfopt_statement_nesting == 0 && !lat_error_counted;

	if (error || rollback)
		lat_top_active = false;
	lat_error_counted = false;
	if (error || rollback)
		lat_count(error, rollback);
}

static void
lat_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT)
		lat_count_abort(true);
}

static void
lat_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		lat_count_abort(false);
}

void
perfopt_latency_install_hooks(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = lat_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = lat_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = lat_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = lat_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = lat_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = lat_emit_log;
	/* backends inherit these from the postmaster */
	RegisterXactCallback(lat_xact_callback, NULL);
	RegisterSubXactCallback(lat_subxact_callback, NULL);
}

void
perfopt_latency_ignore_self(void)
{
	lat_ignored = true;
}

/* ---- readers ---- */

/* the counters for dboid in r: its own row, or "other" when they are full */
static LatCounters *
lat_row(LatReading *r, Oid dboid, int maxdbs)
{
	for (int i = 0; i < r->ndbs; i++)
		if (r->dbs[i].dboid == dboid)
			return &r->dbs[i];
	if (!OidIsValid(dboid) || r->ndbs >= maxdbs)
		return &r->other;
	lat_zero(&r->dbs[r->ndbs], dboid);
	return &r->dbs[r->ndbs++];
}

static void
lat_reading_init(LatReading *r, int maxdbs)
{
	memset(r, 0, sizeof(LatReading));
	/*
	 * not zeroed: a row is set when it is taken (lat_row, or copied), and
	 * only the first ndbs are read.  Zeroing maxdbs histograms (256 kB at
	 * the default) faulted in every page on every call: most of the time
	 * of perfopt_status().
	 */
	r->dbs = palloc(sizeof(LatCounters) * Max(maxdbs, 1));
	lat_zero(&r->all, InvalidOid);
	lat_zero(&r->other, InvalidOid);
}

static void
lat_require(void)
{
	if (lat == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("perfopt must be loaded via shared_preload_libraries"),
				 errhint("Add perfopt to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* a consistent copy of one slot; false when it holds nothing of this generation */
static bool
lat_copy_slot(volatile LatSlot *slot, LatSlot *copy, uint32 generation)
{
	for (;;)
	{
		uint32		before = slot->changecount;
		uint32		after;

		pg_read_barrier();
		memcpy(copy, (const void *) slot, sizeof(LatSlot));
		pg_read_barrier();
		after = slot->changecount;
		if (before == after && (before & 1) == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	return copy->generation == generation && OidIsValid(copy->c.dboid);
}

void
perfopt_latency_read_total(LatReading *r)
{
	LatSlot    *copy = palloc(sizeof(LatSlot));
	uint32		generation;

	lat_require();
	lat_reading_init(r, lat->maxdbs);
	/* shared: an exiting backend folds its slot under the lock exclusively */
	LWLockAcquire(lat->lock, LW_SHARED);
	generation = pg_atomic_read_u32(&lat->generation);
	r->start = lat->reset_at;
	for (int i = 0; i < lat->nretired; i++)
		lat_add(lat_row(r, lat_retired()[i].dboid, lat->maxdbs), &lat_retired()[i]);
	lat_add(&r->other, &lat->retired_other);
	for (int i = 0; i < lat->nslots; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (lat_copy_slot(&lat_slots()[i], copy, generation))
			lat_add(lat_row(r, copy->c.dboid, lat->maxdbs), &copy->c);
	}
	LWLockRelease(lat->lock);
	r->end = GetCurrentTimestamp();
	for (int i = 0; i < r->ndbs; i++)
		lat_add(&r->all, &r->dbs[i]);
	lat_add(&r->all, &r->other);
	pfree(copy);
}

bool
perfopt_latency_read_interval(LatReading *r)
{
	bool		have;

	lat_require();
	lat_reading_init(r, lat->maxdbs);
	LWLockAcquire(lat->lock, LW_SHARED);
	have = lat->have_interval;
	r->start = lat->interval_start;
	r->end = lat->interval_end;
	r->all = lat->interval_all;
	r->other = lat->interval_other;
	r->ndbs = lat->ninterval;
	memcpy(r->dbs, lat_interval(), sizeof(LatCounters) * lat->ninterval);
	LWLockRelease(lat->lock);
	return have;
}

/* before_shmem_exit would run before the transaction's abort: fold after it */
static void
lat_fold_at_exit(int code, Datum arg)
{
	LatSlot    *slot = lat_slot;
	LatCounters *row = NULL;

	if (slot == NULL || lat == NULL)
		return;
	lat_slot = NULL;
	lat_ignored = true;
	LWLockAcquire(lat->lock, LW_EXCLUSIVE);
	if (slot->generation == pg_atomic_read_u32(&lat->generation))
	{
		for (int i = 0; i < lat->nretired && row == NULL; i++)
			if (lat_retired()[i].dboid == slot->c.dboid)
				row = &lat_retired()[i];
		if (row == NULL && lat->nretired < lat->maxdbs)
		{
			row = &lat_retired()[lat->nretired++];
			lat_zero(row, slot->c.dboid);
		}
		lat_add(row ? row : &lat->retired_other, &slot->c);
	}
	slot->changecount++;
	pg_write_barrier();
	lat_zero(&slot->c, InvalidOid);
	pg_write_barrier();
	slot->changecount++;
	LWLockRelease(lat->lock);
}

void
perfopt_latency_reset(void)
{
	lat_require();
	LWLockAcquire(lat->lock, LW_EXCLUSIVE);
	pg_atomic_fetch_add_u32(&lat->generation, 1);
	lat->reset_at = GetCurrentTimestamp();
	lat->nretired = 0;
	lat_zero(&lat->retired_other, InvalidOid);
	LWLockRelease(lat->lock);
}

/* ---- the worker's interval ---- */

static MemoryContext lat_tick_cxt = NULL;
static LatReading *lat_prev = NULL;
static uint32 lat_prev_generation = 0;

static void
lat_sub(LatCounters *dst, const LatCounters *a, const LatCounters *b)
{
	dst->dboid = a->dboid;
	dst->errors = a->errors > b->errors ? a->errors - b->errors : 0;
	dst->rollbacks = a->rollbacks > b->rollbacks ? a->rollbacks - b->rollbacks : 0;
	lh_sub(&dst->hist, &a->hist, &b->hist);
}

void
perfopt_latency_tick(void)
{
	MemoryContext cxt;
	MemoryContext old;
	LatReading *cur;
	LatCounters *zero;
	uint32		generation;

	if (lat == NULL)
		return;
	cxt = AllocSetContextCreate(TopMemoryContext, "perfopt latency interval", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	cur = palloc(sizeof(LatReading));
	zero = palloc(sizeof(LatCounters));
	lat_zero(zero, InvalidOid);
	generation = pg_atomic_read_u32(&lat->generation);
	perfopt_latency_read_total(cur);

	/* after a reset (or at the first call) the interval starts at the reset */
	if (lat_prev == NULL || generation != lat_prev_generation)
	{
		LatReading *empty = palloc(sizeof(LatReading));

		lat_reading_init(empty, lat->maxdbs);
		empty->end = cur->start;
		lat_prev = empty;
	}

	LWLockAcquire(lat->lock, LW_EXCLUSIVE);
	lat->interval_start = Max(lat_prev->end, cur->start);
	lat->interval_end = cur->end;
	lat_sub(&lat->interval_all, &cur->all, &lat_prev->all);
	lat_sub(&lat->interval_other, &cur->other, &lat_prev->other);
	lat->ninterval = 0;
	for (int i = 0; i < cur->ndbs; i++)
	{
		const LatCounters *before = zero;

		for (int k = 0; k < lat_prev->ndbs; k++)
			if (lat_prev->dbs[k].dboid == cur->dbs[i].dboid)
				before = &lat_prev->dbs[k];
		lat_sub(&lat_interval()[lat->ninterval++], &cur->dbs[i], before);
	}
	lat->have_interval = true;
	LWLockRelease(lat->lock);

	MemoryContextSwitchTo(old);
	if (lat_tick_cxt)
		MemoryContextDelete(lat_tick_cxt);
	lat_tick_cxt = cxt;
	lat_prev = cur;
	lat_prev_generation = generation;
}

/* ---- documents ---- */

static void
lat_json_ms(StringInfo buf, const char *key, uint64 ns, bool present)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	if (present)
		perfopt_json_number(buf, (double) ns / 1e6);
	else
		appendStringInfoString(buf, "null");
}

static void
lat_json_percent(StringInfo buf, const char *key, double part, double whole)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	if (whole > 0)
		perfopt_json_number(buf, 100.0 * part / whole);
	else
		appendStringInfoString(buf, "null");
}

/*
 * The largest value: exact since a reset; over an interval the histogram
 * only knows the upper bound of the highest bucket with a value in it.
 */
static uint64
lat_max_ns(const LatencyHist *h)
{
	for (int i = LH_NBUCKETS - 1; i >= 0; i--)
		if (h->buckets[i] > 0)
			return Min(h->max_ns, lh_bucket_upper(i));
	return 0;
}

void
perfopt_latency_json_stats(StringInfo buf, const LatCounters *c, double seconds)
{
	const LatencyHist *h = &c->hist;
	uint64		statements = h->count + c->errors;
	bool		some = h->count > 0;

	appendStringInfo(buf, "{\"statements\": " UINT64_FORMAT ", \"count\": " UINT64_FORMAT
					 ", \"errors\": " UINT64_FORMAT ", \"rollbacks\": " UINT64_FORMAT
					 ", \"throughput_per_second\": ",
					 statements, h->count, c->errors, c->rollbacks);
	if (seconds > 0)
		perfopt_json_number(buf, statements / seconds);
	else
		appendStringInfoString(buf, "null");
	lat_json_ms(buf, "mean_ms", some ? h->sum_ns / h->count : 0, some);
	lat_json_ms(buf, "p50_ms", lh_percentile(h, 0.50), some);
	lat_json_ms(buf, "p90_ms", lh_percentile(h, 0.90), some);
	lat_json_ms(buf, "p95_ms", lh_percentile(h, 0.95), some);
	lat_json_ms(buf, "p99_ms", lh_percentile(h, 0.99), some);
	lat_json_ms(buf, "max_ms", lat_max_ns(h), some);
	lat_json_percent(buf, "error_rate_percent", c->errors, statements);
	lat_json_percent(buf, "under_100ms_percent", lh_count_below(h, UINT64CONST(100000000)), h->count);
	lat_json_percent(buf, "under_200ms_percent", lh_count_below(h, UINT64CONST(200000000)), h->count);
	appendStringInfoChar(buf, '}');
}

static const char *
lat_datname(Oid dboid)
{
	char	   *name = OidIsValid(dboid) ? get_database_name(dboid) : NULL;

	return name ? name : "(other)";
}

void
perfopt_latency_json_reading(StringInfo buf, const LatReading *r)
{
	double		seconds = (double) (r->end - r->start) / USECS_PER_SEC;

	appendStringInfoString(buf, "{\"since\": ");
	perfopt_json_timestamp(buf, r->start);
	appendStringInfoString(buf, ", \"until\": ");
	perfopt_json_timestamp(buf, r->end);
	appendStringInfoString(buf, ", \"seconds\": ");
	perfopt_json_number(buf, seconds);
	appendStringInfoString(buf, ", \"overall\": ");
	perfopt_latency_json_stats(buf, &r->all, seconds);
	appendStringInfoString(buf, ", \"databases\": [");
	for (int i = 0; i <= r->ndbs; i++)
	{
		const LatCounters *c = i < r->ndbs ? &r->dbs[i] : &r->other;

		/* the "other" row only when some database did not get a row */
		if (i == r->ndbs && c->hist.count == 0 && c->errors == 0 && c->rollbacks == 0)
			break;
		if (i > 0)
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, "{\"datname\": ");
		escape_json(buf, lat_datname(c->dboid));
		appendStringInfoString(buf, ", \"stats\": ");
		perfopt_latency_json_stats(buf, c, seconds);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoString(buf, "]}");
}

static void
lat_prom_label(StringInfo buf, Oid dboid)
{
	char		tmp[2 * NAMEDATALEN + 16];

	prom_escape_label_value(lat_datname(dboid), tmp, sizeof(tmp));
	appendStringInfo(buf, "datname=\"%s\"", tmp);
}

static void
lat_prom_rows(StringInfo buf, const LatReading *r, int what)
{
	for (int i = 0; i <= r->ndbs; i++)
	{
		const LatCounters *c = i < r->ndbs ? &r->dbs[i] : &r->other;

		if (i == r->ndbs && c->hist.count == 0 && c->errors == 0 && c->rollbacks == 0)
			break;
		if (what == 0)
		{
			uint64_t	cumulative[LH_PROM_NBOUNDS];
			char		le[32];

			lh_prom_cumulative(&c->hist, cumulative);
			for (int b = 0; b < LH_PROM_NBOUNDS; b++)
			{
				lh_format_seconds(lh_prom_bounds_ns[b], le, sizeof(le));
				appendStringInfoString(buf, "perfopt_statement_duration_seconds_bucket{");
				lat_prom_label(buf, c->dboid);
				appendStringInfo(buf, ",le=\"%s\"} " UINT64_FORMAT "\n", le, (uint64) cumulative[b]);
			}
			appendStringInfoString(buf, "perfopt_statement_duration_seconds_bucket{");
			lat_prom_label(buf, c->dboid);
			appendStringInfo(buf, ",le=\"+Inf\"} " UINT64_FORMAT "\n", (uint64) c->hist.count);
			appendStringInfoString(buf, "perfopt_statement_duration_seconds_sum{");
			lat_prom_label(buf, c->dboid);
			appendStringInfo(buf, "} %.9f\n", (double) c->hist.sum_ns / 1e9);
			appendStringInfoString(buf, "perfopt_statement_duration_seconds_count{");
			lat_prom_label(buf, c->dboid);
			appendStringInfo(buf, "} " UINT64_FORMAT "\n", (uint64) c->hist.count);
		}
		else
		{
			appendStringInfoString(buf, what == 1 ? "perfopt_statement_errors_total{"
								   : "perfopt_transaction_rollbacks_total{");
			lat_prom_label(buf, c->dboid);
			appendStringInfo(buf, "} " UINT64_FORMAT "\n", what == 1 ? c->errors : c->rollbacks);
		}
	}
}

void
perfopt_latency_prometheus(StringInfo buf)
{
	LatReading	r;

	perfopt_latency_read_total(&r);
	appendStringInfoString(buf,
						   "# HELP perfopt_statement_duration_seconds Duration of completed statements (perfopt.track) since perfopt_reset_api_metrics(), per database.\n"
						   "# TYPE perfopt_statement_duration_seconds histogram\n");
	lat_prom_rows(buf, &r, 0);
	appendStringInfoString(buf,
						   "# HELP perfopt_statement_errors_total Statements that ended in ERROR since perfopt_reset_api_metrics(), per database.\n"
						   "# TYPE perfopt_statement_errors_total counter\n");
	lat_prom_rows(buf, &r, 1);
	appendStringInfoString(buf,
						   "# HELP perfopt_transaction_rollbacks_total Transactions that ended in a rollback since perfopt_reset_api_metrics(), per database.\n"
						   "# TYPE perfopt_transaction_rollbacks_total counter\n");
	lat_prom_rows(buf, &r, 2);
}
