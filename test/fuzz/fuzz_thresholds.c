/*
 * fuzz_thresholds.c — libFuzzer target for the thresholds document parser:
 * any input must be refused or merged without a crash, a leak or
 * undefined behaviour; a merged result must be valid and render to a
 * document that reads back to the same thresholds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	return 0;
}
