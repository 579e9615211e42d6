/*
 * test_sqlrepair.c — unit tests of src/common/sqlrepair.c: each repair,
 * text that must stay untouched (literals, identifiers, comments, dollar
 * quotes), and the output bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlrepair.h"

static int	passed;
static int	failed;

static void
expect(const char *in, const char *want, int want_repairs, int line)
{
	size_t		size = SQLREPAIR_OUTSIZE(strlen(in));
	char	   *out = malloc(size);
	int			r = sql_repair_normalized(in, out, size);

	if (r == want_repairs && strcmp(out, want) == 0)
		passed++;
	else
	{
		failed++;
		fprintf(stderr, "test_sqlrepair.c:%d: \"%s\" -> \"%s\" (%d repairs), want \"%s\" (%d)\n",
				line, in, out, r, want, want_repairs);
	}
	free(out);
}

#define EXPECT(in, want, n) expect(in, want, n, __LINE__)

int
main(void)
{
	char		small[8];

	EXPECT("SELECT 1", "SELECT 1", 0);
	EXPECT("", "", 0);
	EXPECT("SELECT * FROM t WHERE at > now() - interval $1",
		   "SELECT * FROM t WHERE at > now() - $1::interval", 1);
	EXPECT("SELECT * FROM t WHERE d = DATE $2 AND x = 1",
		   "SELECT * FROM t WHERE d = $2::DATE AND x = 1", 1);
	EXPECT("SELECT EXTRACT($1 FROM at) FROM t",
		   "SELECT EXTRACT(epoch FROM at) FROM t", 1);
	EXPECT("select extract( $12 from at), interval $3, timestamptz $4",
		   "select extract( epoch from at), $3::interval, $4::timestamptz", 3);
	/* not a typed literal: keywords and identifiers before a parameter */
	EXPECT("SELECT * FROM t LIMIT $1 OFFSET $2", "SELECT * FROM t LIMIT $1 OFFSET $2", 0);
	EXPECT("SELECT myinterval $1", "SELECT myinterval $1", 0);
	EXPECT("SELECT interval$1", "SELECT interval$1", 0);
	EXPECT("SELECT interval $1x", "SELECT interval $1x", 0);
	/* literals, quoted identifiers, comments and dollar quotes stay as they are */
	EXPECT("SELECT 'interval $1', \"date $1\" -- date $1\n, 1",
		   "SELECT 'interval $1', \"date $1\" -- date $1\n, 1", 0);
	EXPECT("SELECT /* interval $1 */ $$ date $1 $$, $q$ extract($1 from x) $q$",
		   "SELECT /* interval $1 */ $$ date $1 $$, $q$ extract($1 from x) $q$", 0);
	EXPECT("SELECT 'it''s', interval $1", "SELECT 'it''s', $1::interval", 1);
	/* unterminated quotes and comments are copied to the end */
	EXPECT("SELECT 'open interval $1", "SELECT 'open interval $1", 0);
	EXPECT("SELECT /* open interval $1", "SELECT /* open interval $1", 0);
	EXPECT("SELECT $", "SELECT $", 0);
	EXPECT("$1", "$1", 0);
	EXPECT("date $1", "$1::date", 1);
	/* a buffer that is too small is refused, never overrun */
	if (sql_repair_normalized("SELECT interval $1", small, sizeof(small)) == -1)
		passed++;
	else
		failed++;
	if (sql_repair_normalized("x", small, 0) == -1)
		passed++;
	else
		failed++;

	printf("%d passed, %d failed\n", passed, failed);
	return failed > 0;
}
