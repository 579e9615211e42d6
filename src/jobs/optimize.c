/*
 * optimize.c — perfopt_optimize(): the full optimization of this database.
 * It refreshes the advisor, queues a CREATE INDEX CONCURRENTLY job for
 * each create-index recommendation not dismissed (a create_statistics job
 * for each extended statistics one), queues VACUUM (ANALYZE)
 * or ANALYZE for tables past the dead-tuple or stale-statistics
 * thresholds, and reports all of it (also kept in perfopt_history).
 * perfopt_optimize_database() does the maintenance part only;
 * perfopt_history() pages the reports.
 *
 * Its reads see its own writes (SPI in read-write mode: the advice it
 * just stored).  It never waits for a job: the jobs run after the caller commits, in the
 * job runner (runner.c).  One run at a time per database (an advisory lock
 * held to the end of the transaction); never on a standby; dry_run
 * reports the same actions and changes nothing.  Drops are never queued
 * here: perfopt builds, the DBA decides what goes.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/varlena.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "advisor.h"
#include "audit.h"
#include "compat.h"
#include "extschema.h"
#include "jobs.h"
#include "jsonutil.h"
#include "optimize.h"
#include "perfopt.h"
#include "score.h"
#include "spiutil.h"

PG_FUNCTION_INFO_V1(perfopt_optimize);
PG_FUNCTION_INFO_V1(perfopt_optimize_database);
PG_FUNCTION_INFO_V1(perfopt_history);

/* the advisory lock of a run: "perf", "opt" */
#define OPT_LOCK_KEY1 0x70657266
#define OPT_LOCK_KEY2 0x6f7074

typedef struct OptRun
{
	bool		dry_run;
	bool		automatic;		/* the advisor worker's: quiet when idle */
	const char *kind;			/* optimize, optimize_database */
	TimestampTz started;
	MemoryContext cxt;			/* outlives the dry run's subtransaction */
	char	   *schema;			/* quoted */
	int64		run_id;			/* 0 until a history row is written */
	StringInfoData actions;
	int			nactions;
	StringInfoData skipped;		/* tables the caller may not act on */
	int			nskipped;
	double		improvement_ms;
} OptRun;

static void
opt_require_primary_and_lock(const char *fn)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("%s() cannot run on a standby", fn),
				 errhint("Run it on the primary; the standby gets its indexes through replication.")));
	if (!DatumGetBool(DirectFunctionCall2(pg_try_advisory_xact_lock_int4,
										  Int32GetDatum(OPT_LOCK_KEY1),
										  Int32GetDatum(OPT_LOCK_KEY2))))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("another optimization is running in this database"),
				 errhint("Wait for it to finish; its report is in perfopt_history.")));
}

/* the rows of the last SPI result as lists of strings, outliving SPI_finish */
static List *
opt_rows(OptRun *run, int ncols)
{
	MemoryContext spi = MemoryContextSwitchTo(run->cxt);
	List	   *rows = NIL;

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		List	   *row = NIL;

		for (int c = 1; c <= ncols; c++)
			row = lappend(row, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c));
		rows = lappend(rows, row);
	}
	MemoryContextSwitchTo(spi);
	return rows;
}

static void
opt_action(OptRun *run, const char *kind, const char *statement, int64 job_id,
		   const char *evidence)
{
	if (run->nactions++ > 0)
		appendStringInfoString(&run->actions, ", ");
	appendStringInfoString(&run->actions, "{\"kind\": ");
	escape_json(&run->actions, kind);
	appendStringInfoString(&run->actions, ", \"statement\": ");
	escape_json(&run->actions, statement);
	if (job_id > 0)
		appendStringInfo(&run->actions, ", \"job_id\": " INT64_FORMAT, job_id);
	else
		appendStringInfoString(&run->actions, ", \"job_id\": null");
	appendStringInfoString(&run->actions, ", \"evidence\": ");
	escape_json(&run->actions, evidence);
	appendStringInfoChar(&run->actions, '}');
}

/* the run leaves a table alone, and says why */
static void
opt_skip(OptRun *run, const char *table, const char *reason)
{
	if (run->nskipped++ > 0)
		appendStringInfoString(&run->skipped, ", ");
	appendStringInfoString(&run->skipped, "{\"table\": ");
	escape_json(&run->skipped, table);
	appendStringInfoString(&run->skipped, ", \"reason\": ");
	escape_json(&run->skipped, reason);
	appendStringInfoChar(&run->skipped, '}');
}

/*
 * May this run act on the table (a quoted, qualified name)?  The caller
 * acts only where it can see: a schema it has no USAGE on is skipped with
 * a reason, not an error that would stop the whole run.  Looked up
 * without permission checks (to_regclass would raise 42501); *nsp is the
 * table's schema.
 */
