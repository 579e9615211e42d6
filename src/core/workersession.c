/*
 * workersession.c — the session every perfopt background worker runs its
 * transactions in, whatever postgresql.conf or ALTER DATABASE / ALTER
 * ROLE ... SET say: perfopt's own search_path (searchpath.c), read-write
 * and read committed, as autovacuum's are.  A serializable or repeatable
 * read default would keep a worker's later reads on its transaction's
 * first snapshot, and a read-only default would fail its history writes
 * and index builds.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "searchpath.h"
#include "workersession.h"

void
perfopt_worker_session(void)
{
	perfopt_pin_worker_search_path();
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
}
