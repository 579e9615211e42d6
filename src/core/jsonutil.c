/*
 * jsonutil.c — the JSON helpers every part's documents use: a number (null
 * for NaN and infinities, no trailing zeros), a timestamp as JSON encodes
 * it (null for 0), and a jsonb Datum from JSON text.  Formatting only: no
 * locks, no shared memory.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "jsonutil.h"

void
perfopt_json_number(StringInfo buf, double v)
{
	char		tmp[64];
	int			len;

	if (isnan(v) || isinf(v))
	{
		appendStringInfoString(buf, "null");
		return;
	}
	if (fabs(v) >= 1e15)
		snprintf(tmp, sizeof(tmp), "%.6e", v);
	else if (v == floor(v))
		snprintf(tmp, sizeof(tmp), "%.0f", v);
	else
	{
		snprintf(tmp, sizeof(tmp), "%.4f", v);
		len = strlen(tmp);
		while (len > 0 && tmp[len - 1] == '0')
			tmp[--len] = '\0';
		if (len > 0 && tmp[len - 1] == '.')
			tmp[--len] = '\0';
		/* tiny values would print as 0 */
		if (strcmp(tmp, "0") == 0 || strcmp(tmp, "-0") == 0)
			snprintf(tmp, sizeof(tmp), "%.6g", v);
	}
	appendStringInfoString(buf, tmp);
}

void
perfopt_json_timestamp(StringInfo buf, TimestampTz t)
{
	char		tmp[MAXDATELEN + 1];

	if (t == 0)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	JsonEncodeDateTime(tmp, TimestampTzGetDatum(t), TIMESTAMPTZOID, NULL);
	escape_json(buf, tmp);
}

Datum
perfopt_jsonb_from_text(const char *json)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}
