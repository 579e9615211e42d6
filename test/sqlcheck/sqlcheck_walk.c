/*
 * sqlcheck_walk.c — finds, in a raw parse tree, every name PostgreSQL would
 * look up through search_path: functions, operators (written ones and the
 * "=" that IN, NULLIF, IS DISTINCT FROM, simple CASE, JOIN ... USING and
 * NATURAL JOIN imply, the comparisons BETWEEN expands to, LIKE's "~~"),
 * types, relations (a CTE in scope excepted), collations and operator
 * classes, each without a schema.
 *
 * Raw trees, because after parse analysis every name is an OID and nothing
 * tells whether the text named the schema.  raw_expression_tree_walker()
 * descends through DML and expressions; the statements it does not know
 * (the DDL of the extension scripts, maintenance commands) are taken apart
 * here, and a statement of any other kind is itself reported, so nothing
 * passes unseen.  Keywords the grammar turns into pg_catalog names (bigint,
 * EXTRACT, COALESCE, ...) are qualified already and pass.
 *
 * Pure analysis: no catalog access, no side effects; callers own the
 * memory context the findings live in.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "tcop/utility.h"

#include "sqlcheck.h"

typedef struct ScWalk
{
	List	   *findings;		/* SqlcheckFinding *, in tree order */
	List	   *ctes;			/* names of the CTEs in scope, innermost last */
	int			stmt_location;	/* where the current statement starts */
	const char *statement;		/* its kind, for the reports */
} ScWalk;

static bool sc_walker(Node *node, ScWalk *w);
static void sc_statement(Node *stmt, ScWalk *w);
static void sc_report(ScWalk *w, int location, const char *fmt,...) pg_attribute_printf(3, 4);

static void
sc_report(ScWalk *w, int location, const char *fmt,...)
{
	SqlcheckFinding *f = palloc(sizeof(SqlcheckFinding));
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	f->location = location >= 0 ? location : w->stmt_location;
	f->what = buf.data;
	f->statement = w->statement;
	w->findings = lappend(w->findings, f);
}

/* a name list without a schema: search_path decides what it means */
static bool
sc_unqualified(List *names)
{
	return list_length(names) == 1;
}

