/*
 * replica.c — the primary's side of replica workloads: perfopt.advisor_standbys
 * (libpq connection strings separated by ';'), reading each standby's
 * perfopt_replica_workload() (replicaread.c) with libpq, and merging what
 * they ran into the advisor's workload by text, role and database.
 *
 * The connection never blocks the process: PQconnectStartParams and
 * PQconnectPoll, then PQsendQueryParams in non-blocking mode, each wait in
 * WaitLatchOrSocket with CHECK_FOR_INTERRUPTS, the whole exchange bounded
 * by perfopt.advisor_standby_timeout (the standby's statement_timeout is
 * set to it too).  The session takes the role perfopt_replica_reader
 * before it calls the function: the login role needs only the membership
 * (NOINHERIT will do), and a superuser login reads as the reader.  A
 * standby that fails is skipped with a WARNING naming it by host and port
 * (never its password) and recorded for perfopt_advisor_standbys()
 * (replicastatus.c); the advice goes on with what the other servers ran.
 *
 * Merging: a standby's statement of this database is matched with the
 * primary's of the same text and role (the role by name: a physical
 * standby has the primary's roles) and adds its calls, times and rows; an
 * unmatched one joins the workload.  Each server's part (its calls and
 * value sets) is kept on the statement, so that valuecost.c costs it over
 * every server's samples, each weighted by its server's share of the
 * calls.  The value samples received stay in the advise run's memory:
 * nothing here logs, stores or returns them, and libpq's copy is wiped
 * once parsed.  Planning happens on the primary only (same schema), and
 * the index it recommends is built there and replays to the standbys.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "common/hashfn.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "advisor.h"
#include "extschema.h"
#include "perfopt.h"
#include "replica.h"
#include "replicastatus.h"
#include "valuestore.h"

char	   *perfopt_standby_conninfos = NULL;
int			perfopt_advisor_standby_timeout = 10000;

/* ---- the setting ---- */

/*
 * The entries of a perfopt.advisor_standbys value: split at each ';'
 * outside a single-quoted value (where libpq's syntax allows any
 * character, a backslash escaping the next), blanks around them trimmed,
 * empty ones left out.  palloc'd strings.
 */
static List *
rp_split(const char *value)
{
	List	   *entries = NIL;
	StringInfoData cur;
	bool		quoted = false;

	initStringInfo(&cur);
	for (const char *p = value ? value : "";; p++)
	{
		if (*p == '\0' || (*p == ';' && !quoted))
		{
			char	   *s = cur.data;
			int			len = cur.len;

			while (len > 0 && isspace((unsigned char) s[len - 1]))
				s[--len] = '\0';
			while (isspace((unsigned char) *s))
				s++;
			if (*s != '\0')
				entries = lappend(entries, pstrdup(s));
			resetStringInfo(&cur);
			if (*p == '\0')
				break;
			continue;
		}
		if (quoted && *p == '\\' && p[1] != '\0')
		{
			appendStringInfoChar(&cur, *p++);
			appendStringInfoChar(&cur, *p);
			continue;
		}
		if (*p == '\'')
			quoted = !quoted;
		appendStringInfoChar(&cur, *p);
	}
	pfree(cur.data);
	return entries;
}

/*
 * Check hook: at most PERFOPT_MAX_STANDBYS entries, each one libpq parses.
 * The message never repeats the value (it may hold a password).
 */
static bool
rp_check_standbys(char **newval, void **extra, GucSource source)
{
	List	   *entries = rp_split(*newval);
	int			n = 0;
	ListCell   *lc;

	if (list_length(entries) > PERFOPT_MAX_STANDBYS)
	{
		GUC_check_errmsg("perfopt.advisor_standbys lists %d standbys, more than %d",
						 list_length(entries), PERFOPT_MAX_STANDBYS);
		return false;
	}
	foreach(lc, entries)
	{
		char	   *err = NULL;
		PQconninfoOption *opts = PQconninfoParse(lfirst(lc), &err);

		n++;
		if (err)
			PQfreemem(err);		/* it may quote part of the entry: not shown */
		if (opts == NULL)
		{
			GUC_check_errmsg("entry %d of perfopt.advisor_standbys is not a valid connection string", n);
			GUC_check_errdetail("Entries are libpq connection strings (key=value pairs or URIs) separated by \";\".");
			GUC_check_errhint("A \";\" inside a value must be in single quotes, or percent-encoded in a URI; keep passwords in a password file.");
			return false;
		}
		PQconninfoFree(opts);
	}
	return true;
}

