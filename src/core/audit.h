/*
 * audit.h — records a state change in perfopt_audit_log, in the caller's
 * transaction (so a rolled-back change leaves no row).
 */
#ifndef PERFOPT_AUDIT_H
#define PERFOPT_AUDIT_H

/* arguments_json: a JSON object as text; outcome: short words */
extern void perfopt_audit(const char *action, const char *arguments_json,
						  const char *outcome);

#endif							/* PERFOPT_AUDIT_H */
