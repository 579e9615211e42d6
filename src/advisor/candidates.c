/*
 * candidates.c — turns the column uses the planner showed us (collect.c)
 * into hypothetical index definitions: single columns, composite btrees
 * (equality and join columns, most selective first, then one range
 * column, or the sort columns of an ORDER BY ... LIMIT), covering variants
 * with INCLUDE for index-only scans, GIN indexes for full-text and
 * containment searches, and BRIN indexes for range searches on a column
 * the heap is stored in the order of (cand_brin_ordered).  Leaves out
 * tables below perfopt.min_table_size and definitions an existing valid
 * index already covers as a prefix;
 * partial variants of a statement's candidates on a table where it
 * restricts a column by a value nearly all its sampled executions share
 * (collect.c's predicate uses): the column leaves the keys and becomes
 * the predicate ("(parent_id) WHERE status <> 'done'");
 * tables of extensions (perfopt's own among them) never get advice, and
 * an expression goes into an index only when its code's owners may act as
 * the table's owner (the build runs it as that owner).
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_statistic.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/readfuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "storage/bufmgr.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "advisor.h"
#include "perfopt.h"

/* more would only slow planning down for little gain */
#define CAND_MAX_EQ 3
/* average bytes above which a column is not worth copying into INCLUDE */
#define CAND_MAX_INCLUDE_WIDTH 32
/*
 * An index led by a column with fewer distinct values than this finds a
 * large share of the table per value: it leads a composite only, unless
 * the statement has sampled values and the column a rare value (less
 * than a tenth of the rows, cand_has_rare_value): the value asked for
 * may be that one, and the costing over the samples tells
 */
#define CAND_MIN_LEADING_NDISTINCT 10
#define CAND_MAX_INCLUDE 3

typedef struct CandState
{
	List	   *candidates;		/* AdvIndex */
	List	   *small_relids;	/* tables below perfopt.min_table_size */
	List	   *checked_relids;
	int			next_id;
	HTAB	   *by_key;			/* AdvIndex by key, for dedup */
	List	   *opclasses;		/* CandOpclass: GetDefaultOpClass() seen so far */
} CandState;

/* a type's default operator class for an access method (a catalog scan) */
typedef struct CandOpclass
{
	Oid			type;
	Oid			amoid;
	Oid			opclass;
} CandOpclass;

/* an entry of CandState.by_key: the key is the candidate's key text */
typedef struct CandKeyEntry
{
	const char *key;
	AdvIndex   *idx;
} CandKeyEntry;

static CandState cand;
/* the predicate the candidates being added get (a PREDICATE use), or NULL */
static AdvUse *cand_pred = NULL;

static uint32
cand_key_hash(const void *key, Size keysize)
{
	return string_hash(*(const char *const *) key, 0);
}

