/*
 * promrules_sql.c — perfopt_prometheus_rules(): the thresholds in effect
 * (shared memory, as perfopt_thresholds() shows them) as a Prometheus
 * rules file, timed by the sampling interval in effect and the alert
 * settings (perfopt.alert_sustained_samples, perfopt.alert_dwell).  Those
 * are PGC_SIGHUP: a session cannot change what the rules say.  The
 * rendering is promrules.c.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "perfopt.h"
#include "promrules.h"
#include "shmem.h"
#include "thresholds.h"

PG_FUNCTION_INFO_V1(perfopt_prometheus_rules);

Datum
perfopt_prometheus_rules(PG_FUNCTION_ARGS)
{
	PerfoptThresholds th;
	PerfoptStatus st;
	PromRulesTiming timing;
	size_t		need;
	char	   *buf;

	perfopt_require_shmem();
	perfopt_thresholds_get(&th);
	perfopt_status_read(&st);
	timing.interval_ms = st.interval_ms;
	timing.sustained_samples = perfopt_alert_sustained_samples;
	timing.dwell_seconds = perfopt_alert_dwell;

	need = promrules_render(&th, &timing, NULL, 0);
	buf = palloc(need + 1);
	promrules_render(&th, &timing, buf, need + 1);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, need));
}
