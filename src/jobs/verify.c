/*
 * verify.c — proves that a built index helped, or takes it back.
 *
 * Right after a build the job runner ANALYZEs the table, re-plans the
 * statements the recommendation serves (as their roles, with the advisor's
 * machinery, costed the advisor's way: custom plans over a statement's
 * value samples when it has some, so that a partial index whose predicate
 * only a sampled value proves is seen chosen; the generic plan otherwise)
 * to see whether the planner now chooses the index, and keeps a
 * baseline of each statement's pg_stat_statements counters.  Once
 * perfopt.verification_window has passed (checked each time a runner
 * starts in the database), it compares mean time and shared blocks per
 * call since the build with the recommendation's "before", and the
 * index's idx_scan (the runner tells the main worker when the next
 * window ends, so a runner comes back then).  An unused index, or a statement more than 10%
 * slower, is a failed verification (but for "no scan" while
 * perfopt.advisor_standbys lists standbys, whose scans are not counted:
 * that index is kept, failed_kept): with perfopt.auto_rollback on, the
 * index is dropped (DROP INDEX CONCURRENTLY, a job; a partitioned index
 * cannot be, runner.c drops it plainly) and the recommendation
 * dismissed, so it is never recommended again.  Only indexes perfopt built
 * are ever dropped; a confirmed index also retires older perfopt-built
 * ones it makes redundant (perfopt.drop_superseded_indexes).  The verdict
 * goes to perfopt_verifications and into
 * the report of the run that queued the build.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "advisor.h"
#include "audit.h"
#include "extschema.h"
#include "jobs.h"
#include "jsonutil.h"
#include "perfopt.h"
#include "replica.h"
#include "shmem.h"
#include "spiutil.h"

/* a statement this much slower than before failed the verification */
#define VF_MAX_REGRESSION 1.10

/* does the plan scan one of indexes (the index and its partitions' indexes) */
static bool
vf_plan_uses(Plan *plan, List *indexes)
{
	ListCell   *lc;

	if (plan == NULL)
		return false;
	check_stack_depth();
	if ((IsA(plan, IndexScan) && list_member_oid(indexes, ((IndexScan *) plan)->indexid)) ||
		(IsA(plan, IndexOnlyScan) && list_member_oid(indexes, ((IndexOnlyScan *) plan)->indexid)) ||
		(IsA(plan, BitmapIndexScan) && list_member_oid(indexes, ((BitmapIndexScan *) plan)->indexid)))
		return true;
	foreach(lc, adv_plan_children(plan))
		if (vf_plan_uses(lfirst(lc), indexes))
			return true;
	return false;
}

static List *vf_indexes;
static bool vf_uses;

static bool
vf_stmt_uses(PlannedStmt *ps)
{
	ListCell   *lc;
	bool		uses = vf_plan_uses(ps->planTree, vf_indexes);

	foreach(lc, ps->subplans)
		uses |= vf_plan_uses(lfirst(lc), vf_indexes);
	return uses;
}

/*
 * Does the planner choose the index: for the generic plan, or, with value
 * samples, for the custom plan of the sampled value sets that carry most
 * of their weight?  Each custom plan holds the values: only the answer is
 * kept.
 */
static void
vf_plan_fn(AdvStatement *st)
{
	double		used = 0;
	double		total = 0;
	ListCell   *lc;

	if (st->value_sets == NIL)
	{
		vf_uses = vf_stmt_uses(adv_plan(st, NIL, NIL));
		return;
	}
	foreach(lc, st->value_sets)
	{
		AdvValueSet *vs = lfirst(lc);
		MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "perfopt verify plan",
												  ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(tmp);
		bool		uses = vf_stmt_uses(adv_plan_custom(st, vs->params));

		MemoryContextSwitchTo(old);
		MemoryContextDelete(tmp);
		total += vs->weight;
		if (uses)
			used += vs->weight;
	}
	vf_uses = total > 0 && used * 2 >= total;
}

/*
 * After a successful build (called by the runner outside a transaction):
 * baseline counters, and whether the planner chooses the index for each
 * statement the recommendation serves.
 */
