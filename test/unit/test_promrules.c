/*
 * test_promrules.c — unit tests of the rules file (src/common/promrules.c):
 * the "for:" and rate() durations from the timing settings, the sizing
 * contract, thresholds written as the exporter writes the values, the
 * direction of cacheHitRatio, and the optional network pairs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promrules.h"
#include "check.h"

static char *
render(const PerfoptThresholds *th, const PromRulesTiming *t)
{
	size_t		need = promrules_render(th, t, NULL, 0);
	char	   *buf = malloc(need + 1);
	char		small[16];

	CHECK(buf != NULL);
	CHECK(promrules_render(th, t, buf, need + 1) == need);
	CHECK(strlen(buf) == need);
	/* a short buffer: cut, terminated, the same length needed */
	CHECK(promrules_render(th, t, small, sizeof(small)) == need);
	CHECK(strlen(small) == sizeof(small) - 1);
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int			n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

int
main(void)
{
	PerfoptThresholds th;
	PromRulesTiming t = {30000, 3, 300};
	char	   *out;

	/* defaults: (3 - 1) x 30 s and 300 s / 5 are both a minute */
	CHECK(promrules_for_ms(&t) == 60000);
	CHECK(promrules_rate_window_ms(&t) == 120000);
	t.sustained_samples = 7;
	CHECK(promrules_for_ms(&t) == 180000);
	t.dwell_seconds = 3600;
	CHECK(promrules_for_ms(&t) == 720000);
	t = (PromRulesTiming) {1500, 1, 0};
	CHECK(promrules_for_ms(&t) == 0);
	CHECK(promrules_rate_window_ms(&t) == 60000);
	t = (PromRulesTiming) {1500, 2, 0};
	CHECK(promrules_for_ms(&t) == 1500);

	thresholds_defaults(&th);
	t = (PromRulesTiming) {15000, 4, 60};
	out = render(&th, &t);
	CHECK(strstr(out, "groups:\n  - name: perfopt\n    rules:\n") != NULL);
	/* eight pairs on, the network off */
	CHECK(count(out, "      - alert: ") == 16);
	CHECK(count(out, "severity: warning") == 8);
	CHECK(count(out, "severity: critical") == 8);
	CHECK(count(out, "        for: 45s\n") == 16);
	CHECK(strstr(out, "# network.receiveBytesPerSecond: off") != NULL);
	CHECK(strstr(out, "Network") == NULL);
	CHECK(strstr(out, "expr: 'perfopt_system_cpu_usage_ratio >= 0.7'") != NULL);
	CHECK(strstr(out, "expr: 'perfopt_system_cpu_usage_ratio >= 0.9'") != NULL);
	CHECK(strstr(out, "expr: 'perfopt_database_cache_hit_ratio <= 0.8'") != NULL);
	CHECK(strstr(out, "expr: 'perfopt_database_cache_hit_ratio <= 0.6'") != NULL);
	CHECK(strstr(out, "histogram_quantile(0.90, sum without (datname) "
				  "(rate(perfopt_statement_duration_seconds_bucket[1m]))) >= 1'") != NULL);
	CHECK(strstr(out, "histogram_quantile(0.95, sum without (datname) "
				  "(rate(perfopt_statement_duration_seconds_bucket[1m]))) >= 2'") != NULL);
	CHECK(strstr(out, "perfopt_subject: \"{{ $labels.filesystem }}\"") != NULL);
	CHECK(strstr(out, "perfopt_metric: \"database.cacheHitRatio\"") != NULL);
	free(out);

	/* the network set, a fractional threshold written as the exporter would */
	th.network_rx.warning = 1e6;
	th.network_rx.critical = 5e6;
	th.network_tx.warning = 2e6;
	th.network_tx.critical = 9e6;
	th.cpu.warning = 57;
	th.cpu.critical = 83.25;
	t = (PromRulesTiming) {2500, 3, 0};
	out = render(&th, &t);
	CHECK(count(out, "      - alert: ") == 20);
	CHECK(count(out, "        for: 5s\n") == 20);
	CHECK(strstr(out, "rate(perfopt_statement_errors_total[1m])") != NULL);
	CHECK(strstr(out, "perfopt_system_network_bytes_per_second{direction=\"receive\"} >= 1000000'") != NULL);
	CHECK(strstr(out, "perfopt_system_network_bytes_per_second{direction=\"transmit\"} >= 9000000'") != NULL);
	{
		char		want[128];

		snprintf(want, sizeof(want), "perfopt_system_cpu_usage_ratio >= %.10g'", 57 * 0.01);
		CHECK(strstr(out, want) != NULL);
		snprintf(want, sizeof(want), "perfopt_system_cpu_usage_ratio >= %.10g'", 83.25 * 0.01);
		CHECK(strstr(out, want) != NULL);
	}
	/* a duration that is not whole seconds */
	t = (PromRulesTiming) {1250, 2, 0};
	free(out);
	out = render(&th, &t);
	CHECK(count(out, "        for: 1250ms\n") == 20);
	free(out);
	return check_report();
}
