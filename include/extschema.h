/*
 * extschema.h — where perfopt's tables live in the current database.
 */
#ifndef PERFOPT_EXTSCHEMA_H
#define PERFOPT_EXTSCHEMA_H

/* schema of the perfopt extension here; InvalidOid (or ERROR) when absent */
extern Oid	perfopt_extension_schema(bool missing_ok);

#endif							/* PERFOPT_EXTSCHEMA_H */
