/*
 * statistics.c — the jobs of extended statistics advice: a
 * create_statistics job runs CREATE STATISTICS (the object then given to
 * the table's owner) and ANALYZE of the table (whose user code core runs
 * as the table's owner), under the runner's
 * lock_timeout, statement_timeout and retries like every job; then the
 * verification: each statement of the recommendation is planned again as
 * its role (advisor machinery) and its estimate compared with the rows per
 * call pg_stat_statements had measured.  Within ADV_STATS_FACTOR for every
 * statement planned: confirmed.  Otherwise, with perfopt.auto_rollback
 * on, the statistics are dropped (a drop_statistics job) and the
 * recommendation dismissed for good; off, they are kept (failed_kept).
 * The verdict is immediate (no observation window: the estimate is known
 * right after the ANALYZE) and goes to perfopt_verifications (object_kind
 * 'statistics') and into the report of the run that queued the job.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_statistic_ext.h"
#include "catalog/pg_type.h"
#include "commands/alter.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "advisor.h"
#include "jobs.h"
#include "jsonutil.h"
#include "perfopt.h"
#include "spiutil.h"

/* a table (a quoted, qualified name) and its owner, in a transaction of its own */
static Oid
st_table(const char *table, Oid *owner)
{
	Oid			relid;
	HeapTuple	tup;

	*owner = InvalidOid;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	relid = DatumGetObjectId(DirectFunctionCall1(to_regclass, CStringGetTextDatum(table)));
	if (OidIsValid(relid))
	{
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		if (HeapTupleIsValid(tup))
		{
			*owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
			ReleaseSysCache(tup);
		}
	}
	CommitTransactionCommand();
	return OidIsValid(*owner) ? relid : InvalidOid;
}

/* the statistics object of that (quoted, qualified) name, if it is on relid */
static Oid
st_object_on(const char *stats_name, Oid relid, Oid *owner)
{
	Oid			statoid = get_statistics_object_oid(textToQualifiedNameList(cstring_to_text(stats_name)), true);
	HeapTuple	tup;
	bool		on = false;

	if (!OidIsValid(statoid))
		return InvalidOid;
	tup = SearchSysCache1(STATEXTOID, ObjectIdGetDatum(statoid));
	if (HeapTupleIsValid(tup))
	{
		on = ((Form_pg_statistic_ext) GETSTRUCT(tup))->stxrelid == relid;
		*owner = ((Form_pg_statistic_ext) GETSTRUCT(tup))->stxowner;
		ReleaseSysCache(tup);
	}
	return on ? statoid : InvalidOid;
}

/*
 * The object the job created (owned by the runner's role, on relid) goes
 * to the table's owner, as an index would belong to it.  An object of
 * that name on another table (IF NOT EXISTS kept it: it appeared after
 * the advice) fails the job; one on this table that is not the runner's
 * keeps its owner.
 */
static void
st_give_to_owner(const char *stats_name, Oid relid, Oid owner)
{
	Oid			statoid;
	Oid			current = InvalidOid;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	statoid = st_object_on(stats_name, relid, &current);
	if (!OidIsValid(statoid))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("statistics object %s exists on another table", stats_name)));
	if (current == GetUserId() && owner != GetUserId())
	{
		AlterOwnerStmt *alter = makeNode(AlterOwnerStmt);

		alter->objectType = OBJECT_STATISTIC_EXT;
		alter->object = (Node *) textToQualifiedNameList(cstring_to_text(stats_name));
		alter->newowner = makeNode(RoleSpec);
		alter->newowner->roletype = ROLESPEC_CSTRING;
		alter->newowner->rolename = GetUserNameFromId(owner, false);
		alter->newowner->location = -1;
		(void) ExecAlterOwnerStmt(alter);
	}
	CommitTransactionCommand();
}

/*
 * The job: statement (CREATE STATISTICS IF NOT EXISTS, so a retry after a
 * lock timeout in the ANALYZE goes on), then ANALYZE of the table, each
 * at top level.  The statistics object is created by the runner (the
 * table's owner may lack CREATE on the table's schema, which CREATE
 * STATISTICS asks for and CREATE INDEX does not; the command runs no
 * user code) and then given to the table's owner.  The ANALYZE is the
 * one the index jobs run: core runs all of its user code (the types'
 * analyze and comparison functions, index expressions) as the table's
 * owner under SECURITY_RESTRICTED_OPERATION.  The user id is never
 * switched across the statements' transactions here: an abort would
 * restore the one the transaction started with.
 */
void
perfopt_statistics_build(const char *statement, const char *table, const char *stats_name)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			owner;
	Oid			relid = st_table(table, &owner);

	MemoryContextSwitchTo(cxt);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s no longer exists", table)));
	perfopt_job_execute(statement, NULL);
	st_give_to_owner(stats_name, relid, owner);
	MemoryContextSwitchTo(cxt);
	perfopt_job_execute(psprintf("ANALYZE %s", table), NULL);
}

