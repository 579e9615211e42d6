/*
 * launcher.h — starts perfopt's short-lived background workers, one in a
 * database (launcher.c): the advisor workers of advisor/refresh.c and the
 * job runners of jobs/dispatch.c, both launched from the main worker.
 */
#ifndef PERFOPT_LAUNCHER_H
#define PERFOPT_LAUNCHER_H

/*
 * Start a short-lived background worker of perfopt in database dboid
 * (function: its entry point, type: its bgw_type; extra: bgw_extra),
 * notifying the calling worker when it stops.  False when no slot is free.
 */
struct BackgroundWorkerHandle;
extern bool perfopt_start_db_worker(const char *function, const char *type, Oid dboid,
									const char *extra, struct BackgroundWorkerHandle **handle);

#endif							/* PERFOPT_LAUNCHER_H */
