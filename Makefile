# perfopt — PGXS build.  `make && make install`; tests: bash test/run.sh

MODULE_big = perfopt
OBJS = \
	src/advisor/advise.o \
	src/advisor/candidates.o \
	src/advisor/collect.o \
	src/advisor/configadvice.o \
	src/advisor/hygiene.o \
	src/advisor/refresh.o \
	src/advisor/select.o \
	src/advisor/slowplan.o \
	src/advisor/sqlrepair.o \
	src/advisor/whatif.o \
	src/advisor/workload.o \
	src/alerts.o \
	src/alerts_sql.o \
	src/apimetrics.o \
	src/audit.o \
	src/control.o \
	src/emergency.o \
	src/export.o \
	src/extschema.o \
	src/history.o \
	src/latency.o \
	src/latency_hist.o \
	src/jobs/dispatch.o \
	src/jobs/partitioned.o \
	src/jobs/queue.o \
	src/jobs/runner.o \
	src/jobs/verify.o \
	src/optimize.o \
	src/perfopt.o \
	src/procstats.o \
	src/promtext.o \
	src/sample.o \
	src/score.o \
	src/sampler.o \
	src/shmem.o \
	src/sqlapi.o \
	src/thresholds.o \
	src/thresholds_doc.o \
	src/trends.o \
	src/worker.o

EXTENSION = perfopt
DATA = perfopt--1.0.sql
PGFILEDESC = "perfopt - workload-driven monitoring and optimization"

PG_CPPFLAGS = -I$(srcdir)/include
# -Wall -Wextra on top of PGXS, and a missing prototype is an error (it
# truncates returned pointers); the fmgr calling convention leaves
# parameters unused and PostgreSQL's own headers compare signed/unsigned.
# cJSON: the thresholds document
SHLIB_LINK = -lcjson
PG_CFLAGS = -Wall -Wextra -Werror=implicit-function-declaration -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild everything when one changes
# (a stale object with an old struct layout corrupts memory silently)
$(OBJS) $(OBJS:.o=.bc): $(wildcard $(srcdir)/include/*.h)
