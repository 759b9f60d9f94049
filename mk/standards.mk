# mk/standards.mk - the header under every C/C++ standard with a strict warning set, and lint.
#
#   make standards   smalloc.h's own translation units, -Werror, with gcc and clang:
#                      the declarations alone as C89 (-pedantic);
#                      the implementation (with stb_ds's) as C99, C11, C17 and C2x;
#                      the whole header, implementation included, as C++11, C++17 and C++20
#                      (stb_ds's implementation compiled separately as C, linked in a -z defs
#                      shared object so every symbol resolves);
#                    each for the default threads, -DSMALLOC_NO_THREADS and (C11 and later, C++)
#                    -DSMALLOC_C11_THREADS. Only these header TUs; the suite builds in `make test`.
#   make lint        cppcheck and clang-tidy (.clang-tidy) on smalloc.h, every thread variant;
#                    any finding fails.
#
# stb_ds.h is included with -isystem ($(STB_INC)): its own warnings are not ours, but a warning
# in smalloc's code from expanding one of its macros is.

CLANGXX    ?= clang++
CPPCHECK   ?= cppcheck
CLANG_TIDY ?= clang-tidy

.PHONY: standards lint lint-cppcheck lint-clang-tidy deps-standards deps-lint

# The strict set. -Wcast-align=strict: gcc's plain -Wcast-align is silent on x86.
STD_WARN_COMMON = -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion -Wsign-conversion \
                  -Wundef -Wcast-qual -Wpointer-arith -Wwrite-strings -Wredundant-decls \
                  -Wformat=2 -Wnull-dereference -Wdouble-promotion -Wvla
STD_WARN_C      = $(STD_WARN_COMMON) -Wmissing-prototypes -Wstrict-prototypes \
                  -Wold-style-definition -Wnested-externs -Wbad-function-cast -Wc++-compat
# Not -Wzero-as-null-pointer-constant, -Wuseless-cast or -Wold-style-cast: the header is C that
# also compiles as C++, where 0/NULL and C casts (e.g. uintptr_t to size_t, the same type on
# some targets only) are the portable spelling.
STD_WARN_CXX    = $(STD_WARN_COMMON) -Wmissing-declarations -Wnon-virtual-dtor -Wextra-semi
STD_WARN_gcc    = -Wcast-align=strict -Wlogical-op -Wduplicated-cond -Wduplicated-branches
STD_WARN_clang  = -Wcast-align -Wmissing-variable-declarations -Wcomma -Wunreachable-code \
                  -Wshorten-64-to-32 -Wimplicit-fallthrough
STD_WARN_C_gcc    = $(STD_WARN_gcc) -Wjump-misses-init
STD_WARN_C_clang  = $(STD_WARN_clang)
STD_WARN_CXX_gcc  = $(STD_WARN_gcc)
STD_WARN_CXX_clang = $(STD_WARN_clang) -Wmissing-prototypes

STD_CC_gcc  = $(CC)
STD_CC_clang = $(CLANG)
STD_CXX_gcc  = $(CXX)
STD_CXX_clang = $(CLANGXX)
STD_OPT = -O2

STD_DIR = $(BUILD)/standards
STD_COMPILERS = gcc clang
# variant name -> defines
STD_VAR_pthreads =
STD_VAR_nothreads = -DSMALLOC_NO_THREADS
STD_VAR_c11threads = -DSMALLOC_C11_THREADS

# The translation units: nothing but the header (and the options that select its parts).
$(STD_DIR)/src/decl.c: Makefile mk/standards.mk
	@mkdir -p $(@D)
	@printf '/* the declarations alone */\n#include "smalloc.h"\n' > $@
$(STD_DIR)/src/impl.c: Makefile mk/standards.mk
	@mkdir -p $(@D)
	@printf '#define SMALLOC_IMPLEMENTATION\n#define SMALLOC_STB_DS_IMPLEMENTATION\n#include "smalloc.h"\n' > $@
$(STD_DIR)/src/impl.cpp: Makefile mk/standards.mk
	@mkdir -p $(@D)
	@printf '#define SMALLOC_IMPLEMENTATION\n#include "smalloc.h"\n' > $@