void
perfopt_replica_define_gucs(void)
{
	DefineCustomStringVariable("perfopt.advisor_standbys",
							   "Standbys whose statements the advisor adds to the primary's workload: libpq connection strings separated by \";\".",
							   "Each standby is read through perfopt_replica_workload(), which only members of perfopt_replica_reader may call.",
							   &perfopt_standby_conninfos, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   rp_check_standbys, NULL, NULL);
	DefineCustomIntVariable("perfopt.advisor_standby_timeout",
							"Time the advisor waits for one standby's workload, connecting included.",
							NULL, &perfopt_advisor_standby_timeout, 10000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
}

bool
adv_replica_standbys_listed(void)
{
	return perfopt_standby_conninfos != NULL && rp_split(perfopt_standby_conninfos) != NIL;
}

/* ---- one standby ---- */

/* a standby's name for messages and the status: its position, host and port only */
static char *
rp_display_name(int n, PQconninfoOption *opts)
{
	StringInfoData buf;
	const char *host = NULL;
	const char *hostaddr = NULL;
	const char *port = NULL;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
	}
	initStringInfo(&buf);
	appendStringInfo(&buf, "%d (host=%.100s port=%.20s)", n,
					 host ? host : hostaddr ? hostaddr : "(default)", port ? port : "(default)");
	return buf.data;
}

typedef struct RpConn
{
	PGconn	   *conn;
	TimestampTz deadline;
	char	   *error;			/* why it failed, for the WARNING and the status */
} RpConn;

/* libpq's message, one line, palloc'd */
static char *
rp_pq_error(PGconn *conn, const char *what)
{
	char	   *msg = pstrdup(conn ? PQerrorMessage(conn) : "out of memory");
	int			len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return psprintf("%s: %s", what, len > 0 ? msg : "(no message)");
}

/*
 * Wait for the socket (events) or the deadline, serving interrupts; false
 * with rc->error set when the deadline passed.  *ready: the socket
 * events that happened.
 */
static bool
rp_wait(RpConn *rc, int events, int *ready)
{
	long		left = (long) ((rc->deadline - GetCurrentTimestamp()) / 1000);
	int			r;

	*ready = 0;
	if (PQsocket(rc->conn) < 0)
	{
		rc->error = rp_pq_error(rc->conn, "the connection has no socket");
		return false;
	}
	if (left <= 0)
	{
		rc->error = psprintf("no answer within perfopt.advisor_standby_timeout (%d ms)",
							 perfopt_advisor_standby_timeout);
		return false;
	}
	r = WaitLatchOrSocket(MyLatch, events | WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						  PQsocket(rc->conn), left, PG_WAIT_EXTENSION);
	if (r & WL_LATCH_SET)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	*ready = r & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE);
	return true;
}

/* connect without blocking; false with rc->error set */
static bool
rp_connect(RpConn *rc, const char *const *keywords, const char *const *values)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	rc->conn = PQconnectStartParams(keywords, values, 0);
	if (rc->conn == NULL || PQstatus(rc->conn) == CONNECTION_BAD)
	{
		rc->error = rp_pq_error(rc->conn, "could not connect");
		return false;
	}
	while (st != PGRES_POLLING_OK)
	{
		int			ready;

		if (st == PGRES_POLLING_FAILED)
		{
			rc->error = rp_pq_error(rc->conn, "could not connect");
			return false;
		}
		if (!rp_wait(rc, st == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE, &ready))
			return false;
		if (ready)
			st = PQconnectPoll(rc->conn);
	}
	return true;
}

