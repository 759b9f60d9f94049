# mk/platforms.mk - the test suite (and the examples) on every platform, one target each,
# gathered under `make portability`.
#
#   make clang        the suite and the examples built with clang, run natively
#   make aarch64      the suite and the examples cross-compiled (static) for 64-bit Arm, run
#                     under qemu-aarch64
#   make s390x        the same for s390x (64-bit, big-endian), run under qemu-s390x
#   make wine         build/windows/*.exe (`make windows`: Win32 threads, SRW locks, the FLS
#                     thread-exit callback) run under Wine, headless, in a private prefix under
#                     build/wine; the harness runs every test in process there, thread-handle
#                     tests included (the two fork-only tests exist on POSIX only)
#   make tcc          tcc (no __atomic builtins): the suite with -DSMALLOC_NO_THREADS, and the
#                     examples that use no threads of their own
#   make portability  every leg below, one after another, each with its log under
#                     build/portability/; then a Markdown table (platform | compiler | how tested |
#                     result) on stdout and in build/portability.md. A failing leg, a missing
#                     package included, is a FAIL row and makes the target fail (after the table).
#                     PORT_LEGS='wine tcc' runs only some.
#
# Missing packages are installed as in the Makefile (the `ensure` macro): as root with apt-get,
# otherwise make names the Debian package and stops. Debian packages for all of it:
#   clang gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-s390x-linux-gnu libc6-dev-s390x-cross
#   qemu-user gcc-mingw-w64-x86-64 wine64 tcc gcc-i686-linux-gnu libc6-dev-i386-cross
#
# The cross builds are linked statically, like `make i386`. (Unlike qemu-i386, Debian's
# qemu-aarch64 and qemu-s390x do run dynamically linked threaded programs with -L /usr/<triple>;
# static linking keeps one rule for all three and needs no sysroot at run time.)
#
# qemu-aarch64 (7.2, x86-64 host) runs on one host CPU (taskset): with its threads on several,
# it lets a store-release (STLR) pass a later load-acquire (LDAR), which ARMv8 forbids; a
# seq_cst store-buffering litmus test shows the forbidden outcome (~1% of rounds), and
# racing_double_free, whose protocol relies on exactly that ordering, then fails now and then.
# An emulator bug, not smalloc's: the same binary passes pinned, and so do s390x and i386.

AARCH64_CC   ?= aarch64-linux-gnu-gcc
S390X_CC     ?= s390x-linux-gnu-gcc
QEMU_AARCH64 ?= qemu-aarch64
QEMU_S390X   ?= qemu-s390x
TCC          ?= tcc
# Debian's wine64 package installs the loader as /usr/lib/wine/wine64 (the `wine` package adds the
# /usr/bin/wine wrapper); elsewhere wine64 or wine on PATH.
WINE       ?= $(or $(wildcard /usr/lib/wine/wine64),$(shell command -v wine64 || command -v wine),/usr/lib/wine/wine64)
WINESERVER ?= $(or $(wildcard /usr/lib/wine/wineserver64),$(wildcard /usr/lib/wine/wineserver),$(shell command -v wineserver),/usr/lib/wine/wineserver64)

# A program under an emulator gets this long (seconds); then it fails instead of hanging CI.
PLAT_TIMEOUT ?= 900

PLAT_MK = mk/platforms.mk

.PHONY: clang aarch64 s390x wine tcc portability \
        deps-clang-cc deps-aarch64 deps-s390x deps-wine deps-tcc

# ---------------------------------------------------------------------------------------------
# Dependencies.
deps-clang-cc: deps
	@$(call ensure,command -v $(CLANG),clang)

deps-aarch64: deps
	@$(call ensure,command -v $(AARCH64_CC),gcc-aarch64-linux-gnu)
	@$(call ensure,test -f /usr/aarch64-linux-gnu/lib/libc.a,libc6-dev-arm64-cross)
	@$(call ensure,command -v $(QEMU_AARCH64),qemu-user)
	@$(call ensure,command -v taskset,util-linux)

