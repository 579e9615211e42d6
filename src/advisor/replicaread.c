/*
 * replicaread.c — perfopt_replica_workload(): this server's
 * pg_stat_statements entries, of every database, with their value
 * samples, for a primary's advisor (replica.c) to merge into its
 * workload.  Meant for hot standbys; it works on any server.
 *
 * This is the one SQL function that returns value samples (user data).
 * The extension script makes it SECURITY DEFINER (it reads every role's
 * statements) and lets only perfopt_replica_reader, a NOLOGIN role granted
 * to nobody, execute it; the check below refuses every other caller even
 * when an administrator grants EXECUTE wider by mistake.  Only statements
 * pg_stat_statements normalizes are returned: a utility statement's text
 * keeps its literals (ALTER ROLE ... PASSWORD) and is left out.
 *
 * Columns: datname, rolname, queryid, query, calls, total_exec_time,
 * mean_exec_time, rows, value_weights integer[] and value_sets text[]
 * (value_sets[i] is the text form of the text[] of $1..$n of set i, NULL
 * elements for SQL NULLs; both NULL without samples).
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "extschema.h"
#include "replica.h"
#include "spiutil.h"
#include "valuestore.h"

#define RR_READER_ROLE "perfopt_replica_reader"
#define RR_NCOLS 10

PG_FUNCTION_INFO_V1(perfopt_replica_workload);

/* the value sets of one statement: weights int[] and sets text[] (each a text[]'s text) */
static void
rr_value_arrays(List *sets, Datum *weights, Datum *texts)
{
	int			n = list_length(sets);
	Datum	   *w = palloc(sizeof(Datum) * n);
	Datum	   *t = palloc(sizeof(Datum) * n);
	int			i = 0;
	ListCell   *lc;

	foreach(lc, sets)
	{
		PerfoptValueSet *set = lfirst(lc);
		Datum	   *vals = palloc0(sizeof(Datum) * Max(set->nparams, 1));
		bool	   *nulls = palloc0(sizeof(bool) * Max(set->nparams, 1));
		int			dims[1] = {set->nparams};
		int			lbs[1] = {1};
		ArrayType  *arr;

		for (int k = 0; k < set->nparams; k++)
		{
			nulls[k] = set->values[k] == NULL;
			if (!nulls[k])
				vals[k] = CStringGetTextDatum(set->values[k]);
		}
		arr = construct_md_array(vals, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT);
		w[i] = Int32GetDatum(set->weight);
		t[i] = CStringGetTextDatum(OidOutputFunctionCall(F_ARRAY_OUT, PointerGetDatum(arr)));
		i++;
	}
	*weights = PointerGetDatum(construct_array(w, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
	*texts = PointerGetDatum(construct_array(t, n, TEXTOID, -1, false, TYPALIGN_INT));
}

Datum
perfopt_replica_workload(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			pgss_schema;
	Oid			reader = get_role_oid(RR_READER_ROLE, true);
	StringInfoData sql;

	/*
	 * SECURITY DEFINER: GetUserId() is the extension's owner; the caller is
	 * the outer user (the session's current role as the call began).
	 */
	if (!OidIsValid(reader) || !has_privs_of_role(GetOuterUserId(), reader))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", "perfopt_replica_workload"),
				 errdetail("Only members of the role %s may read the replica workload.", RR_READER_ROLE)));
	pgss_schema = perfopt_schema_of_extension("pg_stat_statements", true);
	if (!OidIsValid(pgss_schema))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_stat_statements is not installed in this database"),
				 errhint("CREATE EXTENSION pg_stat_statements;")));

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != RR_NCOLS)
		elog(ERROR, "perfopt: perfopt_replica_workload() is declared with %d columns, not %d",
			 rsinfo->setDesc->natts, RR_NCOLS);

	/* the samples forget what pg_stat_statements forgot (a reset) */
	perfopt_value_samples_sync();

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "/* perfopt */ SELECT s.dbid, d.datname, s.userid, r.rolname, s.queryid, s.query,"
					 " s.calls::pg_catalog.float8, s.total_exec_time, s.mean_exec_time, s.rows::pg_catalog.float8"
					 " FROM %s.pg_stat_statements(true) s"
					 " JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.dbid"
					 " JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) s.userid"
					 " WHERE s.toplevel AND s.calls OPERATOR(pg_catalog.>) 0 AND s.query IS NOT NULL"
					 " AND s.query OPERATOR(pg_catalog.!~~) '%%/* perfopt */%%'",
					 quote_identifier(get_namespace_name(pgss_schema)));
	perfopt_spi_connect();
	if (SPI_execute(sql.data, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "perfopt: could not read pg_stat_statements");

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		values[RR_NCOLS];
		bool		nulls[RR_NCOLS];
		bool		isnull;
		char	   *query = SPI_getvalue(tup, desc, 6);
		Oid			dbid;
		Oid			userid;
		int64		queryid;
		List	   *sets;

		CHECK_FOR_INTERRUPTS();
		if (query == NULL || !adv_surely_normalized(query))
			continue;
		dbid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		userid = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		queryid = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		if (isnull)
			continue;

		memset(nulls, 0, sizeof(nulls));
		values[0] = SPI_getbinval(tup, desc, 2, &isnull);	/* datname */
		values[1] = SPI_getbinval(tup, desc, 4, &isnull);	/* rolname */
		values[2] = Int64GetDatum(queryid);
		values[3] = CStringGetTextDatum(query);
		for (int c = 0; c < 4; c++)
			values[4 + c] = SPI_getbinval(tup, desc, 7 + c, &nulls[4 + c]);
		sets = perfopt_value_samples(dbid, userid, (uint64) queryid);
		if (sets == NIL)
			nulls[8] = nulls[9] = true;
		else
			rr_value_arrays(sets, &values[8], &values[9]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * The extension script's helper, created, called and dropped there:
 * perfopt_replica_reader exists, NOLOGIN.  A role is global, so an earlier
 * installation's (in another database, or before a DROP EXTENSION) is kept
 * with its members; one that can log in or is a superuser is not what
 * this script made, and the installation stops.
 */
PG_FUNCTION_INFO_V1(perfopt_replica_reader_ensure);

Datum
perfopt_replica_reader_ensure(PG_FUNCTION_ARGS)
{
	HeapTuple	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(RR_READER_ROLE));

	if (HeapTupleIsValid(tup))
	{
		Form_pg_authid role = (Form_pg_authid) GETSTRUCT(tup);
		bool		unsafe = role->rolcanlogin || role->rolsuper;

		ReleaseSysCache(tup);
		if (unsafe)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("role \"%s\" exists and can log in or is a superuser", RR_READER_ROLE),
					 errdetail("perfopt makes it a NOLOGIN role that may read value samples (user data)."),
					 errhint("ALTER ROLE %s NOLOGIN NOSUPERUSER, or drop it, then create the extension again.",
							 RR_READER_ROLE)));
		PG_RETURN_VOID();
	}
	perfopt_spi_connect();
	if (SPI_execute("/* perfopt */ CREATE ROLE " RR_READER_ROLE " NOLOGIN", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "perfopt: could not create role %s", RR_READER_ROLE);
	SPI_finish();
	PG_RETURN_VOID();
}
