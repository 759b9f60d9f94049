/* t_realloc.c - sm_env_reallocate and sm_reallocate (API.md section 9): node NULL allocates,
   shrinking stays in place, the last block grows in place while its chunk has room, anything
   else moves (old_size bytes copied, the old block marked free); refused nodes and sizes change
   nothing, and a move that runs out of memory leaves the old block untouched. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "util.h"
#include "suites.h"

#define G TC_GRAIN
#define FRESH 0x77   /* what fill_alloc writes into new backing memory */

/* The counting allocator, with new memory filled with FRESH: bytes a move did not copy show. */
static void *fill_alloc(void *context, size_t size, const char *file, int line)
{
    void *p = tc_alloc_fn(context, size, file, line);
    if (p)
        memset(p, FRESH, size);
    return p;
}

static sm_env *make_env(tc_alloc *c, size_t chunk, unsigned flags)
{
    sm_config cfg = tc_config(c, chunk);
    cfg.alloc = fill_alloc;
    cfg.flags = flags;
    return sm_env_create(&cfg, NULL);
}

static int all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i] != v)
            return 0;
    return 1;
}

TEST(realloc_null_allocates)
{
    tc_alloc c;
    sm_env *env;
    sm_status st = SM_INVALID_ARG;
    void *p, *q;
    sm_stats s;
    tc_init(&c);
    env = make_env(&c, 1024, 0);
    REQUIRE(env != NULL);
    p = sm_env_reallocate(env, NULL, 0, 100, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(p != NULL);
    CHECK_EQ_SIZE((uintptr_t)p % TC_MAX_ALIGN, 0);
    tu_fill(p, 100, 1);
    st = SM_INVALID_ARG;
    q = sm_env_reallocate(env, NULL, 0, 0, &st);   /* size 0: a unique block */
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL);
    CHECK(q != p);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.live_bytes, TC_ROUND(100) + TC_ROUND(0));
    CHECK_EQ_INT(sm_env_free(env, p), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, q), SM_OK);
    CHECK(sm_env_reallocate(env, NULL, 0, 10, NULL) != NULL);   /* status may be NULL */
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(realloc_shrink_in_place)
{
    tc_alloc c;
    sm_env *env;
    sm_status st = SM_INVALID_ARG;
    unsigned char *a, *b, *d;
    sm_stats s;
    tc_init(&c);
    env = make_env(&c, 1024, 0);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 100, NULL);
    b = (unsigned char *)sm_env_allocate(env, 100, NULL);
    REQUIRE(a && b);
    tu_fill(a, 100, 1);
    tu_fill(b, 100, 2);
    /* not the last block */
    CHECK(sm_env_reallocate(env, a, 100, 10, &st) == a);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(tu_check(a, 10, 1));
    CHECK(tu_check(b, 100, 2));
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 2);
    /* the last block: its end moves back, and the next block starts there */
    st = SM_INVALID_ARG;
    CHECK(sm_env_reallocate(env, b, 100, 10, &st) == b);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(tu_check(b, 10, 2));
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.live_bytes, TC_ROUND(100) + TC_ROUND(10));
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    d = (unsigned char *)sm_env_allocate(env, 16, NULL);
    CHECK(d == b + TC_ROUND(10));
    /* to size 0, and a block with a chunk of its own */
    CHECK(sm_env_reallocate(env, d, 16, 0, &st) == d);
    CHECK_EQ_INT(st, SM_OK);
    a = (unsigned char *)sm_env_allocate(env, 6000, NULL);
    REQUIRE(a != NULL);
    tu_fill(a, 6000, 3);
    CHECK(sm_env_reallocate(env, a, 6000, 100, &st) == a);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(tu_check(a, 100, 3));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(realloc_grow_last_in_place)
{
    tc_alloc c;
    sm_env *env;
    sm_status st = SM_INVALID_ARG;
    unsigned char *a, *b, *d, *q;
    sm_stats s;
    tc_init(&c);
    env = make_env(&c, 1024, 0);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 16, NULL);
    b = (unsigned char *)sm_env_allocate(env, 16, NULL);
    REQUIRE(a && b);
    tu_fill(b, 16, 5);
    CHECK(sm_env_reallocate(env, b, 16, 200, &st) == b);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(tu_check(b, 16, 5));
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.live_bytes, TC_ROUND(16) + TC_ROUND(200));
    tu_fill(b, 200, 5);
    CHECK(sm_env_reallocate(env, b, 200, 500, &st) == b);
    CHECK(tu_check(b, 200, 5));
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_bytes, TC_ROUND(16) + TC_ROUND(500));
    CHECK_EQ_SIZE(s.chunks, 1);
    tu_fill(b, 500, 5);
    /* the next block comes after the grown one */
    d = (unsigned char *)sm_env_allocate(env, 8, NULL);
    CHECK(d == b + TC_ROUND(500));
    /* the last block, but no room left in its chunk: it moves; being last, it rolls back */
    REQUIRE(d != NULL);
    tu_fill(d, 8, 6);
    q = (unsigned char *)sm_env_reallocate(env, d, 8, 5000, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL);
    CHECK(q != d);
    CHECK(tu_check(q, 8, 6));
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 3);
    CHECK_EQ_SIZE(s.live_bytes, TC_ROUND(16) + TC_ROUND(500) + TC_ROUND(5000));
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK(sm_env_allocate(env, 8, NULL) == d);
    CHECK(tu_check(b, 500, 5));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Growing a block that is not the last moves it: exactly old_size bytes are copied (the rest of
   the new block is untouched backing memory), and the old block is marked free. */
