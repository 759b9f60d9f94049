# mk/bench.mk - the benchmark suite (bench/bench.c): smalloc beside glibc malloc, mimalloc heaps,
# jemalloc arenas, APR pools, talloc, GNU obstack and two bump pointers, on eight workloads
# (listed at the top of bench/bench.c).
#
#   make bench            build and run it all (a few minutes): timings, peak RSS per adapter
#                         from fresh processes, instructions per allocation from callgrind;
#                         prints the Markdown table, writes $(BUILD)/bench/chart.svg (gnuplot) and
#                         copies the table and the chart to bench/results/ for the README
#   make bench-build      build $(BUILD)/bench/bench only (CI)
#   make bench-quick      timings only, 3 repetitions, no child processes
#   make bench-callgrind  the table with instruction counts but no peak RSS
#   make bench-pic        instructions per call of the fast paths, with smalloc in the executable
#                         and in a shared library (-fPIC): bench/pic.c; part of make bench
#
# BENCH_OPT (default -O2) are the benchmark's optimisation flags; BENCH_REPS (default 5) the
# repetitions; BENCH_ARGS more arguments (see the top of bench/bench.c, e.g. --only churn).
# The table names the commit, with ", modified" when smalloc.h or the benchmark's sources differ
# from it (or are not committed yet).
# Missing Debian packages (libmimalloc-dev, libjemalloc-dev, libapr1-dev, libtalloc-dev,
# gnuplot-nox, valgrind) are installed with apt-get when make runs as root.

GNUPLOT   ?= gnuplot
BENCH_OPT ?= -O2
BENCH_REPS ?= 5
BENCH_ARGS ?=
BENCH_DIR  = $(BUILD)/bench
BENCH_BIN  = $(BENCH_DIR)/bench
BENCH_RESULTS = bench/results

# The peers' headers are searched with -isystem: their warnings are not ours.
BENCH_PKGS   = apr-1 talloc
BENCH_PKG_I  = $(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG) --cflags-only-I $(BENCH_PKGS) 2>/dev/null))
BENCH_PKG_D  = $(shell $(PKG_CONFIG) --cflags-only-other $(BENCH_PKGS) 2>/dev/null)
BENCH_LIBS   = $(shell $(PKG_CONFIG) --libs $(BENCH_PKGS) 2>/dev/null) -ldl
# gcc folds identical functions into one symbol (the SM_RECYCLE adapter's loops are smalloc's
# plain ones): callgrind would then count them under the other adapter's name.
BENCH_NOICF := $(shell $(CC) -fno-ipa-icf -E -x c /dev/null >/dev/null 2>&1 && echo -fno-ipa-icf)

.PHONY: bench-build bench-quick deps-bench deps-bench-run

deps-bench: deps
	@$(call ensure,test -f /usr/include/mimalloc.h,libmimalloc-dev)
	@$(call ensure,test -f /usr/include/jemalloc/jemalloc.h,libjemalloc-dev)
	@$(call ensure,$(PKG_CONFIG) --exists apr-1,libapr1-dev)
	@$(call ensure,$(PKG_CONFIG) --exists talloc,libtalloc-dev)

deps-bench-run: deps-bench deps-valgrind
	@$(call ensure,command -v $(GNUPLOT),gnuplot-nox)

BENCH_SRCS = bench/bench.c bench/workloads.h bench/chart.gp bench/pic.c bench/pic_lib.c mk/bench.mk

$(BENCH_BIN): bench/bench.c bench/workloads.h $(HEADER) mk/bench.mk | deps-bench
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(BENCH_PKG_I) $(BENCH_PKG_D) $(CSTD) $(WARN) $(WERROR) $(BENCH_OPT) $(BENCH_NOICF) \
	  -DBENCH_FLAGS='"$(BENCH_OPT)"' $< -o $@ -pthread $(BENCH_LIBS)

bench-build: $(BENCH_BIN) $(PIC_BINS)

# The fast paths in a position-independent build: bench/pic.c with the implementation in the
# executable and calling it in a shared library, each with the inline fast path and with calls
# only (SMALLOC_NO_INLINE).
PIC_EXE = $(BENCH_DIR)/pic_exe
PIC_SO  = $(BENCH_DIR)/pic_so
PIC_EXE_CALLS = $(BENCH_DIR)/pic_exe_calls
PIC_SO_CALLS  = $(BENCH_DIR)/pic_so_calls
PIC_LIB = $(BENCH_DIR)/libsmalloc_pic.so
PIC_CALLS = 200000
PIC_FLAGS = $(ALL_CPPFLAGS) $(CSTD) $(WARN) $(WERROR) $(BENCH_OPT)

