/*-------------------------------------------------------------------------
 *
 * procstats.h
 *	  readers and parsers for linux machine statistics (/proc, cgroup v2,
 *	  statvfs) used by the perfopt sampling worker.
 *
 * this module owns only the reading and parsing of those sources.  it is
 * pure c99 + posix: it must not include postgresql headers, must not
 * allocate (callers supply every buffer), must not block for long and must
 * never abort.  malformed or missing input is reported as "not available"
 * by returning false (or -1), and output parameters are left untouched
 * whenever a function reports failure.
 *
 * src/common/procstats.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PROCSTATS_H
#define PROCSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cumulative cpu time counters of the aggregate "cpu " line, in clock ticks */
typedef struct ProcCpuTimes
{
	uint64_t	user,
				nice,
				system,
				idle,
				iowait,
				irq,
				softirq,
				steal;
} ProcCpuTimes;

/* cpu usage over an interval; percent 0..100, NaN when unknown */
typedef struct ProcCpuPercent
{
	double		busy,
				user,
				system,
				iowait;
} ProcCpuPercent;

/*
 * read a whole small file into buf (NUL-terminated).  returns bytes read, or
 * -1 on error or when the file does not fit (truncated => -1, errno EFBIG).
 * only regular files are read, so a fifo or device can never block us.  on
 * failure buf holds an empty string (if bufsize > 0) and errno is set.
 */
extern long procstats_read_file(const char *path, char *buf, size_t bufsize);

/*
 * like procstats_read_file, but a file that does not fit is not an error:
 * the text is cut back to its last complete line, so parsers never see a
 * partial line.  meant for /proc/stat, whose aggregate "cpu " line comes
 * first but whose tail (per-cpu and interrupt lines) can be hundreds of kB on
 * big machines.  returns bytes kept, or -1 on error or when not even the
 * first line fits.
 */
extern long procstats_read_file_head(const char *path, char *buf, size_t bufsize);

/*
 * the aggregate "cpu " line of /proc/stat text.  older kernels have fewer
 * than 8 numbers: missing ones are 0, but at least 4 are required.  extra
 * columns (guest, guest_nice, ...) are validated and ignored.
 */
extern bool procstats_parse_cpu(const char *text, ProcCpuTimes *out);

/*
 * percentages over the interval between two readings; all NaN if no ticks
 * elapsed or counters went backwards.  busy = everything except idle and
 * iowait (so steal counts as busy); user = user + nice;
 * system = system + irq + softirq; iowait = iowait.
 */
extern void procstats_cpu_percent(const ProcCpuTimes *prev,
								  const ProcCpuTimes *cur,
								  ProcCpuPercent *out);

/*
 * /proc/meminfo: MemTotal and MemAvailable in bytes (the file says kB).
 * false if either is missing (MemAvailable needs linux >= 3.14) or malformed.
 */
extern bool procstats_parse_meminfo(const char *text,
									uint64_t *total_bytes,
									uint64_t *available_bytes);

/*
 * cgroup v2 memory limit.  self_cgroup_text is the text of /proc/self/cgroup
 * (its "0::/some/path" line is used) and cgroup_root is the cgroup2 mount
 * point, normally "/sys/fs/cgroup".  memory.max is looked up in
 * <root><path>, then in each ancestor up to and including <root>; the
 * smallest numeric limit binds ("max" means no limit at that level, a missing file
 * means the controller is not enabled there).  memory.current is read from
 * the directory where the limit was found.
 *
 * returns true and fills both when a limit is set; false when there is no
 * limit, no cgroup v2 line, a ".." component in the path, a path longer than
 * PATH_MAX, or a file that is unreadable or malformed.
 */
extern bool procstats_cgroup_memory(const char *cgroup_root,
									const char *self_cgroup_text,
									uint64_t *current_bytes,
									uint64_t *limit_bytes);

/*
 * /proc/net/dev: sum of receive and transmit bytes over all interfaces
 * except "lo".  true (possibly with zero sums) when the text holds at least
 * one well-formed interface line and nothing malformed.
 */
extern bool procstats_parse_netdev(const char *text,
								   uint64_t *rx_bytes,
								   uint64_t *tx_bytes);

/* /proc/loadavg: the 1, 5 and 15 minute averages (locale independent) */
extern bool procstats_parse_loadavg(const char *text, double load[3]);

/*
 * statvfs of path: total bytes, bytes available to unprivileged users, and
 * used percent computed like df: used = blocks - bfree;
 * percent = used / (used + bavail) * 100 (NaN if used + bavail is 0).
 * false for filesystems reporting no blocks at all.  note that statvfs on a
 * hung network filesystem can block; pass local paths (the data directory).
 */
extern bool procstats_disk(const char *path,
						   uint64_t *total_bytes,
						   uint64_t *avail_bytes,
						   double *used_percent);

/* online cpu count, or -1 */
extern int	procstats_cpu_count(void);

#endif							/* PROCSTATS_H */
