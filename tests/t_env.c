/* t_env.c - environments as values: create/destroy/reset, allocation, exact mark-free, stats,
   chunk policy, configuration checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "util.h"
#include "suites.h"

#define G TC_GRAIN

static void *at(const void *p, ptrdiff_t k)   /* p + k bytes, outside any block if need be */
{
    return (void *)((uintptr_t)p + (uintptr_t)k);
}

/* ------------------------------------------------------------------------------------------ */

TEST(create_destroy_defaults)
{
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env = sm_env_create(NULL, &st);
    void *p;
    REQUIRE(env != NULL);
    CHECK_EQ_INT(st, SM_OK);
    st = SM_INVALID_HANDLE;
    p = sm_env_allocate(env, 100, &st);
    CHECK(p != NULL);
    CHECK_EQ_INT(st, SM_OK);
    if (p)
        memset(p, 0xab, 100);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    /* status pointers may be NULL */
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    CHECK(sm_env_allocate(env, 10, NULL) != NULL);
    CHECK(sm_env_allocate_aligned(env, 10, 64, NULL) != NULL);
    CHECK(sm_env_allocate(env, SIZE_MAX, NULL) == NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

TEST(create_calls_backing_once)
{
    tc_alloc c;
    sm_config cfg;
    sm_status st;
    sm_env *env;
    sm_stats s;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, &st);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_SIZE(c.calls, 1);
    CHECK_EQ_SIZE(c.live_blocks, 1);
    CHECK(c.log_file[0] == NULL && c.log_line[0] == 0);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 0);
    CHECK_EQ_SIZE(s.live_bytes, 0);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.chunks, 0);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.live_blocks, 0);
    CHECK_EQ_SIZE(c.frees, 1);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

