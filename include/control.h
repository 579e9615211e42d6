/*
 * control.h — run-time switching of monitoring: perfopt_start_monitoring()
 * and perfopt_stop_monitoring() stage a change that applies at commit; the
 * worker persists it in PGDATA/perfopt.state so it survives a restart.
 */
#ifndef PERFOPT_CONTROL_H
#define PERFOPT_CONTROL_H

/* postmaster, at shared-memory creation: read the persisted state */
extern void perfopt_control_load(bool *enabled, int *interval_override_ms);

/* SQL call: apply (enabled, override) when the calling transaction commits */
extern void perfopt_control_stage(bool enabled, int interval_override_ms);

/* what a call in this transaction would see: staged change, else shared */
extern void perfopt_control_current(bool *enabled, int *interval_override_ms);

/* worker: write the state file if it changed since the last write */
extern void perfopt_control_persist(void);

/* worker: a reload changed perfopt.monitoring_interval; the GUC wins */
extern void perfopt_control_drop_override(void);

#endif							/* PERFOPT_CONTROL_H */
