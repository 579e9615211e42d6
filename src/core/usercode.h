/*
 * usercode.h — running a step that may execute other roles' code (a
 * function the planner folds, a view, a policy, an index expression) the
 * way core runs VACUUM, ANALYZE and CREATE INDEX: as a chosen role, under
 * SECURITY_RESTRICTED_OPERATION, in a GUC nest level that is rolled back
 * afterwards, with a search_path perfopt chooses.
 */
#ifndef PERFOPT_USERCODE_H
#define PERFOPT_USERCODE_H

typedef struct PerfoptUserCode
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			nestlevel;
} PerfoptUserCode;

/* become role in a new GUC nest level that uses search_path */
extern void perfopt_usercode_begin(PerfoptUserCode *uc, Oid role, const char *search_path);

/*
 * Undo every setting changed since begin (also a set_config(..., false))
 * and become the previous user again.  On an error, the rollback of the
 * enclosing (sub)transaction does both instead.
 */
extern void perfopt_usercode_end(PerfoptUserCode *uc);

/*
 * May member act as role (SET ROLE)?  Then running code as role is
 * something member could do anyway.  Superusers may act as anyone.
 */
extern bool perfopt_can_act_as(Oid member, Oid role);

/*
 * What perfopt keeps of an error that user code may have raised: the
 * SQLSTATE and perfopt's own words for its class, never the message,
 * which may quote row values ("invalid input syntax for type integer:
 * "..."").  The message itself goes only to the server log.
 */
extern char *perfopt_error_summary(int sqlerrcode);

#endif							/* PERFOPT_USERCODE_H */