/* send the query and wait for its one result; NULL with rc->error set (what: for it) */
static PGresult *
rp_query(RpConn *rc, const char *what, const char *sql, int nparams, const char *const *params)
{
	PGresult   *result = NULL;
	PGresult   *res;
	int			ready;

	if (PQsetnonblocking(rc->conn, 1) != 0 ||
		!PQsendQueryParams(rc->conn, sql, nparams, NULL, params, NULL, NULL, 0))
	{
		rc->error = rp_pq_error(rc->conn, "could not send the query");
		return NULL;
	}
	for (;;)
	{
		int			f = PQflush(rc->conn);

		if (f == 0)
			break;
		if (f < 0)
		{
			rc->error = rp_pq_error(rc->conn, "could not send the query");
			return NULL;
		}
		if (!rp_wait(rc, WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE, &ready))
			return NULL;
		if ((ready & WL_SOCKET_READABLE) && !PQconsumeInput(rc->conn))
		{
			rc->error = rp_pq_error(rc->conn, "could not read the answer");
			return NULL;
		}
	}
	for (;;)
	{
		while (PQisBusy(rc->conn))
		{
			if (!rp_wait(rc, WL_SOCKET_READABLE, &ready))
			{
				PQclear(result);
				return NULL;
			}
			if (ready && !PQconsumeInput(rc->conn))
			{
				PQclear(result);
				rc->error = rp_pq_error(rc->conn, "could not read the answer");
				return NULL;
			}
		}
		res = PQgetResult(rc->conn);
		if (res == NULL)
			break;
		if (result == NULL)
			result = res;
		else
			PQclear(res);
	}
	if (result == NULL || PQresultStatus(result) != PGRES_TUPLES_OK)
	{
		char	   *msg = result ? PQresultErrorMessage(result) : "no result";
		const char *state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;

		rc->error = psprintf("%s failed%s%s%s: %s", what,
							 state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "",
							 pnstrdup(msg, strcspn(msg, "\n")));
		PQclear(result);
		return NULL;
	}
	return result;
}

/* a statement one standby ran, as perfopt_replica_workload() returned it */
typedef struct RpRemote
{
	char	   *rolname;
	int64		queryid;
	char	   *query;
	double		calls;
	double		total_time_ms;
	double		mean_time_ms;
	double		rows;
	List	   *sets;			/* PerfoptValueSet */
} RpRemote;

/* the elements of the text form of a one-dimensional array (NULL for NULL) */
static int
rp_array_elements(const char *text, Oid elemtype, Datum **elems, bool **nulls)
{
	ArrayType  *arr = DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN, unconstify(char *, text),
															  elemtype, -1));
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("a standby's value samples have an unexpected shape")));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign, elems, nulls, &n);
	return n;
}

/* value_weights and value_sets of one row into PerfoptValueSet */
static List *
rp_parse_sets(const char *weights_text, const char *sets_text)
{
	Datum	   *w;
	bool	   *wnull;
	Datum	   *s;
	bool	   *snull;
	int			nw = rp_array_elements(weights_text, INT4OID, &w, &wnull);
	int			ns = rp_array_elements(sets_text, TEXTOID, &s, &snull);
	List	   *result = NIL;

	/* no more sets than a store keeps per statement, whatever was sent */
	for (int i = 0; i < Min(Min(nw, ns), PERFOPT_VALUE_SETS); i++)
	{
		PerfoptValueSet *set;
		Datum	   *v;
		bool	   *vnull;
		int			nv;

		if (wnull[i] || snull[i] || DatumGetInt32(w[i]) <= 0)
			continue;
		nv = rp_array_elements(TextDatumGetCString(s[i]), TEXTOID, &v, &vnull);
		set = palloc(sizeof(PerfoptValueSet));
		set->weight = DatumGetInt32(w[i]);
		set->nparams = nv;
		set->values = palloc(sizeof(char *) * Max(nv, 1));
		for (int k = 0; k < nv; k++)
			set->values[k] = vnull[k] ? NULL : TextDatumGetCString(v[k]);
		result = lappend(result, set);
	}
	return result;
}