static void refused_config(const sm_config *cfg, tc_alloc *c)
{
    sm_status st = SM_OK;
    size_t calls = c->calls;
    sm_thread_handle h;
    CHECK(sm_env_create(cfg, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    CHECK_EQ_INT(sm_enable_allocate_with(cfg), SM_INVALID_ARG);
    h = sm_get_thread_handle(&st);
    CHECK(h == NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_SIZE(c->calls, calls);
}

static void dummy_report(void *user, const char *file, int line, size_t blocks, size_t bytes)
{
    (void)user; (void)file; (void)line; (void)blocks; (void)bytes;
}

TEST(config_validation)
{
    tc_alloc c;
    sm_config cfg;
    sm_thread_handle h;
    sm_status st;
    tc_init(&c);

    cfg = tc_config(&c, 0);
    cfg.free = NULL;
    refused_config(&cfg, &c);
    cfg = tc_config(&c, 0);
    cfg.alloc = NULL;
    refused_config(&cfg, &c);
    /* unknown flags, and a report function without SM_TRACK to call it */
    cfg = tc_config(&c, 0);
    cfg.flags = 0x100;
    refused_config(&cfg, &c);
    cfg.flags = SM_TRACK | 0x8;
    refused_config(&cfg, &c);
    cfg = tc_config(&c, 0);
    cfg.report = dummy_report;
    refused_config(&cfg, &c);
    cfg.flags = SM_POISON | SM_RECYCLE;
    refused_config(&cfg, &c);
    CHECK_EQ_SIZE(c.calls, 0);

    /* a refused enable leaves the current environment current */
    cfg = tc_config(&c, 0);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    h = sm_get_thread_handle(&st);
    CHECK(h != NULL);
    cfg.flags = 0x100;
    CHECK_EQ_INT(sm_enable_allocate_with(&cfg), SM_INVALID_ARG);
    CHECK(sm_get_thread_handle(&st) == h);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_SIZE(c.live_bytes, 0);

    /* both NULL: malloc and free; a context alone is harmless */
    cfg = tc_config(&c, 0);
    cfg.alloc = NULL;
    cfg.free = NULL;
    {
        sm_env *env = sm_env_create(&cfg, &st);
        CHECK(env != NULL);
        CHECK_EQ_INT(st, SM_OK);
        if (env) {
            CHECK(sm_env_allocate(env, 5000, NULL) != NULL);
            CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
        }
    }
}

TEST(null_arguments)
{
    sm_status st = SM_OK;
    sm_stats s;
    sm_env *env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(sm_env_destroy(NULL), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_reset(NULL), SM_INVALID_ARG);
    CHECK(sm_env_allocate(NULL, 8, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    st = SM_OK;
    CHECK(sm_env_allocate_aligned(NULL, 8, 16, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(NULL, &st), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_stats(NULL, &s), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_stats(env, NULL), SM_INVALID_ARG);
    CHECK(sm_env_handle(NULL) == NULL);
    CHECK_EQ_INT(sm_env_free(env, NULL), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* Sizes 0, 1, 7, 8, 4096 and larger than a chunk: non-NULL, distinct, aligned, writable. */
static void sizes_in(size_t chunk)
{
    static const size_t base[] = { 0, 1, 7, 8, 4096 };
    enum { ROUNDS = 40 };
    tu_range r[ROUNDS * 7];
    size_t sizes[ROUNDS * 7];
    void *ptrs[ROUNDS * 7];
    size_t n = 0, i, k, big = (chunk ? chunk : 8192) + 1;
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_stats s;
    size_t expect = 0;
    tc_init(&c);
    cfg = tc_config(&c, chunk);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    for (k = 0; k < ROUNDS; k++) {
        for (i = 0; i < 7; i++) {
            sm_status st = SM_INVALID_HANDLE;
            size_t size = i < 5 ? base[i] : i == 5 ? big : 3 * big + k;
            void *p = sm_env_allocate(env, size, &st);
            REQUIRE(p != NULL);
            CHECK_EQ_INT(st, SM_OK);
            CHECK_EQ_SIZE((uintptr_t)p % TC_MAX_ALIGN, 0);
            tu_fill(p, size, (unsigned)n);
            ptrs[n] = p;
            sizes[n] = size;
            r[n].start = (uintptr_t)p;
            r[n].size = size;
            n++;
            if (size)
                expect += TC_ROUND(size);
        }
    }
    for (i = 0; i < n; i++)
        CHECK(tu_check(ptrs[i], sizes[i], (unsigned)i));
    CHECK(tu_no_overlap(r, n));
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, n);
    /* size 0 costs at most a granule */
    CHECK(s.live_bytes >= expect && s.live_bytes <= expect + ROUNDS * G);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.live_blocks, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

TEST(sizes_default_chunk) { sizes_in(0); }
TEST(sizes_small_chunk) { sizes_in(1024); }

TEST(size_zero_unique)
{
    enum { N = 300 };
    void *p[N];
    tu_range r[N];
    size_t i;
    sm_env *env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    for (i = 0; i < N; i++) {
        sm_status st = SM_INVALID_ARG;
        p[i] = sm_env_allocate(env, 0, &st);
        REQUIRE(p[i] != NULL);
        CHECK_EQ_INT(st, SM_OK);
        CHECK_EQ_SIZE((uintptr_t)p[i] % TC_MAX_ALIGN, 0);
        r[i].start = (uintptr_t)p[i];
        r[i].size = 1;
    }
    CHECK(tu_no_overlap(r, N));
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, N);
    for (i = 0; i < N; i += 2) {
        CHECK_EQ_INT(sm_env_free(env, p[i]), SM_OK);
        CHECK_EQ_INT(sm_env_free(env, p[i]), SM_INVALID_ARG);
    }
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, N / 2);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

TEST(aligned_allocation)
{
    static const size_t aligns[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 4096, 65536 };
    static const size_t sizes[] = { 0, 1, 24, 100, 3000, 70000 };
    static const size_t bad[] = { 0, 3, 24, 48, 100, 4095, (size_t)-1 };
    enum { NA = sizeof aligns / sizeof aligns[0], NS = sizeof sizes / sizeof sizes[0] };
    tu_range r[NA * NS * 2];
    size_t n = 0, i, j, k;
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_stats before, after;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    for (k = 0; k < 2; k++) {
        for (i = 0; i < NA; i++) {
            for (j = 0; j < NS; j++) {
                sm_status st = SM_INVALID_HANDLE;
                void *p = sm_env_allocate_aligned(env, sizes[j], aligns[i], &st);
                REQUIRE(p != NULL);
                CHECK_EQ_INT(st, SM_OK);
                CHECK_EQ_SIZE((uintptr_t)p % aligns[i], 0);
                CHECK_EQ_SIZE((uintptr_t)p % TC_MAX_ALIGN, 0);
                memset(p, (int)n, sizes[j]);
                r[n].start = (uintptr_t)p;
                r[n].size = sizes[j];
                n++;
            }
        }
    }
    CHECK(tu_no_overlap(r, n));
    /* every aligned block can be marked free exactly once */
    for (i = 0; i < n; i++)
        CHECK_EQ_INT(sm_env_free(env, (void *)r[i].start), SM_OK);
    for (i = 0; i < n; i++)
        CHECK_EQ_INT(sm_env_free(env, (void *)r[i].start), SM_INVALID_ARG);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    CHECK_EQ_SIZE(tu_stats(env).live_bytes, 0);
    /* a bad alignment is refused and changes nothing */
    before = tu_stats(env);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sm_status st = SM_OK;
        size_t calls = c.calls;
        CHECK(sm_env_allocate_aligned(env, 16, bad[i], &st) == NULL);
        CHECK_EQ_INT(st, SM_INVALID_ARG);
        CHECK_EQ_SIZE(c.calls, calls);
    }
    after = tu_stats(env);
    CHECK_STATS_EQ(after, before);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* SIZE_MAX and its neighbours: NULL + SM_OUT_OF_MEMORY, the backing allocator never sees a size
   smaller than the request (a wrapped one), nothing changes. */
TEST(size_overflow)
{
    size_t sizes[24];
    size_t n = 0, i;
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_stats before, after;
    void *first;
    sizes[n++] = SIZE_MAX;
    sizes[n++] = SIZE_MAX - 1;
    sizes[n++] = SIZE_MAX - 7;
    sizes[n++] = SIZE_MAX - 8;
    sizes[n++] = SIZE_MAX - 15;
    sizes[n++] = SIZE_MAX - 16;
    sizes[n++] = SIZE_MAX - 64;
    sizes[n++] = SIZE_MAX - 100;
    sizes[n++] = SIZE_MAX - 4096;
    sizes[n++] = SIZE_MAX - 65536;
    sizes[n++] = SIZE_MAX / 2 + 1;
    sizes[n++] = SIZE_MAX / 2;
    sizes[n++] = SIZE_MAX / 4 * 3;
    sizes[n++] = TC_MAX_REQUEST * 2;   /* a sane size the backing allocator refuses */
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    first = sm_env_allocate(env, 40, NULL);   /* the environment has a chunk and a cursor */
    REQUIRE(first != NULL);
    before = tu_stats(env);
    for (i = 0; i < n; i++) {
        size_t k, log0 = c.nlog;
        int variant;
        for (variant = 0; variant < 4; variant++) {
            sm_status st = SM_OK;
            void *p;
            switch (variant) {
            case 0: p = sm_env_allocate(env, sizes[i], &st); break;
            case 1: p = sm_env_allocate_aligned(env, sizes[i], 64, &st); break;
            case 2: p = sm_env_allocate_aligned(env, sizes[i], 4096, &st); break;
            default: p = sm_env_allocate_at(env, sizes[i], &st, __FILE__, __LINE__); break;
            }
            CHECK(p == NULL);
            CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        }
        for (k = log0; k < c.nlog; k++)
            CHECK(c.log_size[k] >= sizes[i]);
    }
    /* a huge alignment with a small size: no wrapped request either */
    {
        sm_status st = SM_OK;
        size_t log0 = c.nlog, k, align = (SIZE_MAX >> 1) + 1;
        CHECK(sm_env_allocate_aligned(env, 1, align, &st) == NULL);
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        for (k = log0; k < c.nlog; k++)
            CHECK(c.log_size[k] >= align);
    }
    after = tu_stats(env);
    CHECK_STATS_EQ(after, before);
    CHECK_EQ_SIZE(c.live_bytes, after.backing_bytes);
    /* and the environment still works */
    {
        void *p = sm_env_allocate(env, 40, NULL);
        CHECK(p != NULL && p != first);
        CHECK_EQ_INT(sm_env_free(env, first), SM_OK);
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Everything that is not the start of a live block of this environment: SM_INVALID_ARG, and
   neither environment changes. */
TEST(mark_free_exact)
{
    tc_alloc c1, c2;
    sm_config cfg1, cfg2;
    sm_env *e1, *e2;
    unsigned char *a, *b, *big, *last, *o;
    void *heap;
    sm_stats s1, s2, t1, t2;
    size_t i;
    tc_init(&c1);
    tc_init(&c2);
    cfg1 = tc_config(&c1, 4096);
    cfg2 = tc_config(&c2, 4096);
    e1 = sm_env_create(&cfg1, NULL);
    e2 = sm_env_create(&cfg2, NULL);
    REQUIRE(e1 != NULL && e2 != NULL);
    a = (unsigned char *)sm_env_allocate(e1, 64, NULL);
    b = (unsigned char *)sm_env_allocate(e1, 64, NULL);
    big = (unsigned char *)sm_env_allocate(e1, 50000, NULL);
    last = (unsigned char *)sm_env_allocate(e1, 24, NULL);
    o = (unsigned char *)sm_env_allocate(e2, 64, NULL);
    (void)sm_env_allocate(e2, 64, NULL);
    heap = malloc(64);
    REQUIRE(a && b && big && last && o && heap);
    CHECK_EQ_INT(sm_env_free(e1, b), SM_OK);   /* b is marked free, not the last block */
    s1 = tu_stats(e1);
    s2 = tu_stats(e2);
    CHECK_EQ_SIZE(s1.live_blocks, 3);
    CHECK_EQ_SIZE(s1.freed_blocks, 1);

    CHECK_EQ_INT(sm_env_free(e1, NULL), SM_OK);
    CHECK_EQ_INT(sm_env_free(e1, b), SM_INVALID_ARG);                 /* double free */
    CHECK_EQ_INT(sm_env_free(e1, a + 1), SM_INVALID_ARG);             /* interior */
    CHECK_EQ_INT(sm_env_free(e1, a + G), SM_INVALID_ARG);             /* interior, on a granule */
    CHECK_EQ_INT(sm_env_free(e1, a + 32), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e1, a + 63), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e1, b + G), SM_INVALID_ARG);             /* inside a freed block */
    CHECK_EQ_INT(sm_env_free(e1, at(a, -(ptrdiff_t)G)), SM_INVALID_ARG); /* before the first block */
    CHECK_EQ_INT(sm_env_free(e1, big + 1), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e1, big + G), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e1, big + 4096), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e1, big + TC_ROUND(50000)), SM_INVALID_ARG); /* one past its end */
    CHECK_EQ_INT(sm_env_free(e1, at(big, -(ptrdiff_t)G)), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e1, last + 24), SM_INVALID_ARG);          /* one past the end */
    CHECK_EQ_INT(sm_env_free(e1, last + TC_ROUND(24)), SM_INVALID_ARG); /* the bump pointer */
    CHECK_EQ_INT(sm_env_free(e1, last + 1024), SM_INVALID_ARG);        /* free room of the chunk */
    CHECK_EQ_INT(sm_env_free(e1, heap), SM_INVALID_ARG);               /* malloc's memory */
    CHECK_EQ_INT(sm_env_free(e1, o), SM_INVALID_ARG);                  /* another environment's */
    CHECK_EQ_INT(sm_env_free(e2, a), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e2, big), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e1, &c1), SM_INVALID_ARG);                /* a stack address */
    CHECK_EQ_INT(sm_env_free(e1, (void *)e1), SM_INVALID_ARG);         /* the environment itself */
    t1 = tu_stats(e1);
    t2 = tu_stats(e2);
    CHECK_STATS_EQ(t1, s1);
    CHECK_STATS_EQ(t2, s2);

    /* no false reject: each live block frees exactly once */
    CHECK_EQ_INT(sm_env_free(e1, a), SM_OK);
    CHECK_EQ_INT(sm_env_free(e1, big), SM_OK);
    CHECK_EQ_INT(sm_env_free(e1, big), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(e2, o), SM_OK);
    CHECK_EQ_INT(sm_env_free(e1, last), SM_OK);
    CHECK_EQ_INT(sm_env_free(e1, last), SM_INVALID_ARG);
    CHECK_EQ_SIZE(tu_stats(e1).live_blocks, 0);
    CHECK_EQ_SIZE(tu_stats(e2).live_blocks, 1);
    for (i = 0; i < 3; i++)
        CHECK_EQ_INT(sm_env_free(e1, a), SM_INVALID_ARG);
    free(heap);
    CHECK_EQ_INT(sm_env_destroy(e1), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(e2), SM_OK);
    CHECK_EQ_SIZE(c1.live_bytes, 0);
    CHECK_EQ_SIZE(c2.live_bytes, 0);
}

/* Many blocks over many chunks, freed in a scrambled order: each frees once, every other pointer
   into them is refused, and the live figures drop by exactly the block each time. */
TEST(mark_free_exact_random)
{
    enum { N = 3000 };
    static void *p[N];
    static size_t sz[N];
    static size_t order[N];
    unsigned seed = 12345;
    size_t i;
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_stats s;
    tc_init(&c);
    cfg = tc_config(&c, 512);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    for (i = 0; i < N; i++) {
        sz[i] = tu_rand(&seed) % 300 + (i % 97 == 0 ? 9000 : 0);
        p[i] = sm_env_allocate(env, sz[i], NULL);
        REQUIRE(p[i] != NULL);
        tu_fill(p[i], sz[i], (unsigned)i);
        order[i] = i;
    }
    for (i = N - 1; i > 0; i--) {
        size_t j = tu_rand(&seed) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    s = tu_stats(env);
    for (i = 0; i < N; i++) {
        size_t k = order[i], r = TC_ROUND(sz[k]);
        sm_stats t;
        if (r > G)
            CHECK_EQ_INT(sm_env_free(env, at(p[k], (ptrdiff_t)G)), SM_INVALID_ARG);
        CHECK_EQ_INT(sm_env_free(env, at(p[k], 1)), SM_INVALID_ARG);
        CHECK(tu_check(p[k], sz[k], (unsigned)k));
        CHECK_EQ_INT(sm_env_free(env, p[k]), SM_OK);
        CHECK_EQ_INT(sm_env_free(env, p[k]), SM_INVALID_ARG);
        t = tu_stats(env);
        CHECK_EQ_SIZE(t.live_blocks, s.live_blocks - 1);
        CHECK_EQ_SIZE(t.live_bytes, s.live_bytes - r);
        s = t;
    }
    CHECK_EQ_SIZE(s.live_blocks, 0);
    CHECK_EQ_SIZE(s.live_bytes, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Freeing the last block moves the bump back: the next allocation gets the same address, and the
   block is neither live nor counted as marked free; marked-free blocks right before it go too. */
TEST(free_last_reclaims)
{
    sm_env *env = sm_env_create(NULL, NULL);
    void *a, *b, *c, *d, *again;
    sm_stats s;
    REQUIRE(env != NULL);
    a = sm_env_allocate(env, 40, NULL);
    b = sm_env_allocate(env, 40, NULL);
    REQUIRE(a && b);
    CHECK_EQ_INT(sm_env_free(env, b), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 1);
    CHECK_EQ_SIZE(s.live_bytes, TC_ROUND(40));
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.freed_bytes, 0);
    again = sm_env_allocate(env, 40, NULL);
    CHECK_EQ_PTR(again, b);
    /* a, b, c, d: free c (marked), then d: both reclaimed */
    c = sm_env_allocate(env, 100, NULL);
    d = sm_env_allocate(env, 8, NULL);
    REQUIRE(c && d);
    CHECK_EQ_INT(sm_env_free(env, c), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 3);
    CHECK_EQ_SIZE(s.freed_blocks, 1);
    CHECK_EQ_SIZE(s.freed_bytes, TC_ROUND(100));
    CHECK_EQ_INT(sm_env_free(env, d), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.live_bytes, 2 * TC_ROUND(40));
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.freed_bytes, 0);
    CHECK_EQ_INT(sm_env_free(env, c), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(env, d), SM_INVALID_ARG);
    again = sm_env_allocate(env, 100, NULL);
    CHECK_EQ_PTR(again, c);
    /* freeing everything from the top reclaims everything */
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, b), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, again), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 0);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_PTR(sm_env_allocate(env, 1, NULL), a);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* The same for a block large enough for a chunk of its own, when it is the last allocated. */
TEST(free_last_big_block_reclaims)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_stats s;
    void *small, *big;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    small = sm_env_allocate(env, 16, NULL);
    big = sm_env_allocate(env, 100000, NULL);
    REQUIRE(small && big);
    CHECK_EQ_INT(sm_env_free(env, big), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 1);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.freed_bytes, 0);
    CHECK_EQ_INT(sm_env_free(env, big), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Mark-free only marks: the memory is neither given back nor reused before reset/destroy. */
TEST(mark_free_not_reused)
{
    enum { N = 400 };
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    void *a, *b, *p;
    size_t i, frees;
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    a = sm_env_allocate(env, 32, NULL);
    b = sm_env_allocate(env, 5000, NULL);   /* a chunk of its own */
    REQUIRE(a && b);
    REQUIRE(sm_env_allocate(env, 32, NULL) != NULL);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, b), SM_OK);
    frees = c.frees;
    for (i = 0; i < N; i++) {
        p = sm_env_allocate(env, i % 2 ? 32 : 5000, NULL);
        REQUIRE(p != NULL);
        CHECK(p != a && p != b);
    }
    CHECK_EQ_SIZE(c.frees, frees);
    CHECK_EQ_SIZE(tu_stats(env).freed_blocks, 2);
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK_EQ_SIZE(tu_stats(env).freed_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Every field of sm_stats, against what the test did and what the counting allocator saw. */
TEST(stats_fields)
{
    static const size_t sizes[] = { 1, 7, 8, 9, 16, 17, 100, 4096, 20000 };
    enum { NS = sizeof sizes / sizeof sizes[0] };
    void *p[NS];
    size_t i, live = 0, freed = 0, nfreed = 0;
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_stats s;
    tc_init(&c);
    cfg = tc_config(&c, 8192);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    for (i = 0; i < NS; i++) {
        p[i] = sm_env_allocate(env, sizes[i], NULL);
        REQUIRE(p[i] != NULL);
        live += TC_ROUND(sizes[i]);
    }
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, NS);
    CHECK_EQ_SIZE(s.live_bytes, live);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.freed_bytes, 0);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    CHECK_EQ_SIZE(s.backing_peak, c.peak_bytes);
    /* the backing allocator holds the environment (the first cursor is part of it) and the chunks */
    CHECK_EQ_SIZE(s.chunks, c.live_blocks - 1);
    CHECK(s.chunks >= 2);   /* 20000 bytes do not fit an 8192-byte chunk */
    /* mark some free (not the last one) */
    for (i = 0; i < NS - 1; i += 2) {
        CHECK_EQ_INT(sm_env_free(env, p[i]), SM_OK);
        live -= TC_ROUND(sizes[i]);
        freed += TC_ROUND(sizes[i]);
        nfreed++;
    }
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, NS - nfreed);
    CHECK_EQ_SIZE(s.live_bytes, live);
    CHECK_EQ_SIZE(s.freed_blocks, nfreed);
    CHECK_EQ_SIZE(s.freed_bytes, freed);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    CHECK(s.backing_peak >= s.backing_bytes);
    /* reset: nothing live or freed, memory kept for reuse, peak unchanged */
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 0);
    CHECK_EQ_SIZE(s.live_bytes, 0);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.freed_bytes, 0);
    CHECK(s.chunks >= 1);
    CHECK_EQ_SIZE(s.chunks, c.live_blocks - 1);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    CHECK_EQ_SIZE(s.backing_peak, c.peak_bytes);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Block bytes are usable sizes rounded to the granule: the padding an aligned block needs before
   it is not part of the block before. */
