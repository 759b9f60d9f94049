# Packaging: make install / uninstall, and the consumer tests.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   smalloc.h, smalloc.pc and the CMake package files
#   make uninstall [PREFIX=...] [DESTDIR=]        removes exactly what install wrote (its manifest)
#   make consumers    builds and runs a consumer project for each way of using smalloc, from
#                     scratch in build/consumers/ (tests/consumers/*.sh): the README's snippets,
#                     each way a program can trip over stb_ds (stb-ds), and the Makefile's
#                     dependency check and `make demo` without libstb-dev or libcjson-dev
#                     (make-deps); docs/testing.md lists what each checks
#
# Installed (paths may be overridden one by one; all must be absolute):
#   $(INCLUDEDIR)/smalloc.h                             INCLUDEDIR   = $(PREFIX)/include
#   $(PKGCONFIGDIR)/smalloc.pc                          PKGCONFIGDIR = $(PREFIX)/share/pkgconfig
#   $(CMAKEDIR)/smallocConfig.cmake, ...Version.cmake   CMAKEDIR     = $(PREFIX)/share/cmake/smalloc
#   $(INSTALL_MANIFEST): every file written and every directory created, for make uninstall
# smalloc is header-only, so the architecture-independent share/ holds the .pc and CMake files
# (pkg-config and CMake search <prefix>/share/pkgconfig and <prefix>/share/cmake themselves).

PREFIX       ?= /usr/local
DESTDIR      ?=
INCLUDEDIR   ?= $(PREFIX)/include
DATADIR      ?= $(PREFIX)/share
PKGCONFIGDIR ?= $(DATADIR)/pkgconfig
CMAKEDIR     ?= $(DATADIR)/cmake/smalloc
INSTALL_MANIFEST ?= $(DATADIR)/smalloc/install-manifest.txt
CMAKE        ?= cmake
GIT          ?= git

SMALLOC_VERSION = $(shell awk -F'"' '/define SMALLOC_VERSION_STRING/ { print $$2; exit }' $(HEADER))
PKG_BUILD = $(BUILD)/pkg

.PHONY: install uninstall consumers deps-consumers \
        consumer-copy consumer-submodule consumer-cmake-subdir consumer-cmake-package consumer-make-install

