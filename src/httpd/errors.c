/*
 * errors.c — what a failure becomes over HTTP: the status of a SQLSTATE,
 * a description of it for the body in place of the server's message
 * (which may quote row values), whether a message is perfopt's own and
 * may be passed on, and the label of each status.
 */
#include "errors.h"

#include <stddef.h>
#include <string.h>

#include "strutil.h"

int
hd_status_for_sqlstate(const char *sqlstate)
{
	static const struct
	{
		const char *code;		/* five characters, or a two-character class */
		int			status;
	}			map[] = {
		{"42501", 403},
		{"22023", 400},
		{"22P02", 400},
		{"22004", 400},
		{"22003", 400},
		{"22007", 400},
		{"22008", 400},
		{"P0002", 404},
		{"55P03", 409},
		{"57014", 409},
		{"25006", 409},
		{"55000", 409},
		{"57P01", 503},
		{"57P02", 503},
		{"57P03", 503},
		{"53", 503},
		{"08", 503},
	};
	const char *s = sqlstate;

	if (s == NULL)
		return 500;
	for (int i = 0; i < 5; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'A' && s[i] <= 'Z'))
			return 500;
	if (s[5] != '\0')
		return 500;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(s, map[i].code, strlen(map[i].code)) == 0)
			return map[i].status;
	return 500;
}

/*
 * Short descriptions by SQLSTATE, then by class.  An error body carries
 * one of these instead of the server's message, which may quote row
 * values (invalid input syntax for type integer: "<value>").
 */
const char *
hd_sqlstate_description(const char *sqlstate)
{
	static const struct
	{
		const char *code;		/* five characters, or a two-character class */
		const char *text;
	}			map[] = {
		{"42501", "insufficient privilege: the token's role may not do this"},
		{"22023", "invalid parameter value"},
		{"22P02", "invalid text representation"},
		{"22004", "null value not allowed"},
		{"22003", "numeric value out of range"},
		{"22007", "invalid datetime format"},
		{"22008", "datetime field overflow"},
		{"22021", "character not in repertoire"},
		{"P0002", "not found"},
		{"55P03", "lock not available: another operation holds it"},
		{"57014", "canceled: the statement took too long"},
		{"25006", "read-only transaction: this server does not accept changes"},
		{"55000", "object not in prerequisite state"},
		{"57P01", "the database server is shutting down"},
		{"57P02", "the database server crashed"},
		{"57P03", "the database server cannot take connections now"},
		{"3F000", "invalid schema name"},
		{"42883", "undefined function"},
		{"42P01", "undefined table"},
		{"08", "connection exception"},
		{"22", "data exception"},
		{"23", "integrity constraint violation"},
		{"25", "invalid transaction state"},
		{"40", "transaction rollback"},
		{"42", "syntax error or access rule violation"},
		{"53", "insufficient resources"},
		{"54", "program limit exceeded"},
		{"55", "object not in prerequisite state"},
		{"57", "operator intervention"},
		{"P0", "PL/pgSQL error"},
		{"XX", "internal error"},
	};
	const char *s = sqlstate;

	if (s == NULL)
		return "internal error";
	for (int i = 0; i < 5; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'A' && s[i] <= 'Z'))
			return "internal error";
	if (s[5] != '\0')
		return "internal error";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(s, map[i].code, strlen(map[i].code)) == 0)
			return map[i].text;
	return "internal error";
}

bool
hd_error_is_perfopt(const char *source_file, const char *own_files)
{
	const char *slash;
	size_t		len;

	if (source_file == NULL || own_files == NULL)
		return false;
	/* the server sends a base name; a path would be a build's __FILE__ */
	slash = strrchr(source_file, '/');
	if (slash != NULL)
		source_file = slash + 1;
	len = strlen(source_file);
	if (len == 0 || strchr(source_file, ':') != NULL)
		return false;
	for (const char *p = own_files; *p != '\0';)
	{
		const char *end = strchr(p, ':');
		size_t		n = end ? (size_t) (end - p) : strlen(p);

		if (n == len && strncmp(p, source_file, len) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}


const char *
hd_status_label(int status)
{
	switch (status)
	{
		case 400:
			return "bad request";
		case 403:
			return "forbidden";
		case 404:
			return "not found";
		case 409:
			return "conflict";
		case 503:
			return "unavailable";
		default:
			return "internal error";
	}
}
