/*
 * costcache.c — the advisor's plan-cost cache: a statement's plan cost
 * under a configuration of hypothetical indexes, keyed by the statement
 * and the sorted ids of the configuration's indexes it could use (the
 * others cannot change its plan).  One hash table per advisor run, in the
 * run's memory context; it forgets itself when that context goes away.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/hsearch.h"
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

static HTAB *cost_cache = NULL;
static MemoryContext cost_cxt = NULL;
static MemoryContextCallback cost_forget_cb;

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

/* a fresh, empty cache in the current memory context (the run's) */
void
adv_cost_cache_begin(void)
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
}

/*
 * the cached cost of st under the indexes ids (sorted, n > 0); false: none
 * (also outside a run, whose cache is gone: the caller plans)
 */
bool
adv_cost_cache_get(AdvStatement *st, const int *ids, int n, double *cost)
{
	CostKey		key;
	CostEntry  *entry;

	if (cost_cache == NULL)
		return false;
	key.st = st;
	key.n = n;
	key.ids = ids;
	entry = hash_search(cost_cache, &key, HASH_FIND, NULL);
	if (entry == NULL)
		return false;
	*cost = entry->cost;
	return true;
}

/* remember st's cost under ids (sorted, n > 0); outside a run, nothing */
void
adv_cost_cache_put(AdvStatement *st, const int *ids, int n, double cost)
{
	CostKey		key;
	CostEntry  *entry;
	bool		found;

	if (cost_cache == NULL)
		return;
	key.st = st;
	key.n = n;
	key.ids = ids;
	entry = hash_search(cost_cache, &key, HASH_ENTER, &found);
	if (!found)
	{
		int		   *copy = MemoryContextAlloc(cost_cxt, n * sizeof(int));

		memcpy(copy, ids, n * sizeof(int));
		entry->key.ids = copy;
	}
	entry->cost = cost;
}
