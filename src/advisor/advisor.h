/*
 * advisor.h — the index advisor's shared types: hypothetical indexes, the
 * statements of the workload, and the column uses the planner showed us.
 *
 * Only the files under src/advisor (and _PG_init, for the hooks) include it.  Everything here lives
 * in the memory context of one perfopt_advise() call.
 */
#ifndef PERFOPT_ADVISOR_H
#define PERFOPT_ADVISOR_H

#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "nodes/pathnodes.h"
#include "nodes/pg_list.h"

/*
 * Hypothetical indexes take the OIDs 0xFFFF0000 + id (whatif.c), so every
 * id stays at most ADV_MAX_INDEX_ID: the candidates' up to
 * ADV_MAX_CANDIDATES, the cost classes' (costcache.c) above theirs.
 */
#define ADV_MAX_INDEX_ID 0xFFFF
#define ADV_MAX_CANDIDATES 32768

/* a hypothetical (or, with existing_oid, a real) index definition */
typedef struct AdvIndex
{
	int			id;				/* candidate number, stable in one run */
	Oid			relid;
	Oid			amoid;			/* BTREE_AM_OID, GIN_AM_OID or BRIN_AM_OID */
	int			nkeycols;
	int			ncols;			/* key columns, then INCLUDE columns */
	AttrNumber	attnums[INDEX_MAX_KEYS];	/* 0: the next of exprs */
	Oid			opclasses[INDEX_MAX_KEYS];	/* key columns only */
	List	   *exprs;			/* expressions with varno 1 */
	List	   *pred;			/* partial index: implicitly ANDed boolean
								 * expressions with varno 1; NIL: full */
	double		pred_selectivity;	/* share of the rows pred keeps (1: full) */
	double		correlation;	/* BRIN: its column's physical correlation */
	BlockNumber btree_pages;	/* BRIN: the same column's btree, estimated */
	/* estimates, filled by adv_index_estimate() */
	BlockNumber pages;
	int			tree_height;
	double		tuples;
	char	   *key;			/* canonical text, for dedup and caching */
	int		   *trim_class;		/* costcache.c: per length L (1..ncols-1), the
								 * class of the indexes its first L columns make
								 * at its size; NULL: never trimmed */
	List	   *relevant;		/* AdvStatement worth planning with it (select.c) */
	struct SelIndex *sel;		/* select.c's state of it */
} AdvIndex;

/* how a statement uses a column (or expression) of one of its tables */
typedef enum AdvUseKind
{
	ADV_USE_EQ,					/* =, IN / = ANY, IS NULL */
	ADV_USE_RANGE,				/* <, <=, >, >=, BETWEEN */
	ADV_USE_JOIN,				/* equality with another relation */
	ADV_USE_SORT,				/* ORDER BY / GROUP BY that a LIMIT cuts */
	ADV_USE_GIN,				/* @@ on a tsvector expression, jsonb @> */
	ADV_USE_OUTPUT,				/* only read: a candidate for INCLUDE */
	ADV_USE_LIKE,				/* LIKE with a hidden pattern: a finding only */
	ADV_USE_PREDICATE			/* expr: a restriction with its sampled shared
								 * value, a partial index's predicate */
} AdvUseKind;

typedef struct AdvUse
{
	AdvUseKind	kind;
	Oid			relid;
	AttrNumber	attnum;			/* 0 when expr is an expression */
	Node	   *expr;			/* with varno 1; NULL for a plain column */
	Oid			type;
	Oid			collation;
	double		ndistinct;		/* for ordering equality columns */
	bool		descending;		/* for SORT */
	double		selectivity;	/* for PREDICATE: share of the rows it keeps */
} AdvUse;

/* a sampled set of the values a statement ran with, bound for custom plans */
typedef struct AdvValueSet
{
	double		weight;			/* how often it was seen among the samples kept */
	ParamListInfo params;		/* PARAM_FLAG_CONST, the analysis's types */
} AdvValueSet;

typedef struct AdvStatement
{
	int64		queryid;
	Oid			userid;
	char	   *search_path;	/* userid's default path here, once computed */
	char	   *text;			/* as pg_stat_statements has it */
	char	   *parsed_text;	/* after repairs */
	double		calls;
	double		total_time_ms;
	double		mean_time_ms;
	double		rows;
	bool		is_write;		/* UPDATE / DELETE */
	Query	   *query;			/* analyzed, rewritten; NULL when skipped */
	int			nparams;		/* $1..$nparams, as the analysis inferred them */
	Oid		   *param_types;
	List	   *value_sets;		/* AdvValueSet (valuecost.c); NIL: generic plans */
	List	   *replica_parts;	/* AdvReplicaPart per server, when a standby ran it too (replica.c) */
	bool	   *param_shared;	/* per $n: one value in nearly every sampled
								 * execution (valuecost.c); NULL: none */
	Datum	   *param_shared_value; /* that value, of the $n's type */
	Oid			plan_role;		/* planned as (planrole.c), once analyzed */
	char	   *skip_reason;
	double		budget_used_ms; /* analysis and planning time this run */
	bool		over_budget;	/* past perfopt.advisor_statement_timeout */
	List	   *relids;			/* user tables it reads (Oid list) */
	bool		reads_partitioned;	/* a partitioned table among them */
	List	   *uses;			/* AdvUse */
	List	   *mentions;		/* costcache.c: the columns it mentions, per table */
	double		cost_base;		/* with the existing indexes */
	double		cost_best;		/* with the chosen set so far */
	struct SelStmt *sel;		/* select.c's state of it */
	/* for the write statements of adv_writes_load() */
	Oid			write_relid;
	CmdType		write_cmd;
	Bitmapset  *set_cols;		/* columns an UPDATE sets */
} AdvStatement;

