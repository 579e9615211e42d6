/*
 * body.c — request bodies: a JSON object (PUT /thresholds, monitoring
 * start) and the bulk resolve body {"ids": [...]}, read with cJSON from
 * a NUL-terminated copy; refused before the database sees them when they
 * are not valid UTF-8, hold a NUL or a \u0000 escape (which jsonb cannot
 * store), or are not exactly what the route takes.
 *
 * Every input may be hostile: no function aborts, reads past the given
 * length, or keeps anything it allocates unless it hands it back.
 */
#include "body.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "params.h"
#include "strutil.h"
#include "text.h"

static bool
json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * A "\u0000" escape inside a JSON string of s[0..len): cJSON reads it as
 * the end of the string (a key "a\u0000b" becomes "a"), jsonb refuses it.
 * "\\u0000" is an escaped backslash and then text, not the escape.
 */
static bool
json_nul_escape(const char *s, size_t len)
{
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		if (!in_string)
			in_string = s[i] == '"';
		else if (s[i] == '"')
			in_string = false;
		else if (s[i] == '\\')
		{
			if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
				return true;
			i++;				/* the escaped character */
		}
	}
	return false;
}

/*
 * body[0..len) as one JSON value with nothing but whitespace after it, or
 * NULL with err.  cJSON reads a NUL-terminated copy, so it cannot run past
 * the body whatever it does.
 */
