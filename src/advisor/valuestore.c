/*
 * valuestore.c — the value samples' shared memory: a bounded table of
 * statements, keyed like pg_stat_statements (database, user, query id),
 * each with a small reservoir of the value sets it was run with.
 *
 * Layout: VsShared (counters), then a shared hash table of
 * perfopt.value_sample_statements VsEntry, each about 2.3 kB: the key, the
 * time its sampled executions took (the statement's weight), its
 * reservoir and an arena of PERFOPT_VALUE_ARENA bytes holding its distinct
 * value sets.  Sized at server start; nothing is allocated later.
 *
 * The reservoir: PERFOPT_VALUE_SLOTS observation slots filled by
 * Algorithm R (the i-th execution offered replaces a random slot with
 * probability SLOTS / i), so every execution offered since the statement
 * entered the table is equally likely to be kept.  A slot points at one of
 * at most PERFOPT_VALUE_SETS distinct sets: identical sets share one, and
 * a set's weight is the number of slots pointing at it (its frequency
 * among those kept).  A new distinct set that finds no free set or no
 * room in the arena, even after its victim slot's set went, is not kept
 * (counted as dropped); the reservoir stays as it was.
 *
 * Statements that matter: a statement enters on its first sampled
 * execution; its weight is the time its sampled executions took, which
 * estimates its share of the total time (executions are sampled at one
 * rate).  When the table is full, the 5% of entries with the least
 * weight leave at once, and every weight decays by 1% (as
 * pg_stat_statements deallocates), so a statement that stopped running
 * gives way.
 *
 * Reset: pg_stat_statements has no hook.  perfopt_value_samples_sync(),
 * which the advisor calls before it reads the workload, drops every entry
 * created before pg_stat_statements_info.stats_reset (a full reset) and
 * this database's entries whose statement pg_stat_statements no longer
 * has (a reset of single entries, or its own eviction; only the caller's
 * own when it may not read all statistics: pg_stat_statements hides the
 * other roles' query ids from it).  With sampling off
 * in the calling session (perfopt.value_sample_rate = 0) it drops
 * everything, and perfopt_value_samples() returns nothing.
 *
 * Locking: one LWLock of the "perfopt" tranche guards the table; the
 * capture takes it exclusively for one insertion (a sampled execution
 * only), readers shared for one entry's copy.  Values are never logged,
 * returned by SQL or written anywhere; a set or an entry that leaves is
 * wiped (explicit_bzero), and so is a reader's copy once it is parsed.
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "extschema.h"
#include "shmem.h"
#include "spiutil.h"
#include "valuestore.h"

/* a set's slot index meaning "empty" */
#define VS_NONE 0xFF
/* a value's length meaning SQL NULL */
#define VS_NULL_LEN 0xFFFF
/* share of the entries evicted at once when the table is full */
#define VS_EVICT_PERCENT 5
#define VS_DECAY 0.99

int			perfopt_value_sample_statements = 1000;
double		perfopt_value_sample_rate = 0.01;

typedef struct VsKey
{
	Oid			dbid;
	Oid			userid;
	uint64		queryid;
} VsKey;

typedef struct VsSet
{
	uint32		hash;			/* of its serialized bytes */
	uint16		offset;			/* in the arena */
	uint16		length;
	int16		nparams;
	int16		weight;			/* slots pointing at it; 0: free */
} VsSet;

typedef struct VsEntry
{
	VsKey		key;			/* hash key: first */
	TimestampTz created;
	double		time_ms;		/* sampled executions' time, decayed */
	uint64		offered;		/* executions offered: Algorithm R's i */
	uint16		used;			/* arena bytes in use, from its start */
	uint8		slots[PERFOPT_VALUE_SLOTS];	/* set index per slot, VS_NONE */
	VsSet		sets[PERFOPT_VALUE_SETS];
	char		arena[PERFOPT_VALUE_ARENA];
} VsEntry;

typedef struct VsShared
{
	LWLock	   *lock;
	int			capacity;
	uint64		offered;
	uint64		dropped;
	uint64		evicted;
	pg_atomic_uint64 skipped;
} VsShared;

static VsShared *vs = NULL;
static HTAB *vs_hash = NULL;
/* the eviction's sort space, allocated before the lock is taken */
static VsEntry **vs_evict_buf = NULL;

/* ---- shared memory ---- */

static Size
vs_shmem_size(void)
{
	if (perfopt_value_sample_statements <= 0)
		return 0;
	return add_size(MAXALIGN(sizeof(VsShared)),
					hash_estimate_size(perfopt_value_sample_statements, sizeof(VsEntry)));
}

