/*
 * describe.c — how a recommended index is written down: its definition
 * ("ON table USING method (columns) INCLUDE (...) WHERE predicate", which
 * identifies it across runs; btree, gin or brin; the predicate printed as pg_get_indexdef
 * prints it back, its constants quoted by the server's deparser), its
 * name (perfopt_<table>_<columns>[_partial], unique within NAMEDATALEN by
 * a hash; a partial index's always carries the hash of its definition, so
 * two predicates never share a name) and its CREATE INDEX CONCURRENTLY
 * statement.
 * For the workload's recommendations (advise.c) and the foreign keys'
 * (hygiene.c) alike.
 */
#include "postgres.h"

#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "tsearch/ts_cache.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "advisor.h"

/* a normalized text search configuration becomes default_text_search_config */
static Node *
adv_fill_regconfig(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Param) && ((Param *) node)->paramtype == REGCONFIGOID)
	{
		*(bool *) context = true;
		return (Node *) makeConst(REGCONFIGOID, -1, InvalidOid, sizeof(Oid),
								  ObjectIdGetDatum(getTSCurrentConfig(true)), false, true);
	}
	return expression_tree_mutator(node, adv_fill_regconfig, context);
}

/* the access method's name as CREATE INDEX takes it */
static const char *
adv_method_name(Oid amoid)
{
	switch (amoid)
	{
		case GIN_AM_OID:
			return "gin";
		case BRIN_AM_OID:
			return "brin";
		default:
			return "btree";
	}
}

/* "lower(email)" -> "lower_email": the words of an expression, for a name */
static char *
adv_name_part(const char *text)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = text; *p; p++)
	{
		if (isalnum((unsigned char) *p) || *p == '_' || IS_HIGHBIT_SET(*p))
			appendStringInfoChar(&buf, *p);
		else if (buf.len > 0 && buf.data[buf.len - 1] != '_')
			appendStringInfoChar(&buf, '_');
	}
	while (buf.len > 0 && buf.data[buf.len - 1] == '_')
		buf.data[--buf.len] = '\0';
	return buf.len > 0 ? buf.data : pstrdup("expr");
}

static char *
adv_column_text(AdvIndex *idx, int col, ListCell **expr_cell, List *dpcontext, bool for_name,
				bool *filled)
{
	if (idx->attnums[col] != 0)
	{
		char	   *name = get_attname(idx->relid, idx->attnums[col], false);

		return for_name ? name : pstrdup(quote_identifier(name));
	}
	else
	{
		Node	   *expr = adv_fill_regconfig(lfirst(*expr_cell), filled);
		char	   *text;

		*expr_cell = lnext(idx->exprs, *expr_cell);
		text = deparse_expression(expr, dpcontext, false, false);
		if (for_name)
			return adv_name_part(text);
		return psprintf("(%s)", text);
	}
}

/* perfopt_<table>_<columns>[_gin|_brin], within NAMEDATALEN, unique by a hash */
static char *
adv_index_name(AdvIndex *idx, const char *definition, List *dpcontext)
{
	StringInfoData name;
	ListCell   *expr_cell = list_head(idx->exprs);
	int			len;
	bool		filled = false;

	initStringInfo(&name);
	appendStringInfo(&name, "perfopt_%s", get_rel_name(idx->relid));
	for (int i = 0; i < idx->nkeycols; i++)
		appendStringInfo(&name, "_%s", adv_column_text(idx, i, &expr_cell, dpcontext, true, &filled));
	if (idx->amoid == GIN_AM_OID)
		appendStringInfoString(&name, "_gin");
	else if (idx->amoid == BRIN_AM_OID)
		appendStringInfoString(&name, "_brin");
	if (idx->ncols > idx->nkeycols)
		appendStringInfoString(&name, "_incl");
	if (idx->pred != NIL)
		appendStringInfoString(&name, "_partial");

	/* too long, taken or partial: cut on a character boundary, add a hash */
	if (name.len >= NAMEDATALEN || idx->pred != NIL ||
		OidIsValid(get_relname_relid(name.data, get_rel_namespace(idx->relid))))
	{
		uint32		hash = hash_bytes((const unsigned char *) definition, strlen(definition));

		len = pg_mbcliplen(name.data, name.len, NAMEDATALEN - 1 - 9);
		name.data[len] = '\0';
		name.len = len;
		appendStringInfo(&name, "_%08x", hash);
	}
	return name.data;
}

void
adv_describe(AdvRecommendation *rec)
{
	AdvIndex   *idx = rec->idx;
	char	   *relname = get_rel_name(idx->relid);
	char	   *nspname = get_namespace_name(get_rel_namespace(idx->relid));
	List	   *dpcontext = deparse_context_for(relname, idx->relid);
	ListCell   *expr_cell = list_head(idx->exprs);
	StringInfoData def;

	rec->table_name = psprintf("%s.%s", quote_identifier(nspname), quote_identifier(relname));
	initStringInfo(&def);
	appendStringInfo(&def, "ON %s USING %s (", rec->table_name, adv_method_name(idx->amoid));
	for (int i = 0; i < idx->ncols; i++)
	{
		if (i == idx->nkeycols)
			appendStringInfoString(&def, ") INCLUDE (");
		else if (i > 0)
			appendStringInfoString(&def, ", ");
		appendStringInfoString(&def, adv_column_text(idx, i, &expr_cell, dpcontext, false,
													  &rec->assumes_ts_config));
	}
	appendStringInfoChar(&def, ')');
	if (idx->pred != NIL)
	{
		/* as pg_get_indexdef: " WHERE " and the deparsed expression, its own parentheses */
		Node	   *pred = (Node *) make_ands_explicit(idx->pred);

		appendStringInfo(&def, " WHERE %s", deparse_expression(pred, dpcontext, false, false));
	}
	rec->definition = def.data;
	rec->index_name = adv_index_name(idx, def.data, dpcontext);
	rec->ddl = psprintf("CREATE INDEX CONCURRENTLY %s %s",
						quote_identifier(rec->index_name), rec->definition);
}
