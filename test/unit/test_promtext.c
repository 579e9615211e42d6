/*
 * test_promtext.c — unit tests of the Prometheus escaping (src/common/promtext.c):
 * every special character, truncation that still terminates, and the
 * returned length that lets callers size buffers.
 */
#include <stdio.h>
#include <string.h>

#include "promtext.h"
#include "check.h"


int
main(void)
{
	char		out[64];

	CHECK(prom_escape_label_value("plain", out, sizeof(out)) == 5);
	CHECK(strcmp(out, "plain") == 0);

	CHECK(prom_escape_label_value("a\"b\\c\nd", out, sizeof(out)) == 10);
	CHECK(strcmp(out, "a\\\"b\\\\c\\nd") == 0);

	/* HELP text keeps double quotes */
	CHECK(prom_escape_help("say \"hi\"\\\n", out, sizeof(out)) == 12);
	CHECK(strcmp(out, "say \"hi\"\\\\\\n") == 0);

	/* empty input */
	CHECK(prom_escape_label_value("", out, sizeof(out)) == 0);
	CHECK(out[0] == '\0');

	/* truncation: the result is the needed length, the output terminated */
	memset(out, 'x', sizeof(out));
	CHECK(prom_escape_label_value("\"\"\"\"", out, 5) == 8);
	CHECK(strlen(out) == 4 && strcmp(out, "\\\"\\\"") == 0);

	/* an escape pair cut in the middle still leaves a terminated string */
	CHECK(prom_escape_label_value("\"", out, 2) == 2);
	CHECK(strlen(out) == 1);

	/* size 0 writes nothing and still reports the need */
	out[0] = 'z';
	CHECK(prom_escape_label_value("ab\n", out, 0) == 4);
	CHECK(out[0] == 'z');

	/* bytes above 0x7f (UTF-8 names) pass through unchanged */
	CHECK(prom_escape_label_value("d\xc3\xa9j\xc3\xa0", out, sizeof(out)) == 6);
	CHECK(strcmp(out, "d\xc3\xa9j\xc3\xa0") == 0);

	return check_report();
}
