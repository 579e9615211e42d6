/*
 * sampler.h — takes one PerfoptSample: machine statistics from /proc,
 * cgroup v2 and statvfs, server statistics from pg_stat_activity,
 * pg_stat_database and the WAL position.  Runs in the main worker only.
 */
#ifndef PERFOPT_SAMPLER_H
#define PERFOPT_SAMPLER_H

#include "sample.h"

/* worker start: remember the counters rates are computed against */
extern void perfopt_sampler_init(void);

/* machine part: no transaction needed, never errors */
extern void perfopt_sampler_machine(PerfoptSample *s);

/* server part: inside a transaction with a snapshot; may ereport(ERROR) */
extern void perfopt_sampler_server(PerfoptSample *s);

#endif							/* PERFOPT_SAMPLER_H */
