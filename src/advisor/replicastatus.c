/*
 * replicastatus.c — the status of the standbys the advisor reads
 * (replica.c): per standby and database, the last attempt, the last
 * success, attempts and failures, the statements the last success
 * contributed and the last error (libpq's or the standby's message, which
 * name hosts and roles, never a password).  Kept in shared memory, so that
 * a run of the advisor worker shows up in every session, and read by
 * perfopt_advisor_standbys().
 *
 * Layout: RsShared, a fixed array of RS_SLOTS slots; a new standby takes a
 * free slot or the one attempted longest ago.  Its own LWLock of the
 * "perfopt" tranche, held only to copy a slot in or out.
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "replica.h"
#include "replicastatus.h"
#include "shmem.h"

#define RS_SLOTS (2 * PERFOPT_MAX_STANDBYS)
#define RS_NAME_LEN 160
#define RS_ERROR_LEN 400

typedef struct RsSlot
{
	bool		used;
	char		name[RS_NAME_LEN];
	Oid			dbid;
	TimestampTz last_attempt;
	TimestampTz last_success;	/* 0: never */
	int64		attempts;
	int64		failures;
	int			statements;		/* of the last success */
	char		last_error[RS_ERROR_LEN];	/* of the last failure, kept after a success */
} RsSlot;

typedef struct RsShared
{
	LWLock	   *lock;
	RsSlot		slots[RS_SLOTS];
} RsShared;

static RsShared *rs = NULL;

static Size
rs_shmem_size(void)
{
	return MAXALIGN(sizeof(RsShared));
}

static void
rs_shmem_init(bool created, LWLock *lock)
{
	bool		found;

	rs = ShmemInitStruct("perfopt standby status", sizeof(RsShared), &found);
	if (!found)
	{
		memset(rs, 0, sizeof(RsShared));
		rs->lock = lock;
	}
}

static const PerfoptShmemPart rs_shmem_part = {
	rs_shmem_size, rs_shmem_init, true
};

void
perfopt_replica_shmem_register(void)
{
	perfopt_shmem_register(&rs_shmem_part);
}

void
adv_replica_status_record(const char *name, bool ok, int statements, const char *error)
{
	RsSlot	   *slot = NULL;
	TimestampTz now = GetCurrentTimestamp();

	if (rs == NULL)
		return;
	LWLockAcquire(rs->lock, LW_EXCLUSIVE);
	for (int i = 0; i < RS_SLOTS && slot == NULL; i++)
		if (rs->slots[i].used && rs->slots[i].dbid == MyDatabaseId &&
			strncmp(rs->slots[i].name, name, RS_NAME_LEN - 1) == 0)
			slot = &rs->slots[i];
	if (slot == NULL)
	{
		/* a free slot, else the one attempted longest ago */
		for (int i = 0; i < RS_SLOTS; i++)
		{
			if (!rs->slots[i].used)
			{
				slot = &rs->slots[i];
				break;
			}
			if (slot == NULL || rs->slots[i].last_attempt < slot->last_attempt)
				slot = &rs->slots[i];
		}
		memset(slot, 0, sizeof(RsSlot));
		slot->used = true;
		strlcpy(slot->name, name, RS_NAME_LEN);
		slot->dbid = MyDatabaseId;
	}
	slot->last_attempt = now;
	slot->attempts++;
	if (ok)
	{
		slot->last_success = now;
		slot->statements = statements;
	}
	else
	{
		slot->failures++;
		strlcpy(slot->last_error, error ? error : "", RS_ERROR_LEN);
	}
	LWLockRelease(rs->lock);
}

PG_FUNCTION_INFO_V1(perfopt_advisor_standbys);

Datum
perfopt_advisor_standbys(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsSlot	   *copy;
	int			n = 0;

	perfopt_require_shmem();
	InitMaterializedSRF(fcinfo, 0);
	copy = palloc(sizeof(RsSlot) * RS_SLOTS);
	LWLockAcquire(rs->lock, LW_SHARED);
	for (int i = 0; i < RS_SLOTS; i++)
		if (rs->slots[i].used)
			copy[n++] = rs->slots[i];
	LWLockRelease(rs->lock);

	for (int i = 0; i < n; i++)
	{
		RsSlot	   *s = &copy[i];
		Datum		values[8];
		bool		nulls[8] = {0};
		char	   *dbname = get_database_name(s->dbid);

		values[0] = CStringGetTextDatum(s->name);
		nulls[1] = dbname == NULL;
		values[1] = dbname ? DirectFunctionCall1(namein, CStringGetDatum(dbname)) : (Datum) 0;
		values[2] = TimestampTzGetDatum(s->last_attempt);
		nulls[3] = s->last_success == 0;
		values[3] = TimestampTzGetDatum(s->last_success);
		values[4] = Int64GetDatum(s->attempts);
		values[5] = Int64GetDatum(s->failures);
		values[6] = Int32GetDatum(s->statements);
		nulls[7] = s->last_error[0] == '\0';
		values[7] = CStringGetTextDatum(s->last_error);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
