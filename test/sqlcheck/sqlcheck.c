/*
 * sqlcheck.c — perfopt_sqlcheck: a test-only module that keeps perfopt's
 * own SQL free of names that search_path could redirect.
 *
 * Preloaded next to perfopt in every test cluster (test/run.sh), never by
 * the demo or a benchmark.  Its post_parse_analyze_hook looks at every
 * statement the server analyzes; when the statement's own text carries
 * perfopt's marker comment, it parses that text again and reports each
 * unqualified name (sqlcheck_walk.c) as a WARNING starting with
 * "perfopt-sqlcheck:".  test/run.sh fails when a server log holds one.
 *
 * A WARNING and not an ERROR: an ERROR would change what the tests
 * exercise (a worker catches errors and logs them at most once a minute,
 * an advisor run would stop), while a WARNING reaches the server log from
 * every process, workers included, and the client of a pg_regress test.
 *
 * perfopt_sqlcheck_unqualified(sql) lists the same findings for any text,
 * for the static checks of the extension scripts and for testing the
 * checker itself.
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "utils/builtins.h"

#include "sqlcheck.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(perfopt_sqlcheck_unqualified);

void		_PG_init(void);

static post_parse_analyze_hook_type sc_prev_post_parse_analyze = NULL;

/* the statement on one line, so that a grep of the log shows all of it */
static char *
sc_one_line(const char *text)
{
	char	   *line = pstrdup(text);

	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return line;
}

/*
 * The statement with the comments and white space around it, from the end
 * of the statement before it (a semicolon, or the start of the string) to
 * the start of the next: from 18 a statement's location skips the
 * comments before it, where the marker is; through 17 it starts right
 * after the previous semicolon already, and this changes nothing.  Only
 * block comments count: the marker is one.
 */
static void
sc_widen(const char *source, int *location, int *len)
{
	int			start = *location;
	int			end = *location + *len;

	for (;;)
	{
		int			open;

		while (start > 0 && isspace((unsigned char) source[start - 1]))
			start--;
		if (start < 4 || source[start - 1] != '/' || source[start - 2] != '*')
			break;
		/* the comment's opening */
		for (open = start - 4; open >= 0; open--)
			if (source[open] == '/' && source[open + 1] == '*')
				break;
		if (open < 0)
			break;
		start = open;
	}
	while (source[end] != '\0' && source[end] != ';' && isspace((unsigned char) source[end]))
		end++;
	*location = start;
	*len = end - start;
}

static void
sc_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	const char *source = pstate->p_sourcetext;
	int			location = query->stmt_location;
	int			len = query->stmt_len;
	char	   *text;
	List	   *findings;
	ListCell   *lc;

	if (sc_prev_post_parse_analyze)
		sc_prev_post_parse_analyze(pstate, query, jstate);
	if (source == NULL)
		return;

	/* the statement's own text: a multi-statement string holds others */
	if (location < 0 || location > strlen(source))
	{
		location = 0;
		len = 0;
	}
	if (len <= 0 || location + len > strlen(source))
		len = strlen(source + location);
	sc_widen(source, &location, &len);
	if (!sqlcheck_has_marker(source + location, len))
		return;

	text = pnstrdup(source + location, len);
	findings = sqlcheck_text(text);
	foreach(lc, findings)
	{
		SqlcheckFinding *f = (SqlcheckFinding *) lfirst(lc);

		ereport(WARNING,
				(errmsg(SQLCHECK_PREFIX " %s at character %d in: %s",
						f->what, f->location + 1, sc_one_line(text))));
	}
}

void
_PG_init(void)
{
	sc_prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = sc_post_parse_analyze;

	/* test/run.sh looks for this line in every log where perfopt ran */
	if (process_shared_preload_libraries_in_progress && !IsUnderPostmaster)
		ereport(LOG,
				(errmsg("perfopt_sqlcheck: checking the statements marked %s", SQLCHECK_MARKER)));
}

/* the 1-based line of a byte offset */
static int
sc_line(const char *sql, int location)
{
	int			line = 1;

	for (int i = 0; i < location && sql[i] != '\0'; i++)
		if (sql[i] == '\n')
			line++;
	return line;
}

/* perfopt_sqlcheck_unqualified(sql text) RETURNS SETOF text */
Datum
perfopt_sqlcheck_unqualified(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *findings;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	findings = sqlcheck_text(sql);
	foreach(lc, findings)
	{
		SqlcheckFinding *f = (SqlcheckFinding *) lfirst(lc);
		Datum		value;
		bool		isnull = false;

		value = CStringGetTextDatum(psprintf("line %d: %s in %s",
											 sc_line(sql, f->location), f->what, f->statement));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
