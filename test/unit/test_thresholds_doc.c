/*
 * test_thresholds_doc.c — the thresholds document parser: bad documents
 * are refused with the key path and change nothing; partial documents
 * merge; the rendering reads back to the same thresholds.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "thresholds_doc.h"

static int	passed = 0;
static int	failed = 0;

static void
check(int ok, const char *what)
{
	if (ok)
		passed++;
	else
	{
		failed++;
		printf("not ok: %s\n", what);
	}
}

static int
same(const PerfoptThresholds *a, const PerfoptThresholds *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* a bad document: refused, the error starts with path, nothing changes */
static void
bad(const char *doc, const char *path)
{
	PerfoptThresholds th;
	PerfoptThresholds before;
	char		err[256];
	char		what[512];
	int			ok;

	thresholds_defaults(&th);
	before = th;
	ok = thresholds_merge(&th, doc, strlen(doc), err, sizeof(err));
	snprintf(what, sizeof(what), "refused: %s (error: %s)", doc, err);
	check(!ok, what);
	snprintf(what, sizeof(what), "error names \"%s\": %s", path, err);
	check(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':', what);
	snprintf(what, sizeof(what), "unchanged after %s", doc);
	check(same(&th, &before), what);
}

static void
test_bad_documents(void)
{
	bad("", "(document)");
	bad("{", "(document)");
	bad("[1, 2]", "(document)");
	bad("42", "(document)");
	bad("{\"cpus\": {\"warning\": 1}}", "cpus");
	bad("{\"cpu\": {\"warn\": 1}}", "cpu.warn");
	bad("{\"cpu\": {\"warning\": \"70\"}}", "cpu.warning");
	bad("{\"cpu\": {\"warning\": true}}", "cpu.warning");
	bad("{\"cpu\": {\"warning\": null}}", "cpu.warning");
	bad("{\"cpu\": {\"warning\": 101}}", "cpu.warning");
	bad("{\"cpu\": {\"critical\": -1}}", "cpu.critical");
	bad("{\"cpu\": 70}", "cpu");
	bad("{\"cpu\": {\"warning\": 95}}", "cpu");
	bad("{\"cpu\": {\"warning\": 90, \"critical\": 90}}", "cpu");
	bad("{\"memory\": {\"warning\": 99, \"critical\": 98}}", "memory");
	bad("{\"database\": {\"queryTime\": {\"warning\": 0}}}", "database.queryTime.warning");
	bad("{\"database\": {\"queryTime\": {\"warning\": -5}}}", "database.queryTime.warning");
	bad("{\"database\": {\"queryTime\": {\"critical\": 1e300}}}", "database.queryTime.critical");
	bad("{\"database\": {\"cacheHitRatio\": {\"warning\": 50}}}", "database.cacheHitRatio");
	bad("{\"database\": {\"cacheHitRatio\": {\"warning\": 60, \"critical\": 80}}}", "database.cacheHitRatio");
	bad("{\"database\": {\"poolSize\": {\"warning\": 1}}}", "database.poolSize");
	bad("{\"database\": 5}", "database");
	bad("{\"database\": {\"connectionUtilization\": []}}", "database.connectionUtilization");
	bad("{\"api\": {\"errorRate\": {\"critical\": 200}}}", "api.errorRate.critical");
	bad("{\"api\": {\"responseTime\": {\"warning\": 3000}}}", "api.responseTime");
	bad("{\"disk\": {\"utilization\": {\"warning\": 96}}}", "disk.utilization");
	bad("{\"disk\": {\"free\": {\"warning\": 1}}}", "disk.free");
	/* a good key first does not save a bad one after it */
	bad("{\"cpu\": {\"warning\": 60}, \"memory\": {\"warning\": \"x\"}}", "memory.warning");
	bad("{\"cpu\": {\"warning\": 1e999}}", "cpu.warning");
	/* the network rates: off by default, set in pairs, above 0 */
	bad("{\"network\": {\"receiveBytesPerSecond\": {\"warning\": 1000}}}", "network.receiveBytesPerSecond");
	bad("{\"network\": {\"transmitBytesPerSecond\": {\"critical\": 1000}}}", "network.transmitBytesPerSecond");
	bad("{\"network\": {\"receiveBytesPerSecond\": {\"warning\": 0, \"critical\": 10}}}",
		"network.receiveBytesPerSecond.warning");
	bad("{\"network\": {\"receiveBytesPerSecond\": {\"warning\": 10, \"critical\": 1e14}}}",
		"network.receiveBytesPerSecond.critical");
	bad("{\"network\": {\"receiveBytesPerSecond\": {\"warning\": 20, \"critical\": 10}}}",
		"network.receiveBytesPerSecond");
	bad("{\"network\": {\"receiveBytesPerSecond\": {\"warning\": \"1e6\", \"critical\": 2e6}}}",
		"network.receiveBytesPerSecond.warning");
	bad("{\"network\": {\"rx\": {\"warning\": 1}}}", "network.rx");
	bad("{\"network\": 5}", "network");
}

