/*
 * extschema.h — where perfopt's tables live in the current database, and
 * acting as their owner to write them.
 */
#ifndef PERFOPT_EXTSCHEMA_H
#define PERFOPT_EXTSCHEMA_H

/* schema of the perfopt extension here; InvalidOid (or ERROR) when absent */
extern Oid	perfopt_extension_schema(bool missing_ok);
extern Oid	perfopt_schema_of_extension(const char *extname, bool missing_ok);
/* the same, perfopt locked against DROP EXTENSION until the transaction ends */
extern Oid	perfopt_extension_schema_locked(void);

typedef struct PerfoptSavedUser
{
	Oid			userid;
	int			sec_context;
} PerfoptSavedUser;

extern void perfopt_as_owner_begin(PerfoptSavedUser *saved);
extern void perfopt_as_owner_end(PerfoptSavedUser *saved);

#endif							/* PERFOPT_EXTSCHEMA_H */
