/*
 * control.h — run-time switching of monitoring: perfopt_start_monitoring()
 * and perfopt_stop_monitoring() stage a change that applies at commit, to
 * shared memory and to PGDATA/perfopt.state, so it survives a restart.
 */
#ifndef PERFOPT_CONTROL_H
#define PERFOPT_CONTROL_H

/* _PG_init: read the persisted state when shared memory is created */
extern void perfopt_control_shmem_register(void);

/* SQL call: apply (enabled, override) when the calling transaction commits */
extern void perfopt_control_stage(bool enabled, int interval_override_ms);

/* what a call in this transaction would see: staged change, else shared */
extern void perfopt_control_current(bool *enabled, int *interval_override_ms);

/* worker: a reload changed perfopt.monitoring_interval; the GUC wins */
extern void perfopt_control_drop_override(void);

#endif							/* PERFOPT_CONTROL_H */