/* one row of perfopt_recommendations */
typedef struct AdvRecommendation
{
	const char *kind;			/* create_index, drop_index, reindex, configuration,
								 * create_statistics */
	char	   *setting;		/* configuration only: the parameter */
	AdvIndex   *idx;			/* create_index only */
	char	   *table_name;
	char	   *index_name;		/* create_statistics: the statistics object's */
	char	   *definition;		/* identifies it across runs */
	char	   *ddl;
	char	   *statements_json;
	char	   *reason;
	double		benefit_ms;
	double		penalty_ms;
	double		size_bytes;
	bool		assumes_ts_config;	/* a normalized regconfig was filled in */
} AdvRecommendation;

/* describe.c: a create_index recommendation's definition, name and DDL */
extern void adv_describe(AdvRecommendation *rec);

/* advise.c */
extern Datum perfopt_advise_run(bool persist, bool kept);
extern void perfopt_advise_automatic(void);

/* refresh.c: periodic advice in every database */
extern long perfopt_advisor_refresh_tick(void);
extern PGDLLEXPORT void perfopt_advisor_main(Datum main_arg);

/* slowplan.c */
extern bool adv_slow_plan(AdvStatement *st, char **plan_json, List **findings);
extern List *adv_plan_children(Plan *plan);

/* configadvice.c: ALTER SYSTEM suggestions with their evidence */
extern List *adv_config_advice(void);

/* hygiene.c: existing indexes and foreign keys */
extern List *adv_hygiene(List *statements, List *recs);

/* statsadvice.c: CREATE STATISTICS where estimates are ADV_STATS_FACTOR off */
#define ADV_STATS_FACTOR 10.0
extern List *adv_stats_advice(List *statements);
extern bool adv_stats_estimate(AdvStatement *st, double *rows);
extern bool adv_stats_covered(Oid relid, Bitmapset *cols, bool grouping);
extern double adv_stats_misestimate(double estimate, double actual);

/* brin.c: the hypothetical BRIN's correlation, size and cost */
#define ADV_BRIN_MIN_CORRELATION 0.95
#define ADV_BRIN_MAX_SIZE_SHARE 0.10
extern bool adv_brin_correlation(Oid relid, AttrNumber attnum, double *correlation);
extern BlockNumber adv_brin_pages(double heap_pages, double width);
extern void adv_brin_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
								  Cost *indexStartupCost, Cost *indexTotalCost,
								  Selectivity *indexSelectivity, double *indexCorrelation,
								  double *indexPages);

/* whatif.c */
extern void perfopt_whatif_install_hook(void);
extern void adv_index_estimate(AdvIndex *idx);
extern char *adv_index_key(AdvIndex *idx);
extern double adv_plan_cost(AdvStatement *st, List *indexes, List *hidden);
extern double adv_plan_cost_generic(AdvStatement *st, List *indexes, List *hidden);
extern double adv_plan_cost_safely(AdvStatement *st, List *indexes);
extern double adv_brin_overread(AdvStatement *st, List *indexes, AdvIndex *brin);
extern double adv_brin_overread_safely(AdvStatement *st, List *indexes, AdvIndex *brin);
extern double adv_plan_cost_hiding(AdvStatement *st, Oid indexoid);
extern PlannedStmt *adv_plan(AdvStatement *st, List *indexes, List *hidden);
extern PlannedStmt *adv_plan_custom(AdvStatement *st, ParamListInfo bound);
extern bool adv_planning_our_statement(PlannerInfo *root);
extern int64 adv_planner_calls;

/* workload.c */
extern List *adv_workload_load(void);
extern List *adv_writes_load(void);
extern void adv_statement_prepare(AdvStatement *st);
extern void adv_budget_begin_run(void);
extern bool adv_analyze_as_statement_role(AdvStatement *st, void (*fn) (AdvStatement *));
extern bool adv_plan_as_statement_role(AdvStatement *st, void (*fn) (AdvStatement *));

/* valuecost.c: the sampled values a statement is costed with */
extern void adv_value_sets_load(AdvStatement *st);
extern Oid *adv_value_literal_types(AdvStatement *st, int *n);

/* planrole.c: as whom a statement may be planned */
extern Oid	adv_plan_role(Oid statement_role, Query *query, char **reason);
extern bool adv_code_may_run_as(Node *node, Oid role);

/* colstats.c: a column's pg_statistic numbers of one kind (-1: none) */
extern int	adv_column_stat_numbers(Oid relid, AttrNumber attnum, int kind, double **numbers);

/* candidates.c */
extern void adv_candidates_reset(void);
extern void adv_candidates_for(AdvStatement *st);
extern List *adv_candidates(void);
extern bool adv_extension_member(Oid relid);

/* costcache.c: plan costs by statement and usable hypothetical indexes */
extern void adv_cost_cache_begin(List *candidates);
extern bool adv_cost_cache_get(AdvStatement *st, AdvIndex **config, int n, double *cost);
extern void adv_cost_cache_put(AdvStatement *st, AdvIndex **config, int n, double cost);
extern bool adv_statement_names(AdvStatement *st, Oid relid, AttrNumber attnum);
extern AdvIndex *adv_cost_standin(AdvIndex *idx, int len);

/* select.c */
extern List *adv_select(List *statements, List *writes, List *candidates);
extern double adv_cost_under(AdvStatement *st, List *config);
extern List *adv_served_by(AdvIndex *idx, List *chosen, List *statements);
extern double adv_index_write_penalty(AdvIndex *idx);

/* collect.c: what the planner showed us while planning the baseline */
extern void perfopt_collect_install_hook(void);
extern void adv_collect_begin(AdvStatement *st);
extern void adv_collect_end(void);

#endif							/* PERFOPT_ADVISOR_H */