$(PIC_LIB): bench/pic_lib.c $(HEADER) mk/bench.mk | deps
	@mkdir -p $(@D)
	$(CC) $(PIC_FLAGS) -fPIC -shared $< -o $@ -pthread

$(PIC_EXE): bench/pic.c $(HEADER) mk/bench.mk | deps
	@mkdir -p $(@D)
	$(CC) $(PIC_FLAGS) -DPIC_IMPLEMENTATION $< -o $@ -pthread

$(PIC_SO): bench/pic.c $(PIC_LIB) mk/bench.mk
	$(CC) $(PIC_FLAGS) $< -o $@ -L$(BENCH_DIR) -lsmalloc_pic -Wl,-rpath,'$$ORIGIN' -pthread

$(PIC_EXE_CALLS): bench/pic.c $(HEADER) mk/bench.mk | deps
	@mkdir -p $(@D)
	$(CC) $(PIC_FLAGS) -DPIC_IMPLEMENTATION -DSMALLOC_NO_INLINE $< -o $@ -pthread

$(PIC_SO_CALLS): bench/pic.c $(PIC_LIB) mk/bench.mk
	$(CC) $(PIC_FLAGS) -DSMALLOC_NO_INLINE $< -o $@ -L$(BENCH_DIR) -lsmalloc_pic -Wl,-rpath,'$$ORIGIN' -pthread

PIC_BINS = $(PIC_EXE) $(PIC_EXE_CALLS) $(PIC_SO) $(PIC_SO_CALLS)

.PHONY: bench-pic
bench-pic: $(PIC_BINS) | deps-valgrind
	@echo "| smalloc built into | sm_env_allocate | sm_env_free | sm_env_free, last block | sm_env_free, older chunk | sm_allocate | sm_free | create, allocate, destroy | enable, allocate, disable |"
	@echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	@for b in exe exe_calls so so_calls; do \
	   case $$b in \
	     exe) row="| the executable, inline fast path";; \
	     exe_calls) row="| the executable, calls (SMALLOC_NO_INLINE)";; \
	     so) row="| a shared library (-fPIC), inline fast path in the caller";; \
	     *) row="| a shared library (-fPIC), calls through the PLT (SMALLOC_NO_INLINE)";; \
	   esac; \
	   for f in pic_env_allocate pic_env_free pic_rollback pic_older pic_allocate pic_free pic_create pic_enable; do \
	     n=$$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
	          "--toggle-collect=$$f*" ./$(BENCH_DIR)/pic_$$b 2>&1 | sed -n 's/.*Collected : //p'); \
	     row="$$row | $$(awk -v n="$$n" 'BEGIN { printf "%.1f", n / $(PIC_CALLS) }')"; \
	   done; \
	   echo "$$row |"; \
	 done

bench: $(BENCH_BIN) $(PIC_BINS) | deps-bench-run
	@mkdir -p $(BENCH_RESULTS)
	@commit=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown); \
	 [ -n "$$(git status --porcelain -- $(HEADER) $(BENCH_SRCS) 2>/dev/null)" ] && commit="$$commit, modified"; \
	 echo "./$(BENCH_BIN) --reps $(BENCH_REPS) --data $(BENCH_DIR)/chart.dat --commit '$$commit' $(BENCH_ARGS)"; \
	 ./$(BENCH_BIN) --reps $(BENCH_REPS) --data $(BENCH_DIR)/chart.dat --commit "$$commit" \
	   $(BENCH_ARGS) > $(BENCH_DIR)/results.md
	@{ printf '\n### The fast paths in a position-independent build\n\nInstructions per call '; \
	   printf '(callgrind, %s calls of each, with the loop around them; bench/pic.c):\n\n' $(PIC_CALLS); \
	   $(MAKE) -s bench-pic; } >> $(BENCH_DIR)/results.md
	$(GNUPLOT) -e "datafile='$(BENCH_DIR)/chart.dat'; outfile='$(BENCH_DIR)/chart.svg'" bench/chart.gp
	cp $(BENCH_DIR)/results.md $(BENCH_RESULTS)/results.md
	cp $(BENCH_DIR)/chart.svg $(BENCH_RESULTS)/chart.svg
	@cat $(BENCH_DIR)/results.md

bench-quick: $(BENCH_BIN)
	./$(BENCH_BIN) --reps 3 --no-rss --no-ir $(BENCH_ARGS)

bench-callgrind: $(BENCH_BIN) | deps-valgrind
	./$(BENCH_BIN) --reps 1 --no-rss $(BENCH_ARGS)