typedef struct StStatement
{
	AdvStatement *st;
	double		actual;			/* rows per call when it was advised */
	double		before;			/* the estimate then */
} StStatement;

/* the statements of the recommendation, as the advisor recorded them */
static List *
st_statements(const char *schema, int64 recommendation_id, MemoryContext outer)
{
	Oid			type = INT8OID;
	Datum		value = Int64GetDatum(recommendation_id);
	List	   *result = NIL;

	if (SPI_execute_with_args(psprintf("/* perfopt */ SELECT (e OPERATOR(pg_catalog.->>) 'queryid')::pg_catalog.int8,"
									   " (e OPERATOR(pg_catalog.->>) 'userid')::pg_catalog.oid,"
									   " e OPERATOR(pg_catalog.->>) 'query',"
									   " (e OPERATOR(pg_catalog.->>) 'rows_per_call')::pg_catalog.float8,"
									   " (e OPERATOR(pg_catalog.->>) 'rows_estimated')::pg_catalog.float8"
									   " FROM %s.perfopt_recommendations r, pg_catalog.jsonb_array_elements(r.statements) e"
									   " WHERE r.id OPERATOR(pg_catalog.=) $1 AND r.kind OPERATOR(pg_catalog.=) 'create_statistics'"
									   " AND e OPERATOR(pg_catalog.?) 'userid'",
									   schema),
							  1, &type, &value, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_recommendations");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);
		StStatement *s = palloc0(sizeof(StStatement));
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HeapTuple	tup = SPI_tuptable->vals[r];
		bool		isnull;

		s->st = palloc0(sizeof(AdvStatement));
		s->st->queryid = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		s->st->userid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		s->st->text = SPI_getvalue(tup, desc, 3);
		s->actual = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		s->before = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
		if (s->st->text != NULL)
			result = lappend(result, s);
		MemoryContextSwitchTo(spi);
	}
	return result;
}

/* the verdict into the report of the run that queued the job */
static void
st_history(const char *schema, int64 job_id, const char *stats_name, const char *state,
		   const char *verdict)
{
	if (SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_history h SET report = pg_catalog.jsonb_set(h.report, '{verifications}',"
							 " COALESCE(h.report OPERATOR(pg_catalog.->) 'verifications', '[]')"
							 " OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object("
							 "  'statistics', %s, 'state', %s, 'verdict', %s)))"
							 " FROM %s.perfopt_jobs j WHERE j.id OPERATOR(pg_catalog.=) " INT64_FORMAT
							 " AND h.id OPERATOR(pg_catalog.=) j.run_id",
							 schema, quote_literal_cstr(stats_name), quote_literal_cstr(state),
							 quote_literal_cstr(verdict), schema, job_id),
					false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "perfopt: could not record the verification in perfopt_history");
}

/*
 * After a create_statistics job succeeded (called by the runner outside a
 * transaction): the estimates again, and the verdict.
 */
void
perfopt_statistics_verify(const char *schema, int64 job_id, int64 recommendation_id,
						  const char *stats_name, const char *table)
{
	MemoryContext outer = CurrentMemoryContext;
	List	   *statements;
	ListCell   *lc;
	StringInfoData baseline;
	StringInfoData after;
	int			planned = 0;
	int			within = 0;
	const char *state;
	char	   *verdict;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* the planning waits for no lock longer than a job would */
	SetConfigOption("lock_timeout", psprintf("%d", perfopt_job_lock_timeout), PGC_SUSET, PGC_S_SESSION);
	perfopt_spi_connect();
	statements = st_statements(schema, recommendation_id, outer);
	SPI_finish();
	MemoryContextSwitchTo(outer);

	initStringInfo(&baseline);
	initStringInfo(&after);
	appendStringInfoChar(&baseline, '[');
	appendStringInfoChar(&after, '[');
	adv_budget_begin_run();
	foreach(lc, statements)
	{
		StStatement *s = lfirst(lc);
		double		estimate = -1;
		bool		ok;

		CHECK_FOR_INTERRUPTS();
		adv_statement_prepare(s->st);
		ok = s->st->query != NULL && adv_stats_estimate(s->st, &estimate);
		if (ok)
		{
			planned++;
			if (adv_stats_misestimate(estimate, s->actual) <= ADV_STATS_FACTOR)
				within++;
		}
		if (baseline.len > 1)
		{
			appendStringInfoString(&baseline, ", ");
			appendStringInfoString(&after, ", ");
		}
		appendStringInfo(&baseline, "{\"queryid\": " INT64_FORMAT ", \"rows_estimated\": ", s->st->queryid);
		perfopt_json_number(&baseline, s->before);
		appendStringInfoString(&baseline, ", \"rows_per_call\": ");
		perfopt_json_number(&baseline, s->actual);
		appendStringInfoChar(&baseline, '}');
		appendStringInfo(&after, "{\"queryid\": " INT64_FORMAT ", \"rows_estimated\": ", s->st->queryid);
		if (ok)
			perfopt_json_number(&after, estimate);
		else
			appendStringInfoString(&after, "null");
		appendStringInfoString(&after, ", \"rows_per_call\": ");
		perfopt_json_number(&after, s->actual);
		appendStringInfo(&after, ", \"within_factor\": %s}",
						 ok && adv_stats_misestimate(estimate, s->actual) <= ADV_STATS_FACTOR ? "true" : "false");
	}
	appendStringInfoChar(&baseline, ']');
	appendStringInfoChar(&after, ']');

	if (planned > 0 && within == planned)
	{
		state = "confirmed";
		verdict = psprintf("after ANALYZE the estimate of %s within %.0fx of the rows per call",
						   planned == 1 ? "its statement is" : "each of its statements is",
						   ADV_STATS_FACTOR);
	}
	else
	{
		state = perfopt_auto_rollback ? "rolled_back" : "failed_kept";
		verdict = planned == 0 ?
			pstrdup("none of its statements could be planned again") :
			psprintf("after ANALYZE the estimate of %d of %d statement(s) is still more than %.0fx off",
					 planned - within, planned, ADV_STATS_FACTOR);
	}

	perfopt_spi_connect();
	{
		Oid			types[6] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		Datum		values[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

		values[0] = Int64GetDatum(job_id);
		values[1] = Int64GetDatum(recommendation_id);
		values[2] = CStringGetTextDatum(stats_name);
		values[3] = CStringGetTextDatum(baseline.data);
		values[4] = CStringGetTextDatum(state);
		values[5] = CStringGetTextDatum(verdict);
		if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_verifications"
										   " (job_id, recommendation_id, index_name, baseline, planner_uses_index,"
										   "  state, checked_at, verdict, after, object_kind)"
										   " VALUES ($1, $2, $3, $4::pg_catalog.jsonb, false, $5, pg_catalog.now(), $6,"
										   "  %s::pg_catalog.jsonb, 'statistics')",
										   schema, quote_literal_cstr(after.data)),
								  6, types, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "perfopt: could not write perfopt_verifications");
	}
	st_history(schema, job_id, stats_name, state, verdict);
	if (strcmp(state, "rolled_back") == 0)
	{
		/* take it back: a drop job, and the recommendation never again */
		perfopt_job_queue("drop_statistics", psprintf("DROP STATISTICS IF EXISTS %s", stats_name),
						  table, stats_name, 0, 0, 0);
		if (SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_recommendations SET status = 'dismissed',"
								 " reason = reason OPERATOR(pg_catalog.||) '; rolled back: ' OPERATOR(pg_catalog.||) %s,"
								 " updated_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) " INT64_FORMAT,
								 schema, quote_literal_cstr(verdict), recommendation_id),
						false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "perfopt: could not dismiss recommendation " INT64_FORMAT, recommendation_id);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_SESSION);
	MemoryContextSwitchTo(outer);
	ereport(LOG,
			(errmsg("perfopt: verification of statistics %s: %s (%s)", stats_name, verdict, state)));
}

