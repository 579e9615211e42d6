/*
 * valuecapture.c — the value samples' hooks: the parameter values a
 * top-level statement runs with, taken at perfopt.value_sample_rate and
 * handed to the store (valuestore.c) with the time the execution took.
 *
 * The decision comes first and costs one pg_prng draw against the rate
 * (0 turns sampling off): only a top-level statement with a query id,
 * outside background workers (perfopt's own) and not marked as perfopt's
 * own SQL, is considered, and only a hit does any work.
 *
 * Simple protocol (no bind parameters): post_parse_analyze_hook draws;
 * on a hit it reads the constants pg_stat_statements replaces with $n,
 * as its generate_normalized_query numbers them: the JumbleState's
 * locations sorted, duplicates skipped, numbered after
 * highest_extern_param_id; on 18 a squashed list (IN (1, 2, 3)) is one
 * $n, its first element, and with squashed lists every location is
 * numbered from $1 (compat.h).  Each location's value is the Const of the
 * analyzed query there, as text through its type's output function.
 *
 * Extended protocol: ExecutorStart draws and reads queryDesc->params (not
 * those with a paramFetch hook, such as PL/pgSQL's).  Which $n of the
 * pg_stat_statements text each bind parameter is, and the constants of a
 * statement that has both, come from its parse analysis (Parse, or a plan
 * revalidation): for a statement with bind parameters, the hook keeps that
 * "shape" in a small per-backend cache, set-associative by query id (two
 * ways in each of 32 sets) and checked against a copy of the text (a text
 * over 8 kB: against its length and 64-bit hash, so that a shape costs
 * at most that much memory whatever the statement's length).  A parse
 * whose shape is cached costs a comparison; one whose set is full takes a
 * way only once in CAP_SHAPE_REPLACE parses, so that a driver parsing
 * more statements than the cache holds at every execution does not build
 * a shape at every parse.  A sampled execution whose shape is not in the
 * cache (parsed before sampling was turned on, or not admitted) is not
 * sampled.  SQL-level PREPARE/EXECUTE runs nested and is not sampled.
 *
 * The set is stored at the statement's ExecutorEnd with the time since the
 * statement started (the store weighs statements by it); an execution that
 * fails before it is dropped.
 *
 * Nothing here may raise an ERROR into the user's statement, and nothing
 * may run code a user wrote: a value is taken only when its type's output
 * function is one of a fixed list of built-in ones (numbers, text, bytea,
 * dates and times, uuid, network addresses, json, jsonb, enums, and
 * arrays of these; domains over them too), which cannot fail on a value
 * of their type; dates, times and intervals only under DateStyle ISO and
 * IntervalStyle postgres, so that the advisor reads them back the same.  A
 * value of any other type, a stored (toasted) one or a text longer than
 * PERFOPT_VALUE_MAX_LEN leaves the whole set unsampled (counted as
 * skipped).  Out of memory is the one error left, as for the statement
 * itself.  The values go to shared memory only: no message carries them.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/params.h"
#include "parser/analyze.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "compat.h"
#include "ownsql.h"
#include "latency.h"
#include "valuecapture.h"
#include "valuestore.h"

/* statement shapes kept per backend: sets chosen by query id, ways in each */
#define CAP_SHAPE_SETS 32
#define CAP_SHAPE_WAYS 2
/* a statement whose set is full takes a way once in this many parses */
#define CAP_SHAPE_REPLACE 32
/* a longer text is kept as its length and hash, not copied */
#define CAP_SHAPE_TEXT_MAX 8192

/* where each $n of a statement's pg_stat_statements text comes from */
typedef struct CapShape
{
	uint64		queryid;
	char	   *text;			/* the statement's text, as parsed; NULL: long */
	size_t		text_len;		/* a long text's length */
	uint64		text_hash;		/* and its hash */
	int			nslots;
	int		   *param;			/* per $n: bind parameter number, or 0: a constant */
	char	  **consts;			/* per $n: the constant's text (NULL: SQL NULL) */
	MemoryContext cxt;			/* holds the above */
} CapShape;

/* one execution's values, from the hook that sampled it to its ExecutorEnd */
typedef struct CapPending
{
	bool		active;
	uint64		queryid;
	QueryDesc  *qd;				/* NULL until its ExecutorStart */
	int			nparams;
	char	  **values;
} CapPending;

/* the draw: a hit when a uint32 draw is below this (rate * 2^32) */
static uint64 cap_threshold = 0;

static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;

static MemoryContext cap_cxt = NULL;	/* the pending execution's values */
static CapPending cap_pending;
static CapShape *cap_shapes[CAP_SHAPE_SETS][CAP_SHAPE_WAYS];

