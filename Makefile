# smalloc - build, test and run the examples.
#
#   make demo        build and run every example (examples/NN_topic.c) whose libraries are there
#   make test        compile checks (two-file link, SMALLOC_STATIC, C++, exported symbols, the
#                    README's quick start), then the test suite; the last line is "N passed, M failed"
#   make examples    build the examples only
#   make sanitize    the test suite under clang ASan+UBSan, then separately under TSan
#   make sanitize-demo  the examples under ASan: a use after mark-free (SM_POISON) is caught
#   make valgrind    the test suite under Valgrind Memcheck (in process: TH_NOFORK=1)
#   make windows     the test suite and the examples cross-compiled with mingw-w64 (compile only)
#   make i386        the test suite as a 32-bit x86 program, run under qemu-i386
#   make portability every platform leg (gcc, clang, i386, aarch64, s390x, Wine, tcc, ...) and
#                    a table of the results: mk/platforms.mk
#   make standards   the compile matrix (C89..C2x, C++11..20, gcc and clang, -Werror): mk/standards.mk
#   make lint        cppcheck and clang-tidy on smalloc.h: mk/standards.mk
#   make consumers   consumer projects for each way of using smalloc; make install/uninstall:
#                    mk/packaging.mk
#   make bench       smalloc beside glibc, mimalloc, jemalloc, APR, talloc, obstack and bump pointers:
#                    a Markdown table and a chart (bench/results/); make bench-build builds it only:
#                    mk/bench.mk
#   make clean       remove build/
#
# Missing Debian packages (libstb-dev, pkg-config, g++, clang, the sanitizer runtime, valgrind)
# are installed with apt-get when make runs as root (unless DEPS_INSTALL=no); otherwise make
# names them and stops. `make demo` goes on without a library an example needs (cJSON, Lua):
# it runs the others and names at the end the examples it skipped and the packages to install.
# stb_ds.h is taken from STB_CFLAGS when given (STB_CFLAGS=-I/path/to/stb), else from a copy
# beside smalloc.h, else from libstb-dev.
# Override anything on the command line: make CC=clang CFLAGS='-O0 -g' test

CC      ?= cc
CXX     ?= c++
CLANG   ?= clang
MINGW_CC ?= x86_64-w64-mingw32-gcc
I386_CC  ?= i686-linux-gnu-gcc
QEMU_I386 ?= qemu-i386
VALGRIND ?= valgrind
PKG_CONFIG ?= pkg-config

CSTD    ?= -std=c99
CXXSTD  ?= -std=c++11
OPT     ?= -O2 -g
# Extra flags, e.g. WERROR=-Werror (CI sets it).
WERROR  ?=

# Warnings for C: the examples and the tests build clean with all of these.
WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wold-style-definition -Wcast-align -Wcast-qual -Wundef -Wpointer-arith \
       -Wwrite-strings -Wredundant-decls -Wnested-externs -Wvla -Wformat=2
# Warnings for C++ (the header's declarations and implementation compiled as C++11).
CXXWARN = -Wall -Wextra -Wpedantic -Wshadow -Wcast-align -Wcast-qual -Wundef \
          -Wpointer-arith -Wwrite-strings -Wredundant-decls -Wformat=2

# stb_ds.h: STB_CFLAGS when given; else none for a copy beside smalloc.h; else Debian's
# libstb-dev, through pkg-config (evaluated when used, so `make deps` can install it first).
# Its directory is searched with -isystem: stb_ds's own code is not ours to keep warning-free.
STB_CFLAGS ?= $(if $(wildcard stb_ds.h),,$(shell $(PKG_CONFIG) --cflags stb 2>/dev/null))
STB_INC     = $(patsubst -I%,-isystem %,$(STB_CFLAGS))

CPPFLAGS ?=
CFLAGS   ?= $(OPT)
CXXFLAGS ?= $(OPT)
LDFLAGS  ?=
LDLIBS   ?=

