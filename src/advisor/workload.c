/*
 * workload.c — the advisor's workload: statements of this database from
 * pg_stat_statements, repaired, parsed, analyzed (as PREPARE would, with
 * parameter types inferred) and planned once for their baseline cost.
 *
 * Each step runs in its own subtransaction through usercode.c: analysis
 * as the role that ran the statement (its names, its privileges, its row
 * security; parse analysis runs nobody's code), planning as the role
 * planrole.c chose (planning runs the code of the owners of what the
 * statement touches).  Every GUC that code changes is rolled back after
 * the step.  A statement gets perfopt.advisor_statement_timeout of
 * analysis and planning per run; past it, it is skipped.
 *
 * A statement that cannot be analyzed gets a skip reason; nothing here
 * errors out of the whole run.  Called inside perfopt_advise()'s
 * transaction; locks taken while analyzing (AccessShareLock) are kept, as
 * the planner needs them, until that transaction ends.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "catalog/namespace.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "advisor.h"
#include "extschema.h"
#include "perfopt.h"
#include "replica.h"
#include "searchpath.h"
#include "shmem.h"
#include "spiutil.h"
#include "sqlrepair.h"
#include "usercode.h"
#include "valuestore.h"

static Query *wl_analyze(AdvStatement *st);

/* statements of this database from pg_stat_statements: filter, order, limit */
static List *
wl_load(const char *filter_and_order, int limit)
{
	Oid			pgss_schema = perfopt_schema_of_extension("pg_stat_statements", true);
	StringInfoData sql;
	Oid			types[3] = {OIDOID, FLOAT8OID, INT4OID};
	Datum		values[3];
	List	   *result = NIL;
	MemoryContext outer = CurrentMemoryContext;

	if (!OidIsValid(pgss_schema))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_stat_statements is not installed in this database"),
				 errhint("CREATE EXTENSION pg_stat_statements;")));

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "/* perfopt */ SELECT userid, queryid, query, calls::pg_catalog.float8,"
					 " total_exec_time, mean_exec_time, rows::pg_catalog.float8"
					 " FROM %s.pg_stat_statements(true)"
					 " WHERE dbid OPERATOR(pg_catalog.=) $1 AND toplevel AND calls OPERATOR(pg_catalog.>) 0"
					 " AND query IS NOT NULL AND query OPERATOR(pg_catalog.!~~) '%%/* perfopt */%%' %s LIMIT $3",
					 quote_identifier(get_namespace_name(pgss_schema)), filter_and_order);
	values[0] = ObjectIdGetDatum(MyDatabaseId);
	values[1] = Float8GetDatum((double) perfopt_slow_query_ms);
	values[2] = Int32GetDatum(limit);

	perfopt_spi_connect();
	if (SPI_execute_with_args(sql.data, 3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read pg_stat_statements");

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext spicxt = MemoryContextSwitchTo(outer);
		AdvStatement *st = palloc0(sizeof(AdvStatement));

		st->userid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		st->queryid = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		st->text = SPI_getvalue(tup, desc, 3);
		st->calls = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		st->total_time_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
		st->mean_time_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
		st->rows = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &isnull));
		result = lappend(result, st);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	return result;
}

/*
 * The workload: slow statements first (mean time at least
 * perfopt.slow_query_ms), then by total time; perfopt's own are left out.
 */
List *
adv_workload_load(void)
{
	/* the value samples forget what pg_stat_statements forgot */
	perfopt_value_samples_sync();
	/* and the standbys' statements of perfopt.advisor_standbys join them */
	return adv_replica_merge(wl_load("ORDER BY mean_exec_time OPERATOR(pg_catalog.>=) $2 DESC, total_exec_time DESC",
									 perfopt_advisor_max_statements));
}

