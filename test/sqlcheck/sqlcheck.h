/*
 * sqlcheck.h — the seam between the raw-parse-tree walker (sqlcheck_walk.c)
 * and its two users in sqlcheck.c: the post-parse-analyze hook and the
 * SQL-callable perfopt_sqlcheck_unqualified().
 *
 * Test-only: this module is never installed by the demo nor loaded in
 * benchmarks.
 */
#ifndef PERFOPT_SQLCHECK_H
#define PERFOPT_SQLCHECK_H

#include "nodes/pg_list.h"

/* the prefix of every report: test/run.sh greps server logs for it */
#define SQLCHECK_PREFIX "perfopt-sqlcheck:"

/* the comment that marks perfopt's own SQL */
#define SQLCHECK_MARKER "/* perfopt */"

/* one name that search_path could redirect */
typedef struct SqlcheckFinding
{
	int			location;		/* byte offset in the parsed text; -1 unknown */
	char	   *what;			/* e.g. operator "=" (of IN) */
	const char *statement;		/* what kind of statement it is in */
} SqlcheckFinding;

/* raw-parse sql (one statement or many) and list what is unqualified */
extern List *sqlcheck_text(const char *sql);

/* does text (len bytes) carry the marker as a comment, outside literals? */
extern bool sqlcheck_has_marker(const char *text, int len);

#endif							/* PERFOPT_SQLCHECK_H */
