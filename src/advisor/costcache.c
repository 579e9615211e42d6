/*
 * costcache.c — the advisor's plan-cost cache: a statement's plan cost
 * under a configuration of hypothetical indexes, keyed by the statement
 * and the sorted classes of the configuration's indexes it could use (the
 * others cannot change its plan).  One hash table per advisor run, in the
 * run's memory context; it forgets itself when that context goes away.
 *
 * An index's class, for a statement, is the index itself, unless the
 * statement mentions none of its last columns: then it is the class of
 * the indexes that begin with the same columns and have the same size.
 * The planner cannot tell such indexes apart for that statement: a column
 * the statement never names matches no clause, orders nothing it asks
 * for and is not needed for an index-only scan, and a btree's cost
 * depends on its size, not on its width.  So (parent, at, x) and
 * (parent, at, y) cost the same for a statement that names neither x nor
 * y, and are planned once.  Only plain btree columns on a table with no
 * children are trimmed, and only for a statement whose every mention of
 * the table is a column by number (no whole-row reference).
 */
#include "postgres.h"

#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "advisor.h"

typedef struct CostKey
{
	AdvStatement *st;
	int			n;
	const int  *ids;			/* sorted; the entry's own copy once stored */
} CostKey;

typedef struct CostEntry
{
	CostKey		key;
	double		cost;
} CostEntry;

/* the columns of one table a statement mentions (AdvStatement.mentions) */
typedef struct CostMentions
{
	Oid			relid;
	bool		known;			/* false: a whole-row reference, or no such table */
	Bitmapset  *cols;
} CostMentions;

/* a trimmed index's signature and its class */
typedef struct CostClass
{
	char	   *signature;		/* the hash key: the text, by pointer */
	int			id;
} CostClass;

static HTAB *cost_cache = NULL;
static MemoryContext cost_cxt = NULL;
static MemoryContextCallback cost_forget_cb;
/* a key being looked up: one buffer for the life of the backend */
static int *cost_ids = NULL;
static int	cost_ids_cap = 0;

static uint32
cost_key_hash(const void *key, Size keysize)
{
	const CostKey *k = key;
	uint32		h = hash_bytes((const unsigned char *) &k->st, sizeof(k->st));

	return hash_combine(h, hash_bytes((const unsigned char *) k->ids, k->n * sizeof(int)));
}

static int
cost_key_match(const void *a, const void *b, Size keysize)
{
	const CostKey *x = a;
	const CostKey *y = b;

	if (x->st != y->st || x->n != y->n)
		return 1;
	return memcmp(x->ids, y->ids, x->n * sizeof(int));
}

static void
cost_cache_forget(void *arg)
{
	cost_cache = NULL;
	cost_cxt = NULL;
}

/* may idx's last columns be trimmed for a statement that does not name them? */
static bool
cost_trimmable(AdvIndex *idx)
{
	return idx->amoid == BTREE_AM_OID && idx->ncols > 1 && idx->exprs == NIL &&
		get_rel_relkind(idx->relid) == RELKIND_RELATION && !has_subclass(idx->relid);
}

/* what the planner sees of idx's first len columns, at idx's size */
static char *
cost_signature(AdvIndex *idx, int len)
{
	StringInfoData buf;
	int			nkey = Min(len, idx->nkeycols);

	initStringInfo(&buf);
	appendStringInfo(&buf, "%u:%u:%d:%d", idx->relid, idx->amoid, nkey, len);
	for (int i = 0; i < len; i++)
		appendStringInfo(&buf, ":%d/%u", idx->attnums[i],
						 i < nkey ? idx->opclasses[i] : InvalidOid);
	appendStringInfo(&buf, ":%u:%d:%.17g", idx->pages, idx->tree_height, idx->tuples);
	if (idx->pred)
		appendStringInfo(&buf, ":where:%s", nodeToString(idx->pred));
	return buf.data;
}

static uint32
cost_signature_hash(const void *key, Size keysize)
{
	const char *text = *(char *const *) key;

	return hash_bytes((const unsigned char *) text, strlen(text));
}

