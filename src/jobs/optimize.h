/*
 * optimize.h — the optimization run (optimize.c): what the advisor worker
 * calls when automatic optimization is on.
 */
#ifndef PERFOPT_OPTIMIZE_H
#define PERFOPT_OPTIMIZE_H

/* perfopt_optimize() without a caller: quiet (no history) when idle */
extern void perfopt_optimize_automatic(void);

#endif							/* PERFOPT_OPTIMIZE_H */