void
perfopt_value_capture_rate_assign(double newval, void *extra)
{
	cap_threshold = (uint64) (newval * 4294967296.0);
}

/* a hit?  Not in background workers: perfopt's own are not sampled */
static inline bool
cap_draw(void)
{
	return cap_threshold > 0 && MyBackendType != B_BG_WORKER &&
		(uint64) pg_prng_uint32(&pg_global_prng_state) < cap_threshold;
}

/* perfopt's own SQL (the shim's calls, marked): never sampled */
static bool
cap_own_sql(const char *text, int location)
{
	if (text == NULL)
		return false;
	if (location > 0 && location < (int) strlen(text))
		text += location;
	while (isspace((unsigned char) *text))
		text++;
	return strncmp(text, PERFOPT_OWN_SQL_MARKER, strlen(PERFOPT_OWN_SQL_MARKER)) == 0;
}

static MemoryContext
cap_context(void)
{
	if (cap_cxt == NULL)
		cap_cxt = AllocSetContextCreate(TopMemoryContext, "perfopt value capture",
										ALLOCSET_SMALL_SIZES);
	return cap_cxt;
}

static void
cap_pending_clear(void)
{
	cap_pending.active = false;
	cap_pending.qd = NULL;
	cap_pending.values = NULL;
	if (cap_cxt != NULL)
		MemoryContextReset(cap_cxt);
}

/* ---- values as text ---- */

/* is this output function one that cannot fail or run a user's code? */
static bool
cap_output_ok(Oid fn, Oid type)
{
	switch (fn)
	{
		case F_BOOLOUT:
		case F_INT2OUT:
		case F_INT4OUT:
		case F_INT8OUT:
		case F_FLOAT4OUT:
		case F_FLOAT8OUT:
		case F_NUMERIC_OUT:
		case F_OIDOUT:
		case F_TEXTOUT:
		case F_VARCHAROUT:
		case F_BPCHAROUT:
		case F_NAMEOUT:
		case F_CHAROUT:
		case F_UUID_OUT:
		case F_INET_OUT:
		case F_CIDR_OUT:
		case F_MACADDR_OUT:
		case F_JSONB_OUT:
		case F_JSON_OUT:
		case F_BYTEAOUT:
		case F_ENUM_OUT:
		case F_UNKNOWNOUT:
			return true;
		case F_DATE_OUT:
		case F_TIME_OUT:
		case F_TIMETZ_OUT:
		case F_TIMESTAMP_OUT:
		case F_TIMESTAMPTZ_OUT:
		case F_INTERVAL_OUT:
			/* read back by the advisor under its own settings */
			return DateStyle == USE_ISO_DATES && IntervalStyle == INTSTYLE_POSTGRES;
		case F_ARRAY_OUT:
			{
				Oid			elem = get_element_type(type);
				Oid			elemfn;
				bool		elemvarlena;

				if (!OidIsValid(elem))
					return false;
				getTypeOutputInfo(elem, &elemfn, &elemvarlena);
				return elemfn != F_ARRAY_OUT && cap_output_ok(elemfn, elem);
			}
		default:
			return false;
	}
}

/* the text of one value into *out (NULL for NULL); false: leave the set out */
static bool
cap_value_text(Oid type, Datum value, bool isnull, char **out)
{
	Oid			fn;
	bool		isvarlena;
	char	   *text;

	*out = NULL;
	if (isnull)
		return true;
	if (!OidIsValid(type))
		return false;
	getTypeOutputInfo(type, &fn, &isvarlena);
	if (!cap_output_ok(fn, type))
		return false;
	if (isvarlena)
	{
		struct varlena *v = (struct varlena *) DatumGetPointer(value);

		if (v == NULL || VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v) ||
			VARSIZE_ANY_EXHDR(v) > 4 * PERFOPT_VALUE_MAX_LEN)
			return false;
	}
	text = OidOutputFunctionCall(fn, value);
	if (strlen(text) > PERFOPT_VALUE_MAX_LEN)
		return false;
	*out = text;
	return true;
}

/* ---- a statement's shape, from its parse analysis ---- */

typedef enum CapNodeKind
{
	CAP_CONST,
	CAP_PARAM,
	CAP_LIST					/* 18: a squashable list, at list_start + 1 */
} CapNodeKind;

typedef struct CapNode
{
	int			location;
	CapNodeKind kind;
	Node	   *node;
} CapNode;

typedef struct CapWalk
{
	CapNode    *nodes;
	int			n;
	int			size;
} CapWalk;