static bool
sc_is_cte(ScWalk *w, const char *name)
{
	ListCell   *lc;

	foreach(lc, w->ctes)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

/* how an operator of this A_Expr kind was written, for the report */
static const char *
sc_aexpr_form(A_Expr_Kind kind)
{
	switch (kind)
	{
		case AEXPR_OP:
			return "";
		case AEXPR_OP_ANY:
			return " (of ANY)";
		case AEXPR_OP_ALL:
			return " (of ALL)";
		case AEXPR_DISTINCT:
			return " (of IS DISTINCT FROM)";
		case AEXPR_NOT_DISTINCT:
			return " (of IS NOT DISTINCT FROM)";
		case AEXPR_NULLIF:
			return " (of NULLIF)";
		case AEXPR_IN:
			return " (of IN)";
		case AEXPR_LIKE:
			return " (of LIKE)";
		case AEXPR_ILIKE:
			return " (of ILIKE)";
		case AEXPR_SIMILAR:
			return " (of SIMILAR TO)";
		default:
			return NULL;		/* the BETWEEN kinds */
	}
}

/* a name list in DDL (COMMENT ON, DROP, ...): needs more than one part */
static void
sc_object_name(ScWalk *w, List *names, int min_parts, const char *kind)
{
	if (list_length(names) < min_parts)
		sc_report(w, -1, "unqualified %s \"%s\"", kind, NameListToString(names));
}

/* a function (or aggregate, procedure, operator) named with its arguments */
static void
sc_object_with_args(ScWalk *w, ObjectWithArgs *owa, const char *kind)
{
	if (sc_unqualified(owa->objname))
		sc_report(w, -1, "unqualified %s \"%s\"", kind, NameListToString(owa->objname));
	sc_walker((Node *) owa->objargs, w);
}

/* the object of COMMENT ON, DROP, ALTER EXTENSION ... ADD, GRANT */
static void
sc_object(ScWalk *w, ObjectType objtype, Node *object)
{
	if (object == NULL)
		return;
	if (IsA(object, ObjectWithArgs))
		sc_object_with_args(w, (ObjectWithArgs *) object,
							objtype == OBJECT_OPERATOR ? "operator" : "function");
	else if (IsA(object, TypeName) || IsA(object, RangeVar))
		sc_walker(object, w);
	else if (IsA(object, List))
	{
		/* a column is table.column: qualified takes schema.table.column */
		sc_object_name(w, (List *) object, objtype == OBJECT_COLUMN ? 3 : 2,
					   objtype == OBJECT_COLUMN ? "column" : "object");
	}
	/* a String (schema, role, language, extension, ...) has no schema */
}

static void
sc_index_elem(ScWalk *w, IndexElem *ie)
{
	if (sc_unqualified(ie->opclass))
		sc_report(w, -1, "unqualified operator class \"%s\"", NameListToString(ie->opclass));
	if (sc_unqualified(ie->collation))
		sc_report(w, -1, "unqualified collation \"%s\"", NameListToString(ie->collation));
}

/*
 * 'name'::regclass (regproc, regtype, ...) looks the name up when it runs,
 * through search_path like any other: the literal must name the schema.
 */
static void
sc_reg_literal(ScWalk *w, TypeCast *tc)
{
	static const char *const reg_types[] = {
		"regclass", "regproc", "regprocedure", "regoper", "regoperator", "regtype",
		"regconfig", "regdictionary", "regcollation"
	};
	const char *type;
	A_Const    *c;

	if (tc->typeName == NULL || tc->typeName->names == NIL || tc->arg == NULL ||
		!IsA(tc->arg, A_Const))
		return;
	c = (A_Const *) tc->arg;
	if (c->isnull || !IsA(&c->val, String))
		return;
	type = strVal(llast(tc->typeName->names));
	for (int i = 0; i < lengthof(reg_types); i++)
		if (strcmp(type, reg_types[i]) == 0 && strchr(strVal(&c->val), '.') == NULL)
			sc_report(w, c->location, "unqualified name '%s' in a %s literal", strVal(&c->val), type);
}

/*
 * A DML statement with a WITH clause: each CTE sees the ones before it (all
 * of them when RECURSIVE), the statement sees all of them.
 */
static void
sc_with(Node *stmt, WithClause *with, ScWalk *w)
{
	int			depth = list_length(w->ctes);
	ListCell   *lc;
	Node	   *rest;

	if (with->recursive)
		foreach(lc, with->ctes)
			w->ctes = lappend(w->ctes, ((CommonTableExpr *) lfirst(lc))->ctename);
	foreach(lc, with->ctes)
	{
		CommonTableExpr *cte = (CommonTableExpr *) lfirst(lc);

		sc_walker(cte->ctequery, w);
		if (!with->recursive)
			w->ctes = lappend(w->ctes, cte->ctename);
	}

	/* the statement itself, on a shallow copy without its WITH clause */
	switch (nodeTag(stmt))
	{
		case T_SelectStmt:
			rest = (Node *) palloc(sizeof(SelectStmt));
			memcpy(rest, stmt, sizeof(SelectStmt));
			((SelectStmt *) rest)->withClause = NULL;
			break;
		case T_InsertStmt:
			rest = (Node *) palloc(sizeof(InsertStmt));
			memcpy(rest, stmt, sizeof(InsertStmt));
			((InsertStmt *) rest)->withClause = NULL;
			break;
		case T_UpdateStmt:
			rest = (Node *) palloc(sizeof(UpdateStmt));
			memcpy(rest, stmt, sizeof(UpdateStmt));
			((UpdateStmt *) rest)->withClause = NULL;
			break;
		case T_DeleteStmt:
			rest = (Node *) palloc(sizeof(DeleteStmt));
			memcpy(rest, stmt, sizeof(DeleteStmt));
			((DeleteStmt *) rest)->withClause = NULL;
			break;
		case T_MergeStmt:
			rest = (Node *) palloc(sizeof(MergeStmt));
			memcpy(rest, stmt, sizeof(MergeStmt));
			((MergeStmt *) rest)->withClause = NULL;
			break;
		default:
			elog(ERROR, "perfopt_sqlcheck: a WITH clause on node type %d", (int) nodeTag(stmt));
			rest = NULL;		/* keep the compiler quiet */
	}
	raw_expression_tree_walker(rest, sc_walker, w);
	w->ctes = list_truncate(w->ctes, depth);
}

static WithClause *
sc_with_clause(Node *node)
{
	switch (nodeTag(node))
	{
		case T_SelectStmt:
			return ((SelectStmt *) node)->withClause;
		case T_InsertStmt:
			return ((InsertStmt *) node)->withClause;
		case T_UpdateStmt:
			return ((UpdateStmt *) node)->withClause;
		case T_DeleteStmt:
			return ((DeleteStmt *) node)->withClause;
		case T_MergeStmt:
			return ((MergeStmt *) node)->withClause;
		default:
			return NULL;
	}
}

/* one node of a DML statement or an expression; always goes on (false) */
static bool
sc_walker(Node *node, ScWalk *w)
{
	WithClause *with;

	if (node == NULL)
		return false;
	check_stack_depth();

	switch (nodeTag(node))
	{
		case T_FuncCall:
			{
				FuncCall   *fc = (FuncCall *) node;

				if (sc_unqualified(fc->funcname))
					sc_report(w, fc->location, "unqualified function \"%s\"",
							  NameListToString(fc->funcname));
				break;
			}
		case T_A_Expr:
			{
				A_Expr	   *a = (A_Expr *) node;
				const char *form = sc_aexpr_form(a->kind);

				if (form == NULL)
					sc_report(w, a->location, "%s: its comparison operators are unqualified",
							  NameListToString(a->name));
				else if (sc_unqualified(a->name))
					sc_report(w, a->location, "unqualified operator \"%s\"%s",
							  NameListToString(a->name), form);
				break;
			}
		case T_SubLink:
			{
				SubLink    *s = (SubLink *) node;

				/* x IN (SELECT ...) leaves operName empty: "=" is implied */
				if (s->subLinkType == ANY_SUBLINK && s->operName == NIL)
					sc_report(w, s->location, "IN (SELECT ...): its operator \"=\" is unqualified");
				else if (s->operName != NIL && sc_unqualified(s->operName))
					sc_report(w, s->location, "unqualified operator \"%s\" (of ANY or ALL with a subquery)",
							  NameListToString(s->operName));
				break;
			}
		case T_CaseExpr:
			if (((CaseExpr *) node)->arg != NULL)
				sc_report(w, ((CaseExpr *) node)->location,
						  "simple CASE: its operator \"=\" is unqualified");
			break;
		case T_JoinExpr:
			if (((JoinExpr *) node)->usingClause != NIL)
				sc_report(w, -1, "JOIN ... USING: its operator \"=\" is unqualified");
			if (((JoinExpr *) node)->isNatural)
				sc_report(w, -1, "NATURAL JOIN: its operator \"=\" is unqualified");
			break;
		case T_SortBy:
			{
				SortBy	   *sb = (SortBy *) node;

				if (sb->sortby_dir == SORTBY_USING && sc_unqualified(sb->useOp))
					sc_report(w, sb->location, "unqualified operator \"%s\" (of ORDER BY ... USING)",
							  NameListToString(sb->useOp));
				break;
			}
		case T_TypeName:
			{
				TypeName   *tn = (TypeName *) node;

				if (sc_unqualified(tn->names))
					sc_report(w, tn->location, "unqualified type \"%s\"", NameListToString(tn->names));
				break;
			}
		case T_RangeVar:
			{
				RangeVar   *rv = (RangeVar *) node;

				if (rv->schemaname == NULL && !sc_is_cte(w, rv->relname))
					sc_report(w, rv->location, "unqualified relation \"%s\"", rv->relname);
				break;
			}
		case T_CollateClause:
			{
				CollateClause *cc = (CollateClause *) node;

				if (sc_unqualified(cc->collname))
					sc_report(w, cc->location, "unqualified collation \"%s\"",
							  NameListToString(cc->collname));
				break;
			}
		case T_TypeCast:
			sc_reg_literal(w, (TypeCast *) node);
			break;
		case T_RangeTableSample:
			{
				RangeTableSample *ts = (RangeTableSample *) node;

				if (sc_unqualified(ts->method))
					sc_report(w, ts->location, "unqualified tablesample method \"%s\"",
							  NameListToString(ts->method));
				break;
			}
		case T_IndexElem:
			sc_index_elem(w, (IndexElem *) node);
			break;
		case T_LockingClause:
			/* FOR UPDATE OF names range table entries, not relations */
			return false;
		case T_ColumnDef:
			/* the walker below leaves the column's constraints out */
			sc_walker((Node *) ((ColumnDef *) node)->constraints, w);
			break;
		case T_Constraint:
			{
				Constraint *c = (Constraint *) node;
				ListCell   *lc;

				sc_walker(c->raw_expr, w);
				sc_walker(c->where_clause, w);
				sc_walker((Node *) c->pktable, w);
				foreach(lc, c->exclusions)
				{
					List	   *pair = (List *) lfirst(lc);
					List	   *op = (List *) lsecond(pair);

					sc_walker(linitial(pair), w);
					if (sc_unqualified(op))
						sc_report(w, c->location, "unqualified operator \"%s\" (of EXCLUDE)",
								  NameListToString(op));
				}
				return false;
			}
		case T_TableLikeClause:
			return sc_walker((Node *) ((TableLikeClause *) node)->relation, w);
		case T_SelectStmt:
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
		case T_MergeStmt:
			with = sc_with_clause(node);
			if (with != NULL)
			{
				sc_with(node, with, w);
				return false;
			}
			break;
		default:
			break;
	}
	return raw_expression_tree_walker(node, sc_walker, w);
}

/* language and body (AS '...') of CREATE FUNCTION */
static void
sc_function_options(CreateFunctionStmt *f, char **language, char **body)
{
	ListCell   *lc;

	*language = NULL;
	*body = NULL;
	foreach(lc, f->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, "language") == 0)
			*language = strVal(d->arg);
		else if (strcmp(d->defname, "as") == 0 && list_length((List *) d->arg) == 1)
			*body = strVal(linitial((List *) d->arg));
	}
}

