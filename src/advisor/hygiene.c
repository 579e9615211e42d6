/*
 * hygiene.c — what is wrong with the indexes a database already has:
 * unused indexes, duplicates and indexes that another one covers as a
 * prefix, INVALID indexes left by failed builds, and foreign keys whose
 * referencing columns no index leads with.  Each finding becomes a
 * recommendation with its evidence; nothing is dropped or built here.
 *
 * Catalog and statistics reads only (SPI, read-only), in perfopt_advise()'s
 * transaction.  Unused indexes are also what-if-tested: hiding one must
 * not make any workload statement more than 10% costlier; and with
 * perfopt.advisor_standbys, no standby may have scanned one, nor failed
 * to answer (replica.c).
 */
#include "postgres.h"

#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"

#include "advisor.h"
#include "perfopt.h"
#include "replica.h"
#include "spiutil.h"

typedef struct HygIndex
{
	Oid			indexrelid;
	Oid			relid;
	char	   *qualified;		/* schema.index, quoted */
	char	   *table;			/* schema.table, quoted */
	char	   *am;
	int			nkey;
	char	   *keys;			/* indkey of the key columns, "1 2" */
	char	   *all_cols;		/* indkey of every column */
	char	   *opclasses;
	char	   *exprs;			/* NULL: none */
	char	   *pred;			/* NULL: none */
	bool		enforces;		/* unique, primary, exclusion or constraint */
	double		size;
	double		scans;
	bool		valid;
} HygIndex;

/* where findings live: SPI leaves its own context current after each call */
static MemoryContext hyg_cxt;

static int
hyg_exec(const char *sql, int nargs, Oid *types, Datum *values, long limit)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, true, limit);

	MemoryContextSwitchTo(hyg_cxt);
	return rc;
}

static char *
hyg_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

static double
hyg_number(int row, int col)
{
	char	   *v = hyg_text(row, col);

	return v ? strtod(v, NULL) : 0;
}

static AdvRecommendation *
hyg_new(const char *kind, HygIndex *ix, const char *ddl, const char *reason)
{
	AdvRecommendation *rec = palloc0(sizeof(AdvRecommendation));

	rec->kind = kind;
	rec->table_name = ix->table;
	rec->index_name = get_rel_name(ix->indexrelid);
	rec->ddl = pstrdup(ddl);
	rec->definition = psprintf("%s %s", kind, ix->qualified);
	rec->statements_json = "[]";
	rec->reason = pstrdup(reason);
	rec->size_bytes = ix->size;
	return rec;
}