static void
cap_walk_add(CapWalk *w, int location, CapNodeKind kind, Node *node)
{
	if (location < 0)
		return;
	if (w->n >= w->size)
	{
		w->size = w->size ? w->size * 2 : 32;
		w->nodes = w->nodes ? repalloc(w->nodes, sizeof(CapNode) * w->size)
			: palloc(sizeof(CapNode) * w->size);
	}
	w->nodes[w->n].location = location;
	w->nodes[w->n].kind = kind;
	w->nodes[w->n].node = node;
	w->n++;
}

static bool
cap_walker(Node *node, CapWalk *w)
{
	if (node == NULL)
		return false;
	if (IsA(node, Const))
		cap_walk_add(w, ((Const *) node)->location, CAP_CONST, node);
	else if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXTERN)
		cap_walk_add(w, ((Param *) node)->location, CAP_PARAM, node);
	else if (IsA(node, ArrayExpr))
		cap_walk_add(w, perfopt_arrayexpr_list_location((ArrayExpr *) node), CAP_LIST, node);
	else if (IsA(node, Query))
		return query_tree_walker((Query *) node, cap_walker, (void *) w, 0);
	return expression_tree_walker(node, cap_walker, (void *) w);
}

static int
cap_cmp_node(const void *a, const void *b)
{
	const CapNode *x = a;
	const CapNode *y = b;

	if (x->location != y->location)
		return x->location < y->location ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return 0;
}

static int
cap_cmp_int(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* the node of a kind at a location (the first one the walk met), or NULL */
static Node *
cap_find(CapWalk *w, int location, CapNodeKind kind)
{
	int			lo = 0;
	int			hi = w->n;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (w->nodes[mid].location < location ||
			(w->nodes[mid].location == location && w->nodes[mid].kind < kind))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->n && w->nodes[lo].location == location && w->nodes[lo].kind == kind)
		return w->nodes[lo].node;
	return NULL;
}

/* a squashed list's first element, through casts: a Const or a Param */
static Node *
cap_first_element(ArrayExpr *a)
{
	Node	   *n = a->elements != NIL ? linitial(a->elements) : NULL;

	while (n != NULL)
	{
		if (IsA(n, RelabelType))
			n = (Node *) ((RelabelType *) n)->arg;
		else if (IsA(n, CoerceViaIO))
			n = (Node *) ((CoerceViaIO *) n)->arg;
		else if (IsA(n, FuncExpr) && list_length(((FuncExpr *) n)->args) >= 1)
			n = linitial(((FuncExpr *) n)->args);
		else
			break;
	}
	return n;
}

/* one $n from a node: a bind parameter's number, or a constant's text */
static bool
cap_slot_from(Node *n, int *param, char **text)
{
	*param = 0;
	*text = NULL;
	if (n == NULL)
		return false;
	if (IsA(n, Param) && ((Param *) n)->paramkind == PARAM_EXTERN)
	{
		*param = ((Param *) n)->paramid;
		return *param > 0;
	}
	if (IsA(n, Const))
	{
		Const	   *c = (Const *) n;

		return cap_value_text(c->consttype, c->constvalue, c->constisnull, text);
	}
	return false;
}

/*
 * The shape of an analyzed statement, in CurrentMemoryContext: where each
 * $n of its pg_stat_statements text comes from.  False when some $n
 * cannot be told (a location the walk did not find, a value left out).
 */
static bool
cap_shape_build(Query *query, JumbleState *jstate, int *nslots, int **param, char ***consts)
{
	CapWalk		w = {0};
	int			ncl = jstate->clocations_count;
	int		   *order;
	int			base = jstate->highest_extern_param_id;
	int			n = 0;
	int			last = -1;

	(void) cap_walker((Node *) query, &w);
	if (w.n > 1)
		qsort(w.nodes, w.n, sizeof(CapNode), cap_cmp_node);

	/* the locations in text order, by index into clocations */
	order = palloc(sizeof(int) * Max(ncl, 1));
	{
		int		   *keys = palloc(sizeof(int) * 2 * Max(ncl, 1));

		for (int i = 0; i < ncl; i++)
		{
			keys[2 * i] = jstate->clocations[i].location;
			keys[2 * i + 1] = i;
		}
		qsort(keys, ncl, sizeof(int) * 2, cap_cmp_int);
		for (int i = 0; i < ncl; i++)
			order[i] = keys[2 * i + 1];
		pfree(keys);
	}

	*param = palloc0(sizeof(int) * (base + ncl + 1));
	*consts = palloc0(sizeof(char *) * (base + ncl + 1));
	/* $1..$base: the statement's own bind parameters, kept by pg_stat_statements */
	for (; n < base; n++)
		(*param)[n] = n + 1;
	for (int k = 0; k < ncl; k++)
	{
		int			i = order[k];
		int			loc = jstate->clocations[i].location;
		Node	   *node;

		/* duplicates: pg_stat_statements replaces a location once */
		if (loc <= last)
			continue;
		last = loc;
		if (perfopt_jumble_is_extern_param(jstate, i) && !perfopt_jumble_has_squashed(jstate))
			continue;
		if (perfopt_jumble_is_squashed(jstate, i))
		{
			node = cap_find(&w, loc, CAP_LIST);
			node = node ? cap_first_element((ArrayExpr *) node) : NULL;
		}
		else if (perfopt_jumble_is_extern_param(jstate, i))
			node = cap_find(&w, loc, CAP_PARAM);
		else
			node = cap_find(&w, loc, CAP_CONST);
		if (!cap_slot_from(node, &(*param)[n], &(*consts)[n]))
			return false;
		n++;
	}
	*nslots = n;
	return n > 0;
}

