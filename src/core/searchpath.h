/*
 * searchpath.h — the search_path perfopt's own SQL runs under, and the one
 * the advisor analyzes a workload statement under.
 */
#ifndef PERFOPT_SEARCHPATH_H
#define PERFOPT_SEARCHPATH_H

/*
 * perfopt's own SQL (SPI queries, job statements): only pg_catalog, temp
 * schema last.  Every SQL-callable function carries it as a SET clause
 * (perfopt--1.0.sql); background workers pin it at start.
 */
#define PERFOPT_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

extern void perfopt_pin_worker_search_path(void);
extern char *perfopt_role_search_path(Oid roleid);
extern void perfopt_use_search_path(const char *path);

#endif							/* PERFOPT_SEARCHPATH_H */
