/*
 * whatif.c — perfopt's own what-if planning: hypothetical indexes injected
 * through get_relation_info_hook, existing indexes hidden, and a plan (or
 * its cost) for an analyzed statement under that configuration.
 *
 * The hook acts only while adv_plan() runs (wi_active, reset in
 * PG_FINALLY), and only on the levels of the statement it plans, not on
 * queries a function plans meanwhile, so no query that runs ever sees a
 * hypothetical index.  The
 * IndexOptInfo it builds is marked hypothetical, which tells the planner
 * and the AMs' cost functions not to open the index (get_actual_variable_range
 * and gincostestimate honour it).  Sizes and tree heights are estimated
 * from the table's size and the columns' average widths, times the share
 * of the rows a partial index's predicate keeps; a BRIN's from the
 * table's pages, and it gets an amcostestimate of its own (brin.c), since
 * core's may open the index to read its pages per range;
 * adv_brin_overread() reads back, from the plans, how many rows a BRIN's
 * ranges hold per row the statement keeps.  A partial index carries
 * its predicate as get_relation_info would (indpred on the relation's
 * varno); the planner proves it per plan (check_index_predicates), which
 * a custom plan over sampled values can and a generic plan with a $n
 * cannot.
 */
#include "postgres.h"

#include <math.h>

#include "access/amapi.h"
#include "access/gin.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "optimizer/planner.h"
#include "rewrite/rewriteManip.h"
#include "storage/bufpage.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "advisor.h"

/* fake OIDs for hypothetical indexes: never looked up (hypothetical) */
#define WI_FAKE_OID_BASE ((Oid) 0xFFFF0000)
StaticAssertDecl((uint64) WI_FAKE_OID_BASE + ADV_MAX_INDEX_ID <= PG_UINT32_MAX,
				 "hypothetical index ids overflow their OIDs");
/* btree leaf fill factor used by CREATE INDEX */
#define WI_BTREE_FILL 0.90

static get_relation_info_hook_type wi_prev_hook = NULL;
static bool wi_active = false;
static Query *wi_query = NULL;	/* the statement adv_plan() plans */
static List *wi_indexes = NIL;
static List *wi_hidden = NIL;

int64		adv_planner_calls = 0;

static Oid
wi_attcollation(Oid relid, AttrNumber attnum)
{
	Oid			type;
	int32		typmod;
	Oid			collation;

	get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
	return collation;
}

/* the collation an index column gets: the column's, or the expression's */
static Oid
wi_column_collation(AdvIndex *idx, int col, ListCell *expr_cell)
{
	if (idx->attnums[col] != 0)
		return wi_attcollation(idx->relid, idx->attnums[col]);
	return exprCollation((Node *) lfirst(expr_cell));
}

static Oid
wi_column_type(AdvIndex *idx, int col, ListCell *expr_cell, int32 *typmod)
{
	Oid			type;

	if (idx->attnums[col] != 0)
	{
		Oid			collation;

		get_atttypetypmodcoll(idx->relid, idx->attnums[col], &type, typmod, &collation);
		return type;
	}
	*typmod = exprTypmod((Node *) lfirst(expr_cell));
	return exprType((Node *) lfirst(expr_cell));
}

