# Social governance platform — build, run, test.
# `make` builds libsg and the three services; `make up` / `make test` are the
# two commands of the README.

.DEFAULT_GOAL := all

B        ?= build
# Make's built-in default is `cc`, which `?=` would keep: on a machine with
# clang but no gcc that silently builds with clang. gcc unless CC is given.
ifeq ($(origin CC),default)
CC       := gcc
endif
SAN      ?=
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
PKGS     := libmicrohttpd jansson rdkafka hiredis libjwt libpq openssl libcurl
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-missing-field-initializers
CPPFLAGS := -D_GNU_SOURCE -Icommon/include $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN) -pthread -MMD -MP
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
TESTLIBS := -lcriterion

SERVICES := report reviewer reward

# The development packages, checked when make reads this file (pkg-config is
# cheap). `up` and `test` install what is missing (`deps`) and then build in a
# sub-make, which reads CPPFLAGS/LDLIBS again with the packages present; a plain
# `make` never calls apt but names the missing packages instead of failing
# later on a missing header.
PKGS_MISSING := $(shell for p in $(PKGS) criterion; do pkg-config --exists $$p 2>/dev/null || printf '%s ' $$p; done)
ifneq ($(strip $(PKGS_MISSING)),)
ifneq ($(filter all,$(or $(MAKECMDGOALS),all)),)
$(error missing development packages ($(strip $(PKGS_MISSING))); run `make deps` (scripts/devstack install), or `make up` / `make test`, which install them first)
endif
endif