/*
 * CREATE FUNCTION: its name, argument and result types, defaults, and the
 * body when it is SQL (parsed here; its findings point at the statement).
 * A body in a procedural language cannot be parsed this way: reported.
 */
static void
sc_function(CreateFunctionStmt *f, ScWalk *w)
{
	char	   *language;
	char	   *body;
	ListCell   *lc;

	if (sc_unqualified(f->funcname))
		sc_report(w, -1, "unqualified function \"%s\"", NameListToString(f->funcname));
	foreach(lc, f->parameters)
	{
		FunctionParameter *p = (FunctionParameter *) lfirst(lc);

		sc_walker((Node *) p->argType, w);
		sc_walker(p->defexpr, w);
	}
	sc_walker((Node *) f->returnType, w);

	sc_function_options(f, &language, &body);
	if (f->sql_body != NULL)
	{
		/* BEGIN ATOMIC ... END is a list holding the list of statements */
		if (IsA(f->sql_body, List))
		{
			foreach(lc, (List *) f->sql_body)
			{
				ListCell   *lc2;

				foreach(lc2, (List *) lfirst(lc))
					sc_statement(lfirst(lc2), w);
			}
		}
		else
			sc_statement(f->sql_body, w);
	}
	else if (language != NULL && pg_strcasecmp(language, "sql") == 0 && body != NULL)
	{
		List	   *inner = sqlcheck_text(body);

		foreach(lc, inner)
		{
			SqlcheckFinding *fi = (SqlcheckFinding *) lfirst(lc);

			sc_report(w, -1, "in the function body: %s", fi->what);
		}
	}
	else if (language != NULL && pg_strcasecmp(language, "c") != 0 &&
			 pg_strcasecmp(language, "internal") != 0)
		sc_report(w, -1, "function body in language %s: cannot be checked", language);
}