$(STD_DIR)/src/stb_ds_impl.c: Makefile mk/standards.mk
	@mkdir -p $(@D)
	@printf '#define STB_DS_IMPLEMENTATION\n#include "stb_ds.h"\n' > $@

# stb_ds's implementation for the C++ TUs: not our code, so no warning flags.
$(STD_DIR)/stb_ds_impl.o: $(STD_DIR)/src/stb_ds_impl.c | deps
	$(CC) $(ALL_CPPFLAGS) -std=c99 -O2 -fPIC -c $< -o $@

# $(call std_c,NAME,COMPILER,STD,SRC,VARIANT)
define std_c
STD_OBJS += $(STD_DIR)/$(1).o
$(STD_DIR)/$(1).o: $(STD_DIR)/src/$(4).c $(HEADER) | deps-standards
	@echo "standards: $(1)"
	@$$(STD_CC_$(2)) $$(ALL_CPPFLAGS) -std=$(3) $$(STD_WARN_C) $$(STD_WARN_C_$(2)) $$(STD_OPT) \
	  -pthread $$(STD_VAR_$(5)) -c $$< -o $$@
endef
# $(call std_cxx,NAME,COMPILER,STD,VARIANT)
define std_cxx
STD_OBJS += $(STD_DIR)/$(1).so
$(STD_DIR)/$(1).so: $(STD_DIR)/src/impl.cpp $(STD_DIR)/stb_ds_impl.o $(HEADER) | deps-standards
	@echo "standards: $(1)"
	@$$(STD_CXX_$(2)) $$(ALL_CPPFLAGS) -std=$(3) $$(STD_WARN_CXX) $$(STD_WARN_CXX_$(2)) $$(STD_OPT) \
	  -pthread $$(STD_VAR_$(4)) -fPIC -c $$< -o $$(@:.so=.o)
	@$$(STD_CXX_$(2)) -shared -Wl,-z,defs -pthread $$(@:.so=.o) $(STD_DIR)/stb_ds_impl.o -o $$@
endef

STD_OBJS =
$(foreach c,$(STD_COMPILERS),$(foreach v,pthreads nothreads, \
  $(eval $(call std_c,decl-c89-$(v)-$(c),$(c),c89,decl,$(v)))))
$(foreach c,$(STD_COMPILERS),$(foreach s,c99 c11 c17 c2x,$(foreach v,pthreads nothreads \
  $(if $(filter c99,$(s)),,c11threads), \
  $(eval $(call std_c,impl-$(s)-$(v)-$(c),$(c),$(s),impl,$(v))))))
$(foreach c,$(STD_COMPILERS),$(foreach s,c++11 c++17 c++20,$(foreach v,pthreads nothreads c11threads, \
  $(eval $(call std_cxx,cxx-$(s)-$(v)-$(c),$(c),$(s),$(v))))))

standards: $(STD_OBJS)
	@echo "standards: all $(words $(STD_OBJS)) translation units built clean (-Werror)"

deps-standards: deps-cxx
	@$(call ensure,command -v $(CLANG),clang)
	@$(call ensure,command -v $(CLANGXX),clang)

# ---------------------------------------------------------------------------------------------
# Lint. Both tools see stb_ds.h (so its macros expand as in a build) but report only smalloc.h.
#
# cppcheck analyses the header itself, once per configuration (with -D it checks just that one):
# the implementation with stb_ds's, as C99 (POSIX threads, __thread), C99 without threads,
# C11 with <threads.h> and the Win32 branch. __GNUC__ selects the atomic builtins, as gcc and
# clang do. cppcheck 2.10 does not know the C11 keyword _Thread_local (it then loses every use of
# the thread-local state and calls its members unused), hence -D_Thread_local= in the C11 run.
# Not run as C++: every C cast would be a cstyleCast finding in a header that is C.
CPPCHECK_FLAGS = --enable=warning,style,performance,portability --inline-suppr \
                 --error-exitcode=1 --quiet --platform=unix64 --language=c \
                 -I. $(subst -isystem ,-I,$(STB_INC)) --suppress='*:/usr/include/*' \
                 -D__GNUC__ -DSMALLOC_IMPLEMENTATION -DSMALLOC_STB_DS_IMPLEMENTATION \
                 --template='{file}:{line}:{column}: {severity}: {message} [{id}]'