static int
cost_signature_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* each candidate's classes, numbered after the candidates' own ids */
static void
cost_classes_build(List *candidates)
{
	HASHCTL		ctl;
	HTAB	   *classes;
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "perfopt index classes",
											  ALLOCSET_DEFAULT_SIZES);
	int			next = 0;
	ListCell   *lc;

	foreach(lc, candidates)
		next = Max(next, ((AdvIndex *) lfirst(lc))->id);
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(CostClass);
	ctl.hash = cost_signature_hash;
	ctl.match = cost_signature_match;
	ctl.hcxt = tmp;
	classes = hash_create("perfopt index classes", 1024, &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	foreach(lc, candidates)
	{
		AdvIndex   *idx = lfirst(lc);

		idx->trim_class = NULL;
		if (!cost_trimmable(idx))
			continue;
		CHECK_FOR_INTERRUPTS();
		idx->trim_class = palloc0(sizeof(int) * idx->ncols);
		for (int len = 1; len < idx->ncols; len++)
		{
			MemoryContext old = MemoryContextSwitchTo(tmp);
			char	   *signature = cost_signature(idx, len);
			CostClass  *class;

			/* (the entry keeps the pointer: the text lives in tmp too) */
			class = hash_search(classes, &signature, HASH_FIND, NULL);
			if (class == NULL && next < ADV_MAX_INDEX_ID)
			{
				class = hash_search(classes, &signature, HASH_ENTER, NULL);
				class->id = ++next;
			}
			/* (past the last id: no class, the index stands for itself) */
			idx->trim_class[len] = class ? class->id : 0;
			MemoryContextSwitchTo(old);
		}
	}
	MemoryContextDelete(tmp);
}

/*
 * A fresh, empty cache in the current memory context (the run's), and the
 * classes of the run's candidates.
 */
void
adv_cost_cache_begin(List *candidates)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(CostKey);
	ctl.entrysize = sizeof(CostEntry);
	ctl.hash = cost_key_hash;
	ctl.match = cost_key_match;
	ctl.hcxt = CurrentMemoryContext;
	cost_cache = hash_create("perfopt plan costs", 4096, &ctl,
							 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	cost_cxt = CurrentMemoryContext;
	cost_forget_cb.func = cost_cache_forget;
	cost_forget_cb.arg = NULL;
	MemoryContextRegisterResetCallback(cost_cxt, &cost_forget_cb);
	cost_classes_build(candidates);
}

typedef struct CostWalk
{
	Oid			relid;
	List	   *rtables;		/* the range tables from the outermost query in */
	bool		seen;			/* a range table entry of the table */
	bool		whole_row;
	Bitmapset  *cols;
} CostWalk;

static bool
cost_mentions_walker(Node *node, CostWalk *walk)
{
	if (node == NULL)
		return false;
	check_stack_depth();
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;
		int			level = list_length(walk->rtables) - 1 - (int) var->varlevelsup;
		List	   *rtable;

		if (level < 0)
			return false;
		rtable = list_nth(walk->rtables, level);
		if (var->varno < 1 || var->varno > list_length(rtable))
			return false;
		if (rt_fetch(var->varno, rtable)->rtekind == RTE_RELATION &&
			rt_fetch(var->varno, rtable)->relid == walk->relid)
		{
			if (var->varattno == 0)
				walk->whole_row = true;
			else if (var->varattno > 0)
				walk->cols = bms_add_member(walk->cols, var->varattno);
		}
		return false;
	}
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;
		ListCell   *lc;
		bool		done;

		foreach(lc, query->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);

			if (rte->rtekind == RTE_RELATION && rte->relid == walk->relid)
				walk->seen = true;
		}
		walk->rtables = lappend(walk->rtables, query->rtable);
		done = query_tree_walker(query, cost_mentions_walker, walk, 0);
		walk->rtables = list_delete_last(walk->rtables);
		return done;
	}
	return expression_tree_walker(node, cost_mentions_walker, walk);
}

/* the columns of relid st mentions; NULL when they cannot be told */
static const Bitmapset *
cost_mentions(AdvStatement *st, Oid relid)
{
	ListCell   *lc;
	CostMentions *m;
	CostWalk	walk = {0};
	MemoryContext old;

	foreach(lc, st->mentions)
	{
		m = lfirst(lc);
		if (m->relid == relid)
			return m->known ? m->cols : NULL;
	}
	/* (in the statement's own context: it lives as long as the statement) */
	old = MemoryContextSwitchTo(GetMemoryChunkContext(st));
	walk.relid = relid;
	if (st->query != NULL)
		(void) cost_mentions_walker((Node *) st->query, &walk);
	m = palloc0(sizeof(CostMentions));
	m->relid = relid;
	m->known = walk.seen && !walk.whole_row;
	m->cols = walk.cols;
	st->mentions = lappend(st->mentions, m);
	MemoryContextSwitchTo(old);
	return m->known ? m->cols : NULL;
}