COMMON_SRC := $(wildcard common/src/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
LIBSG      := $(B)/libsg.a

# Per service: every .c but main.c goes in lib<svc>.a (linked by unit tests).
define SERVICE_RULES
$(1)_SRC  := $$(filter-out services/$(1)/main.c,$$(wildcard services/$(1)/*.c))
$(1)_OBJ  := $$($(1)_SRC:%.c=$(B)/%.o)
$(B)/lib$(1).a: $$($(1)_OBJ)
	@mkdir -p $$(@D)
	rm -f $$@; $$(AR) rcs $$@ $$^
$(B)/sg-$(1): $(B)/services/$(1)/main.o $(B)/lib$(1).a $(LIBSG)
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call SERVICE_RULES,$(s))))

BINS := $(SERVICES:%=$(B)/sg-%)

# Unit tests: tests/unit/test_<area>_*.c; <area> = common or a service name.
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# Integration tests of common in C (need the devstack).
IT_SRC    := $(wildcard tests/integration/common/test_*.c)
IT_BINS   := $(IT_SRC:tests/integration/common/%.c=$(B)/tests/it_%)
TOOL_SRC  := $(wildcard tools/*.c)
TOOL_BINS := $(TOOL_SRC:tools/%.c=$(B)/tools/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BINS:= $(BENCH_SRC:bench/%.c=$(B)/bench/%)

# Keep object files make considers intermediate (no rebuilds, no 'rm' lines
# after the test summaries).
.SECONDARY:

.PHONY: all deps check-api-keys compose-test clean up down test unit integration it-common it-services e2e asan valgrind bench demo fuzz check-deploy venv
all: $(BINS) $(UNIT_BINS) $(IT_BINS) $(TOOL_BINS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIBSG): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@; $(AR) rcs $@ $^

# A unit test of area <a> links lib<a>.a (services) and libsg.
$(B)/tests/test_common_%: $(B)/tests/unit/test_common_%.o $(LIBSG)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(TESTLIBS)
define UNIT_RULES
$(B)/tests/test_$(1)_%: $(B)/tests/unit/test_$(1)_%.o $(B)/lib$(1).a $(LIBSG)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(LDLIBS) $$(TESTLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call UNIT_RULES,$(s))))
$(B)/tests/it_%: $(B)/tests/integration/common/%.o $(B)/tests/integration/common/it_util.o $(LIBSG)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(TESTLIBS)
$(B)/tools/%: $(B)/tools/%.o $(LIBSG)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(B)/bench/%: $(B)/bench/%.o $(LIBSG) $(foreach s,$(SERVICES),$(B)/lib$(s).a)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(foreach s,$(SERVICES),$(B)/lib$(s).a) $(LIBSG) $(LDLIBS)

# ---- running -------------------------------------------------------------
VENV := .cache/venv
venv: $(VENV)/.ok
$(VENV)/.ok: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r tests/requirements.txt
	touch $@

# Idempotent and quick when everything is present (dpkg-query only).
deps:
	scripts/devstack install

# The demo data is loaded as the first client of SG_API_KEYS: refuse an
# unusable value before anything is started.
check-api-keys:
	@scripts/demo-data --check

up: deps check-api-keys
	$(MAKE) --no-print-directory all
	scripts/devstack up
	scripts/services up
	scripts/demo-data

down:
	-scripts/services down
	scripts/devstack down

demo: all
	scripts/demo

# ---- tests ---------------------------------------------------------------
# Deployment checks and a short fuzz run, then everything against the
# devstack; the unit tests last, so their summaries close the log.
TEST_FUZZ_SECONDS ?= 10
test: deps
	$(MAKE) --no-print-directory all venv
	scripts/devstack up
	$(MAKE) --no-print-directory check-deploy
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	$(MAKE) --no-print-directory it-services e2e
	$(MAKE) --no-print-directory it-common
	$(MAKE) --no-print-directory unit

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t --jobs=2 --short-filename; done

it-common: $(IT_BINS)
	@set -e; eval "$$(scripts/devstack env)"; for t in $(IT_BINS); do echo "== $$t"; $$t --jobs=1 --short-filename; done

it-services: $(BINS) $(TOOL_BINS) venv
	eval "$$(scripts/devstack env)"; SG_BUILD_DIR=$(B) $(VENV)/bin/python -m pytest -q -x tests/integration

e2e: $(BINS) venv
	eval "$$(scripts/devstack env)"; SG_BUILD_DIR=$(B) $(VENV)/bin/python -m pytest -q -x tests/e2e

integration: it-common it-services

# Issue 15: several replicas and two versions side by side (both also run in `make e2e`).
# replica-test: two replicas of each service, kill -9 of each relay leader under load.
# skew-test: the previous release's binaries (scripts/build-previous SG_PREV_RELEASE,
# default 9773189, built once into .cache/prev-<commit>) on the schemas the new
# release migrated, then mixed with the new ones, over the main e2e path.
.PHONY: replica-test skew-test
replica-test: $(BINS) venv
	scripts/devstack up
	eval "$$(scripts/devstack env)"; SG_BUILD_DIR=$(B) $(VENV)/bin/python -m pytest -q tests/e2e/test_replicas.py

skew-test: $(BINS) venv
	scripts/devstack up
	eval "$$(scripts/devstack env)"; SG_BUILD_DIR=$(B) $(VENV)/bin/python -m pytest -q tests/e2e/test_version_skew.py

check-deploy:
	scripts/check-deploy

# The Dockerfile's image and docker-compose.yml run for real under podman-compose
# (docker-compose.podman.yml swaps in stand-ins for the infrastructure images),
# then the main path against the containers: tests/compose/run. Not in `make test`.
compose-test: deps
	$(MAKE) --no-print-directory $(B)/tools/sg-token venv
	SG_BUILD_DIR=$(B) tests/compose/run

asan:
	$(MAKE) B=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all
	scripts/devstack up
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(MAKE) B=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" unit it-common it-services

# The services under valgrind (memcheck) through their integration tests:
# any memory error, or a definite or indirect leak at shutdown, makes a
# service exit 99, which every test module's stop check reports.
VALGRIND_TESTS ?= tests/integration
valgrind: all venv
	scripts/devstack up
	eval "$$(scripts/devstack env)"; SG_BUILD_DIR=$(B) SG_TEST_STOP_TIMEOUT=120 \
	  SG_TEST_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	    --errors-for-leak-kinds=definite,indirect" \
	  $(VENV)/bin/python -m pytest -q $(VALGRIND_TESTS)

bench: all $(BENCH_BINS)
	scripts/devstack up
	bench/run

clean:
	rm -rf build build-asan

-include $(shell find $(B) -name '*.d' 2>/dev/null)

-include tests/fuzz/fuzz.mk
