# mk/clients.mk - real, unmodified libraries on smalloc: cJSON (through the client pair), Lua 5.4
# (a lua_Alloc on one environment per state) and an NDR-like unmarshaller (tests/clients/ndr.c)
# that builds its [out] tree with sm_client_allocate.
#
#   make check-clients     the client tests (tests/clients/, their own "N passed, M failed"), the
#                          NDR seed corpus replayed through the fuzz target's checks with $(CC),
#                          and the exit statuses of examples 06_cjson and 07_lua on bad input;
#                          part of `make check`, so of `make test`
#   make sanitize-clients  the same tests and the replay under clang ASan+UBSan; part of
#                          `make sanitize`
#   make fuzz-ndr          libFuzzer (clang) on the NDR decoder for FUZZ_TIME seconds (the default of
#                          mk/fuzz.mk; 60 without it), from a copy of tests/clients/ndr_corpus in
#                          build/fuzz-ndr/ (crashes: its artifacts/); a crash fails the target
#   make bench-clients     cJSON parse + free of a large generated document and an allocation-heavy
#                          Lua script, each on smalloc, glibc malloc and mimalloc (mi_heap), in one
#                          run: time and peak memory; part of `make bench`
#   make deps-cjson deps-lua deps-mimalloc   the Debian packages (libcjson-dev, liblua5.4-dev,
#                          libmimalloc-dev), installed with apt-get when make runs as root
#
# The examples 06_cjson and 07_lua (examples/data/ holds what `make demo` gives them) are built
# natively only (the Makefile's LIB_EXAMPLES), with the flags below.
# The libraries' headers are searched with -isystem: their code is not ours to keep warning-free.

CJSON_PC     ?= libcjson
LUA_PC       ?= lua5.4
# mimalloc is loaded with dlopen by the benchmark: linked in, Debian's libmimalloc.so replaces
# malloc for the whole process (it exports malloc and free), and there would be no glibc to compare.
MIMALLOC_LIB ?= libmimalloc.so.2

CJSON_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(CJSON_PC) 2>/dev/null)
CJSON_LIBS   = $(or $(shell $(PKG_CONFIG) --libs $(CJSON_PC) 2>/dev/null),-lcjson)
LUA_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(LUA_PC) 2>/dev/null)
LUA_LIBS     = $(or $(shell $(PKG_CONFIG) --libs $(LUA_PC) 2>/dev/null),-llua5.4)
CJSON_INC    = $(patsubst -I%,-isystem %,$(CJSON_CFLAGS))
LUA_INC      = $(patsubst -I%,-isystem %,$(LUA_CFLAGS))
CLIENTS_INC  = $(CJSON_INC) $(LUA_INC)
CLIENTS_LIBS = $(CJSON_LIBS) $(LUA_LIBS)

.PHONY: check-clients sanitize-clients fuzz-ndr bench-clients deps-cjson deps-lua deps-mimalloc

deps-cjson: deps
	@$(call ensure,$(PKG_CONFIG) --exists $(CJSON_PC),libcjson-dev)
deps-lua: deps
	@$(call ensure,$(PKG_CONFIG) --exists $(LUA_PC),liblua5.4-dev)
deps-mimalloc: deps
	@$(call ensure,echo 'int main(void){return 0;}' | $(CC) -x c - -lmimalloc -o /dev/null,libmimalloc-dev)

# ---------------------------------------------------------------------------------------------
# The examples.
EXCFLAGS_06_cjson  = $(CJSON_INC)
EXLIBS_06_cjson    = $(CJSON_LIBS)
DEMO_ARGS_06_cjson = examples/data/orders.json
EXCFLAGS_07_lua    = $(LUA_INC)
EXLIBS_07_lua      = $(LUA_LIBS)
DEMO_ARGS_07_lua   = examples/data/demo.lua
$(BUILD)/examples/06_cjson: mk/clients.mk | deps-cjson
$(BUILD)/examples/07_lua: mk/clients.mk | deps-lua