#define RP_NCOLS 9

/* the rows of the answer (rp_clear wipes libpq's copy of the values) */
static List *
rp_parse(PGresult *res, char **error)
{
	List	   *rows = NIL;

	if (PQnfields(res) != RP_NCOLS)
	{
		*error = psprintf("perfopt_replica_workload() returned %d columns, not %d", PQnfields(res), RP_NCOLS);
		return NIL;
	}
	/* the query asked for at most perfopt.advisor_max_statements */
	for (int i = 0; i < Min(PQntuples(res), perfopt_advisor_max_statements); i++)
	{
		RpRemote   *r = palloc0(sizeof(RpRemote));

		CHECK_FOR_INTERRUPTS();
		r->rolname = pstrdup(PQgetvalue(res, i, 0));
		r->queryid = (int64) strtoll(PQgetvalue(res, i, 1), NULL, 10);
		r->query = pstrdup(PQgetvalue(res, i, 2));
		r->calls = strtod(PQgetvalue(res, i, 3), NULL);
		r->total_time_ms = strtod(PQgetvalue(res, i, 4), NULL);
		r->mean_time_ms = strtod(PQgetvalue(res, i, 5), NULL);
		r->rows = strtod(PQgetvalue(res, i, 6), NULL);
		if (!PQgetisnull(res, i, 7) && !PQgetisnull(res, i, 8))
			r->sets = rp_parse_sets(PQgetvalue(res, i, 7), PQgetvalue(res, i, 8));
		if (r->calls > 0)
			rows = lappend(rows, r);
	}
	return rows;
}

/* free an answer, its value samples wiped first (however rp_parse ended) */
static void
rp_clear(PGresult *res)
{
	if (res != NULL && PQnfields(res) == RP_NCOLS)
		for (int i = 0; i < PQntuples(res); i++)
			explicit_bzero(PQgetvalue(res, i, 8), PQgetlength(res, i, 8));
	PQclear(res);
}

/* ---- index scans on the standbys ---- */

/* an index's scans summed over the standbys read in this advise run */
typedef struct RpScans
{
	Oid			indexrelid;
	double		scans;
} RpScans;

/* in the advise run's memory (rp_scans_begin): NULL outside a run that read them */
static HTAB *rp_scans = NULL;
static bool rp_scans_complete = false;
static MemoryContextCallback rp_scans_cb;

static void
rp_scans_forget(void *arg)
{
	rp_scans = NULL;
	rp_scans_complete = false;
}

static void
rp_scans_begin(void)
{
	HASHCTL		info;

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(Oid);
	info.entrysize = sizeof(RpScans);
	info.hcxt = CurrentMemoryContext;
	rp_scans = hash_create("perfopt standby index scans", 256, &info,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	rp_scans_complete = true;
	rp_scans_cb.func = rp_scans_forget;
	rp_scans_cb.arg = NULL;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &rp_scans_cb);
}

/* add one standby's answer: (indexrelid, idx_scan) rows */
static void
rp_scans_add(PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++)
	{
		Oid			indexrelid = (Oid) strtoul(PQgetvalue(res, i, 0), NULL, 10);
		RpScans    *entry;
		bool		found;

		entry = hash_search(rp_scans, &indexrelid, HASH_ENTER, &found);
		if (!found)
			entry->scans = 0;
		entry->scans += strtod(PQgetvalue(res, i, 1), NULL);
	}
}

double
adv_replica_index_scans(Oid indexrelid)
{
	RpScans    *entry;

	/* (rp_scans exists only after a merge that had standbys to read) */
	if (rp_scans == NULL)
		return adv_replica_standbys_listed() ? -1 : 0;
	if (!rp_scans_complete)
		return -1;
	entry = hash_search(rp_scans, &indexrelid, HASH_FIND, NULL);
	return entry ? entry->scans : 0;
}

