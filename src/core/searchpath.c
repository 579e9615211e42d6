/*
 * searchpath.c — owns the search_path perfopt's code runs under.
 *
 * perfopt's own SQL resolves names only in pg_catalog (pg_temp last): the
 * SQL-callable functions carry "SET search_path = pg_catalog, pg_temp" in
 * perfopt--1.0.sql, and the background workers pin the same path at start,
 * above any ALTER DATABASE / ALTER ROLE ... SET search_path.  A hostile
 * schema early in the caller's path (or the database's) therefore cannot
 * shadow a function, operator or type that perfopt's queries use.
 *
 * Workload statements from pg_stat_statements are the application's SQL,
 * not ours: the advisor analyzes each one as the role that ran it, under
 * that role's default search_path in this database (pg_db_role_setting, as
 * at login) with pg_catalog moved first, never under the caller's path.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_db_role_setting.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/varlena.h"

#include "searchpath.h"

/* the search_path of one pg_db_role_setting row, or NULL */
static char *
sp_setting(Relation rel, Oid dbid, Oid roleid)
{
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *result = NULL;

	ScanKeyInit(&keys[0], Anum_pg_db_role_setting_setdatabase, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(dbid));
	ScanKeyInit(&keys[1], Anum_pg_db_role_setting_setrole, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(roleid));
	scan = systable_beginscan(rel, DbRoleSettingDatidRolidIndexId, true, NULL, 2, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_db_role_setting_setconfig,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			ArrayType  *a = DatumGetArrayTypeP(d);
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
			for (int i = 0; i < n && result == NULL; i++)
			{
				char	   *name;
				char	   *value;

				if (nulls[i])
					continue;
				ParseLongOption(TextDatumGetCString(elems[i]), &name, &value);
				if (value && pg_strcasecmp(name, "search_path") == 0)
					result = value;
			}
		}
	}
	systable_endscan(scan);
	return result;
}

/*
 * The role's default search_path in this database, as login would set it
 * (role in this database, role, this database, all roles; else the
 * built-in default), rewritten with pg_catalog first.
 */
char *
perfopt_role_search_path(Oid roleid)
{
	Relation	rel = table_open(DbRoleSettingRelationId, AccessShareLock);
	char	   *raw = sp_setting(rel, MyDatabaseId, roleid);
	List	   *names;
	ListCell   *lc;
	StringInfoData path;

	if (raw == NULL)
		raw = sp_setting(rel, InvalidOid, roleid);
	if (raw == NULL)
		raw = sp_setting(rel, MyDatabaseId, InvalidOid);
	if (raw == NULL)
		raw = sp_setting(rel, InvalidOid, InvalidOid);
	table_close(rel, AccessShareLock);
	if (raw == NULL)
		raw = pstrdup("\"$user\", public");

	initStringInfo(&path);
	appendStringInfoString(&path, "pg_catalog");
	/* a setting that does not parse leaves pg_catalog alone: the safe side */
	if (SplitIdentifierString(raw, ',', &names))
	{
		foreach(lc, names)
		{
			const char *name = lfirst(lc);

			if (strcmp(name, "pg_catalog") != 0)
				appendStringInfo(&path, ", %s", quote_identifier(name));
		}
	}
	return path.data;
}

/*
 * Use this search_path (a perfopt_role_search_path() result) until the
 * current GUC nest level ends (a subtransaction's end, or the
 * AtEOXact_GUC of NewGUCNestLevel).
 */
void
perfopt_use_search_path(const char *path)
{
	(void) set_config_option("search_path", path,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

/*
 * A background worker's path for its whole life.  PGC_S_SESSION outranks
 * the database and role settings applied at connection, and still lets a
 * function's SET clause (GUC_ACTION_SAVE) change it for the call.
 */
void
perfopt_pin_worker_search_path(void)
{
	SetConfigOption("search_path", PERFOPT_SAFE_SEARCH_PATH, PGC_SUSET, PGC_S_SESSION);
}
