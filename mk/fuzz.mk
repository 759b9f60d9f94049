# mk/fuzz.mk - the API fuzzer (tests/fuzz/api_fuzz.c): libFuzzer runs, and its corpus as a test.
#
#   make fuzz [FUZZ_TIME=600] [FUZZ_JOBS=n] [FUZZ_SEED=n]
#                    libFuzzer (clang -fsanitize=fuzzer,address,undefined) for FUZZ_TIME seconds
#                    in fork mode with FUZZ_JOBS processes (default: one per core). Its corpus is
#                    build/fuzz/corpus: seeded from tests/fuzz/corpus and tests/fuzz/regressions,
#                    kept between runs, so the checked-in corpus is never written. The last line
#                    gives executions, executions per second and the coverage reached. A crash or
#                    model mismatch stops the run with its input in build/fuzz/findings/: read it
#                    with FUZZ_TRACE=1 build/fuzz/replay FILE, then add it to tests/fuzz/regressions/
#                    with a line in tests/fuzz/regressions/README. Fork mode does not count an
#                    input that fails only when its merge step reruns it, and skips seed inputs
#                    that fail: so the run also fails for any file it left in findings/ that is
#                    not a known regression input (those are named, and reported by
#                    check-fuzz-replay and sanitize-fuzz-replay).
#   make fuzz-ci     the same for FUZZ_CI_TIME seconds (60) from the checked-in inputs alone, seed 1:
#                    the short fixed budget CI spends.
#   make fuzz-seeds  rewrites tests/fuzz/corpus from tests/fuzz/gen_seeds.c.
#   make check-fuzz-replay   (in `make check`, so `make test`) every input of tests/fuzz/corpus and
#                    tests/fuzz/regressions through tests/fuzz/replay.c, built with $(CC) and the
#                    tests' warning set, no libFuzzer needed; and the corpus must be exactly what
#                    gen_seeds writes.
#   make sanitize-fuzz-replay   (in `make sanitize`) the same replay built with clang ASan+UBSan.

# FUZZ_TIME is not given a default here: mk/clients.mk's fuzz-ndr reads it with its own default.
FUZZ_CI_TIME ?= 60
FUZZ_JOBS    ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_SEED    ?= 0
# -max_len: an input of 4096 bytes is about a thousand operations. -len_control=0: long inputs
# from the start, since deep states (full chunks, nested environments, reused blocks) take many
# operations to build (more features than the default slow growth of the length, at the same
# speed). -timeout: an input runs in milliseconds; seconds mean a hang.
FUZZ_OPTS    ?= -max_len=4096 -len_control=0 -timeout=30 -rss_limit_mb=2048 -print_final_stats=1

FUZZ_DIR   = $(BUILD)/fuzz
FUZZ_SRC   = tests/fuzz/api_fuzz.c
FUZZ_DEPS  = $(FUZZ_SRC) tests/fuzz/fuzz.h $(HEADER) Makefile mk/fuzz.mk
FUZZ_BIN   = $(FUZZ_DIR)/api_fuzz
FUZZ_SAN   = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_INPUTS = tests/fuzz/corpus tests/fuzz/regressions
REPLAY_BIN = $(FUZZ_DIR)/replay
REPLAY_ASAN_BIN = $(FUZZ_DIR)/replay-asan
REPLAY_DEPS = $(FUZZ_DEPS) tests/fuzz/replay.c
SEEDS_BIN  = $(FUZZ_DIR)/gen_seeds

.PHONY: fuzz fuzz-ci fuzz-seeds check-fuzz-replay check-fuzz-seeds sanitize-fuzz-replay deps-fuzz

check: check-fuzz-replay
sanitize: sanitize-fuzz-replay

# libFuzzer's runtime comes with the sanitizers' (libclang-rt-N-dev).
FUZZ_PROBE = printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return (int)(d == 0) + (int)n * 0; }\n' \
             | $(CLANG) -x c $(FUZZ_SAN) -o /dev/null -
deps-fuzz: deps-clang
	@v=$$($(CLANG) -dumpversion | cut -d. -f1); \
	 $(call ensure,$(FUZZ_PROBE),libclang-rt-$$v-dev)

$(FUZZ_BIN): $(FUZZ_DEPS) | deps-fuzz
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(WERROR) $(SAN_OPT) $(FUZZ_SAN) $(FUZZ_SRC) -o $@ -pthread

