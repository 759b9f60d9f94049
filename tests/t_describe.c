/* t_describe.c - sm_env_describe: the block that contains a pointer (its start, usable size,
   live or marked free, and with SM_TRACK its site), from any byte of it; SM_INVALID_ARG for
   anything that is not a block of the environment now. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "suites.h"

#define G TC_GRAIN

static const void *at(const void *p, ptrdiff_t k)   /* p + k bytes, outside any block if need be */
{
    return (const void *)((uintptr_t)p + (uintptr_t)k);
}

/* ptr lies in the block at start of `size` usable bytes, live or not, with that site. */
static void check_in_block(int line, const sm_env *env, const void *ptr, const void *start, size_t size,
                           int live, const char *file, int site_line)
{
    sm_block_info info;
    sm_status st;
    memset(&info, 0x5a, sizeof info);
    st = sm_env_describe(env, ptr, &info);
    if (!th_check_num(__FILE__, line, "sm_env_describe(...) == SM_OK", st, SM_OK, 0))
        return;
    th_check_num(__FILE__, line, "info.start == start", (long long)(uintptr_t)info.start,
                 (long long)(uintptr_t)start, 1);
    th_check_num(__FILE__, line, "info.size == size", (long long)info.size, (long long)size, 1);
    th_check_num(__FILE__, line, "info.live == live", info.live, live, 0);
    if (file)
        th_check_str(__FILE__, line, "info.file == file", info.file, file);
    else if (info.file != NULL)
        th_fail(__FILE__, line, "info.file == NULL");
    th_check_num(__FILE__, line, "info.line == site_line", info.line, site_line, 0);
}

/* Every byte of interest of a block: first, second, middle, last requested, last usable. */
static void check_block(int line, const sm_env *env, const void *p, size_t requested, int live,
                        const char *file, int site_line)
{
    size_t usable = TC_ROUND(requested);
    check_in_block(line, env, p, p, usable, live, file, site_line);
    check_in_block(line, env, at(p, 1), p, usable, live, file, site_line);
    check_in_block(line, env, at(p, (ptrdiff_t)(usable / 2)), p, usable, live, file, site_line);
    if (requested)
        check_in_block(line, env, at(p, (ptrdiff_t)requested - 1), p, usable, live, file, site_line);
    check_in_block(line, env, at(p, (ptrdiff_t)usable - 1), p, usable, live, file, site_line);
}

#define CHECK_BLOCK(env, p, requested, live) check_block(__LINE__, (env), (p), (requested), (live), NULL, 0)
#define CHECK_BLOCK_AT(env, p, requested, live, file, line) \
    check_block(__LINE__, (env), (p), (requested), (live), (file), (line))

static void check_not_block(int line, const sm_env *env, const void *ptr)
{
    sm_block_info info;
    th_check_num(__FILE__, line, "sm_env_describe(ptr) == SM_INVALID_ARG",
                 sm_env_describe(env, ptr, &info), SM_INVALID_ARG, 0);
}
#define CHECK_NOT_BLOCK(env, ptr) check_not_block(__LINE__, (env), (ptr))

TEST(describe_live_and_freed)
{
    static const size_t sizes[] = { 40, 1, 0, 100, 16, 17, 300 };
    enum { N = sizeof sizes / sizeof sizes[0] };
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_stats before, after;
    void *p[N];
    size_t i;
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    for (i = 0; i < N; i++) {
        p[i] = sm_env_allocate(env, sizes[i], NULL);
        REQUIRE(p[i] != NULL);
    }
    for (i = 0; i < N; i++)
        CHECK_BLOCK(env, p[i], sizes[i], 1);
    /* past the last block: not handed out yet */
    CHECK_NOT_BLOCK(env, at(p[N - 1], (ptrdiff_t)TC_ROUND(sizes[N - 1])));
    /* before the first: the chunk's header */
    CHECK_NOT_BLOCK(env, at(p[0], -1));
    /* marked free: still a block, not live */
    CHECK_EQ_INT(sm_env_free(env, p[1]), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, p[3]), SM_OK);
    for (i = 0; i < N; i++)
        CHECK_BLOCK(env, p[i], sizes[i], i != 1 && i != 3);
    /* describing changes nothing */
    before = tu_stats(env);
    CHECK_BLOCK(env, p[0], sizes[0], 1);
    after = tu_stats(env);
    CHECK_STATS_EQ(after, before);
    CHECK_EQ_INT(sm_env_free(env, p[0]), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, p[0]), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Alignment padding belongs to no block; the block before it ends where it begins. */
