/*
 * valuecost.c — the values the application sent, as the what-if planner
 * uses them: a statement's sampled value sets (valuestore.c) turned into
 * bound parameters of its analyzed Query, so that each candidate is
 * costed with custom plans over what really runs (a hot parent, the rare
 * kind) rather than one generic plan with every $n at its column's
 * average selectivity.
 *
 * A value set's texts go through the input functions of the parameter
 * types the analysis inferred.  An input function may run code (a
 * domain's CHECK), so each set is converted as a planning step
 * (workload.c: as the role planning runs as, in a subtransaction rolled
 * back afterwards); a set that does not convert is dropped, and its error
 * message, which quotes the value, is never kept.
 *
 * The values stay in this backend's memory for the advise run: they are
 * not written to any table, log line or plan kept by the advisor (slow
 * plans and verification plan generically: whatif.c's adv_plan).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "nodes/params.h"
#include "utils/lsyscache.h"

#include "advisor.h"
#include "replica.h"
#include "valuestore.h"

/* the heaviest sets a statement is costed with: planning cost grows with them */
#define VC_MAX_SETS 8

static PerfoptValueSet *vc_set;
static ParamListInfo vc_params;

/* convert vc_set into vc_params, as a planning step (it may run code) */
static void
vc_convert(AdvStatement *st)
{
	ParamListInfo params = makeParamList(st->nparams);

	for (int i = 0; i < st->nparams; i++)
	{
		ParamExternData *prm = &params->params[i];
		const char *text = vc_set->values[i];

		prm->ptype = st->param_types[i];
		prm->pflags = PARAM_FLAG_CONST;
		prm->isnull = (text == NULL);
		prm->value = (Datum) 0;
		if (text != NULL)
		{
			Oid			input;
			Oid			ioparam;

			getTypeInputInfo(prm->ptype, &input, &ioparam);
			prm->value = OidInputFunctionCall(input, unconstify(char *, text), ioparam, -1);
		}
	}
	vc_params = params;
}

static int
vc_heavier_first(const ListCell *a, const ListCell *b)
{
	const PerfoptValueSet *x = lfirst(a);
	const PerfoptValueSet *y = lfirst(b);

	return (x->weight < y->weight) - (x->weight > y->weight);
}

/*
 * st->value_sets: the heaviest VC_MAX_SETS sampled sets that cover every
 * parameter of the analyzed statement and convert to its types, each with
 * its weight.  NIL (generic plans) when none does.
 */
void
adv_value_sets_load(AdvStatement *st)
{
	List	   *sets;
	ListCell   *lc;
	char	   *saved = st->skip_reason;

	st->value_sets = NIL;
	if (st->query == NULL || st->nparams == 0 || st->queryid == 0)
		return;
	/* this server's, and with what standbys ran, theirs (replica.c) */
	sets = adv_replica_value_samples(st, perfopt_value_samples(MyDatabaseId, st->userid,
																(uint64) st->queryid));
	list_sort(sets, vc_heavier_first);
	foreach(lc, sets)
	{
		AdvValueSet *vs;

		vc_set = lfirst(lc);
		if (vc_set->nparams < st->nparams || vc_set->weight <= 0)
			continue;
		vc_params = NULL;
		if (!adv_plan_as_statement_role(st, vc_convert) || vc_params == NULL)
		{
			/* the failure is the set's, not the statement's */
			st->skip_reason = saved;
			if (st->over_budget)
				break;
			continue;
		}
		vs = palloc(sizeof(AdvValueSet));
		vs->weight = vc_set->weight;
		vs->params = vc_params;
		st->value_sets = lappend(st->value_sets, vs);
		if (list_length(st->value_sets) >= VC_MAX_SETS)
			break;
	}
	vc_set = NULL;
	vc_params = NULL;
}
