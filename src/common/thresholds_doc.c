/*
 * thresholds_doc.c — parses, validates, merges and renders the thresholds
 * document.  One table lists every threshold with its place in the
 * document, its unit and its direction; parsing walks the document against
 * it, so an unknown key anywhere is an error that names its path.
 *
 * The network rates are optional: null (NaN inside) until a DBA sets both.
 *
 * Pure C with cJSON; everything cJSON allocates is freed before return.
 */
#include "thresholds_doc.h"
#include "bufappend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

typedef enum ThUnit
{
	TH_PERCENT,
	TH_MS,
	TH_BYTES_PER_SECOND			/* optional: off (null, NaN) by default */
} ThUnit;

typedef struct ThDef
{
	const char *group;			/* top-level key */
	const char *name;			/* key inside the group; NULL: the group is the pair */
	ThUnit		unit;
	bool		lower_is_worse;
	size_t		offset;			/* of the ThresholdPair in PerfoptThresholds */
	double		warning;		/* defaults */
	double		critical;
} ThDef;

#define TH_OFF(f) offsetof(PerfoptThresholds, f)

static const ThDef th_defs[] = {
	{"cpu", NULL, TH_PERCENT, false, TH_OFF(cpu), 70, 90},
	{"memory", NULL, TH_PERCENT, false, TH_OFF(memory), 80, 95},
	{"database", "connectionUtilization", TH_PERCENT, false, TH_OFF(connection_utilization), 80, 95},
	{"database", "queryTime", TH_MS, false, TH_OFF(query_time), 1000, 5000},
	{"database", "cacheHitRatio", TH_PERCENT, true, TH_OFF(cache_hit_ratio), 80, 60},
	{"api", "responseTime", TH_MS, false, TH_OFF(response_time), 500, 2000},
	{"api", "errorRate", TH_PERCENT, false, TH_OFF(error_rate), 5, 10},
	{"disk", "utilization", TH_PERCENT, false, TH_OFF(disk_utilization), 80, 95},
	/* no rate suits every network: off until a DBA sets one */
	{"network", "receiveBytesPerSecond", TH_BYTES_PER_SECOND, false, TH_OFF(network_rx), NAN, NAN},
	{"network", "transmitBytesPerSecond", TH_BYTES_PER_SECOND, false, TH_OFF(network_tx), NAN, NAN},
};

#define TH_NDEFS (sizeof(th_defs) / sizeof(th_defs[0]))

static ThresholdPair *
th_pair(PerfoptThresholds *th, const ThDef *def)
{
	return (ThresholdPair *) ((char *) th + def->offset);
}

static const ThresholdPair *
th_cpair(const PerfoptThresholds *th, const ThDef *def)
{
	return (const ThresholdPair *) ((const char *) th + def->offset);
}

static void
th_path(const ThDef *def, char *buf, size_t size)
{
	if (def->name)
		snprintf(buf, size, "%s.%s", def->group, def->name);
	else
		snprintf(buf, size, "%s", def->group);
}

void
thresholds_defaults(PerfoptThresholds *th)
{
	memset(th, 0, sizeof(*th));
	for (size_t i = 0; i < TH_NDEFS; i++)
	{
		th_pair(th, &th_defs[i])->warning = th_defs[i].warning;
		th_pair(th, &th_defs[i])->critical = th_defs[i].critical;
	}
}

/* a value's own range; false with the problem written into err */
static bool
th_check_range(const ThDef *def, const char *path, const char *which, double v,
			   char *err, size_t errsize)
{
	if (def->unit == TH_PERCENT && (v < 0 || v > 100))
	{
		snprintf(err, errsize, "%s.%s: %g is out of range: a percentage must be between 0 and 100",
				 path, which, v);
		return false;
	}
	if (def->unit == TH_MS && (v <= 0 || v > THRESHOLDS_MAX_MS))
	{
		snprintf(err, errsize, "%s.%s: %g is out of range: milliseconds must be above 0 and at most %.0f",
				 path, which, v, THRESHOLDS_MAX_MS);
		return false;
	}
	if (def->unit == TH_BYTES_PER_SECOND && (v <= 0 || v > THRESHOLDS_MAX_BYTES_PER_SECOND))
	{
		snprintf(err, errsize, "%s.%s: %g is out of range: bytes per second must be above 0 and at most %g",
				 path, which, v, THRESHOLDS_MAX_BYTES_PER_SECOND);
		return false;
	}
	return true;
}