/* idx's class for st (see the top of this file) */
static int
cost_class(AdvStatement *st, AdvIndex *idx)
{
	const Bitmapset *mentioned;
	int			len = idx->ncols;

	if (idx->trim_class == NULL || cost_cache == NULL)
		return idx->id;
	mentioned = cost_mentions(st, idx->relid);
	if (mentioned == NULL)
		return idx->id;
	while (len > 1 && !bms_is_member(idx->attnums[len - 1], mentioned))
		len--;
	if (len == idx->ncols || idx->trim_class[len] == 0)
		return idx->id;
	return idx->trim_class[len];
}

/* does st name column attnum of relid (true also when that cannot be told)? */
bool
adv_statement_names(AdvStatement *st, Oid relid, AttrNumber attnum)
{
	const Bitmapset *mentioned = cost_mentions(st, relid);

	return mentioned == NULL || bms_is_member(attnum, mentioned);
}

/*
 * An index the planner cannot tell from idx for a statement that names
 * none of idx's columns past the first len: those columns alone, at idx's
 * size, in idx's class of that length; NULL when idx is never trimmed.
 */
AdvIndex *
adv_cost_standin(AdvIndex *idx, int len)
{
	AdvIndex   *standin;

	if (idx->trim_class == NULL || len < 1 || len >= idx->ncols || idx->trim_class[len] == 0)
		return NULL;
	standin = palloc(sizeof(AdvIndex));
	*standin = *idx;
	standin->id = idx->trim_class[len];
	standin->ncols = len;
	standin->nkeycols = Min(len, idx->nkeycols);
	standin->key = NULL;
	standin->relevant = NIL;
	standin->sel = NULL;
	return standin;
}

/* the key of st under config, in cost_ids (sorted classes) */
static void
cost_key(CostKey *key, AdvStatement *st, AdvIndex **config, int n)
{
	if (n > cost_ids_cap)
	{
		cost_ids_cap = Max(64, n * 2);
		cost_ids = cost_ids ? repalloc(cost_ids, cost_ids_cap * sizeof(int)) :
			MemoryContextAlloc(TopMemoryContext, cost_ids_cap * sizeof(int));
	}
	for (int i = 0; i < n; i++)
	{
		int			id = cost_class(st, config[i]);
		int			j = i;

		/* insertion: a configuration a statement can use is short */
		while (j > 0 && cost_ids[j - 1] > id)
		{
			cost_ids[j] = cost_ids[j - 1];
			j--;
		}
		cost_ids[j] = id;
	}
	key->st = st;
	key->n = n;
	key->ids = cost_ids;
}

/*
 * the cached cost of st under config (n > 0, the indexes st could use);
 * false: none (also outside a run, whose cache is gone: the caller plans)
 */
bool
adv_cost_cache_get(AdvStatement *st, AdvIndex **config, int n, double *cost)
{
	CostKey		key;
	CostEntry  *entry;

	if (cost_cache == NULL)
		return false;
	cost_key(&key, st, config, n);
	entry = hash_search(cost_cache, &key, HASH_FIND, NULL);
	if (entry == NULL)
		return false;
	*cost = entry->cost;
	return true;
}

/* remember st's cost under config (n > 0); outside a run, nothing */
void
adv_cost_cache_put(AdvStatement *st, AdvIndex **config, int n, double cost)
{
	CostKey		key;
	CostEntry  *entry;
	bool		found;

	if (cost_cache == NULL)
		return;
	cost_key(&key, st, config, n);
	entry = hash_search(cost_cache, &key, HASH_ENTER, &found);
	if (!found)
	{
		int		   *copy = MemoryContextAlloc(cost_cxt, n * sizeof(int));

		memcpy(copy, cost_ids, n * sizeof(int));
		entry->key.ids = copy;
	}
	entry->cost = cost;
}
