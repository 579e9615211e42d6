/*
 * sqlrepair.h — repairs the known ways pg_stat_statements' normalization
 * breaks a statement's syntax (a typed literal "interval '1 day'" becomes
 * "interval $1"; an EXTRACT field becomes "EXTRACT($1 FROM ...)").  Pure C,
 * no PostgreSQL headers, so unit tests and fuzzers link it alone.
 */
#ifndef PERFOPT_SQLREPAIR_H
#define PERFOPT_SQLREPAIR_H

#include <stddef.h>

/* an output buffer of this size always holds the repaired text */
#define SQLREPAIR_OUTSIZE(inlen) (2 * (inlen) + 16)

/*
 * Repair in into out (outsize bytes, at least SQLREPAIR_OUTSIZE(strlen(in))).
 * Returns the number of repairs made, or -1 when out is too small.  Text
 * inside quotes, quoted identifiers, dollar quotes and comments is copied
 * unchanged.
 */
extern int	sql_repair_normalized(const char *in, char *out, size_t outsize);

#endif							/* PERFOPT_SQLREPAIR_H */
