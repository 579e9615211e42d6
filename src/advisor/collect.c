/*
 * collect.c — learns, from the planner itself, how a statement uses the
 * columns of its tables: set_rel_pathlist_hook sees each base relation
 * with its restriction clauses, the equivalence classes that join it to
 * others, and the query's sort order, exactly as the planner will use them
 * to choose index paths.
 *
 * Active only while the advisor plans a statement's baseline
 * (adv_collect_begin/end); otherwise the hook just chains.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/transam.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "rewrite/rewriteManip.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

#include "advisor.h"
#include "compat.h"

/* IN lists longer than this get no candidates (see col_clause) */
#define COL_MAX_IN_LIST 64
/*
 * A restriction on a shared sampled value becomes a partial index's
 * predicate when it keeps at most this share of the table's rows: beyond
 * it the partial index saves too little over a full one.
 */
#define COL_MAX_PREDICATE_SELECTIVITY 0.25
/*
 * ... and only on a column with at most this many distinct values (a
 * status, a kind, a flag): a value shared by nearly every sampled
 * execution of a lookup on a column of many values (an e-mail, an id, a
 * token) may be one user's who dominated the samples, never an
 * application constant to print in a recommendation.
 */
#define COL_MAX_PREDICATE_NDISTINCT 100

static set_rel_pathlist_hook_type col_prev_hook = NULL;
static AdvStatement *col_statement = NULL;
/* where the uses live: the planner's own memory is freed after each plan */
static MemoryContext col_cxt = NULL;

/*
 * A normalized constant inside an expression ("profile ->> $1") cannot go
 * into an index definition: we do not know its value.  A text search
 * configuration is the exception: the DDL uses default_text_search_config
 * (advise.c says so in the reason).
 */
static bool
col_has_unknown_constant(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return ((Param *) node)->paramtype != REGCONFIGOID;
	return expression_tree_walker(node, col_has_unknown_constant, context);
}

/* the part of a clause that belongs to relation rti: a column or an expression */
static bool
col_is_ours(Node *node, Index rti)
{
	Relids		varnos;
	bool		ours;

	if (node == NULL)
		return false;
	if (IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		return var->varno == (int) rti && var->varlevelsup == 0 && var->varattno > 0;
	}
	/* an expression index needs an immutable expression of our columns only */
	varnos = pull_varnos(NULL, node);
	ours = bms_equal(varnos, bms_make_singleton(rti)) &&
		!contain_mutable_functions(node) &&
		!col_has_unknown_constant(node, NULL) &&
		!contain_subplans(node) &&
		!contain_agg_clause(node) &&
		!contain_window_function(node);
	if (ours)
	{
		List	   *vars = pull_var_clause(node, 0);
		ListCell   *lc;

		/* no system columns, no whole-row references */
		foreach(lc, vars)
			if (((Var *) lfirst(lc))->varattno <= 0)
				ours = false;
	}
	return ours;
}

static bool
col_is_constant(Node *node, Index rti)
{
	return !bms_is_member(rti, pull_varnos(NULL, node)) &&
		!contain_volatile_functions(node);
}

