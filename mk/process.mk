# mk/process.mk - the process around smalloc: a shared library that embeds smalloc privately
# (SMALLOC_STATIC) is unloaded while a thread that used it still runs, and that thread exits
# afterwards (tests/unload). Part of `make test` (make check).
#
#   make check-unload    the plugin built with each thread-local storage model

UNLOAD_DIR = $(BUILD)/unload

.PHONY: check-unload

$(UNLOAD_DIR)/plugin.so: tests/unload/plugin.c $(HEADER) mk/process.mk | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -shared $< -o $@ $(ALL_LDFLAGS)
$(UNLOAD_DIR)/plugin_dynamic_tls.so: tests/unload/plugin.c $(HEADER) mk/process.mk | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DSMALLOC_TLS_DYNAMIC -fPIC -shared $< -o $@ $(ALL_LDFLAGS)
$(UNLOAD_DIR)/host: tests/unload/host.c mk/process.mk | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(ALL_LDFLAGS) -ldl

check-unload: $(UNLOAD_DIR)/host $(UNLOAD_DIR)/plugin.so $(UNLOAD_DIR)/plugin_dynamic_tls.so
	./$(UNLOAD_DIR)/host ./$(UNLOAD_DIR)/plugin.so
	./$(UNLOAD_DIR)/host ./$(UNLOAD_DIR)/plugin_dynamic_tls.so

check: check-unload
