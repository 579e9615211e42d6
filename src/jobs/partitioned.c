/*
 * partitioned.c — perfopt's indexes on partitioned tables, built and
 * removed by the job runner.
 *
 * PostgreSQL 15 cannot CREATE INDEX CONCURRENTLY on a partitioned table,
 * so a build goes partition by partition: CREATE INDEX CONCURRENTLY on
 * every leaf first, not attached to anything yet, then, deepest first,
 * CREATE INDEX ON ONLY each partitioned table (no data is read) and ALTER
 * INDEX ... ATTACH PARTITION of its partitions' indexes; an index on a
 * partitioned table becomes valid when its last partition is attached.
 * Until the leaves are all built a failure leaves only plain indexes,
 * each dropped concurrently on its own; an attached index goes only with
 * its parent, whose DROP locks the whole tree (ACCESS EXCLUSIVE, briefly,
 * under the job's lock_timeout).
 *
 * Each partition's index is named after the parent's with "_p<oid of the
 * partition>", so that after a failure, or at the recovery after a crash,
 * perfopt_partitioned_cleanup() finds what the build left: dropping the
 * invalid parent index drops every attached one, and an index built but
 * not attached yet is dropped by its name.  Only those names are dropped.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"

#include "jobs.h"

/* one table of the tree, parents first */
typedef struct PtNode
{
	Oid			relid;
	Oid			parent;			/* InvalidOid for the root */
	bool		partitioned;	/* gets an ON ONLY index */
	char	   *nspname;		/* raw names */
	char	   *relname;
	char	   *index_name;		/* raw, in nspname */
} PtNode;

static char *
pt_spi_text(int row, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? pstrdup(v) : NULL;
}

/* the name of a partition's index: the parent's, clipped, and "_p<oid>" */
static char *
pt_child_index_name(const char *parent_index, Oid partition)
{
	char		suffix[16];
	int			keep;

	snprintf(suffix, sizeof(suffix), "_p%u", partition);
	keep = pg_mbcliplen(parent_index, strlen(parent_index),
						NAMEDATALEN - 1 - (int) strlen(suffix));
	return psprintf("%.*s%s", keep, parent_index, suffix);
}

static char *
pt_qualified(const char *nspname, const char *relname)
{
	return psprintf("%s.%s", quote_identifier(nspname), quote_identifier(relname));
}

/*
 * The table tree, parents before partitions, in the caller's memory
 * context (SPI's goes away at perfopt_job_xact_end).
 */
static List *
pt_tree(const char *table)
{
	MemoryContext outer = CurrentMemoryContext;
	Oid			type = TEXTOID;
	Datum		value = CStringGetTextDatum(table);
	List	   *nodes = NIL;

	perfopt_job_xact_begin();
	if (SPI_execute_with_args("/* perfopt */ SELECT t.relid::pg_catalog.oid, t.parentrelid::pg_catalog.oid, c.relkind, n.nspname, c.relname"
							  " FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass($1)) t"
							  " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid"
							  " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
							  " ORDER BY t.level, t.relid",
							  1, &type, &value, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read the partitions of %s", table);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);
		PtNode	   *node = palloc0(sizeof(PtNode));
		char	   *parent = pt_spi_text((int) r, 2);
		char	   *relkind = pt_spi_text((int) r, 3);

		node->relid = (Oid) strtoul(pt_spi_text((int) r, 1), NULL, 10);
		node->parent = parent ? (Oid) strtoul(parent, NULL, 10) : InvalidOid;
		node->partitioned = relkind[0] == RELKIND_PARTITIONED_TABLE;
		node->nspname = pt_spi_text((int) r, 4);
		node->relname = pt_spi_text((int) r, 5);
		if (relkind[0] != RELKIND_RELATION && relkind[0] != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot index %s because its partition %s is not a table that can be indexed",
							table, pt_qualified(node->nspname, node->relname))));
		nodes = lappend(nodes, node);
		MemoryContextSwitchTo(spi);
	}
	perfopt_job_xact_end();
	MemoryContextSwitchTo(outer);
	return nodes;
}

bool
perfopt_partitioned_table(const char *table)
{
	Oid			type = TEXTOID;
	Datum		value = CStringGetTextDatum(table);
	bool		partitioned = false;

	perfopt_job_xact_begin();
	if (SPI_execute_with_args("/* perfopt */ SELECT 1 FROM pg_catalog.pg_class"
							  " WHERE oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)"
							  " AND relkind OPERATOR(pg_catalog.=) 'p'",
							  1, &type, &value, NULL, true, 1) == SPI_OK_SELECT)
		partitioned = SPI_processed == 1;
	perfopt_job_xact_end();
	return partitioned;
}

/* one statement, parsed (a step perfopt builds is run from its parse tree) */
static Node *
pt_parse_one(const char *sql)
{
	List	   *raw = raw_parser(sql, RAW_PARSE_DEFAULT);

	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("a job statement must be a single statement")));
	return linitial_node(RawStmt, raw)->stmt;
}

