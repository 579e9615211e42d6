/*
 * colstats.c — the numbers of one statistics slot of a table column, read
 * from pg_statistic through the syscache: never through pg_stats, a view
 * whose name a schema on the search_path could shadow.  The table's own
 * statistics, not those of its inheritance tree.
 */
#include "postgres.h"

#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "advisor.h"

/*
 * The numbers of the column's slot of this kind (STATISTIC_KIND_*), copied
 * into *numbers (palloc'd); -1 when ANALYZE has recorded none.
 */
int
adv_column_stat_numbers(Oid relid, AttrNumber attnum, int kind, double **numbers)
{
	HeapTuple	tuple;
	AttStatsSlot sslot;
	int			n = -1;

	*numbers = NULL;
	if (attnum <= 0)
		return -1;
	tuple = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid), Int16GetDatum(attnum),
							BoolGetDatum(false));
	if (!HeapTupleIsValid(tuple))
		return -1;
	if (get_attstatsslot(&sslot, tuple, kind, InvalidOid, ATTSTATSSLOT_NUMBERS))
	{
		n = sslot.nnumbers;
		*numbers = palloc(sizeof(double) * Max(n, 1));
		for (int i = 0; i < n; i++)
			(*numbers)[i] = sslot.numbers[i];
		free_attstatsslot(&sslot);
	}
	ReleaseSysCache(tuple);
	return n;
}