static cJSON *
parse_body(const char *body, size_t len, char *err, size_t errsize)
{
	char	   *copy;
	const char *end = NULL;
	cJSON	   *root;

	if (body == NULL || len == 0 || len == SIZE_MAX)
	{
		hd_err(err, errsize, "body: not valid JSON");
		return NULL;
	}
	if (memchr(body, '\0', len) != NULL)
	{
		hd_err(err, errsize, "body: not valid JSON (a NUL byte)");
		return NULL;
	}
	/* PostgreSQL would refuse both, as a server error rather than bad input */
	if (!hd_utf8_valid(body, len))
	{
		hd_err(err, errsize, "body: not valid UTF-8");
		return NULL;
	}
	if (json_nul_escape(body, len))
	{
		hd_err(err, errsize, "body: \\u0000 is not allowed (jsonb cannot store it)");
		return NULL;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
	{
		hd_err(err, errsize, "body: out of memory");
		return NULL;
	}
	memcpy(copy, body, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len, &end, false);
	if (root != NULL)
	{
		while (end < copy + len && json_ws(*end))
			end++;
		if (end != copy + len)
		{
			cJSON_Delete(root);
			root = NULL;
		}
	}
	free(copy);
	if (root == NULL)
		hd_err(err, errsize, "body: not valid JSON");
	return root;
}

int
hd_check_json_object(const char *body, size_t len, char *err, size_t errsize)
{
	cJSON	   *root;
	bool		ok;

	hd_err(err, errsize, "%s", "");
	root = parse_body(body, len, err, errsize);
	if (root == NULL)
		return -1;
	ok = cJSON_IsObject(root);
	cJSON_Delete(root);
	if (!ok)
	{
		hd_err(err, errsize, "body: must be a JSON object");
		return -1;
	}
	return 0;
}

/* the raw key k[0..n) (escapes and all) spells exactly "ids" */
static bool
raw_key_is_ids(const char *k, size_t n)
{
	static const char want[] = "ids";
	size_t		i = 0;
	size_t		got = 0;

	while (i < n)
	{
		unsigned	c;

		if (k[i] == '\\')
		{
			if (n - i < 6 || k[i + 1] != 'u')
				return false;
			c = 0;
			for (int j = 2; j < 6; j++)
			{
				int			h = hex_value(k[i + j]);

				if (h < 0)
					return false;
				c = c * 16 + (unsigned) h;
			}
			i += 6;
		}
		else
			c = (unsigned char) k[i++];
		if (got >= 3 || c != (unsigned char) want[got])
			return false;
		got++;
	}
	return got == 3;
}

/*
 * The raw text of a document cJSON read as {"<key>": [...]}: a pointer
 * just past the '[', with *key and *klen the raw key; NULL if it is not.
 */
static const char *
raw_array_start(const char *s, const char *end, const char **key, size_t *klen)
{
	/* cJSON skips a UTF-8 byte order mark and anything <= ' ' */
	if (end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (s < end && (unsigned char) *s <= ' ')
		s++;
	if (s == end || *s++ != '{')
		return NULL;
	while (s < end && (unsigned char) *s <= ' ')
		s++;
	if (s == end || *s++ != '"')
		return NULL;
	*key = s;
	while (s < end && *s != '"')
		s += (*s == '\\' && end - s >= 2) ? 2 : 1;
	if (s >= end)
		return NULL;
	*klen = (size_t) (s - *key);
	s++;
	while (s < end && (unsigned char) *s <= ' ')
		s++;
	if (s == end || *s++ != ':')
		return NULL;
	while (s < end && (unsigned char) *s <= ' ')
		s++;
	if (s == end || *s++ != '[')
		return NULL;
	return s;
}

static bool
number_char(char c)
{
	return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

int
hd_parse_ids(const char *body, size_t len, int max, int64_t **ids, int *n,
			 char *err, size_t errsize)
{
	cJSON	   *root;
	const cJSON *item;
	const cJSON *arr = NULL;
	const char *end;
	const char *p;
	const char *key;
	size_t		klen;
	size_t		count = 0;
	int64_t    *out = NULL;
	int			i = 0;

	hd_err(err, errsize, "%s", "");
	if (ids == NULL || n == NULL)
	{
		hd_err(err, errsize, "ids: nowhere to put them");
		return -1;
	}
	*ids = NULL;
	*n = 0;
	root = parse_body(body, len, err, errsize);
	if (root == NULL)
		return -1;
	if (!cJSON_IsObject(root))
	{
		hd_err(err, errsize, "body: must be a JSON object {\"ids\": [...]}");
		goto fail;
	}
	cJSON_ArrayForEach(item, root)
	{
		if (item->string == NULL || strcmp(item->string, "ids") != 0)
		{
			hd_err(err, errsize, "%.64s: unknown key", item->string ? item->string : "");
			goto fail;
		}
		if (arr != NULL)
		{
			hd_err(err, errsize, "ids: given twice");
			goto fail;
		}
		arr = item;
	}
	if (arr == NULL)
	{
		hd_err(err, errsize, "ids: missing");
		goto fail;
	}
	if (!cJSON_IsArray(arr))
	{
		hd_err(err, errsize, "ids: must be an array of positive integers");
		goto fail;
	}
	cJSON_ArrayForEach(item, arr)
	{
		if (++count > (size_t) (max > 0 ? max : 0))
			break;
	}
	if (count == 0)
	{
		hd_err(err, errsize, "ids: must not be empty");
		goto fail;
	}
	if (count > (size_t) (max > 0 ? max : 0))
	{
		hd_err(err, errsize, "ids: at most %d ids", max > 0 ? max : 0);
		goto fail;
	}

	/*
	 * cJSON keeps numbers as doubles only: the digits are read from the
	 * text, which is exactly {"ids": [n, n, ...]} by now.
	 */
	end = body + len;
	p = raw_array_start(body, end, &key, &klen);
	if (p == NULL || !raw_key_is_ids(key, klen))
	{
		hd_err(err, errsize, "body: only the key \"ids\" is allowed");
		goto fail;
	}
	out = malloc(count * sizeof(int64_t));
	if (out == NULL)
	{
		hd_err(err, errsize, "ids: out of memory");
		goto fail;
	}
	cJSON_ArrayForEach(item, arr)
	{
		const char *t;

		while (p < end && (unsigned char) *p <= ' ')
			p++;
		t = p;
		while (p < end && number_char(*p))
			p++;
		if (!cJSON_IsNumber(item) || !hd_parse_dec(t, (size_t) (p - t), false, &out[i]) ||
			out[i] < 1)
		{
			hd_err(err, errsize, "ids[%d]: must be a positive integer", i);
			goto fail;
		}
		i++;
		while (p < end && (unsigned char) *p <= ' ')
			p++;
		if (p == end || (*p != ',' && *p != ']'))
		{
			/* cannot happen after cJSON read it; refuse rather than guess */
			hd_err(err, errsize, "body: not valid JSON");
			goto fail;
		}
		p++;
	}
	cJSON_Delete(root);
	*ids = out;
	*n = i;
	return 0;

fail:
	free(out);
	cJSON_Delete(root);
	return -1;
}

