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
 * time and fits the storage budget.  Plan costs are cached per statement
 * and configuration of hypothetical indexes on its tables.
 *
 * Then each chosen index may be traded for a candidate on the same table
 * with more key columns, its own among them, that serves one of its
 * statements much better (perfopt.min_cost_reduction of its cost then),
 * regresses none (the greedy rounds' rule), is at most twice its size and
 * gains the workload more time than it costs: (parent, at) for (parent)
 * when a feed reads a parent's newest rows.  The greedy rounds prefer the
 * smaller of two indexes that both end a sequential scan, and measured
 * against that scan the composite's edge (20 entries read instead of a
 * parent's rows and a sort) looks like nothing; measured against the
 * index it replaces, it is the difference an expert would make.
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

typedef struct SelCost
{
	char	   *config;
	double		cost;
} SelCost;

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

static bool sel_usable(AdvIndex *idx, AdvStatement *st);

static int
sel_int_cmp(const void *a, const void *b)
{
	return *(const int *) a - *(const int *) b;
}

/*
 * The statement's plan cost under config (cached); -1 when planning failed.
 * Only the indexes the planner could use for it (its tables, a leading
 * column it uses) make the cache key.  A lookup allocates nothing: it runs
 * millions of times in a large workload.
 */
double
adv_cost_under(AdvStatement *st, List *config)
{
	static StringInfo key = NULL;
	int			ids[INDEX_MAX_KEYS * 8];
	int			n = 0;
	List	   *mine = NIL;
	ListCell   *lc;
	SelCost    *entry;

	if (key == NULL)
	{
		/* one reusable buffer for the life of the backend */
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		key = makeStringInfo();
		MemoryContextSwitchTo(old);
	}
	foreach(lc, config)
	{
		AdvIndex   *idx = lfirst(lc);

		if (sel_usable(idx, st) && n < (int) lengthof(ids))
			ids[n++] = idx->id;
	}
	if (n == 0)
		return st->cost_base;
	qsort(ids, n, sizeof(int), sel_int_cmp);
	resetStringInfo(key);
	for (int i = 0; i < n; i++)
		appendStringInfo(key, "%d,", ids[i]);
	foreach(lc, st->plan_cache)
	{
		entry = lfirst(lc);
		if (strcmp(entry->config, key->data) == 0)
			return entry->cost;
	}
	foreach(lc, config)
	{
		AdvIndex   *idx = lfirst(lc);

		if (sel_usable(idx, st))
			mine = lappend(mine, idx);
	}
	entry = palloc(sizeof(SelCost));
	entry->config = pstrdup(key->data);
	entry->cost = adv_plan_cost_safely(st, mine);
	list_free(mine);
	st->plan_cache = lappend(st->plan_cache, entry);
	return entry->cost;
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

typedef struct SelTry
{
	List	   *config;
	double		net;
	double		benefit;
	double		penalty;
	double		score;
	double		size_delta;
} SelTry;

/* evaluate adding cand to chosen; false when it does not qualify */
static bool
sel_try(AdvIndex *cand, List *chosen, double floor_ms, double budget_left, SelTry *out)
{
	List	   *config = NIL;
	double		size_delta = sel_bytes(cand);
	double		penalty = sel_write_penalty(cand);
	double		benefit = 0;
	bool		clears = false;
	ListCell   *lc;

	foreach(lc, chosen)
	{
		AdvIndex   *idx = lfirst(lc);

		if (sel_extends(cand, idx))
		{
			size_delta -= sel_bytes(idx);
			penalty -= sel_write_penalty(idx);
		}
		else
			config = lappend(config, idx);
	}
	config = lappend(config, cand);
	if (size_delta > budget_left)
	{
		list_free(config);
		return false;
	}

	foreach(lc, cand->relevant)
	{
		AdvStatement *st = lfirst(lc);
		double		cost = adv_cost_under(st, config);

		if (cost < 0)
			continue;
		if (cost > st->cost_base * SEL_MAX_REGRESSION)
		{
			list_free(config);
			return false;
		}
		if (st->cost_best - cost >= st->cost_best * perfopt_min_cost_reduction / 100.0)
			clears = true;
		if (st->cost_base > 0)
			benefit += st->total_time_ms * (st->cost_best - cost) / st->cost_base;
	}
	elog(DEBUG2, "perfopt: candidate %d on %u: benefit %.1f ms, penalty %.1f ms, floor %.1f ms, clears %d",
		 cand->id, cand->relid, benefit, penalty, floor_ms, clears);
	if (!clears || benefit - penalty < floor_ms || benefit - penalty <= 0)
	{
		list_free(config);
		return false;
	}

	out->config = config;
	out->benefit = benefit;
	out->penalty = penalty;
	out->net = benefit - penalty;
	out->size_delta = size_delta;
	out->score = out->net / Max(size_delta, (double) BLCKSZ);
	return true;
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
sel_prune(List *chosen, List *statements, double floor_ms)
{
	for (;;)
	{
		AdvIndex   *weakest = NULL;
		double		weakest_net = 0;
		ListCell   *lc;

		foreach(lc, chosen)
		{
			AdvIndex   *idx = lfirst(lc);
			List	   *without = list_delete_ptr(list_copy(chosen), idx);
			double		benefit = 0;
			bool		clears = false;
			ListCell   *ls;

			foreach(ls, statements)
			{
				AdvStatement *st = lfirst(ls);
				double		with_cost;
				double		without_cost;

				if (!sel_usable(idx, st))
					continue;
				with_cost = adv_cost_under(st, chosen);
				without_cost = adv_cost_under(st, without);
				if (with_cost < 0 || without_cost < 0 || st->cost_base <= 0)
					continue;
				benefit += st->total_time_ms * (without_cost - with_cost) / st->cost_base;
				if (without_cost - with_cost >= without_cost * perfopt_min_cost_reduction / 100.0)
					clears = true;
			}
			benefit -= sel_write_penalty(idx);
			if ((!clears || benefit < floor_ms) &&
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
	}
}

/*
 * Does big have more key columns than small, among them all of small's
 * (same table, kind and predicate, no INCLUDE on either)?  Only such a
 * candidate may replace a chosen index: it can serve whatever small
 * served.
 */
static bool
sel_widens(AdvIndex *big, AdvIndex *small)
{
	if (big->relid != small->relid || big->amoid != small->amoid ||
		!equal(big->pred, small->pred) ||
		big->nkeycols <= small->nkeycols || big->ncols > big->nkeycols ||
		small->ncols > small->nkeycols || small->exprs != NIL || big->exprs != NIL)
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

/*
 * What trading old for cand in chosen gains the statements of LIST (over
 * old's statements, or cand's own); *better when one of them falls by
 * perfopt.min_cost_reduction, false (and no gain) when one regresses past
 * the greedy rounds' rule or fails to plan.  SKIP: statements to leave out.
 */
static bool
sel_trade_gain(List *chosen, List *config, List *list, bool (*take) (AdvIndex *, AdvStatement *),
			   AdvIndex *idx, List *skip, double *gain, bool *better)
{
	ListCell   *ls;

	foreach(ls, list)
	{
		AdvStatement *st = lfirst(ls);
		double		now;
		double		then;

		if ((take && !take(idx, st)) || list_member_ptr(skip, st))
			continue;
		now = adv_cost_under(st, chosen);
		then = adv_cost_under(st, config);
		if (now < 0 || then < 0 || st->cost_base <= 0 || then > st->cost_base * SEL_MAX_REGRESSION)
			return false;
		if (now - then >= now * perfopt_min_cost_reduction / 100.0)
			*better = true;
		*gain += st->total_time_ms * (now - then) / st->cost_base;
	}
	return true;
}

/*
 * Trade chosen indexes for better candidates on the same table (see the
 * top of this file), best gain first, until none improves.  Only the
 * statements a wider candidate is relevant to (they use its second
 * column) can gain from it: they are planned first, and the other
 * statements of the index it replaces (they may regress) only for a trade
 * that could still win, so that a table with many chosen indexes and many
 * candidates does not plan every statement for every pair.
 */
static List *
sel_upgrade(List *chosen, List *statements, List *candidates, double budget_left)
{
	bool		changed = true;

	while (changed)
	{
		AdvIndex   *best_old = NULL;
		AdvIndex   *best_new = NULL;
		double		best_gain = 0;
		ListCell   *lc;

		changed = false;
		CHECK_FOR_INTERRUPTS();
		foreach(lc, chosen)
		{
			AdvIndex   *old = lfirst(lc);
			ListCell   *lk;

			foreach(lk, candidates)
			{
				AdvIndex   *cand = lfirst(lk);
				List	   *config;
				double		gain = 0;
				bool		better = false;
				bool		ok;
				double		grow = sel_bytes(cand) - sel_bytes(old);

				if (!sel_widens(cand, old) || list_member_ptr(chosen, cand) ||
					sel_bytes(cand) > 2 * sel_bytes(old) || grow > budget_left ||
					cand->relevant == NIL)
					continue;
				CHECK_FOR_INTERRUPTS();
				config = lappend(list_delete_ptr(list_copy(chosen), old), cand);
				ok = sel_trade_gain(chosen, config, cand->relevant, NULL, cand, NIL, &gain, &better);
				gain -= sel_write_penalty(cand) - sel_write_penalty(old);
				/* the rest can only lose: plan it for a trade that may still win */
				if (ok && better && gain > best_gain)
					ok = sel_trade_gain(chosen, config, statements, sel_usable, old, cand->relevant,
										&gain, &better);
				list_free(config);
				if (ok && better && gain > best_gain)
				{
					best_gain = gain;
					best_old = old;
					best_new = cand;
				}
			}
		}
		if (best_new != NULL)
		{
			elog(DEBUG2, "perfopt: candidate %d replaces %d (gain %.1f ms)", best_new->id, best_old->id, best_gain);
			budget_left -= sel_bytes(best_new) - sel_bytes(best_old);
			chosen = lappend(list_delete_ptr(chosen, best_old), best_new);
			changed = true;
		}
	}
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

/*
 * For each candidate, the statements worth planning with it: found once,
 * through the statements of its table, since that never changes.
 */
static void
sel_find_relevant(List *statements, List *candidates)
{
	List	   *tables = NIL;	/* (relid, statements) pairs */
	ListCell   *lc;

	foreach(lc, statements)
	{
		AdvStatement *st = lfirst(lc);
		ListCell   *lr;

		if (st->query == NULL)
			continue;
		foreach(lr, st->relids)
		{
			Oid			relid = lfirst_oid(lr);
			List	   *pair = NIL;
			ListCell   *lt;

			foreach(lt, tables)
				if (linitial_oid(linitial((List *) lfirst(lt))) == relid)
					pair = lfirst(lt);
			if (pair == NIL)
			{
				pair = list_make2(list_make1_oid(relid), NIL);
				tables = lappend(tables, pair);
			}
			lsecond(pair) = lappend(lsecond(pair), st);
		}
	}
	foreach(lc, candidates)
	{
		AdvIndex   *idx = lfirst(lc);
		ListCell   *lt;

		idx->relevant = NIL;
		foreach(lt, tables)
		{
			List	   *pair = lfirst(lt);
			ListCell   *ls;

			if (linitial_oid(linitial(pair)) != idx->relid)
				continue;
			foreach(ls, (List *) lsecond(pair))
				if (sel_relevant(idx, lfirst(ls)))
					idx->relevant = lappend(idx->relevant, lfirst(ls));
		}
	}
}

List *
adv_select(List *statements, List *writes, List *candidates)
{
	List	   *chosen = NIL;
	double		workload_ms = 0;
	double		floor_ms;
	double		budget_left = sel_budget();
	ListCell   *lc;

	sel_tables = NIL;
	sel_load_writes(writes, candidates);
	sel_find_relevant(statements, candidates);
	foreach(lc, statements)
		if (((AdvStatement *) lfirst(lc))->query)
			workload_ms += ((AdvStatement *) lfirst(lc))->total_time_ms;
	floor_ms = workload_ms * perfopt_min_workload_saving / 100.0;

	for (;;)
	{
		SelTry		best = {0};
		SelTry		try;
		AdvIndex   *best_cand = NULL;

		CHECK_FOR_INTERRUPTS();
		foreach(lc, candidates)
		{
			AdvIndex   *cand = lfirst(lc);

			if (list_member_ptr(chosen, cand))
				continue;
			if (sel_try(cand, chosen, floor_ms, budget_left, &try))
			{
				if (best_cand == NULL || try.score > best.score)
				{
					if (best_cand != NULL)
						list_free(best.config);
					best = try;
					best_cand = cand;
				}
				else
					list_free(try.config);
			}
		}
		if (best_cand == NULL)
			break;
		chosen = best.config;
		budget_left -= best.size_delta;
		foreach(lc, statements)
		{
			AdvStatement *st = lfirst(lc);

			if (st->query && list_member_oid(st->relids, best_cand->relid))
			{
				double		cost = adv_cost_under(st, chosen);

				if (cost >= 0)
					st->cost_best = cost;
			}
		}
	}
	chosen = sel_prune(chosen, statements, floor_ms);
	chosen = sel_upgrade(chosen, statements, candidates, budget_left);
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

		if (st->query == NULL || !list_member_oid(st->relids, idx->relid))
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