static bool
opt_may_touch(OptRun *run, const char *table, Oid *nsp)
{
	List	   *names = NIL;
	RangeVar   *rv;

	*nsp = InvalidOid;
	if (table != NULL && SplitIdentifierString(pstrdup(table), '.', &names) &&
		list_length(names) == 2)
	{
		rv = makeRangeVar(linitial(names), lsecond(names), -1);
		*nsp = get_namespace_oid(rv->schemaname, true);
		if (!OidIsValid(*nsp) || !OidIsValid(get_relname_relid(rv->relname, *nsp)))
			*nsp = InvalidOid;
	}
	if (!OidIsValid(*nsp))
	{
		opt_skip(run, table ? table : "", "the table no longer exists");
		return false;
	}
	if (perfopt_namespace_aclcheck(*nsp, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
	{
		opt_skip(run, table, psprintf("%s has no USAGE privilege on schema %s",
									  quote_identifier(GetUserNameFromId(GetUserId(), false)),
									  quote_identifier(get_namespace_name(*nsp))));
		return false;
	}
	return true;
}

/* create-index and -statistics recommendations not dismissed, applied or queued */
static List *
opt_pending_recommendations(OptRun *run)
{
	List	   *rows;

	perfopt_spi_connect();
	if (SPI_execute(psprintf("/* perfopt */ SELECT r.id, r.ddl, r.reason, r.benefit_ms,"
							 " r.estimated_size_bytes, r.table_name, r.index_name, r.kind"
							 " FROM %s.perfopt_recommendations r"
							 " WHERE r.kind OPERATOR(pg_catalog.=) ANY (ARRAY['create_index', 'create_statistics'])"
							 " AND r.status OPERATOR(pg_catalog.=) 'new'"
							 " AND NOT EXISTS (SELECT 1 FROM %s.perfopt_jobs j"
							 "   WHERE j.recommendation_id OPERATOR(pg_catalog.=) r.id"
							 "   AND j.state OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running']))"
							 " ORDER BY r.benefit_ms DESC, r.id", run->schema, run->schema),
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_recommendations");
	rows = opt_rows(run, 8);
	SPI_finish();
	return rows;
}

/*
 * Refresh the advice and read what is to be built.  A dry run does exactly
 * the same inside a subtransaction that is rolled back, so that it lists
 * what the real run would queue from the same state (dismissed, applied
 * and already queued recommendations left out alike) and changes nothing.
 */
static List *
opt_advise(OptRun *run, Datum *advice)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	List	   *volatile rows = NIL;

	if (!run->dry_run)
	{
		*advice = perfopt_advise_run(true, true);
		return opt_pending_recommendations(run);
	}
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		*advice = perfopt_advise_run(true, false);
		rows = opt_pending_recommendations(run);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ReThrowError(edata);
	}
	PG_END_TRY();
	return rows;
}

/* the run's history row, written when first needed (a job refers to it) */
static int64
opt_run_id(OptRun *run)
{
	PerfoptSavedUser saved;
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		isnull;

	if (run->dry_run || run->run_id > 0)
		return run->run_id;
	values[0] = CStringGetTextDatum(run->kind);
	values[1] = TimestampTzGetDatum(run->started);
	perfopt_as_owner_begin(&saved);
	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_history (kind, started_at, report)"
									   " VALUES ($1, $2, '{}') RETURNING id", run->schema),
							  2, types, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "perfopt: could not write perfopt_history");
	run->run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	perfopt_as_owner_end(&saved);
	return run->run_id;
}

/* the recommendations to build -> jobs (a dry run lists them only) */
static void
opt_indexes(OptRun *run, List *rows)
{
	ListCell   *lc;

	foreach(lc, rows)
	{
		List	   *row = lfirst(lc);
		char	   *table = list_nth(row, 5);
		char	   *kind = list_nth(row, 7);
		Oid			nsp;
		int64		job = 0;

		if (!opt_may_touch(run, table, &nsp))
			continue;
		/* create_statistics: CREATE STATISTICS, then ANALYZE (jobs/statistics.c) */
		if (!run->dry_run)
			job = perfopt_job_queue(kind, list_nth(row, 1), table,
									psprintf("%s.%s", quote_identifier(get_namespace_name(nsp)),
											 quote_identifier(list_nth(row, 6))),
									strtod(list_nth(row, 4), NULL),
									strtoll(list_nth(row, 0), NULL, 10), opt_run_id(run));
		run->improvement_ms += strtod(list_nth(row, 3), NULL);
		opt_action(run, kind, list_nth(row, 1), job, list_nth(row, 2));
	}
}