TEST(realloc_grow_moves)
{
    tc_alloc c;
    sm_env *env;
    sm_status st = SM_INVALID_ARG;
    unsigned char *a, *b, *q, *r;
    sm_stats s;
    sm_block_info info;
    tc_init(&c);
    env = make_env(&c, 4096, 0);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 40, NULL);
    b = (unsigned char *)sm_env_allocate(env, 40, NULL);
    REQUIRE(a && b);
    tu_fill(a, 40, 1);
    tu_fill(b, TC_ROUND(40), 2);
    q = (unsigned char *)sm_env_reallocate(env, a, 30, 100, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL);
    CHECK(q != a);
    CHECK_EQ_SIZE((uintptr_t)q % TC_MAX_ALIGN, 0);
    CHECK(tu_check(q, 30, 1));
    CHECK(all_bytes(q + 30, 70, FRESH));   /* not a byte more than old_size */
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.live_bytes, TC_ROUND(40) + TC_ROUND(100));
    CHECK_EQ_SIZE(s.freed_blocks, 1);
    CHECK_EQ_SIZE(s.freed_bytes, TC_ROUND(40));
    CHECK_EQ_INT(sm_env_describe(env, a, &info), SM_OK);
    CHECK_EQ_INT(info.live, 0);
    CHECK_EQ_INT(sm_env_free(env, a), SM_INVALID_ARG);
    /* old_size may be the whole usable size */
    r = (unsigned char *)sm_env_reallocate(env, b, TC_ROUND(40), 300, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(r != NULL);
    CHECK(r != b);
    CHECK(tu_check(r, TC_ROUND(40), 2));
    CHECK(all_bytes(r + TC_ROUND(40), 300 - TC_ROUND(40), FRESH));
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.live_bytes, TC_ROUND(100) + TC_ROUND(300));
    CHECK_EQ_SIZE(s.freed_blocks, 2);
    CHECK_EQ_SIZE(s.freed_bytes, 2 * TC_ROUND(40));
    /* growing within the usable size stays in place */
    CHECK(sm_env_reallocate(env, q, 100, TC_ROUND(100), &st) == q);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(tu_check(q, 30, 1));
    /* a block with a chunk of its own, grown: moves as well, and its old chunk goes back at
       once (not marked free: a block grown by steps must not hold every old copy) */
    a = (unsigned char *)sm_env_allocate(env, 5000, NULL);
    REQUIRE(a != NULL);
    tu_fill(a, 5000, 3);
    REQUIRE(sm_env_allocate(env, 8, NULL) != NULL);
    {
        size_t held = c.live_blocks;
        q = (unsigned char *)sm_env_reallocate(env, a, 5000, 9000, &st);
        CHECK_EQ_SIZE(c.live_blocks, held);   /* a chunk for a chunk */
    }
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL);
    CHECK(q != a);
    CHECK(tu_check(q, 5000, 3));
    CHECK(all_bytes(q + 5000, 4000, FRESH));
    CHECK_EQ_SIZE(tu_stats(env).freed_blocks, 2);
    CHECK_EQ_INT(sm_env_describe(env, a, &info), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(env, a), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* A large block grown by small steps holds memory in proportion to its final size, with or
   without SM_RECYCLE (API.md section 14): 4 KiB to 64 KiB by 64 bytes. */
TEST(realloc_grow_by_steps)
{
    unsigned flags;
    for (flags = 0; flags <= SM_RECYCLE; flags += SM_RECYCLE) {
        tc_alloc c;
        sm_config cfg;
        sm_env *env;
        unsigned char *p;
        size_t size = 4096;
        tc_init(&c);
        cfg = tc_config(&c, 0);
        cfg.flags = flags;
        env = sm_env_create(&cfg, NULL);
        REQUIRE(env != NULL);
        p = (unsigned char *)sm_env_allocate(env, size, NULL);
        REQUIRE(p != NULL);
        tu_fill(p, size, 9);
        while (size < 65536) {
            p = (unsigned char *)sm_env_reallocate(env, p, size, size + 64, NULL);
            REQUIRE(p != NULL);
            size += 64;
        }
        CHECK(tu_check(p, 4096, 9));
        CHECK(c.peak_bytes < 4 * 65536 + 16384);   /* was 32 MiB in 961 chunks */
        CHECK(tu_stats(env).chunks <= 3);
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
        CHECK_EQ_SIZE(c.live_bytes, 0);
    }
}

/* Nodes that are not live blocks of the environment, and an old_size larger than the block:
   NULL + SM_INVALID_ARG, nothing changed. */
TEST(realloc_refused_nodes)
{
    tc_alloc c;
    sm_env *env, *other;
    sm_status st;
    unsigned char *a, *freed, *o, *heap;
    int local = 0, k;
    size_t calls;
    sm_stats before, after;
    void *bad[6];
    tc_init(&c);
    env = make_env(&c, 1024, 0);
    other = sm_env_create(NULL, NULL);
    REQUIRE(env && other);
    a = (unsigned char *)sm_env_allocate(env, 40, NULL);
    REQUIRE(sm_env_allocate(env, 40, NULL) != NULL);
    freed = (unsigned char *)sm_env_allocate(env, 40, NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    o = (unsigned char *)sm_env_allocate(other, 40, NULL);
    heap = (unsigned char *)malloc(40);
    REQUIRE(a && freed && o && heap);
    tu_fill(a, 40, 1);
    CHECK_EQ_INT(sm_env_free(env, freed), SM_OK);
    bad[0] = a + G;
    bad[1] = a + 1;
    bad[2] = freed;
    bad[3] = o;
    bad[4] = heap;
    bad[5] = &local;
    before = tu_stats(env);
    calls = c.calls;
    for (k = 0; k < 6; k++) {
        st = SM_OK;
        CHECK(sm_env_reallocate(env, bad[k], 8, 100, &st) == NULL);
        CHECK_EQ_INT(st, SM_INVALID_ARG);
        st = SM_OK;
        CHECK(sm_env_reallocate(env, bad[k], 8, 4, &st) == NULL);
        CHECK_EQ_INT(st, SM_INVALID_ARG);
    }
    /* old_size beyond the usable size, growing or shrinking */
    st = SM_OK;
    CHECK(sm_env_reallocate(env, a, TC_ROUND(40) + 1, 100, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    st = SM_OK;
    CHECK(sm_env_reallocate(env, a, TC_ROUND(40) + 1, 8, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    st = SM_OK;
    CHECK(sm_env_reallocate(env, a, SIZE_MAX, 8, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    st = SM_OK;
    CHECK(sm_env_reallocate(NULL, a, 40, 100, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    after = tu_stats(env);
    CHECK_STATS_EQ(after, before);
    CHECK_EQ_SIZE(c.calls, calls);
    CHECK(tu_check(a, 40, 1));
    CHECK_EQ_SIZE(tu_stats(other).live_blocks, 1);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);   /* still a live block */
    free(heap);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(other), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* The backing allocator fails during a move: NULL + SM_OUT_OF_MEMORY, the old block and the
   environment's figures untouched; with memory again the same call works. */
TEST(realloc_out_of_memory)
{
    tc_alloc c;
    sm_env *env;
    sm_status st;
    unsigned char *a, *q;
    sm_stats before, after;
    size_t k;
    tc_init(&c);
    env = make_env(&c, 1024, 0);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 100, NULL);
    REQUIRE(a != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    tu_fill(a, 100, 7);
    c.fail_from = c.calls + 1;
    /* fill the chunk, so that any growth needs new memory */
    for (k = 0; k < 100 && sm_env_allocate(env, 64, NULL) != NULL; k++)
        ;
    CHECK(k < 100);
    before = tu_stats(env);
    st = SM_OK;
    CHECK(sm_env_reallocate(env, a, 100, 5000, &st) == NULL);   /* a chunk of its own */
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    st = SM_OK;
    CHECK(sm_env_reallocate(env, a, 100, 200, &st) == NULL);    /* a new normal chunk */
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    after = tu_stats(env);
    CHECK_STATS_EQ(after, before);
    CHECK(tu_check(a, 100, 7));
    CHECK(c.refused >= 3);
    /* shrinking needs no memory */
    CHECK(sm_env_reallocate(env, a, 100, 50, &st) == a);
    CHECK_EQ_INT(st, SM_OK);
    c.fail_from = 0;
    q = (unsigned char *)sm_env_reallocate(env, a, 50, 200, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL);
    CHECK(tu_check(q, 50, 7));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Sizes whose rounding or header arithmetic overflows: SM_OUT_OF_MEMORY, no wrapped request. */
TEST(realloc_overflow)
{
    tc_alloc c;
    sm_env *env;
    sm_status st;
    unsigned char *a;
    sm_stats before, after;
    size_t calls, k;
    const size_t huge[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - G + 2, SIZE_MAX - G, SIZE_MAX - 4096 };
    tc_init(&c);
    env = make_env(&c, 1024, 0);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 40, NULL);
    REQUIRE(a != NULL);
    REQUIRE(sm_env_allocate(env, 8, NULL) != NULL);
    tu_fill(a, 40, 9);
    before = tu_stats(env);
    calls = c.calls;
    for (k = 0; k < sizeof huge / sizeof huge[0]; k++) {
        st = SM_OK;
        CHECK(sm_env_reallocate(env, a, 40, huge[k], &st) == NULL);
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        st = SM_OK;
        CHECK(sm_env_reallocate(env, NULL, 0, huge[k], &st) == NULL);
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    }
    CHECK_EQ_SIZE(c.calls, calls);
    /* large but representable: the backing allocator may be asked, for at least that much */
    st = SM_OK;
    CHECK(sm_env_reallocate(env, a, 40, SIZE_MAX / 2, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    CHECK(c.calls == calls || c.max_request >= SIZE_MAX / 2);
    after = tu_stats(env);
    CHECK_STATS_EQ(after, before);
    CHECK(tu_check(a, 40, 9));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* sm_reallocate works on the calling thread's environment. */
TEST(realloc_thread_implicit)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_status st;
    unsigned char *p, *q, *heap;
    int local = 0;
    tc_init(&c);
    /* no environment */
    st = SM_OK;
    CHECK(sm_reallocate(NULL, 0, 10, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    st = SM_OK;
    CHECK(sm_reallocate(&local, 4, 10, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    CHECK(sm_reallocate(NULL, 0, 10, NULL) == NULL);
    /* an enabled one */
    cfg = tc_config(&c, 1024);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    p = (unsigned char *)sm_reallocate(NULL, 0, 40, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(p != NULL);
    tu_fill(p, 40, 4);
    CHECK(sm_reallocate(p, 40, 80, &st) == p);   /* the last block */
    CHECK_EQ_INT(st, SM_OK);
    tu_fill(p, 80, 4);
    REQUIRE(sm_allocate(8, NULL) != NULL);
    q = (unsigned char *)sm_reallocate(p, 80, 400, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL);
    CHECK(q != p);
    CHECK(tu_check(q, 80, 4));
    CHECK_EQ_INT(sm_free(p), SM_INVALID_ARG);   /* marked free by the move */
    CHECK(sm_reallocate(q, 400, 20, &st) == q);
    heap = (unsigned char *)malloc(16);
    REQUIRE(heap != NULL);
    st = SM_OK;
    CHECK(sm_reallocate(heap, 16, 32, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    st = SM_OK;
    CHECK(sm_reallocate(p, 80, 100, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    free(heap);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    /* attached to an environment destroyed since: a stale handle */
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    REQUIRE(sm_set_thread_handle(sm_env_handle(env)) == SM_OK);
    p = (unsigned char *)sm_allocate(16, NULL);
    REQUIRE(p != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    st = SM_OK;
    CHECK(sm_reallocate(p, 16, 32, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    st = SM_OK;
    CHECK(sm_reallocate(NULL, 0, 32, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    st = SM_OK;
    CHECK(sm_reallocate(NULL, 0, 32, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
}

/* Random growing, shrinking and freeing under every combination of flags: contents survive,
   blocks never overlap, the figures count the live ones. */
TEST(realloc_random)
{
    static const unsigned flag_sets[] = { 0, SM_RECYCLE, SM_POISON, SM_TRACK,
                                          SM_TRACK | SM_POISON | SM_RECYCLE };
    enum { SLOTS = 48, OPS = 3000 };
    size_t f;
    for (f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++) {
        tc_alloc c;
        sm_env *env;
        unsigned char *p[SLOTS];
        size_t size[SLOTS];
        unsigned seed[SLOTS], rng = 12345u + (unsigned)f, next_seed = 1;
        tu_range r[SLOTS];
        size_t i, live, nr;
        tc_init(&c);
        env = make_env(&c, 2048, flag_sets[f]);
        REQUIRE(env != NULL);
        memset(p, 0, sizeof p);
        for (i = 0; i < OPS; i++) {
            unsigned k = tu_rand(&rng) % SLOTS, op = tu_rand(&rng) % 8;
            size_t n = tu_rand(&rng) % 8 == 0 ? 1000 + tu_rand(&rng) % 9000 : tu_rand(&rng) % 300;
            sm_status st = SM_INVALID_ARG;
            unsigned char *q;
            if (p[k] && op == 0) {
                CHECK(tu_check(p[k], size[k], seed[k]));
                CHECK_EQ_INT(sm_env_free(env, p[k]), SM_OK);
                p[k] = NULL;
                continue;
            }
            q = (unsigned char *)sm_env_reallocate(env, p[k], p[k] ? size[k] : 0, n, &st);
            CHECK_EQ_INT(st, SM_OK);
            REQUIRE(q != NULL);
            if (p[k]) {
                CHECK(tu_check(q, size[k] < n ? size[k] : n, seed[k]));
            } else {
                seed[k] = next_seed++;
            }
            tu_fill(q, n, seed[k]);
            p[k] = q;
            size[k] = n;
        }
        for (i = 0, live = 0, nr = 0; i < SLOTS; i++) {
            if (!p[i])
                continue;
            CHECK(tu_check(p[i], size[i], seed[i]));
            r[nr].start = (uintptr_t)p[i];
            r[nr].size = size[i];
            nr++;
            live++;
        }
        CHECK(tu_no_overlap(r, nr));
        CHECK_EQ_SIZE(tu_stats(env).live_blocks, live);
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
        CHECK_EQ_SIZE(c.live_bytes, 0);
        CHECK_EQ_SIZE(c.bad_frees, 0);
    }
}

void suite_realloc(void)
{
    RUN(realloc_null_allocates);
    RUN(realloc_shrink_in_place);
    RUN(realloc_grow_last_in_place);
    RUN(realloc_grow_moves);
    RUN(realloc_grow_by_steps);
    RUN(realloc_refused_nodes);
    RUN(realloc_out_of_memory);
    RUN(realloc_overflow);
    RUN(realloc_thread_implicit);
    RUN(realloc_random);
}