/* warning before critical in the direction of the metric */
static bool
th_check_order(const ThDef *def, const ThresholdPair *p, const char *path,
			   char *err, size_t errsize)
{
	/* an optional pair is off (both null) or set (both numbers) */
	if (def->unit == TH_BYTES_PER_SECOND && (isnan(p->warning) || isnan(p->critical)))
	{
		if (isnan(p->warning) && isnan(p->critical))
			return true;
		snprintf(err, errsize, "%s: warning and critical are set together (null turns both off)", path);
		return false;
	}
	if (def->lower_is_worse ? p->warning > p->critical : p->warning < p->critical)
		return true;
	snprintf(err, errsize,
			 def->lower_is_worse ?
			 "%s: warning (%g) must be above critical (%g): lower is worse for this metric" :
			 "%s: warning (%g) must be below critical (%g)",
			 path, p->warning, p->critical);
	return false;
}

/* {"warning": n, "critical": n}, either or both, into *p */
static bool
th_parse_pair(const cJSON *obj, const ThDef *def, const char *path, ThresholdPair *p,
			  char *err, size_t errsize)
{
	const cJSON *item;

	if (!cJSON_IsObject(obj))
	{
		snprintf(err, errsize, "%s: must be an object with \"warning\" and/or \"critical\"", path);
		return false;
	}
	cJSON_ArrayForEach(item, obj)
	{
		double	   *target;

		if (item->string && strcmp(item->string, "warning") == 0)
			target = &p->warning;
		else if (item->string && strcmp(item->string, "critical") == 0)
			target = &p->critical;
		else
		{
			snprintf(err, errsize, "%s.%.64s: unknown key", path, item->string ? item->string : "");
			return false;
		}
		if (cJSON_IsNull(item) && def->unit == TH_BYTES_PER_SECOND)
		{
			*target = NAN;
			continue;
		}
		if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
		{
			snprintf(err, errsize, "%s.%s: must be a number", path, item->string);
			return false;
		}
		if (!th_check_range(def, path, item->string, item->valuedouble, err, errsize))
			return false;
		*target = item->valuedouble;
	}
	return true;
}

static const ThDef *
th_find(const char *group, const char *name)
{
	for (size_t i = 0; i < TH_NDEFS; i++)
	{
		if (strcmp(th_defs[i].group, group) != 0)
			continue;
		if ((name == NULL && th_defs[i].name == NULL) ||
			(name != NULL && th_defs[i].name != NULL && strcmp(th_defs[i].name, name) == 0))
			return &th_defs[i];
	}
	return NULL;
}

static bool
th_group_known(const char *group)
{
	for (size_t i = 0; i < TH_NDEFS; i++)
		if (strcmp(th_defs[i].group, group) == 0)
			return true;
	return false;
}

static bool
th_merge_tree(const cJSON *root, PerfoptThresholds *work, bool *touched,
			  char *err, size_t errsize)
{
	const cJSON *group;
	char		path[160];

	if (!cJSON_IsObject(root))
	{
		snprintf(err, errsize, "(document): must be a JSON object");
		return false;
	}
	cJSON_ArrayForEach(group, root)
	{
		const char *gname = group->string ? group->string : "";
		const ThDef *def = th_find(gname, NULL);
		const cJSON *item;

		if (!th_group_known(gname))
		{
			snprintf(err, errsize, "%.64s: unknown key", gname);
			return false;
		}
		if (def != NULL)
		{
			th_path(def, path, sizeof(path));
			if (!th_parse_pair(group, def, path, th_pair(work, def), err, errsize))
				return false;
			touched[def - th_defs] = true;
			continue;
		}
		if (!cJSON_IsObject(group))
		{
			snprintf(err, errsize, "%s: must be an object", gname);
			return false;
		}
		cJSON_ArrayForEach(item, group)
		{
			const char *iname = item->string ? item->string : "";

			def = th_find(gname, iname);
			if (def == NULL)
			{
				snprintf(err, errsize, "%s.%.64s: unknown key", gname, iname);
				return false;
			}
			th_path(def, path, sizeof(path));
			if (!th_parse_pair(item, def, path, th_pair(work, def), err, errsize))
				return false;
			touched[def - th_defs] = true;
		}
	}
	return true;
}

