/*
 * planrole.c — as whom the advisor may plan a workload statement.
 *
 * Planning runs the code of whoever owns what the statement touches:
 * functions the planner folds, views and SQL functions it expands, row
 * security policies, domain checks, operators' estimators.  The role that
 * ran the statement may be a superuser, or the statement may be old and
 * its tables replaced since (a view calling the owner's function where a
 * table was).  So the statement is planned as a role R only when every
 * owner of what it touches could act as R anyway (perfopt_can_act_as):
 * first choice the role that ran it, else one of those owners.  When no
 * such role exists, the statement is not planned at all and the reason
 * says why.
 *
 * The owners are read from the analyzed and rewritten Query: relations
 * (views included), functions, operators with their estimators, the types
 * of columns, constants and parameters (a range type's subtype_diff runs
 * in estimates), domains.
 * Objects owned by a superuser (the built-in ones among them) constrain
 * nothing, since a superuser may act as anyone.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "advisor.h"
#include "usercode.h"

static void
pr_add(List **owners, Oid owner)
{
	*owners = list_append_unique_oid(*owners, owner);
}

static void
pr_add_function(List **owners, Oid funcid)
{
	HeapTuple	tup;

	if (!OidIsValid(funcid))
		return;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (HeapTupleIsValid(tup))
	{
		pr_add(owners, ((Form_pg_proc) GETSTRUCT(tup))->proowner);
		ReleaseSysCache(tup);
	}
}

/* an operator: its owner, its function and the estimators the planner calls */
static void
pr_add_operator(List **owners, Oid opno)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;

	if (!HeapTupleIsValid(tup))
		return;
	op = (Form_pg_operator) GETSTRUCT(tup);
	pr_add(owners, op->oprowner);
	pr_add_function(owners, op->oprcode);
	pr_add_function(owners, op->oprrest);
	pr_add_function(owners, op->oprjoin);
	ReleaseSysCache(tup);
}

static void
pr_add_relation(List **owners, Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));

	if (HeapTupleIsValid(tup))
	{
		pr_add(owners, ((Form_pg_class) GETSTRUCT(tup))->relowner);
		ReleaseSysCache(tup);
	}
}

static void
pr_add_type(List **owners, Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));

	if (HeapTupleIsValid(tup))
	{
		pr_add(owners, ((Form_pg_type) GETSTRUCT(tup))->typowner);
		ReleaseSysCache(tup);
	}
}

static bool
pr_function_owner(Oid funcid, void *context)
{
	pr_add_function((List **) context, funcid);
	return false;
}

static bool
pr_walker(Node *node, List **owners)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, pr_walker, owners, QTW_EXAMINE_RTES_BEFORE);
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		/* a table, or a view (an RTE_SUBQUERY keeping its relid from 16 on) */
		if (OidIsValid(rte->relid))
			pr_add_relation(owners, rte->relid);
		return false;
	}
	switch (nodeTag(node))
	{
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			pr_add_operator(owners, ((OpExpr *) node)->opno);
			break;
		case T_ScalarArrayOpExpr:
			pr_add_operator(owners, ((ScalarArrayOpExpr *) node)->opno);
			break;
		case T_RowCompareExpr:
			{
				ListCell   *lc;

				foreach(lc, ((RowCompareExpr *) node)->opnos)
					pr_add_operator(owners, lfirst_oid(lc));
				break;
			}
		case T_CoerceToDomain:
			pr_add_type(owners, ((CoerceToDomain *) node)->resulttype);
			break;
		case T_Var:
		case T_Const:
		case T_Param:
			/* a type's own functions: a range type's subtype_diff (estimates) */
			pr_add_type(owners, exprType(node));
			break;
		default:
			break;
	}
	/* function calls, casts, aggregates, window functions, type I/O */
	(void) check_functions_in_node(node, pr_function_owner, owners);
	return expression_tree_walker(node, pr_walker, owners);
}

/* may every owner act as role? */
static bool
pr_all_may_act_as(List *owners, Oid role)
{
	ListCell   *lc;

	foreach(lc, owners)
		if (!perfopt_can_act_as(lfirst_oid(lc), role))
			return false;
	return true;
}

/*
 * May the code in node (an index expression) run as role: may every owner
 * of its functions, operators and domains act as role?
 */
bool
adv_code_may_run_as(Node *node, Oid role)
{
	List	   *owners = NIL;

	(void) pr_walker(node, &owners);
	return pr_all_may_act_as(owners, role);
}

/*
 * The role to plan query (analyzed as statement_role) as, or InvalidOid
 * with *reason set when there is none.
 */
Oid
adv_plan_role(Oid statement_role, Query *query, char **reason)
{
	List	   *owners = NIL;
	ListCell   *lc;
	StringInfoData names;

	(void) pr_walker((Node *) query, &owners);
	if (pr_all_may_act_as(owners, statement_role))
		return statement_role;
	/* the owners in a stable order, so the choice is the same every run */
	list_sort(owners, list_oid_cmp);
	foreach(lc, owners)
		if (pr_all_may_act_as(owners, lfirst_oid(lc)))
			return lfirst_oid(lc);

	initStringInfo(&names);
	foreach(lc, owners)
	{
		char	   *name = GetUserNameFromId(lfirst_oid(lc), true);

		if (names.len > 0)
			appendStringInfoString(&names, ", ");
		appendStringInfoString(&names, name ? quote_identifier(name) : "?");
	}
	*reason = psprintf("not planned: planning runs the code of the owners of what it touches (%s),"
					   " and no role among them and the role that ran it may act as all of them",
					   names.data);
	return InvalidOid;
}
