/*
 * statsadvice.c — extended statistics advice: CREATE STATISTICS
 * (dependencies, ndistinct, mcv) for the columns a statement restricts
 * together when the planner's row estimate and the rows the statement
 * really returns per call (pg_stat_statements rows / calls) are more than
 * ADV_STATS_FACTOR apart.
 *
 * Only statements over one table are considered, of two shapes whose top
 * plan node's estimate is what pg_stat_statements counts:
 *  - equality (= or IN) on two or more columns, nothing that cuts or
 *    groups the rows (no LIMIT, GROUP BY, DISTINCT, aggregate, window or
 *    set-returning function), and the planner estimating fewer than a
 *    tenth of the rows: the columns are correlated, and the planner
 *    multiplied their selectivities (functional dependencies and MCV
 *    lists correct it);
 *  - GROUP BY on two or more columns (no HAVING, LIMIT, DISTINCT or
 *    grouping sets), the planner estimating more than ten times the
 *    groups: it multiplied their distinct counts (ndistinct corrects it).
 * The table must be one the index advisor plans for (a user table or
 * materialized view, not a catalog, a temporary table or an extension's;
 * at least perfopt.min_table_size), analyzed at least once (a table never
 * analyzed needs ANALYZE, which perfopt_optimize() queues anyway), and no
 * extended statistics object of it may cover the columns already with the
 * kind that matters.
 *
 * The advisor does not try the statistics out: that needs ANALYZE, which
 * reads a sample of the table, takes a SHARE UPDATE EXCLUSIVE lock and
 * resets the table's counters of changes since the last ANALYZE (they are
 * not transactional), so autovacuum would skip an ANALYZE the table needs.
 * perfopt_optimize() applies the recommendation as a job and verifies it
 * then (jobs/statistics.c): the estimate must come within the factor of
 * the actual rows, or the statistics object is dropped again.
 *
 * The estimate comes from the generic plan, planned as the statement's
 * plan role like every other plan of the advisor (workload.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_statistic_ext.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "statistics/statistics.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "advisor.h"
#include "compat.h"
#include "jsonutil.h"
#include "perfopt.h"

/* what a statement restricts of its one table */
typedef struct SaShape
{
	Oid			relid;
	Bitmapset  *eq;				/* columns under = or IN */
	Bitmapset  *group;			/* GROUP BY columns */
	bool		eq_usable;		/* the top estimate counts the filtered rows */
	bool		group_usable;	/* the top estimate counts the groups */
} SaShape;

/* one recommendation in the making: a table, its columns, its statements */
typedef struct SaRec
{
	Oid			relid;
	Bitmapset  *cols;
	bool		grouping;		/* found through GROUP BY (ndistinct) */
	List	   *statements;		/* AdvStatement */
	List	   *estimates;		/* double *, one per statement */
} SaRec;

/* the column of a clause side: a plain Var of the statement's table */
static AttrNumber
sa_column(Node *node, Query *query)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	/* from 18, a grouped column is a Var of the group RTE */
	if (node && IsA(node, Var) && ((Var *) node)->varno > 1 &&
		((Var *) node)->varno <= list_length(query->rtable) &&
		((Var *) node)->varlevelsup == 0 && ((Var *) node)->varattno > 0 &&
		perfopt_rte_is_group(rt_fetch(((Var *) node)->varno, query->rtable)))
		return sa_column(perfopt_group_expr(rt_fetch(((Var *) node)->varno, query->rtable),
											((Var *) node)->varattno), query);
	if (node && IsA(node, Var) && ((Var *) node)->varno == 1 &&
		((Var *) node)->varlevelsup == 0 && ((Var *) node)->varattno > 0)
		return ((Var *) node)->varattno;
	return InvalidAttrNumber;
}

/* a side the estimate treats as a value: no column, nothing volatile */
static bool
sa_value(Node *node)
{
	return !contain_var_clause(node) && !contain_volatile_functions(node);
}

static bool
sa_equality_operator(Oid opno)
{
	return get_oprrest(opno) == F_EQSEL;
}