deps-s390x: deps
	@$(call ensure,command -v $(S390X_CC),gcc-s390x-linux-gnu)
	@$(call ensure,test -f /usr/s390x-linux-gnu/lib/libc.a,libc6-dev-s390x-cross)
	@$(call ensure,command -v $(QEMU_S390X),qemu-user)

deps-wine: deps-mingw
	@$(call ensure,test -x $(WINE),wine64)

deps-tcc: deps
	@$(call ensure,command -v $(TCC),tcc)

# $(call plat_examples,LEG,RUNNER,PROGRAMS): run each example program (with the arguments
# `make demo` gives it, DEMO_ARGS_<name>) under RUNNER, its output in PROGRAM.log, shown when it
# fails; then "LEG: all N examples ran".
plat_examples = set -e; $(foreach p,$(3),\
	echo "  $(strip $(notdir $(p)) $(DEMO_ARGS_$(basename $(notdir $(p)))))"; \
	$(2) ./$(p) $(DEMO_ARGS_$(basename $(notdir $(p)))) > $(p).log 2>&1 \
	  || { rc=$$?; cat $(p).log; echo "$(1): $(p) failed (exit status $$rc)" >&2; exit 1; };) \
	echo "$(1): all $(words $(3)) examples ran"

# ---------------------------------------------------------------------------------------------
# clang, natively.
CLANG_EXAMPLE_BINS = $(patsubst examples/%.c,$(BUILD)/clang/examples/%,$(EXAMPLE_SRCS))
$(BUILD)/clang/smalloc_test: $(TEST_DEPS) Makefile $(PLAT_MK) | deps-clang-cc
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(TEST_SRCS) -o $@ $(ALL_LDFLAGS) $(LDLIBS)
$(BUILD)/clang/examples/%: examples/%.c $(HEADER) Makefile $(PLAT_MK) | deps-clang-cc
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $< -o $@ $(ALL_LDFLAGS) $(LDLIBS)
clang: $(BUILD)/clang/smalloc_test $(CLANG_EXAMPLE_BINS)
	@$(call plat_examples,clang,,$(CLANG_EXAMPLE_BINS))
	./$<

# ---------------------------------------------------------------------------------------------
# aarch64 and s390x: cross-compiled, static, under qemu-user. $(call plat_cross,LEG,CC,RUNNER)
# (the first CPU this process may use)
PLAT_PIN = taskset -c $$(taskset -pc $$$$ | sed 's/.*: *//; s/[-,].*//')
AARCH64_RUN = $(PLAT_PIN) $(QEMU_AARCH64)
S390X_RUN   = $(QEMU_S390X)
define plat_cross
$(1)_EXAMPLE_BINS = $$(patsubst examples/%.c,$$(BUILD)/$(1)/examples/%,$$(EXAMPLE_SRCS))
$$(BUILD)/$(1)/smalloc_test: $$(TEST_DEPS) Makefile $$(PLAT_MK) | deps-$(1)
	@mkdir -p $$(@D)
	$$($(2)) $$(ALL_CPPFLAGS) $$(CSTD) $$(WARN) $$(WERROR) $$(OPT) -pthread -static $$(TEST_SRCS) -o $$@
$$(BUILD)/$(1)/examples/%: examples/%.c $$(HEADER) Makefile $$(PLAT_MK) | deps-$(1)
	@mkdir -p $$(@D)
	$$($(2)) $$(ALL_CPPFLAGS) $$(CSTD) $$(WARN) $$(WERROR) $$(OPT) -pthread -static $$< -o $$@
$(1): $$(BUILD)/$(1)/smalloc_test $$($(1)_EXAMPLE_BINS)
	@$$(call plat_examples,$(1),timeout $$(PLAT_TIMEOUT) $$($(3)),$$($(1)_EXAMPLE_BINS))
	timeout $$(PLAT_TIMEOUT) $$($(3)) ./$$<
endef
$(eval $(call plat_cross,aarch64,AARCH64_CC,AARCH64_RUN))
$(eval $(call plat_cross,s390x,S390X_CC,S390X_RUN))

