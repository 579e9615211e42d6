/*
 * workersession.h — the session settings of perfopt's background workers.
 */
#ifndef PERFOPT_WORKERSESSION_H
#define PERFOPT_WORKERSESSION_H

extern void perfopt_worker_session(void);

#endif							/* PERFOPT_WORKERSESSION_H */