# $(1): corpus directory, $(2): seconds, $(3): extra libFuzzer options. The fuzzer's status
# survives the pipe through tee (sh has no pipefail). The previous run's findings move to
# findings.prev.
FUZZ_KNOWN = $(CURDIR)/tests/fuzz/regressions
FUZZ_RUN = cd $(FUZZ_DIR) && rm -rf findings.prev && { [ ! -d findings ] || mv findings findings.prev; } && \
	mkdir -p findings && \
	{ ./api_fuzz -fork=$(FUZZ_JOBS) -max_total_time=$(2) $(FUZZ_OPTS) $(3) -artifact_prefix=findings/ \
	    $(1) 2>&1; echo $$? > $(1).status; } | tee $(1).log; \
	st=$$(cat $(1).status); new=; \
	awk '/^\#[0-9]+: / { last = $$0 } END { if (last) print "fuzz: last stats: " last }' $(1).log; \
	for f in findings/*; do \
	  [ -f "$$f" ] || continue; known=; \
	  for r in $(FUZZ_KNOWN)/*; do cmp -s "$$f" "$$r" && known=$${r\#\#*/}; done; \
	  if [ -n "$$known" ]; then \
	    echo "fuzz: the known regression input $$known still fails (make check-fuzz-replay)" >&2; \
	  else new="$$new $(FUZZ_DIR)/$$f"; fi; \
	done; \
	if [ "$$st" != 0 ] || [ -n "$$new" ]; then \
	  echo "fuzz: a finding (libFuzzer exit $$st):$$new" >&2; \
	  echo "fuzz: read it with FUZZ_TRACE=1 $(REPLAY_BIN) FILE; keep it in tests/fuzz/regressions/ (note in its README)" >&2; \
	  exit 1; \
	fi

# Copies the checked-in inputs (not the README) into corpus directory $(1).
FUZZ_SEED_CORPUS = mkdir -p $(1) && cp -p tests/fuzz/corpus/* $(1)/ && \
	for f in tests/fuzz/regressions/*; do \
	  case "$${f\#\#*/}" in README*) ;; *) [ -f "$$f" ] && cp -p "$$f" $(1)/ ;; esac; \
	done; true

fuzz: $(FUZZ_BIN) $(REPLAY_BIN)
	@$(call FUZZ_SEED_CORPUS,$(FUZZ_DIR)/corpus)
	@echo "fuzz: $(or $(FUZZ_TIME),600) s on $(FUZZ_JOBS) processes, corpus $(FUZZ_DIR)/corpus ($$(ls $(FUZZ_DIR)/corpus | wc -l) inputs)"
	@$(call FUZZ_RUN,corpus,$(or $(FUZZ_TIME),600),-seed=$(FUZZ_SEED))

fuzz-ci: $(FUZZ_BIN) $(REPLAY_BIN)
	@rm -rf $(FUZZ_DIR)/ci-corpus
	@$(call FUZZ_SEED_CORPUS,$(FUZZ_DIR)/ci-corpus)
	@echo "fuzz-ci: $(FUZZ_CI_TIME) s on $(FUZZ_JOBS) processes from the checked-in inputs"
	@$(call FUZZ_RUN,ci-corpus,$(FUZZ_CI_TIME),-seed=1)

# The seed corpus: written by gen_seeds, checked to be exactly what it writes.
$(SEEDS_BIN): tests/fuzz/gen_seeds.c tests/fuzz/fuzz.h Makefile mk/fuzz.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) tests/fuzz/gen_seeds.c -o $@
fuzz-seeds: $(SEEDS_BIN)
	rm -f tests/fuzz/corpus/*
	@mkdir -p tests/fuzz/corpus
	./$(SEEDS_BIN) tests/fuzz/corpus
check-fuzz-seeds: $(SEEDS_BIN)
	@rm -rf $(FUZZ_DIR)/seeds && mkdir -p $(FUZZ_DIR)/seeds
	@./$(SEEDS_BIN) $(FUZZ_DIR)/seeds
	@diff -r $(FUZZ_DIR)/seeds tests/fuzz/corpus >/dev/null || \
	  { echo "tests/fuzz/corpus is not what tests/fuzz/gen_seeds.c writes: run make fuzz-seeds" >&2; exit 1; }

# The replay: plain $(CC), the tests' warnings; then clang with ASan and UBSan.
$(REPLAY_BIN): $(REPLAY_DEPS) | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(FUZZ_SRC) tests/fuzz/replay.c -o $@ $(ALL_LDFLAGS) $(LDLIBS)
check-fuzz-replay: $(REPLAY_BIN) check-fuzz-seeds
	./$(REPLAY_BIN) $(FUZZ_INPUTS)

$(REPLAY_ASAN_BIN): $(REPLAY_DEPS) | deps-clang
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(WERROR) $(SAN_OPT) $(ASAN) -pthread $(FUZZ_SRC) tests/fuzz/replay.c \
	  -o $@ $(LDFLAGS) $(LDLIBS)
sanitize-fuzz-replay: $(REPLAY_ASAN_BIN)
	$(ASAN_OPTIONS_RUN) ./$< $(FUZZ_INPUTS)
