/*
 * emergency.h — the emergency actions the worker takes after a sample
 * (emergency.c), when perfopt.enable_emergency_optimization is on.
 */
#ifndef PERFOPT_EMERGENCY_H
#define PERFOPT_EMERGENCY_H

#include "sample.h"

/* in a transaction of the worker, on a primary, with the extension there */
extern void perfopt_emergency_act(const PerfoptSample *s);

#endif							/* PERFOPT_EMERGENCY_H */