# Every installation path must be absolute (they are written into smalloc.pc).
PKG_CHECK_PATHS = for p in '$(PREFIX)' '$(INCLUDEDIR)' '$(DATADIR)' '$(PKGCONFIGDIR)' '$(CMAKEDIR)' \
	  '$(INSTALL_MANIFEST)'; do \
	  case "$$p" in /*) ;; *) echo "make: install paths must be absolute: '$$p' (PREFIX=$(PREFIX))" >&2; exit 1 ;; esac; \
	done

# Shell code shared by install and uninstall: d is DESTDIR; the manifest lists "f PATH" for each
# file written and "d PATH" for each directory created, in order, without DESTDIR.
PKG_UNINSTALL_SH = \
	m="$$d$(INSTALL_MANIFEST)"; \
	if [ ! -f "$$m" ]; then echo "uninstall: nothing to remove (no $$m; make install writes it)"; \
	else \
	  list=$$(cat "$$m"); \
	  printf '%s\n' "$$list" | while read -r kind path; do \
	    [ "$$kind" = f ] || continue; \
	    if [ -f "$$d$$path" ] || [ -L "$$d$$path" ]; then rm -f "$$d$$path"; echo "  removed $$d$$path"; \
	    else echo "uninstall: $$d$$path was already gone"; fi; \
	  done; \
	  printf '%s\n' "$$list" | tac | while read -r kind path; do \
	    [ "$$kind" = d ] || continue; \
	    if [ -d "$$d$$path" ]; then \
	      rmdir "$$d$$path" 2>/dev/null && echo "  removed $$d$$path/" \
	      || echo "uninstall: kept $$d$$path/: not empty"; \
	    fi; \
	  done; \
	fi

install:
	@set -e; $(PKG_CHECK_PATHS); d='$(DESTDIR)'; \
	 v='$(SMALLOC_VERSION)'; [ -n "$$v" ] || { echo "make: no SMALLOC_VERSION_STRING in $(HEADER)" >&2; exit 1; }; \
	 if [ -f "$$d$(INSTALL_MANIFEST)" ]; then \
	   echo "install: removing the previous installation first"; $(PKG_UNINSTALL_SH); \
	 fi; \
	 mkdir -p '$(PKG_BUILD)'; \
	 rel=$$(realpath -m --relative-to='$(CMAKEDIR)' '$(INCLUDEDIR)'); \
	 sed -e "s|@SMALLOC_VERSION@|$$v|g" -e 's|@SMALLOC_INCLUDE_FROM_CONFIG@|'"$$rel"'|g' \
	   cmake/smallocConfig.cmake.in > '$(PKG_BUILD)/smallocConfig.cmake'; \
	 sed -e "s|@SMALLOC_VERSION@|$$v|g" \
	   cmake/smallocConfigVersion.cmake.in > '$(PKG_BUILD)/smallocConfigVersion.cmake'; \
	 sed -e "s|@SMALLOC_VERSION@|$$v|g" -e 's|@SMALLOC_PC_PREFIX@|$(PREFIX)|g' \
	     -e 's|@SMALLOC_PC_INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
	   smalloc.pc.in > '$(PKG_BUILD)/smalloc.pc'; \
	 list='$(PKG_BUILD)/install-manifest.txt'; : > "$$list"; \
	 mkd() { \
	   if [ "$$1" = / ] || [ "$$1" = . ]; then mkdir -p "$$d/"; return 0; fi; \
	   [ -d "$$d$$1" ] && return 0; \
	   mkd "$$(dirname "$$1")"; mkdir "$$d$$1"; echo "d $$1" >> "$$list"; \
	 }; \
	 put() { mkd "$$2"; install -m 644 "$$1" "$$d$$2/$$(basename "$$1")"; \
	         echo "f $$2/$$(basename "$$1")" >> "$$list"; echo "  $$d$$2/$$(basename "$$1")"; }; \
	 put $(HEADER) '$(INCLUDEDIR)'; \
	 put '$(PKG_BUILD)/smalloc.pc' '$(PKGCONFIGDIR)'; \
	 put '$(PKG_BUILD)/smallocConfig.cmake' '$(CMAKEDIR)'; \
	 put '$(PKG_BUILD)/smallocConfigVersion.cmake' '$(CMAKEDIR)'; \
	 mkd '$(patsubst %/,%,$(dir $(INSTALL_MANIFEST)))'; \
	 echo 'f $(INSTALL_MANIFEST)' >> "$$list"; \
	 install -m 644 "$$list" "$$d$(INSTALL_MANIFEST)"; echo "  $$d$(INSTALL_MANIFEST)"; \
	 echo "install: smalloc $$v in $$d$(PREFIX); make uninstall PREFIX=$(PREFIX)$(if $(DESTDIR), DESTDIR=$(DESTDIR)) removes it"

uninstall:
	@set -e; $(PKG_CHECK_PATHS); d='$(DESTDIR)'; $(PKG_UNINSTALL_SH)

# ---------------------------------------------------------------------------------------------
# Consumer projects, each built from scratch in build/consumers/NAME and run (it prints OK).
# The first five run the README's snippets for their way (tests/consumers/lib.sh extracts them).
CONSUMERS = copy submodule cmake-subdir cmake-package make-install stb-ds make-deps
CONSUMER_ENV = SMALLOC_REPO='$(CURDIR)' CONSUMERS_DIR='$(abspath $(BUILD))/consumers' \
               CMAKE='$(CMAKE)' GIT='$(GIT)' PKG_CONFIG='$(PKG_CONFIG)'

deps-consumers: deps
	@$(call ensure,command -v $(CMAKE),cmake)
	@$(call ensure,command -v $(GIT),git)

consumers: $(addprefix consumer-,$(CONSUMERS))
	@echo "consumers: all $(words $(CONSUMERS)) consumer projects built and ran ($(CONSUMERS))"

$(addprefix consumer-,$(CONSUMERS)): consumer-%: | deps-consumers
	@$(CONSUMER_ENV) sh tests/consumers/$*.sh