TEST(stats_bytes_exclude_alignment_padding)
{
    sm_env *env = sm_env_create(NULL, NULL);
    void *a, *b;
    sm_stats s;
    REQUIRE(env != NULL);
    a = sm_env_allocate(env, 16, NULL);
    b = sm_env_allocate_aligned(env, 16, 1024, NULL);
    REQUIRE(a && b);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.live_bytes, 2 * TC_ROUND(16));
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.freed_bytes, TC_ROUND(16));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* Chunks double from chunk_size up to 256 times it. */
TEST(chunk_growth)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    size_t want = 4096, seen = 0, i, guard = 0;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    while (seen < 11 && guard++ < 100000) {
        size_t log0 = c.nlog;
        REQUIRE(sm_env_allocate(env, 200, NULL) != NULL);
        for (i = log0; i < c.nlog; i++) {
            if (c.log_size[i] < 4096)
                continue;   /* the environment */
            CHECK_EQ_SIZE(c.log_size[i], want);
            seen++;
            if (want < 256 * 4096)
                want *= 2;
        }
    }
    CHECK_EQ_SIZE(seen, 11);
    CHECK_EQ_SIZE(tu_stats(env).chunks, 11);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(chunk_size_defaults)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    size_t i, first = 0;
    /* 0: SMALLOC_DEFAULT_CHUNK_SIZE (8192) */
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate(env, 8, NULL) != NULL);
    for (i = 1; i < c.nlog; i++)
        if (c.log_size[i] > first)
            first = c.log_size[i];
    CHECK_EQ_SIZE(first, 8192);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    /* below 4096 (a page, which the page map needs): raised to 4096, and it still works */
    tc_init(&c);
    cfg = tc_config(&c, 1);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    for (i = 0; i < 100; i++) {
        void *p = sm_env_allocate(env, 24, NULL);
        REQUIRE(p != NULL);
        memset(p, 1, 24);
    }
    first = 0;
    for (i = 1; i < c.nlog; i++)
        if (c.log_size[i] >= 4096) {
            first = c.log_size[i];
            break;
        }
    CHECK_EQ_SIZE(first, 4096);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 100);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* A big request gets a chunk of its own, close to its size, does not end the current chunk and
   does not make the next normal chunk larger. */
