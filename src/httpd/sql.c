/*
 * sql.c — the SQL text of a request: a call's template with the
 * extension's schema and the quoted parameters put in (only the template
 * is scanned, never what was inserted), and the one simple query that
 * runs it in a transaction as the token's role and then resets the
 * session (sql.h says what each statement is for).
 */
#include "sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
hd_sql_call(const char *tmpl, const char *schema, int nparams, const char *const *params,
			HdQuoteFn quote, HdFreeFn release, void *ctx, char **out)
{
	char	   *lits[HD_SQL_MAX_PARAMS] = {NULL};
	size_t		need = 1;
	size_t		len = 0;
	char	   *sql = NULL;
	int			rc = 0;

	if (out)
		*out = NULL;
	if (out == NULL || tmpl == NULL || nparams < 0 || nparams > HD_SQL_MAX_PARAMS ||
		(nparams > 0 && (params == NULL || quote == NULL)))
		return -2;
	/* a parameter that cannot be quoted is refused, never inlined as NULL */
	for (int i = 0; i < nparams; i++)
		if (params[i] != NULL && (lits[i] = quote(ctx, params[i], strlen(params[i]))) == NULL)
		{
			rc = -1;
			goto done;
		}

	/* two passes over the template only: what was inserted is never scanned */
	for (int pass = 0; pass < 2; pass++)
	{
		for (const char *p = tmpl; *p; p++)
		{
			const char *piece = NULL;

			if (p[0] == '$' && p[1] == 'S')
				piece = schema;
			else if (p[0] == '$' && p[1] >= '1' && p[1] <= '9')
			{
				int			k = p[1] - '1';

				if (k >= nparams)
				{
					rc = -2;
					goto done;
				}
				piece = lits[k] ? lits[k] : "NULL";
			}
			else
			{
				if (pass == 0)
					need++;
				else
					sql[len++] = *p;
				continue;
			}
			if (piece == NULL)
			{
				rc = -2;
				goto done;
			}
			if (pass == 0)
				need += strlen(piece);
			else
			{
				memcpy(sql + len, piece, strlen(piece));
				len += strlen(piece);
			}
			p++;
		}
		if (pass == 0 && (sql = malloc(need)) == NULL)
		{
			rc = -2;
			goto done;
		}
	}
	sql[len] = '\0';
	*out = sql;
	sql = NULL;

done:
	free(sql);
	for (int i = 0; i < nparams && i < HD_SQL_MAX_PARAMS; i++)
		if (lits[i] && release)
			release(ctx, lits[i]);
	return rc;
}

char *
hd_sql_request(bool read_only, const char *role, const char *call)
{
	static const char fmt[] =
		HD_SQL_TAG "BEGIN%s; "
		HD_SQL_TAG "SET LOCAL ROLE %s; "
		HD_SQL_TAG "%s; "
		HD_SQL_TAG "COMMIT; "
		HD_SQL_RESET;
	size_t		size;
	char	   *sql;

	if (role == NULL || call == NULL || role[0] == '\0' || call[0] == '\0')
		return NULL;
	size = sizeof(fmt) + sizeof(" READ ONLY") + strlen(role) + strlen(call);
	sql = malloc(size);
	if (sql == NULL)
		return NULL;
	snprintf(sql, size, fmt, read_only ? " READ ONLY" : "", role, call);
	return sql;
}
