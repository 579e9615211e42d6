/*
 * handler.h — libmicrohttpd's callbacks of perfopt-httpd (handler.c).
 */
#ifndef PERFOPT_HTTPD_HANDLER_H
#define PERFOPT_HTTPD_HANDLER_H

#include <microhttpd.h>

extern enum MHD_Result hd_access_handler(void *cls, struct MHD_Connection *conn, const char *url,
										 const char *method, const char *version,
										 const char *upload_data, size_t *upload_data_size,
										 void **con_cls);
/* the call workers: one per pooled database connection */
extern int	hd_workers_start(int n);
extern void hd_workers_stop(void);
extern void hd_request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
								 enum MHD_RequestTerminationCode toe);

#endif							/* PERFOPT_HTTPD_HANDLER_H */
