/*
 * valuecapture.h — the hooks that take the value samples (valuecapture.c)
 * and hand them to the store (valuestore.h).
 */
#ifndef PERFOPT_VALUECAPTURE_H
#define PERFOPT_VALUECAPTURE_H

/* _PG_init: post_parse_analyze, ExecutorStart and ExecutorEnd (when the store is on) */
extern void perfopt_value_capture_install_hooks(void);

/* perfopt.value_sample_rate's assign hook: the threshold of the draw */
extern void perfopt_value_capture_rate_assign(double newval, void *extra);

#endif							/* PERFOPT_VALUECAPTURE_H */
