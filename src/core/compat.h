/*
 * compat.h — the differences between the PostgreSQL major versions perfopt
 * builds for (15, 17 and 18), in one place: code elsewhere uses these names
 * only, and no other file tests PG_VERSION_NUM.
 */
#ifndef PERFOPT_COMPAT_H
#define PERFOPT_COMPAT_H

#include "utils/acl.h"
#include "utils/pg_locale.h"
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_namespace.h"
#endif
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#else
#include "storage/backendid.h"
#endif
#if PG_VERSION_NUM >= 160000
#include "nodes/queryjumble.h"
#else
#include "utils/queryjumble.h"
#endif

/*
 * May member SET ROLE to role?  PostgreSQL 16 made that a grant option of
 * its own; before, every member could.
 */
#if PG_VERSION_NUM >= 160000
#define perfopt_member_can_set_role(member, role) member_can_set_role(member, role)
#else
#define perfopt_member_can_set_role(member, role) is_member_of_role(member, role)
#endif

/* USAGE and the like on a schema: 16 folded the per-kind checks into one */
#if PG_VERSION_NUM >= 160000
#define perfopt_namespace_aclcheck(nsp, role, mode) \
	object_aclcheck(NamespaceRelationId, (nsp), (role), (mode))
#else
#define perfopt_namespace_aclcheck(nsp, role, mode) pg_namespace_aclcheck(nsp, role, mode)
#endif

/*
 * The connection slots an ordinary role can have (postmaster/postmaster.h):
 * 16 added reserved_connections beside superuser_reserved_connections,
 * whose variable was ReservedBackends before.
 */
#if PG_VERSION_NUM >= 160000
#define PERFOPT_RESERVED_CONNECTIONS (SuperuserReservedConnections + ReservedConnections)
#else
#define PERFOPT_RESERVED_CONNECTIONS ReservedBackends
#endif

/*
 * This backend's index among the MaxBackends regular processes, from 0,
 * or -1 when it has none.  17 replaced BackendId (from 1) with ProcNumber
 * (from 0: its PGPROC's index, the regular processes first).
 */
#if PG_VERSION_NUM >= 170000
#define PERFOPT_MY_BACKEND_INDEX ((int) MyProcNumber)
#else
#define PERFOPT_MY_BACKEND_INDEX (MyBackendId == InvalidBackendId ? -1 : (int) MyBackendId - 1)
#endif

/*
 * ExecutorRun_hook's parameters (executor/executor.h), for a hook's
 * definition and for its call of the previous one: 18 dropped execute_once.
 */
#if PG_VERSION_NUM >= 180000
#define PERFOPT_EXECUTOR_RUN_PARAMS QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define PERFOPT_EXECUTOR_RUN_ARGS queryDesc, direction, count
#else
#define PERFOPT_EXECUTOR_RUN_PARAMS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once
#define PERFOPT_EXECUTOR_RUN_ARGS queryDesc, direction, count, execute_once
#endif

/* PortalRun (tcop/pquery.h) run once: 18 dropped run_once */
#if PG_VERSION_NUM >= 180000
#define perfopt_PortalRun(portal, count, isTopLevel, dest, altdest, qc) \
	PortalRun(portal, count, isTopLevel, dest, altdest, qc)
#else
#define perfopt_PortalRun(portal, count, isTopLevel, dest, altdest, qc) \
	PortalRun(portal, count, isTopLevel, true, dest, altdest, qc)
#endif

/*
 * Does a PathKey (nodes/pathnodes.h) sort descending?  18 replaced the
 * btree strategy number with a CompareType.
 */
#if PG_VERSION_NUM >= 180000
#define perfopt_pathkey_is_desc(pk) ((pk)->pk_cmptype == COMPARE_GT)
#else
#define perfopt_pathkey_is_desc(pk) ((pk)->pk_strategy == BTGreaterStrategyNumber)
#endif

/*
 * The checkpoints started on schedule and those requested, as SQL: 17 moved
 * them from pg_stat_bgwriter to pg_stat_checkpointer.
 */
#if PG_VERSION_NUM >= 170000
#define PERFOPT_SQL_CHECKPOINTS_TIMED "num_timed"
#define PERFOPT_SQL_CHECKPOINTS_REQUESTED "num_requested"
#define PERFOPT_SQL_CHECKPOINTS_VIEW "pg_catalog.pg_stat_checkpointer"
#else
#define PERFOPT_SQL_CHECKPOINTS_TIMED "checkpoints_timed"
#define PERFOPT_SQL_CHECKPOINTS_REQUESTED "checkpoints_req"
#define PERFOPT_SQL_CHECKPOINTS_VIEW "pg_catalog.pg_stat_bgwriter"
#endif

/*
 * Does a statement's location skip the comments before it (so that
 * pg_stat_statements drops a leading marker comment)?  From 18.
 */
#define PERFOPT_STMT_LOCATION_SKIPS_COMMENTS (PG_VERSION_NUM >= 180000)

/*
 * The constants pg_stat_statements replaces with $n (JumbleState,
 * nodes/queryjumble.h; utils/ through 15).  18 records PARAM_EXTERN
 * parameters among them (extern_param: pg_stat_statements keeps their own
 * $n, unless the statement has squashed lists, when it numbers every
 * location from $1, highest_extern_param_id being 0 then), and squashes a
 * list of constants (an ArrayExpr's elements, IN (...)) into one location
 * just after the list's opening parenthesis (ArrayExpr.list_start + 1).
 */
#if PG_VERSION_NUM >= 180000
#define PERFOPT_JUMBLE_SQUASHES 1
#define perfopt_jumble_has_squashed(jstate) ((jstate)->has_squashed_lists)
#define perfopt_jumble_is_extern_param(jstate, i) ((jstate)->clocations[i].extern_param)
#define perfopt_jumble_is_squashed(jstate, i) ((jstate)->clocations[i].squashed)
#define perfopt_arrayexpr_list_location(a) ((a)->list_start > 0 ? (a)->list_start + 1 : -1)
#else
#define PERFOPT_JUMBLE_SQUASHES 0
#define perfopt_jumble_has_squashed(jstate) false
#define perfopt_jumble_is_extern_param(jstate, i) false
#define perfopt_jumble_is_squashed(jstate, i) false
#define perfopt_arrayexpr_list_location(a) (-1)
#endif

/* Does the collation sort bytewise?  18 removed lc_collate_is_c(). */
static inline bool
perfopt_collate_is_c(Oid collation)
{
#if PG_VERSION_NUM >= 180000
	return OidIsValid(collation) && pg_newlocale_from_collation(collation)->collate_is_c;
#else
	return lc_collate_is_c(collation);
#endif
}

/*
 * From 18 a query with GROUP BY has an RTE_GROUP range table entry, and
 * its target list names the grouped expressions through Vars of it
 * (statsadvice.c): is rte one, and the expression behind its column.
 */
#if PG_VERSION_NUM >= 180000
#define perfopt_rte_is_group(rte) (((RangeTblEntry *) (rte))->rtekind == RTE_GROUP)
#define perfopt_group_expr(rte, attno) \
	((Node *) list_nth(((RangeTblEntry *) (rte))->groupexprs, (attno) - 1))
#else
#define perfopt_rte_is_group(rte) false
#define perfopt_group_expr(rte, attno) ((Node *) NULL)
#endif

#endif							/* PERFOPT_COMPAT_H */
