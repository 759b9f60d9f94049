/* t_poison.c - SM_POISON: memory released by mark-free, rollback or reset, and the part of a
   chunk not handed out yet, is poisoned; a block handed out is accessible for the size asked.
   How a build can see it: under AddressSanitizer through its shadow (the bytes are never read:
   that would be the error), in a plain build by the 0xDD pattern (reading the arena's own
   memory is defined). With SMALLOC_VALGRIND only Valgrind knows, and tests/poison_probe.c (make
   check-poison-valgrind) checks that, so the checks here pass without looking.
   The death tests (a bad read must be reported) are tests/poison_probe.c, run by mk/debug.mk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "util.h"
#include "suites.h"
#ifdef TU_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define G TC_GRAIN
#define POISON_BYTE 0xDD

/* Every byte of p[0..n) is poisoned. */
static int released(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
#if defined(TU_ASAN)
    for (i = 0; i < n; i++)
        if (!__asan_address_is_poisoned(b + i))
            return 0;
#elif defined(SMALLOC_VALGRIND)
    (void)b;
    (void)i;
    (void)n;
#else
    for (i = 0; i < n; i++)
        if (b[i] != POISON_BYTE)
            return 0;
#endif
    return 1;
}

/* No byte of p[0..n) is poisoned (only ASan can tell; writing to it shows it elsewhere). */
static int accessible(const void *p, size_t n)
{
#if defined(TU_ASAN)
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (__asan_address_is_poisoned(b + i))
            return 0;
#else
    (void)p;
    (void)n;
#endif
    return 1;
}

static sm_env *poison_env(tc_alloc *c, size_t chunk, unsigned flags)
{
    sm_config cfg = tc_config(c, chunk);
    cfg.flags = SM_POISON | flags;
    return sm_env_create(&cfg, NULL);
}

TEST(poison_marked_free)
{
    tc_alloc c;
    sm_env *env;
    unsigned char *a, *b, *d, *big, *e;
    tc_init(&c);
    env = poison_env(&c, 1024, 0);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 64, NULL);
    b = (unsigned char *)sm_env_allocate(env, 64, NULL);
    d = (unsigned char *)sm_env_allocate(env, 13, NULL);
    big = (unsigned char *)sm_env_allocate(env, 5000, NULL);   /* a chunk of its own */
    e = (unsigned char *)sm_env_allocate(env, 8, NULL);
    REQUIRE(a && b && d && big && e);
    CHECK(accessible(a, 64) && accessible(d, 13) && accessible(big, 5000));
    tu_fill(a, 64, 1);
    tu_fill(b, 64, 2);
    tu_fill(d, 13, 3);
    tu_fill(big, 5000, 4);
    tu_fill(e, 8, 5);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK(released(a, TC_ROUND(64)));
    CHECK(tu_check(b, 64, 2));   /* the neighbours are untouched */
    CHECK_EQ_INT(sm_env_free(env, d), SM_OK);
    CHECK(released(d, TC_ROUND(13)));
    CHECK(tu_check(b, 64, 2));
    CHECK(tu_check(e, 8, 5));
    CHECK_EQ_INT(sm_env_free(env, big), SM_OK);   /* not the last allocation: stays, poisoned */
    CHECK(released(big, TC_ROUND(5000)));
    CHECK(tu_check(e, 8, 5));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