CPPCHECK_CONFIGS = c99 c99-nothreads c11-c11threads c99-win32
CPPCHECK_c99            = --std=c99
CPPCHECK_c99-nothreads  = --std=c99 -DSMALLOC_NO_THREADS
CPPCHECK_c11-c11threads = --std=c11 -D_Thread_local= -DSMALLOC_C11_THREADS
CPPCHECK_c99-win32      = --std=c99 -D_WIN32 --platform=win64

# clang-tidy (its "N warnings generated" counts system headers, which are not shown, and is
# dropped) with the checked-in .clang-tidy on the implementation TU (the header is all it has),
# as C in each thread variant and as C++11 and C++20; with the C++-only exclusions that
# .clang-tidy explains (they concern C idioms and the sm__ prefix, reserved only in C++).
CLANG_TIDY_FLAGS = --quiet --config-file=.clang-tidy
CLANG_TIDY_CXX_OFF = --checks=-bugprone-reserved-identifier,-cert-dcl37-c,-cert-dcl51-cpp,$\
-misc-definitions-in-headers,-readability-implicit-bool-conversion,-cert-err52-cpp
CLANG_TIDY_CONFIGS = c99 c11 c11-nothreads c11-c11threads cxx11 cxx20 cxx11-nothreads
CLANG_TIDY_c99            = $(STD_DIR)/src/impl.c -- -x c -std=c99
CLANG_TIDY_c11            = $(STD_DIR)/src/impl.c -- -x c -std=c11
CLANG_TIDY_c11-nothreads  = $(STD_DIR)/src/impl.c -- -x c -std=c11 -DSMALLOC_NO_THREADS
CLANG_TIDY_c11-c11threads = $(STD_DIR)/src/impl.c -- -x c -std=c11 -DSMALLOC_C11_THREADS
CLANG_TIDY_cxx11          = $(CLANG_TIDY_CXX_OFF) $(STD_DIR)/src/impl.cpp -- -x c++ -std=c++11
CLANG_TIDY_cxx20          = $(CLANG_TIDY_CXX_OFF) $(STD_DIR)/src/impl.cpp -- -x c++ -std=c++20
CLANG_TIDY_cxx11-nothreads = $(CLANG_TIDY_CXX_OFF) $(STD_DIR)/src/impl.cpp -- -x c++ -std=c++11 \
                             -DSMALLOC_NO_THREADS

LINT_CPPCHECK   = $(addprefix $(STD_DIR)/lint/cppcheck-,$(CPPCHECK_CONFIGS))
LINT_CLANG_TIDY = $(addprefix $(STD_DIR)/lint/clang-tidy-,$(CLANG_TIDY_CONFIGS))

$(LINT_CPPCHECK): $(STD_DIR)/lint/cppcheck-%: $(HEADER) mk/standards.mk | deps-lint
	@mkdir -p $(@D)
	@echo "lint: cppcheck $*"
	@$(CPPCHECK) $(CPPCHECK_FLAGS) $(CPPCHECK_$*) $(HEADER)
	@touch $@
$(LINT_CLANG_TIDY): $(STD_DIR)/lint/clang-tidy-%: $(HEADER) .clang-tidy mk/standards.mk \
                    $(STD_DIR)/src/impl.c $(STD_DIR)/src/impl.cpp | deps-lint
	@mkdir -p $(@D)
	@echo "lint: clang-tidy $*"
	@out=$$($(CLANG_TIDY) $(CLANG_TIDY_FLAGS) $(CLANG_TIDY_$*) $(ALL_CPPFLAGS) -pthread 2>&1); rc=$$?; \
	 printf '%s\n' "$$out" | grep -v -e '^[0-9]* warnings* generated\.$$' -e '^$$' || true; \
	 exit $$rc
	@touch $@

lint-cppcheck: $(LINT_CPPCHECK)
lint-clang-tidy: $(LINT_CLANG_TIDY)
lint: lint-cppcheck lint-clang-tidy
	@echo "lint: cppcheck ($(words $(CPPCHECK_CONFIGS)) configurations) and clang-tidy" \
	      "($(words $(CLANG_TIDY_CONFIGS))) report nothing on $(HEADER)"

deps-lint: deps
	@$(call ensure,command -v $(CPPCHECK),cppcheck)
	@$(call ensure,command -v $(CLANG_TIDY),clang-tidy)
