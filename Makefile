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

# The install script is built from src/sql/*.sql, in name order.
SQL_SOURCES = $(sort $(wildcard src/sql/*.sql))
# The update script from the previous release is built the same way, from
# src/sql/update/*.sql (one piece per concern), until it is released.
PREVIOUS = 0.2.0
UPDATE_SOURCES = $(sort $(wildcard src/sql/update/*.sql))
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
	test/fuzz/fuzz_parsers test/fuzz/fuzz_headers test/fuzz/fuzz_manifest \
	test/fuzz/work

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

.PHONY: test fuzz demo bench stress sqlsmith

# The one command that checks everything: dependencies, -Werror build,
# install, pg_regress, TAP tests and 20 s of each fuzz target.
test:
	bash test/run-tests.sh

# The demonstration: a throwaway cluster and registry (DEMO_ARGS=--keep keeps them).
demo:
	bash test/demo.sh $(DEMO_ARGS)

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

# The libFuzzer targets (test/fuzz/run-fuzz.sh); FUZZ_SECONDS is per target.
FUZZ_SECONDS ?= 20
fuzz:
	bash test/fuzz/run-fuzz.sh $(FUZZ_SECONDS)