static IndexOptInfo *
wi_build(RelOptInfo *rel, Relation heap, AdvIndex *idx)
{
	IndexOptInfo *info = makeNode(IndexOptInfo);
	IndexAmRoutine *am = GetIndexAmRoutineByAmId(idx->amoid, false);
	int			ncols = idx->ncols;
	int			nkey = idx->nkeycols;
	ListCell   *expr_cell;
	List	   *exprs = copyObject(idx->exprs);
	List	   *pred = copyObject(idx->pred);

	if (rel->relid != 1)
	{
		ChangeVarNodes((Node *) exprs, 1, rel->relid, 0);
		ChangeVarNodes((Node *) pred, 1, rel->relid, 0);
	}

	info->indexoid = WI_FAKE_OID_BASE + (Oid) idx->id;
	info->reltablespace = heap->rd_rel->reltablespace;
	info->rel = rel;
	info->pages = idx->pages;
	/* get_relation_info: a partial index's own tuples, at most the table's */
	info->tuples = pred == NIL ? rel->tuples : Min(idx->tuples, rel->tuples);
	info->tree_height = idx->amoid == BTREE_AM_OID ? idx->tree_height : -1;
	info->ncolumns = ncols;
	info->nkeycolumns = nkey;
	info->indexkeys = palloc0(sizeof(int) * ncols);
	info->indexcollations = palloc0(sizeof(Oid) * nkey);
	info->opfamily = palloc0(sizeof(Oid) * nkey);
	info->opcintype = palloc0(sizeof(Oid) * nkey);
	info->canreturn = palloc0(sizeof(bool) * ncols);
	info->opclassoptions = palloc0(sizeof(bytea *) * ncols);
	info->relam = idx->amoid;

	expr_cell = list_head(exprs);
	for (int i = 0; i < ncols; i++)
	{
		Oid			type;
		int32		typmod;
		Var		   *var;
		Expr	   *tle_expr;

		info->indexkeys[i] = idx->attnums[i];
		/* btree returns every column, GIN none */
		info->canreturn[i] = (idx->amoid == BTREE_AM_OID);
		if (i < nkey)
		{
			info->opfamily[i] = get_opclass_family(idx->opclasses[i]);
			info->opcintype[i] = get_opclass_input_type(idx->opclasses[i]);
			info->indexcollations[i] = wi_column_collation(idx, i, expr_cell);
		}
		type = wi_column_type(idx, i, expr_cell, &typmod);
		if (idx->attnums[i] != 0)
		{
			var = makeVar(rel->relid, idx->attnums[i], type, typmod,
						  wi_attcollation(idx->relid, idx->attnums[i]), 0);
			tle_expr = (Expr *) var;
		}
		else
		{
			tle_expr = (Expr *) lfirst(expr_cell);
			expr_cell = lnext(exprs, expr_cell);
		}
		info->indextlist = lappend(info->indextlist,
								   makeTargetEntry(tle_expr, i + 1, NULL, false));
	}

	if (idx->amoid == BTREE_AM_OID)
	{
		info->sortopfamily = info->opfamily;
		info->reverse_sort = palloc0(sizeof(bool) * nkey);
		info->nulls_first = palloc0(sizeof(bool) * nkey);
	}
	info->indexprs = exprs;
	info->indpred = pred;
	info->predOK = false;		/* check_index_predicates() decides */
	info->unique = false;
	info->immediate = true;
	info->hypothetical = true;

	info->amcanorderbyop = am->amcanorderbyop;
	info->amoptionalkey = am->amoptionalkey;
	info->amsearcharray = am->amsearcharray;
	info->amsearchnulls = am->amsearchnulls;
	info->amcanparallel = am->amcanparallel;
	info->amhasgettuple = (am->amgettuple != NULL);
	info->amhasgetbitmap = (am->amgetbitmap != NULL);
	info->amcanmarkpos = (am->ammarkpos != NULL && am->amrestrpos != NULL);
	info->amcostestimate = am->amcostestimate;
	/* core's would read the pages per range from the index: ours invents them (brin.c) */
	if (idx->amoid == BRIN_AM_OID)
		info->amcostestimate = adv_brin_costestimate;
	return info;
}

/*
 * Is root (a query level) part of the statement adv_plan() plans?  A
 * function the planner runs for it may plan queries of its own through
 * SPI: those must see neither hypothetical nor hidden indexes (their
 * executor would open a fake OID), nor feed the column uses.
 */
bool
adv_planning_our_statement(PlannerInfo *root)
{
	while (root->parent_root != NULL)
		root = root->parent_root;
	return wi_active && root->parse == wi_query;
}

static void
wi_get_relation_info(PlannerInfo *root, Oid relid, bool inhparent, RelOptInfo *rel)
{
	if (wi_prev_hook)
		wi_prev_hook(root, relid, inhparent, rel);

	if (inhparent || !adv_planning_our_statement(root))
		return;

	if (wi_hidden != NIL)
	{
		ListCell   *lc;

		foreach(lc, rel->indexlist)
		{
			IndexOptInfo *info = lfirst(lc);

			if (list_member_oid(wi_hidden, info->indexoid))
				rel->indexlist = foreach_delete_current(rel->indexlist, lc);
		}
	}

	if (wi_indexes != NIL)
	{
		ListCell   *lc;
		Relation	heap = NULL;

		foreach(lc, wi_indexes)
		{
			AdvIndex   *idx = lfirst(lc);

			if (idx->relid != relid)
				continue;
			if (heap == NULL)
				heap = table_open(relid, NoLock);
			rel->indexlist = lcons(wi_build(rel, heap, idx), rel->indexlist);
		}
		if (heap)
			table_close(heap, NoLock);
	}
}

void
perfopt_whatif_install_hook(void)
{
	wi_prev_hook = get_relation_info_hook;
	get_relation_info_hook = wi_get_relation_info;
}