# ---------------------------------------------------------------------------------------------
# Windows x86-64 under Wine: no display (DISPLAY and WAYLAND_DISPLAY empty), no Mono/Gecko
# install prompts, no menu entries, no debug channels; the prefix is created once (wineboot)
# and the wineserver is stopped afterwards so that nothing lingers holding make's output.
WINE_PREFIX = $(abspath $(BUILD)/wine/prefix)
WINE_ENV = WINEPREFIX=$(WINE_PREFIX) WINEDEBUG=-all WINEARCH=win64 DISPLAY= WAYLAND_DISPLAY= \
           WINEDLLOVERRIDES='mscoree,mshtml,winemenubuilder.exe='
WINE_RUN = timeout $(PLAT_TIMEOUT) env $(WINE_ENV) $(WINE)
WINE_EXAMPLE_BINS = $(filter-out $(BUILD)/windows/smalloc_test.exe,$(WINDOWS_BINS))

$(BUILD)/wine/prefix/system.reg: | deps-wine
	@mkdir -p $(BUILD)/wine
	@echo "wine: creating the prefix $(WINE_PREFIX) (log: $(BUILD)/wine/wineboot.log)"
	@$(WINE_RUN) wineboot --init </dev/null > $(BUILD)/wine/wineboot.log 2>&1 \
	  && env $(WINE_ENV) $(WINESERVER) -w \
	  || { cat $(BUILD)/wine/wineboot.log; echo "wine: wineboot failed" >&2; exit 1; }
	@test -f $@ || { cat $(BUILD)/wine/wineboot.log; echo "wine: no $@ after wineboot" >&2; exit 1; }

wine: $(WINDOWS_BINS) $(BUILD)/wine/prefix/system.reg | deps-wine
	@echo "wine: $$($(WINE) --version) ($(WINE)), WINEPREFIX=$(WINE_PREFIX)"
	@rc=0; \
	 ( $(call plat_examples,wine,$(WINE_RUN),$(WINE_EXAMPLE_BINS)) ) </dev/null || rc=1; \
	 echo "$(WINE) $(BUILD)/windows/smalloc_test.exe"; \
	 $(WINE_RUN) ./$(BUILD)/windows/smalloc_test.exe </dev/null || rc=1; \
	 env $(WINE_ENV) $(WINESERVER) -k 2>/dev/null || true; \
	 exit $$rc

# ---------------------------------------------------------------------------------------------
# tcc: no __atomic builtins (smalloc.h stops with #error), so the threads-free configuration.
# 02_rpc_server hands one environment to several threads: not a SMALLOC_NO_THREADS program.
TCC_FLAGS = $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(WERROR) $(OPT) -DSMALLOC_NO_THREADS
TCC_SKIP_EXAMPLES = 02_rpc_server
TCC_EXAMPLE_BINS = $(patsubst examples/%.c,$(BUILD)/tcc/examples/%,\
                     $(filter-out $(patsubst %,examples/%.c,$(TCC_SKIP_EXAMPLES)),$(EXAMPLE_SRCS)))
$(BUILD)/tcc/smalloc_test: $(TEST_DEPS) Makefile $(PLAT_MK) | deps-tcc
	@mkdir -p $(@D)
	$(TCC) $(TCC_FLAGS) $(TEST_SRCS) -o $@
$(BUILD)/tcc/examples/%: examples/%.c $(HEADER) Makefile $(PLAT_MK) | deps-tcc
	@mkdir -p $(@D)
	$(TCC) $(TCC_FLAGS) $< -o $@
tcc: $(BUILD)/tcc/smalloc_test $(TCC_EXAMPLE_BINS)
	@$(call plat_examples,tcc,,$(TCC_EXAMPLE_BINS))
	./$<

# ---------------------------------------------------------------------------------------------
# make portability. Each leg: the make goals it runs, and its table row(s). A row's result is
# taken from the leg's log (carriage returns, Wine's, removed): the "N passed, M failed" line (PORT_SUM_<leg>: which one, 0 = the
# last), "all N examples ran", else the log's last line; a failed leg names the missing package
# when that is why.
PORT_LEGS ?= gcc clang variants i386 aarch64 s390x windows wine tcc
PORT_DIR   = $(BUILD)/portability

