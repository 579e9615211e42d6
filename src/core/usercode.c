/*
 * usercode.c — owns how perfopt runs a step that may execute code some
 * role wrote: planning a workload statement (the planner folds IMMUTABLE
 * and STABLE functions, inlines SQL functions, applies policies), and the
 * verification re-plans.  Core runs VACUUM, ANALYZE and CREATE INDEX the
 * same way:
 *
 *  - as a role chosen by the caller (one that could run that code anyway:
 *    perfopt_can_act_as), with SECURITY_RESTRICTED_OPERATION, so the code
 *    cannot SET ROLE, create temporary objects, LISTEN or hold cursors;
 *  - inside a GUC nest level that perfopt_usercode_end() rolls back, so a
 *    set_config(..., false) of the code (search_path, read-only, timeouts)
 *    does not outlive the step even when the step succeeds and its
 *    subtransaction is released;
 *  - under a search_path the caller chooses.
 *
 * Errors such code raises are the code's, not perfopt's: perfopt keeps
 * only their SQLSTATE and a description of its class
 * (perfopt_error_summary), since a message may quote row values.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "compat.h"
#include "searchpath.h"
#include "usercode.h"

void
perfopt_usercode_begin(PerfoptUserCode *uc, Oid role, const char *search_path)
{
	GetUserIdAndSecContext(&uc->saved_userid, &uc->saved_sec_context);
	uc->nestlevel = NewGUCNestLevel();
	perfopt_use_search_path(search_path);
	SetUserIdAndSecContext(role, uc->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
perfopt_usercode_end(PerfoptUserCode *uc)
{
	AtEOXact_GUC(false, uc->nestlevel);
	SetUserIdAndSecContext(uc->saved_userid, uc->saved_sec_context);
}

bool
perfopt_can_act_as(Oid member, Oid role)
{
	return member == role || perfopt_member_can_set_role(member, role);
}

/* perfopt's words for an SQLSTATE class (its first two characters) */
static const struct
{
	const char *class;
	const char *words;
}			uc_classes[] =
{
	{"0A", "feature not supported"},
	{"0B", "invalid transaction initiation"},
	{"0L", "invalid grantor"},
	{"0P", "invalid role specification"},
	{"20", "case not found"},
	{"21", "cardinality violation"},
	{"22", "data exception"},
	{"23", "integrity constraint violation"},
	{"24", "invalid cursor state"},
	{"25", "invalid transaction state"},
	{"27", "triggered data change violation"},
	{"28", "invalid authorization specification"},
	{"2B", "dependent privilege descriptors still exist"},
	{"2D", "invalid transaction termination"},
	{"2F", "SQL routine exception"},
	{"38", "external routine exception"},
	{"39", "external routine invocation exception"},
	{"3B", "savepoint exception"},
	{"3D", "invalid catalog name"},
	{"3F", "invalid schema name"},
	{"40", "transaction rollback"},
	{"42", "syntax error or access rule violation"},
	{"44", "WITH CHECK OPTION violation"},
	{"53", "insufficient resources"},
	{"54", "program limit exceeded"},
	{"55", "object not in prerequisite state"},
	{"57", "operator intervention"},
	{"58", "system error"},
	{"72", "snapshot failure"},
	{"F0", "configuration file error"},
	{"HV", "foreign data wrapper error"},
	{"P0", "error raised by a PL/pgSQL function"},
	{"XX", "internal error"},
};

/* the SQLSTATEs a DBA meets most often here, more precisely */
static const struct
{
	int			code;
	const char *words;
}			uc_codes[] =
{
	{ERRCODE_LOCK_NOT_AVAILABLE, "lock not available"},
	{ERRCODE_T_R_DEADLOCK_DETECTED, "deadlock detected"},
	{ERRCODE_T_R_SERIALIZATION_FAILURE, "serialization failure"},
	{ERRCODE_QUERY_CANCELED, "canceled (a cancel request or a timeout)"},
	{ERRCODE_ADMIN_SHUTDOWN, "terminated by an administrator or a shutdown"},
	{ERRCODE_DISK_FULL, "disk full"},
	{ERRCODE_OUT_OF_MEMORY, "out of memory"},
	{ERRCODE_UNIQUE_VIOLATION, "unique violation"},
	{ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid text representation"},
	{ERRCODE_DIVISION_BY_ZERO, "division by zero"},
	{ERRCODE_INSUFFICIENT_PRIVILEGE, "insufficient privilege"},
	{ERRCODE_UNDEFINED_TABLE, "undefined table"},
	{ERRCODE_UNDEFINED_FUNCTION, "undefined function"},
	{ERRCODE_UNDEFINED_COLUMN, "undefined column"},
	{ERRCODE_STATEMENT_TOO_COMPLEX, "statement too complex"},
	{ERRCODE_RAISE_EXCEPTION, "exception raised by a function"},
};

char *
perfopt_error_summary(int sqlerrcode)
{
	const char *sqlstate = unpack_sql_state(sqlerrcode);

	for (int i = 0; i < lengthof(uc_codes); i++)
		if (uc_codes[i].code == sqlerrcode)
			return psprintf("%s (SQLSTATE %s)", uc_codes[i].words, sqlstate);
	for (int i = 0; i < lengthof(uc_classes); i++)
		if (strncmp(uc_classes[i].class, sqlstate, 2) == 0)
			return psprintf("%s (SQLSTATE %s)", uc_classes[i].words, sqlstate);
	return psprintf("error (SQLSTATE %s)", sqlstate);
}