void
perfopt_verify_after_build(const char *schema, int64 job_id, int64 recommendation_id,
						   const char *index_name)
{
	Oid			pgss;
	Oid			types[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		values[3];
	List	   *rows = NIL;
	ListCell   *lc;
	StringInfoData js;
	int			chosen = 0;
	MemoryContext outer = CurrentMemoryContext;
	Oid			index;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgss = perfopt_schema_of_extension("pg_stat_statements", true);
	index = DatumGetObjectId(DirectFunctionCall1(to_regclass, CStringGetTextDatum(index_name)));
	if (!OidIsValid(pgss) || !OidIsValid(index))
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(outer);
		return;
	}
	/* on a partitioned table, plans scan the partitions' indexes */
	{
		MemoryContext xact = MemoryContextSwitchTo(outer);

		vf_indexes = find_all_inheritors(index, NoLock, NULL);
		MemoryContextSwitchTo(xact);
	}
	perfopt_spi_connect();
	values[0] = Int64GetDatum(recommendation_id);
	values[1] = CStringGetTextDatum(quote_identifier(get_namespace_name(pgss)));
	values[2] = ObjectIdGetDatum(MyDatabaseId);
	/* the recommendation's statements as pg_stat_statements has them now */
	if (SPI_execute_with_args(psprintf("/* perfopt */ SELECT s.queryid, s.userid, s.query, s.calls::pg_catalog.float8,"
									   " s.total_exec_time,"
									   " (s.shared_blks_hit OPERATOR(pg_catalog.+) s.shared_blks_read)::pg_catalog.float8"
									   " FROM %s.perfopt_recommendations r,"
									   "  pg_catalog.jsonb_array_elements(r.statements) e,"
									   "  %s.pg_stat_statements(true) s"
									   " WHERE r.id OPERATOR(pg_catalog.=) $1"
									   "  AND s.queryid OPERATOR(pg_catalog.=) (e OPERATOR(pg_catalog.->>) 'queryid')::pg_catalog.int8"
									   "  AND s.dbid OPERATOR(pg_catalog.=) $3 AND s.toplevel AND $2 IS NOT NULL",
									   schema, quote_identifier(get_namespace_name(pgss))),
							  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read pg_stat_statements");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);
		AdvStatement *st = palloc0(sizeof(AdvStatement));
		bool		isnull;
		TupleDesc	desc = SPI_tuptable->tupdesc;
		HeapTuple	tup = SPI_tuptable->vals[r];

		st->queryid = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		st->userid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		st->text = SPI_getvalue(tup, desc, 3);
		st->calls = DatumGetFloat8(SPI_getbinval(tup, desc, 4, &isnull));
		st->total_time_ms = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
		st->rows = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));	/* blocks */
		rows = lappend(rows, st);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	MemoryContextSwitchTo(outer);

	initStringInfo(&js);
	appendStringInfoChar(&js, '[');
	adv_budget_begin_run();
	foreach(lc, rows)
	{
		AdvStatement *st = lfirst(lc);
		double		calls = st->calls;
		double		total = st->total_time_ms;
		double		blocks = st->rows;

		vf_uses = false;
		adv_statement_prepare(st);
		if (st->query && adv_plan_as_statement_role(st, vf_plan_fn) && vf_uses)
			chosen++;
		if (js.len > 1)
			appendStringInfoString(&js, ", ");
		appendStringInfo(&js, "{\"queryid\": " INT64_FORMAT ", \"planner_uses_index\": %s, \"calls\": ",
						 st->queryid, vf_uses ? "true" : "false");
		perfopt_json_number(&js, calls);
		appendStringInfoString(&js, ", \"total_time_ms\": ");
		perfopt_json_number(&js, total);
		appendStringInfoString(&js, ", \"shared_blocks\": ");
		perfopt_json_number(&js, blocks);
		appendStringInfoChar(&js, '}');
	}
	appendStringInfoChar(&js, ']');

	perfopt_spi_connect();
	{
		Oid			itypes[5] = {INT8OID, INT8OID, TEXTOID, TEXTOID, BOOLOID};
		Datum		ivalues[5];

		ivalues[0] = Int64GetDatum(job_id);
		ivalues[1] = Int64GetDatum(recommendation_id);
		ivalues[2] = CStringGetTextDatum(index_name);
		ivalues[3] = CStringGetTextDatum(js.data);
		ivalues[4] = BoolGetDatum(chosen > 0);
		if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_verifications"
										   " (job_id, recommendation_id, index_name, baseline, planner_uses_index)"
										   " VALUES ($1, $2, $3, $4::pg_catalog.jsonb, $5)", schema),
								  5, itypes, ivalues, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "perfopt: could not write perfopt_verifications");
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(outer);
	ereport(LOG,
			(errmsg("perfopt: index %s built", index_name),
			 errdetail("The planner chooses it for %d of %d statement(s).",
					   chosen, list_length(rows))));
}

