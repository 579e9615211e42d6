/*
 * advise.c — perfopt_advise(): runs the advisor over this database's
 * workload and keeps the result in perfopt_recommendations and
 * perfopt_advisor_skipped; perfopt_dismiss_recommendation().
 *
 * The run holds AccessShareLocks on the workload's tables until its
 * transaction ends, waits at most 1 s for any of them (lock_timeout), and
 * keeps pg_stat_statements from recording its own parsing and planning.
 * On a standby it advises but writes nothing: the recommendations come
 * back in the summary instead.
 */
#include "postgres.h"

#include "access/brin.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "tsearch/ts_cache.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "advisor.h"
#include "audit.h"
#include "extschema.h"
#include "jsonutil.h"
#include "perfopt.h"
#include "spiutil.h"

PG_FUNCTION_INFO_V1(perfopt_advise);
PG_FUNCTION_INFO_V1(perfopt_dismiss_recommendation);


static const char *
get_ts_config_name_quoted(void)
{
	return quote_literal_cstr(DatumGetCString(DirectFunctionCall1(regconfigout,
																  ObjectIdGetDatum(getTSCurrentConfig(true)))));
}

/* the statements the index serves, with costs, and the reason in words */
static void
adv_evidence(AdvRecommendation *rec, List *chosen, List *statements)
{
	List	   *served = adv_served_by(rec->idx, chosen, statements);
	List	   *without = list_delete_ptr(list_copy(chosen), rec->idx);
	StringInfoData js;
	ListCell   *lc;
	AdvStatement *top = NULL;
	double		top_reduction = 0;

	initStringInfo(&js);
	appendStringInfoChar(&js, '[');
	rec->benefit_ms = 0;
	foreach(lc, served)
	{
		AdvStatement *st = lfirst(lc);
		double		after = adv_cost_under(st, chosen);
		double		before_this = adv_cost_under(st, without);
		double		reduction;

		/* planning failed, or the statement ran out of its time */
		if (after < 0 || before_this < 0 || st->cost_base <= 0)
			continue;
		reduction = 100.0 * (st->cost_base - after) / st->cost_base;
		rec->benefit_ms += st->total_time_ms * (before_this - after) / st->cost_base;
		if (top == NULL || reduction > top_reduction)
		{
			top = st;
			top_reduction = reduction;
		}
		if (js.len > 1)
			appendStringInfoString(&js, ", ");
		appendStringInfo(&js, "{\"queryid\": " INT64_FORMAT ", \"query\": ", st->queryid);
		escape_json(&js, st->text);
		appendStringInfoString(&js, ", \"calls\": ");
		perfopt_json_number(&js, st->calls);
		appendStringInfoString(&js, ", \"mean_time_ms\": ");
		perfopt_json_number(&js, st->mean_time_ms);
		appendStringInfoString(&js, ", \"cost_before\": ");
		perfopt_json_number(&js, st->cost_base);
		appendStringInfoString(&js, ", \"cost_after\": ");
		perfopt_json_number(&js, after);
		appendStringInfoString(&js, ", \"cost_reduction_pct\": ");
		perfopt_json_number(&js, reduction);
		appendStringInfoChar(&js, '}');
	}
	appendStringInfoChar(&js, ']');
	rec->statements_json = js.data;
	rec->penalty_ms = adv_index_write_penalty(rec->idx);
	rec->size_bytes = (double) rec->idx->pages * BLCKSZ;
	if (top)
		rec->reason = psprintf("serves %d statement%s; the best gain: queryid " INT64_FORMAT
							   " (%.0f calls) falls from cost %.0f to %.0f (-%.0f%%);"
							   " saves about %.0f ms of the recorded workload time, for %.0f ms of index writes and %.1f MB",
							   list_length(served), list_length(served) == 1 ? "" : "s",
							   top->queryid, top->calls, top->cost_base,
							   adv_cost_under(top, chosen), top_reduction, rec->benefit_ms,
							   rec->penalty_ms, rec->size_bytes / (1024 * 1024));
	else
		rec->reason = pstrdup("no statement gains from it in the final set");
	if (rec->idx->pred != NIL)
		rec->reason = psprintf("%s; a partial index: its predicate's value is the one nearly every sampled execution of its statements shares, and it keeps %.0f%% of the rows",
							   rec->reason, 100.0 * rec->idx->pred_selectivity);
	if (rec->idx->amoid == BRIN_AM_OID)
		rec->reason = psprintf("%s; a BRIN index: the table is stored in the column's order (physical correlation %.2f), so a summary per %d pages finds the ranges nearly as fast as a btree, at %.1f%% of the btree's estimated size",
							   rec->reason, rec->idx->correlation, BRIN_DEFAULT_PAGES_PER_RANGE,
							   rec->idx->btree_pages > 0 ? 100.0 * rec->idx->pages / rec->idx->btree_pages : 0.0);
	if (rec->assumes_ts_config)
		rec->reason = psprintf("%s; pg_stat_statements hides the statement's text search configuration, so the index uses default_text_search_config (%s): check that the application uses it",
							   rec->reason, get_ts_config_name_quoted());
}