TEST(describe_aligned_padding)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    unsigned char *a, *p, *first;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    /* an aligned first block: padding from the payload's start, with no block before it */
    first = (unsigned char *)sm_env_allocate_aligned(env, 10, 1024, NULL);
    REQUIRE(first != NULL);
    CHECK_EQ_SIZE((uintptr_t)first % 1024, 0);
    CHECK_BLOCK(env, first, 10, 1);
    a = (unsigned char *)sm_env_allocate(env, 8, NULL);
    REQUIRE(a != NULL);
    if (((uintptr_t)a + G) % 256 == 0)   /* make sure the next 256-aligned block needs padding */
        a = (unsigned char *)sm_env_allocate(env, 8, NULL);
    REQUIRE(a != NULL);
    p = (unsigned char *)sm_env_allocate_aligned(env, 64, 256, NULL);
    REQUIRE(p != NULL);
    CHECK_EQ_SIZE((uintptr_t)p % 256, 0);
    REQUIRE(p > a + G);
    CHECK_BLOCK(env, a, 8, 1);            /* its size stops at the padding */
    CHECK_NOT_BLOCK(env, a + G);          /* the padding */
    CHECK_NOT_BLOCK(env, a + G + 1);
    CHECK_NOT_BLOCK(env, p - 1);
    CHECK_BLOCK(env, p, 64, 1);
    /* a marked-free block before padding keeps its size too */
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK_BLOCK(env, a, 8, 0);
    CHECK_NOT_BLOCK(env, p - 1);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* Memory reclaimed (rolled back or reset) is no block any more. */
TEST(describe_reclaimed)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    void *a, *b, *d, *big;
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    a = sm_env_allocate(env, 24, NULL);
    b = sm_env_allocate(env, 24, NULL);
    d = sm_env_allocate(env, 48, NULL);
    REQUIRE(a && b && d);
    CHECK_EQ_INT(sm_env_free(env, b), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, d), SM_OK);   /* rolls back over b as well */
    CHECK_NOT_BLOCK(env, d);
    CHECK_NOT_BLOCK(env, at(d, 1));
    CHECK_NOT_BLOCK(env, b);
    CHECK_BLOCK(env, a, 24, 1);
    /* the last allocation with a chunk of its own goes back at once */
    big = sm_env_allocate(env, 5000, NULL);
    REQUIRE(big != NULL);
    CHECK_BLOCK(env, big, 5000, 1);
    CHECK_EQ_INT(sm_env_free(env, big), SM_OK);
    CHECK_NOT_BLOCK(env, big);
    /* reset */
    big = sm_env_allocate(env, 5000, NULL);
    REQUIRE(big != NULL);
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK_NOT_BLOCK(env, a);
    CHECK_NOT_BLOCK(env, at(a, 5));
    /* and the same memory handed out again is a block again */
    b = sm_env_allocate(env, 24, NULL);
    REQUIRE(b != NULL);
    CHECK_BLOCK(env, b, 24, 1);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Pointers the environment does not own. */
TEST(describe_foreign)
{
    sm_env *env = sm_env_create(NULL, NULL), *other = sm_env_create(NULL, NULL);
    sm_block_info info;
    void *mine, *theirs, *heap;
    int local = 0;
    REQUIRE(env && other);
    mine = sm_env_allocate(env, 32, NULL);
    theirs = sm_env_allocate(other, 32, NULL);
    heap = malloc(64);
    REQUIRE(mine && theirs && heap);
    CHECK_BLOCK(env, mine, 32, 1);
    CHECK_BLOCK(other, theirs, 32, 1);
    CHECK_NOT_BLOCK(env, theirs);
    CHECK_NOT_BLOCK(env, at(theirs, 8));
    CHECK_NOT_BLOCK(other, mine);
    CHECK_NOT_BLOCK(env, heap);
    CHECK_NOT_BLOCK(env, &local);
    CHECK_NOT_BLOCK(env, env);     /* the environment itself is no block */
    CHECK_NOT_BLOCK(env, NULL);
    CHECK_NOT_BLOCK(env, at(NULL, 1));
    CHECK_NOT_BLOCK(env, at(NULL, -1));
    CHECK_EQ_INT(sm_env_describe(NULL, mine, &info), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_describe(env, mine, NULL), SM_INVALID_ARG);
    free(heap);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(other), SM_OK);
}