static void
col_add(PlannerInfo *root, Index rti, RangeTblEntry *rte, AdvUseKind kind,
		Node *node, bool descending)
{
	MemoryContext old;
	AdvUse	   *use;
	VariableStatData vardata;
	bool		isdefault;
	double		ndistinct;

	if (IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;

	examine_variable(root, node, 0, &vardata);
	ndistinct = get_variable_numdistinct(&vardata, &isdefault);
	ReleaseVariableStats(vardata);

	old = MemoryContextSwitchTo(col_cxt);
	use = palloc0(sizeof(AdvUse));
	use->kind = kind;
	use->relid = rte->relid;
	use->type = exprType(node);
	use->collation = exprCollation(node);
	use->descending = descending;
	use->ndistinct = ndistinct;
	if (IsA(node, Var))
		use->attnum = ((Var *) node)->varattno;
	else
	{
		use->expr = copyObject(node);
		if (rti != 1)
			ChangeVarNodes(use->expr, rti, 1, 0);
	}
	col_statement->uses = lappend(col_statement->uses, use);
	MemoryContextSwitchTo(old);
}

/* classify op by the default opclass of the indexed side's type */
static void
col_operator(PlannerInfo *root, Index rti, RangeTblEntry *rte, Oid opno, Node *ours,
			 bool is_array)
{
	Oid			type = exprType(ours);
	Oid			opclass = GetDefaultOpClass(type, BTREE_AM_OID);
	int			strategy = 0;

	if (OidIsValid(opclass))
		strategy = get_op_opfamily_strategy(opno, get_opclass_family(opclass));
	if (strategy == BTEqualStrategyNumber)
	{
		col_add(root, rti, rte, ADV_USE_EQ, ours, false);
		return;
	}
	if (is_array)
		return;
	if (strategy >= BTLessStrategyNumber && strategy <= BTGreaterStrategyNumber)
	{
		col_add(root, rti, rte, ADV_USE_RANGE, ours, false);
		return;
	}
	/*
	 * LIKE: normalization hides the pattern, and a generic plan cannot use
	 * an index for it anyway; remember it for the slow-query findings.
	 */
	if (opno == OID_TEXT_LIKE_OP || opno == OID_BPCHAR_LIKE_OP)
	{
		col_add(root, rti, rte, ADV_USE_LIKE, ours, false);
		return;
	}
	opclass = GetDefaultOpClass(type, GIN_AM_OID);
	if (OidIsValid(opclass) &&
		get_op_opfamily_strategy(opno, get_opclass_family(opclass)) > 0)
		col_add(root, rti, rte, ADV_USE_GIN, ours, false);
}

static void
col_clause(PlannerInfo *root, Index rti, RangeTblEntry *rte, Node *clause)
{
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left = linitial(op->args);
		Node	   *right = lsecond(op->args);

		if (col_is_ours(left, rti) && col_is_constant(right, rti))
			col_operator(root, rti, rte, op->opno, left, false);
		else if (col_is_ours(right, rti) && col_is_constant(left, rti))
		{
			Oid			commutator = get_commutator(op->opno);

			if (OidIsValid(commutator))
				col_operator(root, rti, rte, commutator, right, false);
		}
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;

		/*
		 * Long lists are hashed when they hold constants, which a generic
		 * plan with $n cannot show: leave them to a sequential scan.
		 */
		if (saop->useOr && col_is_ours(linitial(saop->args), rti) &&
			col_is_constant(lsecond(saop->args), rti) &&
			!(IsA(lsecond(saop->args), ArrayExpr) &&
			  list_length(((ArrayExpr *) lsecond(saop->args))->elements) > COL_MAX_IN_LIST))
			col_operator(root, rti, rte, saop->opno, linitial(saop->args), true);
	}
	else if (IsA(clause, NullTest))
	{
		NullTest   *nt = (NullTest *) clause;

		if (nt->nulltesttype == IS_NULL && !nt->argisrow &&
			col_is_ours((Node *) nt->arg, rti))
			col_add(root, rti, rte, ADV_USE_EQ, (Node *) nt->arg, false);
	}
}

/* is the type's text form made by built-in code only (no user code in the DDL)? */
static bool
col_builtin_type(Oid type)
{
	HeapTuple	tup;
	Form_pg_type form;
	bool		builtin;

	if (type >= FirstNormalObjectId)
		return false;
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tup))
		return false;
	form = (Form_pg_type) GETSTRUCT(tup);
	builtin = form->typtype == TYPTYPE_BASE &&
		form->typinput < FirstNormalObjectId && form->typoutput < FirstNormalObjectId;
	ReleaseSysCache(tup);
	return builtin;
}

/*
 * opno, with a column of this type on its left: a btree comparison of the
 * type's default opclass (=, <, <=, >, >=) or the negator of its equality
 * (<>), built in?
 */
static bool
col_predicate_operator(Oid opno, Oid type)
{
	Oid			opclass = GetDefaultOpClass(type, BTREE_AM_OID);
	Oid			opfamily;
	Oid			negator;

	if (!OidIsValid(opno) || opno >= FirstNormalObjectId || !OidIsValid(opclass))
		return false;
	opfamily = get_opclass_family(opclass);
	if (get_op_opfamily_strategy(opno, opfamily) > 0)
		return true;
	negator = get_negator(opno);
	return OidIsValid(negator) &&
		get_op_opfamily_strategy(negator, opfamily) == BTEqualStrategyNumber;
}

/*
 * A restriction "column op $k" whose $k has one value in nearly every
 * sampled execution (valuecost.c) and whose column has few distinct
 * values (COL_MAX_PREDICATE_NDISTINCT), or "column IS [NOT] NULL", of a
 * statement with value samples: with that value as a constant, the
 * predicate of a partial index, when it keeps a small share of the rows
 * (the planner's own selectivity, here where the statement is planned, as
 * its planning role).  Built-in types and operators only: the constant's
 * text goes into the DDL, and the build evaluates the predicate.
 */
