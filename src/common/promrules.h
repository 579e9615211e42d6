/*
 * promrules.h — the alert thresholds as a Prometheus rules file
 * (promrules.c): one alerting rule per threshold and level, over the
 * series perfopt exports.  Pure C (no PostgreSQL headers) so the unit
 * tests call the same entry point as perfopt_prometheus_rules().
 */
#ifndef PERFOPT_PROMRULES_H
#define PERFOPT_PROMRULES_H

#include <stddef.h>
#include <stdint.h>

#include "thresholds_doc.h"

/* the settings that time perfopt's own alerts */
typedef struct PromRulesTiming
{
	int64_t		interval_ms;	/* between two samples */
	int			sustained_samples;	/* perfopt.alert_sustained_samples */
	int			dwell_seconds;	/* perfopt.alert_dwell */
} PromRulesTiming;

/*
 * How long a condition must hold before perfopt opens or escalates its
 * alert, and so the rules' "for:": the sustained_samples-th sample in a
 * row past the threshold comes (sustained_samples - 1) intervals after
 * the first, and no sooner than a fifth of the dwell time.  Milliseconds.
 */
extern int64_t promrules_for_ms(const PromRulesTiming *t);

/* the range of rate() over the statement counters: four intervals, at least a minute */
extern int64_t promrules_rate_window_ms(const PromRulesTiming *t);

/*
 * The rules file (YAML) into buf (size bytes).  Returns the length it
 * needs, like snprintf: complete only when below size.  Optional pairs
 * that are off (NaN) get a comment instead of rules.
 */
extern size_t promrules_render(const PerfoptThresholds *th, const PromRulesTiming *t,
							   char *buf, size_t size);

#endif							/* PERFOPT_PROMRULES_H */
