/* 04_pallocmem.c - a backing allocator in the style of PALLOCMEM (the LPM API's allocation
   callback, which receives the size together with the file name and line of the caller). It is
   installed through sm_config (alloc, free, context); it logs every request smalloc makes - the
   environment itself, per-thread cursors, chunks - with the file:line of the allocation that
   needed the memory (SM_ENV_ALLOCATE and SM_ALLOCATE pass __FILE__ and __LINE__; smalloc's own
   requests come with NULL and 0), and it keeps a byte budget, refusing any request past it.
   The example then shows SM_OUT_OF_MEMORY handled cleanly: the failed call changes nothing,
   the environment goes on working, and at the end every byte has gone back.

   Build by hand from the top directory (Debian: apt-get install libstb-dev):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb) examples/04_pallocmem.c -o 04_pallocmem
   or run `make demo`, which builds and runs every example. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <stdio.h>
#include <stdlib.h>

/* The backing allocator's state: its context pointer. */
typedef struct budget {
    const char   *name;
    size_t        limit;     /* bytes that may be held at once */
    size_t        held;      /* bytes held now */
    size_t        peak;
    unsigned long requests, refusals;
} budget;

static void *budget_alloc(void *context, size_t size, const char *file, int line)
{
    budget *b = (budget *)context;
    void *p;

    b->requests++;
    if (size > b->limit - b->held) {
        b->refusals++;
        printf("    [%s] refuse %7lu B for %s:%d (holding %lu of %lu B)\n", b->name,
               (unsigned long)size, file != NULL ? file : "smalloc", line,
               (unsigned long)b->held, (unsigned long)b->limit);
        return NULL;
    }
    p = malloc(size);
    if (p == NULL)
        return NULL;
    b->held += size;
    if (b->held > b->peak)
        b->peak = b->held;
    printf("    [%s] grant  %7lu B for %s:%d (holding %lu of %lu B)\n", b->name,
           (unsigned long)size, file != NULL ? file : "smalloc", line,
           (unsigned long)b->held, (unsigned long)b->limit);
    return p;
}

static void budget_free(void *context, void *ptr, size_t size)
{
    budget *b = (budget *)context;

    b->held -= size;   /* smalloc passes the size it asked for */
    free(ptr);
}

static void print_stats(const char *label, const sm_env *env)
{
    sm_stats s;

    if (sm_env_stats(env, &s) != SM_OK)
        return;
    printf("  %s: live %lu blocks (%lu B), backing %lu B (peak %lu B) in %lu chunks\n", label,
           (unsigned long)s.live_blocks, (unsigned long)s.live_bytes,
           (unsigned long)s.backing_bytes, (unsigned long)s.backing_peak,
           (unsigned long)s.chunks);
}

/* Part 1: an explicit environment, SM_ENV_ALLOCATE. */
static int explicit_environment(void)
{
    budget b = { "explicit", 48 * 1024, 0, 0, 0, 0 };
    sm_config config = { 0 };
    sm_status status;
    sm_env *env;
    size_t size = 1000, total = 0;
    unsigned blocks = 0;
    void *p;

    config.chunk_size = 4096;
    config.alloc = budget_alloc;
    config.free = budget_free;
    config.context = &b;

    printf("1. sm_env_create with a %lu-byte budget, blocks of growing size until it runs out\n",
           (unsigned long)b.limit);
    env = sm_env_create(&config, &status);
    if (env == NULL) {
        printf("  sm_env_create -> %s\n", sm_status_string(status));
        return 1;
    }
    for (;;) {
        p = SM_ENV_ALLOCATE(env, size, &status);
        if (p == NULL)
            break;
        total += size;
        blocks++;
        size += size / 2;
    }
    printf("  SM_ENV_ALLOCATE(env, %lu) -> NULL, %s after %u blocks (%lu B)\n",
           (unsigned long)size, sm_status_string(status), blocks, (unsigned long)total);
    if (status != SM_OUT_OF_MEMORY)
        return 1;
    print_stats("after the refusal, unchanged", env);

    /* The environment still works: a small block fits in memory it already has. */
    p = SM_ENV_ALLOCATE(env, 64, &status);
    printf("  SM_ENV_ALLOCATE(env, 64) -> %s\n", sm_status_string(status));
    if (p == NULL)
        return 1;

    /* Reset gives back all but the largest chunk; destroy gives back the rest. */
    status = sm_env_reset(env);
    printf("  sm_env_reset -> %s\n", sm_status_string(status));
    print_stats("after reset", env);
    status = sm_env_destroy(env);
    printf("  sm_env_destroy -> %s; budget holds %lu B (peak %lu B), %lu requests, %lu refused\n",
           sm_status_string(status), (unsigned long)b.held, (unsigned long)b.peak, b.requests,
           b.refusals);
    return status == SM_OK && b.held == 0 ? 0 : 1;
}

/* Part 2: the thread's current environment (sm_enable_allocate_with), SM_ALLOCATE. */
static int current_environment(void)
{
    budget b = { "current", 24 * 1024, 0, 0, 0, 0 };
    sm_config config = { 0 };
    sm_status status;
    void *small, *big;

    config.chunk_size = 2048;
    config.alloc = budget_alloc;
    config.free = budget_free;
    config.context = &b;

    printf("2. sm_enable_allocate_with a %lu-byte budget\n", (unsigned long)b.limit);
    status = sm_enable_allocate_with(&config);
    if (status != SM_OK) {
        printf("  sm_enable_allocate_with -> %s\n", sm_status_string(status));
        return 1;
    }
    small = SM_ALLOCATE(100, &status);
    printf("  SM_ALLOCATE(100) -> %s\n", sm_status_string(status));
    big = SM_ALLOCATE(64 * 1024, &status);
    printf("  SM_ALLOCATE(65536) -> %s%s\n", big == NULL ? "NULL, " : "", sm_status_string(status));
    if (small == NULL || big != NULL || status != SM_OUT_OF_MEMORY)
        return 1;
    /* Handled: fall back to a smaller request, which the budget allows. */
    big = SM_ALLOCATE(8 * 1024, &status);
    printf("  SM_ALLOCATE(8192) instead -> %s\n", sm_status_string(status));
    if (big == NULL)
        return 1;
    status = sm_disable_allocate();
    printf("  sm_disable_allocate -> %s; budget holds %lu B (peak %lu B), %lu requests, %lu refused\n",
           sm_status_string(status), (unsigned long)b.held, (unsigned long)b.peak, b.requests,
           b.refusals);
    return status == SM_OK && b.held == 0 ? 0 : 1;
}

int main(void)
{
    int failures = explicit_environment();

    failures += current_environment();
    return failures == 0 ? 0 : 1;
}