static int
cand_key_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * Forget the last run's candidates; the dedup table lives in the caller's
 * memory context (the run's), like the candidates.
 */
void
adv_candidates_reset(void)
{
	HASHCTL		ctl;

	memset(&cand, 0, sizeof(cand));
	cand_pred = NULL;
	ctl.keysize = sizeof(const char *);
	ctl.entrysize = sizeof(CandKeyEntry);
	ctl.hash = cand_key_hash;
	ctl.match = cand_key_match;
	ctl.hcxt = CurrentMemoryContext;
	cand.by_key = hash_create("perfopt candidates", 1024, &ctl,
							  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

List *
adv_candidates(void)
{
	return cand.candidates;
}

/*
 * Does the table belong to an extension (perfopt's own tables among
 * them)?  Such tables get no advice: their indexes are the extension's.
 */
bool
adv_extension_member(Oid relid)
{
	return OidIsValid(getExtensionOfObject(RelationRelationId, relid));
}

static bool
cand_same_column(AdvUse *a, AdvUse *b)
{
	if (a->attnum != 0 || b->attnum != 0)
		return a->attnum == b->attnum;
	return equal(a->expr, b->expr);
}

static bool
cand_table_too_small(Oid relid)
{
	if (list_member_oid(cand.small_relids, relid))
		return true;
	if (!list_member_oid(cand.checked_relids, relid))
	{
		Relation	rel = table_open(relid, AccessShareLock);
		double		bytes = (double) RelationGetNumberOfBlocks(rel) * BLCKSZ;

		table_close(rel, AccessShareLock);
		cand.checked_relids = lappend_oid(cand.checked_relids, relid);
		if (bytes < (double) perfopt_min_table_size * 1024.0)
		{
			cand.small_relids = lappend_oid(cand.small_relids, relid);
			return true;
		}
	}
	return false;
}

/*
 * An index's expressions as stored, not as the relcache gives them: the
 * relcache folds their IMMUTABLE functions (and an index predicate's), which
 * would run the table owner's code here, outside any restricted step.
 */
static List *
cand_stored_index_exprs(Relation irel)
{
	bool		isnull;
	Datum		d = SysCacheGetAttr(INDEXRELID, irel->rd_indextuple, Anum_pg_index_indexprs, &isnull);
	List	   *exprs;

	if (isnull)
		return NIL;
	exprs = (List *) stringToNode(TextDatumGetCString(d));
	fix_opfuncids((Node *) exprs);
	return exprs;
}

/*
 * An index's predicate as stored, as an implicit-AND list with varno 1
 * (not the relcache's, folded: see above); NIL for a full index.
 */
static List *
cand_stored_index_pred(Relation irel)
{
	bool		isnull;
	Datum		d = SysCacheGetAttr(INDEXRELID, irel->rd_indextuple, Anum_pg_index_indpred, &isnull);
	Node	   *pred;

	if (isnull)
		return NIL;
	pred = stringToNode(TextDatumGetCString(d));
	fix_opfuncids(pred);
	return make_ands_implicit((Expr *) pred);
}

/*
 * does an existing valid index of the same kind, with the same predicate
 * (none for a full index), start with idx's columns?
 */
static bool
cand_covered_by_existing(AdvIndex *idx)
{
	Relation	heap = table_open(idx->relid, AccessShareLock);
	List	   *indexes = RelationGetIndexList(heap);
	ListCell   *lc;
	bool		covered = false;

	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = irel->rd_index;
		List	   *iexprs;
		ListCell   *ie;
		ListCell   *ce = list_head(idx->exprs);
		bool		match = true;

		if (!form->indisvalid || !form->indisready ||
			heap_attisnull(irel->rd_indextuple, Anum_pg_index_indpred, NULL) != (idx->pred == NIL) ||
			(idx->pred != NIL && !equal(cand_stored_index_pred(irel), idx->pred)) ||
			irel->rd_rel->relam != idx->amoid ||
			form->indnkeyatts < idx->nkeycols || form->indnatts < idx->ncols)
		{
			index_close(irel, AccessShareLock);
			continue;
		}
		iexprs = cand_stored_index_exprs(irel);
		ie = list_head(iexprs);
		for (int i = 0; i < idx->ncols && match; i++)
		{
			int			icol = i < idx->nkeycols ? i : -1;
			AttrNumber	iatt;

			/* INCLUDE columns may sit anywhere in the existing index */
			if (icol < 0)
			{
				bool		found = false;

				for (int k = 0; k < form->indnatts && !found; k++)
					found = (idx->attnums[i] != 0 && form->indkey.values[k] == idx->attnums[i]);
				match = found;
				continue;
			}
			iatt = form->indkey.values[icol];
			if (iatt != idx->attnums[i])
				match = false;
			else if (iatt == 0)
			{
				match = (ie != NULL && ce != NULL && equal(lfirst(ie), lfirst(ce)));
				if (ie)
					ie = lnext(iexprs, ie);
				if (ce)
					ce = lnext(idx->exprs, ce);
			}
			if (match && irel->rd_opfamily[icol] != get_opclass_family(idx->opclasses[i]))
				match = false;
		}
		index_close(irel, AccessShareLock);
		if (match)
		{
			covered = true;
			break;
		}
	}
	list_free(indexes);
	table_close(heap, AccessShareLock);
	return covered;
}

static Oid
cand_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "perfopt: cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* GetDefaultOpClass(), remembered for the run: it scans pg_opclass */
static Oid
cand_default_opclass(Oid type, Oid amoid)
{
	ListCell   *lc;
	CandOpclass *entry;

	foreach(lc, cand.opclasses)
	{
		entry = lfirst(lc);
		if (entry->type == type && entry->amoid == amoid)
			return entry->opclass;
	}
	entry = palloc(sizeof(CandOpclass));
	entry->type = type;
	entry->amoid = amoid;
	entry->opclass = GetDefaultOpClass(type, amoid);
	cand.opclasses = lappend(cand.opclasses, entry);
	return entry->opclass;
}

/*
 * A BRIN pays off only where the heap is stored in the column's order: a
 * plain column of an ordinary table (not a partitioned one) whose
 * physical correlation, by its statistics, is at least
 * ADV_BRIN_MIN_CORRELATION in absolute value (an append-only time or
 * serial column).
 */
static bool
cand_brin_ordered(AdvIndex *idx)
{
	double		correlation;

	if (idx->nkeycols != 1 || idx->ncols != 1 || idx->attnums[0] <= 0 ||
		get_rel_relkind(idx->relid) != RELKIND_RELATION ||
		!adv_brin_correlation(idx->relid, idx->attnums[0], &correlation) ||
		fabs(correlation) < ADV_BRIN_MIN_CORRELATION)
		return false;
	idx->correlation = correlation;
	return true;
}

/*
 * ... and it is worth recommending only where it is much smaller than the
 * btree on the same column: at most ADV_BRIN_MAX_SIZE_SHARE of its size.
 */
static bool
cand_brin_small(AdvIndex *idx)
{
	AdvIndex	btree = *idx;

	btree.amoid = BTREE_AM_OID;
	btree.opclasses[0] = cand_default_opclass(get_atttype(idx->relid, idx->attnums[0]), BTREE_AM_OID);
	if (!OidIsValid(btree.opclasses[0]))
		return false;
	adv_index_estimate(&btree);
	idx->btree_pages = btree.pages;
	return (double) idx->pages <= (double) btree.pages * ADV_BRIN_MAX_SIZE_SHARE;
}

static void
cand_add(AdvStatement *st, Oid relid, Oid amoid, AdvUse **keys, int nkeys,
		 AdvUse **includes, int ninclude)
{
	AdvIndex   *idx;
	CandKeyEntry *entry;

	if (nkeys == 0 || nkeys + ninclude > INDEX_MAX_KEYS)
		return;
	/* (their ids must stay clear of the cost classes': advisor.h) */
	if (cand.next_id >= ADV_MAX_CANDIDATES)
		return;
	/* a column twice is never useful */
	for (int i = 0; i < nkeys + ninclude; i++)
		for (int k = 0; k < i; k++)
			if (cand_same_column(i < nkeys ? keys[i] : includes[i - nkeys],
								 k < nkeys ? keys[k] : includes[k - nkeys]))
				return;
	idx = palloc0(sizeof(AdvIndex));
	idx->relid = relid;
	idx->amoid = amoid;
	idx->pred_selectivity = 1.0;
	if (cand_pred != NULL)
	{
		/* built-in operators and types only (collect.c), still: the owner's rule */
		if (!adv_code_may_run_as(cand_pred->expr, cand_owner(relid)))
			return;
		idx->pred = list_make1(copyObject(cand_pred->expr));
		idx->pred_selectivity = cand_pred->selectivity;
	}
	idx->nkeycols = nkeys;
	idx->ncols = nkeys + ninclude;
	for (int i = 0; i < idx->ncols; i++)
	{
		AdvUse	   *use = i < nkeys ? keys[i] : includes[i - nkeys];

		idx->attnums[i] = use->attnum;
		/*
		 * The build evaluates the expression as the table's owner: only
		 * code whose owners may act as that owner (built-in functions,
		 * the owner's own) goes into an index.
		 */
		if (use->attnum == 0 && !adv_code_may_run_as((Node *) use->expr, cand_owner(relid)))
			return;
		if (use->attnum == 0)
			idx->exprs = lappend(idx->exprs, use->expr);
		if (i < nkeys)
		{
			idx->opclasses[i] = cand_default_opclass(use->type, amoid);
			if (!OidIsValid(idx->opclasses[i]))
				return;
		}
	}
	if (amoid == BRIN_AM_OID && !cand_brin_ordered(idx))
		return;
	idx->key = adv_index_key(idx);
	if (ninclude > 0)
	{
		/* an existing index on the same keys serves the lookup already */
		AdvIndex	keys_only = *idx;

		keys_only.ncols = keys_only.nkeycols;
		if (cand_covered_by_existing(&keys_only))
			return;
	}
	if (hash_search(cand.by_key, &idx->key, HASH_FIND, NULL) != NULL)
		return;
	if (cand_covered_by_existing(idx))
		return;
	adv_index_estimate(idx);
	if (amoid == BRIN_AM_OID && !cand_brin_small(idx))
		return;
	idx->id = ++cand.next_id;
	cand.candidates = lappend(cand.candidates, idx);
	entry = hash_search(cand.by_key, &idx->key, HASH_ENTER, NULL);
	entry->idx = idx;
	/* no predicate text: its value stays out of the log */
	elog(DEBUG2, "perfopt: candidate %d on %u: %d of %d column(s) led by attribute %d%s, %u pages",
		 idx->id, relid, idx->nkeycols, idx->ncols, idx->attnums[0],
		 idx->pred != NIL ? ", partial" : "", idx->pages);
}

/*
 * Does the column hold a value of less than 1 / CAND_MIN_LEADING_NDISTINCT
 * of the rows, by its statistics: one of its most common values, or the
 * values outside that list on average?
 */
static bool
cand_has_rare_value(Oid relid, AttrNumber attnum, double ndistinct)
{
	double	   *mcv_freqs;
	int			n = adv_column_stat_numbers(relid, attnum, STATISTIC_KIND_MCV, &mcv_freqs);
	double		sum = 0;
	bool		rare = false;

	if (n < 0)
		return false;
	for (int i = 0; i < n; i++)
	{
		sum += mcv_freqs[i];
		if (mcv_freqs[i] < 1.0 / CAND_MIN_LEADING_NDISTINCT)
			rare = true;
	}
	if (ndistinct > n && sum < 1.0 &&
		(1.0 - sum) / (ndistinct - n) < 1.0 / CAND_MIN_LEADING_NDISTINCT)
		rare = true;
	if (mcv_freqs)
		pfree(mcv_freqs);
	return rare;
}

/* may this equality column lead an index (alone or with INCLUDE)? */
static bool
cand_may_lead(AdvStatement *st, AdvUse *use)
{
	if (use->ndistinct >= CAND_MIN_LEADING_NDISTINCT)
		return true;
	return st->value_sets != NIL && use->expr == NULL &&
		cand_has_rare_value(use->relid, use->attnum, use->ndistinct);
}

static int
cand_by_ndistinct(const ListCell *a, const ListCell *b)
{
	double		da = ((AdvUse *) lfirst(a))->ndistinct;
	double		db = ((AdvUse *) lfirst(b))->ndistinct;

	return da > db ? -1 : (da < db ? 1 : 0);
}

/* append use to *list unless the same column is there already */
static List *
cand_add_unique(List *list, AdvUse *use)
{
	ListCell   *lc;

	foreach(lc, list)
		if (cand_same_column(lfirst(lc), use))
			return list;
	return lappend(list, use);
}

static bool
cand_in(List *list, AdvUse *use)
{
	ListCell   *lc;

	foreach(lc, list)
		if (cand_same_column(lfirst(lc), use))
			return true;
	return false;
}

/* narrow enough to copy into an index for index-only scans */
static bool
cand_narrow(AdvUse *use)
{
	int32		width = use->attnum > 0 ? get_attavgwidth(use->relid, use->attnum) : 0;

	if (width <= 0)
		width = get_typavgwidth(use->type, -1);
	return width <= CAND_MAX_INCLUDE_WIDTH;
}

/* the candidates of these uses (of one table), with cand_pred's predicate if set */
static void
cand_from_uses(AdvStatement *st, Oid relid, List *eq, List *range, List *sort,
			   List *outputs, List *gin)
{
	AdvUse	   *keys[INDEX_MAX_KEYS];
	AdvUse	   *inc[CAND_MAX_INCLUDE];
	int			n = 0;
	int			ninc = 0;
	bool		sort_uniform = true;
	ListCell   *lc;

	/* single columns */
	foreach(lc, eq)
		if (cand_may_lead(st, lfirst(lc)))
			cand_add(st, relid, BTREE_AM_OID, (AdvUse **) &lfirst(lc), 1, NULL, 0);
	foreach(lc, range)
		cand_add(st, relid, BTREE_AM_OID, (AdvUse **) &lfirst(lc), 1, NULL, 0);
	/* BRIN for a range column in the heap's order (cand_brin_ordered) */
	if (cand_pred == NULL)
		foreach(lc, range)
			cand_add(st, relid, BRIN_AM_OID, (AdvUse **) &lfirst(lc), 1, NULL, 0);

	/* equality columns, most selective first, then one range column */
	foreach(lc, eq)
	{
		if (n >= CAND_MAX_EQ)
			break;
		keys[n++] = lfirst(lc);
	}
	if (n > 1)
		cand_add(st, relid, BTREE_AM_OID, keys, n, NULL, 0);
	if (n > 0 && range != NIL)
	{
		keys[n] = linitial(range);
		cand_add(st, relid, BTREE_AM_OID, keys, n + 1, NULL, 0);
	}

	/* sort columns (a backward scan serves all-descending orders too) */
	foreach(lc, sort)
		if (((AdvUse *) lfirst(lc))->descending != ((AdvUse *) linitial(sort))->descending)
			sort_uniform = false;
	if (sort != NIL && sort_uniform)
	{
		int			ns = n;

		foreach(lc, sort)
		{
			if (ns >= INDEX_MAX_KEYS)
				break;
			if (!cand_in(eq, lfirst(lc)))
				keys[ns++] = lfirst(lc);
		}
		if (ns > n)
		{
			cand_add(st, relid, BTREE_AM_OID, keys, ns, NULL, 0);
			if (n > 0)
				cand_add(st, relid, BTREE_AM_OID, keys + n, ns - n, NULL, 0);
		}
	}

	/* covering: the key columns plus the few columns read, for index-only scans */
	if (n > 0 && range != NIL)
		keys[n++] = linitial(range);
	foreach(lc, outputs)
	{
		bool		in_keys = false;

		for (int k = 0; k < n; k++)
			in_keys |= cand_same_column(keys[k], lfirst(lc));
		if (in_keys)
			continue;
		if (ninc >= CAND_MAX_INCLUDE || !cand_narrow(lfirst(lc)))
		{
			ninc = 0;			/* too wide to be worth it */
			break;
		}
		inc[ninc++] = lfirst(lc);
	}
	if (n > 0 && ninc > 0 && cand_may_lead(st, keys[0]))
		cand_add(st, relid, BTREE_AM_OID, keys, n, inc, ninc);

	/* full-text and containment */
	foreach(lc, gin)
		cand_add(st, relid, GIN_AM_OID, (AdvUse **) &lfirst(lc), 1, NULL, 0);
}

/* uses without those of the predicate's column (it leaves the keys) */
static List *
cand_without_column(List *uses, AttrNumber attnum)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, uses)
		if (((AdvUse *) lfirst(lc))->attnum != attnum)
			result = lappend(result, lfirst(lc));
	return result;
}