/*
 * The statements the standby of this entry ran in this database; NIL with
 * *error set when it could not be read.  The connection is closed however
 * this ends, an interrupt's ERROR included.
 */
static List *
rp_fetch(const char *entry, const char *dbname, char **error)
{
	PQconninfoOption *opts = PQconninfoParse(entry, NULL);
	const char **keywords;
	const char **values;
	int			n = 0;
	bool		has_dbname = false;
	const char *user_options = NULL;
	RpConn	   *rc = palloc0(sizeof(RpConn));
	PGresult   *volatile res = NULL;
	List	   *volatile rows = NIL;
	Oid			schema = perfopt_extension_schema(false);
	char	   *sql;
	char		slow[32];
	char		limit[32];
	const char *params[3];

	*error = NULL;
	if (opts == NULL)
	{
		*error = pstrdup("not a valid connection string");
		return NIL;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	keywords = palloc0(sizeof(char *) * (n + 4));
	values = palloc0(sizeof(char *) * (n + 4));
	n = 0;
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "options") == 0)
		{
			user_options = o->val;
			continue;
		}
		if (strcmp(o->keyword, "dbname") == 0)
			has_dbname = true;
		keywords[n] = o->keyword;
		values[n++] = o->val;
	}
	if (!has_dbname)
	{
		keywords[n] = "dbname";
		values[n++] = dbname;
	}
	keywords[n] = "fallback_application_name";
	values[n++] = "perfopt replica workload";
	keywords[n] = "options";
	values[n++] = psprintf("%s%s-c statement_timeout=%d", user_options ? user_options : "",
						   user_options ? " " : "", perfopt_advisor_standby_timeout);

	rc->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), perfopt_advisor_standby_timeout);

	sql = psprintf("/* perfopt */ SELECT w.rolname, w.queryid, w.query, w.calls, w.total_exec_time,"
				   " w.mean_exec_time, w.rows, w.value_weights, w.value_sets"
				   " FROM %s.perfopt_replica_workload() w WHERE w.datname OPERATOR(pg_catalog.=) $1"
				   " ORDER BY w.mean_exec_time OPERATOR(pg_catalog.>=) $2 DESC, w.total_exec_time DESC LIMIT $3",
				   quote_identifier(get_namespace_name(schema)));
	snprintf(slow, sizeof(slow), "%d", perfopt_slow_query_ms);
	snprintf(limit, sizeof(limit), "%d", perfopt_advisor_max_statements);
	params[0] = dbname;
	params[1] = slow;
	params[2] = limit;

	PG_TRY();
	{
		/* as the reader itself: the login role needs only the membership */
		if (rp_connect(rc, keywords, values))
			res = rp_query(rc, "SET ROLE perfopt_replica_reader",
						   "/* perfopt */ SELECT pg_catalog.set_config('role', 'perfopt_replica_reader', false)",
						   0, NULL);
		if (res != NULL)
		{
			PQclear(res);
			res = NULL;
			res = rp_query(rc, "perfopt_replica_workload()", sql, 3, params);
		}
		if (res != NULL)
			rows = rp_parse(res, &rc->error);
		rp_clear(res);
		res = NULL;
		/* (a physical standby: the primary's OIDs) */
		if (rc->error == NULL)
			res = rp_query(rc, "pg_stat_user_indexes",
						   "/* perfopt */ SELECT indexrelid, idx_scan FROM pg_catalog.pg_stat_user_indexes"
						   " WHERE idx_scan OPERATOR(pg_catalog.>) 0", 0, NULL);
		if (res != NULL && PQnfields(res) == 2)
			rp_scans_add(res);
		else
		{
			rows = NIL;
			if (rc->error == NULL)
				rc->error = pstrdup("pg_stat_user_indexes returned an unexpected answer");
		}
		PQclear(res);
		res = NULL;
	}
	PG_FINALLY();
	{
		rp_clear(res);
		PQfinish(rc->conn);
		PQconninfoFree(opts);
	}
	PG_END_TRY();
	*error = rc->error;
	return rows;
}

