/*
 * select.c — chooses, over the whole workload, the few hypothetical
 * indexes that buy the most time for the least write and storage cost.
 *
 * Benefit of a configuration for a statement: its real total time times
 * the relative fall of its plan cost (so cost units are weighted by what
 * the statement really costs).  Penalty: the index entries the workload's
 * own INSERT/UPDATE/DELETE/COPY statements would write, over the same
 * pg_stat_statements window, heavier where an UPDATE sets an indexed
 * column (its HOT updates would stop being HOT).
 * Greedy: each round adds the candidate, or the extension of a chosen
 * index, with the best net gain per byte, as long as it cuts some
 * statement's cost by perfopt.min_cost_reduction, regresses none by more
 * than 10%, saves at least perfopt.min_workload_saving of the workload's
 * time (a partial index in proportion to the rows it keeps: sel_floor)
 * and fits the storage budget.  Plan costs are cached (costcache.c)
 * per statement and the hypothetical indexes it could use; each statement
 * knows the chosen indexes it could use and when they last changed, so
 * that a candidate's costs are remembered across rounds until then, and a
 * round plans a candidate only when its bound (a cost of 0 for the costs
 * not known: plan costs are never negative) could beat the best score
 * found: the same pick as trying every candidate, with far fewer plans.
 *
 * Then each chosen index may be traded for a candidate on the same table
 * with one key column more, its own among the others, that serves one of
 * its statements naming that column much better
 * (perfopt.min_cost_reduction of its cost then), regresses none (the
 * greedy rounds' rule), is at most twice its size and gains the workload
 * more time than it costs: (parent, at) for (parent) when a feed reads a
 * parent's newest rows (sel_upgrade(): lazily, on diminishing returns).
 * The greedy rounds prefer the smaller of two indexes that both end a
 * sequential scan, and measured against that scan the composite's edge
 * (20 entries read instead of a parent's rows and a sort) looks like
 * nothing; measured against the index it replaces, it is the difference
 * an expert would make.
 *
 * Last, a chosen btree on one column gives way to the BRIN candidate on
 * it where the BRIN is nearly as fast for all its statements (its ranges
 * hold at most twice the rows they keep), and a chosen BRIN that is not
 * gives way to the btree (sel_prefer_brin).  A BRIN counts only for
 * statements that search a range of its column, and its writers pay a
 * tenth of a btree's.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "advisor.h"
#include "perfopt.h"
#include "procstats.h"
#include "spiutil.h"

/* a statement may get at most this much slower under a configuration */
#define SEL_MAX_REGRESSION 1.10
/* estimated cost of writing one index entry (CPU and WAL), in ms */
#define SEL_INDEX_WRITE_MS 0.01
/*
 * a BRIN writes no entry per row: an insert reads the range map and
 * widens, at most, one summary (none for the pages of an append-only
 * table past the last summarized range)
 */
#define SEL_BRIN_WRITE_SHARE 0.1
/*
 * a BRIN is nearly as fast as a btree where its ranges hold at most this
 * many rows per row the statement keeps: the btree reads an index entry
 * and a heap tuple per row kept, in order (the correlation), the BRIN a
 * summary per range and every heap tuple of its ranges
 */
#define SEL_BRIN_MAX_OVERREAD 2.0
/* never more than this share of the data directory's free space */
#define SEL_MAX_FREE_DISK_SHARE 0.25

typedef struct SelTable
{
	Oid			relid;
	double		index_writes;	/* rows inserted + deleted + updated non-HOT */
	double		hot_fraction;	/* of updates, from pg_stat_user_tables */
	int			nindexes;
	List	   *updates;		/* AdvStatement: UPDATEs of the table */
} SelTable;

static List *sel_tables;

static SelTable *
sel_table(Oid relid)
{
	ListCell   *lc;
	SelTable   *t;

	foreach(lc, sel_tables)
		if (((SelTable *) lfirst(lc))->relid == relid)
			return lfirst(lc);
	t = palloc0(sizeof(SelTable));
	t->relid = relid;
	t->nindexes = -1;
	sel_tables = lappend(sel_tables, t);
	return t;
}