/* the columns of one conjunct, col = value or col IN (...), into *eq */
static void
sa_clause(Node *clause, Query *query, Bitmapset **eq)
{
	AttrNumber	col = InvalidAttrNumber;

	if (IsA(clause, BoolExpr) && ((BoolExpr *) clause)->boolop == AND_EXPR)
	{
		ListCell   *lc;

		foreach(lc, ((BoolExpr *) clause)->args)
			sa_clause(lfirst(lc), query, eq);
		return;
	}
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2 &&
		sa_equality_operator(((OpExpr *) clause)->opno))
	{
		Node	   *l = linitial(((OpExpr *) clause)->args);
		Node	   *r = lsecond(((OpExpr *) clause)->args);

		if (sa_column(l, query) != InvalidAttrNumber && sa_value(r))
			col = sa_column(l, query);
		else if (sa_column(r, query) != InvalidAttrNumber && sa_value(l))
			col = sa_column(r, query);
	}
	else if (IsA(clause, ScalarArrayOpExpr) && ((ScalarArrayOpExpr *) clause)->useOr &&
			 sa_equality_operator(((ScalarArrayOpExpr *) clause)->opno))
	{
		Node	   *l = linitial(((ScalarArrayOpExpr *) clause)->args);
		Node	   *r = lsecond(((ScalarArrayOpExpr *) clause)->args);

		if (sa_column(l, query) != InvalidAttrNumber && sa_value(r))
			col = sa_column(l, query);
	}
	if (col != InvalidAttrNumber)
		*eq = bms_add_member(*eq, col);
}

/* the statement's shape, false when it is not one this file judges */
static bool
sa_shape(Query *query, SaShape *shape)
{
	RangeTblEntry *rte;
	FromExpr   *jt = query->jointree;
	ListCell   *lc;

	memset(shape, 0, sizeof(SaShape));
	/* one table (from 18, with GROUP BY, and the group RTE after it) */
	if (list_length(query->rtable) == 2 && perfopt_rte_is_group(lsecond(query->rtable)))
		;
	else if (list_length(query->rtable) != 1)
		return false;
	if (query->setOperations || query->cteList ||
		query->hasSubLinks || query->hasRecursive || query->rowMarks ||
		jt == NULL || list_length(jt->fromlist) != 1 ||
		!IsA(linitial(jt->fromlist), RangeTblRef) ||
		((RangeTblRef *) linitial(jt->fromlist))->rtindex != 1)
		return false;
	rte = rt_fetch(1, query->rtable);
	if (rte->rtekind != RTE_RELATION || rte->tablesample)
		return false;
	shape->relid = rte->relid;
	if (jt->quals)
		sa_clause(jt->quals, query, &shape->eq);
	foreach(lc, query->groupClause)
	{
		Node	   *expr = get_sortgroupclause_expr(lfirst(lc), query->targetList);
		AttrNumber	col = sa_column(expr, query);

		if (col != InvalidAttrNumber)
			shape->group = bms_add_member(shape->group, col);
	}

	/* nothing between the scan's rows and the rows the statement returns */
	shape->eq_usable = query->groupClause == NIL && !query->hasAggs &&
		!query->hasWindowFuncs && !query->hasTargetSRFs && query->distinctClause == NIL &&
		query->limitCount == NULL && query->limitOffset == NULL && query->havingQual == NULL;
	/* the groups are the rows it returns */
	shape->group_usable = query->commandType == CMD_SELECT && query->groupClause != NIL &&
		query->groupingSets == NIL && query->havingQual == NULL &&
		!query->hasWindowFuncs && !query->hasTargetSRFs && query->distinctClause == NIL &&
		query->limitCount == NULL && query->limitOffset == NULL;
	return true;
}

/*
 * May the advisor recommend for this table: a table or materialized view
 * it plans indexes for, large enough, analyzed, whose columns can have
 * statistics (a default btree operator class each)?
 */
