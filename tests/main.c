/* main.c - the test suite's one translation unit with smalloc's implementation (and stb_ds's),
   with its bookkeeping allocator replaced by the fault-injecting tb_realloc / tb_free.

   Build and run (from the repository root):
       cc -std=c99 -Wall -Wextra -Wpedantic -pthread -I/usr/include/stb tests/main.c tests/t_*.c -o t && ./t
   The last line printed is "N passed, M failed"; the exit code is 0 iff M is 0.
   TH_NOFORK=1 runs every test in this process (for Valgrind). */
#define TH_IMPLEMENTATION
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"

#define SMALLOC_REALLOC(p, n) tb_realloc((p), (n))
#define SMALLOC_FREE(p)       tb_free(p)
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../smalloc.h"

#include "suites.h"

int main(void)
{
    suite_misc();
    suite_env();
    suite_inline();
    suite_sites();
    suite_client();
    suite_raise();
    suite_faults();
    suite_track();
    suite_describe();
    suite_realloc();
    suite_recycle();
    suite_poison();
    suite_cache();
    suite_strings();
    suite_cleanups();
    suite_backing();
    suite_fork();
    suite_thread();
    suite_diff();
    return th_summary();
}