static void
wl_prepare_write(AdvStatement *st)
{
	List	   *raw = pg_parse_query(st->parsed_text);
	RawStmt    *rs;

	if (list_length(raw) != 1)
		return;
	rs = linitial_node(RawStmt, raw);
	if (IsA(rs->stmt, CopyStmt))
	{
		CopyStmt   *copy = (CopyStmt *) rs->stmt;

		if (copy->is_from && copy->relation)
		{
			st->write_relid = RangeVarGetRelid(copy->relation, AccessShareLock, true);
			st->write_cmd = CMD_INSERT;
		}
	}
	else
	{
		Query	   *query = wl_analyze(st);
		ListCell   *lc;

		if (query->resultRelation == 0 ||
			(query->commandType != CMD_INSERT && query->commandType != CMD_UPDATE &&
			 query->commandType != CMD_DELETE))
			return;
		st->write_relid = rt_fetch(query->resultRelation, query->rtable)->relid;
		st->write_cmd = query->commandType;
		if (query->commandType == CMD_UPDATE)
			foreach(lc, query->targetList)
			{
				TargetEntry *tle = lfirst(lc);

				if (!tle->resjunk)
					st->set_cols = bms_add_member(st->set_cols, tle->resno);
			}
	}
}

/*
 * The statements that write rows (INSERT, UPDATE, DELETE, COPY FROM), from
 * the same pg_stat_statements window as the workload, so the write cost of
 * an index is weighed against its benefit over the same time.
 */
List *
adv_writes_load(void)
{
	List	   *writes = wl_load("AND rows OPERATOR(pg_catalog.>) 0"
								 " AND query OPERATOR(pg_catalog.~*) '^\\s*(insert|update|delete|copy)\\M'"
								 " ORDER BY rows DESC", perfopt_advisor_max_statements);
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, writes)
	{
		AdvStatement *st = lfirst(lc);
		size_t		size = SQLREPAIR_OUTSIZE(strlen(st->text));

		CHECK_FOR_INTERRUPTS();
		if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(st->userid)))
			continue;
		st->parsed_text = palloc(size);
		if (sql_repair_normalized(st->text, st->parsed_text, size) < 0)
			continue;
		if (adv_analyze_as_statement_role(st, wl_prepare_write) && OidIsValid(st->write_relid))
			result = lappend(result, st);
	}
	return result;
}

/* why a statement is not one the advisor can help, or NULL */
static const char *
wl_unsupported(Query *query)
{
	if (query->commandType == CMD_UTILITY)
		return "utility statement";
	if (query->commandType == CMD_SELECT)
		return NULL;
	if ((query->commandType == CMD_UPDATE || query->commandType == CMD_DELETE) &&
		query->jointree && query->jointree->quals)
		return NULL;
	if (query->commandType == CMD_UPDATE || query->commandType == CMD_DELETE)
		return "UPDATE or DELETE without a WHERE clause";
	return "INSERT or MERGE: no index can speed it up";
}

/* types the $n start with, for a second analysis (adv_value_literal_types) */
static Oid *wl_seed_types = NULL;
static int	wl_nseed = 0;

/* parse, analyze and rewrite the repaired text; the one Query, or an error */
static Query *
wl_analyze(AdvStatement *st)
{
	List	   *raw = pg_parse_query(st->parsed_text);
	Oid		   *param_types = NULL;
	int			nparams = 0;
	List	   *queries;
	Query	   *query;

	if (wl_seed_types != NULL)
	{
		/* (varparams may enlarge the array: a copy of our own) */
		nparams = wl_nseed;
		param_types = memcpy(palloc(sizeof(Oid) * nparams), wl_seed_types, sizeof(Oid) * nparams);
	}
	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("not a single statement")));
	queries = pg_analyze_and_rewrite_varparams(linitial_node(RawStmt, raw),
											   st->parsed_text, &param_types,
											   &nparams, NULL);
	if (list_length(queries) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("rewritten into %d statements", list_length(queries))));
	query = linitial_node(Query, queries);
	for (int i = 0; i < nparams; i++)
		if (param_types[i] == UNKNOWNOID)
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine data type of parameter $%d", i + 1)));
	/* our planning must not show up in pg_stat_statements */
	query->queryId = UINT64CONST(0);
	st->nparams = nparams;
	st->param_types = param_types;
	return query;
}