PORT_GOALS_gcc      = test demo
PORT_GOALS_clang    = clang
PORT_GOALS_variants = check-variants
PORT_GOALS_i386     = i386
PORT_GOALS_aarch64  = aarch64
PORT_GOALS_s390x    = s390x
PORT_GOALS_windows  = windows
PORT_GOALS_wine     = wine
PORT_GOALS_tcc      = tcc

# Rows: $(PORT_ROWS_<leg>) names them (usually the leg); each row has PLATFORM, CC (a shell
# command line printing the compiler cell), HOW, and SUM.
PORT_ROWS_variants = variants-nothreads variants-c11
PORT_LEG_variants-nothreads = variants
PORT_LEG_variants-c11       = variants

port_ver = $$($(1) -dumpfullversion 2>/dev/null || $(1) -dumpversion 2>/dev/null || echo '?')
port_gcc = $$(if $(CC) --version 2>/dev/null | head -n 1 | grep -q clang; then echo clang; else echo gcc; fi) $(call port_ver,$(CC))

PORT_PLATFORM_gcc = Linux x86-64
PORT_CC_gcc       = $(port_gcc)
PORT_HOW_gcc      = native: make test (compile checks, then the suite) and make demo (examples)
PORT_PLATFORM_clang = Linux x86-64
PORT_CC_clang       = clang $(call port_ver,$(CLANG))
PORT_HOW_clang      = native: the suite and the examples
PORT_PLATFORM_variants-nothreads = Linux x86-64
PORT_CC_variants-nothreads       = $(port_gcc)
PORT_HOW_variants-nothreads      = native: the suite with -DSMALLOC_NO_THREADS
PORT_SUM_variants-nothreads      = 1
PORT_PLATFORM_variants-c11 = Linux x86-64
PORT_CC_variants-c11       = $(port_gcc)
PORT_HOW_variants-c11      = native: the suite with -std=c11 -DSMALLOC_C11_THREADS
PORT_SUM_variants-c11      = 2
PORT_PLATFORM_i386 = Linux i386 (32-bit)
PORT_CC_i386       = $(I386_CC) $(call port_ver,$(I386_CC))
PORT_HOW_i386      = static, under $$($(QEMU_I386) --version | head -n 1 | cut -d' ' -f1,3): the suite
PORT_PLATFORM_aarch64 = Linux aarch64
PORT_CC_aarch64       = $(AARCH64_CC) $(call port_ver,$(AARCH64_CC))
PORT_HOW_aarch64      = static, under $$($(QEMU_AARCH64) --version | head -n 1 | cut -d' ' -f1,3) on one host CPU: the suite and the examples
PORT_PLATFORM_s390x = Linux s390x (big-endian)
PORT_CC_s390x       = $(S390X_CC) $(call port_ver,$(S390X_CC))
PORT_HOW_s390x      = static, under $$($(QEMU_S390X) --version | head -n 1 | cut -d' ' -f1,3): the suite and the examples
PORT_PLATFORM_windows = Windows x86-64
PORT_CC_windows       = $(MINGW_CC) $(call port_ver,$(MINGW_CC))
PORT_HOW_windows      = cross-compiled (Win32 threads, SRW locks, FLS exit callback): the suite and the examples
PORT_PLATFORM_wine = Windows x86-64
PORT_CC_wine       = $(MINGW_CC) $(call port_ver,$(MINGW_CC))
PORT_HOW_wine      = run under $$($(WINE) --version 2>/dev/null | cut -d' ' -f1): the suite in process (the 2 fork-only tests are POSIX-only) and the examples
PORT_PLATFORM_tcc = Linux x86-64
PORT_CC_tcc       = tcc $(call port_ver,$(TCC))
PORT_HOW_tcc      = native, -DSMALLOC_NO_THREADS (no __atomic builtins): the suite and the examples but 02_rpc_server (threads)

port_leg_of = $(or $(PORT_LEG_$(1)),$(1))
port_rows   = $(foreach l,$(1),$(or $(PORT_ROWS_$(l)),$(l)))

