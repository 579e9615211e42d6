/*
 * jobs.h — the maintenance job runner: DDL and VACUUM that must run at top
 * level (CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX
 * CONCURRENTLY, VACUUM, ANALYZE, CREATE / DROP STATISTICS), queued in perfopt_jobs by SQL calls and
 * run by a dynamic background worker in the job's database.
 */
#ifndef PERFOPT_JOBS_H
#define PERFOPT_JOBS_H

/* queue.c: SQL side, inside the caller's transaction */
extern int64 perfopt_job_queue(const char *kind, const char *statement,
							   const char *target_table, const char *index_name,
							   double estimated_size_bytes, int64 recommendation_id,
							   int64 run_id);
/* wake the worker for this database when the transaction commits */
extern void perfopt_jobs_wake_at_commit(void);

/* dispatch.c: the main worker's side; ms until it wants another call */
extern long perfopt_jobs_dispatch_tick(void);

/* verify.c: after a build, and when the observation window has passed */
extern void perfopt_verify_after_build(const char *schema, int64 job_id,
									   int64 recommendation_id, const char *index_name);
extern void perfopt_verify_due(const char *schema);
extern void perfopt_verify_schedule(const char *schema);

/* statistics.c: extended statistics jobs and their verification */
extern void perfopt_statistics_build(const char *statement, const char *table,
									 const char *stats_name);
extern void perfopt_statistics_drop(const char *stats_name, const char *table);
extern void perfopt_statistics_cleanup(const char *stats_name, const char *table);
extern void perfopt_statistics_verify(const char *schema, int64 job_id, int64 recommendation_id,
									  const char *stats_name, const char *table);

/* runner.c: the dynamic worker */
extern PGDLLEXPORT void perfopt_job_runner_main(Datum main_arg);

/* statement.c: running statements for runner.c and partitioned.c */
/* the runner's memory context: transactions and errors return to it */
extern void perfopt_job_set_context(MemoryContext cxt);
extern void perfopt_job_xact_begin(void);
extern void perfopt_job_xact_end(void);
extern void perfopt_job_execute(const char *sql, Node *stmt);
extern void perfopt_job_log_and_abort(void);
extern void perfopt_job_drop_quietly(const char *index_name);

/* partitioned.c: indexes on partitioned tables, partition by partition */
extern bool perfopt_partitioned_table(const char *table);
extern void perfopt_partitioned_build(const char *statement, const char *table);
extern void perfopt_partitioned_cleanup(const char *index_name, const char *table);

#endif							/* PERFOPT_JOBS_H */
