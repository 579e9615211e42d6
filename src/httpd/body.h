/*
 * body.h — perfopt-httpd's request bodies (body.c): a JSON object for
 * PUT /thresholds and monitoring/start, {"ids": [...]} for bulk resolve.
 * Pure C (cJSON).
 */
#ifndef PERFOPT_HTTPD_BODY_H
#define PERFOPT_HTTPD_BODY_H

#include <stddef.h>
#include <stdint.h>

/*
 * The bulk resolve body {"ids": [1, 2, ...]}: only that key, an array of
 * 1..max integers >= 1 (written as plain digits: no fraction, exponent or
 * leading zero; within int64).  0 with *ids malloc'd and *n set; -1 with
 * "<where>: <problem>" in err, *ids NULL and *n 0.
 */
extern int	hd_parse_ids(const char *body, size_t len, int max, int64_t **ids, int *n,
						 char *err, size_t errsize);

/*
 * A body that must be a JSON object: 0 ok; -1 with err.  Like every body
 * (hd_parse_ids too) it must be valid UTF-8 without NUL bytes and without
 * a \u0000 escape, which jsonb cannot store (the server would answer
 * with an error, not a refusal of bad input).
 */
extern int	hd_check_json_object(const char *body, size_t len, char *err, size_t errsize);

#endif							/* PERFOPT_HTTPD_BODY_H */