/* Blocks with a chunk of their own: any byte of them; past the end nothing. */
TEST(describe_single_chunks)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    unsigned char *big, *big2, *small;
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    big = (unsigned char *)sm_env_allocate(env, 5000, NULL);
    big2 = (unsigned char *)sm_env_allocate_aligned(env, 3000, 512, NULL);
    small = (unsigned char *)sm_env_allocate(env, 8, NULL);
    REQUIRE(big && big2 && small);
    CHECK_EQ_SIZE(tu_stats(env).chunks, 3);
    CHECK_BLOCK(env, big, 5000, 1);
    CHECK_BLOCK(env, big2, 3000, 1);
    CHECK_NOT_BLOCK(env, big - 1);
    CHECK_NOT_BLOCK(env, big + TC_ROUND(5000));
    CHECK_NOT_BLOCK(env, big2 + TC_ROUND(3000));
    /* marked free, not the last allocation: stays, not live */
    CHECK_EQ_INT(sm_env_free(env, big), SM_OK);
    CHECK_BLOCK(env, big, 5000, 0);
    CHECK_BLOCK(env, big2, 3000, 1);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    /* with SM_RECYCLE a freed single chunk goes back at once */
    cfg.flags = SM_RECYCLE;
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    big = (unsigned char *)sm_env_allocate(env, 5000, NULL);
    small = (unsigned char *)sm_env_allocate(env, 8, NULL);
    REQUIRE(big && small);
    CHECK_BLOCK(env, big, 5000, 1);
    CHECK_EQ_INT(sm_env_free(env, big), SM_OK);
    CHECK_NOT_BLOCK(env, big);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* The site: with SM_TRACK the block's, from any byte of it; without, NULL and 0. */
TEST(describe_sites)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    int pass;
    tc_init(&c);
    for (pass = 0; pass < 2; pass++) {
        int tracked = pass == 0, l1;
        void *a, *b, *d, *big, *al;
        cfg = tc_config(&c, 1024);
        cfg.flags = tracked ? SM_TRACK : 0;
        env = sm_env_create(&cfg, NULL);
        REQUIRE(env != NULL);
        l1 = __LINE__; a = SM_ENV_ALLOCATE(env, 40, NULL);
        b = sm_env_allocate(env, 40, NULL);
        d = sm_env_allocate_at(env, 3, NULL, "d.c", 77);
        big = sm_env_allocate_at(env, 7000, NULL, "big.c", 5);
        al = sm_env_allocate_aligned(env, 20, 128, NULL);
        REQUIRE(a && b && d && big && al);
        CHECK_BLOCK_AT(env, a, 40, 1, tracked ? __FILE__ : NULL, tracked ? l1 : 0);
        CHECK_BLOCK_AT(env, b, 40, 1, NULL, 0);
        CHECK_BLOCK_AT(env, d, 3, 1, tracked ? "d.c" : NULL, tracked ? 77 : 0);
        CHECK_BLOCK_AT(env, big, 7000, 1, tracked ? "big.c" : NULL, tracked ? 5 : 0);
        CHECK_BLOCK_AT(env, al, 20, 1, NULL, 0);
        /* a block reallocated in place keeps its site */
        CHECK(sm_env_reallocate(env, d, 3, TC_ROUND(3), NULL) == d);
        CHECK_BLOCK_AT(env, d, TC_ROUND(3), 1, tracked ? "d.c" : NULL, tracked ? 77 : 0);
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    }
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Granules of the first chunk of an environment with this chunk size (the counting allocator
   places chunks alike every time): one-granule blocks until a second chunk comes. */
static size_t first_chunk_granules(size_t chunk)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    size_t n = 0;
    tc_init(&c);
    cfg = tc_config(&c, chunk);
    env = sm_env_create(&cfg, NULL);
    if (!env)
        return 0;
    while (n < 100000 && sm_env_allocate(env, G, NULL) && tu_stats(env).chunks == 1)
        n++;
    (void)sm_env_destroy(env);
    return n;
}

/* A chunk filled to its last byte whose granules fill its bitmap words exactly, then the
   thread's last allocation (a big block, a chunk of its own) given back: the blocks of the full
   chunk keep their state and contents. */
