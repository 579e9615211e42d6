/*
 * jsonutil.h — JSON helpers for every part's documents (jsonutil.c).
 */
#ifndef PERFOPT_JSONUTIL_H
#define PERFOPT_JSONUTIL_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

/* a number; NaN and infinities are null */
extern void perfopt_json_number(StringInfo buf, double v);
/* a timestamp as a JSON string; 0 is null */
extern void perfopt_json_timestamp(StringInfo buf, TimestampTz t);

/* jsonb Datum from JSON text */
extern Datum perfopt_jsonb_from_text(const char *json);

#endif							/* PERFOPT_JSONUTIL_H */