/*
 * The statement budget: a timeout of our own that cancels the step running
 * when a statement's time is up.  The flag tells that cancel from the
 * caller's (pg_cancel_backend, its statement_timeout), which is thrown on.
 * Code that catches the cancel (plpgsql can: WHEN query_canceled) is
 * cancelled again every WL_BUDGET_REPEAT_MS; code that still runs after
 * WL_BUDGET_MAX_REPEATS of them ends the process, as SIGTERM would: a
 * hostile function must not hold a perfopt process forever.
 */
#define WL_BUDGET_REPEAT_MS 100
#define WL_BUDGET_MAX_REPEATS 100
static TimeoutId wl_budget_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t wl_budget_expired = false;
static volatile int wl_budget_fired = 0;

static void
wl_budget_handler(void)
{
	wl_budget_expired = true;
	if (++wl_budget_fired > WL_BUDGET_MAX_REPEATS)
		ProcDiePending = true;
	else
		QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static int64 wl_budget_queryid;
static Oid	wl_budget_userid;

/*
 * At exit, if our budget ended the process: say why, and shun the
 * statement, so that the next run (in any process) skips it instead of
 * ending again.
 */
static void
wl_budget_exit_report(int code, Datum arg)
{
	int			slot;

	if (wl_budget_fired <= WL_BUDGET_MAX_REPEATS)
		return;
	ereport(LOG,
			(errmsg("perfopt: the planning of statement " INT64_FORMAT " ignored %d cancels past perfopt.advisor_statement_timeout",
					wl_budget_queryid, WL_BUDGET_MAX_REPEATS),
			 errdetail("The process was terminated."),
			 errhint("A function the planner runs for this statement catches query_canceled; the advisor skips the statement until the server restarts.")));
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	slot = perfopt_shared->next_shunned;
	perfopt_shared->shunned[slot].dbid = MyDatabaseId;
	perfopt_shared->shunned[slot].userid = wl_budget_userid;
	perfopt_shared->shunned[slot].queryid = wl_budget_queryid;
	perfopt_shared->next_shunned = (slot + 1) % PERFOPT_SHUNNED_STATEMENTS;
	perfopt_shared->nshunned = Min(perfopt_shared->nshunned + 1, PERFOPT_SHUNNED_STATEMENTS);
	LWLockRelease(perfopt_shared->lock);
}

/* did this statement's planning once have to be ended with its process? */
static bool
wl_shunned(AdvStatement *st)
{
	bool		found = false;

	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	for (int i = 0; i < perfopt_shared->nshunned && !found; i++)
		found = perfopt_shared->shunned[i].dbid == MyDatabaseId &&
			perfopt_shared->shunned[i].userid == st->userid &&
			perfopt_shared->shunned[i].queryid == st->queryid;
	LWLockRelease(perfopt_shared->lock);
	return found;
}

/* a whole run gets this many statements' budgets, however many it plans */
#define WL_RUN_BUDGET_STATEMENTS 20
static double wl_run_used_ms = 0;

/* a new advisor run (perfopt_advise(), a verification) starts its budget */
void
adv_budget_begin_run(void)
{
	wl_run_used_ms = 0;
}

static double
wl_run_left_ms(void)
{
	return (double) WL_RUN_BUDGET_STATEMENTS * perfopt_advisor_statement_timeout - wl_run_used_ms;
}

static void
wl_over_budget(AdvStatement *st)
{
	st->over_budget = true;
	if (wl_run_left_ms() < 1)
		st->skip_reason = psprintf("the run's time for analysis and planning (%d x perfopt.advisor_statement_timeout) was spent",
								   WL_RUN_BUDGET_STATEMENTS);
	else
		st->skip_reason = psprintf("analysis and planning took longer than perfopt.advisor_statement_timeout (%d ms)",
								   perfopt_advisor_statement_timeout);
}

/* arm the timeout for what is left of st's budget; false when none is */
static bool
wl_budget_arm(AdvStatement *st)
{
	double		left;

	wl_budget_expired = false;
	if (perfopt_advisor_statement_timeout <= 0)
		return true;
	left = Min(perfopt_advisor_statement_timeout - st->budget_used_ms, wl_run_left_ms());
	if (left < 1)
		return false;
	if (wl_budget_timeout == MAX_TIMEOUTS)
	{
		wl_budget_timeout = RegisterTimeout(USER_TIMEOUT, wl_budget_handler);
		before_shmem_exit(wl_budget_exit_report, (Datum) 0);
	}
	wl_budget_fired = 0;
	wl_budget_queryid = st->queryid;
	wl_budget_userid = st->userid;
	enable_timeout_every(wl_budget_timeout,
						 TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) left),
						 WL_BUDGET_REPEAT_MS);
	return true;
}