/* VACUUM (ANALYZE) past the dead-tuple threshold, ANALYZE past the stale one */
static void
opt_maintenance(OptRun *run)
{
	List	   *rows = NIL;
	ListCell   *lc;
	Oid			types[2] = {FLOAT8OID, FLOAT8OID};
	Datum		values[2];

	values[0] = Float8GetDatum(perfopt_vacuum_dead_ratio);
	values[1] = Float8GetDatum(perfopt_analyze_stale_ratio);
	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ SELECT"
									   " pg_catalog.quote_ident(s.schemaname) OPERATOR(pg_catalog.||) '.'"
									   "  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.relname),"
									   " CASE WHEN s.n_dead_tup OPERATOR(pg_catalog.>=) 1000"
									   "       AND s.n_dead_tup OPERATOR(pg_catalog.>)"
									   "           ($1 OPERATOR(pg_catalog.*) (s.n_live_tup OPERATOR(pg_catalog.+) s.n_dead_tup))"
									   "      THEN 'vacuum_analyze' ELSE 'analyze' END,"
									   " s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,"
									   " COALESCE(GREATEST(s.last_analyze, s.last_autoanalyze)::pg_catalog.text, 'never')"
									   " FROM pg_catalog.pg_stat_user_tables s"
									   " WHERE ((s.n_dead_tup OPERATOR(pg_catalog.>=) 1000"
									   "         AND s.n_dead_tup OPERATOR(pg_catalog.>)"
									   "             ($1 OPERATOR(pg_catalog.*) (s.n_live_tup OPERATOR(pg_catalog.+) s.n_dead_tup)))"
									   "   OR (s.n_mod_since_analyze OPERATOR(pg_catalog.>=) 1000"
									   "       AND s.n_mod_since_analyze OPERATOR(pg_catalog.>)"
									   "           ($2 OPERATOR(pg_catalog.*) GREATEST(s.n_live_tup, 1)))"
									   "   OR (s.n_live_tup OPERATOR(pg_catalog.>) 0"
									   "       AND s.last_analyze IS NULL AND s.last_autoanalyze IS NULL))"
									   " AND s.schemaname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']::pg_catalog.name[])"
									   " AND s.schemaname OPERATOR(pg_catalog.!~) '^pg_temp'"
									   " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
									   "   WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
									   "   AND d.objid OPERATOR(pg_catalog.=) s.relid"
									   "   AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass"
									   "   AND d.deptype OPERATOR(pg_catalog.=) 'e')"
									   " AND NOT EXISTS (SELECT 1 FROM %s.perfopt_jobs j"
									   "   WHERE j.target_table OPERATOR(pg_catalog.=) (pg_catalog.quote_ident(s.schemaname)"
									   "         OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.relname))"
									   "   AND j.kind OPERATOR(pg_catalog.=) ANY (ARRAY['vacuum_analyze', 'analyze'])"
									   "   AND j.state OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running']))"
									   " ORDER BY s.n_dead_tup DESC, s.relid", run->schema),
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read pg_stat_user_tables");
	rows = opt_rows(run, 6);
	SPI_finish();

	foreach(lc, rows)
	{
		List	   *row = lfirst(lc);
		char	   *table = linitial(row);
		bool		vacuum = strcmp(lsecond(row), "vacuum_analyze") == 0;
		char	   *statement = psprintf(vacuum ? "VACUUM (ANALYZE) %s" : "ANALYZE %s", table);
		char	   *evidence = psprintf("%s live rows, %s dead, %s changed since the last ANALYZE (%s)",
										(char *) list_nth(row, 2), (char *) list_nth(row, 3),
										(char *) list_nth(row, 4), (char *) list_nth(row, 5));
		int64		job = 0;
		Oid			nsp;

		if (!opt_may_touch(run, table, &nsp))
			continue;
		if (!run->dry_run)
			job = perfopt_job_queue(lsecond(row), statement, table, NULL, 0, 0, opt_run_id(run));
		opt_action(run, lsecond(row), statement, job, evidence);
	}
}

static void
opt_history_end(OptRun *run, const char *report)
{
	PerfoptSavedUser saved;
	Oid			type = TEXTOID;
	Datum		value = CStringGetTextDatum(report);

	perfopt_as_owner_begin(&saved);
	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ UPDATE %s.perfopt_history SET report = $1::pg_catalog.jsonb,"
									   " finished_at = pg_catalog.clock_timestamp() WHERE id OPERATOR(pg_catalog.=) " INT64_FORMAT,
									   run->schema, run->run_id),
							  1, &type, &value, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "perfopt: could not write perfopt_history");
	SPI_finish();
	perfopt_as_owner_end(&saved);
}

/*
 * One run.  Its history row and audit entry are written when it queues
 * something or a caller asked for it; an automatic run with nothing to do
 * leaves no trace.
 */