/* the user indexes of this database, with what the comparisons need */
static List *
hyg_load_indexes(void)
{
	List	   *result = NIL;

	if (hyg_exec("/* perfopt */ SELECT i.indexrelid, i.indrelid,"
					" pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'"
					"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname),"
					" pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'"
					"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(t.relname),"
					" a.amname, i.indnkeyatts,"
					" pg_catalog.array_to_string((i.indkey::pg_catalog.int2[])"
					"  [0:i.indnkeyatts OPERATOR(pg_catalog.-) 1], ' '),"
					" i.indkey::pg_catalog.text, i.indclass::pg_catalog.text,"
					" pg_catalog.pg_get_expr(i.indexprs, i.indrelid),"
					" pg_catalog.pg_get_expr(i.indpred, i.indrelid),"
					" i.indisunique OR i.indisprimary OR i.indisexclusion OR i.indisreplident"
					"   OR EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k"
					"              WHERE k.conindid OPERATOR(pg_catalog.=) i.indexrelid),"
					" pg_catalog.pg_relation_size(i.indexrelid),"
					" COALESCE(s.idx_scan, 0), i.indisvalid"
					" FROM pg_catalog.pg_index i"
					" JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid"
					" JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) i.indrelid"
					" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					" JOIN pg_catalog.pg_am a ON a.oid OPERATOR(pg_catalog.=) c.relam"
					" LEFT JOIN pg_catalog.pg_stat_user_indexes s ON s.indexrelid OPERATOR(pg_catalog.=) i.indexrelid"
					" WHERE n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']::pg_catalog.name[])"
					" AND n.nspname OPERATOR(pg_catalog.!~) '^pg_toast' AND n.nspname OPERATOR(pg_catalog.!~) '^pg_temp'"
					" AND t.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'm']::pg_catalog.\"char\"[])"
					" ORDER BY i.indrelid, i.indexrelid", 0, NULL, NULL, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read pg_index");

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HygIndex   *ix = palloc0(sizeof(HygIndex));
		int			row = (int) r;

		ix->indexrelid = (Oid) hyg_number(row, 1);
		ix->relid = (Oid) hyg_number(row, 2);
		ix->qualified = hyg_text(row, 3);
		ix->table = hyg_text(row, 4);
		ix->am = hyg_text(row, 5);
		ix->nkey = (int) hyg_number(row, 6);
		ix->keys = hyg_text(row, 7);
		ix->all_cols = hyg_text(row, 8);
		ix->opclasses = hyg_text(row, 9);
		ix->exprs = hyg_text(row, 10);
		ix->pred = hyg_text(row, 11);
		ix->enforces = strcmp(hyg_text(row, 12), "t") == 0;
		ix->size = hyg_number(row, 13);
		ix->scans = hyg_number(row, 14);
		ix->valid = strcmp(hyg_text(row, 15), "t") == 0;
		/* an extension's indexes (perfopt's own) are the extension's business */
		if (!adv_extension_member(ix->relid))
			result = lappend(result, ix);
	}
	return result;
}

/* is a's key a prefix of b's (column numbers and opclasses alike)? */
static bool
hyg_key_prefix(HygIndex *a, HygIndex *b)
{
	size_t		klen = strlen(a->keys);
	const char *ao = a->opclasses;
	const char *bo = b->opclasses;
	int			n = 0;

	if (strncmp(a->keys, b->keys, klen) != 0 ||
		(b->keys[klen] != '\0' && b->keys[klen] != ' '))
		return false;
	/* the first nkey opclass numbers must match too */
	while (n < a->nkey)
	{
		size_t		la = strcspn(ao, " ");
		size_t		lb = strcspn(bo, " ");

		if (la != lb || strncmp(ao, bo, la) != 0)
			return false;
		ao += la + (ao[la] == ' ');
		bo += lb + (bo[lb] == ' ');
		n++;
	}
	return true;
}

/* is every column a stores (INCLUDE ones too) stored by b as well? */
static bool
hyg_includes_covered(HygIndex *a, HygIndex *b)
{
	char	   *mine = pstrdup(a->all_cols);
	char	   *save = NULL;

	for (char *tok = strtok_r(mine, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
	{
		char	   *theirs = pstrdup(b->all_cols);
		char	   *save2 = NULL;
		bool		found = false;

		for (char *t = strtok_r(theirs, " ", &save2); t && !found; t = strtok_r(NULL, " ", &save2))
			found = strcmp(t, tok) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* duplicates and prefix-covered indexes: the redundant one, with its cover */
static void
hyg_redundant(List *indexes, List **recs)
{
	ListCell   *la;
	ListCell   *lb;

	foreach(la, indexes)
	{
		HygIndex   *a = lfirst(la);

		if (!a->valid || a->enforces || a->pred || a->exprs)
			continue;
		foreach(lb, indexes)
		{
			HygIndex   *b = lfirst(lb);
			bool		duplicate;
			char	   *reason;

			if (a == b || b->relid != a->relid || !b->valid || b->pred || b->exprs ||
				strcmp(a->am, b->am) != 0 || strcmp(a->am, "btree") != 0 ||
				!hyg_key_prefix(a, b))
				continue;
			duplicate = (a->nkey == b->nkey);
			/* of two plain duplicates, keep the older (lower oid) */
			if (duplicate && !b->enforces && b->indexrelid > a->indexrelid)
				continue;
			if (!hyg_includes_covered(a, b))
				continue;
			reason = psprintf("%s: %s (%.1f MB) %s %s; every search it serves, %s serves too, and each write to %s maintains both",
							  duplicate ? "duplicate index" : "redundant index",
							  a->qualified, a->size / (1024 * 1024),
							  duplicate ? "has the same columns as" : "is a prefix of",
							  b->qualified, b->qualified, a->table);
			*recs = lappend(*recs,
							hyg_new("drop_index", a,
									psprintf("DROP INDEX CONCURRENTLY %s", a->qualified), reason));
			break;
		}
	}
}

/* the workload's statements whose cost rises by more than 10% without ix */
static AdvStatement *
hyg_needed_by(HygIndex *ix, List *statements)
{
	ListCell   *lc;

	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);
		double		cost;

		if (st->query == NULL || !list_member_oid(st->relids, ix->relid))
			continue;
		cost = adv_plan_cost_hiding(st, ix->indexrelid);
		if (cost < 0 || cost > st->cost_base * 1.10)
			return st;
	}
	return NULL;
}

/* no scans since the statistics window opened, long enough ago */
static void
hyg_unused(List *indexes, List *statements, List **recs)
{
	ListCell   *lc;
	double		window_minutes;

	if (hyg_exec("/* perfopt */ SELECT EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) COALESCE("
					" (SELECT stats_reset FROM pg_catalog.pg_stat_database WHERE datid OPERATOR(pg_catalog.=)"
					"  (SELECT oid FROM pg_catalog.pg_database"
					"   WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database())),"
					" pg_catalog.pg_postmaster_start_time())) OPERATOR(pg_catalog./) 60",
					0, NULL, NULL, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return;
	window_minutes = hyg_number(0, 1);
	if (window_minutes < perfopt_unused_index_min_age)
		return;

	foreach(lc, indexes)
	{
		HygIndex   *ix = lfirst(lc);
		AdvStatement *needed;
		AdvRecommendation *rec;

		if (!ix->valid || ix->enforces || ix->scans > 0)
			continue;
		/* the reads of hot standbys use the primary's indexes */
		if (adv_replica_index_scans(ix->indexrelid) != 0)
		{
			elog(DEBUG1, "perfopt: index %s is scanned on a standby, or a standby could not be read",
				 ix->qualified);
			continue;
		}
		needed = hyg_needed_by(ix, statements);
		if (needed)
		{
			elog(DEBUG1, "perfopt: unused index %s is still needed by statement " INT64_FORMAT,
				 ix->qualified, needed->queryid);
			continue;
		}
		rec = hyg_new("drop_index", ix, psprintf("DROP INDEX CONCURRENTLY %s", ix->qualified),
					  psprintf("unused index: no scan of %s (%.1f MB) in the %.0f days of statistics, and no statement of the workload plans costlier without it; each write to %s still maintains it",
							   ix->qualified, ix->size / (1024 * 1024), window_minutes / (60 * 24),
							   ix->table));
		rec->benefit_ms = 0;
		*recs = lappend(*recs, rec);
	}
}

/* INVALID indexes that no build is working on */
static void
hyg_invalid(List *indexes, List **recs)
{
	ListCell   *lc;

	foreach(lc, indexes)
	{
		HygIndex   *ix = lfirst(lc);
		Oid			type = OIDOID;
		Datum		value = ObjectIdGetDatum(ix->indexrelid);

		if (ix->valid)
			continue;
		if (hyg_exec("/* perfopt */ SELECT 1 FROM pg_catalog.pg_stat_progress_create_index"
					 " WHERE index_relid OPERATOR(pg_catalog.=) $1", 1, &type, &value, 1) == SPI_OK_SELECT &&
			SPI_processed > 0)
			continue;
		*recs = lappend(*recs,
						hyg_new("reindex", ix, psprintf("REINDEX INDEX CONCURRENTLY %s", ix->qualified),
								psprintf("invalid index: %s (%.1f MB) was left INVALID by a failed or cancelled build; queries cannot use it but every write to %s still maintains it",
										 ix->qualified, ix->size / (1024 * 1024), ix->table)));
	}
}

/* foreign keys whose referencing columns no valid index leads with */
static void
hyg_foreign_keys(List **recs, List *existing)
{
	List	   *found = NIL;
	ListCell   *lc;

	{
		Oid			type = INT4OID;
		Datum		value = Int32GetDatum(perfopt_min_table_size);

		if (hyg_exec("/* perfopt */ SELECT k.conrelid, k.conkey::pg_catalog.text, k.conname,"
								  " k.confrelid::pg_catalog.regclass::pg_catalog.text"
								  " FROM pg_catalog.pg_constraint k"
								  " JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) k.conrelid"
								  " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.relnamespace"
								  " WHERE k.contype OPERATOR(pg_catalog.=) 'f'"
								  " AND t.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.\"char\"[])"
								  " AND NOT t.relispartition"
								  " AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']::pg_catalog.name[])"
								  /* a partitioned table: its partitions together */
								  " AND CASE WHEN t.relkind OPERATOR(pg_catalog.=) 'p'"
								  "      THEN (SELECT pg_catalog.sum(pg_catalog.pg_relation_size(p.relid))"
								  "            FROM pg_catalog.pg_partition_tree(k.conrelid) p)"
								  "      ELSE pg_catalog.pg_relation_size(k.conrelid)"
								  "      END OPERATOR(pg_catalog.>=) ($1::pg_catalog.int8 OPERATOR(pg_catalog.*) 1024)"
								  " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
								  "   WHERE i.indrelid OPERATOR(pg_catalog.=) k.conrelid AND i.indisvalid AND i.indpred IS NULL"
								  "   AND (i.indkey::pg_catalog.int2[])[0:pg_catalog.array_length(k.conkey, 1) OPERATOR(pg_catalog.-) 1]"
								  "       OPERATOR(pg_catalog.@>) k.conkey"
								  "   AND (i.indkey::pg_catalog.int2[])[0:pg_catalog.array_length(k.conkey, 1) OPERATOR(pg_catalog.-) 1]"
								  "       OPERATOR(pg_catalog.<@) k.conkey)"
								  " ORDER BY k.oid", 1, &type, &value, 0) != SPI_OK_SELECT)
			elog(ERROR, "perfopt: could not read pg_constraint");
	}
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		if (adv_extension_member((Oid) strtoul(hyg_text((int) r, 1), NULL, 10)))
			continue;
		found = lappend(found, list_make4(hyg_text((int) r, 1), hyg_text((int) r, 2),
										  hyg_text((int) r, 3), hyg_text((int) r, 4)));
	}

	foreach(lc, found)
	{
		List	   *fk = lfirst(lc);
		AdvRecommendation *rec = palloc0(sizeof(AdvRecommendation));
		AdvIndex   *idx = palloc0(sizeof(AdvIndex));
		char	   *keys = lsecond(fk);
		char	   *tok;
		char	   *save = NULL;
		bool		ok = true;
		ListCell   *le;

		idx->relid = (Oid) strtoul(linitial(fk), NULL, 10);
		idx->amoid = BTREE_AM_OID;
		/* conkey looks like {2,3} */
		for (tok = strtok_r(keys, "{},", &save); tok && ok; tok = strtok_r(NULL, "{},", &save))
		{
			AttrNumber	att = (AttrNumber) atoi(tok);
			Oid			type = get_atttype(idx->relid, att);

			if (idx->nkeycols >= INDEX_MAX_KEYS || att <= 0 || !OidIsValid(type))
			{
				ok = false;
				break;
			}
			idx->attnums[idx->nkeycols] = att;
			idx->opclasses[idx->nkeycols] = GetDefaultOpClass(type, BTREE_AM_OID);
			ok = OidIsValid(idx->opclasses[idx->nkeycols]);
			idx->nkeycols++;
		}
		if (!ok || idx->nkeycols == 0)
			continue;
		idx->ncols = idx->nkeycols;
		adv_index_estimate(idx);
		rec->kind = "create_index";
		rec->idx = idx;
		adv_describe(rec);
		/* the workload part may already recommend this very index */
		foreach(le, existing)
			if (strcmp(((AdvRecommendation *) lfirst(le))->definition, rec->definition) == 0)
				ok = false;
		if (!ok)
			continue;
		rec->statements_json = "[]";
		rec->size_bytes = (double) idx->pages * BLCKSZ;
		rec->reason = psprintf("foreign key %s references %s, but no index leads with its columns: each DELETE or key UPDATE on %s scans %s, and joins on the key cannot use an index",
							   quote_identifier(lthird(fk)), (char *) lfourth(fk),
							   (char *) lfourth(fk), rec->table_name);
		if (get_rel_relkind(idx->relid) == RELKIND_PARTITIONED_TABLE)
			rec->reason = psprintf("%s; %s is partitioned, and PostgreSQL cannot build this index concurrently on it: perfopt_optimize() creates it ON ONLY the table, builds it concurrently on each partition and attaches them",
								   rec->reason, rec->table_name);
		*recs = lappend(*recs, rec);
	}
}

/* one finding per object: an index can be both unused and redundant */
static List *
hyg_unique(List *recs)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, recs)
	{
		AdvRecommendation *rec = lfirst(lc);
		ListCell   *lr;
		bool		seen = false;

		foreach(lr, result)
			seen |= strcmp(((AdvRecommendation *) lfirst(lr))->definition, rec->definition) == 0;
		if (!seen)
			result = lappend(result, rec);
	}
	return result;
}

List *
adv_hygiene(List *statements, List *existing)
{
	List	   *recs = NIL;
	List	   *indexes;

	/* findings must outlive SPI_finish() */
	hyg_cxt = CurrentMemoryContext;
	perfopt_spi_connect();
	MemoryContextSwitchTo(hyg_cxt);
	indexes = hyg_load_indexes();
	hyg_redundant(indexes, &recs);
	hyg_unused(indexes, statements, &recs);
	hyg_invalid(indexes, &recs);
	hyg_foreign_keys(&recs, existing);
	SPI_finish();
	return hyg_unique(recs);
}
