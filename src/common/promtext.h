/*
 * promtext.h — Prometheus text-format escaping.  Pure C (no PostgreSQL
 * headers) so the unit tests and fuzzers can link it alone.
 */
#ifndef PERFOPT_PROMTEXT_H
#define PERFOPT_PROMTEXT_H

#include <stddef.h>

/*
 * Escape a label value (backslash, double quote, line feed) into out, which
 * holds outsize bytes.  Returns the length the escaped text needs (without
 * the terminating NUL), like snprintf: the output is complete only when the
 * result is below outsize.  Always NUL-terminates when outsize > 0.
 */
extern size_t prom_escape_label_value(const char *in, char *out, size_t outsize);

/* the same for HELP text, which escapes only backslash and line feed */
extern size_t prom_escape_help(const char *in, char *out, size_t outsize);

#endif							/* PERFOPT_PROMTEXT_H */