/* ---- merging ---- */

typedef struct RpKey
{
	Oid			userid;
	uint32		texthash;
} RpKey;

typedef struct RpEntry
{
	RpKey		key;
	List	   *statements;		/* AdvStatement of this key (hash collisions share it) */
} RpEntry;

static AdvStatement *
rp_find(HTAB *h, Oid userid, const char *text)
{
	RpKey		key;
	RpEntry    *e;
	ListCell   *lc;

	memset(&key, 0, sizeof(key));
	key.userid = userid;
	key.texthash = hash_bytes((const unsigned char *) text, strlen(text));
	e = hash_search(h, &key, HASH_FIND, NULL);
	if (e)
		foreach(lc, e->statements)
		{
			AdvStatement *st = lfirst(lc);

			if (strcmp(st->text, text) == 0)
				return st;
		}
	return NULL;
}

static void
rp_add(HTAB *h, AdvStatement *st)
{
	RpKey		key;
	RpEntry    *e;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.userid = st->userid;
	key.texthash = hash_bytes((const unsigned char *) st->text, strlen(st->text));
	e = hash_search(h, &key, HASH_ENTER, &found);
	if (!found)
		e->statements = NIL;
	e->statements = lappend(e->statements, st);
}

static AdvReplicaPart *
rp_part(double calls, bool local, List *sets)
{
	AdvReplicaPart *p = palloc(sizeof(AdvReplicaPart));

	p->calls = calls;
	p->local = local;
	p->sets = sets;
	return p;
}

/* workload.c's order: slow statements first, then by total time */
static int
rp_order(const ListCell *a, const ListCell *b)
{
	const AdvStatement *x = lfirst(a);
	const AdvStatement *y = lfirst(b);
	bool		xs = x->mean_time_ms >= perfopt_slow_query_ms;
	bool		ys = y->mean_time_ms >= perfopt_slow_query_ms;

	if (xs != ys)
		return xs ? -1 : 1;
	return (x->total_time_ms < y->total_time_ms) - (x->total_time_ms > y->total_time_ms);
}

/* one standby's rows into the workload; the number of statements it contributed */
static int
rp_merge_rows(List **statements, HTAB *h, List *rows)
{
	ListCell   *lc;
	int			merged = 0;

	foreach(lc, rows)
	{
		RpRemote   *r = lfirst(lc);
		Oid			userid = get_role_oid(r->rolname, true);
		AdvStatement *st;

		if (!OidIsValid(userid))
			continue;			/* a role the primary does not have */
		st = rp_find(h, userid, r->query);
		if (st == NULL)
		{
			st = palloc0(sizeof(AdvStatement));
			st->queryid = r->queryid;
			st->userid = userid;
			st->text = r->query;
			*statements = lappend(*statements, st);
			rp_add(h, st);
		}
		else if (st->replica_parts == NIL)
			st->replica_parts = list_make1(rp_part(st->calls, true, NIL));
		st->replica_parts = lappend(st->replica_parts, rp_part(r->calls, false, r->sets));
		st->calls += r->calls;
		st->total_time_ms += r->total_time_ms;
		st->rows += r->rows;
		st->mean_time_ms = st->calls > 0 ? st->total_time_ms / st->calls : 0;
		merged++;
	}
	return merged;
}