TEST(poison_rollback)
{
    tc_alloc c;
    sm_env *env;
    unsigned char *a, *b, *x, *y;
    tc_init(&c);
    env = poison_env(&c, 4096, 0);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 40, NULL);
    b = (unsigned char *)sm_env_allocate(env, 100, NULL);
    REQUIRE(a && b);
    tu_fill(a, 40, 1);
    tu_fill(b, 100, 2);
    CHECK_EQ_INT(sm_env_free(env, b), SM_OK);   /* the last block */
    CHECK(released(b, TC_ROUND(100)));
    CHECK(tu_check(a, 40, 1));
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);   /* now the last one */
    CHECK(released(a, TC_ROUND(40)));
    /* an aligned block and its padding */
    x = (unsigned char *)sm_env_allocate(env, 8, NULL);
    REQUIRE(x != NULL);
    if (((uintptr_t)x + G) % 256 == 0) {   /* make sure the aligned block needs padding */
        x = (unsigned char *)sm_env_allocate(env, 8, NULL);
        REQUIRE(x != NULL);
    }
    y = (unsigned char *)sm_env_allocate_aligned(env, 32, 256, NULL);
    REQUIRE(y != NULL);
    CHECK(accessible(y, 32));
    CHECK(released(x + G, (size_t)(y - (x + G))));   /* padding was never handed out */
    tu_fill(y, 32, 3);
    CHECK_EQ_INT(sm_env_free(env, y), SM_OK);
    CHECK(released(x + G, (size_t)(y + TC_ROUND(32) - (x + G))));
    /* a block shrunk in place gives its end back */
    b = (unsigned char *)sm_env_allocate(env, 200, NULL);
    REQUIRE(b != NULL);
    tu_fill(b, 200, 4);
    CHECK(sm_env_reallocate(env, b, 200, 10, NULL) == b);
    CHECK(tu_check(b, 10, 4));
    CHECK(released(b + TC_ROUND(10), TC_ROUND(200) - TC_ROUND(10)));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(poison_reset)
{
    static const size_t sizes[] = { 1, 24, 100, 7, 300, 16 };
    enum { N = sizeof sizes / sizeof sizes[0] };
    tc_alloc c;
    sm_env *env;
    unsigned char *p[N];
    size_t i;
    int round;
    tc_init(&c);
    env = poison_env(&c, 4096, 0);
    REQUIRE(env != NULL);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < N; i++) {
            p[i] = (unsigned char *)sm_env_allocate(env, sizes[i], NULL);
            REQUIRE(p[i] != NULL);
            CHECK(accessible(p[i], sizes[i]));
            tu_fill(p[i], sizes[i], (unsigned)i);
        }
        CHECK_EQ_INT(sm_env_free(env, p[2]), SM_OK);
        CHECK_EQ_INT(sm_env_reset(env), SM_OK);
        for (i = 0; i < N; i++)
            CHECK(released(p[i], TC_ROUND(sizes[i])));
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* The part of a chunk not handed out yet, and the end of a block past the size asked. */
TEST(poison_tail)
{
    tc_alloc c;
    sm_env *env;
    unsigned char *a;
    tc_init(&c);
    env = poison_env(&c, 1024, 0);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 16, NULL);
    REQUIRE(a != NULL);
    CHECK(released(a + TC_ROUND(16), 256));
    tu_fill(a, 16, 1);
    CHECK(released(a + TC_ROUND(16), 256));
#ifdef TU_ASAN
    {
        unsigned char *big;
        /* accessible for the size asked, not up to the granule */
        a = (unsigned char *)sm_env_allocate(env, 20, NULL);
        REQUIRE(a != NULL);
        CHECK(accessible(a, 20));
        CHECK(released(a + 20, TC_ROUND(20) - 20));
        /* the same for a block with a chunk of its own */
        big = (unsigned char *)sm_env_allocate(env, 5000, NULL);
        REQUIRE(big != NULL);
        CHECK(accessible(big, 5000));
        CHECK(released(big + 5000, TC_ROUND(5000) - 5000));
    }
#endif
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* With SM_RECYCLE a freed block holds a list link in its first words; the rest is poisoned,
   and the block is accessible again once handed out. */
TEST(poison_recycle)
{
    tc_alloc c;
    sm_env *env;
    unsigned char *a, *b, *q;
    tc_init(&c);
    env = poison_env(&c, 4096, SM_RECYCLE);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 64, NULL);
    b = (unsigned char *)sm_env_allocate(env, 16, NULL);
    REQUIRE(a && b);
    tu_fill(a, 64, 1);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
#if defined(TU_ASAN)
    CHECK(released(a, TC_ROUND(64)));
#else
    CHECK(released(a + 3 * sizeof(void *), TC_ROUND(64) - 3 * sizeof(void *)));
#endif
    q = (unsigned char *)sm_env_allocate(env, 60, NULL);
    CHECK(q == a);
    REQUIRE(q != NULL);
    CHECK(accessible(q, 60));
    tu_fill(q, 60, 2);
    CHECK(tu_check(q, 60, 2));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Without SM_POISON marking free touches nothing. */
