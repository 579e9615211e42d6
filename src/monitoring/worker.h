/*
 * worker.h — the main background worker: registration (from _PG_init) and
 * its entry point.
 */
#ifndef PERFOPT_WORKER_H
#define PERFOPT_WORKER_H

extern void perfopt_worker_register(void);
extern PGDLLEXPORT void perfopt_worker_main(Datum main_arg);

#endif							/* PERFOPT_WORKER_H */