static bool
sa_table_ok(AdvStatement *st, Oid relid, Bitmapset *cols)
{
	Relation	rel;
	bool		ok;
	int			col = -1;

	/* st->relids: the user tables the planner saw (collect.c) */
	if (!list_member_oid(st->relids, relid) || adv_extension_member(relid))
		return false;
	/* locked since the statement's analysis: no wait here */
	rel = table_open(relid, AccessShareLock);
	ok = (rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_MATVIEW) &&
		rel->rd_rel->reltuples >= 0 &&
		(double) RelationGetNumberOfBlocks(rel) * BLCKSZ >= (double) perfopt_min_table_size * 1024.0;
	while (ok && (col = bms_next_member(cols, col)) >= 0)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), col - 1);

		ok = !att->attisdropped && OidIsValid(GetDefaultOpClass(att->atttypid, BTREE_AM_OID));
	}
	table_close(rel, AccessShareLock);
	return ok;
}

/* the kinds a statistics object was created with */
static bool
sa_has_kind(HeapTuple tup, char kind)
{
	bool		isnull;
	Datum		d = SysCacheGetAttr(STATEXTOID, tup, Anum_pg_statistic_ext_stxkind, &isnull);
	ArrayType  *arr;
	char	   *kinds;

	if (isnull)
		return false;
	arr = DatumGetArrayTypeP(d);
	kinds = (char *) ARR_DATA_PTR(arr);
	for (int i = 0; i < ARR_DIMS(arr)[0]; i++)
		if (kinds[i] == kind)
			return true;
	return false;
}

/*
 * Does an extended statistics object of relid cover cols already: all of
 * them among its columns, with the kind that corrects the estimate
 * (dependencies or mcv for equality, ndistinct for GROUP BY)?
 */
bool
adv_stats_covered(Oid relid, Bitmapset *cols, bool grouping)
{
	Relation	rel = table_open(relid, AccessShareLock);
	List	   *stats = RelationGetStatExtList(rel);
	ListCell   *lc;
	bool		covered = false;

	table_close(rel, AccessShareLock);
	foreach(lc, stats)
	{
		HeapTuple	tup = SearchSysCache1(STATEXTOID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_statistic_ext form;
		Bitmapset  *keys = NULL;

		if (!HeapTupleIsValid(tup))
			continue;
		form = (Form_pg_statistic_ext) GETSTRUCT(tup);
		for (int i = 0; i < form->stxkeys.dim1; i++)
			keys = bms_add_member(keys, form->stxkeys.values[i]);
		if (bms_is_subset(cols, keys) &&
			(grouping ? sa_has_kind(tup, STATS_EXT_NDISTINCT) :
			 (sa_has_kind(tup, STATS_EXT_DEPENDENCIES) || sa_has_kind(tup, STATS_EXT_MCV))))
			covered = true;
		ReleaseSysCache(tup);
		if (covered)
			break;
	}
	list_free(stats);
	return covered;
}

/* the rows the top plan node estimates (a ModifyTable: those it changes) */
static double
sa_plan_rows(Plan *plan)
{
	if (IsA(plan, ModifyTable) && plan->lefttree)
		return plan->lefttree->plan_rows;
	return plan->plan_rows;
}

static double sa_rows;

static void
sa_plan_fn(AdvStatement *st)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "perfopt statistics plan",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);

	PG_TRY();
	{
		sa_rows = sa_plan_rows(adv_plan(st, NIL, NIL)->planTree);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(tmp);
	}
	PG_END_TRY();
}

/*
 * The rows per call the generic plan of an analyzed statement estimates,
 * planned as its plan role; false when planning failed.
 */
bool
adv_stats_estimate(AdvStatement *st, double *rows)
{
	char	   *saved = st->skip_reason;

	if (st->query == NULL)
		return false;
	sa_rows = -1;
	if (!adv_plan_as_statement_role(st, sa_plan_fn) || sa_rows < 0)
	{
		st->skip_reason = saved;
		return false;
	}
	*rows = sa_rows;
	return true;
}

/* "a, b" for the DDL, or "a_b" for a name */
static char *
sa_columns_text(Oid relid, Bitmapset *cols, bool for_name)
{
	StringInfoData buf;
	int			col = -1;

	initStringInfo(&buf);
	while ((col = bms_next_member(cols, col)) >= 0)
	{
		char	   *name = get_attname(relid, (AttrNumber) col, false);

		if (buf.len > 0)
			appendStringInfoString(&buf, for_name ? "_" : ", ");
		appendStringInfoString(&buf, for_name ? name : quote_identifier(name));
	}
	return buf.data;
}