/* replace the new recommendations and the skipped statements */
static void
adv_persist(List *recs, List *statements)
{
	char	   *schema = get_namespace_name(perfopt_extension_schema(false));
	const char *qschema = quote_identifier(schema);
	ListCell   *lc;
	char	   *upsert;
	char	   *skipped;
	Oid			rtypes[11] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, INT8OID, FLOAT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Oid			stypes[4] = {INT8OID, OIDOID, TEXTOID, TEXTOID};
	PerfoptSavedUser saved;

	upsert = psprintf("/* perfopt */ INSERT INTO %s.perfopt_recommendations AS r"
					  " (kind, table_name, index_name, ddl, definition, benefit_ms,"
					  "  estimated_size_bytes, write_penalty_ms, statements, reason, setting)"
					  " VALUES ($10, $1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.jsonb, $9, $11)"
					  " ON CONFLICT (definition) DO UPDATE SET"
					  " index_name = EXCLUDED.index_name, ddl = EXCLUDED.ddl,"
					  " benefit_ms = EXCLUDED.benefit_ms,"
					  " estimated_size_bytes = EXCLUDED.estimated_size_bytes,"
					  " write_penalty_ms = EXCLUDED.write_penalty_ms,"
					  " statements = EXCLUDED.statements, reason = EXCLUDED.reason,"
					  " updated_at = pg_catalog.now()", qschema);
	skipped = psprintf("/* perfopt */ INSERT INTO %s.perfopt_advisor_skipped"
					   " (queryid, userid, query, reason) VALUES ($1, $2, $3, $4)"
					   " ON CONFLICT DO NOTHING", qschema);

	perfopt_as_owner_begin(&saved);
	perfopt_spi_connect();
	foreach(lc, recs)
	{
		AdvRecommendation *rec = lfirst(lc);
		Datum		values[11];
		char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

		/* configuration rows have a setting, no table and no index */
		values[0] = rec->table_name ? CStringGetTextDatum(rec->table_name) : (Datum) 0;
		nulls[0] = rec->table_name ? ' ' : 'n';
		values[1] = rec->index_name ? CStringGetTextDatum(rec->index_name) : (Datum) 0;
		nulls[1] = rec->index_name ? ' ' : 'n';
		values[10] = rec->setting ? CStringGetTextDatum(rec->setting) : (Datum) 0;
		nulls[10] = rec->setting ? ' ' : 'n';
		values[2] = CStringGetTextDatum(rec->ddl);
		values[3] = CStringGetTextDatum(rec->definition);
		values[4] = Float8GetDatum(rec->benefit_ms);
		values[5] = Int64GetDatum((int64) rec->size_bytes);
		values[6] = Float8GetDatum(rec->penalty_ms);
		values[7] = CStringGetTextDatum(rec->statements_json);
		values[8] = CStringGetTextDatum(rec->reason);
		values[9] = CStringGetTextDatum(rec->kind);
		if (SPI_execute_with_args(upsert, 11, rtypes, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "perfopt: could not write perfopt_recommendations");
	}
	/* recommendations of earlier runs that this run no longer makes */
	if (SPI_execute(psprintf("/* perfopt */ DELETE FROM %s.perfopt_recommendations"
							 " WHERE status OPERATOR(pg_catalog.=) 'new'"
							 " AND updated_at OPERATOR(pg_catalog.<) pg_catalog.now()", qschema),
					false, 0) != SPI_OK_DELETE)
		elog(ERROR, "perfopt: could not refresh perfopt_recommendations");

	if (SPI_execute(psprintf("/* perfopt */ DELETE FROM %s.perfopt_advisor_skipped", qschema),
					false, 0) != SPI_OK_DELETE)
		elog(ERROR, "perfopt: could not refresh perfopt_advisor_skipped");
	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);
		Datum		values[4];

		/* skipped, or dropped when it ran out of time */
		if ((st->query != NULL && !st->over_budget) || st->skip_reason == NULL)
			continue;
		values[0] = Int64GetDatum(st->queryid);
		values[1] = ObjectIdGetDatum(st->userid);
		values[2] = CStringGetTextDatum(st->text);
		values[3] = CStringGetTextDatum(st->skip_reason);
		if (SPI_execute_with_args(skipped, 4, stypes, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "perfopt: could not write perfopt_advisor_skipped");
	}
	SPI_finish();
	perfopt_as_owner_end(&saved);
}

