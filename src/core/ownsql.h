/*
 * ownsql.h — perfopt's own SQL (statements that start with the comment
 * below) keeps its marker in pg_stat_statements on every version.
 */
#ifndef PERFOPT_OWNSQL_H
#define PERFOPT_OWNSQL_H

/* the comment perfopt's own SQL starts with (the worker's, the shim's) */
#define PERFOPT_OWN_SQL_MARKER "/* perfopt */"

extern void perfopt_ownsql_install_hook(void);

#endif							/* PERFOPT_OWNSQL_H */
