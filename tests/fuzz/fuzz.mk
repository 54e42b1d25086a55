# libFuzzer targets for request parsing/validation (tests/fuzz/fuzz_<name>.c,
# seeds in tests/fuzz/corpus/<name>/, dictionary tests/fuzz/<name>.dict, both
# written by tests/fuzz/gen_seeds.py). Included at the end of the Makefile;
# uses its COMMON_SRC, CPPFLAGS, WARN and LDLIBS.
#
#   make fuzz                  build, then run each target FUZZ_SECONDS (20)
#   make fuzz FUZZ_SECONDS=300
#   make fuzz-build            build only
#   make fuzz-repro            replay the saved findings in tests/fuzz/crashes/<name>/
#   make fuzz-clean
#
# Built with clang, ASan, UBSan and libFuzzer coverage into $(FUZZ_B): all of
# libsg (an archive: a target links only what it calls) and, per target, the
# service sources it tests (FUZZ_SRC_<name>, pure files only, so that work in
# progress elsewhere in a service does not break the fuzz build). A new
# target: tests/fuzz/fuzz_<name>.c plus its FUZZ_SRC_<name> line.
# The grown corpus stays in $(FUZZ_B)/corpus/<name> (the seeds are only read);
# crash, leak and timeout inputs land in $(FUZZ_B)/artifacts/<name>/.

FUZZ_B        ?= build-fuzz
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 20
FUZZ_TIMEOUT  ?= 10
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   := $(WARN) -O1 -g $(FUZZ_SAN) -pthread -MMD -MP
FUZZ_CPPFLAGS := $(CPPFLAGS) -Iservices -Itests/fuzz
FUZZ_ENV      := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1 \
                 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZ_NAMES:%=$(FUZZ_B)/fuzz_%)

RV_PURE := services/reviewer/payloads.c services/reviewer/policy.c services/reviewer/quality.c \
           services/reviewer/reviewer.c
FUZZ_SRC_router :=
FUZZ_SRC_auth   :=
FUZZ_SRC_body   := services/report/intake.c services/report/rule.c services/report/decision.c $(RV_PURE) \
                   services/reward/rule.c services/reward/catalog.c
FUZZ_SRC_events := $(RV_PURE) services/reward/payloads.c services/reward/rule.c services/reward/grant.c \
                   services/report/payloads.c services/report/decision.c services/report/lifecycle.c
FUZZ_SRC_values := services/report/intake.c services/report/rule.c services/report/decision.c \
                   services/reward/catalog.c
FUZZ_SRC_template := services/report/notify.c

# Extra libFuzzer flags per target. Bodies may be 64 KiB and some limits
# (evidence 16384 bytes serialized, description 2000 code points, batches of
# 1000) need long inputs; libFuzzer's default max_len would be 4096.
FUZZ_OPTS_body   := -max_len=20000
FUZZ_OPTS_events := -max_len=20000

.PHONY: fuzz fuzz-build fuzz-repro fuzz-clean

# Library sources: libFuzzer coverage without its main().
$(FUZZ_B)/common/%.o: common/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_B)/services/%.o: services/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_B)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/libsg.a: $(COMMON_SRC:%.c=$(FUZZ_B)/%.o)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

define FUZZ_TARGET_RULES
$(FUZZ_B)/fuzz_$(1): $(FUZZ_B)/tests/fuzz/fuzz_$(1).o $$(FUZZ_SRC_$(1):%.c=$(FUZZ_B)/%.o) $(FUZZ_B)/libsg.a
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$^ $$(LDLIBS)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call FUZZ_TARGET_RULES,$(n))))

fuzz-build: $(FUZZ_BINS)

# One line per target: result, executions, coverage, corpus size. Exits
# non-zero when any target crashed, leaked, timed out or hit a property check.
fuzz: $(FUZZ_BINS)
	@fail=0; $(foreach n,$(FUZZ_NAMES),opts_$(n)='$(FUZZ_OPTS_$(n))';) \
	for n in $(FUZZ_NAMES); do eval "opts=\$$opts_$$n"; \
	  mkdir -p $(FUZZ_B)/corpus/$$n $(FUZZ_B)/artifacts/$$n $(FUZZ_B)/logs; \
	  log=$(FUZZ_B)/logs/$$n.log; dict=; \
	  if [ -f tests/fuzz/$$n.dict ]; then dict=-dict=tests/fuzz/$$n.dict; fi; \
	  $(FUZZ_ENV) $(FUZZ_B)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/artifacts/$$n/ $$dict $$opts \
	    $(FUZZ_B)/corpus/$$n tests/fuzz/corpus/$$n >$$log 2>&1; rc=$$?; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n1); \
	  cov=$$(grep -o 'cov: [0-9]*' $$log | tail -n1 | cut -d' ' -f2); \
	  units=$$(ls $(FUZZ_B)/corpus/$$n | wc -l); \
	  if [ $$rc -eq 0 ]; then res=ok; else res="FAIL(rc=$$rc)"; fail=1; fi; \
	  printf 'fuzz %-8s %-12s execs=%-10s cov=%-6s corpus=%-6s log=%s\n' \
	    $$n "$$res" "$${execs:-?}" "$${cov:-?}" $$units $$log; \
	  if [ $$rc -ne 0 ]; then \
	    grep -m1 -E '^==[0-9]+== ?ERROR|runtime error|property failed' $$log | sed 's/^/     /'; \
	    grep -m1 'Test unit written' $$log | sed 's/^/     /'; fi; \
	done; exit $$fail

# Replays every saved finding (not fuzzing): non-zero while any still fails.
fuzz-repro: $(FUZZ_BINS)
	@fail=0; for n in $(FUZZ_NAMES); do \
	  [ -d tests/fuzz/crashes/$$n ] || continue; \
	  for f in tests/fuzz/crashes/$$n/*; do [ -f "$$f" ] || continue; \
	    if $(FUZZ_ENV) $(FUZZ_B)/fuzz_$$n "$$f" >$(FUZZ_B)/repro.log 2>&1; then echo "fixed    $$f"; \
	    else echo "FAILS    $$f"; fail=1; fi; \
	  done; \
	done; exit $$fail

fuzz-clean:
	rm -rf $(FUZZ_B)

-include $(shell find $(FUZZ_B) -name '*.d' 2>/dev/null)
