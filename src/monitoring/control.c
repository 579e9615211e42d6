/*
 * control.c — run-time monitoring control and its persistence.
 *
 * A SQL call stages (enabled, interval override); the change reaches shared
 * memory only when the calling transaction commits, so a rolled-back call
 * (or one whose audit row failed) changes nothing.  The worker is the only
 * writer of PGDATA/perfopt.state (write to a temporary file, fsync,
 * durable rename), and the postmaster reads it when shared memory is
 * created, so the last committed choice survives restarts and crashes.
 *
 * Staging in a subtransaction that rolls back discards the whole staged
 * change of the transaction (the common single-call case is exact).
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "miscadmin.h"
#include "common/file_perm.h"
#include "storage/fd.h"
#include "storage/latch.h"

#include "atcommit.h"
#include "control.h"
#include "perfopt.h"
#include "shmem.h"

#define CONTROL_FILE "perfopt.state"
#define CONTROL_TMP_FILE "perfopt.state.tmp"

typedef struct PendingControl
{
	bool		staged;
	bool		enabled;
	int			interval_override_ms;
} PendingControl;

static PendingControl pending;

/* postmaster, at shared-memory creation: read the persisted state */
static void
perfopt_control_load(bool *enabled, int *interval_override_ms)
{
	FILE	   *f;
	char		line[128];

	*enabled = true;
	*interval_override_ms = 0;

	f = AllocateFile(CONTROL_FILE, "r");
	if (f == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("perfopt: could not read \"%s\": %m", CONTROL_FILE),
					 errdetail("Monitoring starts enabled.")));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL)
	{
		int			value;

		if (sscanf(line, "enabled=%d", &value) == 1)
			*enabled = (value != 0);
		else if (sscanf(line, "interval_override_ms=%d", &value) == 1)
		{
			if (value == 0 ||
				(value >= PERFOPT_MIN_INTERVAL_MS && value <= PERFOPT_MAX_INTERVAL_MS))
				*interval_override_ms = value;
			else
				ereport(LOG,
						(errmsg("perfopt: ignoring out-of-range interval %d in \"%s\"",
								value, CONTROL_FILE)));
		}
	}
	FreeFile(f);
}

static void
ctl_shmem_init(bool created, LWLock *lock)
{
	if (created)
		perfopt_control_load(&perfopt_shared->monitoring_enabled,
							 &perfopt_shared->interval_override_ms);
}

static const PerfoptShmemPart ctl_shmem_part = {NULL, ctl_shmem_init, false};

void
perfopt_control_shmem_register(void)
{
	perfopt_shmem_register(&ctl_shmem_part);
}

/*
 * Write the state file with plain system calls: this runs in a commit
 * callback, where an ERROR is not allowed, so failures are only logged.
 */
static void
ctl_write_file(bool enabled, int override_ms)
{
	char		text[128];
	int			len;
	int			fd;
	bool		ok;

	len = snprintf(text, sizeof(text),
				   "# written by perfopt; change with perfopt_start_monitoring()\n"
				   "enabled=%d\ninterval_override_ms=%d\n", enabled ? 1 : 0, override_ms);
	fd = open(CONTROL_TMP_FILE, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, pg_file_create_mode);
	ok = fd >= 0 && write(fd, text, len) == len && pg_fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok && rename(CONTROL_TMP_FILE, CONTROL_FILE) != 0)
		ok = false;
	if (ok)
	{
		/* make the rename itself durable */
		fd = open(".", O_RDONLY | PG_BINARY, 0);
		if (fd >= 0)
		{
			(void) pg_fsync(fd);
			close(fd);
		}
	}
	if (!ok)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("perfopt: could not write \"%s\": %m", CONTROL_FILE),
				 errdetail("The monitoring choice holds until the server restarts.")));
}

/*
 * Apply a monitoring choice: shared memory, then the state file, in one
 * order for everybody (control_lock), then wake the worker.
 */
static void
ctl_apply(bool enabled, int override_ms)
{
	Latch	   *latch;

	LWLockAcquire(perfopt_shared->control_lock, LW_EXCLUSIVE);
	LWLockAcquire(perfopt_shared->lock, LW_EXCLUSIVE);
	perfopt_shared->monitoring_enabled = enabled;
	perfopt_shared->interval_override_ms = override_ms;
	latch = perfopt_shared->worker_latch;
	LWLockRelease(perfopt_shared->lock);
	ctl_write_file(enabled, override_ms);
	LWLockRelease(perfopt_shared->control_lock);
	if (latch)
		SetLatch(latch);
}

/* at commit (atcommit.c) */
static void
ctl_apply_pending(void)
{
	ctl_apply(pending.enabled, pending.interval_override_ms);
}

/* at commit, after ctl_apply_pending, and at (sub)transaction abort */
static void
ctl_discard_pending(void)
{
	pending.staged = false;
}

void
perfopt_control_stage(bool enabled, int interval_override_ms)
{
	perfopt_at_commit_sub(ctl_apply_pending, ctl_discard_pending);
	pending.staged = true;
	pending.enabled = enabled;
	pending.interval_override_ms = interval_override_ms;
}

void
perfopt_control_current(bool *enabled, int *interval_override_ms)
{
	if (pending.staged)
	{
		*enabled = pending.enabled;
		*interval_override_ms = pending.interval_override_ms;
		return;
	}
	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	*enabled = perfopt_shared->monitoring_enabled;
	*interval_override_ms = perfopt_shared->interval_override_ms;
	LWLockRelease(perfopt_shared->lock);
}

void
perfopt_control_drop_override(void)
{
	bool		enabled;
	int			override_ms;

	LWLockAcquire(perfopt_shared->lock, LW_SHARED);
	enabled = perfopt_shared->monitoring_enabled;
	override_ms = perfopt_shared->interval_override_ms;
	LWLockRelease(perfopt_shared->lock);
	if (override_ms == 0)
		return;
	ctl_apply(enabled, 0);
	ereport(LOG,
			(errmsg("perfopt.monitoring_interval changed to %d ms", perfopt_monitoring_interval),
			 errdetail("It replaces the interval set by perfopt_start_monitoring().")));
}