static void
col_predicate(PlannerInfo *root, Index rti, RangeTblEntry *rte, Node *clause)
{
	AdvStatement *st = col_statement;
	Expr	   *pred = NULL;
	Node	   *column = NULL;
	Selectivity sel;
	MemoryContext old;
	AdvUse	   *use;
	ListCell   *lc;

	if (st->value_sets == NIL)
		return;
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left = linitial(op->args);
		Node	   *right = lsecond(op->args);
		Oid			opno = op->opno;
		Param	   *param;
		Node	   *var;
		int16		typlen;
		bool		typbyval;
		Const	   *value;

		if (IsA(right, Param) && !IsA(left, Param))
			column = left;
		else if (IsA(left, Param) && !IsA(right, Param))
		{
			column = right;
			right = left;
			opno = get_commutator(opno);
		}
		else
			return;
		param = (Param *) right;
		var = IsA(column, RelabelType) ? (Node *) ((RelabelType *) column)->arg : column;
		if (!IsA(var, Var) || ((Var *) var)->varno != (int) rti ||
			((Var *) var)->varlevelsup != 0 || ((Var *) var)->varattno <= 0 ||
			param->paramkind != PARAM_EXTERN || param->paramid < 1 ||
			param->paramid > st->nparams || st->param_shared == NULL ||
			!st->param_shared[param->paramid - 1] ||
			param->paramtype != st->param_types[param->paramid - 1] ||
			!col_builtin_type(exprType(var)) || !col_builtin_type(param->paramtype) ||
			!col_predicate_operator(opno, exprType(column)))
			return;
		/* few distinct values, by the column's statistics */
		{
			VariableStatData vardata;
			bool		isdefault;
			double		ndistinct;

			examine_variable(root, var, 0, &vardata);
			ndistinct = get_variable_numdistinct(&vardata, &isdefault);
			ReleaseVariableStats(vardata);
			if (isdefault || ndistinct > COL_MAX_PREDICATE_NDISTINCT)
				return;
		}
		get_typlenbyval(param->paramtype, &typlen, &typbyval);
		/* the Const custom plans make of the value (eval_const_expressions) */
		value = makeConst(param->paramtype, param->paramtypmod, param->paramcollid, typlen,
						  datumCopy(st->param_shared_value[param->paramid - 1], typbyval, typlen),
						  false, typbyval);
		pred = make_opclause(opno, BOOLOID, false, (Expr *) copyObject(column), (Expr *) value,
							 InvalidOid, op->inputcollid);
		set_opfuncid((OpExpr *) pred);
		column = var;
	}
	else if (IsA(clause, NullTest) && !((NullTest *) clause)->argisrow &&
			 IsA(((NullTest *) clause)->arg, Var))
	{
		Var		   *var = (Var *) ((NullTest *) clause)->arg;

		if (var->varno != (int) rti || var->varlevelsup != 0 || var->varattno <= 0 ||
			!col_builtin_type(var->vartype))
			return;
		pred = (Expr *) copyObject(clause);
		column = (Node *) var;
	}
	else
		return;

	sel = clause_selectivity(root, (Node *) pred, 0, JOIN_INNER, NULL);
	if (sel > COL_MAX_PREDICATE_SELECTIVITY)
		return;
	if (rti != 1)
		ChangeVarNodes((Node *) pred, rti, 1, 0);
	foreach(lc, st->uses)
	{
		AdvUse	   *other = lfirst(lc);

		if (other->kind == ADV_USE_PREDICATE && other->relid == rte->relid &&
			equal(other->expr, pred))
			return;
	}
	old = MemoryContextSwitchTo(col_cxt);
	use = palloc0(sizeof(AdvUse));
	use->kind = ADV_USE_PREDICATE;
	use->relid = rte->relid;
	use->attnum = ((Var *) column)->varattno;
	use->expr = copyObject((Node *) pred);
	use->type = BOOLOID;
	use->selectivity = sel;
	st->uses = lappend(st->uses, use);
	MemoryContextSwitchTo(old);
}