/* the slow statements with their plans and findings, linked to the recommendations */
static int
adv_persist_slow(List *statements, bool write)
{
	char	   *qschema = pstrdup(quote_identifier(get_namespace_name(perfopt_extension_schema(false))));
	double		workload_ms = 0;
	List	   *rows = NIL;
	ListCell   *lc;
	PerfoptSavedUser saved;
	Oid			types[9] = {INT8OID, OIDOID, TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	FLOAT8OID, TEXTOID, TEXTARRAYOID};
	char	   *insert;

	foreach(lc, statements)
		workload_ms += ((AdvStatement *) lfirst(lc))->total_time_ms;

	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);
		char	   *plan_json;
		List	   *findings;
		Datum	   *values;
		Datum	   *texts;
		ListCell   *lf;
		int			n = 0;

		if (st->query == NULL || st->mean_time_ms < perfopt_slow_query_ms ||
			!adv_slow_plan(st, &plan_json, &findings))
			continue;
		texts = palloc(sizeof(Datum) * Max(list_length(findings), 1));
		foreach(lf, findings)
			texts[n++] = CStringGetTextDatum(lfirst(lf));
		values = palloc(sizeof(Datum) * 9);
		values[0] = Int64GetDatum(st->queryid);
		values[1] = ObjectIdGetDatum(st->userid);
		values[2] = CStringGetTextDatum(st->text);
		values[3] = Float8GetDatum(st->calls);
		values[4] = Float8GetDatum(st->mean_time_ms);
		values[5] = Float8GetDatum(st->total_time_ms);
		values[6] = Float8GetDatum(workload_ms > 0 ? 100.0 * st->total_time_ms / workload_ms : 0);
		values[7] = CStringGetTextDatum(plan_json);
		values[8] = PointerGetDatum(construct_array(texts, n, TEXTOID, -1, false, TYPALIGN_INT));
		rows = lappend(rows, values);
	}
	if (!write)
		return list_length(rows);

	insert = psprintf("/* perfopt */ INSERT INTO %s.perfopt_slow_queries"
					  " (queryid, userid, query, calls, mean_time_ms, total_time_ms,"
					  "  workload_share_pct, plan, findings)"
					  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.jsonb, $9)"
					  " ON CONFLICT DO NOTHING", qschema);
	perfopt_as_owner_begin(&saved);
	perfopt_spi_connect();
	if (SPI_execute(psprintf("/* perfopt */ DELETE FROM %s.perfopt_slow_queries", qschema),
					false, 0) != SPI_OK_DELETE)
		elog(ERROR, "perfopt: could not refresh perfopt_slow_queries");
	foreach(lc, rows)
		if (SPI_execute_with_args(insert, 9, types, lfirst(lc), NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "perfopt: could not write perfopt_slow_queries");
	if (SPI_execute(psprintf("/* perfopt */ UPDATE %s.perfopt_slow_queries s"
							 " SET recommendation_ids = COALESCE((SELECT pg_catalog.array_agg(r.id ORDER BY r.id)"
							 "   FROM %s.perfopt_recommendations r, pg_catalog.jsonb_array_elements(r.statements) e"
							 "   WHERE (e OPERATOR(pg_catalog.->>) 'queryid')::pg_catalog.int8"
							 "         OPERATOR(pg_catalog.=) s.queryid), '{}')", qschema, qschema),
					false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "perfopt: could not link perfopt_slow_queries");
	SPI_finish();
	perfopt_as_owner_end(&saved);
	return list_length(rows);
}

/* lock_timeout for this run, and no pg_stat_statements entries of our own */
static int
adv_set_local_gucs(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("lock_timeout", "1000", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (GetConfigOption("pg_stat_statements.track", true, false) != NULL)
		(void) set_config_option("pg_stat_statements.track", "none", PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * One advisor run over this database; persist false (a standby) writes
 * nothing; kept false (a dry run that rolls its writes back) reports them
 * as not persisted.  Returns the summary as jsonb, with "actions": every
 * recommendation's kind, ddl, size, benefit and reason.
 */
Datum
perfopt_advise_run(bool persist, bool kept)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "perfopt advise",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TimestampTz start = GetCurrentTimestamp();
	int			nestlevel;
	List	   *statements;
	List	   *chosen;
	List	   *recs = NIL;
	List	   *config;
	ListCell   *lc;
	int			analyzed = 0;
	int			nslow;
	int64		calls_before = adv_planner_calls;
	StringInfoData summary;
	Datum		result;

	(void) perfopt_extension_schema(false);
	persist = persist && !RecoveryInProgress();
	nestlevel = adv_set_local_gucs();

	adv_budget_begin_run();
	statements = adv_workload_load();
	adv_candidates_reset();
	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);

		adv_statement_prepare(st);
		if (st->query)
		{
			analyzed++;
			adv_candidates_for(st);
		}
	}
	chosen = adv_select(statements, adv_writes_load(), adv_candidates());
	foreach(lc, chosen)
	{
		AdvRecommendation *rec = palloc0(sizeof(AdvRecommendation));

		rec->kind = "create_index";
		rec->idx = lfirst(lc);
		adv_describe(rec);
		adv_evidence(rec, chosen, statements);
		recs = lappend(recs, rec);
	}
	recs = list_concat(recs, adv_hygiene(statements, recs));
	recs = list_concat(recs, adv_stats_advice(statements));
	config = adv_config_advice();
	if (persist)
		adv_persist(list_concat_copy(recs, config), statements);
	nslow = adv_persist_slow(statements, persist);

	initStringInfo(&summary);
	appendStringInfo(&summary,
					 "{\"statements\": %d, \"analyzed\": %d, \"skipped\": %d,"
					 " \"candidates\": %d, \"planner_calls\": " INT64_FORMAT ","
					 " \"recommendations\": %d, \"elapsed_ms\": ",
					 list_length(statements), analyzed, list_length(statements) - analyzed,
					 list_length(adv_candidates()), adv_planner_calls - calls_before,
					 list_length(recs));
	perfopt_json_number(&summary,
						(double) (GetCurrentTimestamp() - start) / 1000.0);
	appendStringInfo(&summary, ", \"slow_queries\": %d, \"persisted\": %s, \"ddl\": [",
					 nslow, persist && kept ? "true" : "false");
	foreach(lc, recs)
	{
		if (lc != list_head(recs))
			appendStringInfoString(&summary, ", ");
		escape_json(&summary, ((AdvRecommendation *) lfirst(lc))->ddl);
	}
	appendStringInfoString(&summary, "], \"actions\": [");
	foreach(lc, recs)
	{
		AdvRecommendation *rec = lfirst(lc);

		if (lc != list_head(recs))
			appendStringInfoString(&summary, ", ");
		appendStringInfoString(&summary, "{\"kind\": ");
		escape_json(&summary, rec->kind);
		appendStringInfoString(&summary, ", \"ddl\": ");
		escape_json(&summary, rec->ddl);
		appendStringInfoString(&summary, ", \"table\": ");
		escape_json(&summary, rec->table_name);
		appendStringInfoString(&summary, ", \"reason\": ");
		escape_json(&summary, rec->reason);
		appendStringInfoString(&summary, ", \"benefit_ms\": ");
		perfopt_json_number(&summary, rec->benefit_ms);
		appendStringInfoString(&summary, ", \"estimated_size_bytes\": ");
		perfopt_json_number(&summary, rec->size_bytes);
		appendStringInfoChar(&summary, '}');
	}
	/* configuration advice: ALTER SYSTEM to consider, never applied */
	appendStringInfoString(&summary, "], \"configuration\": [");
	foreach(lc, config)
	{
		AdvRecommendation *rec = lfirst(lc);

		if (lc != list_head(config))
			appendStringInfoString(&summary, ", ");
		appendStringInfoString(&summary, "{\"setting\": ");
		escape_json(&summary, rec->setting);
		appendStringInfoString(&summary, ", \"ddl\": ");
		escape_json(&summary, rec->ddl);
		appendStringInfoString(&summary, ", \"reason\": ");
		escape_json(&summary, rec->reason);
		appendStringInfoChar(&summary, '}');
	}
	appendStringInfoString(&summary, "]}");

	/* nothing set inside the run outlives it (usercode.c rolls back more) */
	AtEOXact_GUC(false, nestlevel);
	MemoryContextSwitchTo(old);
	result = perfopt_jsonb_from_text(summary.data);
	MemoryContextDelete(cxt);
	return result;
}

/* the SQL function: a state change like the others, so audited */
Datum
perfopt_advise(PG_FUNCTION_ARGS)
{
	Datum		result = perfopt_advise_run(true, true);

	if (!RecoveryInProgress())
	{
		Jsonb	   *jb = DatumGetJsonbP(result);
		JsonbValue *n = getKeyJsonValueFromContainer(&jb->root, "recommendations",
													 strlen("recommendations"), NULL);

		perfopt_audit("advise", "{}",
					  psprintf("%s recommendation(s)",
							   n && n->type == jbvNumeric ?
							   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n->val.numeric))) :
							   "?"));
	}
	PG_RETURN_DATUM(result);
}

