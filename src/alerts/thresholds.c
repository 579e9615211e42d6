/*
 * thresholds.c — the alert thresholds in the server: the document lives in
 * the table perfopt_thresholds of perfopt.database (so it survives
 * restarts and reaches standbys by replication), and the thresholds in
 * effect in shared memory, where the worker and every database read them.
 *
 * perfopt_set_thresholds(jsonb) merges a partial document into the stored
 * one under a row lock (two callers never lose each other's keys),
 * validates it with the pure-C parser (thresholds_doc.c: unknown key,
 * wrong type, out of range, wrong order are ERROR 22023 naming the key
 * path), stores and audits it in the caller's transaction, and publishes
 * it to shared memory at commit: a rolled-back call changes nothing.  The
 * worker loads the stored document when it starts.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "atcommit.h"
#include "audit.h"
#include "extschema.h"
#include "jsonutil.h"
#include "perfopt.h"
#include "shmem.h"
#include "spiutil.h"
#include "thresholds.h"

PG_FUNCTION_INFO_V1(perfopt_thresholds);
PG_FUNCTION_INFO_V1(perfopt_set_thresholds);

void
perfopt_thresholds_get(PerfoptThresholds *out)
{
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	*out = perfopt_shared->thresholds;
	LWLockRelease(perfopt_shared->lock);
}

static void
thr_publish(const PerfoptThresholds *th)
{
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	perfopt_shared->thresholds = *th;
	perfopt_shared->thresholds_generation++;
	LWLockRelease(perfopt_shared->lock);
}

static char *
thr_render(const PerfoptThresholds *th)
{
	size_t		need = thresholds_render(th, NULL, 0);
	char	   *buf = palloc(need + 1);

	thresholds_render(th, buf, need + 1);
	return buf;
}

Datum
perfopt_thresholds(PG_FUNCTION_ARGS)
{
	PerfoptThresholds th;

	perfopt_require_shmem();
	perfopt_thresholds_get(&th);
	PG_RETURN_DATUM(perfopt_jsonb_from_text(thr_render(&th)));
}

/* at commit (atcommit.c), for each call in order: the last one stays */
static void
thr_publish_at_commit(const void *data)
{
	thr_publish((const PerfoptThresholds *) data);
}

/* the stored document merged into the defaults; false when there is none */
static bool
thr_stored(const char *schema, bool for_update, PerfoptThresholds *th)
{
	bool		found = false;

	thresholds_defaults(th);
	if (SPI_execute(psprintf("/* perfopt */ SELECT document::pg_catalog.text FROM %s.perfopt_thresholds"
							 " WHERE id OPERATOR(pg_catalog.=) 1%s",
							 schema, for_update ? " FOR UPDATE" : ""),
					!for_update, 1) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read perfopt_thresholds");
	if (SPI_processed == 1)
	{
		char	   *doc = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char		err[256];

		found = doc != NULL && thresholds_merge(th, doc, strlen(doc), err, sizeof(err));
		if (doc != NULL && !found)
			ereport(WARNING,
					(errmsg("stored thresholds document is not valid: %s", err),
					 errdetail("The default thresholds apply until a valid document is set.")));
	}
	return found;
}

Datum
perfopt_set_thresholds(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc;
	char	   *text;
	PerfoptThresholds th;
	char		err[256];
	char	   *rendered;
	const char *schema;
	PerfoptSavedUser saved;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	perfopt_require_shmem();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the thresholds document must not be NULL")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot change thresholds on a standby"),
				 errhint("Change them on the primary; they reach the standby by replication.")));
	if (strcmp(get_database_name(MyDatabaseId), perfopt_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("thresholds are stored in database \"%s\"",
						perfopt_database),
				 errhint("Connect to database \"%s\" (perfopt.database) to change them.",
						 perfopt_database)));
	doc = PG_GETARG_JSONB_P(0);
	text = JsonbToCString(NULL, &doc->root, VARSIZE(doc));
	schema = quote_identifier(get_namespace_name(perfopt_extension_schema(false)));
	/* who asked, before the write runs as the extension's owner */
	values[1] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));

	perfopt_as_owner_begin(&saved);
	perfopt_spi_connect();
	/* the stored document, locked: concurrent merges wait for each other */
	thr_stored(schema, true, &th);
	if (!thresholds_merge(&th, text, strlen(text), err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid thresholds document: %s", err),
				 errhint("Use the shape of perfopt_thresholds(); percentages are 0-100, milliseconds above 0, and warning comes before critical (above it for cacheHitRatio).")));
	rendered = thr_render(&th);
	values[0] = CStringGetTextDatum(rendered);
	if (SPI_execute_with_args(psprintf("/* perfopt */ INSERT INTO %s.perfopt_thresholds AS t (id, document, updated_by)"
									   " VALUES (1, $1::pg_catalog.jsonb, $2)"
									   " ON CONFLICT (id) DO UPDATE SET document = excluded.document,"
									   " updated_at = pg_catalog.now(), updated_by = excluded.updated_by",
									   schema),
							  2, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "perfopt: could not store the thresholds");
	SPI_finish();
	perfopt_as_owner_end(&saved);

	perfopt_audit("set_thresholds", text, "set");
	perfopt_at_commit(thr_publish_at_commit, &th, sizeof(th));
	PG_RETURN_DATUM(perfopt_jsonb_from_text(rendered));
}

/*
 * The worker, in a transaction in perfopt.database with the extension
 * there: the stored document into shared memory, unless a
 * perfopt_set_thresholds() published since this began.  The generation is
 * read before the snapshot the document is read with (the latest one, not
 * the transaction's, which the worker's sampling took earlier and which a
 * repeatable read transaction would keep): a commit the snapshot misses
 * publishes after it (at commit) and so changes the generation, and the
 * older document read here is not published over the newer one.
 */
void
perfopt_thresholds_load(void)
{
	Oid			nsp = perfopt_extension_schema_locked();
	PerfoptThresholds th;
	uint64		generation;

	if (!OidIsValid(nsp) ||
		!OidIsValid(get_relname_relid("perfopt_thresholds", nsp)))
		return;
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	generation = perfopt_shared->thresholds_generation;
	LWLockRelease(perfopt_shared->lock);
	PushActiveSnapshot(GetLatestSnapshot());
	perfopt_spi_connect();
	if (thr_stored(quote_identifier(get_namespace_name(nsp)), false, &th))
	{
		LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
		if (perfopt_shared->thresholds_generation == generation)
		{
			perfopt_shared->thresholds = th;
			perfopt_shared->thresholds_generation++;
		}
		LWLockRelease(perfopt_shared->lock);
	}
	SPI_finish();
	PopActiveSnapshot();
}