ALL_CPPFLAGS = -I. $(STB_INC) $(CPPFLAGS)
ALL_CFLAGS   = $(CSTD) $(WARN) $(WERROR) $(CFLAGS) -pthread
ALL_CXXFLAGS = $(CXXSTD) $(CXXWARN) $(WERROR) $(CXXFLAGS) -pthread
ALL_LDFLAGS  = $(LDFLAGS) -pthread

# Sanitizer builds (clang).
SAN_OPT   = -O1 -g -fno-omit-frame-pointer
ASAN      = -fsanitize=address,undefined -fno-sanitize-recover=all
TSAN      = -fsanitize=thread
ASAN_OPTIONS_RUN  = ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
TSAN_OPTIONS_RUN  = TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# Possibly-lost blocks are not shown: smalloc's table of thread handles lives as long as the
# process by design (stale handles are recognised by it), and Memcheck calls stb_ds arrays
# "possibly lost" because they are referenced past their header.
VALGRIND_FLAGS = --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
                 --show-possibly-lost=no --track-origins=yes --quiet

BUILD = build
HEADER = smalloc.h

TEST_SRCS = tests/main.c $(sort $(wildcard tests/t_*.c))
TEST_DEPS = $(TEST_SRCS) $(wildcard tests/*.h) $(HEADER)
TEST_BIN  = $(BUILD)/smalloc_test

# Examples that need a library beyond libc (cJSON, Lua) are built and run natively only; the
# rest also run on every platform leg. EXLIBS_name and DEMO_ARGS_name are set beside the rules
# that install those libraries (mk/*.mk).
LIB_EXAMPLES = 06_cjson 07_lua
ALL_EXAMPLE_SRCS = $(sort $(wildcard examples/[0-9][0-9]_*.c))
LIB_EXAMPLE_SRCS = $(filter $(patsubst %,examples/%.c,$(LIB_EXAMPLES)),$(ALL_EXAMPLE_SRCS))
EXAMPLE_SRCS = $(filter-out $(LIB_EXAMPLE_SRCS),$(ALL_EXAMPLE_SRCS))
EXAMPLE_BINS = $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))
ALL_EXAMPLE_BINS = $(patsubst examples/%.c,$(BUILD)/examples/%,$(ALL_EXAMPLE_SRCS))

# Arguments `make demo` runs each example with (none where not listed).
DEMO_ARGS_02_rpc_server = 6 4

.PHONY: all test check examples demo sanitize sanitize-asan sanitize-tsan sanitize-demo valgrind clean \
        deps deps-cxx deps-clang deps-valgrind deps-mingw deps-i386 windows i386 bench bench-callgrind

all: examples $(TEST_BIN)

# ---------------------------------------------------------------------------------------------
# Dependencies. $(call ensure,CHECK,PACKAGE): run CHECK; if it fails, install PACKAGE with
# apt-get when we are root (apt-get update first if the install fails), else name it and fail.
# DEPS_INSTALL=no: never install, only name.
DEPS_INSTALL ?= auto
ensure = if ! ( $(1) ) >/dev/null 2>&1; then \
	  if [ "$(DEPS_INSTALL)" != no ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing $(2)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(2) \
	    || { DEBIAN_FRONTEND=noninteractive apt-get update \
	         && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(2); } \
	    || exit 1; \
	    ( $(1) ) >/dev/null 2>&1 || { echo "make: $(2) is installed but the check still fails: $(1)" >&2; exit 1; }; \
	  else \
	    echo "install $(2) (apt-get install $(2))" >&2; exit 1; \
	  fi; \
	fi

# stb_ds.h beside smalloc.h or in a directory STB_CFLAGS names (-I, -isystem) will do; only
# without one is libstb-dev needed. STB_CFLAGS given by the user must name one.
deps:
	@$(call ensure,command -v $(PKG_CONFIG),pkg-config)
	@set -- $(STB_CFLAGS); found=; if [ -f stb_ds.h ]; then found=stb_ds.h; fi; \
	 while [ $$# -gt 0 ] && [ -z "$$found" ]; do \
	   case "$$1" in \
	     -I|-isystem|-iquote|-idirafter) if [ $$# -gt 1 ]; then shift; fi; d=$$1 ;; \
	     -I*) d=$${1#-I} ;; -isystem*) d=$${1#-isystem} ;; *) d= ;; \
	   esac; \
	   if [ -n "$$d" ] && [ -f "$$d/stb_ds.h" ]; then found=$$d/stb_ds.h; fi; shift; \
	 done; \
	 if [ -z "$$found" ]; then \
	   case '$(origin STB_CFLAGS)' in environment*|command*|override) \
	     echo "make: STB_CFLAGS='$(STB_CFLAGS)' names no directory with stb_ds.h (nor is there one beside smalloc.h)" >&2; \
	     exit 1 ;; \
	   esac; \
	   $(call ensure,test -f /usr/include/stb/stb_ds.h && $(PKG_CONFIG) --exists stb,libstb-dev); \
	 fi

deps-cxx: deps
	@$(call ensure,command -v $(CXX),g++)

deps-clang: deps
	@$(call ensure,command -v $(CLANG),clang)
	@v=$$($(CLANG) -dumpversion | cut -d. -f1); \
	 $(call ensure,echo 'int main(void){return 0;}' | $(CLANG) -x c $(ASAN) -o /dev/null -,libclang-rt-$$v-dev)

deps-valgrind: deps
	@$(call ensure,command -v $(VALGRIND),valgrind)
	@$(call ensure,test -f /usr/include/valgrind/memcheck.h,valgrind)

deps-mingw: deps
	@$(call ensure,command -v $(MINGW_CC),gcc-mingw-w64-x86-64)

deps-i386: deps
	@$(call ensure,command -v $(I386_CC),gcc-i686-linux-gnu)
	@$(call ensure,test -f /usr/i686-linux-gnu/include/stdio.h,libc6-dev-i386-cross)
	@$(call ensure,command -v $(QEMU_I386),qemu-user)

# ---------------------------------------------------------------------------------------------
# The test suite: one binary, run last so that "N passed, M failed" is the last line.
test: check $(TEST_BIN)
	./$(TEST_BIN)

$(TEST_BIN): $(TEST_DEPS) Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(TEST_SRCS) -o $@ $(ALL_LDFLAGS) $(LDLIBS)

# ---------------------------------------------------------------------------------------------
# Compile checks, each built and run.
check: check-c89 check-link check-static check-cxx check-symbols check-readme check-variants
.PHONY: check-c89 check-link check-static check-cxx check-symbols check-readme check-variants

# The declarations alone (no implementation) as C89, pedantic, warnings as errors.
check-c89: tests/c89_use.c $(HEADER) Makefile | deps
	@mkdir -p $(BUILD)
	$(CC) -I. -std=c89 -pedantic -Wall -Wextra -Werror -c tests/c89_use.c -o $(BUILD)/c89_use.o

# The suite again without threads, with C11 <threads.h> instead of POSIX threads, and with
# SMALLOC_DEBUG (the invariants of every environment checked each time its lock is let go).
$(BUILD)/variants/no_threads: $(TEST_DEPS) Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DSMALLOC_NO_THREADS $(TEST_SRCS) -o $@ $(ALL_LDFLAGS) $(LDLIBS)
$(BUILD)/variants/c11_threads: $(TEST_DEPS) Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -std=c11 -DSMALLOC_C11_THREADS $(TEST_SRCS) -o $@ $(ALL_LDFLAGS) $(LDLIBS)
$(BUILD)/variants/debug: $(TEST_DEPS) Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DSMALLOC_DEBUG $(TEST_SRCS) -o $@ $(ALL_LDFLAGS) $(LDLIBS)
check-variants: $(BUILD)/variants/no_threads $(BUILD)/variants/c11_threads $(BUILD)/variants/debug
	./$(BUILD)/variants/no_threads
	./$(BUILD)/variants/c11_threads
	./$(BUILD)/variants/debug

# Two files: the implementation in one, plain use in the other.
$(BUILD)/link/%.o: tests/%.c $(HEADER) Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@
$(BUILD)/link/link_test: $(BUILD)/link/link_a.o $(BUILD)/link/link_b.o
	$(CC) $^ -o $@ $(ALL_LDFLAGS) $(LDLIBS)
check-link: $(BUILD)/link/link_test
	./$<

# SMALLOC_STATIC: must be warning-free even though the file uses only some functions.
$(BUILD)/static_use: tests/static_use.c $(HEADER) Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -Werror -Wall -Wextra $< -o $@ $(ALL_LDFLAGS) $(LDLIBS)
check-static: $(BUILD)/static_use
	./$<

# The header as C++11 (g++ -Wall -Wextra -Werror); stb_ds's implementation compiled as C.
$(BUILD)/cxx/cxx_use.o: tests/cxx_use.cpp $(HEADER) Makefile | deps-cxx
	@mkdir -p $(@D)
	$(CXX) $(ALL_CPPFLAGS) $(ALL_CXXFLAGS) -Wall -Wextra -Werror -c $< -o $@
$(BUILD)/cxx/stb_ds_impl.o: tests/stb_ds_impl.c Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(CSTD) $(CFLAGS) -pthread -c $< -o $@
$(BUILD)/cxx/cxx_use: $(BUILD)/cxx/cxx_use.o $(BUILD)/cxx/stb_ds_impl.o
	$(CXX) $^ -o $@ $(ALL_LDFLAGS) $(LDLIBS)
check-cxx: $(BUILD)/cxx/cxx_use
	./$<

# Exported symbols: the implementation alone (without stb_ds's) may export only public sm_*
# names (private sm__* functions are static) and sm__fast_tls, the thread state that the inline
# fast path reads; with SMALLOC_STB_DS_IMPLEMENTATION, stb_ds's own stbds_* names are allowed
# as well.
SYMBOLS = nm -g --defined-only $(1) | awk 'NF >= 3 { print $$3 }'
$(BUILD)/symbols/impl.o: $(HEADER) Makefile | deps
	@mkdir -p $(@D)
	printf '#define SMALLOC_IMPLEMENTATION\n#include "smalloc.h"\n' > $(BUILD)/symbols/impl.c
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $(BUILD)/symbols/impl.c -o $@
$(BUILD)/symbols/impl_stbds.o: $(HEADER) Makefile | deps
	@mkdir -p $(@D)
	printf '#define SMALLOC_IMPLEMENTATION\n#define SMALLOC_STB_DS_IMPLEMENTATION\n#include "smalloc.h"\n' \
	  > $(BUILD)/symbols/impl_stbds.c
	$(CC) $(ALL_CPPFLAGS) $(CSTD) $(CFLAGS) -pthread -c $(BUILD)/symbols/impl_stbds.c -o $@
check-symbols: $(BUILD)/symbols/impl.o $(BUILD)/symbols/impl_stbds.o
	@n=$$($(call SYMBOLS,$(BUILD)/symbols/impl.o) | wc -l); \
	 bad=$$($(call SYMBOLS,$(BUILD)/symbols/impl.o) | grep -v -e '^sm_[A-Za-z0-9]' -e '^sm__fast_tls$$' || true); \
	 if [ -n "$$bad" ]; then echo "symbols: exported, but not public sm_ names:" $$bad >&2; exit 1; fi; \
	 bad=$$($(call SYMBOLS,$(BUILD)/symbols/impl_stbds.o) | grep -v -e '^sm_[A-Za-z0-9]' -e '^sm__fast_tls$$' -e '^stbds_' || true); \
	 if [ -n "$$bad" ]; then echo "symbols: exported, but neither sm_ nor stbds_:" $$bad >&2; exit 1; fi; \
	 if [ "$$n" -eq 0 ]; then echo "symbols: the implementation object exports nothing" >&2; exit 1; fi; \
	 echo "symbols: all $$n exported symbols of the implementation start with sm_"

# The README's quick-start program: the ```c block after the <!-- quickstart --> marker.
$(BUILD)/readme/quickstart.c: README.md Makefile
	@mkdir -p $(@D)
	awk '/<!-- quickstart -->/ { m = 1; next } m == 1 && /^```c/ { m = 2; next } \
	     m == 2 && /^```/ { exit } m == 2 { print }' README.md > $@
	@test -s $@ || { echo "README.md: no \`\`\`c block after <!-- quickstart -->" >&2; exit 1; }
$(BUILD)/readme/quickstart: $(BUILD)/readme/quickstart.c $(HEADER) | deps
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $< -o $@ $(ALL_LDFLAGS) $(LDLIBS)
check-readme: $(BUILD)/readme/quickstart
	./$<

# ---------------------------------------------------------------------------------------------
# Examples.
examples: $(ALL_EXAMPLE_BINS)

$(BUILD)/examples/%: examples/%.c $(HEADER) Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(EXCFLAGS_$*) $(ALL_CFLAGS) $< -o $@ $(ALL_LDFLAGS) $(EXLIBS_$*) $(LDLIBS)

# `make demo` runs every example it can build. One that needs a library (LIB_EXAMPLES) is built
# when its deps-* target succeeds, which installs the library when make runs as root; the others
# are named once at the end, each with the Debian package that would enable it.
DEMO_DEPS_06_cjson = deps-cjson
DEMO_PKG_06_cjson  = libcjson-dev
DEMO_DEPS_07_lua   = deps-lua
DEMO_PKG_07_lua    = liblua5.4-dev
DEMO_LIB_EXAMPLES  = $(patsubst examples/%.c,%,$(LIB_EXAMPLE_SRCS))

demo: $(EXAMPLE_BINS)
	@set -e; built=' $(EXAMPLE_BINS) '; skipped=; pkgs=; n=0; mkdir -p $(BUILD); \
	 $(foreach x,$(DEMO_LIB_EXAMPLES),\
	   if $(MAKE) -s --no-print-directory $(DEMO_DEPS_$(x)) > $(BUILD)/demo-deps.log 2>&1; then \
	     cat $(BUILD)/demo-deps.log; \
	     $(MAKE) -q --no-print-directory $(BUILD)/examples/$(x) 2>/dev/null \
	       || $(MAKE) --no-print-directory $(BUILD)/examples/$(x); \
	     built="$${built}$(BUILD)/examples/$(x) "; \
	   else skipped="$$skipped, $(x) ($(DEMO_PKG_$(x)))"; pkgs="$$pkgs $(DEMO_PKG_$(x))"; fi;) \
	 $(foreach b,$(ALL_EXAMPLE_BINS),case "$$built" in (*' $(b) '*) \
	   echo; echo "=== $(b) $(DEMO_ARGS_$(notdir $(b)))"; ./$(b) $(DEMO_ARGS_$(notdir $(b))); \
	   n=$$((n + 1)) ;; esac;) \
	 echo; \
	 if [ -z "$$skipped" ]; then echo "demo: all $$n examples ran"; \
	 else echo "demo: $$n examples ran; skipped for want of a library: $${skipped#, }"; \
	      echo "demo: to run them too: apt-get install$$pkgs (or run make demo as root)"; fi

# ---------------------------------------------------------------------------------------------
# Sanitizers (clang) and Valgrind.
sanitize: sanitize-asan sanitize-tsan

$(BUILD)/asan/smalloc_test: $(TEST_DEPS) Makefile | deps-clang
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(SAN_OPT) $(ASAN) -pthread $(TEST_SRCS) -o $@ $(LDFLAGS) $(LDLIBS)
$(BUILD)/tsan/smalloc_test: $(TEST_DEPS) Makefile | deps-clang
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(SAN_OPT) $(TSAN) -pthread $(TEST_SRCS) -o $@ $(LDFLAGS) $(LDLIBS)

sanitize-asan: $(BUILD)/asan/smalloc_test
	$(ASAN_OPTIONS_RUN) ./$<
sanitize-tsan: $(BUILD)/tsan/smalloc_test
	$(TSAN_OPTIONS_RUN) ./$<

# The examples under AddressSanitizer: each runs clean, except that the use after mark-free of
# 08_use_after_free must be stopped with a use-after-poison report naming its line.
UAF_EXAMPLE = 08_use_after_free
ASAN_EXAMPLE_BINS = $(patsubst examples/%.c,$(BUILD)/asan/examples/%,$(EXAMPLE_SRCS))
$(BUILD)/asan/examples/%: examples/%.c $(HEADER) Makefile | deps-clang
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(SAN_OPT) $(ASAN) -pthread $< -o $@ $(LDFLAGS) $(LDLIBS)
sanitize-demo: $(ASAN_EXAMPLE_BINS)
	@set -e; $(foreach b,$(filter-out %/$(UAF_EXAMPLE),$(ASAN_EXAMPLE_BINS)),\
	  echo "=== $(b) $(DEMO_ARGS_$(notdir $(b)))"; $(ASAN_OPTIONS_RUN) ./$(b) $(DEMO_ARGS_$(notdir $(b))) >/dev/null;) \
	 echo "=== $(BUILD)/asan/examples/$(UAF_EXAMPLE) (must be stopped by AddressSanitizer)"; \
	 if $(ASAN_OPTIONS_RUN) ./$(BUILD)/asan/examples/$(UAF_EXAMPLE) > $(BUILD)/asan/uaf.log 2>&1; then \
	   cat $(BUILD)/asan/uaf.log; echo "sanitize-demo: the use after mark-free was not caught" >&2; exit 1; fi; \
	 sed -n '1,/SUMMARY/p' $(BUILD)/asan/uaf.log | grep -v '^ *#[1-9][0-9]* ' ; \
	 grep -q 'use-after-poison' $(BUILD)/asan/uaf.log && grep -q '$(UAF_EXAMPLE).c:[0-9]' $(BUILD)/asan/uaf.log \
	   || { echo "sanitize-demo: no use-after-poison report naming $(UAF_EXAMPLE).c" >&2; exit 1; }; \
	 echo "sanitize-demo: $(words $(ASAN_EXAMPLE_BINS)) examples; the use after mark-free was caught"

# Built with SMALLOC_VALGRIND, so that SM_POISON's client requests run under Memcheck too.
$(BUILD)/valgrind/smalloc_test: $(TEST_DEPS) Makefile | deps deps-valgrind
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DSMALLOC_VALGRIND $(TEST_SRCS) -o $@ $(ALL_LDFLAGS) $(LDLIBS)
valgrind: $(BUILD)/valgrind/smalloc_test | deps-valgrind
	TH_NOFORK=1 $(VALGRIND) $(VALGRIND_FLAGS) ./$<

# ---------------------------------------------------------------------------------------------
# Windows: Win32 threads, SRW locks and the fiber-local-storage exit hook must compile cleanly.
# (Running these under Wine is a separate step.)
WINDOWS_BINS = $(BUILD)/windows/smalloc_test.exe \
               $(patsubst examples/%.c,$(BUILD)/windows/%.exe,$(EXAMPLE_SRCS))
$(BUILD)/windows/smalloc_test.exe: $(TEST_DEPS) Makefile | deps-mingw
	@mkdir -p $(@D)
	$(MINGW_CC) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(WERROR) $(OPT) $(TEST_SRCS) -o $@
$(BUILD)/windows/%.exe: examples/%.c $(HEADER) Makefile | deps-mingw
	@mkdir -p $(@D)
	$(MINGW_CC) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(WERROR) $(OPT) $< -o $@
windows: $(WINDOWS_BINS)
	@echo "windows: $(words $(WINDOWS_BINS)) programs built with $(MINGW_CC)"

# ---------------------------------------------------------------------------------------------
# 32-bit x86: pointer-sized handles are 32 bits there (16-bit slot index, 16-bit generation).
# Linked statically: Debian's qemu-i386 hangs on dynamically linked i686 programs that start
# threads or fork (seen with a five-line pthread_create/fork program).
$(BUILD)/i386/smalloc_test: $(TEST_DEPS) Makefile | deps-i386
	@mkdir -p $(@D)
	$(I386_CC) $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(WERROR) $(OPT) -pthread -static $(TEST_SRCS) -o $@
i386: $(BUILD)/i386/smalloc_test
	$(QEMU_I386) ./$<

clean:
	rm -rf $(BUILD)

# ---------------------------------------------------------------------------------------------
# Further targets, one fragment per area (platforms, standards and lint, packaging).
-include $(sort $(wildcard mk/*.mk))
