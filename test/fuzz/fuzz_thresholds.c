/*
 * fuzz_thresholds.c — libFuzzer target for the thresholds document parser:
 * any input must be refused or merged without a crash, a leak or
 * undefined behaviour; a merged result must be valid and render to a
 * document that reads back to the same thresholds, and to a rules file
 * (promrules.c) of the length it says, with no NaN or infinity in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promrules.h"
#include "thresholds_doc.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PerfoptThresholds th;
	PerfoptThresholds back;
	char		err[256];
	char		doc[2048];
	size_t		n;

	thresholds_defaults(&th);
	if (!thresholds_merge(&th, (const char *) data, size, err, sizeof(err)))
		return 0;
	if (!thresholds_valid(&th, err, sizeof(err)))
		abort();
	n = thresholds_render(&th, doc, sizeof(doc));
	if (n >= sizeof(doc))
		abort();
	thresholds_defaults(&back);
	if (!thresholds_merge(&back, doc, n, err, sizeof(err)) ||
		memcmp(&back, &th, sizeof(th)) != 0)
		abort();

	/* the rules, timed by the input's first bytes within the GUCs' ranges */
	{
		PromRulesTiming t = {
			100 + (size > 0 ? data[0] : 0) * 338823LL,	/* 100 ms .. a day */
			1 + (size > 1 ? data[1] : 0) * 39,	/* 1 .. 9946 */
			(size > 2 ? data[2] : 0) * 338	/* 0 .. 86190 s */
		};
		size_t		need = promrules_render(&th, &t, NULL, 0);
		char	   *rules = malloc(need + 1);

		if (rules == NULL)
			abort();
		if (promrules_render(&th, &t, rules, need + 1) != need || strlen(rules) != need ||
			strstr(rules, "nan") != NULL || strstr(rules, "inf") != NULL)
			abort();
		free(rules);
	}
	return 0;
}