TEST(describe_full_chunk_then_single_freed)
{
    size_t chunk, tried = 0, found = 0, wbits = sizeof(size_t) * 8;
    for (chunk = 4096; chunk < 4096 + 4 * wbits * G && found < 2; chunk += G) {
        tc_alloc c;
        sm_config cfg;
        sm_env *env;
        unsigned char *a, *b, *big, *d;
        size_t n = first_chunk_granules(chunk), k;
        sm_stats s;
        if (n < 4 || n % wbits)
            continue;
        found++;
        for (k = 0; k < 2; k++) {   /* the first block marked free, then live */
            tried++;
            tc_init(&c);
            cfg = tc_config(&c, chunk);
            env = sm_env_create(&cfg, NULL);
            REQUIRE(env != NULL);
            a = (unsigned char *)sm_env_allocate(env, G, NULL);
            b = (unsigned char *)sm_env_allocate(env, (n - 1) * G, NULL);   /* the rest, exactly */
            REQUIRE(a && b);
            CHECK_EQ_SIZE(tu_stats(env).chunks, 1);
            memset(a, 0xff, G);
            tu_fill(b, (n - 1) * G, 1);
            if (k == 0)
                CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
            big = (unsigned char *)sm_env_allocate(env, 100000, NULL);
            REQUIRE(big != NULL);
            CHECK_EQ_INT(sm_env_free(env, big), SM_OK);   /* the last allocation: goes back */
            CHECK_NOT_BLOCK(env, big);
            s = tu_stats(env);
            CHECK_EQ_SIZE(s.chunks, 1);
            CHECK_EQ_SIZE(s.live_blocks, (k == 0 ? 1 : 2));
            CHECK_EQ_SIZE(s.freed_blocks, (k == 0 ? 1 : 0));
            CHECK_BLOCK(env, a, G, k != 0);
            CHECK_BLOCK(env, b, (n - 1) * G, 1);
            CHECK(tu_check(b, (n - 1) * G, 1));
            if (k == 0) {
                CHECK_EQ_INT(sm_env_free(env, a), SM_INVALID_ARG);   /* still a double free */
            } else {
                size_t i;
                for (i = 0; i < G; i++)
                    CHECK_EQ_INT(a[i], 0xff);
            }
            /* and the chunk is still full */
            d = (unsigned char *)sm_env_allocate(env, G, NULL);
            REQUIRE(d != NULL);
            CHECK_EQ_SIZE(tu_stats(env).chunks, 2);
            CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
            CHECK_EQ_SIZE(c.live_bytes, 0);
        }
    }
    CHECK(tried > 0);
}

#ifndef SMALLOC_NO_THREADS
typedef struct helper_arg {
    sm_env *env;
    void *p[3];
} helper_arg;

static void helper_allocates(void *arg)
{
    helper_arg *a = (helper_arg *)arg;
    a->p[0] = sm_env_allocate_at(a->env, 24, NULL, "helper.c", 1);
    a->p[1] = sm_env_allocate_at(a->env, 9000, NULL, "helper.c", 2);
    a->p[2] = sm_env_allocate_at(a->env, 56, NULL, "helper.c", 3);
}

/* Blocks another thread allocated (in its own chunks) are described the same way. */
TEST(describe_other_thread)
{
    tc_alloc c;
    sm_config cfg;
    helper_arg a;
    th_thread t;
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    cfg.flags = SM_TRACK;
    memset(&a, 0, sizeof a);
    a.env = sm_env_create(&cfg, NULL);
    REQUIRE(a.env != NULL);
    REQUIRE(sm_env_allocate(a.env, 8, NULL) != NULL);
    REQUIRE(th_thread_start(&t, helper_allocates, &a));
    th_thread_join(&t);
    REQUIRE(a.p[0] && a.p[1] && a.p[2]);
    CHECK_BLOCK_AT(a.env, a.p[0], 24, 1, "helper.c", 1);
    CHECK_BLOCK_AT(a.env, a.p[1], 9000, 1, "helper.c", 2);
    CHECK_BLOCK_AT(a.env, a.p[2], 56, 1, "helper.c", 3);
    CHECK_NOT_BLOCK(a.env, at(a.p[2], (ptrdiff_t)TC_ROUND(56)));   /* the helper's top */
    CHECK_EQ_INT(sm_env_free(a.env, a.p[2]), SM_OK);   /* not this thread's chunk: marked free */
    CHECK_BLOCK_AT(a.env, a.p[2], 56, 0, "helper.c", 3);
    CHECK_EQ_INT(sm_env_destroy(a.env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}
#endif

void suite_describe(void)
{
    RUN(describe_live_and_freed);
    RUN(describe_aligned_padding);
    RUN(describe_reclaimed);
    RUN(describe_foreign);
    RUN(describe_single_chunks);
    RUN(describe_sites);
    RUN(describe_full_chunk_then_single_freed);
#ifndef SMALLOC_NO_THREADS
    RUN(describe_other_thread);
#endif
}
