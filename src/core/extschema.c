/*
 * extschema.c — finds the schema an extension (perfopt, pg_stat_statements)
 * was created in, from pg_extension
 * (PostgreSQL 15 does not export get_extension_schema()).  Catalog reads
 * only; needs a transaction.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "extschema.h"

/* the extension's pg_extension row: its schema and its owner */
static Oid
es_lookup(const char *extname, bool missing_ok, Oid *owner)
{
	Oid			ext = get_extension_oid(extname, missing_ok);
	Oid			schema = InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (!OidIsValid(ext))
		return InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		schema = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
		*owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(schema) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"%s\" is not installed in this database",
						extname)));
	return schema;
}

Oid
perfopt_schema_of_extension(const char *extname, bool missing_ok)
{
	Oid			owner;

	return es_lookup(extname, missing_ok, &owner);
}

Oid
perfopt_extension_schema(bool missing_ok)
{
	Oid			owner;

	return es_lookup("perfopt", missing_ok, &owner);
}

/*
 * The schema of perfopt here, with the extension locked against DROP
 * EXTENSION until the transaction ends; InvalidOid when absent.  Taken
 * before any of perfopt's tables is touched, it orders a write with a DROP
 * EXTENSION (which locks the extension before its members): a DROP that
 * began first ends first (and the extension is gone), one that begins
 * later waits for this transaction.  Without it the two could each hold a
 * lock the other waits for (a table and its sequence, say): a deadlock
 * that fails one of them.
 */
Oid
perfopt_extension_schema_locked(void)
{
	Oid			ext = get_extension_oid("perfopt", true);

	if (!OidIsValid(ext))
		return InvalidOid;
	LockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock);
	/* a DROP that committed while this waited: the catalog says so now */
	if (get_extension_oid("perfopt", true) != ext)
		return InvalidOid;
	return perfopt_extension_schema(true);
}

/*
 * Become the extension's owner for perfopt's own table writes, so callers
 * need no privilege on (and cannot forge rows in) perfopt's tables.
 * perfopt_as_owner_end() restores the caller; an ERROR in between is
 * cleaned up by the transaction machinery (the caller's PG_FINALLY).
 */
void
perfopt_as_owner_begin(PerfoptSavedUser *saved)
{
	Oid			owner = InvalidOid;

	(void) es_lookup("perfopt", false, &owner);
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
perfopt_as_owner_end(PerfoptSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}