static void
wl_budget_disarm(AdvStatement *st, TimestampTz started)
{
	if (perfopt_advisor_statement_timeout <= 0)
		return;
	disable_timeout(wl_budget_timeout, false);
	/* fired as the step ended: its cancel is ours, not the caller's */
	if (wl_budget_expired)
		QueryCancelPending = false;
	st->budget_used_ms += (double) (GetCurrentTimestamp() - started) / 1000.0;
	wl_run_used_ms += (double) (GetCurrentTimestamp() - started) / 1000.0;
	if (st->budget_used_ms >= perfopt_advisor_statement_timeout || wl_run_left_ms() < 1 ||
		wl_budget_expired)
		wl_over_budget(st);
}

/*
 * Is the error the caller's cancel (pg_cancel_backend, its
 * statement_timeout), to be thrown on?  Only one that the interrupt
 * machinery raised and our budget did not cause: a function may RAISE
 * query_canceled itself, and must not end the whole run with it.
 */
static bool
wl_cancel_of_caller(ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !wl_budget_expired &&
		edata->funcname != NULL && strcmp(edata->funcname, "ProcessInterrupts") == 0;
}

/*
 * In a PG_CATCH after BeginInternalSubTransaction: the error, copied into
 * cxt, with the subtransaction rolled back (which also restores the user
 * id and every setting) and cxt and owner current again.  A cancel or
 * statement_timeout is the caller's, not the statement's: it is thrown on;
 * only the statement budget's own cancel is the statement's.
 */
static ErrorData *
wl_subxact_failed(MemoryContext cxt, ResourceOwner owner)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (wl_cancel_of_caller(edata))
		ReThrowError(edata);
	return edata;
}

typedef enum WlStep
{
	WL_ANALYZE,					/* as the statement's role; the subtransaction is kept */
	WL_PLAN						/* as st->plan_role; rolled back */
} WlStep;

/*
 * Run fn(st) in a subtransaction as usercode.c runs user code.  Returns
 * false, with st->skip_reason set, when it failed.  Analysis commits its
 * subtransaction (its locks are needed later); planning rolls it back
 * even on success, so that thousands of planning calls leave nothing
 * behind in the transaction (a committed subtransaction keeps its memory
 * until the top-level commit) and nothing the planned code did survives.
 */