# Run one leg: its output to the terminal and to $(PORT_DIR)/LEG.log, its status in LEG.rc.
port_run = echo; echo "::: portability: $(1) (make $(PORT_GOALS_$(1)))"; \
	t0=$$(date +%s); \
	{ $(MAKE) --no-print-directory $(PORT_GOALS_$(1)) </dev/null 2>&1; echo $$? > $(PORT_DIR)/$(1).rc; } \
	  | tee $(PORT_DIR)/$(1).log; \
	echo $$(( $$(date +%s) - t0 )) > $(PORT_DIR)/$(1).time;

# One table row: result() (defined in the recipe) reads the leg's log.
port_row = printf '| %s | %s | %s | %s |\n' "$(PORT_PLATFORM_$(1))" "$(PORT_CC_$(1))" \
	"$(PORT_HOW_$(1))" "$$(result $(call port_leg_of,$(1)) $(or $(PORT_SUM_$(1)),0))";

portability:
	@rm -rf $(PORT_DIR) $(BUILD)/portability.md; mkdir -p $(PORT_DIR); \
	 T0=$$(date +%s); \
	 $(foreach l,$(PORT_LEGS),$(call port_run,$(l))) \
	 result() { \
	   rc=$$(cat $(PORT_DIR)/$$1.rc 2>/dev/null || echo 1); \
	   log=$(PORT_DIR)/$$1.txt; tr -d '\r' < $(PORT_DIR)/$$1.log > $$log; \
	   sums=$$(grep -E '^[0-9]+ passed, [0-9]+ failed$$' $$log || true); \
	   if [ "$$2" = 0 ]; then sum=$$(printf '%s\n' "$$sums" | tail -n 1); \
	   else sum=$$(printf '%s\n' "$$sums" | sed -n "$$2p"); fi; \
	   ex=$$(sed -n 's/^.*: all \([0-9][0-9]*\) examples ran$$/\1 examples ran/p' $$log | tail -n 1); \
	   text=$$(printf '%s\n' "$$sum" "$$ex" | grep . | paste -sd';' - | sed 's/;/; /g'); \
	   [ -n "$$text" ] || text=$$(grep . $$log | tail -n 1 | sed 's/^[a-z0-9]*: //'); \
	   if [ "$$rc" = 0 ]; then echo "pass: $$text"; else \
	     pkg=$$(sed -n -e 's/^install .* (apt-get install \(.*\))$$/\1/p' \
	                 -e 's/^make: \(.*\) is installed but the check still fails.*/\1 (installed, check fails)/p' $$log | head -n 1); \
	     if [ -n "$$pkg" ]; then echo "**FAIL**: missing Debian package $$pkg"; \
	     else \
	       fails=$$(grep '^FAIL ' $$log | head -n 3 | paste -sd';' - | sed 's/;/; /g'); \
	       err=$$(grep -E 'error:|Error [0-9]+|timed out|Terminated' $$log | head -n 1); \
	       echo "**FAIL**: $${sum:+$$sum; }$${fails:-$$err}" | sed 's/|/\\|/g'; \
	     fi; \
	   fi; \
	 }; \
	 { echo "| platform | compiler | how tested | result |"; \
	   echo "|---|---|---|---|"; \
	   $(foreach r,$(call port_rows,$(PORT_LEGS)),$(call port_row,$(r))) \
	 } > $(BUILD)/portability.md; \
	 echo; echo "::: portability ($(BUILD)/portability.md)"; echo; cat $(BUILD)/portability.md; echo; \
	 printf 'time per leg:'; for l in $(PORT_LEGS); do printf ' %s %ss,' $$l $$(cat $(PORT_DIR)/$$l.time); done; \
	 echo " total $$(( $$(date +%s) - T0 ))s"; \
	 bad=; for l in $(PORT_LEGS); do [ "$$(cat $(PORT_DIR)/$$l.rc)" = 0 ] || bad="$$bad $$l"; done; \
	 if [ -n "$$bad" ]; then echo "portability: FAILED:$$bad (logs: $(PORT_DIR)/<leg>.log)" >&2; exit 1; fi; \
	 echo "portability: all $(words $(PORT_LEGS)) legs passed"
