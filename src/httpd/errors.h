/*
 * errors.h — perfopt-httpd's error mapping (errors.c): SQLSTATE to HTTP
 * status, what an error body may say instead of the server's message,
 * and the label of each status.  Pure C.
 */
#ifndef PERFOPT_HTTPD_ERRORS_H
#define PERFOPT_HTTPD_ERRORS_H

#include <stdbool.h>

/* the HTTP status for a PostgreSQL SQLSTATE; 500 for NULL or unknown */
extern int	hd_status_for_sqlstate(const char *sqlstate);

/*
 * A short description of a SQLSTATE (by code, then by class; "internal
 * error" for anything else), for error bodies in place of the server's
 * message.  Never NULL.
 */
extern const char *hd_sqlstate_description(const char *sqlstate);

/*
 * The error is perfopt's own and its message may be shown to the caller:
 * source_file (the error's PG_DIAG_SOURCE_FILE, which SQL code cannot
 * choose) is one of own_files, a ':'-separated list of file names (the
 * build's PERFOPT_MESSAGE_FILES).  Any other server message may quote
 * row values and stays in the server's log.
 */
extern bool hd_error_is_perfopt(const char *source_file, const char *own_files);

/* the "error" label of an error body with this status ("bad request", ...) */
extern const char *hd_status_label(int status);

#endif							/* PERFOPT_HTTPD_ERRORS_H */