static bool
cap_param_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXTERN)
		return true;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, cap_param_walker, context, 0);
	return expression_tree_walker(node, cap_param_walker, context);
}

/*
 * Does the statement have bind parameters (then its shape is kept for
 * ExecutorStart)?  highest_extern_param_id tells, but on 18 a statement
 * with squashed lists has it at 0, and a parameter inside a squashed list
 * is not among the locations: one analyzed with parameters (Parse, a plan
 * revalidation: p_paramref_hook) is walked for them then.
 */
static bool
cap_has_extern_params(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (jstate->highest_extern_param_id > 0)
		return true;
	if (perfopt_jumble_has_squashed(jstate))
	{
		for (int i = 0; i < jstate->clocations_count; i++)
			if (perfopt_jumble_is_extern_param(jstate, i))
				return true;
		if (pstate->p_paramref_hook != NULL)
			return cap_param_walker((Node *) query, NULL);
	}
	return false;
}

/* is text the one shape was built from? */
static bool
cap_shape_text_is(CapShape *shape, const char *text)
{
	size_t		len;

	if (shape->text != NULL)
		return strcmp(shape->text, text) == 0;
	len = strlen(text);
	return len == shape->text_len &&
		DatumGetUInt64(hash_any_extended((const unsigned char *) text, (int) len, 0)) == shape->text_hash;
}

static CapShape *
cap_shape_lookup(uint64 queryid, const char *text)
{
	CapShape  **set = cap_shapes[queryid % CAP_SHAPE_SETS];

	for (int w = 0; w < CAP_SHAPE_WAYS; w++)
		if (set[w] && set[w]->queryid == queryid && cap_shape_text_is(set[w], text))
			return set[w];
	return NULL;
}

/* a statement with bind parameters was analyzed: keep its shape */
static void
cap_shape_remember(Query *query, JumbleState *jstate, const char *text)
{
	uint64		queryid = (uint64) query->queryId;
	CapShape  **set = cap_shapes[queryid % CAP_SHAPE_SETS];
	int			way = -1;
	MemoryContext cxt;
	MemoryContext old;
	CapShape   *shape;

	if (text == NULL || cap_shape_lookup(queryid, text) != NULL)
		return;
	for (int w = 0; w < CAP_SHAPE_WAYS && way < 0; w++)
		if (set[w] == NULL)
			way = w;
	if (way < 0)
	{
		uint32		r = pg_prng_uint32(&pg_global_prng_state);

		if (r % CAP_SHAPE_REPLACE != 0)
			return;
		way = (int) ((r / CAP_SHAPE_REPLACE) % CAP_SHAPE_WAYS);
	}

	cxt = AllocSetContextCreate(TopMemoryContext, "perfopt value capture shape",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	shape = palloc0(sizeof(CapShape));
	shape->cxt = cxt;
	shape->queryid = queryid;
	shape->text_len = strlen(text);
	if (shape->text_len <= CAP_SHAPE_TEXT_MAX)
		shape->text = pstrdup(text);
	else
		shape->text_hash = DatumGetUInt64(hash_any_extended((const unsigned char *) text,
															 (int) shape->text_len, 0));
	if (!cap_shape_build(query, jstate, &shape->nslots, &shape->param, &shape->consts))
		shape->nslots = 0;		/* known, and not sampled */
	MemoryContextSwitchTo(old);

	if (set[way] != NULL)
		MemoryContextDelete(set[way]->cxt);
	set[way] = shape;
}

/* ---- hooks ---- */

static void
cap_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);

	if (perfopt_statement_nesting != 0 || cap_threshold == 0)
		return;
	/* a new top-level statement: what an earlier one left is stale */
	if (cap_pending.active)
		cap_pending_clear();
	if (jstate == NULL || query->queryId == 0 || query->commandType == CMD_UTILITY)
		return;

	if (cap_has_extern_params(pstate, query, jstate))
	{
		if (MyBackendType == B_BG_WORKER || cap_own_sql(pstate->p_sourcetext, query->stmt_location))
			return;
		/* its executions are sampled at ExecutorStart, through this shape */
		cap_shape_remember(query, jstate, pstate->p_sourcetext);
		return;
	}
	/* no $n in its pg_stat_statements text: nothing to sample */
	if (jstate->clocations_count == 0 || !cap_draw() ||
		cap_own_sql(pstate->p_sourcetext, query->stmt_location))
		return;
	{
		MemoryContext old = MemoryContextSwitchTo(cap_context());
		int			nslots;
		int		   *param;
		char	  **consts;
		bool		ok = cap_shape_build(query, jstate, &nslots, &param, &consts);

		/* (a bind parameter here would be a shape this path cannot fill) */
		for (int i = 0; ok && i < nslots; i++)
			ok = param[i] == 0;
		if (ok)
		{
			cap_pending.active = true;
			cap_pending.queryid = (uint64) query->queryId;
			cap_pending.qd = NULL;
			cap_pending.nparams = nslots;
			cap_pending.values = consts;
		}
		else
			perfopt_value_store_count_skipped();
		MemoryContextSwitchTo(old);
		if (!cap_pending.active)
			MemoryContextReset(cap_cxt);
	}
}

