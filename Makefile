# perfopt — PGXS build.  `make && make install`; tests: bash test/run.sh, or make installcheck (docs/testing.md)

MODULE_big = perfopt
OBJS = \
	src/advisor/advise.o \
	src/advisor/brin.o \
	src/advisor/candidates.o \
	src/advisor/collect.o \
	src/advisor/colstats.o \
	src/advisor/configadvice.o \
	src/advisor/costcache.o \
	src/advisor/describe.o \
	src/advisor/hygiene.o \
	src/advisor/planrole.o \
	src/advisor/refresh.o \
	src/advisor/replica.o \
	src/advisor/replicaread.o \
	src/advisor/replicastatus.o \
	src/advisor/select.o \
	src/advisor/slowplan.o \
	src/advisor/statsadvice.o \
	src/advisor/valuecapture.o \
	src/advisor/valuecost.o \
	src/advisor/valuestore.o \
	src/advisor/whatif.o \
	src/advisor/workload.o \
	src/alerts/alerts.o \
	src/alerts/alerts_sql.o \
	src/alerts/emergency.o \
	src/alerts/promrules_sql.o \
	src/alerts/score.o \
	src/alerts/thresholds.o \
	src/common/latency_hist.o \
	src/common/procstats.o \
	src/common/promrules.o \
	src/common/promtext.o \
	src/common/sqlrepair.o \
	src/common/thresholds_doc.o \
	src/common/trends.o \
	src/core/atcommit.o \
	src/core/audit.o \
	src/core/auditpage.o \
	src/core/extschema.o \
	src/core/jsonutil.o \
	src/core/launcher.o \
	src/core/ownsql.o \
	src/core/perfopt.o \
	src/core/sample.o \
	src/core/searchpath.o \
	src/core/workersession.o \
	src/core/shmem.o \
	src/core/spiutil.o \
	src/core/usercode.o \
	src/jobs/dispatch.o \
	src/jobs/optimize.o \
	src/jobs/partitioned.o \
	src/jobs/queue.o \
	src/jobs/runner.o \
	src/jobs/statement.o \
	src/jobs/statistics.o \
	src/jobs/verify.o \
	src/latency/apimetrics.o \
	src/latency/latency.o \
	src/latency/latencyhistory.o \
	src/monitoring/control.o \
	src/monitoring/export.o \
	src/monitoring/history.o \
	src/monitoring/sampler.o \
	src/monitoring/sqlapi.o \
	src/monitoring/timeseries.o \
	src/monitoring/worker.o

EXTENSION = perfopt
DATA = perfopt--1.0.sql perfopt--1.0--1.1.sql
PGFILEDESC = "perfopt - workload-driven monitoring and optimization"

# the extension's parts: plain-C code and the core first, then in the order
# the data flows (samples, latency, alerts, advice, jobs).  Each folder
# holds its sources and their headers; every folder is on the include
# path, so a header's name must be unique across them.
PARTS = common core monitoring latency alerts advisor jobs
PG_CPPFLAGS = $(addprefix -I$(srcdir)/src/,$(PARTS))
# cJSON: the thresholds document; perfopt.exports: the library exports
# only what PostgreSQL looks up by name (test/exports.sh checks it)
SHLIB_LINK = -lcjson -Wl,--version-script=$(srcdir)/perfopt.exports
# libpq, as contrib/dblink links it: the advisor reads the workload of
# the standbys in perfopt.advisor_standbys (src/advisor/replica.c)
PG_CPPFLAGS += -I$(libpq_srcdir)
SHLIB_LINK_INTERNAL = $(libpq)
# -Wall -Wextra on top of PGXS, and a missing prototype is an error (it
# truncates returned pointers); the fmgr calling convention leaves
# parameters unused and PostgreSQL's own headers compare signed/unsigned.
PG_CFLAGS = -Wall -Wextra -Werror=implicit-function-declaration -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

