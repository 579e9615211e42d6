/*
 * sql.h — the SQL text perfopt-httpd sends (sql.c): the statements'
 * tag, the extension's schema lookup, the session reset, a call with its
 * parameters quoted and inlined, and one request's round trip.  Pure C:
 * the quoting is the caller's (PQescapeLiteral in calls.c).
 */
#ifndef PERFOPT_HTTPD_SQL_H
#define PERFOPT_HTTPD_SQL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Every statement the shim sends starts with this comment (perfopt's
 * advisor and pg_stat_statements readers filter on it), and names every
 * function, operator and type with its schema: the session's search_path
 * is not trusted, even though each session starts with it pinned.
 */
#define HD_SQL_TAG "/* perfopt */ "

/* the extension's schema: one row, or none when it is not installed */
#define HD_SQL_EXTENSION_SCHEMA \
	HD_SQL_TAG "SELECT n.nspname FROM pg_catalog.pg_extension e" \
	" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace" \
	" WHERE e.extname OPERATOR(pg_catalog.=) 'perfopt'"

/*
 * What returns a pooled session to the state the connection opened with,
 * sent after each request's COMMIT (or ROLLBACK) in the same round trip:
 * DISCARD ALL, which refuses to run in the implicit transaction of a
 * multi-statement query, spelled out as the statements it stands for,
 * less DISCARD PLANS (cached plans follow search_path and role by
 * themselves, and replanning perfopt's own queries on every request would
 * cost more than everything else here).  SET SESSION AUTHORIZATION DEFAULT
 * also resets the role, which RESET ALL leaves alone.
 */
#define HD_SQL_RESET \
	HD_SQL_TAG "SET SESSION AUTHORIZATION DEFAULT; " \
	HD_SQL_TAG "RESET ALL; " \
	HD_SQL_TAG "DEALLOCATE ALL; " \
	HD_SQL_TAG "CLOSE ALL; " \
	HD_SQL_TAG "UNLISTEN *; " \
	HD_SQL_TAG "SELECT pg_catalog.pg_advisory_unlock_all(); " \
	HD_SQL_TAG "DISCARD TEMP; " \
	HD_SQL_TAG "DISCARD SEQUENCES"
/* the results HD_SQL_RESET produces */
#define HD_SQL_RESET_STEPS 8

/* after a failed request: leave the transaction, then the same reset */
#define HD_SQL_ROLLBACK_RESET HD_SQL_TAG "ROLLBACK; " HD_SQL_RESET
#define HD_SQL_ROLLBACK_RESET_STEPS (1 + HD_SQL_RESET_STEPS)

#define HD_SQL_MAX_PARAMS 9

/* quote s[0..len) as a literal (malloc'd or the caller's allocator); NULL when it cannot */
typedef char *(*HdQuoteFn) (void *ctx, const char *s, size_t len);
typedef void (*HdFreeFn) (void *ctx, char *quoted);

/*
 * A call's SQL: tmpl with each "$S" replaced by schema (an identifier
 * the caller quoted) and "$1".."$9" by params[0..] quoted by quote and
 * handed back to release; a NULL parameter is SQL NULL.  Only the
 * template is scanned, never what was put in.  0 with *out malloc'd;
 * -1 when quote fails for a parameter (it is refused, never inlined as
 * NULL); -2 when out of memory, or the template names a parameter beyond
 * nparams or "$S" without a schema.
 */
extern int	hd_sql_call(const char *tmpl, const char *schema, int nparams,
						const char *const *params, HdQuoteFn quote, HdFreeFn release,
						void *ctx, char **out);

/*
 * One request as one simple query (one round trip), results in this order:
 *   1 BEGIN [READ ONLY]   2 SET LOCAL ROLE role   3 the call   4 COMMIT
 *   then HD_SQL_RESET.  search_path and statement_timeout are the
 *   session's startup options (pool.c), which the reset returns to.
 * role is a quoted identifier, call one statement without a tag or ';'.
 * malloc'd; NULL when out of memory or role or call is missing.
 */
#define HD_STEP_CALL 3
#define HD_STEP_COMMIT 4
#define HD_REQUEST_STEPS (HD_STEP_COMMIT + HD_SQL_RESET_STEPS)
extern char *hd_sql_request(bool read_only, const char *role, const char *call);

#endif							/* PERFOPT_HTTPD_SQL_H */
