/*
 * latencyhistory.h — the statement latency history (latencyhistory.c):
 * one row per history write in perfopt_latency_history, for
 * perfopt_metrics_history().  Called by the worker only.
 */
#ifndef PERFOPT_LATENCYHISTORY_H
#define PERFOPT_LATENCYHISTORY_H

#include "datatype/timestamp.h"
#include "postgres_ext.h"

/*
 * Insert the latency of all databases since the previous call (the first
 * call after a start only remembers where it is) at the time at, in the
 * schema's perfopt_latency_history, and delete its rows before cutoff;
 * nothing when the table is not there (the extension is still at 1.0).
 * Inside the worker's transaction, SPI not connected.
 */
extern void perfopt_latency_history_write(Oid schema_oid, TimestampTz at, TimestampTz cutoff);

#endif							/* PERFOPT_LATENCYHISTORY_H */