bool
thresholds_merge(PerfoptThresholds *th, const char *json, size_t len,
				 char *err, size_t errsize)
{
	PerfoptThresholds work = *th;
	bool		touched[TH_NDEFS] = {false};
	cJSON	   *root;
	bool		ok;

	if (errsize > 0)
		err[0] = '\0';
	root = cJSON_ParseWithLength(json, len);
	if (root == NULL)
	{
		snprintf(err, errsize, "(document): not valid JSON");
		return false;
	}
	ok = th_merge_tree(root, &work, touched, err, errsize);
	cJSON_Delete(root);

	/* only the pairs the document changed can be out of order now */
	for (size_t i = 0; ok && i < TH_NDEFS; i++)
	{
		char		path[160];

		if (!touched[i])
			continue;
		th_path(&th_defs[i], path, sizeof(path));
		ok = th_check_order(&th_defs[i], th_cpair(&work, &th_defs[i]), path, err, errsize);
	}
	if (ok)
		*th = work;
	return ok;
}

bool
thresholds_valid(const PerfoptThresholds *th, char *err, size_t errsize)
{
	for (size_t i = 0; i < TH_NDEFS; i++)
	{
		const ThresholdPair *p = th_cpair(th, &th_defs[i]);
		char		path[160];

		th_path(&th_defs[i], path, sizeof(path));
		if (th_defs[i].unit == TH_BYTES_PER_SECOND && isnan(p->warning) && isnan(p->critical))
			continue;
		if (!isfinite(p->warning) || !isfinite(p->critical) ||
			!th_check_range(&th_defs[i], path, "warning", p->warning, err, errsize) ||
			!th_check_range(&th_defs[i], path, "critical", p->critical, err, errsize) ||
			!th_check_order(&th_defs[i], p, path, err, errsize))
			return false;
	}
	return true;
}

/* the shortest text that reads back as the same double */
static void
th_number(double v, char *buf, size_t size)
{
	if (isnan(v))
	{
		snprintf(buf, size, "null");
		return;
	}
	/* whole numbers as such (a rate of 1000000, not 1e+06) */
	if (v == floor(v) && fabs(v) < 1e15)
	{
		snprintf(buf, size, "%.0f", v);
		return;
	}
	for (int precision = 6; precision <= 17; precision++)
	{
		snprintf(buf, size, "%.*g", precision, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

size_t
thresholds_render(const PerfoptThresholds *th, char *buf, size_t size)
{
	size_t		need = 0;
	const char *open_group = NULL;

	bufappend(buf, size, &need, "{");
	for (size_t i = 0; i < TH_NDEFS; i++)
	{
		const ThDef *def = &th_defs[i];
		const ThresholdPair *p = th_cpair(th, def);
		char		w[32];
		char		c[32];
		bool		same_group = open_group && strcmp(open_group, def->group) == 0;

		th_number(p->warning, w, sizeof(w));
		th_number(p->critical, c, sizeof(c));
		if (open_group && !same_group)
			bufappend(buf, size, &need, "}");
		if (!same_group)
			open_group = NULL;
		if (i > 0)
			bufappend(buf, size, &need, ", ");
		if (def->name == NULL)
			bufappend(buf, size, &need, "\"%s\": {\"warning\": %s, \"critical\": %s}", def->group, w, c);
		else
		{
			if (!same_group)
			{
				bufappend(buf, size, &need, "\"%s\": {", def->group);
				open_group = def->group;
			}
			bufappend(buf, size, &need, "\"%s\": {\"warning\": %s, \"critical\": %s}", def->name, w, c);
		}
	}
	if (open_group)
		bufappend(buf, size, &need, "}");
	bufappend(buf, size, &need, "}");
	return need;
}
