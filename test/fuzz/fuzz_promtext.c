/*
 * fuzz_promtext.c — libFuzzer target for the Prometheus text escaping
 * (label values and HELP text): any byte string must escape without a
 * crash or overrun; the escaped text holds no raw line feed, no
 * unescaped quote in a label value, reads back to the input, and a
 * buffer too small gets a NUL-terminated prefix of the full escape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* undo the escaping; returns 0 when the text is not a valid escape */
static int
unescape(const char *in, char *out, int quote_escaped)
{
	while (*in)
	{
		if (*in == '\n')
			return 0;
		if (*in == '"' && quote_escaped)
			return 0;
		if (*in != '\\')
		{
			*out++ = *in++;
			continue;
		}
		in++;
		if (*in == '\\')
			*out++ = '\\';
		else if (*in == 'n')
			*out++ = '\n';
		else if (*in == '"' && quote_escaped)
			*out++ = '"';
		else
			return 0;
		in++;
	}
	*out = '\0';
	return 1;
}

static void
check(const char *s, int label)
{
	size_t		n = strlen(s);
	size_t		size = 2 * n + 1;
	char	   *full = malloc(size);
	char	   *back = malloc(n + 1);
	char		small[8];
	size_t		need;

	if (full == NULL || back == NULL)
		abort();
	need = label ? prom_escape_label_value(s, full, size) : prom_escape_help(s, full, size);
	if (need >= size || strlen(full) != need)
		abort();
	if (!unescape(full, back, label) || strcmp(back, s) != 0)
		abort();
	/* too small a buffer: same length reported, a terminated prefix written */
	if ((label ? prom_escape_label_value(s, small, sizeof(small))
		 : prom_escape_help(s, small, sizeof(small))) != need)
		abort();
	if (strlen(small) >= sizeof(small) || strncmp(small, full, strlen(small)) != 0)
		abort();
	/* a zero-sized buffer is never written */
	if ((label ? prom_escape_label_value(s, NULL, 0) : prom_escape_help(s, NULL, 0)) != need)
		abort();
	free(full);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check(s, 1);
	check(s, 0);
	free(s);
	return 0;
}