/* one statement of any kind */
static void
sc_statement(Node *stmt, ScWalk *w)
{
	ListCell   *lc;

	if (stmt == NULL)
		return;
	switch (nodeTag(stmt))
	{
		case T_SelectStmt:
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
		case T_MergeStmt:
			sc_walker(stmt, w);
			break;
		case T_ReturnStmt:
			sc_walker(((ReturnStmt *) stmt)->returnval, w);
			break;
		case T_ExplainStmt:
			sc_statement(((ExplainStmt *) stmt)->query, w);
			break;
		case T_DeclareCursorStmt:
			sc_statement(((DeclareCursorStmt *) stmt)->query, w);
			break;
		case T_CreateTableAsStmt:
			sc_statement(((CreateTableAsStmt *) stmt)->query, w);
			sc_walker((Node *) ((CreateTableAsStmt *) stmt)->into, w);
			break;
		case T_ExecuteStmt:
			sc_walker((Node *) ((ExecuteStmt *) stmt)->params, w);
			break;
		case T_ViewStmt:
			sc_walker((Node *) ((ViewStmt *) stmt)->view, w);
			sc_walker(((ViewStmt *) stmt)->query, w);
			break;
		case T_CreateStmt:
			{
				CreateStmt *c = (CreateStmt *) stmt;

				sc_walker((Node *) c->relation, w);
				sc_walker((Node *) c->tableElts, w);
				sc_walker((Node *) c->inhRelations, w);
				sc_walker((Node *) c->ofTypename, w);
				sc_walker((Node *) c->constraints, w);
				if (c->partspec == NULL)
					break;
				foreach(lc, c->partspec->partParams)
				{
					PartitionElem *pe = (PartitionElem *) lfirst(lc);

					sc_walker(pe->expr, w);
					if (sc_unqualified(pe->opclass))
						sc_report(w, pe->location, "unqualified operator class \"%s\"",
								  NameListToString(pe->opclass));
					if (sc_unqualified(pe->collation))
						sc_report(w, pe->location, "unqualified collation \"%s\"",
								  NameListToString(pe->collation));
				}
				break;
			}
		case T_IndexStmt:
			{
				IndexStmt  *ix = (IndexStmt *) stmt;

				sc_walker((Node *) ix->relation, w);
				sc_walker((Node *) ix->indexParams, w);
				sc_walker((Node *) ix->indexIncludingParams, w);
				sc_walker(ix->whereClause, w);
				foreach(lc, ix->excludeOpNames)
				{
					if (sc_unqualified(lfirst(lc)))
						sc_report(w, -1, "unqualified operator \"%s\" (of EXCLUDE)",
								  NameListToString(lfirst(lc)));
				}
				break;
			}
		case T_CreateFunctionStmt:
			sc_function((CreateFunctionStmt *) stmt, w);
			break;
		case T_DoStmt:
			sc_report(w, -1, "DO block: its body cannot be checked");
			break;
		case T_CommentStmt:
			sc_object(w, ((CommentStmt *) stmt)->objtype, ((CommentStmt *) stmt)->object);
			break;
		case T_GrantStmt:
			{
				GrantStmt  *g = (GrantStmt *) stmt;

				/* ALL ... IN SCHEMA names schemas */
				if (g->targtype == ACL_TARGET_OBJECT)
					foreach(lc, g->objects)
						sc_object(w, g->objtype, lfirst(lc));
				break;
			}
		case T_DropStmt:
			foreach(lc, ((DropStmt *) stmt)->objects)
				sc_object(w, ((DropStmt *) stmt)->removeType, lfirst(lc));
			break;
		case T_AlterFunctionStmt:
			sc_object_with_args(w, ((AlterFunctionStmt *) stmt)->func, "function");
			break;
		case T_AlterExtensionContentsStmt:
			sc_object(w, ((AlterExtensionContentsStmt *) stmt)->objtype,
					  ((AlterExtensionContentsStmt *) stmt)->object);
			break;
		case T_AlterTableStmt:
			{
				AlterTableStmt *at = (AlterTableStmt *) stmt;

				sc_walker((Node *) at->relation, w);
				foreach(lc, at->cmds)
				{
					Node	   *def = ((AlterTableCmd *) lfirst(lc))->def;

					if (def == NULL)
						continue;
					if (IsA(def, ColumnDef) || IsA(def, Constraint))
						sc_walker(def, w);
					else if (IsA(def, PartitionCmd))
						sc_walker((Node *) ((PartitionCmd *) def)->name, w);
				}
				break;
			}
		case T_VacuumStmt:
			foreach(lc, ((VacuumStmt *) stmt)->rels)
				sc_walker((Node *) ((VacuumRelation *) lfirst(lc))->relation, w);
			break;
		case T_ReindexStmt:
			sc_walker((Node *) ((ReindexStmt *) stmt)->relation, w);
			break;
		case T_LockStmt:
			sc_walker((Node *) ((LockStmt *) stmt)->relations, w);
			break;
		case T_TruncateStmt:
			sc_walker((Node *) ((TruncateStmt *) stmt)->relations, w);
			break;
		case T_CallStmt:
			sc_walker((Node *) ((CallStmt *) stmt)->funccall, w);
			break;
		case T_CreateTrigStmt:
			{
				CreateTrigStmt *t = (CreateTrigStmt *) stmt;

				sc_walker((Node *) t->relation, w);
				if (sc_unqualified(t->funcname))
					sc_report(w, -1, "unqualified function \"%s\"", NameListToString(t->funcname));
				sc_walker(t->whenClause, w);
				break;
			}
		case T_VariableSetStmt:
		case T_VariableShowStmt:
		case T_TransactionStmt:
		case T_NotifyStmt:
		case T_ListenStmt:
		case T_UnlistenStmt:
		case T_CheckPointStmt:
		case T_DiscardStmt:
		case T_DeallocateStmt:
		case T_ClosePortalStmt:
		case T_ConstraintsSetStmt:
		case T_CreateExtensionStmt:
		case T_AlterExtensionStmt:
		case T_CreateRoleStmt:
			/* settings, channels, transaction modes, prepared statements and
			 * cursors by name, roles (global): nothing on search_path */
			break;
		default:
			sc_report(w, -1, "statement %s: not understood by the checker", CreateCommandName(stmt));
			break;
	}
}

