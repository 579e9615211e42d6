/*
 * token_timing.c — times perfopt-httpd's token lookup (hd_tokens_lookup)
 * for a right token and for wrong ones: one whose hash differs from a
 * stored hash only in its last byte (the case an early-exit compare
 * would answer slowest), one that differs in the first byte, and one of
 * another length.  Rounds interleave the cases so that machine noise hits
 * all alike; prints the median ns per lookup of each case and its ratio
 * to the right token.  Run by test/bench/token-timing.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokens.h"

#define ROUNDS 201
#define PER_ROUND 2000
#define CASES 4

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(void)
{
	static const char *names[CASES] = {
		"right token", "wrong, hash differs in its last byte",
		"wrong, hash differs in its first byte", "wrong, another length"};
	const char *tokens[CASES] = {
		"right-token-0123456789abcdef", "near-token-0123456789abcdef0",
		"far--token-0123456789abcdef0", "x"};
	char		file[16 * 100];
	char		err[128];
	uint8_t		h[32];
	char		hex[65];
	HdTokens	t;
	double	   *samples[CASES];
	volatile size_t sink = 0;

	/* ten entries; the right token's last; one entry near each wrong one */
	file[0] = '\0';
	for (int i = 0; i < 8; i++)
	{
		char		other[32];

		snprintf(other, sizeof(other), "other-token-%d", i);
		hd_sha256(other, strlen(other), h);
		hd_hex(h, 32, hex);
		snprintf(file + strlen(file), sizeof(file) - strlen(file), "%s role%d\n", hex, i);
	}
	hd_sha256(tokens[1], strlen(tokens[1]), h);
	h[31] ^= 1;
	hd_hex(h, 32, hex);
	snprintf(file + strlen(file), sizeof(file) - strlen(file), "%s near\n", hex);
	hd_sha256(tokens[0], strlen(tokens[0]), h);
	hd_hex(h, 32, hex);
	snprintf(file + strlen(file), sizeof(file) - strlen(file), "%s right\n", hex);
	if (hd_tokens_parse(file, strlen(file), &t, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "token file: %s\n", err);
		return 1;
	}
	if (hd_tokens_lookup(&t, tokens[0], strlen(tokens[0])) == NULL ||
		hd_tokens_lookup(&t, tokens[1], strlen(tokens[1])) != NULL)
	{
		fprintf(stderr, "lookup answers wrongly\n");
		return 1;
	}
	for (int c = 0; c < CASES; c++)
		samples[c] = malloc(sizeof(double) * ROUNDS);
	for (int r = 0; r < ROUNDS; r++)
		for (int k = 0; k < CASES; k++)
		{
			int			c = (r + k) % CASES;
			size_t		len = strlen(tokens[c]);
			double		start = now_ns();

			for (int i = 0; i < PER_ROUND; i++)
				sink += (size_t) hd_tokens_lookup(&t, tokens[c], len);
			samples[c][r] = (now_ns() - start) / PER_ROUND;
		}
	for (int c = 0; c < CASES; c++)
		qsort(samples[c], ROUNDS, sizeof(double), cmp_double);
	printf("%-40s %10s %8s\n", "token lookup (10 entries)", "median ns", "ratio");
	for (int c = 0; c < CASES; c++)
		printf("%-40s %10.1f %8.3f\n", names[c], samples[c][ROUNDS / 2],
			   samples[c][ROUNDS / 2] / samples[0][ROUNDS / 2]);
	for (int c = 0; c < CASES; c++)
		free(samples[c]);
	hd_tokens_free(&t);
	return sink == 1 ? 2 : 0;
}