/* average stored width of one index column */
static double
wi_column_width(AdvIndex *idx, int col, ListCell *expr_cell)
{
	int32		typmod;
	Oid			type = wi_column_type(idx, col, expr_cell, &typmod);
	int32		width = 0;

	if (idx->attnums[col] != 0)
		width = get_attavgwidth(idx->relid, idx->attnums[col]);
	if (width <= 0)
		width = get_typavgwidth(type, typmod);
	return width;
}

/*
 * Estimate the size of the index from the table's estimated row count (the
 * planner's own estimate_rel_size) and the average width of its columns,
 * packed at CREATE INDEX's fill factor; internal levels from the fan-out.
 */
void
adv_index_estimate(AdvIndex *idx)
{
	Relation	heap = table_open(idx->relid, AccessShareLock);
	BlockNumber heap_pages = 0;
	double		total_pages = 0;
	double		tuples;
	double		allvisfrac;
	double		width = 0;
	double		item;
	double		usable;
	double		per_page;
	double		leaf;
	double		pages;
	int			height = 0;
	ListCell   *expr_cell = list_head(idx->exprs);

	if (heap->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		/* the partitions' indexes together */
		List	   *tree = find_all_inheritors(idx->relid, AccessShareLock, NULL);
		ListCell   *lc;

		tuples = 0;
		foreach(lc, tree)
		{
			Relation	part = table_open(lfirst_oid(lc), NoLock);
			double		part_tuples = 0;

			if (part->rd_rel->relkind == RELKIND_RELATION)
			{
				estimate_rel_size(part, NULL, &heap_pages, &part_tuples, &allvisfrac);
				total_pages += heap_pages;
			}
			tuples += part_tuples;
			table_close(part, NoLock);
		}
	}
	else
	{
		estimate_rel_size(heap, NULL, &heap_pages, &tuples, &allvisfrac);
		total_pages = heap_pages;
	}
	table_close(heap, AccessShareLock);
	if (idx->pred != NIL)
		tuples = ceil(tuples * Max(0.0, Min(idx->pred_selectivity, 1.0)));

	for (int i = 0; i < idx->ncols; i++)
	{
		width += wi_column_width(idx, i, expr_cell);
		if (idx->attnums[i] == 0 && expr_cell)
			expr_cell = lnext(idx->exprs, expr_cell);
	}

	if (idx->amoid == BRIN_AM_OID)
	{
		/* a summary per range of heap pages, whatever the rows */
		idx->tuples = tuples;
		idx->pages = adv_brin_pages(total_pages, width);
		idx->tree_height = -1;
		return;
	}

	/* an index tuple: header, the data, MAXALIGNed, plus its line pointer */
	item = MAXALIGN(sizeof(IndexTupleData) + width) + sizeof(ItemIdData);
	usable = (BLCKSZ - SizeOfPageHeaderData - MAXALIGN(sizeof(BTPageOpaqueData)));
	if (idx->amoid == BTREE_AM_OID)
		usable *= WI_BTREE_FILL;
	per_page = Max(1.0, floor(usable / item));
	leaf = Max(1.0, ceil(tuples / per_page));
	pages = leaf;
	for (double level = leaf; level > 1; level = ceil(level / per_page))
	{
		pages += ceil(level / per_page);
		height++;
	}
	idx->tuples = tuples;
	idx->pages = (BlockNumber) Min(pages + 1, (double) MaxBlockNumber);	/* + metapage */
	idx->tree_height = height;
}

/* a canonical text of the definition: equal keys, equal indexes */
char *
adv_index_key(AdvIndex *idx)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%u:%u:%d", idx->relid, idx->amoid, idx->nkeycols);
	for (int i = 0; i < idx->ncols; i++)
		appendStringInfo(&buf, ":%d/%u", idx->attnums[i],
						 i < idx->nkeycols ? idx->opclasses[i] : InvalidOid);
	if (idx->exprs)
		appendStringInfo(&buf, ":%s", nodeToString(idx->exprs));
	if (idx->pred)
		appendStringInfo(&buf, ":where:%s", nodeToString(idx->pred));
	return buf.data;
}

/* plan st under indexes (and without hidden), with bound values or generically */
static PlannedStmt *
wi_plan(AdvStatement *st, List *indexes, List *hidden, ParamListInfo bound)
{
	PlannedStmt *volatile result = NULL;
	Query	   *query = copyObject(st->query);

	wi_indexes = indexes;
	wi_hidden = hidden;
	wi_query = query;
	wi_active = true;
	PG_TRY();
	{
		/* serial plans: costs compare like with like */
		result = planner(query, st->parsed_text, 0, bound);
	}
	PG_FINALLY();
	{
		wi_active = false;
		wi_query = NULL;
		wi_indexes = NIL;
		wi_hidden = NIL;
	}
	PG_END_TRY();
	adv_planner_calls++;
	return result;
}