/* the first token of a statement, past blanks and comments */
static int
sc_skip_blanks(const char *sql, int loc)
{
	for (;;)
	{
		while (sql[loc] == ' ' || sql[loc] == '\t' || sql[loc] == '\n' || sql[loc] == '\r')
			loc++;
		if (sql[loc] == '-' && sql[loc + 1] == '-')
		{
			while (sql[loc] != '\0' && sql[loc] != '\n')
				loc++;
		}
		else if (sql[loc] == '/' && sql[loc + 1] == '*')
		{
			int			depth = 0;

			do
			{
				if (sql[loc] == '/' && sql[loc + 1] == '*')
				{
					depth++;
					loc += 2;
				}
				else if (sql[loc] == '*' && sql[loc + 1] == '/')
				{
					depth--;
					loc += 2;
				}
				else
					loc++;
			} while (depth > 0 && sql[loc] != '\0');
		}
		else
			return loc;
	}
}

/* what a statement is, for the reports: its tag, and the object it creates */
static const char *
sc_statement_label(Node *stmt)
{
	const char *tag = CreateCommandName(stmt);

	switch (nodeTag(stmt))
	{
		case T_ViewStmt:
			return psprintf("%s %s", tag, ((ViewStmt *) stmt)->view->relname);
		case T_CreateStmt:
			return psprintf("%s %s", tag, ((CreateStmt *) stmt)->relation->relname);
		case T_IndexStmt:
			if (((IndexStmt *) stmt)->idxname != NULL)
				return psprintf("%s %s", tag, ((IndexStmt *) stmt)->idxname);
			return tag;
		case T_CreateFunctionStmt:
			return psprintf("%s %s", tag,
							strVal(llast(((CreateFunctionStmt *) stmt)->funcname)));
		default:
			return tag;
	}
}

