# imagestream: PGXS build.  `make test` runs everything (see README.md).

EXTENSION = imagestream
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = imagestream
# every C file of src/ is a part of the library
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
SHLIB_LINK += -lcrypto -lcurl
PG_CPPFLAGS += -I$(srcdir)/src
# the release the library is, for the User-Agent of its registry requests
PG_CPPFLAGS += -DIMAGESTREAM_VERSION=\"$(EXTVERSION)\"
PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

# The SQL is run-once objects, src/sql/schema/*.sql (types, tables, indexes,
# sequences: what CREATE makes once and ALTER changes), and code,
# src/sql/code/*.sql (functions, views, triggers, comments, privileges),
# every statement of which can run again harmlessly (CREATE OR REPLACE).
# The install script is the schema and then the code, each in name order.
SCHEMA_SOURCES = $(sort $(wildcard src/sql/schema/*.sql))
CODE_SOURCES = $(sort $(wildcard src/sql/code/*.sql))
SQL_SOURCES = $(SCHEMA_SOURCES) $(CODE_SOURCES)
# The update script from the previous release is src/sql/update/*.sql, what
# the code cannot do by running again (new tables, columns and types, data
# migrations, DROP of a function whose signature or result type changed, of
# a view whose columns changed), and then the same code.  At a release,
# freeze both scripts in src/sql/released/, set PREVIOUS to the release and
# empty src/sql/update/ but for its header (doc/upgrading.md).
PREVIOUS = 0.2.0
UPDATE_SOURCES = $(sort $(wildcard src/sql/update/*.sql)) $(CODE_SOURCES)
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--$(PREVIOUS)--$(EXTVERSION).sql
# released versions' install scripts and the update scripts from them, kept
# as they shipped (doc/upgrading.md)
DATA = $(wildcard src/sql/released/*.sql)

# pg_regress: sql/*.sql against expected/*.out, on its own temporary cluster
# that preloads the library.
# invariants last: it checks what every other test left behind
REGRESS = $(filter-out invariants,$(sort $(basename $(notdir $(wildcard sql/*.sql))))) invariants
REGRESS_OPTS = --temp-instance=tmp_regress --temp-config=test/regress.conf \
	--encoding=UTF8 --no-locale --load-extension=$(EXTENSION)

# TAP: test/t/*.pl with the helpers in test/lib (PROVE_FLAGS is set after
# the PGXS include, which would reset it).
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

EXTRA_CLEAN = tmp_regress tmp_check results regression.diffs regression.out \
	test/fuzz/fuzz_parsers test/fuzz/fuzz_headers test/fuzz/fuzz_manifest test/fuzz/fuzz_semver \
	test/fuzz/fuzz_signature \
	test/fuzz/work $(UNIT_TESTS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
PROVE_FLAGS = -I test/lib
else
# Without the server headers only the targets below work; `make test`
# installs what is missing.
all install installcheck:
	@echo "PostgreSQL server development files not found: run 'make test' (installs them) or install postgresql-server-dev-15" >&2; exit 1
endif

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES)
	cat $^ > $@

$(EXTENSION)--$(PREVIOUS)--$(EXTVERSION).sql: $(UPDATE_SOURCES)
	cat $^ > $@

.PHONY: test test-pg17 fuzz demo bench stress sqlsmith unit deb test-deb

# The one command that checks everything: dependencies, -Werror build,
# install, pg_regress, TAP tests, 20 s of each fuzz target and, as root, the
# Debian package (test-deb).
test:
	bash test/run-tests.sh

# The same pg_regress, TAP and unit tests against PostgreSQL 17, built once
# from Debian 13's source package and cached in /var/cache/imagestream-pg17
# (test/pg17/run-pg17.sh; doc/testing.md).
test-pg17:
	bash test/pg17/run-pg17.sh

# The demonstration: a throwaway cluster and registry (DEMO_ARGS=--keep keeps them).
demo:
	bash test/demo.sh $(DEMO_ARGS)

# The Debian package postgresql-15-imagestream (debian/, doc/install.md),
# built by dpkg-buildpackage with pg_buildext; as root, the build dependencies
# debian/control names are installed first when missing.  The .deb lands in
# the parent directory, as with Debian's own tools; the tree is left clean.
deb:
	@if [ "$$(id -u)" -eq 0 ] && ! dpkg-checkbuilddeps 2>/dev/null; then \
		echo "== installing the build dependencies of debian/control"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get build-dep -y -qq --no-install-recommends ./ >/dev/null || exit 1; \
	fi
	dpkg-buildpackage -us -uc -b --post-clean

# make deb, then the package installed with apt-get on this machine, tested
# on a fresh cluster against a local registry and removed (as root; the last
# step of `make test`; test/deb/run-deb-test.sh).
test-deb:
	bash test/deb/run-deb-test.sh

# Benchmarks against the registry's ceiling and the peers; writes doc/performance.md.
bench:
	bash test/bench/run-bench.sh

# The tests that take minutes: concurrency, resource bounds (doc/reliability.md).
stress:
	bash test/stress/run-stress.sh

# Random queries by Debian's sqlsmith, about 5 minutes, no crash allowed
# (test/sqlsmith/run-sqlsmith.sh; SQLSMITH_SECONDS, SQLSMITH_QUERIES).
sqlsmith:
	bash test/sqlsmith/run-sqlsmith.sh

# Unit tests of rules in plain C (test/unit/*.c), built outside the server
# with assertions on, as the fuzz targets are; each prints TAP.
UNIT_TESTS = test/unit/test_worker_schedule

test/unit/test_worker_schedule: test/unit/test_worker_schedule.c src/worker_schedule.c src/worker_schedule.h
	$(CC) -g -O1 -Wall -Werror -DUSE_ASSERT_CHECKING -I$(srcdir)/src \
		-I"$(shell $(PG_CONFIG) --includedir-server)" $(filter %.c,$^) \
		-L"$(shell $(PG_CONFIG) --pkglibdir)" -lpgcommon -lpgport -o $@

unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do ./$$t || exit 1; done

# The libFuzzer targets (test/fuzz/run-fuzz.sh); FUZZ_SECONDS is per target.
FUZZ_SECONDS ?= 20
fuzz:
	bash test/fuzz/run-fuzz.sh $(FUZZ_SECONDS)
