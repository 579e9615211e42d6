/*
 * history.h — writes samples to the perfopt_samples table and applies the
 * retention.  Called by the worker only, inside a transaction, on a
 * primary, when the extension exists in perfopt.database.
 */
#ifndef PERFOPT_HISTORY_H
#define PERFOPT_HISTORY_H

#include "sample.h"

/* true when the extension is installed in the current database */
extern bool perfopt_history_available(void);

/* insert one sample and delete rows older than perfopt.history_retention */
extern void perfopt_history_write(const PerfoptSample *s);

#endif							/* PERFOPT_HISTORY_H */