/* equality with another relation, from the planner's equivalence classes */
static void
col_join_keys(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	ListCell   *lc;

	foreach(lc, root->eq_classes)
	{
		EquivalenceClass *ec = lfirst(lc);
		ListCell   *lm;

		if (ec->ec_has_const || ec->ec_has_volatile ||
			bms_num_members(ec->ec_relids) < 2 || !bms_is_member(rti, ec->ec_relids))
			continue;
		foreach(lm, ec->ec_members)
		{
			EquivalenceMember *em = lfirst(lm);

			if (!em->em_is_child && bms_equal(em->em_relids, rel->relids) &&
				col_is_ours((Node *) em->em_expr, rti))
			{
				col_add(root, rti, rte, ADV_USE_JOIN, (Node *) em->em_expr, false);
				break;
			}
		}
	}
}

/* ORDER BY / GROUP BY under a LIMIT, when this relation alone can supply it */
static void
col_sort_keys(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	int			n = list_length(root->query_pathkeys);
	EquivalenceMember **keys;
	bool	   *desc;
	int			i = 0;
	ListCell   *lc;

	if (root->parse->limitCount == NULL || n == 0)
		return;
	keys = palloc(sizeof(EquivalenceMember *) * n);
	desc = palloc(sizeof(bool) * n);
	foreach(lc, root->query_pathkeys)
	{
		PathKey    *pk = lfirst(lc);
		ListCell   *lm;

		keys[i] = NULL;
		foreach(lm, pk->pk_eclass->ec_members)
		{
			EquivalenceMember *em = lfirst(lm);

			if (!em->em_is_child && !em->em_is_const &&
				bms_equal(em->em_relids, rel->relids) &&
				col_is_ours((Node *) em->em_expr, rti))
			{
				keys[i] = em;
				break;
			}
		}
		/* every sort key must come from this relation */
		if (keys[i] == NULL)
			return;
		desc[i] = perfopt_pathkey_is_desc(pk);
		i++;
	}
	for (i = 0; i < n; i++)
		col_add(root, rti, rte, ADV_USE_SORT, (Node *) keys[i]->em_expr, desc[i]);
}

/* columns the statement reads from the relation: INCLUDE candidates */
static void
col_outputs(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	ListCell   *lc;

	foreach(lc, rel->reltarget->exprs)
	{
		Node	   *node = lfirst(lc);

		if (IsA(node, Var) && ((Var *) node)->varno == (int) rti &&
			((Var *) node)->varattno > 0)
			col_add(root, rti, rte, ADV_USE_OUTPUT, node, false);
	}
}

static void
col_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	ListCell   *lc;
	Oid			nsp;

	if (col_prev_hook)
		col_prev_hook(root, rel, rti, rte);

	if (col_statement != NULL && adv_planning_our_statement(root) &&
		rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_PARTITIONED_TABLE)
		col_statement->reads_partitioned = true;
	if (col_statement == NULL || !adv_planning_our_statement(root) ||
		rel->reloptkind != RELOPT_BASEREL ||
		rte->rtekind != RTE_RELATION ||
		(rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_MATVIEW))
		return;
	nsp = get_rel_namespace(rte->relid);
	if (IsCatalogNamespace(nsp) || IsToastNamespace(nsp) || isAnyTempNamespace(nsp) ||
		adv_extension_member(rte->relid))
		return;

	{
		MemoryContext old = MemoryContextSwitchTo(col_cxt);

		col_statement->relids = list_append_unique_oid(col_statement->relids, rte->relid);
		MemoryContextSwitchTo(old);
	}
	foreach(lc, rel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst(lc);

		if (restriction_is_or_clause(rinfo))
		{
			/* a BitmapOr needs an index for every arm: each arm's column */
			ListCell   *la;

			foreach(la, ((BoolExpr *) rinfo->orclause)->args)
				if (IsA(lfirst(la), RestrictInfo))
					col_clause(root, rti, rte, (Node *) ((RestrictInfo *) lfirst(la))->clause);
		}
		else
		{
			col_clause(root, rti, rte, (Node *) rinfo->clause);
			col_predicate(root, rti, rte, (Node *) rinfo->clause);
		}
	}
	col_join_keys(root, rel, rti, rte);
	col_sort_keys(root, rel, rti, rte);
	col_outputs(root, rel, rti, rte);
}

void
perfopt_collect_install_hook(void)
{
	col_prev_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = col_set_rel_pathlist;
}

void
adv_collect_begin(AdvStatement *st)
{
	col_statement = st;
	col_cxt = CurrentMemoryContext;
}

void
adv_collect_end(void)
{
	col_statement = NULL;
}