static void
cand_for_relation(AdvStatement *st, Oid relid)
{
	List	   *eq = NIL;
	List	   *range = NIL;
	List	   *sort = NIL;
	List	   *outputs = NIL;
	List	   *gin = NIL;
	List	   *preds = NIL;
	ListCell   *lc;

	foreach(lc, st->uses)
	{
		AdvUse	   *use = lfirst(lc);

		if (use->relid != relid)
			continue;
		switch (use->kind)
		{
			case ADV_USE_EQ:
			case ADV_USE_JOIN:
				eq = cand_add_unique(eq, use);
				break;
			case ADV_USE_RANGE:
				range = cand_add_unique(range, use);
				break;
			case ADV_USE_SORT:
				/* a statement planned twice (min/max) reports its sort twice */
				sort = cand_add_unique(sort, use);
				break;
			case ADV_USE_GIN:
				gin = cand_add_unique(gin, use);
				break;
			case ADV_USE_LIKE:
				break;
			case ADV_USE_OUTPUT:
				outputs = cand_add_unique(outputs, use);
				break;
			case ADV_USE_PREDICATE:
				preds = lappend(preds, use);
				break;
		}
	}
	list_sort(eq, cand_by_ndistinct);
	list_sort(range, cand_by_ndistinct);

	cand_from_uses(st, relid, eq, range, sort, outputs, gin);

	/* partial variants: the predicate's column leaves the keys */
	foreach(lc, preds)
	{
		AdvUse	   *pred = lfirst(lc);

		List	   *psort = sort;

		/* an order on the predicate's column no longer comes from the keys */
		if (list_length(cand_without_column(sort, pred->attnum)) != list_length(sort))
			psort = NIL;
		/* an error ends the run; adv_candidates_reset() clears it then */
		cand_pred = pred;
		cand_from_uses(st, relid, cand_without_column(eq, pred->attnum),
					   cand_without_column(range, pred->attnum), psort, outputs, NIL);
		cand_pred = NULL;
	}
}

/* add the candidates a prepared statement suggests */
void
adv_candidates_for(AdvStatement *st)
{
	ListCell   *lc;

	foreach(lc, st->relids)
	{
		Oid			relid = lfirst_oid(lc);
		bool		small = cand_table_too_small(relid);

		elog(DEBUG2, "perfopt: statement " INT64_FORMAT " uses %d columns; table %u is %s",
			 st->queryid, list_length(st->uses), relid, small ? "too small" : "large enough");
		if (!small)
			cand_for_relation(st, relid);
	}
}