/* the HOT share of the table's updates and its index count */
static void
sel_load_table_stats(SelTable *t)
{
	Oid			type = OIDOID;
	Datum		value = ObjectIdGetDatum(t->relid);

	t->nindexes = 0;
	perfopt_spi_connect();
	if (SPI_execute_with_args("/* perfopt */ SELECT"
							  " CASE WHEN n_tup_upd OPERATOR(pg_catalog.>) 0"
							  "  THEN n_tup_hot_upd::pg_catalog.float8 OPERATOR(pg_catalog./) n_tup_upd ELSE 0 END,"
							  " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_index i"
							  "  WHERE i.indrelid OPERATOR(pg_catalog.=) s.relid)::pg_catalog.int4"
							  " FROM pg_catalog.pg_stat_user_tables s WHERE relid OPERATOR(pg_catalog.=) $1",
							  1, &type, &value, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		bool		isnull;

		t->hot_fraction = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		t->nindexes = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
}

/* rows each table of a candidate takes from the workload's writes */
static void
sel_load_writes(List *writes, List *candidates)
{
	ListCell   *lc;

	foreach(lc, candidates)
	{
		SelTable   *t = sel_table(((AdvIndex *) lfirst(lc))->relid);

		if (t->nindexes < 0)
			sel_load_table_stats(t);
	}
	foreach(lc, writes)
	{
		AdvStatement *st = lfirst(lc);
		SelTable   *t = sel_table(st->write_relid);

		if (st->write_cmd == CMD_UPDATE)
		{
			t->index_writes += st->rows * (1.0 - t->hot_fraction);
			t->updates = lappend(t->updates, st);
		}
		else
			t->index_writes += st->rows;
	}
}

/* ms the index would cost the table's writers over the workload's window */
static double
sel_write_penalty(AdvIndex *idx)
{
	SelTable   *t = sel_table(idx->relid);
	double		penalty = t->index_writes * SEL_INDEX_WRITE_MS;
	ListCell   *lc;

	if (idx->amoid == GIN_AM_OID)
		penalty *= 3;			/* GIN entries fan out per row */
	else if (idx->amoid == BRIN_AM_OID)
		penalty *= SEL_BRIN_WRITE_SHARE;

	/* updates that set an indexed column stop being HOT: every index pays */
	foreach(lc, t->updates)
	{
		AdvStatement *st = lfirst(lc);

		for (int i = 0; i < idx->ncols; i++)
		{
			if (idx->attnums[i] != 0 && bms_is_member(idx->attnums[i], st->set_cols))
			{
				/* a non-HOT update writes an entry in every index, this one too */
				penalty += st->rows * t->hot_fraction * (Max(t->nindexes, 0) + 1) *
					SEL_INDEX_WRITE_MS;
				break;
			}
		}
	}
	return penalty;
}

static double
sel_bytes(AdvIndex *idx)
{
	return (double) idx->pages * BLCKSZ;
}

/*
 * The net saving idx must reach: perfopt.min_workload_saving of the
 * workload's time (floor_ms), in proportion to the rows a partial index
 * keeps.  Such an index costs that much less to keep (its pages, the
 * writes into it, its vacuum): a partial index over the 1% of rows a job
 * queue polls pays for itself with a hundredth of what a full index must
 * save.
 */
static double
sel_floor(AdvIndex *idx, double floor_ms)
{
	if (idx->pred == NIL)
		return floor_ms;
	return floor_ms * Max(0.0, Min(1.0, idx->pred_selectivity));
}

/* does st search, join or sort on key column col of idx? */
static bool
sel_uses_column(AdvIndex *idx, int col, AdvStatement *st)
{
	ListCell   *lc;
	Node	   *expr = NULL;

	if (idx->attnums[col] == 0)
	{
		int			k = 0;

		for (int i = 0; i < col; i++)
			k += (idx->attnums[i] == 0);
		expr = list_nth(idx->exprs, k);
	}
	foreach(lc, st->uses)
	{
		AdvUse	   *use = lfirst(lc);

		if (use->relid != idx->relid || use->kind == ADV_USE_OUTPUT || use->kind == ADV_USE_LIKE ||
			use->kind == ADV_USE_PREDICATE)
			continue;
		if (expr == NULL ? use->attnum == idx->attnums[col] :
			(use->attnum == 0 && equal(use->expr, expr)))
			return true;
	}
	return false;
}

/* does st search a range of idx's (single, plain) column? */
static bool
sel_ranges_column(AdvIndex *idx, AdvStatement *st)
{
	ListCell   *lc;

	foreach(lc, st->uses)
	{
		AdvUse	   *use = lfirst(lc);

		if (use->relid == idx->relid && use->kind == ADV_USE_RANGE &&
			use->attnum == idx->attnums[0])
			return true;
	}
	return false;
}

/*
 * could the planner use idx for st at all: its leading column is used (a
 * BRIN's for a range: it is never advice for point lookups, which it
 * would serve with a whole range of heap pages each)
 */
static bool
sel_usable(AdvIndex *idx, AdvStatement *st)
{
	if (st->query == NULL || !list_member_oid(st->relids, idx->relid))
		return false;
	if (idx->amoid == BRIN_AM_OID)
		return sel_ranges_column(idx, st);
	return sel_uses_column(idx, 0, st);
}

/* does idx store every column st reads from its table (an index-only scan)? */
static bool
sel_covers_outputs(AdvIndex *idx, AdvStatement *st)
{
	ListCell   *lc;

	foreach(lc, st->uses)
	{
		AdvUse	   *use = lfirst(lc);
		bool		stored = false;

		if (use->relid != idx->relid || use->kind != ADV_USE_OUTPUT)
			continue;
		for (int i = 0; i < idx->ncols && !stored; i++)
			stored = (idx->attnums[i] == use->attnum);
		if (!stored)
			return false;
	}
	return true;
}

/* a partial index whose predicate only a custom plan (a sampled value) proves */
static bool
sel_needs_values(AdvIndex *idx)
{
	ListCell   *lc;

	foreach(lc, idx->pred)
		if (!IsA(lfirst(lc), NullTest))
			return true;
	return false;
}

/*
 * Is st worth planning when idx is the candidate?  A composite can only
 * beat its own leading column alone (a candidate too) for statements that
 * use its second column as well, and a covering variant only for those
 * that it lets read nothing but the index.
 */
static bool
sel_relevant(AdvIndex *idx, AdvStatement *st)
{
	if (!sel_usable(idx, st))
		return false;
	if (st->value_sets == NIL && sel_needs_values(idx))
		return false;
	if (idx->nkeycols >= 2 && !sel_uses_column(idx, 1, st))
		return false;
	return idx->ncols == idx->nkeycols || sel_covers_outputs(idx, st);
}

/*
 * does big start with all of small's key columns (same table, same kind,
 * same predicate: a wider full index never replaces a partial one, nor
 * the other way round)?
 */
static bool
sel_extends(AdvIndex *big, AdvIndex *small)
{
	if (big->relid != small->relid || big->amoid != small->amoid ||
		!equal(big->pred, small->pred) ||
		big->nkeycols < small->nkeycols || small->ncols > small->nkeycols ||
		small->exprs != NIL || big == small)
		return false;
	for (int i = 0; i < small->nkeycols; i++)
		if (big->attnums[i] != small->attnums[i] || big->opclasses[i] != small->opclasses[i])
			return false;
	return true;
}

/*
 * select.c's state of a statement: the chosen indexes it could use (in
 * the chosen set's order), kept current as the chosen set changes, and
 * the sel_clock tick of its last change, which tells which remembered
 * costs are stale.
 */
typedef struct SelStmt
{
	int			ord;			/* its position in the workload */
	int			changed;		/* sel_clock when its usable chosen set changed */
	int			n;
	int			cap;
	AdvIndex  **usable;
	double		now;			/* its cost under the chosen set ... */
	int			now_when;		/* ... found at this sel_clock (0: never) */
} SelStmt;

/* select.c's state of a candidate */
typedef struct SelIndex
{
	int			pos;			/* in the candidate list: ties go to the first */
	bool		chosen;
	List	   *ext;			/* the chosen indexes it extends (replaces) */
	double		size_delta;		/* bytes it adds, ext replaced */
	double		penalty;		/* write ms it adds, ext replaced */
	int			ext_changed;	/* sel_clock when ext last changed */
	double	   *costs;			/* per relevant statement: its cost with it added */
	int		   *when;			/* sel_clock when found (0: never); NULL: none yet */
	double		bound;			/* this greedy round: no score of it is higher */
	List	   *usable;			/* statements it is usable for, once found */
	bool		usable_found;
	List	   *trades;			/* SelTrade: the candidates that may replace it */
	bool		trades_found;
} SelIndex;

/* a (chosen, wider candidate) pair of the trade pass (sel_trades()) */
typedef struct SelTrade
{
	AdvIndex   *cand;
	List	   *drop;			/* the chosen index it replaces, as a list */
	AdvIndex   *standin;		/* what cand is to the others: its other
								 * columns at its size ... */
	bool		rest_without;	/* ... or nothing (NULL, false: no others) */
	List	   *naming;			/* old's statements that name the added column
								 * (all of them when there are no others) */
	/* per naming statement: its term, how it came out, its sel_clock (0: never) */
	double	   *terms;
	char	   *outcome;
	int		   *when;
	/* the naming statements' last sum, and whether it qualified (once found) */
	bool		named_found;
	bool		named_qualifies;
	double		named_gain;
} SelTrade;

/* how a statement's term of a trade came out (sel_trade_named()) */
#define SEL_TERM_FAILS 0		/* it regresses or fails to plan */
#define SEL_TERM_OK 1
#define SEL_TERM_FALLS 2		/* it falls by perfopt.min_cost_reduction */

/* ticks at every change of the chosen set; costs found before are suspect */
static int	sel_clock;
/* where select.c's state lives: the adv_select() caller's context */
static MemoryContext sel_cxt;

/* the statements that use a column of a table, in workload order */
typedef struct SelBucketKey
{
	Oid			relid;
	int32		attnum;			/* as in AdvUse: 0 for an expression */
} SelBucketKey;

typedef struct SelBucket
{
	SelBucketKey key;
	List	   *stmts;
} SelBucket;

static HTAB *sel_buckets;

/* by the columns they search, join or sort on (sel_uses_column's uses) */
static void
sel_buckets_build(List *statements)
{
	HASHCTL		ctl;
	ListCell   *lc;

	ctl.keysize = sizeof(SelBucketKey);
	ctl.entrysize = sizeof(SelBucket);
	ctl.hcxt = sel_cxt;
	sel_buckets = hash_create("perfopt column uses", 256, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);
		ListCell   *lu;

		if (st->query == NULL)
			continue;
		foreach(lu, st->uses)
		{
			AdvUse	   *use = lfirst(lu);
			SelBucketKey key;
			SelBucket  *bucket;
			bool		found;

			if (use->kind == ADV_USE_OUTPUT || use->kind == ADV_USE_LIKE ||
				use->kind == ADV_USE_PREDICATE)
				continue;
			key.relid = use->relid;
			key.attnum = use->attnum;
			bucket = hash_search(sel_buckets, &key, HASH_ENTER, &found);
			if (!found)
				bucket->stmts = NIL;
			if (bucket->stmts == NIL || llast(bucket->stmts) != st)
				bucket->stmts = lappend(bucket->stmts, st);
		}
	}
}

/* every statement idx may be usable for (a superset), in workload order */
static List *
sel_bucket(AdvIndex *idx)
{
	SelBucketKey key;
	SelBucket  *bucket;

	key.relid = idx->relid;
	key.attnum = idx->attnums[0];
	bucket = hash_search(sel_buckets, &key, HASH_FIND, NULL);
	return bucket ? bucket->stmts : NIL;
}

/* the statements idx is usable for, in workload order */
static List *
sel_usable_list(AdvIndex *idx)
{
	SelIndex   *si = idx->sel;

	if (!si->usable_found)
	{
		MemoryContext old = MemoryContextSwitchTo(sel_cxt);
		ListCell   *lc;

		foreach(lc, sel_bucket(idx))
			if (sel_usable(idx, lfirst(lc)))
				si->usable = lappend(si->usable, lfirst(lc));
		si->usable_found = true;
		MemoryContextSwitchTo(old);
	}
	return si->usable;
}

/* st's usable chosen indexes, found again from chosen */
static void
sel_stmt_refresh(AdvStatement *st, List *chosen)
{
	SelStmt    *ss = st->sel;
	ListCell   *lc;

	ss->n = 0;
	foreach(lc, chosen)
	{
		AdvIndex   *idx = lfirst(lc);

		if (!sel_usable(idx, st))
			continue;
		if (ss->n == ss->cap)
		{
			ss->cap = Max(8, ss->cap * 2);
			ss->usable = ss->usable ? repalloc(ss->usable, ss->cap * sizeof(AdvIndex *)) :
				MemoryContextAlloc(sel_cxt, ss->cap * sizeof(AdvIndex *));
		}
		ss->usable[ss->n++] = idx;
	}
	ss->changed = sel_clock;
}

/* chosen is new: the indexes of CHANGED entered or left it */
static void
sel_chosen_changed(List *chosen, List *changed)
{
	ListCell   *lc;

	sel_clock++;
	foreach(lc, changed)
	{
		ListCell   *ls;

		foreach(ls, sel_usable_list(lfirst(lc)))
		{
			AdvStatement *st = lfirst(ls);

			if (st->sel->changed != sel_clock)
				sel_stmt_refresh(st, chosen);
		}
	}
}

/*
 * st's plan cost (cached) under the n indexes of config, all usable for
 * it; -1 when planning failed.
 */
static double
sel_config_cost(AdvStatement *st, AdvIndex **config, int n)
{
	double		cost;
	List	   *mine = NIL;

	if (n == 0)
		return st->cost_base;
	if (adv_cost_cache_get(st, config, n, &cost))
		return cost;
	/* plan with the configuration's indexes, in its order */
	for (int i = 0; i < n; i++)
		mine = lappend(mine, config[i]);
	cost = adv_plan_cost_safely(st, mine);
	list_free(mine);
	/* (planning does not touch config) */
	adv_cost_cache_put(st, config, n, cost);
	return cost;
}

/*
 * st's plan cost (cached) under the chosen indexes but those of drop, with
 * add (NULL: none) after them; -1 when planning failed.  Only the indexes
 * the planner could use for it (its tables, a leading column it uses)
 * make the key, and st->sel must reflect chosen.  A lookup allocates
 * nothing: it runs millions of times in a large workload.
 */
static double
sel_cost(AdvStatement *st, List *chosen, List *drop, AdvIndex *add)
{
	static AdvIndex **config = NULL;
	static int	cap = 0;
	SelStmt    *ss = st->sel;
	int			n = 0;

	if (ss->n + 1 > cap)
	{
		/* one reusable buffer for the life of the backend */
		cap = Max(64, (ss->n + 1) * 2);
		config = config ? repalloc(config, cap * sizeof(AdvIndex *)) :
			MemoryContextAlloc(TopMemoryContext, cap * sizeof(AdvIndex *));
	}
	for (int i = 0; i < ss->n; i++)
		if (drop == NIL || !list_member_ptr(drop, ss->usable[i]))
			config[n++] = ss->usable[i];
	if (add != NULL && sel_usable(add, st))
		config[n++] = add;
	return sel_config_cost(st, config, n);
}

/* st's cost under the chosen set, remembered until that changes for it */
static double
sel_cost_now(AdvStatement *st, List *chosen)
{
	SelStmt    *ss = st->sel;

	if (ss->now_when == 0 || ss->now_when < ss->changed)
	{
		ss->now = sel_cost(st, chosen, NIL, NULL);
		ss->now_when = sel_clock;
	}
	return ss->now;
}

/*
 * The statement's plan cost under config (cached); -1 when planning failed.
 * Only the indexes the planner could use for it make the cache key.
 */
double
adv_cost_under(AdvStatement *st, List *config)
{
	AdvIndex  **usable = palloc(sizeof(AdvIndex *) * (list_length(config) + 1));
	int			n = 0;
	ListCell   *lc;
	double		cost;

	foreach(lc, config)
		if (sel_usable(lfirst(lc), st))
			usable[n++] = lfirst(lc);
	cost = sel_config_cost(st, usable, n);
	pfree(usable);
	return cost;
}

typedef struct SelTry
{
	double		net;
	double		benefit;
	double		penalty;
	double		score;
	double		size_delta;
} SelTry;

/* the chosen indexes cand extends, and what replacing them changes */
static void
sel_cand_ext(AdvIndex *cand, List *chosen)
{
	SelIndex   *si = cand->sel;
	MemoryContext old = MemoryContextSwitchTo(sel_cxt);
	ListCell   *lc;

	si->size_delta = sel_bytes(cand);
	si->penalty = sel_write_penalty(cand);
	list_free(si->ext);
	si->ext = NIL;
	foreach(lc, chosen)
	{
		AdvIndex   *idx = lfirst(lc);

		if (sel_extends(cand, idx))
		{
			si->size_delta -= sel_bytes(idx);
			si->penalty -= sel_write_penalty(idx);
			si->ext = lappend(si->ext, idx);
		}
	}
	si->ext_changed = sel_clock;
	MemoryContextSwitchTo(old);
}

/* is cand's remembered cost for its i-th relevant statement st still right? */
static inline bool
sel_term_valid(SelIndex *si, int i, AdvStatement *st)
{
	return si->when != NULL && si->when[i] != 0 &&
		si->when[i] >= st->sel->changed && si->when[i] >= si->ext_changed;
}

/*
 * evaluate adding cand to chosen (its ext replaced); false when it does not
 * qualify.  Costs found in an earlier round are reused while nothing they
 * depend on changed: the statement's usable chosen indexes, cand's ext.
 */
static bool
sel_try(AdvIndex *cand, List *chosen, double floor_ms, double budget_left, SelTry *out)
{
	SelIndex   *si = cand->sel;
	double		benefit = 0;
	bool		clears = false;
	ListCell   *lc;
	int			i = 0;

	if (si->size_delta > budget_left)
		return false;
	if (si->when == NULL)
	{
		int			n = list_length(cand->relevant);

		si->costs = MemoryContextAlloc(sel_cxt, sizeof(double) * Max(n, 1));
		si->when = MemoryContextAllocZero(sel_cxt, sizeof(int) * Max(n, 1));
	}
	foreach(lc, cand->relevant)
	{
		AdvStatement *st = lfirst(lc);
		double		cost;

		if (!sel_term_valid(si, i, st))
		{
			si->costs[i] = sel_cost(st, chosen, si->ext, cand);
			si->when[i] = sel_clock;
		}
		cost = si->costs[i++];
		if (cost < 0)
			continue;
		if (cost > st->cost_base * SEL_MAX_REGRESSION)
			return false;
		if (st->cost_best - cost >= st->cost_best * perfopt_min_cost_reduction / 100.0)
			clears = true;
		if (st->cost_base > 0)
			benefit += st->total_time_ms * (st->cost_best - cost) / st->cost_base;
	}
	elog(DEBUG2, "perfopt: candidate %d on %u: benefit %.1f ms, penalty %.1f ms, floor %.1f ms, clears %d",
		 cand->id, cand->relid, benefit, si->penalty, sel_floor(cand, floor_ms), clears);
	if (!clears || benefit - si->penalty < sel_floor(cand, floor_ms) || benefit - si->penalty <= 0)
		return false;

	out->benefit = benefit;
	out->penalty = si->penalty;
	out->net = benefit - si->penalty;
	out->size_delta = si->size_delta;
	out->score = out->net / Max(si->size_delta, (double) BLCKSZ);
	return true;
}

/*
 * A score sel_try() cannot exceed for cand this round, without planning:
 * the remembered costs where still right, else the best case, a plan cost
 * of 0 (plan costs are never negative).  Each term is at least sel_try()'s
 * and rounding is monotonic, so the bound holds in floating point too.
 * -HUGE_VAL: it cannot qualify.
 */
static double
sel_bound(AdvIndex *cand, double floor_ms)
{
	SelIndex   *si = cand->sel;
	double		benefit = 0;
	double		net;
	ListCell   *lc;
	int			i = 0;

	foreach(lc, cand->relevant)
	{
		AdvStatement *st = lfirst(lc);

		if (sel_term_valid(si, i, st))
		{
			double		cost = si->costs[i];

			if (cost > st->cost_base * SEL_MAX_REGRESSION && cost >= 0)
				return -HUGE_VAL;
			if (cost >= 0 && st->cost_base > 0)
				benefit += st->total_time_ms * (st->cost_best - cost) / st->cost_base;
		}
		else if (st->cost_base > 0 && st->cost_best > 0)
			benefit += st->total_time_ms * st->cost_best / st->cost_base;
		i++;
	}
	net = benefit - si->penalty;
	if (net < sel_floor(cand, floor_ms) || net <= 0)
		return -HUGE_VAL;
	return net / Max(si->size_delta, (double) BLCKSZ);
}

/* higher bound first, then the candidate list's order */
static int
sel_bound_cmp(const void *a, const void *b)
{
	const SelIndex *x = (*(AdvIndex *const *) a)->sel;
	const SelIndex *y = (*(AdvIndex *const *) b)->sel;

	if (x->bound != y->bound)
		return x->bound > y->bound ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* the storage budget: perfopt.index_storage_budget, at most a share of free disk */
static double
sel_budget(void)
{
	double		budget = (double) perfopt_index_storage_budget * 1024 * 1024;
	uint64_t	total;
	uint64_t	avail;
	double		pct;

	if (procstats_disk(".", &total, &avail, &pct))
		budget = Min(budget, (double) avail * SEL_MAX_FREE_DISK_SHARE);
	return budget;
}


/*
 * An index chosen early can be made redundant by later ones ((at) once
 * (kind, at) exists): drop, weakest first, every index that no longer
 * clears the bar on its own within the final set.
 */
static List *
sel_prune(List *chosen, double floor_ms)
{
	for (;;)
	{
		AdvIndex   *weakest = NULL;
		double		weakest_net = 0;
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		foreach(lc, chosen)
		{
			AdvIndex   *idx = lfirst(lc);
			List	   *drop = list_make1(idx);
			double		benefit = 0;
			bool		clears = false;
			ListCell   *ls;

			foreach(ls, sel_usable_list(idx))
			{
				AdvStatement *st = lfirst(ls);
				double		with_cost;
				double		without_cost;

				with_cost = sel_cost(st, chosen, NIL, NULL);
				without_cost = sel_cost(st, chosen, drop, NULL);
				if (with_cost < 0 || without_cost < 0 || st->cost_base <= 0)
					continue;
				benefit += st->total_time_ms * (without_cost - with_cost) / st->cost_base;
				if (without_cost - with_cost >= without_cost * perfopt_min_cost_reduction / 100.0)
					clears = true;
			}
			list_free(drop);
			benefit -= sel_write_penalty(idx);
			if ((!clears || benefit < sel_floor(idx, floor_ms)) &&
				(weakest == NULL || benefit < weakest_net))
			{
				weakest = idx;
				weakest_net = benefit;
			}
		}
		if (weakest == NULL)
			return chosen;
		elog(DEBUG2, "perfopt: candidate %d is redundant in the final set", weakest->id);
		chosen = list_delete_ptr(chosen, weakest);
		weakest->sel->chosen = false;
		sel_chosen_changed(chosen, list_make1(weakest));
	}
}

/*
 * Does big have one key column more than small, and all of small's among
 * the others (same table, kind and predicate, no INCLUDE or expression on
 * either)?  Only such a candidate may replace a chosen index.  A wider
 * step is two trades, each of which must pay.
 */
static bool
sel_widens(AdvIndex *big, AdvIndex *small)
{
	if (big->relid != small->relid || big->amoid != small->amoid ||
		!equal(big->pred, small->pred) || big->nkeycols != small->nkeycols + 1 ||
		big->ncols > big->nkeycols || small->ncols > small->nkeycols ||
		small->exprs != NIL || big->exprs != NIL)
		return false;
	for (int i = 0; i < small->nkeycols; i++)
	{
		bool		found = false;

		for (int j = 0; j < big->nkeycols && !found; j++)
			found = big->attnums[j] == small->attnums[i] && big->opclasses[j] == small->opclasses[i];
		if (!found)
			return false;
	}
	return true;
}

/* the position in big of its key column that small does not have */
static int
sel_added_column(AdvIndex *big, AdvIndex *small)
{
	for (int j = 0; j < big->nkeycols; j++)
	{
		bool		found = false;

		for (int i = 0; i < small->nkeycols && !found; i++)
			found = big->attnums[j] == small->attnums[i];
		if (!found)
			return j;
	}
	return -1;
}

/*
 * What st gains when chosen trades the index of drop (a list of it) for
 * idx: its share of the workload's time times the fall of its plan cost;
 * false when it regresses past the greedy rounds' rule or fails to plan.
 * *better: it falls by perfopt.min_cost_reduction.
 */
static bool
sel_trade_term(AdvStatement *st, List *chosen, List *drop, AdvIndex *idx,
			   double *gain, bool *better)
{
	double		now = sel_cost_now(st, chosen);
	double		then = sel_cost(st, chosen, drop, idx);

	*gain = 0;
	*better = false;
	if (now < 0 || then < 0 || st->cost_base <= 0 || then > st->cost_base * SEL_MAX_REGRESSION)
		return false;
	*better = now - then >= now * perfopt_min_cost_reduction / 100.0;
	*gain = st->total_time_ms * (now - then) / st->cost_base;
	return true;
}

/*
 * The candidates that may replace old, in the candidate list's order,
 * each with old's statements that name its added column (costcache.c's
 * adv_statement_names()), and what the others see of it.  Added last, it
 * is to them its other columns at its size: a stand-in the planner cannot
 * tell from it (costcache.c).  Added first, they cannot use it: it is to
 * them as if old were gone.  Either way the gain over all old's
 * statements is found once per stand-in, and only the naming statements'
 * per candidate.  Added in between, every statement is planned with it.
 */
static List *
sel_trades(AdvIndex *old, List *candidates)
{
	SelIndex   *si = old->sel;

	if (!si->trades_found)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(sel_cxt);
		List	   *usable = sel_usable_list(old);
		ListCell   *lk;

		foreach(lk, candidates)
		{
			AdvIndex   *cand = lfirst(lk);
			int			added;
			SelTrade   *trade;
			ListCell   *ls;

			if (!sel_widens(cand, old) || sel_bytes(cand) > 2 * sel_bytes(old) ||
				cand->relevant == NIL)
				continue;
			CHECK_FOR_INTERRUPTS();
			added = sel_added_column(cand, old);
			trade = palloc0(sizeof(SelTrade));
			trade->cand = cand;
			trade->drop = list_make1(old);
			if (added == cand->nkeycols - 1)
				trade->standin = adv_cost_standin(cand, cand->ncols - 1);
			trade->rest_without = (added == 0);
			foreach(ls, usable)
				if ((trade->standin == NULL && !trade->rest_without) ||
					adv_statement_names(lfirst(ls), cand->relid, cand->attnums[added]))
					trade->naming = lappend(trade->naming, lfirst(ls));
			si->trades = lappend(si->trades, trade);
		}
		si->trades_found = true;
		MemoryContextSwitchTo(oldcxt);
	}
	return si->trades;
}

/* a stand-in's gain over all old's statements, found once per round */
typedef struct SelRest
{
	AdvIndex   *old;
	int			standin;		/* its id; 0: none, old gone */
	double		gain;
	List	   *failing;		/* the statements that regress or fail to plan */
} SelRest;

/*
 * What trading old for trade's candidate gains the statements that name
 * the added column; false when one regresses or fails to plan, or none
 * falls by perfopt.min_cost_reduction.  Each statement's term is
 * remembered until its usable chosen indexes change.
 */
static bool
sel_trade_named(List *chosen, SelTrade *trade, double *gain)
{
	bool		better = false;
	bool		fails = false;
	ListCell   *ls;
	int			i = 0;

	if (trade->when == NULL)
	{
		int			n = Max(list_length(trade->naming), 1);

		trade->terms = MemoryContextAlloc(sel_cxt, sizeof(double) * n);
		trade->outcome = MemoryContextAlloc(sel_cxt, sizeof(char) * n);
		trade->when = MemoryContextAllocZero(sel_cxt, sizeof(int) * n);
	}
	*gain = 0;
	foreach(ls, trade->naming)
	{
		AdvStatement *st = lfirst(ls);

		if (trade->when[i] == 0 || trade->when[i] < st->sel->changed)
		{
			bool		falls;

			if (!sel_trade_term(st, chosen, trade->drop, trade->cand, &trade->terms[i], &falls))
				trade->outcome[i] = SEL_TERM_FAILS;
			else
				trade->outcome[i] = falls ? SEL_TERM_FALLS : SEL_TERM_OK;
			trade->when[i] = sel_clock;
		}
		if (trade->outcome[i] == SEL_TERM_FAILS)
		{
			fails = true;
			break;
		}
		*gain += trade->terms[i];
		better |= trade->outcome[i] == SEL_TERM_FALLS;
		i++;
	}
	trade->named_found = true;
	trade->named_qualifies = !fails && better;
	trade->named_gain = *gain;
	return trade->named_qualifies;
}

/* is every remembered term of the trade's naming statements still right? */
static bool
sel_trade_fresh(SelTrade *trade)
{
	ListCell   *ls;
	int			i = 0;

	if (!trade->named_found)
		return false;
	foreach(ls, trade->naming)
	{
		AdvStatement *st = lfirst(ls);

		if (trade->when[i] == 0 || trade->when[i] < st->sel->changed)
			return false;
		i++;
	}
	return true;
}

/*
 * What the naming statements could gain at most, without planning: a
 * plan cost of 0 with the candidate (plan costs are never negative);
 * -HUGE_VAL when one of them fails to plan now.
 */
static double
sel_trade_ceiling(List *chosen, SelTrade *trade)
{
	double		gain = 0;
	ListCell   *ls;

	foreach(ls, trade->naming)
	{
		AdvStatement *st = lfirst(ls);
		double		now = sel_cost_now(st, chosen);

		if (now < 0 || st->cost_base <= 0)
			return -HUGE_VAL;
		gain += st->total_time_ms * now / st->cost_base;
	}
	return gain;
}

/*
 * What the trade gains the statements of old that do not name the added
 * column (false: one regresses or fails to plan): the stand-in's gain
 * over all old's statements, found once per round, old and stand-in (rests),
 * less its gain over the naming ones.
 */
static bool
sel_trade_rest(List *chosen, AdvIndex *old, SelTrade *trade, List **rests, double *gain)
{
	SelRest    *rest = NULL;
	int			standin = trade->standin ? trade->standin->id : 0;
	ListCell   *lc;

	*gain = 0;
	if (trade->standin == NULL && !trade->rest_without)
		return true;			/* naming holds all old's statements */
	foreach(lc, *rests)
		if (((SelRest *) lfirst(lc))->old == old && ((SelRest *) lfirst(lc))->standin == standin)
			rest = lfirst(lc);
	if (rest == NULL)
	{
		rest = palloc0(sizeof(SelRest));
		rest->old = old;
		rest->standin = standin;
		foreach(lc, sel_usable_list(old))
		{
			double		term;
			bool		falls;

			if (sel_trade_term(lfirst(lc), chosen, trade->drop, trade->standin, &term, &falls))
				rest->gain += term;
			else
			{
				/* only a statement that names the added column may still pass */
				rest->failing = lappend(rest->failing, lfirst(lc));
			}
		}
		*rests = lappend(*rests, rest);
	}
	foreach(lc, rest->failing)
		if (!list_member_ptr(trade->naming, lfirst(lc)))
			return false;
	*gain = rest->gain;
	foreach(lc, trade->naming)
	{
		double		term;
		bool		falls;

		if (sel_trade_term(lfirst(lc), chosen, trade->drop, trade->standin, &term, &falls))
			*gain -= term;
	}
	return true;
}

/* a trade this round may make, with what it gains at most */
typedef struct SelOption
{
	AdvIndex   *old;
	SelTrade   *trade;
	double		bound;			/* the naming statements' gain at most, less the writes' */
	bool		exact;			/* bound is their gain now */
	int			seq;			/* chosen's order, then the candidates': ties */
} SelOption;

/* higher bound first, then the earlier */
static int
sel_option_cmp(const void *a, const void *b)
{
	const SelOption *x = a;
	const SelOption *y = b;

	if (x->bound != y->bound)
		return x->bound > y->bound ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * Trade chosen indexes for better candidates on the same table (see the
 * top of this file), best gain first, until none improves.  A trade's
 * gain is over all the statements of the index it replaces.  Those that
 * name the added column are planned per pair; the others can only lose
 * (the candidate serves them as the old index did, from a bigger index),
 * so the pairs are weighed by the first part, best first, and the second
 * is found only for a pair that may still win: once per size, through a
 * stand-in the planner cannot tell from the candidate (costcache.c).
 *
 * Lazily, as greedy index selection does: a pair whose statements'
 * usable chosen indexes changed since its first part was found is
 * weighed by that part's last value, taken as the most it can gain now
 * (another trade only takes from what the pairs can gain: diminishing
 * returns), and planned again only when it comes up among the pairs that
 * could still win; a pair never found, by a plan cost of 0.
 */
static List *
sel_upgrade(List *chosen, List *candidates, double budget_left)
{
	bool		changed = true;
	MemoryContext round_cxt = AllocSetContextCreate(CurrentMemoryContext,
													"perfopt trade round",
													ALLOCSET_DEFAULT_SIZES);

	while (changed)
	{
		AdvIndex   *best_old = NULL;
		AdvIndex   *best_new = NULL;
		double		best_gain = 0;
		int			best_seq = 0;
		SelOption  *options = NULL;
		int			n = 0;
		int			cap = 0;
		int			seq = 0;
		List	   *rests = NIL;
		ListCell   *lc;
		MemoryContext old_cxt;

		changed = false;
		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(round_cxt);
		foreach(lc, chosen)
		{
			AdvIndex   *old = lfirst(lc);
			ListCell   *lk;

			foreach(lk, sel_trades(old, candidates))
			{
				SelTrade   *trade = lfirst(lk);
				AdvIndex   *cand = trade->cand;
				double		bound;
				bool		exact = false;

				seq++;
				if (cand->sel->chosen || sel_bytes(cand) - sel_bytes(old) > budget_left)
					continue;
				CHECK_FOR_INTERRUPTS();
				if (sel_trade_fresh(trade))
				{
					if (!trade->named_qualifies)
						continue;
					bound = trade->named_gain;
					exact = true;
				}
				else if (trade->named_found)
				{
					if (!trade->named_qualifies)
						continue;
					bound = trade->named_gain;
				}
				else
					bound = sel_trade_ceiling(chosen, trade);
				bound -= sel_write_penalty(cand) - sel_write_penalty(old);
				if (bound <= 0)
					continue;
				old_cxt = MemoryContextSwitchTo(round_cxt);
				if (n == cap)
				{
					cap = Max(64, cap * 2);
					options = options ? repalloc(options, cap * sizeof(SelOption)) :
						palloc(cap * sizeof(SelOption));
				}
				MemoryContextSwitchTo(old_cxt);
				options[n].old = old;
				options[n].trade = trade;
				options[n].bound = bound;
				options[n].exact = exact;
				options[n].seq = seq;
				n++;
			}
		}
		if (n > 0)
			qsort(options, n, sizeof(SelOption), sel_option_cmp);
		for (int i = 0; i < n; i++)
		{
			SelOption  *opt = &options[i];
			AdvIndex   *cand = opt->trade->cand;
			double		rest;
			double		gain;

			if (best_new != NULL && opt->bound < best_gain)
				break;
			CHECK_FOR_INTERRUPTS();
			if (!opt->exact)
			{
				double		named;

				if (!sel_trade_named(chosen, opt->trade, &named))
					continue;
				named -= sel_write_penalty(cand) - sel_write_penalty(opt->old);
				if (named <= 0 || (best_new != NULL && named < best_gain))
					continue;
				opt->bound = named;
			}
			old_cxt = MemoryContextSwitchTo(round_cxt);
			if (sel_trade_rest(chosen, opt->old, opt->trade, &rests, &rest))
			{
				gain = opt->bound + rest;
				if (gain > best_gain || (best_new != NULL && gain == best_gain && opt->seq < best_seq))
				{
					best_gain = gain;
					best_seq = opt->seq;
					best_old = opt->old;
					best_new = cand;
				}
			}
			MemoryContextSwitchTo(old_cxt);
		}
		if (best_new != NULL)
		{
			elog(DEBUG2, "perfopt: candidate %d replaces %d (gain %.1f ms)", best_new->id, best_old->id, best_gain);
			budget_left -= sel_bytes(best_new) - sel_bytes(best_old);
			chosen = lappend(list_delete_ptr(chosen, best_old), best_new);
			best_old->sel->chosen = false;
			best_new->sel->chosen = true;
			sel_chosen_changed(chosen, list_make2(best_old, best_new));
			changed = true;
		}
	}
	MemoryContextDelete(round_cxt);
	return chosen;
}

/* the BRIN candidate on idx's single plain key column, if any */
static AdvIndex *
sel_brin_twin(AdvIndex *idx, List *candidates)
{
	ListCell   *lc;

	if (idx->amoid != BTREE_AM_OID || idx->nkeycols != 1 || idx->attnums[0] <= 0 ||
		idx->pred != NIL)
		return NULL;
	foreach(lc, candidates)
	{
		AdvIndex   *brin = lfirst(lc);

		if (brin->amoid == BRIN_AM_OID && brin->relid == idx->relid &&
			brin->attnums[0] == idx->attnums[0])
			return brin;
	}
	return NULL;
}

/*
 * Is the BRIN nearly as fast as the btree it would replace for st?  For a
 * range search of its column: the plans over st's sampled ranges (its
 * generic plan without samples) scan it and read at most
 * SEL_BRIN_MAX_OVERREAD rows of its ranges per row they keep, and st
 * regresses no more than the greedy rounds allow.  The planner's bitmap
 * heap scan costs the ranges' pages as if they were scattered over the
 * table (it knows no correlation), so its cost says whether the planner
 * will use the BRIN, not how fast that is; the rows read say that.  For
 * any other statement (a point lookup, a join, a sort the btree served)
 * the plan costs: the btree must not cut its cost under the BRIN by
 * perfopt.min_cost_reduction.
 */
static bool
sel_brin_nearly(AdvStatement *st, List *chosen, List *config, AdvIndex *brin)
{
	double		now = adv_cost_under(st, chosen);
	double		then = adv_cost_under(st, config);
	double		overread;

	if (now < 0 || then < 0 || then > st->cost_base * SEL_MAX_REGRESSION)
		return false;
	if (sel_usable(brin, st))
	{
		overread = adv_brin_overread_safely(st, config, brin);
		elog(DEBUG2, "perfopt: BRIN candidate %d reads %.2f rows per row kept for statement " INT64_FORMAT,
			 brin->id, overread, st->queryid);
		if (overread > 0)
			return overread <= SEL_BRIN_MAX_OVERREAD;
	}
	return then - now < then * perfopt_min_cost_reduction / 100.0;
}

/* the btree candidate on a BRIN's column, without INCLUDE, if any */
static AdvIndex *
sel_btree_twin(AdvIndex *brin, List *candidates)
{
	ListCell   *lc;

	foreach(lc, candidates)
	{
		AdvIndex   *idx = lfirst(lc);

		if (idx->amoid == BTREE_AM_OID && idx->relid == brin->relid && idx->nkeycols == 1 &&
			idx->ncols == 1 && idx->attnums[0] == brin->attnums[0] && idx->pred == NIL)
			return idx;
	}
	return NULL;
}

/*
 * Is the BRIN nearly as fast as the btree for every statement the btree
 * could serve, and does it cut some statement's cost by
 * perfopt.min_cost_reduction on its own?  with_btree and with_brin: the
 * chosen set with one or the other.
 */
static bool
sel_brin_holds(AdvIndex *brin, AdvIndex *btree, List *with_btree, List *with_brin,
			   List *statements)
{
	bool		clears = false;
	ListCell   *ls;

	foreach(ls, statements)
	{
		AdvStatement *st = lfirst(ls);

		if (!sel_usable(btree, st))
			continue;
		CHECK_FOR_INTERRUPTS();
		if (!sel_brin_nearly(st, with_btree, with_brin, brin))
			return false;
		if (sel_usable(brin, st) &&
			st->cost_base - adv_cost_under(st, with_brin) >= st->cost_base * perfopt_min_cost_reduction / 100.0)
			clears = true;
	}
	return clears;
}

/*
 * A BRIN is recommended only where it is nearly as fast as the btree on
 * its column (sel_brin_nearly) and clears the bar on its own: each chosen
 * btree on a single column whose BRIN candidate holds gives way to it,
 * and each chosen BRIN that does not hold gives way to its btree.  The
 * greedy rounds take the BRIN first (per byte it wins), then the btree on
 * top wherever the planner's costs prefer it, which for a bitmap heap
 * scan they always do, or not at all when the btree's edge saves the
 * workload too little: this is where each gets its due.
 */
static List *
sel_prefer_brin(List *chosen, List *statements, List *candidates, double budget_left)
{
	ListCell   *lc;

	foreach(lc, chosen)
	{
		AdvIndex   *idx = lfirst(lc);
		AdvIndex   *brin = idx->amoid == BRIN_AM_OID ? idx : sel_brin_twin(idx, candidates);
		AdvIndex   *btree = idx->amoid == BRIN_AM_OID ? sel_btree_twin(idx, candidates) : idx;
		AdvIndex   *other = idx == brin ? btree : brin;
		List	   *config;
		bool		holds;

		if (brin == NULL || btree == NULL || list_member_ptr(chosen, other) ||
			other->relevant == NIL || sel_bytes(other) - sel_bytes(idx) > budget_left)
			continue;
		config = lappend(list_delete_ptr(list_copy(chosen), idx), other);
		holds = idx == brin ? sel_brin_holds(brin, btree, config, chosen, statements) :
			sel_brin_holds(brin, btree, chosen, config, statements);
		if (holds != (idx == brin))
		{
			elog(DEBUG2, "perfopt: candidate %d replaces %d (BRIN or btree)", other->id, idx->id);
			lfirst(lc) = other;
			budget_left -= sel_bytes(other) - sel_bytes(idx);
		}
		list_free(config);
	}
	return chosen;
}

/* the statements of both lists (each in workload order), in that order */
static List *
sel_intersect(List *a, List *b)
{
	List	   *both = NIL;
	ListCell   *la = list_head(a);
	ListCell   *lb = list_head(b);

	while (la != NULL && lb != NULL)
	{
		int			x = ((AdvStatement *) lfirst(la))->sel->ord;
		int			y = ((AdvStatement *) lfirst(lb))->sel->ord;

		if (x == y)
			both = lappend(both, lfirst(la));
		if (x <= y)
			la = lnext(a, la);
		if (y <= x)
			lb = lnext(b, lb);
	}
	return both;
}

/*
 * For each candidate, the statements worth planning with it: found once,
 * among the statements that use its leading column (and its second, for a
 * composite: sel_relevant() asks for both), since that never changes.
 */
static void
sel_find_relevant(List *candidates)
{
	ListCell   *lc;

	foreach(lc, candidates)
	{
		AdvIndex   *idx = lfirst(lc);
		List	   *among = sel_bucket(idx);
		ListCell   *ls;

		CHECK_FOR_INTERRUPTS();
		if (idx->nkeycols >= 2)
		{
			SelBucketKey key;
			SelBucket  *second;

			key.relid = idx->relid;
			key.attnum = idx->attnums[1];
			second = hash_search(sel_buckets, &key, HASH_FIND, NULL);
			among = sel_intersect(among, second ? second->stmts : NIL);
		}
		idx->relevant = NIL;
		foreach(ls, among)
			if (sel_relevant(idx, lfirst(ls)))
				idx->relevant = lappend(idx->relevant, lfirst(ls));
		if (among != sel_bucket(idx))
			list_free(among);
	}
}

List *
adv_select(List *statements, List *writes, List *candidates)
{
	List	   *chosen = NIL;
	double		workload_ms = 0;
	double		floor_ms;
	double		budget_left = sel_budget();
	MemoryContext round_cxt;
	AdvIndex  **order;
	int			pos = 0;
	ListCell   *lc;

	sel_cxt = CurrentMemoryContext;
	sel_clock = 1;
	sel_tables = NIL;
	adv_cost_cache_begin(candidates);
	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);

		st->sel = palloc0(sizeof(SelStmt));
		st->sel->ord = foreach_current_index(lc);
	}
	foreach(lc, candidates)
	{
		AdvIndex   *cand = lfirst(lc);

		cand->sel = palloc0(sizeof(SelIndex));
		cand->sel->pos = pos++;
	}
	sel_load_writes(writes, candidates);
	sel_buckets_build(statements);
	sel_find_relevant(candidates);
	foreach(lc, candidates)
		sel_cand_ext(lfirst(lc), NIL);
	foreach(lc, statements)
		if (((AdvStatement *) lfirst(lc))->query)
			workload_ms += ((AdvStatement *) lfirst(lc))->total_time_ms;
	floor_ms = workload_ms * perfopt_min_workload_saving / 100.0;

	/*
	 * Greedy rounds: the candidate with the best score, the first of the
	 * list among equals.  Candidates are tried best bound first, and those
	 * whose bound is below the best score found are not planned: the round
	 * picks what it would pick trying every candidate.
	 */
	order = palloc(sizeof(AdvIndex *) * Max(list_length(candidates), 1));
	round_cxt = AllocSetContextCreate(CurrentMemoryContext, "perfopt greedy round",
									  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SelTry		best = {0};
		SelTry		try;
		AdvIndex   *best_cand = NULL;
		int			n = 0;
		List	   *replaced;
		List	   *next = NIL;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(round_cxt);
		old = MemoryContextSwitchTo(round_cxt);
		foreach(lc, candidates)
		{
			AdvIndex   *cand = lfirst(lc);

			if (cand->sel->chosen || cand->sel->size_delta > budget_left)
				continue;
			cand->sel->bound = sel_bound(cand, floor_ms);
			if (cand->sel->bound != -HUGE_VAL)
				order[n++] = cand;
		}
		qsort(order, n, sizeof(AdvIndex *), sel_bound_cmp);
		for (int i = 0; i < n; i++)
		{
			AdvIndex   *cand = order[i];

			if (best_cand != NULL &&
				(cand->sel->bound < best.score ||
				 (cand->sel->bound == best.score && cand->sel->pos > best_cand->sel->pos)))
				break;
			CHECK_FOR_INTERRUPTS();
			if (sel_try(cand, chosen, floor_ms, budget_left, &try) &&
				(best_cand == NULL || try.score > best.score ||
				 (try.score == best.score && cand->sel->pos < best_cand->sel->pos)))
			{
				best = try;
				best_cand = cand;
			}
		}
		MemoryContextSwitchTo(old);
		if (best_cand == NULL)
			break;

		/* best_cand joins, replacing the chosen indexes it extends */
		replaced = list_copy(best_cand->sel->ext);
		foreach(lc, chosen)
			if (!list_member_ptr(replaced, lfirst(lc)))
				next = lappend(next, lfirst(lc));
		next = lappend(next, best_cand);
		list_free(chosen);
		chosen = next;
		budget_left -= best.size_delta;
		foreach(lc, replaced)
			((AdvIndex *) lfirst(lc))->sel->chosen = false;
		best_cand->sel->chosen = true;
		replaced = lappend(replaced, best_cand);
		sel_chosen_changed(chosen, replaced);
		/* the statements whose usable chosen set changed: their best cost */
		foreach(lc, statements)
		{
			AdvStatement *st = lfirst(lc);

			if (st->query && st->sel->changed == sel_clock &&
				list_member_oid(st->relids, best_cand->relid))
			{
				double		cost = sel_cost(st, chosen, NIL, NULL);

				if (cost >= 0)
					st->cost_best = cost;
			}
		}
		/* the candidates that extend what entered or left */
		foreach(lc, candidates)
		{
			AdvIndex   *cand = lfirst(lc);
			ListCell   *lr;

			foreach(lr, replaced)
				if (sel_extends(cand, lfirst(lr)))
				{
					sel_cand_ext(cand, chosen);
					break;
				}
		}
		list_free(replaced);
	}
	MemoryContextDelete(round_cxt);
	pfree(order);
	chosen = sel_prune(chosen, floor_ms);
	chosen = sel_upgrade(chosen, candidates, budget_left);
	/* what the final set leaves of the budget */
	budget_left = sel_budget();
	foreach(lc, chosen)
		budget_left -= sel_bytes(lfirst(lc));
	return sel_prefer_brin(chosen, statements, candidates, budget_left);
}

/* statements idx serves in the final configuration, with their costs */
List *
adv_served_by(AdvIndex *idx, List *chosen, List *statements)
{
	List	   *served = NIL;
	List	   *without = list_copy(chosen);
	ListCell   *lc;

	without = list_delete_ptr(without, idx);
	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);
		double		with_cost;
		double		without_cost;

		/* (where it is of no use, both configurations cost the same) */
		if (st->query == NULL || !list_member_oid(st->relids, idx->relid) ||
			!sel_usable(idx, st))
			continue;
		with_cost = adv_cost_under(st, chosen);
		without_cost = adv_cost_under(st, without);
		if (with_cost >= 0 && without_cost >= 0 && with_cost < without_cost * 0.99)
			served = lappend(served, st);
	}
	return served;
}

double
adv_index_write_penalty(AdvIndex *idx)
{
	return sel_write_penalty(idx);
}
