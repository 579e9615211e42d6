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
 * plans plan generically: whatif.c's adv_plan).  One exception, on
 * purpose: a value that nearly every sampled execution shares
 * (VC_SHARED_SHARE of the weight, at least VC_SHARED_MIN_OBSERVATIONS
 * observations) is an application constant, not a user's value
 * ("status <> 'done'" sent as a bind parameter or normalized by
 * pg_stat_statements), and may become the predicate of a partial index
 * in a recommendation's DDL (st->param_shared; collect.c,
 * docs/security.md).
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "utils/lsyscache.h"

#include "advisor.h"
#include "replica.h"
#include "valuestore.h"

/* the heaviest sets a statement is costed with: planning cost grows with them */
#define VC_MAX_SETS 8
/*
 * A $n's value is shared when it is the same in this share of the sampled
 * executions' weight, over at least this many observations: with the
 * store's 16 slots, at most one execution in ten may differ, and a
 * statement seen a handful of times proves nothing.
 */
#define VC_SHARED_SHARE 0.90
#define VC_SHARED_MIN_OBSERVATIONS 5

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

/* a NULL-safe equality of two values' texts */
static bool
vc_same_text(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * For each $n, the text most of the sets' weight carries, when it carries
 * at least VC_SHARED_SHARE of it over VC_SHARED_MIN_OBSERVATIONS; NULL
 * otherwise (and for a shared SQL NULL: no predicate compares with it).
 */
static char **
vc_shared_texts(AdvStatement *st, List *sets)
{
	char	  **shared = palloc0(sizeof(char *) * st->nparams);
	double		total = 0;
	ListCell   *lc;

	foreach(lc, sets)
	{
		PerfoptValueSet *set = lfirst(lc);

		if (set->nparams >= st->nparams && set->weight > 0)
			total += set->weight;
	}
	if (total < VC_SHARED_MIN_OBSERVATIONS)
		return shared;
	for (int i = 0; i < st->nparams; i++)
	{
		foreach(lc, sets)
		{
			PerfoptValueSet *set = lfirst(lc);
			double		same = 0;
			ListCell   *lo;

			if (set->nparams < st->nparams || set->weight <= 0 || set->values[i] == NULL)
				continue;
			foreach(lo, sets)
			{
				PerfoptValueSet *other = lfirst(lo);

				if (other->nparams >= st->nparams && other->weight > 0 &&
					vc_same_text(other->values[i], set->values[i]))
					same += other->weight;
			}
			if (same >= VC_SHARED_SHARE * total)
			{
				shared[i] = set->values[i];
				break;
			}
		}
	}
	return shared;
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
	char	  **shared;

	st->value_sets = NIL;
	st->param_shared = NULL;
	st->param_shared_value = NULL;
	if (st->query == NULL || st->nparams == 0 || st->queryid == 0)
		return;
	/* this server's, and with what standbys ran, theirs (replica.c) */
	sets = adv_replica_value_samples(st, perfopt_value_samples(MyDatabaseId, st->userid,
																(uint64) st->queryid));
	list_sort(sets, vc_heavier_first);
	shared = vc_shared_texts(st, sets);
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
		/* a shared value, as the set that carries it converted it */
		for (int i = 0; i < st->nparams; i++)
		{
			if (shared[i] == NULL || !vc_same_text(vc_set->values[i], shared[i]))
				continue;
			if (st->param_shared == NULL)
			{
				st->param_shared = palloc0(sizeof(bool) * st->nparams);
				st->param_shared_value = palloc0(sizeof(Datum) * st->nparams);
			}
			if (!st->param_shared[i])
			{
				st->param_shared[i] = true;
				st->param_shared_value[i] = vc_params->params[i].value;
			}
		}
		if (list_length(st->value_sets) >= VC_MAX_SETS)
			break;
	}
	vc_set = NULL;
	vc_params = NULL;
}

/*
 * The type the parser gives a numeric literal written as TEXT (make_const's
 * rules: an integer that fits int4, then int8, else numeric; a decimal or
 * an exponent: numeric), or InvalidOid when TEXT is not one.
 */
static Oid
vc_numeric_literal_type(const char *text)
{
	const char *p = text;
	bool		digits = false;
	bool		integer = true;
	char	   *end;
	long long	v;

	if (*p == '-')
		p++;
	for (; *p; p++)
	{
		if (isdigit((unsigned char) *p))
			digits = true;
		else if (*p == '.' || *p == 'e' || *p == 'E' ||
				 ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
			integer = false;
		else
			return InvalidOid;
	}
	if (!digits)
		return InvalidOid;
	if (!integer)
		return NUMERICOID;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return NUMERICOID;
	return (v >= PG_INT32_MIN && v <= PG_INT32_MAX) ? INT4OID : INT8OID;
}

/*
 * For a second analysis of a statement whose first failed: pg_stat_statements
 * turned its literals into $n, and a $n has no type where a numeric literal
 * had one ("($5 + $6) * interval '1 second'": unknown + unknown is
 * ambiguous, integer + integer is not).  Where every sampled value of a $n
 * reads as a numeric literal, that $n gets the literal's type; the others
 * stay to be inferred.  The types (palloc'd, *n of them), or NULL when the
 * samples type none.  Only a retry uses them: a bind parameter that merely
 * looks numeric ('123' for a text column) would fail there.
 */
Oid *
adv_value_literal_types(AdvStatement *st, int *n)
{
	List	   *sets;
	ListCell   *lc;
	int			nparams = 0;
	Oid		   *types;
	bool		any = false;

	*n = 0;
	if (st->queryid == 0)
		return NULL;
	sets = adv_replica_value_samples(st, perfopt_value_samples(MyDatabaseId, st->userid,
																(uint64) st->queryid));
	foreach(lc, sets)
		nparams = Max(nparams, ((PerfoptValueSet *) lfirst(lc))->nparams);
	if (nparams == 0)
		return NULL;
	types = palloc0(sizeof(Oid) * nparams);
	for (int i = 0; i < nparams; i++)
	{
		Oid			type = InvalidOid;
		bool		ok = true;

		foreach(lc, sets)
		{
			PerfoptValueSet *set = lfirst(lc);
			Oid			t;

			if (i >= set->nparams || set->values[i] == NULL)
				continue;
			t = vc_numeric_literal_type(set->values[i]);
			if (!OidIsValid(t))
			{
				ok = false;
				break;
			}
			/* the widest of the values' types */
			if (type == InvalidOid || t == NUMERICOID || (t == INT8OID && type == INT4OID))
				type = t;
		}
		if (ok && OidIsValid(type))
		{
			types[i] = type;
			any = true;
		}
	}
	if (!any)
	{
		pfree(types);
		return NULL;
	}
	*n = nparams;
	return types;
}
