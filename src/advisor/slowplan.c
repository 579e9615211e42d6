/*
 * slowplan.c — the slow statements of the workload, each with the generic
 * plan perfopt made for it (EXPLAIN-style JSON built from the plan tree,
 * with the existing indexes only) and its findings in words: a sequential
 * scan of a large table keeping few rows, a sort that an ORDER BY ... LIMIT
 * index would avoid, a row estimate far from the rows pg_stat_statements
 * saw, a nested loop rescanning a large table.
 *
 * Planning runs as the statement's role in a subtransaction, like every
 * advisor plan; the results go to perfopt_slow_queries (advise.c).
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "optimizer/plancat.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"

#include "advisor.h"
#include "compat.h"
#include "jsonutil.h"
#include "perfopt.h"

/* a scan keeping less than this share of the table filters "most rows" */
#define SP_SELECTIVE_SHARE 0.1
/* estimate and reality this many times apart are "far" */
#define SP_ESTIMATE_FACTOR 10.0

typedef struct SpState
{
	PlannedStmt *stmt;
	StringInfoData json;
	List	   *findings;		/* char * */
} SpState;

static const char *
sp_node_name(Plan *plan)
{
	switch (nodeTag(plan))
	{
		case T_SeqScan:
			return "Seq Scan";
		case T_IndexScan:
			return "Index Scan";
		case T_IndexOnlyScan:
			return "Index Only Scan";
		case T_BitmapHeapScan:
			return "Bitmap Heap Scan";
		case T_BitmapIndexScan:
			return "Bitmap Index Scan";
		case T_BitmapAnd:
			return "BitmapAnd";
		case T_BitmapOr:
			return "BitmapOr";
		case T_NestLoop:
			return "Nested Loop";
		case T_HashJoin:
			return "Hash Join";
		case T_MergeJoin:
			return "Merge Join";
		case T_Hash:
			return "Hash";
		case T_Sort:
			return "Sort";
		case T_IncrementalSort:
			return "Incremental Sort";
		case T_Limit:
			return "Limit";
		case T_Agg:
			return "Aggregate";
		case T_Group:
			return "Group";
		case T_Material:
			return "Materialize";
		case T_Memoize:
			return "Memoize";
		case T_Result:
			return "Result";
		case T_ModifyTable:
			return "ModifyTable";
		case T_Append:
			return "Append";
		case T_MergeAppend:
			return "Merge Append";
		case T_SubqueryScan:
			return "Subquery Scan";
		case T_FunctionScan:
			return "Function Scan";
		case T_CteScan:
			return "CTE Scan";
		case T_ValuesScan:
			return "Values Scan";
		case T_Unique:
			return "Unique";
		case T_WindowAgg:
			return "WindowAgg";
		case T_LockRows:
			return "LockRows";
		case T_SetOp:
			return "SetOp";
		case T_Gather:
			return "Gather";
		case T_GatherMerge:
			return "Gather Merge";
		default:
			return "Other";
	}
}

static Oid
sp_scan_relid(SpState *sp, Plan *plan)
{
	Index		scanrelid;

	switch (nodeTag(plan))
	{
		case T_SeqScan:
		case T_IndexScan:
		case T_IndexOnlyScan:
		case T_BitmapHeapScan:
			scanrelid = ((Scan *) plan)->scanrelid;
			break;
		default:
			return InvalidOid;
	}
	if (scanrelid == 0 || scanrelid > (Index) list_length(sp->stmt->rtable))
		return InvalidOid;
	return rt_fetch(scanrelid, sp->stmt->rtable)->relid;
}

static void
sp_finding(SpState *sp, Plan *plan, Plan *parent)
{
	Oid			relid = sp_scan_relid(sp, plan);

	if (IsA(plan, SeqScan) && OidIsValid(relid))
	{
		BlockNumber pages;
		double		tuples;
		double		allvisfrac;
		Relation	rel = table_open(relid, AccessShareLock);

		estimate_rel_size(rel, NULL, &pages, &tuples, &allvisfrac);
		table_close(rel, AccessShareLock);
		if ((double) pages * BLCKSZ >= (double) perfopt_min_table_size * 1024 &&
			plan->qual != NIL && plan->plan_rows < tuples * SP_SELECTIVE_SHARE)
			sp->findings = lappend(sp->findings,
								   psprintf("sequential scan of %s reads about %.0f rows to keep about %.0f: an index on the filtered columns would read far fewer pages",
											quote_identifier(get_rel_name(relid)), tuples, plan->plan_rows));
		if (parent && IsA(parent, NestLoop) && ((Plan *) parent)->righttree == plan &&
			(double) pages * BLCKSZ >= (double) perfopt_min_table_size * 1024)
			sp->findings = lappend(sp->findings,
								   psprintf("a nested loop scans %s sequentially for each outer row: the join key has no usable index",
											quote_identifier(get_rel_name(relid))));
	}
	if (IsA(plan, Limit) && plan->lefttree && IsA(plan->lefttree, Sort))
		sp->findings = lappend(sp->findings,
							   psprintf("sorts about %.0f rows to return the first %.0f: an index on the ORDER BY columns would return them in order",
										plan->lefttree->plan_rows, plan->plan_rows));
}

static void sp_node(SpState *sp, Plan *plan, Plan *parent);

static void
sp_children(SpState *sp, List *plans, Plan *parent, bool *first)
{
	ListCell   *lc;

	foreach(lc, plans)
	{
		if (!*first)
			appendStringInfoString(&sp->json, ", ");
		*first = false;
		sp_node(sp, lfirst(lc), parent);
	}
}