static bool
wl_run_step(AdvStatement *st, void (*fn) (AdvStatement *), WlStep step)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile Oid role = step == WL_ANALYZE ? st->userid : st->plan_role;
	TimestampTz started;
	volatile bool ok = true;
	volatile bool disarmed = false;

	if (st->over_budget)
		return false;
	if (!OidIsValid(role))
		elog(ERROR, "perfopt: statement " INT64_FORMAT " has no role to plan it as", st->queryid);
	/* looked up once per statement, kept as long as the statement */
	if (st->search_path == NULL)
		st->search_path = MemoryContextStrdup(GetMemoryChunkContext(st),
											  perfopt_role_search_path(st->userid));
	started = GetCurrentTimestamp();
	if (!wl_budget_arm(st))
	{
		wl_over_budget(st);
		return false;
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		PerfoptUserCode uc;

		perfopt_usercode_begin(&uc, role, st->search_path);
		fn(st);
		perfopt_usercode_end(&uc);
		if (step == WL_ANALYZE)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* before a cancel is thrown on: ours must not reach the caller */
		MemoryContextSwitchTo(cxt);
		wl_budget_disarm(st, started);
		disarmed = true;
		edata = wl_subxact_failed(cxt, owner);

		/*
		 * Analysis runs nobody's code: its message names what the text
		 * names.  A planning error may come from the owners' code and quote
		 * row values: only its SQLSTATE is kept.
		 */
		if (st->over_budget)
			;					/* the budget's reason says it all */
		else if (step == WL_ANALYZE)
			st->skip_reason = pstrdup(edata->message);
		else
			st->skip_reason = psprintf("planning failed: %s", perfopt_error_summary(edata->sqlerrcode));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	if (!disarmed)
		wl_budget_disarm(st, started);
	return ok && !st->over_budget;
}

/* analysis: the locks it takes must stay for the planning that follows */
bool
adv_analyze_as_statement_role(AdvStatement *st, void (*fn) (AdvStatement *))
{
	return wl_run_step(st, fn, WL_ANALYZE);
}

/* planning: nothing of it needs to survive but what fn copied out */
bool
adv_plan_as_statement_role(AdvStatement *st, void (*fn) (AdvStatement *))
{
	return wl_run_step(st, fn, WL_PLAN);
}

/* wl_analyze in a scratch context: only the final Query is kept */
static Query *
wl_analyze_compact(AdvStatement *st)
{
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext tmp = AllocSetContextCreate(outer, "perfopt analyze", ALLOCSET_DEFAULT_SIZES);
	Query	   *volatile query = NULL;

	MemoryContextSwitchTo(tmp);
	PG_TRY();
	{
		query = wl_analyze(st);
		MemoryContextSwitchTo(outer);
		query = copyObject(query);
		if (st->nparams > 0)
			st->param_types = memcpy(palloc(st->nparams * sizeof(Oid)), st->param_types,
									 st->nparams * sizeof(Oid));
		else
			st->param_types = NULL;
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(outer);
		MemoryContextDelete(tmp);
	}
	PG_END_TRY();
	return query;
}

/*
 * Analysis (as the statement's role): the Query, and the role planning
 * will run as.
 */
static void
wl_prepare(AdvStatement *st)
{
	Query	   *query = wl_analyze_compact(st);
	const char *unsupported = wl_unsupported(query);
	char	   *reason = NULL;

	if (unsupported)
	{
		st->skip_reason = pstrdup(unsupported);
		return;
	}
	st->plan_role = adv_plan_role(st->userid, query, &reason);
	if (!OidIsValid(st->plan_role))
	{
		st->skip_reason = reason;
		return;
	}
	st->query = query;
	st->is_write = (query->commandType != CMD_SELECT);
}

/*
 * The analysis failed: once more, with the $n whose sampled values all read
 * as numeric literals typed as the parser types such a literal
 * (adv_value_literal_types).  The first failure is the one reported when
 * this one fails too.
 */
static bool
wl_analyze_again(AdvStatement *st)
{
	char	   *first = st->skip_reason;
	volatile bool ok = false;

	if (st->over_budget)
		return false;
	wl_seed_types = adv_value_literal_types(st, &wl_nseed);
	if (wl_seed_types == NULL)
		return false;
	st->skip_reason = NULL;
	PG_TRY();
	{
		ok = adv_analyze_as_statement_role(st, wl_prepare);
	}
	PG_FINALLY();
	{
		pfree(wl_seed_types);
		wl_seed_types = NULL;
		wl_nseed = 0;
	}
	PG_END_TRY();
	if (!ok)
		st->skip_reason = first;
	return ok;
}

/*
 * The baseline (as st->plan_role): the generic plan with the collect hook
 * on, for the column uses; then, with sampled values, the cost over them.
 */
