/*
 * ownsql.c — perfopt's own statements keep their marker in
 * pg_stat_statements.
 *
 * perfopt's SQL (the worker's, the job runner's, the shim's) starts with
 * the comment PERFOPT_OWN_SQL_MARKER: the advisor leaves out the
 * pg_stat_statements entries that carry it, and a DBA sees whose they
 * are.  pg_stat_statements keeps a statement's text from the statement's
 * location on; through 17 a statement starts at the start of its string
 * or right after the previous statement's semicolon, its leading comments
 * included, but from 18 the location is its first token's, after the
 * comments, and the marker was lost.  This
 * post_parse_analyze hook moves the location of a statement that the
 * marker opens back over its leading comments, to the end of the
 * statement before it (its semicolon) or the start of the string, before
 * pg_stat_statements' hook sees it (perfopt comes after
 * pg_stat_statements in shared_preload_libraries, so its hook runs
 * first): as 15 and 17 store it.  perfopt.c installs it only where
 * locations skip comments (compat.h, from 18).
 */
#include "postgres.h"

#include <ctype.h>

#include "parser/analyze.h"

#include "ownsql.h"

static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;

static void
own_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	const char *src = pstate->p_sourcetext;

	if (src != NULL && query->stmt_location > 0)
	{
		int			loc = query->stmt_location;
		int			start = loc;

		/*
		 * back over white space and comments to the end of the statement
		 * before (its semicolon) or the start of the string
		 */
		for (;;)
		{
			int			open;

			while (start > 0 && isspace((unsigned char) src[start - 1]))
				start--;
			if (start < 4 || src[start - 1] != '/' || src[start - 2] != '*')
				break;
			for (open = start - 4; open >= 0; open--)
				if (src[open] == '/' && src[open + 1] == '*')
					break;
			if (open < 0)
				break;
			start = open;
		}
		if (start < loc)
		{
			int			i = start;

			while (i < loc && isspace((unsigned char) src[i]))
				i++;
			if (strncmp(src + i, PERFOPT_OWN_SQL_MARKER, strlen(PERFOPT_OWN_SQL_MARKER)) == 0)
			{
				if (query->stmt_len > 0)
					query->stmt_len += loc - start;
				query->stmt_location = start;
			}
		}
	}
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);
}

void
perfopt_ownsql_install_hook(void)
{
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = own_post_parse_analyze;
}