/*
 * A drop_statistics job: DROP STATISTICS, only of the object of that name
 * on the job's table (never another table's object that took the name).
 */
void
perfopt_statistics_drop(const char *stats_name, const char *table)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			owner;
	Oid			relid = st_table(table, &owner);
	bool		exists = false;

	MemoryContextSwitchTo(cxt);
	if (!OidIsValid(relid))
		return;					/* the table went, and its statistics with it */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	exists = OidIsValid(st_object_on(stats_name, relid, &owner));
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (exists)
		perfopt_job_execute(psprintf("DROP STATISTICS IF EXISTS %s", stats_name), NULL);
}

/*
 * A create_statistics job that failed for good may have created the
 * object before its ANALYZE failed: drop it again.  A failure here is
 * logged, not raised.
 */
void
perfopt_statistics_cleanup(const char *stats_name, const char *table)
{
	MemoryContext cxt = CurrentMemoryContext;

	SetConfigOption("lock_timeout", psprintf("%d", perfopt_job_lock_timeout), PGC_SUSET, PGC_S_SESSION);
	PG_TRY();
	{
		perfopt_statistics_drop(stats_name, table);
	}
	PG_CATCH();
	{
		perfopt_job_log_and_abort();
	}
	PG_END_TRY();
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_SESSION);
	MemoryContextSwitchTo(cxt);
}