static void
sp_node(SpState *sp, Plan *plan, Plan *parent)
{
	Oid			relid = sp_scan_relid(sp, plan);
	List	   *children = NIL;
	bool		first = true;

	check_stack_depth();
	sp_finding(sp, plan, parent);

	appendStringInfoString(&sp->json, "{\"Node Type\": ");
	escape_json(&sp->json, sp_node_name(plan));
	if (OidIsValid(relid))
	{
		appendStringInfoString(&sp->json, ", \"Relation Name\": ");
		escape_json(&sp->json, get_rel_name(relid) ? get_rel_name(relid) : "?");
	}
	if (IsA(plan, IndexScan) || IsA(plan, IndexOnlyScan) || IsA(plan, BitmapIndexScan))
	{
		Oid			indexid = IsA(plan, IndexScan) ? ((IndexScan *) plan)->indexid :
			IsA(plan, IndexOnlyScan) ? ((IndexOnlyScan *) plan)->indexid :
			((BitmapIndexScan *) plan)->indexid;
		char	   *name = get_rel_name(indexid);

		appendStringInfoString(&sp->json, ", \"Index Name\": ");
		escape_json(&sp->json, name ? name : "?");
	}
	appendStringInfoString(&sp->json, ", \"Startup Cost\": ");
	perfopt_json_number(&sp->json, plan->startup_cost);
	appendStringInfoString(&sp->json, ", \"Total Cost\": ");
	perfopt_json_number(&sp->json, plan->total_cost);
	appendStringInfoString(&sp->json, ", \"Plan Rows\": ");
	perfopt_json_number(&sp->json, plan->plan_rows);
	appendStringInfo(&sp->json, ", \"Plan Width\": %d", plan->plan_width);

	children = adv_plan_children(plan);
	if (children != NIL)
	{
		appendStringInfoString(&sp->json, ", \"Plans\": [");
		sp_children(sp, children, plan, &first);
		appendStringInfoChar(&sp->json, ']');
	}
	appendStringInfoChar(&sp->json, '}');
}

/* a plan node's children, whatever kind of node it is */
List *
adv_plan_children(Plan *plan)
{
	List	   *children = NIL;

	if (plan->lefttree)
		children = lappend(children, plan->lefttree);
	if (plan->righttree)
		children = lappend(children, plan->righttree);
	if (IsA(plan, Append))
		children = list_concat(children, ((Append *) plan)->appendplans);
	else if (IsA(plan, MergeAppend))
		children = list_concat(children, ((MergeAppend *) plan)->mergeplans);
	else if (IsA(plan, BitmapAnd))
		children = list_concat(children, ((BitmapAnd *) plan)->bitmapplans);
	else if (IsA(plan, BitmapOr))
		children = list_concat(children, ((BitmapOr *) plan)->bitmapplans);
	else if (IsA(plan, SubqueryScan))
		children = lappend(children, ((SubqueryScan *) plan)->subplan);
	return children;
}

static SpState *sp_current;

static void
sp_analyze(AdvStatement *st)
{
	SpState    *sp = sp_current;
	double		actual;
	double		estimated;

	sp->stmt = adv_plan(st, NIL, NIL);
	initStringInfo(&sp->json);
	appendStringInfoString(&sp->json, "{\"Plan\": ");
	sp_node(sp, sp->stmt->planTree, NULL);
	appendStringInfoChar(&sp->json, '}');

	/* rows per call as pg_stat_statements counted them, against the estimate */
	actual = st->calls > 0 ? st->rows / st->calls : 0;
	estimated = IsA(sp->stmt->planTree, ModifyTable) && sp->stmt->planTree->lefttree ?
		sp->stmt->planTree->lefttree->plan_rows : sp->stmt->planTree->plan_rows;
	/* LIKE with a hidden pattern: say what would serve a prefix pattern */
	{
		ListCell   *lc;

		foreach(lc, st->uses)
		{
			AdvUse	   *use = lfirst(lc);

			if (use->kind != ADV_USE_LIKE || use->attnum <= 0)
				continue;
			sp->findings = lappend(sp->findings,
								   psprintf("filters %s.%s with LIKE and a pattern that pg_stat_statements hides: if the patterns are prefixes ('abc%%'), CREATE INDEX CONCURRENTLY ON %s (%s%s) serves them",
											quote_identifier(get_rel_name(use->relid)),
											quote_identifier(get_attname(use->relid, use->attnum, false)),
											quote_identifier(get_rel_name(use->relid)),
											quote_identifier(get_attname(use->relid, use->attnum, false)),
											perfopt_collate_is_c(use->collation) ? "" : " text_pattern_ops"));
		}
	}

	/* a LIMIT $n is estimated at a default share: no evidence either way */
	if (!IsA(sp->stmt->planTree, Limit) && actual >= 1 && estimated >= 1 &&
		(actual > estimated * SP_ESTIMATE_FACTOR || estimated > actual * SP_ESTIMATE_FACTOR))
		sp->findings = lappend(sp->findings,
							   psprintf("the generic plan expects about %.0f rows, the statement returned %.0f per call on average: if plans with real values miss as well, run ANALYZE, or CREATE STATISTICS on columns that are filtered together",
										estimated, actual));
}

/*
 * Plan JSON and findings of a statement; false when planning failed (the
 * statement then gets no entry).
 */
bool
adv_slow_plan(AdvStatement *st, char **plan_json, List **findings)
{
	SpState		sp;
	char	   *saved = st->skip_reason;

	memset(&sp, 0, sizeof(sp));
	sp_current = &sp;
	if (!adv_plan_as_statement_role(st, sp_analyze))
	{
		st->skip_reason = saved;
		return false;
	}
	*plan_json = sp.json.data;
	*findings = sp.findings;
	return true;
}
