/*
 * brin.c — what the advisor needs to cost a hypothetical BRIN index: the
 * physical correlation of a column (colstats.c: pg_statistic, read
 * through the syscache), the index's size (a metapage, the range map and one summary
 * tuple per range of BRIN_DEFAULT_PAGES_PER_RANGE heap pages) and its
 * amcostestimate.
 *
 * Core's brincostestimate reads the index's pages_per_range from the
 * index itself on the PostgreSQL versions that do not know hypothetical
 * indexes, and looks the column's statistics up through
 * get_relation_stats_hook, which other code may have set: the hypothetical
 * BRIN gets this estimate of its own instead, which opens no relation and
 * reads pg_statistic directly.  It uses core's ingredients: the ranges of
 * the table (its pages over the pages per range), the correlation of the
 * index's columns (the best one, as core), the selectivity of the index
 * quals, a sequential read of the range map, a random read of the summary
 * pages and a small charge per heap page of the matching ranges.
 */
#include "postgres.h"

#include <math.h>

#include "access/brin.h"
#include "access/brin_page.h"
#include "access/brin_tuple.h"
#include "access/htup_details.h"
#include "catalog/pg_statistic.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "storage/bufpage.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"

#include "advisor.h"

/*
 * The column's physical correlation from its (non-inherited) statistics,
 * in [-1, 1]; false when ANALYZE has not recorded one.
 */
bool
adv_brin_correlation(Oid relid, AttrNumber attnum, double *correlation)
{
	double	   *numbers;
	int			n = adv_column_stat_numbers(relid, attnum, STATISTIC_KIND_CORRELATION, &numbers);

	bool		found = n > 0 && !isnan(numbers[0]);

	*correlation = found ? Max(-1.0, Min(1.0, numbers[0])) : 0;
	if (numbers)
		pfree(numbers);
	return found;
}

/* the ranges a table of heap_pages pages has at the default pages per range */
static double
adv_brin_ranges(double heap_pages)
{
	return Max(ceil(heap_pages / BRIN_DEFAULT_PAGES_PER_RANGE), 1.0);
}

static double
adv_brin_revmap_pages(double ranges)
{
	return floor(ranges / REVMAP_PAGE_MAXITEMS) + 1;
}

/*
 * Pages of a minmax BRIN over a table of heap_pages pages whose key
 * columns are width bytes wide together: the metapage, the range map and
 * one summary (a minimum and a maximum per column) per range.
 */
BlockNumber
adv_brin_pages(double heap_pages, double width)
{
	double		ranges = adv_brin_ranges(heap_pages);
	double		item = MAXALIGN(SizeOfBrinTuple + 2 * width) + sizeof(ItemIdData);
	double		usable = BLCKSZ - SizeOfPageHeaderData - MAXALIGN(sizeof(BrinSpecialSpace));
	double		per_page = Max(1.0, floor(usable / item));
	double		pages = 1 + adv_brin_revmap_pages(ranges) + ceil(ranges / per_page);

	return (BlockNumber) Min(pages, (double) MaxBlockNumber);
}

/*
 * amcostestimate of a hypothetical BRIN (whatif.c sets it): core's
 * arithmetic over the default pages per range, without opening anything.
 */
void
adv_brin_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
					  Cost *indexStartupCost, Cost *indexTotalCost,
					  Selectivity *indexSelectivity, double *indexCorrelation,
					  double *indexPages)
{
	IndexOptInfo *index = path->indexinfo;
	RelOptInfo *baserel = index->rel;
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	List	   *quals = get_quals_from_indexclauses(path->indexclauses);
	double		ranges = adv_brin_ranges((double) baserel->pages);
	double		revmap_pages = adv_brin_revmap_pages(ranges);
	double		correlation = 0;
	double		minimal_ranges;
	double		ranges_read;
	double		selectivity;
	Cost		random_page_cost;
	Cost		seq_page_cost;
	ListCell   *lc;

	get_tablespace_page_costs(index->reltablespace, &random_page_cost, &seq_page_cost);

	/* every qual narrows the ranges alike: the best-ordered column counts */
	foreach(lc, path->indexclauses)
	{
		IndexClause *iclause = lfirst_node(IndexClause, lc);
		AttrNumber	attnum = index->indexkeys[iclause->indexcol];
		double		c;

		if (adv_brin_correlation(rte->relid, attnum, &c) && fabs(c) > correlation)
			correlation = fabs(c);
	}

	selectivity = clauselist_selectivity(root, quals, baserel->relid, JOIN_INNER, NULL);
	/* the ranges a perfectly ordered heap would hold the rows in, spread by the disorder */
	minimal_ranges = ceil(ranges * selectivity);
	if (correlation < 1.0e-10)
		ranges_read = ranges;
	else
		ranges_read = Min(minimal_ranges / correlation, ranges);

	*indexSelectivity = Max(0.0, Min(ranges_read / ranges, 1.0));
	*indexCorrelation = correlation;
	/* the range map read in order, with the quals' operands */
	*indexStartupCost = seq_page_cost * revmap_pages * loop_count +
		index_other_operands_eval_cost(root, quals);
	/* the summaries, in the range map's (not the file's) order */
	*indexTotalCost = *indexStartupCost +
		random_page_cost * Max((double) index->pages - revmap_pages, 0.0) * loop_count;
	/* a bit for each heap page of each matching range */
	*indexTotalCost += 0.1 * cpu_operator_cost * ranges_read * BRIN_DEFAULT_PAGES_PER_RANGE;
	*indexPages = index->pages;
}