static void
test_network(void)
{
	PerfoptThresholds th;
	PerfoptThresholds d;
	char		err[256];
	char		buf[1024];
	const char *doc;

	thresholds_defaults(&d);
	check(isnan(d.network_rx.warning) && isnan(d.network_tx.critical), "network rates off by default");
	th = d;
	doc = "{\"network\": {\"receiveBytesPerSecond\": {\"warning\": 1e6, \"critical\": 5e6}}}";
	check(thresholds_merge(&th, doc, strlen(doc), err, sizeof(err)) &&
		  th.network_rx.warning == 1e6 && th.network_rx.critical == 5e6 && isnan(th.network_tx.warning),
		  "receive rate set, transmit still off");
	check(thresholds_valid(&th, err, sizeof(err)), "a set rate is valid");
	(void) thresholds_render(&th, buf, sizeof(buf));
	check(strstr(buf, "\"network\": {\"receiveBytesPerSecond\": {\"warning\": 1000000, \"critical\": 5000000}, "
				 "\"transmitBytesPerSecond\": {\"warning\": null, \"critical\": null}}") != NULL,
		  "rendered, off as null");
	doc = "{\"network\": {\"receiveBytesPerSecond\": {\"warning\": null, \"critical\": null}}}";
	check(thresholds_merge(&th, doc, strlen(doc), err, sizeof(err)) && same(&th, &d),
		  "null turns it off again: the defaults");
	thresholds_render(&d, buf, sizeof(buf));
	th.cpu.warning = 1;
	check(thresholds_merge(&th, buf, strlen(buf), err, sizeof(err)) && same(&th, &d),
		  "the defaults' rendering (with nulls) reads back");
}

static void
test_merges(void)
{
	PerfoptThresholds th;
	PerfoptThresholds d;
	char		err[256];
	const char *doc;

	thresholds_defaults(&d);
	check(d.cpu.warning == 70 && d.cpu.critical == 90, "default cpu 70/90");
	check(d.cache_hit_ratio.warning == 80 && d.cache_hit_ratio.critical == 60,
		  "default cacheHitRatio 80/60 (lower is worse)");
	check(d.query_time.warning == 1000 && d.query_time.critical == 5000, "default queryTime");
	check(thresholds_valid(&d, err, sizeof(err)), "the defaults are valid");

	th = d;
	doc = "{}";
	check(thresholds_merge(&th, doc, strlen(doc), err, sizeof(err)) && same(&th, &d),
		  "{} changes nothing");

	doc = "{\"cpu\": {\"warning\": 50}}";
	check(thresholds_merge(&th, doc, strlen(doc), err, sizeof(err)), "cpu.warning alone");
	check(th.cpu.warning == 50 && th.cpu.critical == 90, "only cpu.warning changed");
	check(th.memory.warning == 80 && th.query_time.critical == 5000, "the rest kept");

	doc = "{\"database\": {\"queryTime\": {\"warning\": 100, \"critical\": 250.5}},"
		" \"api\": {\"errorRate\": {\"warning\": 0.5}}}";
	check(thresholds_merge(&th, doc, strlen(doc), err, sizeof(err)), "nested partial");
	check(th.query_time.warning == 100 && th.query_time.critical == 250.5, "queryTime merged");
	check(th.error_rate.warning == 0.5 && th.error_rate.critical == 10, "errorRate.warning merged");
	check(th.cpu.warning == 50, "the earlier merge stays");

	/* both at once may cross the old values */
	doc = "{\"database\": {\"cacheHitRatio\": {\"warning\": 99, \"critical\": 95}}}";
	check(thresholds_merge(&th, doc, strlen(doc), err, sizeof(err)) &&
		  th.cache_hit_ratio.warning == 99 && th.cache_hit_ratio.critical == 95,
		  "cacheHitRatio 99/95");

	/* percent bounds are inclusive */
	doc = "{\"cpu\": {\"warning\": 0, \"critical\": 100}}";
	check(thresholds_merge(&th, doc, strlen(doc), err, sizeof(err)) &&
		  th.cpu.warning == 0 && th.cpu.critical == 100, "cpu 0/100 accepted");

	/* not NUL-terminated: only len bytes are read */
	{
		char		buf[64];

		memcpy(buf, "{\"memory\": {\"warning\": 81}}XXXX", 32);
		check(thresholds_merge(&th, buf, 27, err, sizeof(err)) && th.memory.warning == 81,
			  "length-bounded input");
	}
}

static void
test_render(void)
{
	PerfoptThresholds th;
	PerfoptThresholds back;
	char		buf[1024];
	char		err[256];
	size_t		n;

	thresholds_defaults(&th);
	th.query_time.warning = 123.456;
	th.error_rate.warning = 0.1;
	n = thresholds_render(&th, buf, sizeof(buf));
	check(n < sizeof(buf), "the rendering fits");
	check(strstr(buf, "\"database\": {\"connectionUtilization\": {\"warning\": 80, \"critical\": 95}, "
				 "\"queryTime\": {\"warning\": 123.456, \"critical\": 5000}") != NULL,
		  "database group rendered");
	thresholds_defaults(&back);
	back.cpu.warning = 1;
	check(thresholds_merge(&back, buf, n, err, sizeof(err)) && same(&back, &th),
		  "the rendering reads back to the same thresholds");
	/* too small a buffer: the needed size, NUL-terminated */
	{
		char		small[16];
		size_t		need = thresholds_render(&th, small, sizeof(small));

		check(need == n && small[sizeof(small) - 1] == '\0', "truncated rendering reports the size");
	}
}

int
main(void)
{
	test_bad_documents();
	test_merges();
	test_network();
	test_render();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