static void
wl_baseline(AdvStatement *st)
{
	adv_collect_begin(st);
	PG_TRY();
	{
		st->cost_base = adv_plan_cost_generic(st, NIL, NIL);
	}
	PG_FINALLY();
	{
		adv_collect_end();
	}
	PG_END_TRY();
	if (st->value_sets != NIL)
		st->cost_base = adv_plan_cost(st, NIL, NIL);
	st->cost_best = st->cost_base;
}

/*
 * True when the text starts with INSERT, UPDATE, DELETE or MERGE, or with
 * SELECT, WITH, VALUES or TABLE and has no "into" anywhere (in any case,
 * even inside a word): a statement
 * pg_stat_statements normalizes, known without parsing.  False means
 * "parse it to know" (a comment first, a utility statement, SELECT INTO).
 */
static bool
wl_surely_normalized(const char *text)
{
	static const char *const dml[] = {"insert", "update", "delete", "merge"};
	static const char *const query[] = {"select", "with", "values", "table"};
	char		word[8];
	int			n = 0;

	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	while (n < (int) sizeof(word) - 1 && isalpha((unsigned char) text[n]))
	{
		word[n] = (char) tolower((unsigned char) text[n]);
		n++;
	}
	word[n] = '\0';
	if (isalpha((unsigned char) text[n]) || isdigit((unsigned char) text[n]) || text[n] == '_')
		return false;			/* a longer word */
	for (int i = 0; i < lengthof(dml); i++)
		if (strcmp(word, dml[i]) == 0)
			return true;
	for (int i = 0; i < lengthof(query); i++)
		if (strcmp(word, query[i]) == 0)
		{
			for (const char *p = text; *p; p++)
				if (pg_strncasecmp(p, "into", 4) == 0)
					return false;
			return true;
		}
	return false;
}

/*
 * pg_stat_statements (15) replaces the constants of SELECT, INSERT, UPDATE,
 * DELETE and MERGE by $n but keeps any other statement's text as it was
 * run: ALTER ROLE ... PASSWORD '...', EXPLAIN ... 'literal', SELECT ...
 * INTO, COPY, CALL.  For such a text this returns its command tag
 * ("ALTER ROLE"); NULL for a statement pg_stat_statements normalizes, and
 * for a text that does not parse (one that ran as it is always parses).
 * A raw parse only: no catalog access, in a subtransaction for the syntax
 * error.
 */
static const char *
wl_verbatim_tag(const char *text)
{
	MemoryContext cxt;
	ResourceOwner owner;
	const char *volatile tag = NULL;

	/* the common case without a subtransaction: plain DML that has no INTO */
	if (wl_surely_normalized(text))
		return NULL;
	cxt = CurrentMemoryContext;
	owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		List	   *raw = raw_parser(text, RAW_PARSE_DEFAULT);
		Node	   *stmt = list_length(raw) == 1 ? linitial_node(RawStmt, raw)->stmt : NULL;
		SelectStmt *leftmost = stmt && IsA(stmt, SelectStmt) ? (SelectStmt *) stmt : NULL;

		while (leftmost && leftmost->op != SETOP_NONE)
			leftmost = leftmost->larg;
		if (stmt == NULL)
			tag = "(not one statement)";
		else if (leftmost && leftmost->intoClause)
			tag = "SELECT INTO";
		else if (!IsA(stmt, SelectStmt) && !IsA(stmt, InsertStmt) && !IsA(stmt, UpdateStmt) &&
				 !IsA(stmt, DeleteStmt) && !IsA(stmt, MergeStmt))
			tag = GetCommandTagName(CreateCommandTag(stmt));
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		FreeErrorData(wl_subxact_failed(cxt, owner));
		tag = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return tag;
}

/*
 * Repair, analyze and plan one statement; on failure the statement keeps
 * st->skip_reason and st->query stays NULL.  A statement whose text
 * pg_stat_statements keeps verbatim is skipped at once and keeps only its
 * command tag as its text, so that none of its literals (a password)
 * reaches perfopt_advisor_skipped or the log.
 */
