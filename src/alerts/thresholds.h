/*
 * thresholds.h — the alert thresholds in effect (thresholds.c): read from
 * shared memory, loaded by the worker from perfopt_thresholds.
 */
#ifndef PERFOPT_THRESHOLDS_H
#define PERFOPT_THRESHOLDS_H

#include "thresholds_doc.h"

/* a copy of the thresholds in effect */
extern void perfopt_thresholds_get(PerfoptThresholds *out);

/* the worker: the stored document into shared memory (in a transaction) */
extern void perfopt_thresholds_load(void);

#endif							/* PERFOPT_THRESHOLDS_H */