/* the advisor worker's refresh: not a caller's change, not audited */
void
perfopt_advise_automatic(void)
{
	(void) perfopt_advise_run(true, true);
}

Datum
perfopt_dismiss_recommendation(PG_FUNCTION_ARGS)
{
	int64		id;
	char	   *schema;
	Oid			type = INT8OID;
	Datum		value;
	char	   *status = NULL;
	char		args[64];
	bool		changed;
	PerfoptSavedUser saved;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("recommendation id must not be null")));
	id = PG_GETARG_INT64(0);
	value = Int64GetDatum(id);
	schema = get_namespace_name(perfopt_extension_schema(false));

	perfopt_as_owner_begin(&saved);
	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ SELECT status FROM %s.perfopt_recommendations"
									   " WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE", quote_identifier(schema)),
							  1, &type, &value, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_recommendations");
	if (SPI_processed == 1)
		status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("recommendation " INT64_FORMAT " does not exist", id)));
	changed = strcmp(status, "dismissed") != 0;
	if (changed &&
		SPI_execute_with_args(psprintf("/* perfopt */ UPDATE %s.perfopt_recommendations"
									   " SET status = 'dismissed', updated_at = pg_catalog.now()"
									   " WHERE id OPERATOR(pg_catalog.=) $1", quote_identifier(schema)),
							  1, &type, &value, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "perfopt: could not update perfopt_recommendations");
	SPI_finish();
	perfopt_as_owner_end(&saved);

	snprintf(args, sizeof(args), "{\"id\": " INT64_FORMAT "}", id);
	if (changed)
		perfopt_audit("dismiss_recommendation", args, "dismissed");
	PG_RETURN_DATUM(perfopt_jsonb_from_text(psprintf("{\"id\": " INT64_FORMAT ", \"changed\": %s, \"status\": \"dismissed\"}",
													 id, changed ? "true" : "false")));
}