void
adv_statement_prepare(AdvStatement *st)
{
	size_t		size = SQLREPAIR_OUTSIZE(strlen(st->text));
	const char *verbatim = wl_verbatim_tag(st->text);

	CHECK_FOR_INTERRUPTS();
	if (verbatim)
	{
		st->text = pstrdup(verbatim);
		st->skip_reason = pstrdup("utility statement");
		return;
	}
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(st->userid)))
	{
		st->skip_reason = pstrdup("the role that ran it no longer exists");
		return;
	}
	if (wl_shunned(st))
	{
		st->skip_reason = pstrdup("its planning once ignored the advisor's cancels and the process planning it was ended: not planned again until the server restarts");
		return;
	}
	st->parsed_text = palloc(size);
	if (sql_repair_normalized(st->text, st->parsed_text, size) < 0)
	{
		st->skip_reason = pstrdup("could not repair the normalized text");
		return;
	}
	if (adv_analyze_as_statement_role(st, wl_prepare) || wl_analyze_again(st))
		adv_value_sets_load(st);
	if (st->query == NULL || st->over_budget ||
		!adv_plan_as_statement_role(st, wl_baseline))
	{
		st->query = NULL;
		st->relids = NIL;
		st->uses = NIL;
	}
	else if (st->query && st->relids == NIL)
	{
		st->query = NULL;
		st->skip_reason = pstrdup(st->reads_partitioned ?
								  "reads a partitioned table: index advice for partitioned tables is not supported yet" :
								  "reads no user table");
	}
	elog(DEBUG2, "perfopt: statement " INT64_FORMAT " (%s): %s", st->queryid, st->text,
		 st->query ? "analyzed" : st->skip_reason ? st->skip_reason : "skipped");
}

static List *wl_cost_indexes;
static double wl_cost;

static void
wl_cost_fn(AdvStatement *st)
{
	wl_cost = adv_plan_cost(st, wl_cost_indexes, NIL);
}

/*
 * The statement's plan cost with these hypothetical indexes, planned in a
 * subtransaction as its role; -1 when planning failed (logged at DEBUG1).
 */
double
adv_plan_cost_safely(AdvStatement *st, List *indexes)
{
	char	   *saved = st->skip_reason;

	wl_cost_indexes = indexes;
	if (!adv_plan_as_statement_role(st, wl_cost_fn))
	{
		elog(DEBUG1, "perfopt: planning statement " INT64_FORMAT " with hypothetical indexes failed: %s",
			 st->queryid, st->skip_reason);
		st->skip_reason = saved;
		return -1;
	}
	return wl_cost;
}

static AdvIndex *wl_brin;
static double wl_overread;

static void
wl_overread_fn(AdvStatement *st)
{
	wl_overread = adv_brin_overread(st, wl_cost_indexes, wl_brin);
}

/* adv_brin_overread() as the statement's planning role; -1 on failure */
double
adv_brin_overread_safely(AdvStatement *st, List *indexes, AdvIndex *brin)
{
	char	   *saved = st->skip_reason;

	wl_cost_indexes = indexes;
	wl_brin = brin;
	if (!adv_plan_as_statement_role(st, wl_overread_fn))
	{
		st->skip_reason = saved;
		return -1;
	}
	return wl_overread;
}

static Oid	wl_hidden_index;

static void
wl_hidden_cost_fn(AdvStatement *st)
{
	wl_cost = adv_plan_cost(st, NIL, list_make1_oid(wl_hidden_index));
}

/* the statement's plan cost without an existing index; -1 on failure */
double
adv_plan_cost_hiding(AdvStatement *st, Oid indexoid)
{
	char	   *saved = st->skip_reason;

	wl_hidden_index = indexoid;
	if (!adv_plan_as_statement_role(st, wl_hidden_cost_fn))
	{
		st->skip_reason = saved;
		return -1;
	}
	return wl_cost;
}

/* replicaread.c: only statements whose text keeps no literal leave the server */
bool
adv_surely_normalized(const char *text)
{
	return wl_surely_normalized(text);
}