# ---- tests (docs/testing.md); test/run.sh runs these targets too ----
# make installcheck: against the installed perfopt, the pg_regress tests of
# test/schedule (the one list of them, in order), then the TAP tests
# test/t/*.pl.  perfopt must be preloaded, so pg_regress starts a temporary
# instance of its own from test/regress.conf (which also preloads
# perfopt_sqlcheck: make -C test/sqlcheck install) rather than using a
# running server.  Everything goes under $(PERFOPT_TMP); the servers refuse
# to run as root, so root runs the targets as postgres (docs/testing.md, "Through PGXS").
#   make installcheck REGRESS=alerts TAP_TESTS=    one pg_regress test, no TAP
#   make prove_installcheck PROVE_TESTS=test/t/140_alerts.pl PROVE_FLAGS=-v
PERFOPT_TMP ?= $(CURDIR)/tmp_check
REGRESS = $(shell sed -n 's/^test: *//p' $(abspath $(srcdir))/test/schedule)
REGRESS_OPTS = --temp-instance=$(PERFOPT_TMP)/regress/instance \
	--temp-config=$(abspath $(srcdir))/test/regress.conf --no-locale \
	--outputdir=$(PERFOPT_TMP)/regress
REGRESS_PREP = installcheck-prereq
TAP_TESTS = 1

