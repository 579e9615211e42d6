/*
 * sqlrepair.c — makes pg_stat_statements' normalized text parse again.
 *
 * Repairs, outside literals and comments:
 *   <type> $n            -> $n::<type>    for typed literals of common types
 *   EXTRACT($n FROM      -> EXTRACT(epoch FROM
 * Pure C: no PostgreSQL headers, no allocation; the caller owns the buffer.
 * Any byte sequence is accepted; output never exceeds the documented bound.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "sqlrepair.h"

/* type names that appear as typed literals ("date '2020-01-01'") */
static const char *const sr_types[] = {
	"interval", "date", "time", "timestamp", "timestamptz", "numeric",
	"bigint", "integer", "int", "smallint", "real", "text", "varchar",
	"boolean", "bool", "uuid", "json", "jsonb", "inet", "cidr", "bytea",
	"money", "point", NULL
};

static int
sr_ident_char(char c)
{
	return isalnum((unsigned char) c) || c == '_' || (unsigned char) c >= 0x80;
}

/* length of a "$digits" parameter at p, or 0 */
static size_t
sr_param_len(const char *p)
{
	size_t		n = 1;

	if (p[0] != '$' || !isdigit((unsigned char) p[1]))
		return 0;
	while (isdigit((unsigned char) p[n]))
		n++;
	return sr_ident_char(p[n]) ? 0 : n;
}

/* skip a literal, quoted identifier, dollar quote or comment starting at p */
static size_t
sr_skip_opaque(const char *p)
{
	size_t		n = 0;

	if (p[0] == '\'' || p[0] == '"')
	{
		char		q = p[0];

		n = 1;
		while (p[n])
		{
			if (p[n] == q)
			{
				if (p[n + 1] == q)
				{
					n += 2;
					continue;
				}
				return n + 1;
			}
			n++;
		}
		return n;
	}
	if (p[0] == '-' && p[1] == '-')
	{
		while (p[n] && p[n] != '\n')
			n++;
		return n;
	}
	if (p[0] == '/' && p[1] == '*')
	{
		const char *end = strstr(p + 2, "*/");

		return end ? (size_t) (end - p) + 2 : strlen(p);
	}
	if (p[0] == '$' && !isdigit((unsigned char) p[1]))
	{
		/* $tag$ ... $tag$ */
		size_t		tag = 1;

		while (sr_ident_char(p[tag]) && !isdigit((unsigned char) p[1]))
			tag++;
		if (p[tag] == '$')
		{
			const char *q = p + tag + 1;

			tag++;
			while ((q = strchr(q, '$')) != NULL)
			{
				if (strncmp(q, p, tag) == 0)
					return (size_t) (q - p) + tag;
				q++;
			}
			return strlen(p);
		}
	}
	return 0;
}

static int
sr_append(char *out, size_t outsize, size_t *len, const char *s, size_t n)
{
	if (*len + n + 1 > outsize)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

int
sql_repair_normalized(const char *in, char *out, size_t outsize)
{
	size_t		len = 0;
	int			repairs = 0;
	const char *p = in;

	if (outsize == 0)
		return -1;
	out[0] = '\0';
	while (*p)
	{
		size_t		skip = sr_skip_opaque(p);

		if (skip > 0)
		{
			if (sr_append(out, outsize, &len, p, skip) < 0)
				return -1;
			p += skip;
			continue;
		}
		if (sr_ident_char(*p) && (p == in || !sr_ident_char(p[-1])))
		{
			size_t		word = 0;
			const char *after;
			size_t		plen;

			while (sr_ident_char(p[word]))
				word++;
			after = p + word;
			while (*after == ' ' || *after == '\t' || *after == '\n' || *after == '\r')
				after++;

			/* EXTRACT($n FROM -> EXTRACT(epoch FROM */
			if (word == 7 && strncasecmp(p, "extract", 7) == 0 && *after == '(')
			{
				const char *arg = after + 1;

				while (*arg == ' ' || *arg == '\t' || *arg == '\n')
					arg++;
				plen = sr_param_len(arg);
				if (plen > 0)
				{
					if (sr_append(out, outsize, &len, p, (size_t) (arg - p)) < 0 ||
						sr_append(out, outsize, &len, "epoch", 5) < 0)
						return -1;
					p = arg + plen;
					repairs++;
					continue;
				}
			}

			/* <type> $n -> $n::<type> */
			plen = (after > p + word) ? sr_param_len(after) : 0;
			if (plen > 0)
			{
				for (int i = 0; sr_types[i]; i++)
				{
					if (strlen(sr_types[i]) == word && strncasecmp(p, sr_types[i], word) == 0)
					{
						if (sr_append(out, outsize, &len, after, plen) < 0 ||
							sr_append(out, outsize, &len, "::", 2) < 0 ||
							sr_append(out, outsize, &len, p, word) < 0)
							return -1;
						p = after + plen;
						repairs++;
						goto next;
					}
				}
			}
			if (sr_append(out, outsize, &len, p, word) < 0)
				return -1;
			p += word;
			continue;
		}
		if (sr_append(out, outsize, &len, p, 1) < 0)
			return -1;
		p++;
next:
		;
	}
	return repairs;
}
