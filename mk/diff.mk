# mk/diff.mk - the differential test (tests/t_diff.c) at length.
#
#   make check-diff-long [DIFF_SEEDS=1-200] [DIFF_OPS=100000]
#                    the test suite with SM_DIFF_SEEDS=$(DIFF_SEEDS) and SM_DIFF_OPS=$(DIFF_OPS):
#                    for each seed a single-threaded run of DIFF_OPS operations and a threaded one
#                    (four threads sharing them), each a test of its own. About three minutes with
#                    the defaults on a current x86-64 machine, nearly all of it in the differential
#                    test (the rest of the suite takes a few seconds). `make test` runs seeds 1-4
#                    with 4000 operations each. A mismatch prints its seed and operation and the
#                    command that replays it, for instance
#                        SM_DIFF_SEEDS=17 SM_DIFF_OPS=100000 build/smalloc_test

DIFF_SEEDS ?= 1-200
DIFF_OPS   ?= 100000

.PHONY: check-diff-long

check-diff-long: $(TEST_BIN)
	SM_DIFF_SEEDS=$(DIFF_SEEDS) SM_DIFF_OPS=$(DIFF_OPS) ./$(TEST_BIN)