/* the job's CREATE INDEX CONCURRENTLY, parsed: the template of every step */
static IndexStmt *
pt_parse_template(const char *statement)
{
	Node	   *stmt = pt_parse_one(statement);

	if (!IsA(stmt, IndexStmt) || !((IndexStmt *) stmt)->concurrent ||
		((IndexStmt *) stmt)->idxname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a build job must be a named CREATE INDEX CONCURRENTLY")));
	return (IndexStmt *) stmt;
}

/* run one step: its parse tree, shown in pg_stat_activity as text */
static void
pt_step(const char *source, Node *stmt, const char *shown)
{
	CHECK_FOR_INTERRUPTS();
	pgstat_report_activity(STATE_RUNNING, shown);
	perfopt_job_execute(source, stmt);
}

void
perfopt_partitioned_build(const char *statement, const char *table)
{
	IndexStmt  *template = pt_parse_template(statement);
	List	   *nodes = pt_tree(table);
	ListCell   *lc;

	foreach(lc, nodes)
	{
		PtNode	   *node = lfirst(lc);

		node->index_name = OidIsValid(node->parent) ?
			pt_child_index_name(template->idxname, node->relid) : template->idxname;
	}

	/*
	 * The leaves first, concurrently and not yet attached: until the end a
	 * failure leaves only plain indexes, each dropped concurrently alone
	 * (positions in the steps' errors point into the job's statement).
	 */
	foreach(lc, nodes)
	{
		PtNode	   *node = lfirst(lc);
		IndexStmt  *step;

		if (node->partitioned)
			continue;
		step = copyObject(template);
		step->relation = makeRangeVar(node->nspname, node->relname, -1);
		step->idxname = node->index_name;
		pt_step(statement, (Node *) step,
				psprintf("CREATE INDEX CONCURRENTLY %s ON %s (a step of: %s)",
						 quote_identifier(step->idxname),
						 pt_qualified(node->nspname, node->relname), statement));
	}

	/* then each partitioned table, deepest first: ON ONLY, and attach */
	for (int i = list_length(nodes) - 1; i >= 0; i--)
	{
		PtNode	   *node = list_nth(nodes, i);
		IndexStmt  *step;
		ListCell   *lp;

		if (!node->partitioned)
			continue;
		step = copyObject(template);
		step->relation = makeRangeVar(node->nspname, node->relname, -1);
		step->relation->inh = false;
		step->idxname = node->index_name;
		step->concurrent = false;
		pt_step(statement, (Node *) step,
				psprintf("CREATE INDEX %s ON ONLY %s (a step of: %s)",
						 quote_identifier(step->idxname),
						 pt_qualified(node->nspname, node->relname), statement));
		foreach(lp, nodes)
		{
			PtNode	   *part = lfirst(lp);
			char	   *sql;

			if (part->parent != node->relid)
				continue;
			sql = psprintf("ALTER INDEX %s ATTACH PARTITION %s",
						   pt_qualified(node->nspname, node->index_name),
						   pt_qualified(part->nspname, part->index_name));
			pt_step(sql, pt_parse_one(sql), sql);
		}
	}
	pgstat_report_activity(STATE_RUNNING, statement);
}

/*
 * What a failed or interrupted build left: the parent's index while it is
 * invalid (its drop takes every attached partition index along), then the
 * partition indexes of this build that were never attached.  Failures are
 * logged, not raised.
 */
void
perfopt_partitioned_cleanup(const char *index_name, const char *table)
{
	MemoryContext outer = CurrentMemoryContext;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char	   *parent_name = NULL;
	bool		parent_invalid = false;
	List	   *orphans = NIL;
	ListCell   *lc;

	values[0] = CStringGetTextDatum(index_name);
	values[1] = CStringGetTextDatum(table);
	perfopt_job_xact_begin();
	/* the index's own name, and whether it exists and is invalid */
	if (SPI_execute_with_args("/* perfopt */ SELECT i.n[pg_catalog.array_upper(i.n, 1)],"
							  " COALESCE((SELECT NOT x.indisvalid FROM pg_catalog.pg_index x"
							  "  WHERE x.indexrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)), false)"
							  " FROM (SELECT pg_catalog.parse_ident($1) AS n) i",
							  1, types, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);

		parent_name = pt_spi_text(0, 1);
		parent_invalid = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), "t") == 0;
		MemoryContextSwitchTo(spi);
	}
	/* every index on a partition of the tree that no parent index holds */
	if (parent_name &&
		SPI_execute_with_args("/* perfopt */ SELECT c.oid, n.nspname, ic.relname"
							  " FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass($2)) t"
							  " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid"
							  " JOIN pg_catalog.pg_index x ON x.indrelid OPERATOR(pg_catalog.=) c.oid"
							  " JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) x.indexrelid"
							  " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) ic.relnamespace"
							  " WHERE t.level OPERATOR(pg_catalog.>) 0"
							  " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h"
							  "                 WHERE h.inhrelid OPERATOR(pg_catalog.=) ic.oid)",
							  2, types, values, NULL, true, 0) == SPI_OK_SELECT)
	{
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			MemoryContext spi = MemoryContextSwitchTo(outer);
			Oid			partition = (Oid) strtoul(pt_spi_text((int) r, 1), NULL, 10);
			char	   *name = pt_spi_text((int) r, 3);

			/* only the names this build gives */
			if (strcmp(name, pt_child_index_name(parent_name, partition)) == 0)
				orphans = lappend(orphans, pt_qualified(pt_spi_text((int) r, 2), name));
			MemoryContextSwitchTo(spi);
		}
	}
	perfopt_job_xact_end();
	MemoryContextSwitchTo(outer);

	if (parent_invalid)
		perfopt_job_drop_quietly(index_name);
	foreach(lc, orphans)
		perfopt_job_drop_quietly(lfirst(lc));
}
