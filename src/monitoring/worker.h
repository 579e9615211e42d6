/*
 * worker.h — the main background worker: registration (from _PG_init) and
 * its entry point.
 */
#ifndef PERFOPT_WORKER_H
#define PERFOPT_WORKER_H

extern void perfopt_worker_register(void);

/*
 * Start a short-lived background worker of perfopt in database dboid
 * (function: its entry point, type: its bgw_type; extra: bgw_extra),
 * notifying the calling worker when it stops.  False when no slot is free.
 */
struct BackgroundWorkerHandle;
extern bool perfopt_start_db_worker(const char *function, const char *type, Oid dboid,
									const char *extra, struct BackgroundWorkerHandle **handle);
extern PGDLLEXPORT void perfopt_worker_main(Datum main_arg);

#endif							/* PERFOPT_WORKER_H */