static Datum
opt_run(const char *fn, bool dry_run, bool indexes, bool automatic)
{
	OptRun		run;
	Datum		advice = (Datum) 0;
	List	   *rows = NIL;
	StringInfoData report;
	StringInfoData score_before;
	char		args[64];

	(void) perfopt_extension_schema(false);
	opt_require_primary_and_lock(fn);
	/* the score as it is before this run changes anything */
	initStringInfo(&score_before);
	perfopt_score_json(&score_before);

	memset(&run, 0, sizeof(run));
	run.dry_run = dry_run;
	run.automatic = automatic;
	run.kind = indexes ? "optimize" : "optimize_database";
	run.started = GetCurrentTimestamp();
	run.cxt = CurrentMemoryContext;
	run.schema = pstrdup(quote_identifier(get_namespace_name(perfopt_extension_schema(false))));
	initStringInfo(&run.actions);
	initStringInfo(&run.skipped);
	if (indexes)
	{
		rows = opt_advise(&run, &advice);
		opt_indexes(&run, rows);
	}
	opt_maintenance(&run);
	if (!dry_run && !(automatic && run.nactions == 0))
		(void) opt_run_id(&run);

	initStringInfo(&report);
	if (run.run_id > 0)
		appendStringInfo(&report, "{\"run_id\": " INT64_FORMAT, run.run_id);
	else
		appendStringInfoString(&report, "{\"run_id\": null");
	appendStringInfoString(&report, ", \"started_at\": ");
	perfopt_json_timestamp(&report, run.started);
	appendStringInfo(&report, ", \"kind\": \"%s\", \"dry_run\": %s, \"actions\": [%s], \"skipped\": [%s]",
					 run.kind, dry_run ? "true" : "false", run.actions.data, run.skipped.data);
	appendStringInfoString(&report, ", \"estimated_improvement_ms\": ");
	perfopt_json_number(&report, run.improvement_ms);
	appendStringInfo(&report, ", \"score_before\": %s", score_before.data);
	if (indexes)
	{
		Jsonb	   *jb = DatumGetJsonbP(advice);

		appendStringInfo(&report, ", \"advisor\": %s",
						 JsonbToCString(NULL, &jb->root, VARSIZE(jb)));
	}
	appendStringInfoChar(&report, '}');

	if (run.run_id > 0)
	{
		opt_history_end(&run, report.data);
		snprintf(args, sizeof(args), "{\"run_id\": " INT64_FORMAT "}", run.run_id);
		perfopt_audit(run.kind, args, psprintf("%d action(s) queued", run.nactions));
	}
	return perfopt_jsonb_from_text(report.data);
}

/* the advisor worker's automatic optimization (refresh.c) */
void
perfopt_optimize_automatic(void)
{
	(void) opt_run("perfopt_optimize", false, true, true);
}

Datum
perfopt_optimize(PG_FUNCTION_ARGS)
{
	bool		dry_run = PG_ARGISNULL(0) ? false : PG_GETARG_BOOL(0);

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("dry_run must not be null")));
	PG_RETURN_DATUM(opt_run("perfopt_optimize", dry_run, true, false));
}

Datum
perfopt_optimize_database(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("dry_run must not be null")));
	PG_RETURN_DATUM(opt_run("perfopt_optimize_database", PG_GETARG_BOOL(0), false, false));
}

/* keyset paging: rows with id > after, at most lim, and where to go next */
Datum
perfopt_history(PG_FUNCTION_ARGS)
{
	int64		after;
	int32		lim;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	char	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("after and lim must not be null"),
				 errhint("Start with after => 0.")));
	after = PG_GETARG_INT64(0);
	lim = PG_GETARG_INT32(1);
	if (after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("after must be 0 or a run id, not " INT64_FORMAT, after)));
	if (lim < 1 || lim > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lim must be between 1 and 1000, not %d", lim)));
	values[0] = Int64GetDatum(after);
	values[1] = Int32GetDatum(lim);
	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ WITH page AS ("
									   " SELECT id, kind, started_at, finished_at, report"
									   " FROM %s.perfopt_history WHERE id OPERATOR(pg_catalog.>) $1 ORDER BY id LIMIT $2)"
									   " SELECT pg_catalog.jsonb_build_object("
									   "  'items', COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(page) ORDER BY id), '[]'),"
									   "  'next_after', CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.=) $2"
									   "                THEN pg_catalog.max(id) END)::pg_catalog.text"
									   " FROM page",
									   quote_identifier(get_namespace_name(perfopt_extension_schema(false)))),
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "perfopt: could not read perfopt_history");
	result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	result = MemoryContextStrdup(CurTransactionContext, result);
	SPI_finish();
	PG_RETURN_DATUM(perfopt_jsonb_from_text(result));
}
