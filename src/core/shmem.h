/*
 * shmem.h — the one struct perfopt keeps in shared memory, and its locking.
 *
 * Layout: PerfoptShared, followed by a ring of perfopt.sample_ring_size
 * samples, each PerfoptSampleSize(perfopt.max_databases) bytes.  Sizes are
 * fixed at server start; when the ring is full the oldest sample is
 * overwritten.
 *
 * Locking: PerfoptShared->lock (an LWLock of the "perfopt" tranche)
 * guards every field; control_lock, taken before it, serializes changes of
 * the monitoring control with the writes of their state file.  The worker
 * takes it exclusively to push a sample, to record its pid, to evaluate
 * the alerts after a sample (a bounded pass: at most a few dozen series,
 * each a least-squares update over its window) and to merge the open
 * alerts it read from the table (read and converted before it takes the
 * lock); SQL functions take it shared to copy samples and alerts out
 * (palloc'ing the copies) and exclusively to change the monitoring
 * control or the thresholds.  Nobody holds it across SPI, I/O or a wait.
 */
#ifndef PERFOPT_SHMEM_H
#define PERFOPT_SHMEM_H

#include "storage/latch.h"
#include "storage/lwlock.h"
#include "sample.h"
#include "thresholds_doc.h"

#define PERFOPT_JOB_DBS 32
#define PERFOPT_SHUNNED_STATEMENTS 64

/* a workload statement the advisor no longer plans (advisor/workload.c) */
typedef struct PerfoptShunned
{
	Oid			dbid;
	Oid			userid;
	int64		queryid;
} PerfoptShunned;

typedef struct PerfoptShared
{
	LWLock	   *lock;

	/* the main worker, while it runs */
	pid_t		worker_pid;
	Latch	   *worker_latch;

	/*
	 * Run-time monitoring control (perfopt_start/stop_monitoring), also in
	 * PGDATA/perfopt.state; control_lock orders its writers (control.c).
	 */
	LWLock	   *control_lock;
	bool		monitoring_enabled;
	int			interval_override_ms;	/* 0: perfopt.monitoring_interval */

	/*
	 * Databases with queued jobs, told by SQL calls at commit (jobs/queue.c)
	 * and taken by the worker (jobs/dispatch.c).  When the array is full,
	 * jobs_scan_all makes the worker visit every database instead.
	 */
	Oid			jobs_dbs[PERFOPT_JOB_DBS];
	int			jobs_ndbs;
	bool		jobs_scan_all;

	/*
	 * When each database's next verification verdict is due, told by its
	 * job runner as it leaves (jobs/verify.c), so that the worker starts a
	 * runner then (jobs/dispatch.c).  When the array is full, the worker's
	 * ten-minute visit of every database is the bound.
	 */
	Oid			verify_dbs[PERFOPT_JOB_DBS];
	TimestampTz verify_due[PERFOPT_JOB_DBS];
	int			verify_ndbs;

	/*
	 * Statements whose planning ignored the advisor's cancels until the
	 * process running it was ended: never planned again until a restart.
	 * When full, the oldest entry makes room.
	 */
	PerfoptShunned shunned[PERFOPT_SHUNNED_STATEMENTS];
	int			nshunned;
	int			next_shunned;

	/* the alert thresholds in effect (thresholds.c) */
	PerfoptThresholds thresholds;
	uint64		thresholds_generation;

	/* the sample ring */
	uint64		samples_taken;
	TimestampTz last_persisted_at;
	/* history writes that failed (a full disk), and the last one's time */
	uint64		history_write_failures;
	TimestampTz history_failed_at;
	int			ring_size;
	int			ring_next;		/* slot the next sample goes to */
	int			ring_count;
	Size		sample_size;
	char		ring[FLEXIBLE_ARRAY_MEMBER];
} PerfoptShared;

extern PerfoptShared *perfopt_shared;

extern void perfopt_shmem_install_hooks(void);

/*
 * A part's own shared memory (latency.c, alerts.c), or its state in
 * PerfoptShared (control.c): the part registers it from _PG_init, after
 * perfopt_shmem_install_hooks().  The request hook asks for size() bytes
 * (no size: nothing beyond PerfoptShared) and, for a part that wants one,
 * an LWLock of the "perfopt" tranche.  The startup hook (again after a
 * crash) calls init() under AddinShmemInitLock once PerfoptShared is set
 * up, part by part in the order they registered, with created true when
 * PerfoptShared was created just now and lock the part's LWLock (NULL for
 * a part that wants none).
 */
typedef struct PerfoptShmemPart
{
	Size		(*size) (void);
	void		(*init) (bool created, LWLock *lock);
	bool		wants_lock;
} PerfoptShmemPart;

extern void perfopt_shmem_register(const PerfoptShmemPart *part);

/* ring access; samples are PerfoptSampleSize(perfopt_max_databases) bytes */
extern PerfoptSample *perfopt_sample_alloc(void);
extern void perfopt_ring_push(const PerfoptSample *s);
extern PerfoptSample *perfopt_ring_latest(void);
extern int	perfopt_ring_copy(PerfoptSample ***samples);

/* a consistent copy of the scalar state, for status documents */
typedef struct PerfoptStatus
{
	bool		monitoring_enabled;
	int			interval_ms;
	int			interval_override_ms;
	pid_t		worker_pid;
	uint64		samples_taken;
	int			samples_in_ring;
	TimestampTz last_persisted_at;
	uint64		history_write_failures;
	TimestampTz history_failed_at;
} PerfoptStatus;

extern void perfopt_status_read(PerfoptStatus *st);

/* the interval in effect: the run-time override, else the GUC */
extern int	perfopt_effective_interval_ms(void);

/* ereport(ERROR) unless the library was preloaded and shared memory is up */
extern void perfopt_require_shmem(void);

#endif							/* PERFOPT_SHMEM_H */
