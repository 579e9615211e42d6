/*
 * thresholds_doc.h — the alert thresholds document (the shape perfopt_thresholds() shows):
 * parsing and validating a partial document with cJSON, merging it into
 * the current thresholds, and rendering the whole document.  Pure C (no
 * PostgreSQL headers) so the unit tests and the fuzzer call the same entry
 * point as the server.
 */
#ifndef PERFOPT_THRESHOLDS_DOC_H
#define PERFOPT_THRESHOLDS_DOC_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ThresholdPair
{
	double		warning;
	double		critical;
} ThresholdPair;

/* every threshold of the document */
typedef struct PerfoptThresholds
{
	ThresholdPair cpu;			/* percent */
	ThresholdPair memory;		/* percent */
	ThresholdPair connection_utilization;	/* percent */
	ThresholdPair query_time;	/* ms */
	ThresholdPair cache_hit_ratio;	/* percent, lower is worse */
	ThresholdPair response_time;	/* ms */
	ThresholdPair error_rate;	/* percent */
	ThresholdPair disk_utilization; /* percent */
	ThresholdPair network_rx;	/* bytes per second received; NaN: off */
	ThresholdPair network_tx;	/* bytes per second sent; NaN: off */
} PerfoptThresholds;

/* the largest millisecond threshold accepted: one day */
#define THRESHOLDS_MAX_MS 86400000.0
/* the largest rate accepted: 10 TB/s */
#define THRESHOLDS_MAX_BYTES_PER_SECOND 1e13

/* the defaults */
extern void thresholds_defaults(PerfoptThresholds *th);

/*
 * Merge the JSON document json (len bytes, need not be NUL-terminated)
 * into *th.  The document names only the keys it changes.  On success
 * returns true and *th holds the merged thresholds.  On any problem (not
 * JSON, not an object, an unknown key, a non-number, a value out of range,
 * warning and critical in the wrong order, one of an optional pair null
 * without the other) returns false, leaves *th
 * unchanged and writes "<key path>: <problem>" into err (errsize bytes).
 */
extern bool thresholds_merge(PerfoptThresholds *th, const char *json, size_t len,
							 char *err, size_t errsize);

/*
 * The whole document as JSON text into buf (size bytes).  Returns the
 * length it needs, like snprintf: complete only when below size.
 */
extern size_t thresholds_render(const PerfoptThresholds *th, char *buf, size_t size);

/* the same checks as a merge, on a whole set: true when *th is valid */
extern bool thresholds_valid(const PerfoptThresholds *th, char *err, size_t errsize);

#endif							/* PERFOPT_THRESHOLDS_DOC_H */