static void vf_apply_verdicts(const char *schema, char **cols, uint64 n);
static void vf_drop_superseded(const char *schema, const char *index_name, const char *job);

/*
 * Verdicts for builds whose observation window has passed.  Runs its own
 * transaction; called by the runner at start.
 */
void
perfopt_verify_due(const char *schema)
{
	Oid			pgss;
	Oid			types[3] = {INT4OID, BOOLOID, BOOLOID};
	Datum		values[3];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgss = perfopt_schema_of_extension("pg_stat_statements", true);
	if (!OidIsValid(pgss))
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		return;
	}
	perfopt_spi_connect();
	values[0] = Int32GetDatum(perfopt_verification_window);
	values[1] = BoolGetDatum(perfopt_auto_rollback);
	/* standbys listed: their scans are not counted, "no scan" is not proof */
	values[2] = BoolGetDatum(adv_replica_standbys_listed());

	/*
	 * One statement computes every verdict: per statement of the baseline,
	 * the calls, mean time and blocks per call since the build, against
	 * the recommendation's mean time before; the index's scans.
	 */
	if (SPI_execute_with_args(psprintf(
									   "/* perfopt */ WITH due AS ("
									   "  SELECT v.* FROM %s.perfopt_verifications v"
									   "  WHERE v.state OPERATOR(pg_catalog.=) 'observing'"
									   "  AND v.built_at OPERATOR(pg_catalog.<=)"
									   "      (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $1))"
									   "  FOR UPDATE),"
									   " per_statement AS ("
									   "  SELECT d.id, b.queryid,"
									   /* after a pg_stat_statements reset the counters start over */
									   "   CASE WHEN NOT d.restarted"
									   "        THEN s.calls OPERATOR(pg_catalog.-) (b.b OPERATOR(pg_catalog.->>) 'calls')::pg_catalog.float8"
									   "        ELSE s.calls END AS calls_after,"
									   /* x / NULLIF(y, 0), spelt with a qualified "=" */
									   "   CASE WHEN NOT d.restarted"
									   "        THEN (s.total_exec_time OPERATOR(pg_catalog.-)"
									   "              (b.b OPERATOR(pg_catalog.->>) 'total_time_ms')::pg_catalog.float8)"
									   "             OPERATOR(pg_catalog./)"
									   "             (CASE WHEN s.calls OPERATOR(pg_catalog.-) (b.b OPERATOR(pg_catalog.->>) 'calls')::pg_catalog.float8"
									   "                        OPERATOR(pg_catalog.=) 0 THEN NULL"
									   "                   ELSE s.calls OPERATOR(pg_catalog.-) (b.b OPERATOR(pg_catalog.->>) 'calls')::pg_catalog.float8 END)"
									   "        ELSE s.total_exec_time OPERATOR(pg_catalog./)"
									   "             (CASE WHEN s.calls OPERATOR(pg_catalog.=) 0 THEN NULL ELSE s.calls END)"
									   "        END AS mean_after,"
									   "   CASE WHEN NOT d.restarted"
									   "        THEN ((s.shared_blks_hit OPERATOR(pg_catalog.+) s.shared_blks_read)"
									   "              OPERATOR(pg_catalog.-) (b.b OPERATOR(pg_catalog.->>) 'shared_blocks')::pg_catalog.float8)"
									   "             OPERATOR(pg_catalog./)"
									   "             (CASE WHEN s.calls OPERATOR(pg_catalog.-) (b.b OPERATOR(pg_catalog.->>) 'calls')::pg_catalog.float8"
									   "                        OPERATOR(pg_catalog.=) 0 THEN NULL"
									   "                   ELSE s.calls OPERATOR(pg_catalog.-) (b.b OPERATOR(pg_catalog.->>) 'calls')::pg_catalog.float8 END)"
									   "        ELSE (s.shared_blks_hit OPERATOR(pg_catalog.+) s.shared_blks_read) OPERATOR(pg_catalog./)"
									   "             (CASE WHEN s.calls OPERATOR(pg_catalog.=) 0 THEN NULL ELSE s.calls END)::pg_catalog.float8"
									   "        END AS blocks_after,"
									   "   (SELECT (e OPERATOR(pg_catalog.->>) 'mean_time_ms')::pg_catalog.float8"
									   "    FROM %s.perfopt_recommendations r, pg_catalog.jsonb_array_elements(r.statements) e"
									   "    WHERE r.id OPERATOR(pg_catalog.=) d.recommendation_id"
									   "    AND (e OPERATOR(pg_catalog.->>) 'queryid')::pg_catalog.int8 OPERATOR(pg_catalog.=) b.queryid)"
									   "   AS mean_before"
									   "  FROM (SELECT due.*, COALESCE((SELECT stats_reset OPERATOR(pg_catalog.>) due.built_at"
									   "          FROM %s.pg_stat_statements_info), false) AS restarted FROM due) d,"
									   "   LATERAL (SELECT (x OPERATOR(pg_catalog.->>) 'queryid')::pg_catalog.int8 AS queryid, x AS b"
									   "            FROM pg_catalog.jsonb_array_elements(d.baseline) x) b"
									   "   LEFT JOIN %s.pg_stat_statements(true) s"
									   "     ON s.queryid OPERATOR(pg_catalog.=) b.queryid"
									   "     AND s.dbid OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_database"
									   "        WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) AND s.toplevel),"
									   " verdict AS ("
									   "  SELECT d.id, d.recommendation_id, d.index_name,"
									   /* a partitioned index: its partitions' indexes are scanned */
									   "   COALESCE((SELECT pg_catalog.sum(u.idx_scan) FROM pg_catalog.pg_stat_user_indexes u"
									   "     WHERE u.indexrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(d.index_name)"
									   "     OR u.indexrelid OPERATOR(pg_catalog.=) ANY (SELECT relid FROM pg_catalog.pg_partition_tree("
									   "       pg_catalog.to_regclass(d.index_name)))), 0) AS scans,"
									   "   COALESCE(pg_catalog.bool_or(p.mean_after OPERATOR(pg_catalog.>)"
									   "            (p.mean_before OPERATOR(pg_catalog.*) %f)), false) AS regressed,"
									   "   COALESCE(pg_catalog.sum(GREATEST(p.mean_before OPERATOR(pg_catalog.-) p.mean_after, 0)"
									   "            OPERATOR(pg_catalog.*) p.calls_after), 0) AS realized_ms,"
									   "   pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('queryid', p.queryid,"
									   "     'calls_after', p.calls_after, 'mean_before_ms', p.mean_before,"
									   "     'mean_after_ms', p.mean_after, 'shared_blocks_per_call_after', p.blocks_after)) AS detail"
									   "  FROM due d LEFT JOIN per_statement p ON p.id OPERATOR(pg_catalog.=) d.id"
									   "  GROUP BY d.id, d.recommendation_id, d.index_name)"
									   " UPDATE %s.perfopt_verifications v SET"
									   "  state = CASE WHEN t.regressed OR (t.scans OPERATOR(pg_catalog.=) 0 AND NOT $3) THEN"
									   "            CASE WHEN $2 THEN 'rolled_back' ELSE 'failed_kept' END"
									   "          WHEN t.scans OPERATOR(pg_catalog.=) 0 THEN 'failed_kept'"
									   "          ELSE 'confirmed' END,"
									   "  checked_at = pg_catalog.now(), index_scans = t.scans,"
									   "  realized_improvement_ms = t.realized_ms,"
									   "  verdict = CASE WHEN t.scans OPERATOR(pg_catalog.=) 0 AND $3 AND NOT t.regressed"
									   "                 THEN 'no scan of the index on the primary during the observation window;"
									   " kept: the standbys of perfopt.advisor_standbys may read through it'"
									   "                 WHEN t.scans OPERATOR(pg_catalog.=) 0"
									   "                 THEN 'no scan of the index during the observation window'"
									   "                 WHEN t.regressed THEN 'a statement it serves became more than 10%% slower'"
									   "                 ELSE 'the index is used and its statements are faster' END,"
									   "  after = t.detail"
									   " FROM verdict t WHERE v.id OPERATOR(pg_catalog.=) t.id"
									   " RETURNING v.state, v.index_name, v.recommendation_id, v.verdict, v.job_id,"
									   "  v.realized_improvement_ms, v.index_scans",
									   schema, schema, quote_identifier(get_namespace_name(pgss)),
									   quote_identifier(get_namespace_name(pgss)),
									   VF_MAX_REGRESSION, schema),
							  3, types, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "perfopt: could not verify the built indexes");

	/* copy the verdicts out: the statements below replace SPI_tuptable */
	{
		SPITupleTable *verdicts = SPI_tuptable;
		uint64		nverdicts = SPI_processed;
		char	  **cols = palloc(sizeof(char *) * Max(nverdicts, 1) * 7);

		for (uint64 r = 0; r < nverdicts; r++)
			for (int c = 0; c < 7; c++)
				cols[r * 7 + c] = SPI_getvalue(verdicts->vals[r], verdicts->tupdesc, c + 1);
		vf_apply_verdicts(schema, cols, nverdicts);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * A confirmed index may make an older one of perfopt's own redundant: same
 * table and access method, plain key columns that begin with the old one's
 * (same opclasses, collations and orders), no expressions, predicates or
 * INCLUDE columns, the old one enforcing nothing and judged already.  Such
 * an old index goes (DROP INDEX CONCURRENTLY, a job), audited and named in
 * the report of the run that built the new one.  Only indexes a perfopt
 * build made (a succeeded create_index job) are ever considered.
 */
static void
vf_drop_superseded(const char *schema, const char *index_name, const char *job)
{
	Oid			type = TEXTOID;
	Datum		value = CStringGetTextDatum(index_name);
	List	   *olds = NIL;
	ListCell   *lc;

	if (SPI_execute_with_args(psprintf(
									   "/* perfopt */ SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'"
									   "  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(oc.relname)"
									   " FROM pg_catalog.pg_index nw"
									   " JOIN pg_catalog.pg_class nc ON nc.oid OPERATOR(pg_catalog.=) nw.indexrelid"
									   " JOIN pg_catalog.pg_index o ON o.indrelid OPERATOR(pg_catalog.=) nw.indrelid"
									   "  AND o.indexrelid OPERATOR(pg_catalog.<>) nw.indexrelid"
									   " JOIN pg_catalog.pg_class oc ON oc.oid OPERATOR(pg_catalog.=) o.indexrelid"
									   " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) oc.relnamespace"
									   " WHERE nw.indexrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)"
									   " AND nw.indisvalid AND o.indisvalid AND oc.relam OPERATOR(pg_catalog.=) nc.relam"
									   " AND NOT (o.indisunique OR o.indisprimary OR o.indisexclusion OR o.indisreplident)"
									   " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k"
									   "   WHERE k.conindid OPERATOR(pg_catalog.=) o.indexrelid)"
									   " AND o.indexprs IS NULL AND o.indpred IS NULL AND nw.indexprs IS NULL AND nw.indpred IS NULL"
									   " AND o.indnatts OPERATOR(pg_catalog.=) o.indnkeyatts"
									   " AND o.indnkeyatts OPERATOR(pg_catalog.<) nw.indnkeyatts"
									   " AND (o.indkey::pg_catalog.int2[])[0:o.indnkeyatts OPERATOR(pg_catalog.-) 1]"
									   "  OPERATOR(pg_catalog.=) (nw.indkey::pg_catalog.int2[])[0:o.indnkeyatts OPERATOR(pg_catalog.-) 1]"
									   " AND (o.indclass::pg_catalog.oid[])[0:o.indnkeyatts OPERATOR(pg_catalog.-) 1]"
									   "  OPERATOR(pg_catalog.=) (nw.indclass::pg_catalog.oid[])[0:o.indnkeyatts OPERATOR(pg_catalog.-) 1]"
									   " AND (o.indcollation::pg_catalog.oid[])[0:o.indnkeyatts OPERATOR(pg_catalog.-) 1]"
									   "  OPERATOR(pg_catalog.=) (nw.indcollation::pg_catalog.oid[])[0:o.indnkeyatts OPERATOR(pg_catalog.-) 1]"
									   " AND (o.indoption::pg_catalog.int2[])[0:o.indnkeyatts OPERATOR(pg_catalog.-) 1]"
									   "  OPERATOR(pg_catalog.=) (nw.indoption::pg_catalog.int2[])[0:o.indnkeyatts OPERATOR(pg_catalog.-) 1]"
									   " AND EXISTS (SELECT 1 FROM %s.perfopt_jobs j"
									   "   WHERE j.kind OPERATOR(pg_catalog.=) 'create_index'"
									   "   AND j.state OPERATOR(pg_catalog.=) 'succeeded'"
									   "   AND pg_catalog.to_regclass(j.index_name) OPERATOR(pg_catalog.=) o.indexrelid)"
									   " AND NOT EXISTS (SELECT 1 FROM %s.perfopt_verifications v"
									   "   WHERE v.state OPERATOR(pg_catalog.=) 'observing'"
									   "   AND pg_catalog.to_regclass(v.index_name) OPERATOR(pg_catalog.=) o.indexrelid)"
									   " AND NOT EXISTS (SELECT 1 FROM %s.perfopt_jobs d"
									   "   WHERE d.kind OPERATOR(pg_catalog.=) 'drop_index'"
									   "   AND d.state OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running'])"
									   "   AND pg_catalog.to_regclass(d.index_name) OPERATOR(pg_catalog.=) o.indexrelid)"
									   " ORDER BY o.indexrelid", schema, schema, schema),
							  1, &type, &value, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not look for indexes the new one supersedes");
	/* copied out first: the statements below replace SPI_tuptable */
	for (uint64 r = 0; r < SPI_processed; r++)
		olds = lappend(olds, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
	foreach(lc, olds)
	{
		char	   *old = lfirst(lc);
		StringInfoData args;

		initStringInfo(&args);
		appendStringInfoString(&args, "{\"index\": ");
		escape_json(&args, old);
		appendStringInfoString(&args, ", \"superseded_by\": ");
		escape_json(&args, index_name);
		appendStringInfoChar(&args, '}');
		ereport(LOG,
				(errmsg("perfopt: dropping the index %s that perfopt built", old),
				 errdetail("Index %s, which perfopt built later and which passed its verification, serves the same lookups.",
						   index_name)));
		perfopt_job_queue("drop_index", psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s", old),
						  NULL, old, 0, 0, 0);
		perfopt_audit("drop_superseded_index", args.data, "queued");
		if (job && SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_history h SET report = pg_catalog.jsonb_set(h.report, '{superseded}',"
										" COALESCE(h.report OPERATOR(pg_catalog.->) 'superseded', '[]')"
										" OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(%s::pg_catalog.jsonb))"
										" FROM %s.perfopt_jobs j WHERE j.id OPERATOR(pg_catalog.=) %s"
										" AND h.id OPERATOR(pg_catalog.=) j.run_id",
										schema, quote_literal_cstr(args.data), schema, job),
							   false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "perfopt: could not record the superseded index in perfopt_history");
	}
}

/* log, record in the run's report, and roll back where the verdict says so */
static void
vf_apply_verdicts(const char *schema, char **cols, uint64 n)
{
	for (uint64 r = 0; r < n; r++)
	{
		char	   *state = cols[r * 7 + 0];
		char	   *index_name = cols[r * 7 + 1];
		char	   *rec = cols[r * 7 + 2];
		char	   *verdict = cols[r * 7 + 3];
		char	   *job = cols[r * 7 + 4];
		char	   *realized = cols[r * 7 + 5];
		char	   *scans = cols[r * 7 + 6];

		ereport(LOG,
				(errmsg("perfopt: verification of %s: %s (%s)", index_name, verdict, state)));
		/* the realized improvement joins the report of the run that built it */
		if (job && SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_history h SET report = pg_catalog.jsonb_set(h.report, '{verifications}',"
										" COALESCE(h.report OPERATOR(pg_catalog.->) 'verifications', '[]')"
										" OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object("
										"  'index', %s, 'state', %s, 'verdict', %s, 'index_scans', '%s'::pg_catalog.int8,"
										"  'realized_improvement_ms', '%s'::pg_catalog.float8)))"
										" FROM %s.perfopt_jobs j WHERE j.id OPERATOR(pg_catalog.=) %s"
										" AND h.id OPERATOR(pg_catalog.=) j.run_id",
										schema, quote_literal_cstr(index_name), quote_literal_cstr(state),
										quote_literal_cstr(verdict), scans ? scans : "0",
										realized ? realized : "0", schema, job),
							   false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "perfopt: could not record the verification in perfopt_history");
		if (strcmp(state, "confirmed") == 0 && perfopt_drop_superseded_indexes)
			vf_drop_superseded(schema, index_name, job);
		if (strcmp(state, "rolled_back") != 0)
			continue;
		/* take it back: a drop job, and the recommendation never again */
		perfopt_job_queue("drop_index", psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s", index_name),
						  NULL, index_name, 0, 0, 0);
		if (rec && SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_recommendations SET status = 'dismissed',"
										" reason = reason OPERATOR(pg_catalog.||) '; rolled back: ' OPERATOR(pg_catalog.||) %s,"
										" updated_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) %s",
										schema, quote_literal_cstr(verdict), rec),
							   false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "perfopt: could not dismiss recommendation %s", rec);
	}
}

/*
 * Tell the worker when this database's next verdict is due (the earliest
 * observing build's window end), or that none is.  Called by the runner as
 * it leaves, outside a transaction.
 */
void
perfopt_verify_schedule(const char *schema)
{
	TimestampTz due = 0;
	int			i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	perfopt_spi_connect();
	if (SPI_execute(psprintf("/* perfopt */ SELECT pg_catalog.min(v.built_at)"
							 " FROM %s.perfopt_verifications v"
							 " WHERE v.state OPERATOR(pg_catalog.=) 'observing'", schema),
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			due = TimestampTzPlusMilliseconds(DatumGetTimestampTz(d),
											  (int64) perfopt_verification_window * 1000);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < perfopt_shared->verify_ndbs; i++)
		if (perfopt_shared->verify_dbs[i] == MyDatabaseId)
			break;
	if (due == 0 && i < perfopt_shared->verify_ndbs)
	{
		/* none due any more: the last entry takes this one's place */
		perfopt_shared->verify_ndbs--;
		perfopt_shared->verify_dbs[i] = perfopt_shared->verify_dbs[perfopt_shared->verify_ndbs];
		perfopt_shared->verify_due[i] = perfopt_shared->verify_due[perfopt_shared->verify_ndbs];
	}
	else if (due != 0 && i < PERFOPT_JOB_DBS)
	{
		if (i == perfopt_shared->verify_ndbs)
			perfopt_shared->verify_ndbs++;
		perfopt_shared->verify_dbs[i] = MyDatabaseId;
		perfopt_shared->verify_due[i] = due;
	}
	LWLockRelease(perfopt_shared->lock);
}