/* the generic plan: every $n unknown (what slow plans and verification show) */
PlannedStmt *
adv_plan(AdvStatement *st, List *indexes, List *hidden)
{
	return wi_plan(st, indexes, hidden, NULL);
}

/*
 * A custom plan with bound values (PARAM_FLAG_CONST), no hypothetical
 * index: verification's, over a statement's value samples.  The plan
 * holds the values: the caller keeps nothing of it but what it used.
 */
PlannedStmt *
adv_plan_custom(AdvStatement *st, ParamListInfo bound)
{
	return wi_plan(st, NIL, NIL, bound);
}

/*
 * The BRIN adv_brin_overread() watches, and what its plans read through
 * it: rows of the ranges it returns, and rows the scan keeps, weighted by
 * the value sets' weights.
 */
static AdvIndex *wi_brin_watch = NULL;
static double wi_brin_read;
static double wi_brin_kept;

/* add up the watched BRIN's bitmap heap scans in the plan */
static void
wi_brin_scans(Plan *plan, double weight)
{
	ListCell   *lc;
	List	   *children;

	if (plan == NULL)
		return;
	check_stack_depth();
	if (IsA(plan, BitmapHeapScan) && plan->lefttree != NULL &&
		IsA(plan->lefttree, BitmapIndexScan) &&
		((BitmapIndexScan *) plan->lefttree)->indexid == WI_FAKE_OID_BASE + (Oid) wi_brin_watch->id)
	{
		wi_brin_read += weight * plan->lefttree->plan_rows;
		wi_brin_kept += weight * Max(plan->plan_rows, 1.0);
	}
	children = adv_plan_children(plan);
	foreach(lc, children)
		wi_brin_scans(lfirst(lc), weight);
	list_free(children);
}

/* one plan's cost; the plan itself is freed at once */
static double
wi_plan_cost(AdvStatement *st, List *indexes, List *hidden, ParamListInfo bound, double weight)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "perfopt what-if plan",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	double		cost = 0;

	PG_TRY();
	{
		PlannedStmt *plan = wi_plan(st, indexes, hidden, bound);

		cost = plan->planTree->total_cost;
		if (wi_brin_watch != NULL)
			wi_brin_scans(plan->planTree, weight);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(tmp);
	}
	PG_END_TRY();
	return cost;
}

/* the generic plan's cost */
double
adv_plan_cost_generic(AdvStatement *st, List *indexes, List *hidden)
{
	return wi_plan_cost(st, indexes, hidden, NULL, 1.0);
}

/*
 * The statement's cost under indexes: over its sampled value sets, the
 * mean of their custom plans' costs weighted by how often each set ran;
 * without samples, the generic plan's.
 */
double
adv_plan_cost(AdvStatement *st, List *indexes, List *hidden)
{
	double		sum = 0;
	double		weights = 0;
	ListCell   *lc;

	if (st->value_sets == NIL)
		return wi_plan_cost(st, indexes, hidden, NULL, 1.0);
	foreach(lc, st->value_sets)
	{
		AdvValueSet *vs = lfirst(lc);

		sum += vs->weight * wi_plan_cost(st, indexes, hidden, vs->params, vs->weight);
		weights += vs->weight;
	}
	return sum / weights;
}

/*
 * Over st's sampled value sets (or its generic plan), how many rows the
 * plans read through the hypothetical BRIN brin (whole ranges of heap
 * pages) per row they keep: 1 when the ranges hold nothing else, where a
 * btree on the same column would read about as much heap in order.  -1
 * when no plan under indexes scans the BRIN.  The caller plans as the
 * statement's role (workload.c).
 */
double
adv_brin_overread(AdvStatement *st, List *indexes, AdvIndex *brin)
{
	double		ratio = -1;

	wi_brin_watch = brin;
	wi_brin_read = 0;
	wi_brin_kept = 0;
	PG_TRY();
	{
		(void) adv_plan_cost(st, indexes, NIL);
	}
	PG_FINALLY();
	{
		wi_brin_watch = NULL;
	}
	PG_END_TRY();
	if (wi_brin_kept > 0)
		ratio = wi_brin_read / wi_brin_kept;
	return ratio;
}
