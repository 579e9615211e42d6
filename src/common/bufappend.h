/*
 * bufappend.h — printf into a caller's fixed buffer that keeps counting
 * past its end: the pure-C renderers (thresholds document, Prometheus
 * rules) write as much as fits and return the size a complete render
 * needs, so that a caller can allocate and render again.
 */
#ifndef PERFOPT_BUFAPPEND_H
#define PERFOPT_BUFAPPEND_H

#include <stdarg.h>
#include <stdio.h>

/* appends at *need (past size: counts only); *need grows by the length */
static inline void
bufappend(char *buf, size_t size, size_t *need, const char *fmt,...)
__attribute__((format(printf, 4, 5)));

static inline void
bufappend(char *buf, size_t size, size_t *need, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(*need < size ? buf + *need : NULL,
				  *need < size ? size - *need : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*need += (size_t) n;
}

#endif							/* PERFOPT_BUFAPPEND_H */
