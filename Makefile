# perfopt — PGXS build.  `make && make install`; tests: bash test/run.sh

MODULE_big = perfopt
OBJS = \
	src/advisor/advise.o \
	src/advisor/candidates.o \
	src/advisor/collect.o \
	src/advisor/configadvice.o \
	src/advisor/hygiene.o \
	src/advisor/planrole.o \
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
	src/ownsql.o \
	src/perfopt.o \
	src/procstats.o \
	src/promtext.o \
	src/sample.o \
	src/score.o \
	src/searchpath.o \
	src/sampler.o \
	src/shmem.o \
	src/sqlapi.o \
	src/thresholds.o \
	src/thresholds_doc.o \
	src/trends.o \
	src/usercode.o \
	src/worker.o

EXTENSION = perfopt
DATA = perfopt--1.0.sql perfopt--1.0--1.1.sql
PGFILEDESC = "perfopt - workload-driven monitoring and optimization"

PG_CPPFLAGS = -I$(srcdir)/include
# cJSON: the thresholds document
SHLIB_LINK = -lcjson
# -Wall -Wextra on top of PGXS, and a missing prototype is an error (it
# truncates returned pointers); the fmgr calling convention leaves
# parameters unused and PostgreSQL's own headers compare signed/unsigned.
PG_CFLAGS = -Wall -Wextra -Werror=implicit-function-declaration -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild everything when one changes
# (a stale object with an old struct layout corrupts memory silently)
$(OBJS) $(OBJS:.o=.bc): $(wildcard $(srcdir)/include/*.h)

# perfopt-httpd, the REST shim: a plain program (libmicrohttpd, libpq,
# cJSON, zlib), built by the same make and installed next to pg_ctl;
# perfopt-httpd-asan is the same with ASan/UBSan, for the tests only.
HTTPD_SRCS = src/httpd/main.c src/httpd/handler.c src/httpd/calls.c src/httpd/pool.c \
	src/httpd/stats.c src/httpd/util.c src/httpd/sha256.c src/latency_hist.c src/promtext.c
HTTPD_CFLAGS = -std=gnu99 -O2 -g -Wall -Wextra -Werror=implicit-function-declaration \
	-I$(srcdir)/include -I$(shell $(PG_CONFIG) --includedir) -pthread
HTTPD_SANITIZE = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
HTTPD_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lmicrohttpd -lpq -lcjson -lz -pthread

all: perfopt-httpd

perfopt-httpd: $(HTTPD_SRCS) $(wildcard $(srcdir)/include/*.h) $(wildcard $(srcdir)/src/httpd/*.h)
	$(CC) $(HTTPD_CFLAGS) -o $@ $(HTTPD_SRCS) $(HTTPD_LIBS)

perfopt-httpd-asan: $(HTTPD_SRCS) $(wildcard $(srcdir)/include/*.h) $(wildcard $(srcdir)/src/httpd/*.h)
	$(CC) $(HTTPD_CFLAGS) $(HTTPD_SANITIZE) -o $@ $(HTTPD_SRCS) $(HTTPD_LIBS)

install: install-httpd
install-httpd: perfopt-httpd
	$(INSTALL_PROGRAM) perfopt-httpd '$(DESTDIR)$(bindir)/perfopt-httpd'

EXTRA_CLEAN = perfopt-httpd perfopt-httpd-asan