List *
sqlcheck_text(const char *sql)
{
	List	   *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	ScWalk		w;
	ListCell   *lc;

	memset(&w, 0, sizeof(w));
	foreach(lc, raw)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);

		w.stmt_location = sc_skip_blanks(sql, Max(rs->stmt_location, 0));
		w.statement = sc_statement_label(rs->stmt);
		w.ctes = NIL;
		sc_statement(rs->stmt, &w);
	}
	return w.findings;
}

static bool
sc_ident_char(char c)
{
	return isalnum((unsigned char) c) || c == '_' || c == '$' || IS_HIGHBIT_SET(c);
}

/*
 * Whether the marker is a comment of the text, not part of a literal or an
 * identifier: a statement that merely searches pg_stat_statements for
 * perfopt's SQL (the marker inside a LIKE pattern) is not perfopt's own.
 */
bool
sqlcheck_has_marker(const char *s, int len)
{
	int			mlen = strlen(SQLCHECK_MARKER);
	int			i = 0;

	while (i < len)
	{
		char		c = s[i];

		if (c == '\'')
		{
			/* E'...' takes backslash escapes */
			bool		escapes = i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
				(i < 2 || !sc_ident_char(s[i - 2]));

			for (i++; i < len; i++)
			{
				if (escapes && s[i] == '\\')
					i++;
				else if (s[i] == '\'')
				{
					if (i + 1 < len && s[i + 1] == '\'')
						i++;
					else
						break;
				}
			}
			i++;
		}
		else if (c == '"')
		{
			for (i++; i < len; i++)
			{
				if (s[i] == '"')
				{
					if (i + 1 < len && s[i + 1] == '"')
						i++;
					else
						break;
				}
			}
			i++;
		}
		else if (c == '-' && i + 1 < len && s[i + 1] == '-')
		{
			while (i < len && s[i] != '\n')
				i++;
		}
		else if (c == '/' && i + 1 < len && s[i + 1] == '*')
		{
			int			depth = 0;

			if (len - i >= mlen && strncmp(s + i, SQLCHECK_MARKER, mlen) == 0)
				return true;
			do
			{
				if (i + 1 < len && s[i] == '/' && s[i + 1] == '*')
				{
					depth++;
					i += 2;
				}
				else if (i + 1 < len && s[i] == '*' && s[i + 1] == '/')
				{
					depth--;
					i += 2;
				}
				else
					i++;
			} while (depth > 0 && i < len);
		}
		else if (c == '$' && (i == 0 || !sc_ident_char(s[i - 1])) &&
				 i + 1 < len && !isdigit((unsigned char) s[i + 1]))
		{
			/* $tag$ ... $tag$ (a parameter $1 is not a quote) */
			int			j = i + 1;

			while (j < len && s[j] != '$' && sc_ident_char(s[j]))
				j++;
			if (j < len && s[j] == '$')
			{
				int			taglen = j - i + 1;
				const char *tag = s + i;

				for (i = j + 1; i < len; i++)
					if (len - i >= taglen && strncmp(s + i, tag, taglen) == 0)
						break;
				i += taglen;
			}
			else
				i++;
		}
		else
			i++;
	}
	return false;
}
