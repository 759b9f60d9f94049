# mk/debug.mk - death tests of SM_POISON: a use of released memory must be reported by the tool.
#
#   make check-poison-asan       tests/poison_probe.c built with clang -fsanitize=address; each bad
#                                case (a read after mark-free, after reset, of a chunk's unused
#                                tail, one byte past a block) must exit non-zero with
#                                "use-after-poison" on stderr, and `ok` must exit 0.
#                                Part of `make sanitize`.
#   make check-poison-valgrind   the probe built with gcc -DSMALLOC_VALGRIND; under Valgrind
#                                Memcheck each bad case must be an "Invalid read" (non-zero exit
#                                through --error-exitcode), and `ok` must run clean with the
#                                suite's Valgrind flags. Part of `make valgrind`.
#
# The suite itself (tests/t_poison.c) checks the poisoning without a bad read: through ASan's
# shadow in the sanitizer build, by the 0xDD pattern in plain builds.

POISON_PROBE = tests/poison_probe.c
POISON_BAD_CASES = freed reset tail overrun
DEBUG_MK = mk/debug.mk

.PHONY: check-poison-asan check-poison-valgrind deps-valgrind-headers

sanitize: check-poison-asan
valgrind: check-poison-valgrind

# Debian's valgrind package ships <valgrind/memcheck.h> itself.
deps-valgrind-headers: deps-valgrind
	@$(call ensure,test -f /usr/include/valgrind/memcheck.h,valgrind)

$(BUILD)/poison/probe_asan: $(POISON_PROBE) $(HEADER) Makefile $(DEBUG_MK) | deps-clang
	@mkdir -p $(@D)
	$(CLANG) $(ALL_CPPFLAGS) $(CSTD) $(WARN) -Werror $(SAN_OPT) -fsanitize=address -pthread $< -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/poison/probe_valgrind: $(POISON_PROBE) $(HEADER) Makefile $(DEBUG_MK) | deps-valgrind-headers
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(CSTD) $(WARN) -Werror -O1 -g -DSMALLOC_VALGRIND -pthread $< -o $@ $(ALL_LDFLAGS) $(LDLIBS)

# $(call poison_expect,RUNNER,PROGRAM,PATTERN,NAME): every bad case exits non-zero with PATTERN in
# its output; the output is shown when it does not.
poison_expect = for c in $(POISON_BAD_CASES); do \
	  out=$$($(1) $(2) $$c 2>&1); rc=$$?; \
	  if [ $$rc -ne 0 ] && printf '%s\n' "$$out" | grep -q '$(3)'; then \
	    echo "$(4): $$c: reported ($(3), exit status $$rc)"; \
	  else \
	    printf '%s\n' "$$out"; echo "$(4): $$c: not reported as $(3) (exit status $$rc)" >&2; exit 1; \
	  fi; \
	done

check-poison-asan: $(BUILD)/poison/probe_asan
	@$(call poison_expect,$(ASAN_OPTIONS_RUN),$<,use-after-poison,check-poison-asan)
	@$(ASAN_OPTIONS_RUN) $< ok || { echo "check-poison-asan: ok: failed" >&2; exit 1; }
	@echo "check-poison-asan: ok: clean"

check-poison-valgrind: $(BUILD)/poison/probe_valgrind
	@$(call poison_expect,$(VALGRIND) --error-exitcode=9 --quiet,$<,Invalid read,check-poison-valgrind)
	@$(VALGRIND) $(VALGRIND_FLAGS) $< ok || { echo "check-poison-valgrind: ok: failed" >&2; exit 1; }
	@echo "check-poison-valgrind: ok: clean"