/* an execution with bind parameters was drawn: its values, through its shape */
static void
cap_sample_params(QueryDesc *queryDesc)
{
	ParamListInfo params = queryDesc->params;
	uint64		queryid = (uint64) queryDesc->plannedstmt->queryId;
	CapShape   *shape = queryDesc->sourceText ? cap_shape_lookup(queryid, queryDesc->sourceText) : NULL;
	MemoryContext old;
	char	  **values;
	bool		ok = true;

	if (shape == NULL || shape->nslots == 0)
	{
		perfopt_value_store_count_skipped();
		return;
	}
	old = MemoryContextSwitchTo(cap_context());
	values = palloc0(sizeof(char *) * shape->nslots);
	for (int i = 0; i < shape->nslots && ok; i++)
	{
		int			p = shape->param[i];

		if (p == 0)
			values[i] = shape->consts[i] ? pstrdup(shape->consts[i]) : NULL;
		else if (p > params->numParams)
			ok = false;
		else
		{
			ParamExternData *prm = &params->params[p - 1];

			ok = cap_value_text(prm->ptype, prm->value, prm->isnull, &values[i]);
		}
	}
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		perfopt_value_store_count_skipped();
		MemoryContextReset(cap_cxt);
		return;
	}
	cap_pending.active = true;
	cap_pending.queryid = queryid;
	cap_pending.qd = queryDesc;
	cap_pending.nparams = shape->nslots;
	cap_pending.values = values;
}

static void
cap_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (perfopt_statement_nesting == 0 && cap_threshold > 0)
	{
		uint64		queryid = (uint64) queryDesc->plannedstmt->queryId;

		if (cap_pending.active)
		{
			if (cap_pending.qd == NULL && cap_pending.queryid == queryid)
				cap_pending.qd = queryDesc;
			else
				cap_pending_clear();
		}
		else if (queryid != 0 && queryDesc->params != NULL &&
				 queryDesc->params->numParams > 0 && queryDesc->params->paramFetch == NULL &&
				 cap_draw())
			cap_sample_params(queryDesc);
	}
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
cap_ExecutorEnd(QueryDesc *queryDesc)
{
	if (cap_pending.active && perfopt_statement_nesting == 0)
	{
		if (cap_pending.qd == queryDesc &&
			cap_pending.queryid == (uint64) queryDesc->plannedstmt->queryId)
		{
			TimestampTz start = GetCurrentStatementStartTimestamp();
			TimestampTz now = GetCurrentTimestamp();

			perfopt_value_store_add(MyDatabaseId, GetUserId(), cap_pending.queryid,
									cap_pending.nparams, cap_pending.values,
									now > start ? (double) (now - start) / 1000.0 : 0);
		}
		cap_pending_clear();
	}
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

void
perfopt_value_capture_install_hooks(void)
{
	if (perfopt_value_sample_statements <= 0)
		return;
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = cap_post_parse_analyze;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = cap_ExecutorStart;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = cap_ExecutorEnd;
}