TEST(poison_off_untouched)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    unsigned char *a;
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 64, NULL);
    REQUIRE(a != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    tu_fill(a, 64, 1);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK(accessible(a, 64));
    CHECK(tu_check(a, 64, 1));
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* sm_env_reallocate with an old_size past the size first asked for (within the usable size):
   those bytes are the caller's, in place and when the block moves (ASan stopped inside smalloc). */
TEST(poison_realloc_old_size_usable)
{
    tc_alloc c;
    sm_env *env;
    unsigned char *p, *q;
    sm_status st = SM_INVALID_ARG;
    size_t i;
    tc_init(&c);
    env = poison_env(&c, 0, 0);
    REQUIRE(env != NULL);
    p = (unsigned char *)sm_env_allocate(env, 10, NULL);   /* usable: TC_ROUND(10) */
    REQUIRE(p != NULL);
    CHECK(sm_env_allocate(env, 8, NULL) != NULL);         /* p is not the last: it moves */
    memset(p, 7, 10);
    q = (unsigned char *)sm_env_reallocate(env, p, TC_ROUND(10), 100, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL && q != p);
    for (i = 0; i < 10; i++)
        CHECK_EQ_INT(q[i], 7);
    CHECK(accessible(q, 100));
    /* in place: the last block grows, old_size again past the size asked for */
    p = (unsigned char *)sm_env_allocate(env, 20, NULL);
    REQUIRE(p != NULL);
    q = (unsigned char *)sm_env_reallocate(env, p, TC_ROUND(20), 40, &st);
    CHECK(q == p);
    CHECK(accessible(q, 40));
    memset(q, 1, 40);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* A large block's chunk kept by a destroyed SM_POISON environment, reused by the next one for
   a block of another size and alignment: all of the new block is accessible. */
TEST(poison_reused_single_chunk_accessible)
{
    sm_config cfg;
    size_t align;
    memset(&cfg, 0, sizeof cfg);
    for (align = 16; align <= 4096; align *= 2) {
        sm_env *env;
        unsigned char *p;
        cfg.flags = SM_POISON;
        env = sm_env_create(&cfg, NULL);
        REQUIRE(env != NULL);
        CHECK(sm_env_allocate(env, 3000, NULL) != NULL);   /* a chunk of its own */
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
        env = sm_env_create(NULL, NULL);
        REQUIRE(env != NULL);
        p = (unsigned char *)sm_env_allocate_aligned(env, 3100, align, NULL);
        REQUIRE(p != NULL);
        CHECK(accessible(p, 3100));
        memset(p, 1, 3100);
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    }
}

/* Memory from the chunk cache is accessible again in the next environment, flags or not. */
TEST(poison_cache_reuse_accessible)
{
    sm_config cfg;
    int k;
    memset(&cfg, 0, sizeof cfg);
    (void)sm_cache_trim(0);
    for (k = 0; k < 4; k++) {
        unsigned char *p, *big;
        sm_env *env;
        cfg.flags = k % 2 ? SM_POISON : 0;
        env = sm_env_create(&cfg, NULL);
        REQUIRE(env != NULL);
        p = (unsigned char *)sm_env_allocate(env, 64, NULL);
        big = (unsigned char *)sm_env_allocate(env, 50000, NULL);
        REQUIRE(p && big);
        CHECK(accessible(p, 64));
        CHECK(accessible(big, 50000));
        tu_fill(p, 64, 1);
        tu_fill(big, 50000, 2);
        CHECK(tu_check(p, 64, 1));
        CHECK(tu_check(big, 50000, 2));
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
#ifdef TU_ASAN
        CHECK(released(p, 64));   /* in the cache (or freed): nobody may touch it */
#endif
    }
    (void)sm_cache_trim(0);
}

void suite_poison(void)
{
    RUN(poison_marked_free);
    RUN(poison_rollback);
    RUN(poison_reset);
    RUN(poison_tail);
    RUN(poison_recycle);
    RUN(poison_realloc_old_size_usable);
    RUN(poison_reused_single_chunk_accessible);
    RUN(poison_off_untouched);
    RUN(poison_cache_reuse_accessible);
}
