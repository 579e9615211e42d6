/*
 * check.h — the CHECK macro shared by the unit tests (test/unit/): each
 * condition counts as passed or failed, and a failure is reported on
 * stderr as file:line with the condition's text.  A test program includes
 * it once and ends main() with check_report().
 */
#ifndef PERFOPT_TEST_CHECK_H
#define PERFOPT_TEST_CHECK_H

#include <stdio.h>

static int	passed;
static int	failed;

#define CHECK(cond) \
	do { \
		if (cond) \
			passed++; \
		else \
		{ \
			failed++; \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

/* prints the one line "N passed, M failed"; the program's exit status */
static inline int
check_report(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed > 0;
}

#endif							/* PERFOPT_TEST_CHECK_H */