static void
vs_shmem_init(bool created, LWLock *lock)
{
	bool		found;
	HASHCTL		info;

	if (perfopt_value_sample_statements <= 0)
		return;
	vs = ShmemInitStruct("perfopt value samples", sizeof(VsShared), &found);
	if (!found)
	{
		memset(vs, 0, sizeof(VsShared));
		vs->lock = lock;
		vs->capacity = perfopt_value_sample_statements;
		pg_atomic_init_u64(&vs->skipped, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(VsKey);
	info.entrysize = sizeof(VsEntry);
	vs_hash = ShmemInitHash("perfopt value samples hash",
							perfopt_value_sample_statements, perfopt_value_sample_statements,
							&info, HASH_ELEM | HASH_BLOBS);
}

static const PerfoptShmemPart vs_shmem_part = {
	vs_shmem_size, vs_shmem_init, true
};

void
perfopt_value_store_shmem_register(void)
{
	if (perfopt_value_sample_statements > 0)
		perfopt_shmem_register(&vs_shmem_part);
}

bool
perfopt_value_store_ready(void)
{
	return vs != NULL && vs_hash != NULL;
}

/* ---- a set's bytes: per value a uint16 length (VS_NULL_LEN: NULL), then the text ---- */

/* the serialized size of values, or -1 when it cannot fit an arena */
static int
vs_serialized_size(int nparams, char *const *values)
{
	int			size = 0;

	for (int i = 0; i < nparams; i++)
	{
		size += sizeof(uint16);
		if (values[i] != NULL)
		{
			size_t		len = strlen(values[i]);

			if (len > PERFOPT_VALUE_MAX_LEN)
				return -1;
			size += (int) len;
		}
		if (size > PERFOPT_VALUE_ARENA)
			return -1;
	}
	return size;
}

static void
vs_serialize(char *out, int nparams, char *const *values)
{
	for (int i = 0; i < nparams; i++)
	{
		uint16		len = values[i] ? (uint16) strlen(values[i]) : VS_NULL_LEN;

		memcpy(out, &len, sizeof(uint16));
		out += sizeof(uint16);
		if (values[i] != NULL)
		{
			memcpy(out, values[i], len);
			out += len;
		}
	}
}

/* ---- the table ---- */

/* an entry leaves the table: its values are wiped, not left in freed memory */
static void
vs_remove(VsEntry *e)
{
	explicit_bzero(e->arena, sizeof(e->arena));
	hash_search(vs_hash, &e->key, HASH_REMOVE, NULL);
}

static int
vs_cmp_time(const void *a, const void *b)
{
	double		ta = (*(VsEntry *const *) a)->time_ms;
	double		tb = (*(VsEntry *const *) b)->time_ms;

	return ta < tb ? -1 : (ta > tb ? 1 : 0);
}

/* the table is full: the least weighty 5% leave, the rest decay (lock held exclusively) */
static void
vs_evict(void)
{
	HASH_SEQ_STATUS seq;
	VsEntry    *e;
	VsEntry   **all = vs_evict_buf;
	int			n = 0;
	int			nevict;

	hash_seq_init(&seq, vs_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (n < vs->capacity)
			all[n++] = e;
		e->time_ms *= VS_DECAY;
	}
	qsort(all, n, sizeof(VsEntry *), vs_cmp_time);
	nevict = Max(1, n * VS_EVICT_PERCENT / 100);
	for (int i = 0; i < Min(nevict, n); i++)
		vs_remove(all[i]);
	vs->evicted += Min(nevict, n);
}

/* remove set s from the entry, closing its gap in the arena */
static void
vs_free_set(VsEntry *e, int s)
{
	VsSet	   *set = &e->sets[s];
	int			end = set->offset + set->length;

	memmove(e->arena + set->offset, e->arena + end, e->used - end);
	explicit_bzero(e->arena + e->used - set->length, set->length);
	for (int i = 0; i < PERFOPT_VALUE_SETS; i++)
		if (e->sets[i].weight > 0 && e->sets[i].offset >= end)
			e->sets[i].offset -= set->length;
	e->used -= set->length;
	set->weight = 0;
	set->length = 0;
}

void
perfopt_value_store_add(Oid dbid, Oid userid, uint64 queryid,
						int nparams, char *const *values, double time_ms)
{
	VsKey		key;
	VsEntry    *e;
	bool		found;
	int			size = vs_serialized_size(nparams, values);
	char		buf[PERFOPT_VALUE_ARENA];
	uint32		hash;
	int			slot = -1;
	int			match = -1;
	int			freeset = -1;
	int			victim_set = VS_NONE;

	if (!perfopt_value_store_ready() || nparams <= 0 || nparams > PG_INT16_MAX)
		return;
	if (size < 0)
	{
		perfopt_value_store_count_skipped();
		return;
	}
	if (vs_evict_buf == NULL)
		vs_evict_buf = MemoryContextAlloc(TopMemoryContext, sizeof(VsEntry *) * vs->capacity);
	vs_serialize(buf, nparams, values);
	hash = hash_bytes((const unsigned char *) buf, size) ^ (uint32) nparams;

	memset(&key, 0, sizeof(key));
	key.dbid = dbid;
	key.userid = userid;
	key.queryid = queryid;

	LWLockAcquire(vs->lock, LW_EXCLUSIVE);
	vs->offered++;
	e = hash_search(vs_hash, &key, HASH_FIND, NULL);
	if (e == NULL)
	{
		if (hash_get_num_entries(vs_hash) >= vs->capacity)
			vs_evict();
		e = hash_search(vs_hash, &key, HASH_ENTER_NULL, &found);
		if (e == NULL)
		{
			vs->dropped++;
			LWLockRelease(vs->lock);
			return;
		}
		e->created = GetCurrentTimestamp();
		e->time_ms = 0;
		e->offered = 0;
		e->used = 0;
		memset(e->slots, VS_NONE, sizeof(e->slots));
		memset(e->sets, 0, sizeof(e->sets));
	}
	e->time_ms += Max(time_ms, 0.001);
	e->offered++;

	/* Algorithm R: the slot this execution takes, if any */
	if (e->offered <= PERFOPT_VALUE_SLOTS)
		slot = (int) e->offered - 1;
	else
	{
		uint64		j = pg_prng_uint64_range(&pg_global_prng_state, 0, e->offered - 1);

		if (j < PERFOPT_VALUE_SLOTS)
			slot = (int) j;
	}
	if (slot < 0)
	{
		LWLockRelease(vs->lock);
		return;
	}
	victim_set = e->slots[slot];

	for (int s = 0; s < PERFOPT_VALUE_SETS; s++)
	{
		VsSet	   *set = &e->sets[s];

		if (set->weight == 0)
		{
			if (freeset < 0)
				freeset = s;
			continue;
		}
		if (set->hash == hash && set->nparams == nparams && set->length == size &&
			memcmp(e->arena + set->offset, buf, size) == 0)
		{
			match = s;
			break;
		}
	}

	if (match >= 0)
	{
		if (victim_set != match)
		{
			if (victim_set != VS_NONE && --e->sets[victim_set].weight == 0)
			{
				e->sets[victim_set].weight = 1;		/* vs_free_set clears it */
				vs_free_set(e, victim_set);
			}
			e->sets[match].weight++;
			e->slots[slot] = (uint8) match;
		}
	}
	else
	{
		/* room for a new set, counting what the victim slot would free */
		bool		victim_goes = victim_set != VS_NONE && e->sets[victim_set].weight == 1;
		int			room = PERFOPT_VALUE_ARENA - e->used +
			(victim_goes ? e->sets[victim_set].length : 0);

		if ((freeset < 0 && !victim_goes) || room < size)
			vs->dropped++;
		else
		{
			VsSet	   *set;

			if (victim_set != VS_NONE)
			{
				if (victim_goes)
					vs_free_set(e, victim_set);
				else
					e->sets[victim_set].weight--;
			}
			if (freeset < 0)
				freeset = victim_set;
			set = &e->sets[freeset];
			set->hash = hash;
			set->offset = e->used;
			set->length = (uint16) size;
			set->nparams = (int16) nparams;
			set->weight = 1;
			memcpy(e->arena + e->used, buf, size);
			e->used += size;
			e->slots[slot] = (uint8) freeset;
		}
	}
	LWLockRelease(vs->lock);
}

void
perfopt_value_store_count_skipped(void)
{
	if (perfopt_value_store_ready())
		pg_atomic_fetch_add_u64(&vs->skipped, 1);
}

/* ---- readers ---- */

List *
perfopt_value_samples(Oid dbid, Oid userid, uint64 queryid)
{
	VsKey		key;
	VsEntry    *e;
	VsEntry    *copy;
	List	   *result = NIL;

	if (!perfopt_value_store_ready() || perfopt_value_sample_rate <= 0)
		return NIL;
	memset(&key, 0, sizeof(key));
	key.dbid = dbid;
	key.userid = userid;
	key.queryid = queryid;

	copy = palloc(sizeof(VsEntry));
	LWLockAcquire(vs->lock, LW_SHARED);
	e = hash_search(vs_hash, &key, HASH_FIND, NULL);
	if (e != NULL)
		memcpy(copy, e, sizeof(VsEntry));
	LWLockRelease(vs->lock);
	if (e == NULL)
	{
		pfree(copy);
		return NIL;
	}

	for (int s = 0; s < PERFOPT_VALUE_SETS; s++)
	{
		VsSet	   *set = &copy->sets[s];
		PerfoptValueSet *vset;
		const char *p;

		if (set->weight == 0)
			continue;
		vset = palloc(sizeof(PerfoptValueSet));
		vset->weight = set->weight;
		vset->nparams = set->nparams;
		vset->values = palloc(sizeof(char *) * set->nparams);
		p = copy->arena + set->offset;
		for (int i = 0; i < set->nparams; i++)
		{
			uint16		len;

			memcpy(&len, p, sizeof(uint16));
			p += sizeof(uint16);
			if (len == VS_NULL_LEN)
				vset->values[i] = NULL;
			else
			{
				vset->values[i] = pnstrdup(p, len);
				p += len;
			}
		}
		result = lappend(result, vset);
	}
	/* the copy held values: wipe it before it goes back to the allocator */
	explicit_bzero(copy, sizeof(VsEntry));
	pfree(copy);
	return result;
}

void
perfopt_value_store_counts(PerfoptValueCounts *c)
{
	HASH_SEQ_STATUS seq;
	VsEntry    *e;

	memset(c, 0, sizeof(*c));
	if (!perfopt_value_store_ready())
		return;
	LWLockAcquire(vs->lock, LW_SHARED);
	c->capacity = vs->capacity;
	c->offered = vs->offered;
	c->dropped = vs->dropped;
	c->evicted = vs->evicted;
	hash_seq_init(&seq, vs_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		c->statements++;
		for (int s = 0; s < PERFOPT_VALUE_SETS; s++)
			if (e->sets[s].weight > 0)
			{
				c->value_sets++;
				c->observations += e->sets[s].weight;
			}
	}
	LWLockRelease(vs->lock);
	c->skipped = pg_atomic_read_u64(&vs->skipped);
}

/* ---- keeping in step with pg_stat_statements ---- */

/* remove the entries for which drop(entry, arg) says so (lock taken here) */
static void
vs_remove_where(bool (*drop) (VsEntry *e, void *arg), void *arg)
{
	HASH_SEQ_STATUS seq;
	VsEntry    *e;

	LWLockAcquire(vs->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, vs_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (drop(e, arg))
			vs_remove(e);
	LWLockRelease(vs->lock);
}

static bool
vs_drop_all(VsEntry *e, void *arg)
{
	return true;
}

static bool
vs_drop_before(VsEntry *e, void *arg)
{
	return e->created < *(TimestampTz *) arg;
}

typedef struct VsLive
{
	HTAB	   *keys;			/* the statements pg_stat_statements has */
	Oid			only_user;		/* the caller sees only its own: InvalidOid: all */
} VsLive;

static bool
vs_drop_gone(VsEntry *e, void *arg)
{
	VsLive	   *live = arg;
	bool		found;

	if (e->key.dbid != MyDatabaseId ||
		(OidIsValid(live->only_user) && e->key.userid != live->only_user))
		return false;
	hash_search(live->keys, &e->key, HASH_FIND, &found);
	return !found;
}

void
perfopt_value_samples_sync(void)
{
	Oid			pgss_schema;
	const char *schema;
	VsLive		live;
	HASHCTL		info;
	TimestampTz reset_at = 0;
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	StringInfoData sql;

	if (!perfopt_value_store_ready())
		return;
	if (perfopt_value_sample_rate <= 0)
	{
		vs_remove_where(vs_drop_all, NULL);
		return;
	}
	pgss_schema = perfopt_schema_of_extension("pg_stat_statements", true);
	if (!OidIsValid(pgss_schema))
		return;
	schema = quote_identifier(get_namespace_name(pgss_schema));

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(VsKey);
	info.entrysize = sizeof(VsKey);
	info.hcxt = CurrentMemoryContext;
	live.keys = hash_create("perfopt live statements", 1024, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	/* pg_stat_statements hides other roles' query ids from who may not read all statistics */
	live.only_user = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) ? InvalidOid : GetUserId();

	perfopt_spi_connect();
	initStringInfo(&sql);
	appendStringInfo(&sql, "/* perfopt */ SELECT stats_reset FROM %s.pg_stat_statements_info", schema);
	if (SPI_execute(sql.data, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			reset_at = DatumGetTimestampTz(d);
	}
	resetStringInfo(&sql);
	appendStringInfo(&sql,
					 "/* perfopt */ SELECT userid, queryid FROM %s.pg_stat_statements(false)"
					 " WHERE dbid OPERATOR(pg_catalog.=) $1 AND toplevel",
					 schema);
	values[0] = ObjectIdGetDatum(MyDatabaseId);
	if (SPI_execute_with_args(sql.data, 1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read pg_stat_statements");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		VsKey		key;
		bool		isnull;

		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.userid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		key.queryid = (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		if (!isnull)
			hash_search(live.keys, &key, HASH_ENTER, NULL);
	}
	SPI_finish();

	if (reset_at != 0)
		vs_remove_where(vs_drop_before, &reset_at);
	vs_remove_where(vs_drop_gone, &live);
	hash_destroy(live.keys);
}
