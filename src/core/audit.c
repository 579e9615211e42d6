/*
 * audit.c — writes perfopt_audit_log rows.
 *
 * Callers need no privilege on the table: the row is inserted as the
 * extension's owner, with the calling
 * role recorded, so nobody who may merely call a function can forge or
 * erase the log.  Runs in the caller's transaction.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "audit.h"
#include "extschema.h"
#include "spiutil.h"

void
perfopt_audit(const char *action, const char *arguments_json, const char *outcome)
{
	Oid			schema_oid = perfopt_extension_schema(false);
	char	   *schema = get_namespace_name(schema_oid);
	PerfoptSavedUser saved;
	char	   *role = GetUserNameFromId(GetUserId(), false);
	char	   *session_role = GetUserNameFromId(GetSessionUserId(), false);
	char		sql[NAMEDATALEN * 2 + 256];
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];

	snprintf(sql, sizeof(sql),
			 "/* perfopt */ INSERT INTO %s.perfopt_audit_log"
			 " (role_name, session_role, action, arguments, outcome)"
			 " VALUES ($1, $2, $3, $4::pg_catalog.jsonb, $5)",
			 quote_identifier(schema));
	values[0] = CStringGetTextDatum(role);
	values[1] = CStringGetTextDatum(session_role);
	values[2] = CStringGetTextDatum(action);
	values[3] = CStringGetTextDatum(arguments_json);
	values[4] = CStringGetTextDatum(outcome);

	perfopt_as_owner_begin(&saved);
	PG_TRY();
	{
		perfopt_spi_connect();
		if (SPI_execute_with_args(sql, 5, types, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "perfopt: could not write perfopt_audit_log");
		SPI_finish();
	}
	PG_FINALLY();
	{
		perfopt_as_owner_end(&saved);
	}
	PG_END_TRY();
}