List *
adv_replica_merge(List *statements)
{
	List	   *entries;
	HTAB	   *h;
	HASHCTL		info;
	ListCell   *lc;
	char	   *dbname;
	int			n = 0;

	if (perfopt_standby_conninfos == NULL || perfopt_standby_conninfos[0] == '\0')
		return statements;
	entries = rp_split(perfopt_standby_conninfos);
	if (entries == NIL)
		return statements;
	dbname = get_database_name(MyDatabaseId);
	rp_scans_begin();

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(RpKey);
	info.entrysize = sizeof(RpEntry);
	info.hcxt = CurrentMemoryContext;
	h = hash_create("perfopt workload by text", 1024, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	foreach(lc, statements)
		rp_add(h, lfirst(lc));

	foreach(lc, entries)
	{
		const char *entry = lfirst(lc);
		PQconninfoOption *opts = PQconninfoParse(entry, NULL);
		char	   *name = rp_display_name(++n, opts);
		char	   *error = NULL;
		List	   *rows;

		if (opts)
			PQconninfoFree(opts);
		rows = rp_fetch(entry, dbname, &error);
		if (error != NULL)
		{
			ereport(WARNING,
					(errmsg("could not read the workload of standby %s: %s", name, error),
					 errdetail("The advisor goes on without that standby's statements."),
					 errhint("perfopt_advisor_standbys() shows each standby's last attempt.")));
			adv_replica_status_record(name, false, 0, error);
			rp_scans_complete = false;
			continue;
		}
		adv_replica_status_record(name, true, rp_merge_rows(&statements, h, rows), NULL);
	}
	hash_destroy(h);
	list_sort(statements, rp_order);
	if (list_length(statements) > perfopt_advisor_max_statements)
		statements = list_truncate(statements, perfopt_advisor_max_statements);
	return statements;
}

/* ---- value samples over every server ---- */

/* two sets of the same values? */
static bool
rp_same_set(const PerfoptValueSet *a, const PerfoptValueSet *b)
{
	if (a->nparams != b->nparams)
		return false;
	for (int i = 0; i < a->nparams; i++)
	{
		if ((a->values[i] == NULL) != (b->values[i] == NULL))
			return false;
		if (a->values[i] && strcmp(a->values[i], b->values[i]) != 0)
			return false;
	}
	return true;
}

/*
 * Weights: a set's share of its server's samples times that server's share
 * of the calls (among the servers that kept samples), identical sets of
 * several servers summed, scaled to integers out of 1000.
 */
#define RP_WEIGHT_SCALE 1000.0

List *
adv_replica_value_samples(AdvStatement *st, List *local)
{
	double		calls = 0;
	int			nsets = 0;
	PerfoptValueSet **sets;
	double	   *weights;
	List	   *result = NIL;
	ListCell   *lc;

	/* sampling off here: the advisor ignores every server's values */
	if (st->replica_parts == NIL || perfopt_value_sample_rate <= 0)
		return local;
	foreach(lc, st->replica_parts)
	{
		AdvReplicaPart *p = lfirst(lc);

		if ((p->local ? local : p->sets) != NIL)
		{
			calls += p->calls;
			nsets += list_length(p->local ? local : p->sets);
		}
	}
	if (calls <= 0 || nsets == 0)
		return NIL;
	sets = palloc(sizeof(PerfoptValueSet *) * nsets);
	weights = palloc0(sizeof(double) * nsets);
	nsets = 0;
	foreach(lc, st->replica_parts)
	{
		AdvReplicaPart *p = lfirst(lc);
		List	   *own = p->local ? local : p->sets;
		double		total = 0;
		ListCell   *lc2;

		foreach(lc2, own)
			total += ((PerfoptValueSet *) lfirst(lc2))->weight;
		if (total <= 0)
			continue;
		foreach(lc2, own)
		{
			PerfoptValueSet *set = lfirst(lc2);
			double		w = (p->calls / calls) * (set->weight / total);
			int			k;

			for (k = 0; k < nsets; k++)
				if (rp_same_set(sets[k], set))
					break;
			if (k == nsets)
				sets[nsets++] = set;
			weights[k] += w;
		}
	}
	/* new sets: the parts' own keep their weights for the next call */
	for (int k = 0; k < nsets; k++)
	{
		PerfoptValueSet *set = palloc(sizeof(PerfoptValueSet));

		*set = *sets[k];
		set->weight = Max(1, (int) rint(weights[k] * RP_WEIGHT_SCALE));
		result = lappend(result, set);
	}
	return result;
}