/*
 * perfopt_<table>_<columns>_stat, shortened with a hash of the definition
 * when too long or when a statistics object of that name exists already
 * in the table's schema (a different one: an equal one covers the columns).
 */
static char *
sa_name(Oid relid, Bitmapset *cols, const char *definition)
{
	StringInfoData name;
	Oid			nsp = get_rel_namespace(relid);

	initStringInfo(&name);
	appendStringInfo(&name, "perfopt_%s_%s_stat", get_rel_name(relid),
					 sa_columns_text(relid, cols, true));
	if (name.len >= NAMEDATALEN ||
		SearchSysCacheExists2(STATEXTNAMENSP, CStringGetDatum(name.data), ObjectIdGetDatum(nsp)))
	{
		uint32		hash = hash_bytes((const unsigned char *) definition, strlen(definition));
		int			len = pg_mbcliplen(name.data, name.len, NAMEDATALEN - 1 - 9);

		name.data[len] = '\0';
		name.len = len;
		appendStringInfo(&name, "_%08x", hash);
	}
	return name.data;
}

static double
sa_actual(AdvStatement *st)
{
	return st->calls > 0 ? st->rows / st->calls : 0;
}

/* how far apart an estimate and the actual rows are (at least 1) */
double
adv_stats_misestimate(double estimate, double actual)
{
	double		e = Max(estimate, 1.0);
	double		a = Max(actual, 1.0);

	return e > a ? e / a : a / e;
}

/* the recommendation: DDL, name, evidence and reason */
static AdvRecommendation *
sa_describe(SaRec *sr)
{
	AdvRecommendation *rec = palloc0(sizeof(AdvRecommendation));
	char	   *nspname = get_namespace_name(get_rel_namespace(sr->relid));
	char	   *relname = get_rel_name(sr->relid);
	char	   *columns = sa_columns_text(sr->relid, sr->cols, false);
	StringInfoData js;
	ListCell   *ls;
	ListCell   *le;
	AdvStatement *top = NULL;
	double		top_estimate = 0;

	rec->kind = "create_statistics";
	rec->table_name = psprintf("%s.%s", quote_identifier(nspname), quote_identifier(relname));
	rec->definition = psprintf("STATISTICS (dependencies, ndistinct, mcv) ON %s FROM %s",
							   columns, rec->table_name);
	rec->index_name = sa_name(sr->relid, sr->cols, rec->definition);
	rec->ddl = psprintf("CREATE STATISTICS IF NOT EXISTS %s.%s (dependencies, ndistinct, mcv) ON %s FROM %s",
						quote_identifier(nspname), quote_identifier(rec->index_name),
						columns, rec->table_name);

	initStringInfo(&js);
	appendStringInfoChar(&js, '[');
	forboth(ls, sr->statements, le, sr->estimates)
	{
		AdvStatement *st = lfirst(ls);
		double		estimate = *(double *) lfirst(le);

		if (top == NULL || st->total_time_ms > top->total_time_ms)
		{
			top = st;
			top_estimate = estimate;
		}
		if (js.len > 1)
			appendStringInfoString(&js, ", ");
		appendStringInfo(&js, "{\"queryid\": " INT64_FORMAT ", \"userid\": %u, \"query\": ",
						 st->queryid, st->userid);
		escape_json(&js, st->text);
		appendStringInfoString(&js, ", \"calls\": ");
		perfopt_json_number(&js, st->calls);
		appendStringInfoString(&js, ", \"mean_time_ms\": ");
		perfopt_json_number(&js, st->mean_time_ms);
		appendStringInfoString(&js, ", \"rows_estimated\": ");
		perfopt_json_number(&js, estimate);
		appendStringInfoString(&js, ", \"rows_per_call\": ");
		perfopt_json_number(&js, sa_actual(st));
		appendStringInfoChar(&js, '}');
	}
	appendStringInfoChar(&js, ']');
	rec->statements_json = js.data;

	/* no plan cost is claimed: the benefit is the better plans that follow */
	rec->benefit_ms = 0;
	rec->penalty_ms = 0;
	rec->size_bytes = 0;
	rec->reason = psprintf("%s %s of %s together; for queryid " INT64_FORMAT " (%.0f calls) the planner estimates %.0f %s per call"
						   " where pg_stat_statements measured %.1f (%.0fx off)%s,"
						   " as when it assumes the columns independent, and no extended statistics object covers them;"
						   " the statistics (followed by ANALYZE of the table) tell it how the columns depend on each other;"
						   " perfopt_optimize() checks after the ANALYZE that the estimate is within %.0fx and drops them otherwise",
						   sr->grouping ? "groups by" : "restricts by equality",
						   sa_columns_text(sr->relid, sr->cols, false), rec->table_name,
						   top->queryid, top->calls, top_estimate, sr->grouping ? "groups" : "rows",
						   sa_actual(top), adv_stats_misestimate(top_estimate, sa_actual(top)),
						   list_length(sr->statements) > 1 ?
						   psprintf(", and %d more statement%s", list_length(sr->statements) - 1,
									list_length(sr->statements) == 2 ? "" : "s") : "",
						   ADV_STATS_FACTOR);
	return rec;
}