TEST(big_blocks_own_chunk)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    size_t i, log0, calls, normal = 0, bigreq = 0;
    void *big;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate(env, 10, NULL) != NULL);
    for (i = 1; i < c.nlog; i++)
        if (c.log_size[i] > normal)
            normal = c.log_size[i];
    CHECK_EQ_SIZE(normal, 4096);   /* the first chunk */
    log0 = c.nlog;
    big = sm_env_allocate(env, 100000, NULL);
    REQUIRE(big != NULL);
    memset(big, 7, 100000);
    CHECK_EQ_SIZE(c.nlog - log0, 1);
    bigreq = c.log_size[c.nlog - 1];
    CHECK(bigreq >= 100000 && bigreq < 100000 + 4096);
    /* the current chunk goes on: the next small block needs no backing call */
    calls = c.calls;
    REQUIRE(sm_env_allocate(env, 10, NULL) != NULL);
    CHECK_EQ_SIZE(c.calls, calls);
    /* fill the chunk until a new normal one comes: no larger than twice the first */
    log0 = c.nlog;
    for (i = 0; i < 100 && c.nlog == log0; i++)
        REQUIRE(sm_env_allocate(env, 500, NULL) != NULL);
    REQUIRE(c.nlog > log0);
    normal = c.log_size[c.nlog - 1];
    CHECK(normal >= 4096 && normal <= 2 * 4096);
    /* more big blocks: each its own chunk, still no inflation */
    for (i = 0; i < 5; i++) {
        log0 = c.nlog;
        REQUIRE(sm_env_allocate(env, 200000 + i, NULL) != NULL);
        CHECK_EQ_SIZE(c.nlog - log0, 1);
    }
    log0 = c.nlog;
    for (i = 0; i < 1000 && c.nlog == log0; i++)
        REQUIRE(sm_env_allocate(env, 500, NULL) != NULL);
    REQUIRE(c.nlog > log0);
    CHECK(c.log_size[c.nlog - 1] <= 4 * 4096);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* A thread remembers the chunk of its last mark-free outside its own chunk, so that the next
   one there skips the page map. Once the environment is released (and made again from the
   thread's cache) the chunk is gone: a mark-free of its old blocks is refused and never reads
   it (under AddressSanitizer or Valgrind, a forgotten chunk is a read of released memory; the
   process-wide cache is off, so that the chunk goes back to free). A new chunk may take the
   old one's memory, and its first block the old first block's address. */
static void mark_free_in_released_chunk(size_t chunk_size)
{
    void *first, *p, *q;
    sm_config cfg;
    sm_env *env;
    size_t i, limit, block = chunk_size / 8;
    memset(&cfg, 0, sizeof cfg);
    cfg.chunk_size = chunk_size;
    limit = sm_cache_limit(0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    first = sm_env_allocate(env, block, NULL);
    REQUIRE(first != NULL);
    for (i = 1; i < 16; i++)   /* the first chunk full, then a second (twice its size) */
        REQUIRE((p = sm_env_allocate(env, block, NULL)) != NULL);
    CHECK_EQ_INT(sm_env_free(env, first), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, first), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(sm_env_free(env, first), SM_INVALID_ARG);
    q = sm_env_allocate(env, 16, NULL);   /* the thread takes its cursor again */
    CHECK(q != NULL);
    CHECK_EQ_INT(sm_env_free(env, first), q == first ? SM_OK : SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    (void)sm_cache_limit(limit);
}

TEST(mark_free_in_released_chunk_kept_cursor)
{
    mark_free_in_released_chunk((size_t)128 << 10);   /* the second chunk stays with the cursor */
}

TEST(mark_free_in_released_chunk_parked_cursor)
{
    mark_free_in_released_chunk((size_t)512 << 10);   /* too large to keep: all chunks go */
}

/* An environment reset after each "request" stops calling the backing allocator. */
TEST(reset_reuses_memory)
{
    enum { PER_ROUND = 300 };
    void *p[PER_ROUND];
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_stats s;
    size_t round, i, calls = 0;
    unsigned seed = 7;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    for (round = 0; round < 20; round++) {
        if (round == 8)
            calls = c.calls;
        for (i = 0; i < PER_ROUND; i++) {
            size_t n = tu_rand(&seed) % 200;
            p[i] = sm_env_allocate(env, n, NULL);
            REQUIRE(p[i] != NULL);
            memset(p[i], (int)i, n);
            if (i % 5 == 4)
                CHECK_EQ_INT(sm_env_free(env, p[i - 2]), SM_OK);
        }
        CHECK_EQ_INT(sm_env_reset(env), SM_OK);
        s = tu_stats(env);
        CHECK_EQ_SIZE(s.live_blocks, 0);
        CHECK_EQ_SIZE(s.freed_blocks, 0);
        CHECK(s.chunks >= 1);
        CHECK_EQ_SIZE(s.chunks, c.live_blocks - 1);   /* the environment holds the cursor */
        CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
        /* blocks from before the reset are gone */
        CHECK_EQ_INT(sm_env_free(env, p[0]), SM_INVALID_ARG);
        CHECK_EQ_INT(sm_env_free(env, p[PER_ROUND - 1]), SM_INVALID_ARG);
    }
    CHECK_EQ_SIZE(c.calls, calls);
    /* reset gives the chunks of big blocks back */
    {
        size_t kept = c.live_blocks, bytes = c.live_bytes;
        for (i = 0; i < 10; i++)
            REQUIRE(sm_env_allocate(env, 50000, NULL) != NULL);
        CHECK_EQ_SIZE(c.live_blocks, kept + 10);
        CHECK_EQ_INT(sm_env_reset(env), SM_OK);
        CHECK_EQ_SIZE(c.live_blocks, kept);
        CHECK_EQ_SIZE(c.live_bytes, bytes);
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Two environments are independent: destroying one leaves the other's blocks intact. */
TEST(environments_independent)
{
    tc_alloc c1, c2;
    sm_config cfg1, cfg2;
    sm_env *e1, *e2;
    void *p[200];
    size_t i;
    tc_init(&c1);
    tc_init(&c2);
    cfg1 = tc_config(&c1, 1024);
    cfg2 = tc_config(&c2, 1024);
    e1 = sm_env_create(&cfg1, NULL);
    e2 = sm_env_create(&cfg2, NULL);
    REQUIRE(e1 && e2);
    CHECK(sm_env_handle(e1) != NULL && sm_env_handle(e2) != NULL);
    CHECK(sm_env_handle(e1) != sm_env_handle(e2));
    CHECK(sm_env_handle(e1) == sm_env_handle(e1));
    for (i = 0; i < 200; i++) {
        p[i] = sm_env_allocate(i % 2 ? e2 : e1, 64, NULL);
        REQUIRE(p[i] != NULL);
        tu_fill(p[i], 64, (unsigned)i);
    }
    CHECK_EQ_SIZE(tu_stats(e1).live_blocks, 100);
    CHECK_EQ_SIZE(tu_stats(e2).live_blocks, 100);
    CHECK_EQ_INT(sm_env_destroy(e1), SM_OK);
    CHECK_EQ_SIZE(c1.live_bytes, 0);
    for (i = 1; i < 200; i += 2)
        CHECK(tu_check(p[i], 64, (unsigned)i));
    CHECK_EQ_SIZE(tu_stats(e2).live_blocks, 100);
    CHECK_EQ_INT(sm_env_free(e2, p[1]), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(e2), SM_OK);
    CHECK_EQ_SIZE(c2.live_bytes, 0);
    CHECK_EQ_SIZE(c1.bad_frees + c2.bad_frees, 0);
}

/* sm_env_handle attaches the calling thread without making it the owner. */
TEST(env_handle_attach)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_status st = SM_INVALID_ARG;
    void *p;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env)), SM_OK);
    CHECK(sm_get_thread_handle(&st) == sm_env_handle(env));
    CHECK_EQ_INT(st, SM_OK);
    p = sm_allocate(100, &st);
    CHECK(p != NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 1);
    CHECK_EQ_INT(sm_env_free(env, p), SM_OK);   /* the environment's block, either way */
    CHECK_EQ_INT(sm_free(p), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_disable_allocate(), SM_INVALID_ARG);   /* not the owner */
    CHECK(sm_allocate(8, NULL) != NULL);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 1);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

void suite_env(void)
{
    RUN(create_destroy_defaults);
    RUN(create_calls_backing_once);
    RUN(config_validation);
    RUN(null_arguments);
    RUN(sizes_default_chunk);
    RUN(sizes_small_chunk);
    RUN(size_zero_unique);
    RUN(aligned_allocation);
    RUN(size_overflow);
    RUN(mark_free_exact);
    RUN(mark_free_exact_random);
    RUN(mark_free_not_reused);
    RUN(free_last_reclaims);
    RUN(free_last_big_block_reclaims);
    RUN(stats_fields);
    RUN(stats_bytes_exclude_alignment_padding);
    RUN(chunk_growth);
    RUN(chunk_size_defaults);
    RUN(big_blocks_own_chunk);
    RUN(mark_free_in_released_chunk_kept_cursor);
    RUN(mark_free_in_released_chunk_parked_cursor);
    RUN(reset_reuses_memory);
    RUN(environments_independent);
    RUN(env_handle_attach);
}