# ---------------------------------------------------------------------------------------------
# The client tests: one binary with smalloc's implementation (tests/clients/main.c).
CLIENTS_DIR  = $(BUILD)/clients
CLIENTS_SRCS = tests/clients/main.c $(sort $(wildcard tests/clients/t_*.c)) tests/clients/ndr.c
CLIENTS_DEPS = $(CLIENTS_SRCS) $(wildcard tests/clients/*.h) $(wildcard tests/*.h) $(HEADER) mk/clients.mk
CLIENTS_BIN  = $(CLIENTS_DIR)/clients_test
NDR_CORPUS   = tests/clients/ndr_corpus
NDR_FUZZ_SRCS = tests/clients/ndr_fuzz.c tests/clients/ndr.c
NDR_FUZZ_DEPS = $(NDR_FUZZ_SRCS) tests/clients/ndr.h $(HEADER) mk/clients.mk

$(CLIENTS_BIN): $(CLIENTS_DEPS) | deps-cjson deps-lua
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(CLIENTS_INC) $(ALL_CFLAGS) $(CLIENTS_SRCS) -o $@ $(ALL_LDFLAGS) $(CLIENTS_LIBS) $(LDLIBS)

# The fuzz target with a main() that replays files: any C compiler, no libFuzzer.
$(CLIENTS_DIR)/ndr_replay: $(NDR_FUZZ_DEPS) | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DNDR_REPLAY_MAIN $(NDR_FUZZ_SRCS) -o $@ $(ALL_LDFLAGS) $(LDLIBS)

# Bad input to the examples: a clear message on stderr and exit status 2 (a Lua runtime error: 1).
# $(call expect_exit,STATUS,COMMAND)
expect_exit = $(2) >/dev/null 2>$(CLIENTS_DIR)/stderr.txt; rc=$$?; \
	if [ $$rc -ne $(1) ] || ! [ -s $(CLIENTS_DIR)/stderr.txt ]; then \
	  echo "check-clients: '$(2)' exited $$rc (expected $(1), with a message)" >&2; exit 1; fi; \
	echo "  $(2) -> exit $$rc: $$(head -n 1 $(CLIENTS_DIR)/stderr.txt)";

check-clients: $(CLIENTS_BIN) $(CLIENTS_DIR)/ndr_replay $(BUILD)/examples/06_cjson $(BUILD)/examples/07_lua
	./$(CLIENTS_DIR)/ndr_replay $(NDR_CORPUS)
	@printf '{"a": [1, 2,\n  {"b": tru}]}\n' > $(CLIENTS_DIR)/bad.json
	@printf 'local x = = 1\n' > $(CLIENTS_DIR)/bad_syntax.lua
	@printf 'local t = nil\nreturn t.field\n' > $(CLIENTS_DIR)/bad_runtime.lua
	@echo "examples on bad input:"; \
	 $(call expect_exit,2,./$(BUILD)/examples/06_cjson $(CLIENTS_DIR)/no-such-file.json) \
	 $(call expect_exit,2,./$(BUILD)/examples/06_cjson $(CLIENTS_DIR)/bad.json) \
	 $(call expect_exit,2,./$(BUILD)/examples/06_cjson) \
	 $(call expect_exit,2,./$(BUILD)/examples/07_lua $(CLIENTS_DIR)/no-such-file.lua) \
	 $(call expect_exit,2,./$(BUILD)/examples/07_lua $(CLIENTS_DIR)/bad_syntax.lua) \
	 $(call expect_exit,1,./$(BUILD)/examples/07_lua $(CLIENTS_DIR)/bad_runtime.lua)
	./$(CLIENTS_BIN)

check: check-clients

# ---------------------------------------------------------------------------------------------
# Sanitizers: the client tests and the replay under clang ASan+UBSan (cJSON and Lua themselves
# are not instrumented; their malloc, and every smalloc and test line, are).
$(BUILD)/asan/clients_test: $(CLIENTS_DEPS) | deps-clang deps-cjson deps-lua
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CLIENTS_INC) $(CSTD) $(WARN) $(SAN_OPT) $(ASAN) -pthread $(CLIENTS_SRCS) \
	  -o $@ $(LDFLAGS) $(CLIENTS_LIBS) $(LDLIBS)
$(BUILD)/asan/ndr_replay: $(NDR_FUZZ_DEPS) | deps-clang
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(SAN_OPT) $(ASAN) -pthread -DNDR_REPLAY_MAIN $(NDR_FUZZ_SRCS) \
	  -o $@ $(LDFLAGS) $(LDLIBS)

sanitize-clients: $(BUILD)/asan/clients_test $(BUILD)/asan/ndr_replay
	$(ASAN_OPTIONS_RUN) ./$(BUILD)/asan/ndr_replay $(NDR_CORPUS)
	$(ASAN_OPTIONS_RUN) ./$(BUILD)/asan/clients_test

sanitize: sanitize-clients

# ---------------------------------------------------------------------------------------------
# libFuzzer on the NDR decoder. New inputs stay in build/fuzz-ndr/corpus; copy the interesting
# ones into tests/clients/ndr_corpus by hand.
FUZZ_NDR_DIR = $(BUILD)/fuzz-ndr
NDR_FUZZ_SAN = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
$(FUZZ_NDR_DIR)/ndr_fuzz: $(NDR_FUZZ_DEPS) | deps-clang
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(SAN_OPT) $(NDR_FUZZ_SAN) -pthread $(NDR_FUZZ_SRCS) \
	  -o $@ $(LDFLAGS) $(LDLIBS)

fuzz-ndr: $(FUZZ_NDR_DIR)/ndr_fuzz
	@mkdir -p $(FUZZ_NDR_DIR)/corpus $(FUZZ_NDR_DIR)/artifacts
	@cp $(NDR_CORPUS)/* $(FUZZ_NDR_DIR)/corpus/
	cd $(FUZZ_NDR_DIR) && ASAN_OPTIONS=detect_leaks=1 ./ndr_fuzz -max_total_time=$(or $(FUZZ_TIME),60) \
	  -max_len=16384 -print_final_stats=1 -artifact_prefix=artifacts/ corpus

# ---------------------------------------------------------------------------------------------
# The client benchmarks (bench/clients.c).
BENCH_CLIENTS_BIN = $(BUILD)/bench/clients
$(BENCH_CLIENTS_BIN): bench/clients.c tests/clients/cjson_glue.h tests/clients/lua_glue.h $(HEADER) \
                      mk/clients.mk | deps-cjson deps-lua deps-mimalloc
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(CLIENTS_INC) $(CSTD) $(WARN) $(WERROR) -O2 -D_POSIX_C_SOURCE=200809L \
	  -DMIMALLOC_LIB='"$(MIMALLOC_LIB)"' $< -o $@ -pthread $(CLIENTS_LIBS) -ldl

bench: bench-clients
bench-clients: $(BENCH_CLIENTS_BIN)
	@echo "$$(uname -m), $$($(CC) --version | head -n 1), -O2, $$(nproc) CPUs," \
	      "commit $$(git rev-parse --short HEAD 2>/dev/null)"
	./$(BENCH_CLIENTS_BIN)