/* the statement's candidate: its table and columns, when it has one */
static bool
sa_candidate(AdvStatement *st, Oid *relid, Bitmapset **cols, bool *grouping,
			 double *estimate)
{
	SaShape		shape;
	double		actual = sa_actual(st);

	if (st->query == NULL || st->over_budget || st->calls <= 0 || !sa_shape(st->query, &shape))
		return false;
	/* cheap checks first: one planner call per statement that passes them */
	*relid = shape.relid;
	*grouping = false;
	if (shape.eq_usable && bms_num_members(shape.eq) >= 2 &&
		bms_num_members(shape.eq) <= STATS_MAX_DIMENSIONS)
		*cols = shape.eq;
	else if (shape.group_usable && bms_num_members(shape.group) >= 2 &&
			 bms_num_members(shape.group) <= STATS_MAX_DIMENSIONS)
	{
		*cols = shape.group;
		*grouping = true;
	}
	else
		return false;
	/* the estimate is at least one row: ten times that is needed first */
	if (!*grouping && actual <= ADV_STATS_FACTOR)
		return false;
	if (!sa_table_ok(st, *relid, *cols) || adv_stats_covered(*relid, *cols, *grouping) ||
		!adv_stats_estimate(st, estimate))
		return false;
	/* correlated columns: too few rows, or too many groups */
	if (*grouping ? Max(*estimate, 1.0) <= ADV_STATS_FACTOR * Max(actual, 1.0) :
		Max(*estimate, 1.0) * ADV_STATS_FACTOR >= actual)
		return false;
	return true;
}

/*
 * The create_statistics recommendations for the analyzed statements: one
 * per table and set of columns, with every statement that calls for it.
 */
List *
adv_stats_advice(List *statements)
{
	List	   *pending = NIL;
	List	   *recs = NIL;
	ListCell   *lc;

	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);
		Oid			relid;
		Bitmapset  *cols;
		bool		grouping;
		double	   *estimate = palloc(sizeof(double));
		SaRec	   *sr = NULL;
		ListCell   *lp;

		CHECK_FOR_INTERRUPTS();
		if (!sa_candidate(st, &relid, &cols, &grouping, estimate))
			continue;
		foreach(lp, pending)
		{
			SaRec	   *p = lfirst(lp);

			if (p->relid == relid && bms_equal(p->cols, cols))
				sr = p;
		}
		if (sr == NULL)
		{
			sr = palloc0(sizeof(SaRec));
			sr->relid = relid;
			sr->cols = bms_copy(cols);
			sr->grouping = grouping;
			pending = lappend(pending, sr);
		}
		sr->statements = lappend(sr->statements, st);
		sr->estimates = lappend(sr->estimates, estimate);
	}
	foreach(lc, pending)
		recs = lappend(recs, sa_describe(lfirst(lc)));
	return recs;
}
