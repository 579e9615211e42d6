/*
 * auditpage.c — perfopt_audit_page(): keyset pages of perfopt_audit_log,
 * newest first, for the shim's admin-only /audit route and for SQL.
 *
 * Runs as the caller and reads the table with the caller's rights; the
 * function itself is revoked from PUBLIC and granted to nobody by the
 * extension script, so that only a role an administrator granted it to
 * (perfopt-httpd's admin role) may call it.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "extschema.h"
#include "spiutil.h"

PG_FUNCTION_INFO_V1(perfopt_audit_page);

#define AUDIT_PAGE_MAX 1000

/*
 * perfopt_audit_page(before bigint, lim int): the rows with id below
 * before (NULL: from the newest), at most lim, newest first, as
 * {"items": [...], "next_before": the last id, or null when the page is
 * not full}.
 */
Datum
perfopt_audit_page(PG_FUNCTION_ARGS)
{
	int64		before = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	int32		lim = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	char	   *schema;
	bool		isnull;
	Datum		page;

	if (!PG_ARGISNULL(0) && before < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("before must be NULL or a previous next_before, not " INT64_FORMAT, before)));
	if (PG_ARGISNULL(1) || lim < 1 || lim > AUDIT_PAGE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lim must be between 1 and %d, not %s", AUDIT_PAGE_MAX,
						PG_ARGISNULL(1) ? "<NULL>" : psprintf("%d", lim))));

	schema = get_namespace_name(perfopt_extension_schema(false));
	if (schema == NULL)
		elog(ERROR, "perfopt: the extension's schema is gone");
	values[0] = Int64GetDatum(before);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	values[1] = Int32GetDatum(lim);
	perfopt_spi_connect();
	if (SPI_execute_with_args(psprintf("/* perfopt */ SELECT pg_catalog.jsonb_build_object("
									   " 'items', COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(a) ORDER BY a.id DESC),"
									   "                   '[]'::pg_catalog.jsonb),"
									   " 'next_before', CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.=) $2"
									   "               THEN pg_catalog.min(a.id) END)"
									   " FROM (SELECT x.* FROM %s.perfopt_audit_log x"
									   "       WHERE $1 IS NULL OR x.id OPERATOR(pg_catalog.<) $1"
									   "       ORDER BY x.id DESC LIMIT $2) a",
									   quote_identifier(schema)),
							  2, types, values, nulls, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "perfopt: could not read perfopt_audit_log");
	page = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	page = SPI_datumTransfer(page, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(page);
}
