/*
 * shmem.c — creates perfopt's shared memory and owns the sample ring.
 *
 * Called from the postmaster (request and startup hooks, also after a crash
 * re-initializes shared memory) and from any backend that reads samples.
 * See shmem.h for the layout and the locking rule.  The parts with shared
 * memory of their own size and set it up themselves: they register with
 * perfopt_shmem_register(), and shmem.c knows them only by that.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "perfopt.h"
#include "shmem.h"

PerfoptShared *perfopt_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* the parts registered (perfopt_shmem_register), in that order */
#define SHM_MAX_PARTS 8
static const PerfoptShmemPart *shm_parts[SHM_MAX_PARTS];
static int	shm_nparts = 0;

/* the "perfopt" tranche: lock and control_lock, then the parts' own */
#define SHM_OWN_LOCKS 2

void
perfopt_shmem_register(const PerfoptShmemPart *part)
{
	if (shm_nparts >= SHM_MAX_PARTS)
		elog(ERROR, "perfopt: too many parts with shared memory");
	shm_parts[shm_nparts++] = part;
}

static int
shm_nlocks(void)
{
	int			n = SHM_OWN_LOCKS;

	for (int i = 0; i < shm_nparts; i++)
		if (shm_parts[i]->wants_lock)
			n++;
	return n;
}

static Size
shm_total_size(void)
{
	Size		size = offsetof(PerfoptShared, ring);

	size = add_size(size, mul_size(perfopt_sample_ring_size,
								   PerfoptSampleSize(perfopt_max_databases)));
	return size;
}

static void
shm_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(shm_total_size());
	for (int i = 0; i < shm_nparts; i++)
		if (shm_parts[i]->size)
			RequestAddinShmemSpace(shm_parts[i]->size());
	RequestNamedLWLockTranche("perfopt", shm_nlocks());
}

static void
shm_startup(void)
{
	bool		found;
	int			next_lock = SHM_OWN_LOCKS;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	perfopt_shared = ShmemInitStruct("perfopt", shm_total_size(), &found);
	if (!found)
	{
		memset(perfopt_shared, 0, offsetof(PerfoptShared, ring));
		perfopt_shared->lock = &(GetNamedLWLockTranche("perfopt"))[0].lock;
		perfopt_shared->control_lock = &(GetNamedLWLockTranche("perfopt"))[1].lock;
		/* after a start or a crash: look for unfinished jobs everywhere */
		perfopt_shared->jobs_scan_all = true;
		thresholds_defaults(&perfopt_shared->thresholds);
		perfopt_shared->ring_size = perfopt_sample_ring_size;
		perfopt_shared->sample_size = PerfoptSampleSize(perfopt_max_databases);
	}
	for (int i = 0; i < shm_nparts; i++)
	{
		LWLock	   *lock = NULL;

		if (shm_parts[i]->wants_lock)
			lock = &(GetNamedLWLockTranche("perfopt"))[next_lock++].lock;
		shm_parts[i]->init(!found, lock);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
perfopt_shmem_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shm_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shm_startup;
}

void
perfopt_require_shmem(void)
{
	if (perfopt_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("perfopt must be loaded via shared_preload_libraries"),
				 errhint("Add perfopt to shared_preload_libraries in postgresql.conf and restart the server.")));
}

static inline PerfoptSample *
shm_slot(int i)
{
	return (PerfoptSample *) (perfopt_shared->ring + (Size) i * perfopt_shared->sample_size);
}

PerfoptSample *
perfopt_sample_alloc(void)
{
	PerfoptSample *s = palloc0(PerfoptSampleSize(perfopt_max_databases));

	perfopt_sample_clear(s);
	return s;
}

void
perfopt_ring_push(const PerfoptSample *s)
{
	Size		used = offsetof(PerfoptSample, databases) +
		sizeof(PerfoptDbSample) * Min(Max(s->ndatabases, 0), perfopt_max_databases);

	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	memcpy(shm_slot(perfopt_shared->ring_next), s, used);
	perfopt_shared->ring_next = (perfopt_shared->ring_next + 1) % perfopt_shared->ring_size;
	if (perfopt_shared->ring_count < perfopt_shared->ring_size)
		perfopt_shared->ring_count++;
	perfopt_shared->samples_taken++;
	LWLockRelease(perfopt_shared->lock);
}

PerfoptSample *
perfopt_ring_latest(void)
{
	PerfoptSample *s = NULL;

	perfopt_require_shmem();
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	if (perfopt_shared->ring_count > 0)
	{
		int			i = (perfopt_shared->ring_next + perfopt_shared->ring_size - 1) %
			perfopt_shared->ring_size;

		s = palloc(perfopt_shared->sample_size);
		memcpy(s, shm_slot(i), perfopt_shared->sample_size);
	}
	LWLockRelease(perfopt_shared->lock);
	return s;
}

/* copies the ring out, oldest first; returns the number of samples */
int
perfopt_ring_copy(PerfoptSample ***samples)
{
	int			n;
	int			first;
	char	   *buf;

	perfopt_require_shmem();
	*samples = NULL;
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	n = perfopt_shared->ring_count;
	if (n > 0)
	{
		buf = palloc(perfopt_shared->sample_size * n);
		*samples = palloc(sizeof(PerfoptSample *) * n);
		first = (perfopt_shared->ring_next + perfopt_shared->ring_size - n) %
			perfopt_shared->ring_size;
		for (int k = 0; k < n; k++)
		{
			(*samples)[k] = (PerfoptSample *) (buf + perfopt_shared->sample_size * k);
			memcpy((*samples)[k], shm_slot((first + k) % perfopt_shared->ring_size),
				   perfopt_shared->sample_size);
		}
	}
	LWLockRelease(perfopt_shared->lock);
	return n;
}

int
perfopt_effective_interval_ms(void)
{
	int			override;

	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	override = perfopt_shared->interval_override_ms;
	LWLockRelease(perfopt_shared->lock);
	return override > 0 ? override : perfopt_monitoring_interval;
}

void
perfopt_status_read(PerfoptStatus *st)
{
	perfopt_require_shmem();
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	st->monitoring_enabled = perfopt_shared->monitoring_enabled;
	st->interval_override_ms = perfopt_shared->interval_override_ms;
	st->worker_pid = perfopt_shared->worker_pid;
	st->samples_taken = perfopt_shared->samples_taken;
	st->samples_in_ring = perfopt_shared->ring_count;
	st->last_persisted_at = perfopt_shared->last_persisted_at;
	st->history_write_failures = perfopt_shared->history_write_failures;
	st->history_failed_at = perfopt_shared->history_failed_at;
	LWLockRelease(perfopt_shared->lock);
	st->interval_ms = st->interval_override_ms > 0 ?
		st->interval_override_ms : perfopt_monitoring_interval;
}