# the shim's outputs (below); set before PGXS, whose clean rule tests it
EXTRA_CLEAN = perfopt-httpd perfopt-httpd-asan perfopt-httpd.service perfopt-httpd-assets.c

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS's prove_installcheck for perfopt's layout: the tests in test/t/, their
# PerfoptTest.pm in test/perl/, and the TAP nodes in $(PERFOPT_TMP)/tap
# (TESTDIR through 16, TESTDATADIR and TESTLOGDIR from 17: the same places)
# rather than in a tmp_check/ re-created at the top (which the postgres
# user may not be allowed to remove); PROVE_TESTS and PROVE_FLAGS as usual.
define prove_installcheck
echo "+++ tap install-check +++" && \
rm -rf '$(PERFOPT_TMP)/tap' && \
$(MKDIR_P) '$(PERFOPT_TMP)/tap' && \
cd $(srcdir) && \
   TESTDIR='$(PERFOPT_TMP)/tap' PATH="$(bindir):$(CURDIR):$$PATH" \
   TESTDATADIR='$(PERFOPT_TMP)/tap/tmp_check' TESTLOGDIR='$(PERFOPT_TMP)/tap/tmp_check/log' \
   PGPORT='6$(DEF_PGPORT)' PERFOPT_TOP='$(abspath $(srcdir))' \
   PG_REGRESS='$(top_builddir)/src/test/regress/pg_regress' \
   $(PROVE) $(PG_PROVE_FLAGS) -I test/perl $(PROVE_FLAGS) $(if $(PROVE_TESTS),$(PROVE_TESTS),test/t/*.pl)
endef

.PHONY: prove_installcheck installcheck-prereq prove-prereq
prove_installcheck: prove-prereq
	$(prove_installcheck)

# what the test targets need, said before a server fails to start
prove-prereq:
	@if [ "$$(id -u)" = 0 ]; then \
		echo "PostgreSQL does not run as root: runuser -u postgres -- make PG_CONFIG=$(PG_CONFIG) $(MAKECMDGOALS), with $(PERFOPT_TMP) writable by postgres (docs/testing.md, Through PGXS)" >&2; \
		exit 1; \
	fi
	@test -f '$(datadir)/extension/perfopt.control' || \
		{ echo "perfopt is not installed in $(datadir): make PG_CONFIG=$(PG_CONFIG) install" >&2; exit 1; }
	@$(MKDIR_P) '$(PERFOPT_TMP)'
installcheck-prereq: prove-prereq
	@test -f '$(datadir)/extension/perfopt_sqlcheck.control' || \
		{ echo "perfopt_sqlcheck (test/regress.conf preloads it) is not installed: make -C test/sqlcheck PG_CONFIG=$(PG_CONFIG) install" >&2; exit 1; }

# PGXS tracks no header dependencies: rebuild everything when one changes
# (a stale object with an old struct layout corrupts memory silently)
$(OBJS) $(OBJS:.o=.bc): $(wildcard $(addsuffix /*.h,$(addprefix $(srcdir)/src/,$(PARTS))))

# a changed export list relinks the library
$(shlib): $(srcdir)/perfopt.exports

# perfopt-httpd, the REST shim: a plain program (libmicrohttpd, libpq,
# cJSON, zlib, nettle), built by the same make and installed next to pg_ctl;
# perfopt-httpd-asan is the same with ASan/UBSan, for the tests only.
HTTPD_SRCS = src/httpd/main.c src/httpd/handler.c src/httpd/calls.c src/httpd/pool.c \
	src/httpd/stats.c src/httpd/routes.c src/httpd/tokens.c src/httpd/caching.c \
	src/httpd/params.c src/httpd/text.c src/httpd/body.c src/httpd/bucket.c \
	src/httpd/errors.c src/httpd/sql.c src/httpd/timearg.c src/httpd/assets.c \
	src/common/latency_hist.c src/common/promtext.c
# the dashboard's page and files (src/httpd/dashboard/), embedded as C arrays
# into a generated source (never committed) by embed-assets.sh
DASHBOARD_FILES = $(sort $(wildcard $(addprefix $(srcdir)/src/httpd/dashboard/*.,html js css svg)))
HTTPD_ASSETS = perfopt-httpd-assets.c
# perfopt's own source files by name: the shim passes on a server message
# to its caller only when one of them raised it (the PG_DIAG_SOURCE_FILE of
# an error, which SQL cannot set).  launcher.c, worker.c and shmem.c leave
# the list: PostgreSQL's server has files of those names too (and raises no
# message of perfopt's from them).
PERFOPT_MESSAGE_FILES = $(filter-out launcher.c worker.c shmem.c,$(notdir $(OBJS:.o=.c)))
empty :=
space := $(empty) $(empty)
HTTPD_CFLAGS = -std=gnu99 -O2 -g -Wall -Wextra -Werror=implicit-function-declaration \
	-I$(srcdir)/src/common -I$(srcdir)/src/httpd -I$(shell $(PG_CONFIG) --includedir) -pthread \
	-DPERFOPT_MESSAGE_FILES='"$(subst $(space),:,$(strip $(PERFOPT_MESSAGE_FILES)))"'
HTTPD_SANITIZE = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
HTTPD_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lmicrohttpd -lpq -lcjson -lz -lnettle -pthread

# a distribution's own flags on top (debian/rules: dpkg-buildflags')
HTTPD_BUILDFLAGS ?=
HTTPD_LDFLAGS ?=
# WITH_HTTPD=no: the extension alone (debian/rules builds it once per
# PostgreSQL version, and the shim once, in a package of its own)
WITH_HTTPD ?= yes

ifeq ($(WITH_HTTPD),yes)
all: perfopt-httpd
endif

perfopt-httpd-assets.c: $(DASHBOARD_FILES) $(srcdir)/src/httpd/embed-assets.sh
	sh $(srcdir)/src/httpd/embed-assets.sh $@ $(DASHBOARD_FILES)

perfopt-httpd: $(HTTPD_SRCS) $(HTTPD_ASSETS) Makefile $(wildcard $(srcdir)/src/common/*.h) $(wildcard $(srcdir)/src/httpd/*.h)
	$(CC) $(HTTPD_CFLAGS) $(HTTPD_BUILDFLAGS) -o $@ $(HTTPD_SRCS) $(HTTPD_ASSETS) $(HTTPD_LDFLAGS) $(HTTPD_LIBS)

perfopt-httpd-asan: $(HTTPD_SRCS) $(HTTPD_ASSETS) Makefile $(wildcard $(srcdir)/src/common/*.h) $(wildcard $(srcdir)/src/httpd/*.h)
	$(CC) $(HTTPD_CFLAGS) $(HTTPD_SANITIZE) -o $@ $(HTTPD_SRCS) $(HTTPD_ASSETS) $(HTTPD_LIBS)

ifeq ($(WITH_HTTPD),yes)
install: install-httpd
endif
install-httpd: perfopt-httpd
	$(INSTALL_PROGRAM) perfopt-httpd '$(DESTDIR)$(bindir)/perfopt-httpd'

# the shim as a systemd service: `make install-service` (as root) installs
# the unit (the shim's path filled in), its user (systemd-sysusers) and,
# when there is none yet, /etc/perfopt/httpd.conf
SYSTEMD_UNITDIR ?= /etc/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
perfopt-httpd.service: packaging/systemd/perfopt-httpd.service.in
	sed 's|@BINDIR@|$(bindir)|g' $< > $@
ifeq ($(WITH_HTTPD),yes)
all: perfopt-httpd.service
endif

install-service: perfopt-httpd.service
	$(INSTALL) -D -m 644 perfopt-httpd.service '$(DESTDIR)$(SYSTEMD_UNITDIR)/perfopt-httpd.service'
	$(INSTALL) -D -m 644 packaging/systemd/perfopt-httpd.sysusers '$(DESTDIR)$(SYSUSERSDIR)/perfopt-httpd.conf'
	test -e '$(DESTDIR)/etc/perfopt/httpd.conf' || \
		$(INSTALL) -D -m 640 packaging/httpd.conf.example '$(DESTDIR)/etc/perfopt/httpd.conf'
