/*
 * promtext.c — escaping for the Prometheus text exposition format 0.0.4.
 *
 * Pure C: no PostgreSQL headers, no allocation; the caller owns the
 * buffer.  Called by export.c with text that users control (database
 * names), so it must handle any byte sequence.
 */
#include "promtext.h"

static size_t
pt_escape(const char *in, char *out, size_t outsize, int escape_quote)
{
	size_t		need = 0;

	for (const char *p = in; *p; p++)
	{
		const char *rep = NULL;
		char		one[2] = {*p, '\0'};

		if (*p == '\\')
			rep = "\\\\";
		else if (*p == '\n')
			rep = "\\n";
		else if (*p == '"' && escape_quote)
			rep = "\\\"";
		else
			rep = one;

		for (const char *r = rep; *r; r++)
		{
			if (need + 1 < outsize)
				out[need] = *r;
			need++;
		}
	}
	if (outsize > 0)
		out[need < outsize ? need : outsize - 1] = '\0';
	return need;
}

size_t
prom_escape_label_value(const char *in, char *out, size_t outsize)
{
	return pt_escape(in, out, outsize, 1);
}

size_t
prom_escape_help(const char *in, char *out, size_t outsize)
{
	return pt_escape(in, out, outsize, 0);
}
