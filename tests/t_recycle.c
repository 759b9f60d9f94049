/* t_recycle.c - SM_RECYCLE: marked-free blocks are handed out again to later allocations of a
   fitting size, so allocate/free churn around a steady live set stays bounded; a block waiting
   for reuse is still refused as a double free; threads share an environment (blocks freed by
   another thread than the one that allocated them, threads without a cursor) without ever
   handing one block out twice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "suites.h"

#define NW(a) (sizeof (a) / sizeof (a)[0])

/* The usable size of a block of n bytes: a recycled block must hold a list link. */
static size_t usable(size_t n)
{
    size_t u = TC_ROUND(n);
    return u < 2 * sizeof(void *) ? TC_ROUND(2 * sizeof(void *)) : u;
}

static sm_env *make_env(tc_alloc *c, size_t chunk, unsigned flags)
{
    sm_config cfg = tc_config(c, chunk);
    cfg.flags = flags;
    return sm_env_create(&cfg, NULL);
}

TEST(recycle_same_size)
{
    tc_alloc c;
    sm_env *env;
    void *a, *b, *d, *e, *f, *big, *big2;
    sm_stats s;
    sm_block_info info;
    tc_init(&c);
    env = make_env(&c, 4096, SM_RECYCLE);
    REQUIRE(env != NULL);
    a = sm_env_allocate(env, 40, NULL);
    b = sm_env_allocate(env, 40, NULL);
    REQUIRE(a && b);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.freed_blocks, 1);
    CHECK_EQ_SIZE(s.freed_bytes, usable(40));
    CHECK_EQ_INT(sm_env_describe(env, a, &info), SM_OK);
    CHECK_EQ_INT(info.live, 0);
    /* the same size: that block */
    d = sm_env_allocate(env, 40, NULL);
    CHECK(d == a);
    REQUIRE(d != NULL);
    tu_fill(d, 40, 1);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 3);
    CHECK_EQ_SIZE(s.live_bytes, 2 * usable(40) + usable(16));
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.freed_bytes, 0);
    CHECK_EQ_INT(sm_env_describe(env, a, &info), SM_OK);
    CHECK_EQ_INT(info.live, 1);
    /* its address names the new block: freeing it again works once */
    CHECK_EQ_INT(sm_env_free(env, d), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, d), SM_INVALID_ARG);
    /* a block on a list is still a double free; the refusal does not corrupt the list */
    CHECK_EQ_INT(sm_env_free(env, b), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, b), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(env, a), SM_INVALID_ARG);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.freed_blocks, 2);
    CHECK_EQ_SIZE(s.live_blocks, 1);
    e = sm_env_allocate(env, 40, NULL);
    f = sm_env_allocate(env, 40, NULL);
    REQUIRE(e && f);
    CHECK(e != f);
    CHECK((e == a && f == b) || (e == b && f == a));
    tu_fill(e, 40, 2);
    tu_fill(f, 40, 3);
    CHECK(tu_check(e, 40, 2));
    d = sm_env_allocate(env, 40, NULL);   /* the lists are empty: a new block */
    CHECK(d != NULL && d != a && d != b);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 4);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    /* larger blocks, kept by powers of two */
    big = sm_env_allocate(env, 1000, NULL);
    REQUIRE(big != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    CHECK_EQ_INT(sm_env_free(env, big), SM_OK);
    big2 = sm_env_allocate(env, 1000, NULL);
    CHECK(big2 == big);
    CHECK_EQ_SIZE(tu_stats(env).freed_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* A freed block with a chunk of its own goes back to the backing allocator at once. */
TEST(recycle_single_chunk_given_back)
{
    tc_alloc c;
    sm_env *env;
    void *big;
    size_t held, frees;
    sm_stats s;
    tc_init(&c);
    env = make_env(&c, 1024, SM_RECYCLE);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    big = sm_env_allocate(env, 5000, NULL);
    REQUIRE(big != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);   /* big is not the last allocation */
    held = c.live_bytes;
    frees = c.frees;
    CHECK_EQ_SIZE(tu_stats(env).chunks, 2);
    CHECK_EQ_INT(sm_env_free(env, big), SM_OK);
    CHECK_EQ_SIZE(c.frees, frees + 1);
    CHECK(c.live_bytes + 5000 <= held);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.chunks, 1);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_INT(sm_env_free(env, big), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Reset empties the lists: the memory is handed out once, from the start. */
TEST(recycle_reset_clears_lists)
{
    tc_alloc c;
    sm_env *env;
    void *a, *x, *y;
    tu_range r[2];
    tc_init(&c);
    env = make_env(&c, 4096, SM_RECYCLE);
    REQUIRE(env != NULL);
    a = sm_env_allocate(env, 40, NULL);
    REQUIRE(a != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    x = sm_env_allocate(env, 40, NULL);
    y = sm_env_allocate(env, 40, NULL);
    REQUIRE(x && y);
    CHECK(x != y);
    r[0].start = (uintptr_t)x;
    r[0].size = 40;
    r[1].start = (uintptr_t)y;
    r[1].size = 40;
    CHECK(tu_no_overlap(r, 2));
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 2);
    CHECK_EQ_SIZE(tu_stats(env).freed_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* Churn around a steady live set: bounded with SM_RECYCLE, growing without it. Every block
   bumped is live or on a list, and a block of a size class is bumped only while that class's
   list is empty, so the blocks of a class never outnumber the live set. */
enum { LIVE = 32, CHURN = 20000 };
static const size_t churn_sizes[] = { 8, 24, 40, 72, 120, 200, 256 };

static size_t churn_bound(size_t chunk)
{
    size_t i, sum = 0;
    for (i = 0; i < NW(churn_sizes); i++)
        sum += usable(churn_sizes[i]);
    /* chunks double, so at most about half of what they hold is waste; plus the environment,
       the cursor and the first chunks */
    return 4 * LIVE * sum + 8 * chunk + 4096;
}

static size_t churn(unsigned flags, size_t *worst)
{
    tc_alloc c;
    sm_env *env;
    void *p[LIVE];
    size_t sz[LIVE], i, held;
    unsigned rng = 777u;
    tc_init(&c);
    env = make_env(&c, 1024, flags);
    *worst = 0;
    if (!env) {
        CHECK(env != NULL);
        return 0;
    }
    for (i = 0; i < LIVE; i++) {
        sz[i] = churn_sizes[i % NW(churn_sizes)];
        p[i] = sm_env_allocate(env, sz[i], NULL);
        CHECK(p[i] != NULL);
        if (p[i])
            tu_fill(p[i], sz[i], (unsigned)i);
    }
    for (i = 0; i < CHURN; i++) {
        unsigned k = tu_rand(&rng) % LIVE;
        size_t held_now;
        if (p[k]) {
            /* a block handed out twice would carry another slot's pattern */
            CHECK(tu_check(p[k], sz[k], k));
            CHECK_EQ_INT(sm_env_free(env, p[k]), SM_OK);
        }
        sz[k] = churn_sizes[tu_rand(&rng) % NW(churn_sizes)];
        p[k] = sm_env_allocate(env, sz[k], NULL);
        CHECK(p[k] != NULL);
        if (p[k])
            tu_fill(p[k], sz[k], k);
        held_now = tu_stats(env).backing_bytes;
        if (held_now > *worst)
            *worst = held_now;
    }
    held = tu_stats(env).backing_bytes;
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    return held;
}

TEST(recycle_bounded_churn)
{
    size_t worst, worst_plain, bound = churn_bound(1024);
    size_t held = churn(SM_RECYCLE, &worst);
    size_t held_plain = churn(0, &worst_plain);
    CHECK(worst <= bound);
    CHECK(held <= bound);
    CHECK(held_plain > 4 * bound);   /* without recycling the same churn keeps growing */
    /* and with the other flags alongside */
    (void)churn(SM_RECYCLE | SM_TRACK | SM_POISON, &worst);
    CHECK(worst <= bound);
}

/* A request whose exact class is empty takes a block a few classes larger, cut to size: the
   rest is a marked-free block of its own, on its list, refused as a double free and handed
   out to the next request of its size. */
TEST(recycle_cuts_larger_block)
{
    tc_alloc c;
    sm_env *env;
    unsigned char *a, *guard, *small, *rest;
    sm_stats s;
    sm_block_info info;
    size_t u = usable(1);   /* the smallest block that can wait on a list */
    tc_init(&c);
    env = make_env(&c, 4096, SM_RECYCLE);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 3 * u, NULL);
    guard = (unsigned char *)sm_env_allocate(env, 8, NULL);   /* a is not the last block */
    REQUIRE(a && guard);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    small = (unsigned char *)sm_env_allocate(env, u, NULL);
    CHECK(small == a);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.live_bytes, u + usable(8));
    CHECK_EQ_SIZE(s.freed_blocks, 1);
    CHECK_EQ_SIZE(s.freed_bytes, 2 * u);
    CHECK_EQ_INT(sm_env_describe(env, a + u, &info), SM_OK);
    CHECK_EQ_INT(info.live, 0);
    CHECK_EQ_SIZE(info.size, 2 * u);
    CHECK_EQ_INT(sm_env_free(env, a + u), SM_INVALID_ARG);   /* already marked free */
    rest = (unsigned char *)sm_env_allocate(env, 2 * u, NULL);
    CHECK(rest == a + u);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 3);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_INT(sm_env_free(env, small), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, rest), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Sizes of a class above the exact ones span a factor of two: a block too short for the first
   request of its class is passed over, not left in front of the others. Churn of 2 to 8 KiB
   blocks (in chunks large enough to hold them, not in chunks of their own) stays within a
   few times the live set. */
TEST(recycle_large_classes_bounded)
{
    enum { N = 48, ROUNDS = 20000 };
    tc_alloc c;
    sm_env *env;
    void *p[N];
    size_t sz[N], i, worst = 0;
    unsigned rng = 4242u;
    tc_init(&c);
    env = make_env(&c, 256 * 1024, SM_RECYCLE);
    REQUIRE(env != NULL);
    for (i = 0; i < N; i++) {
        sz[i] = 2048 + tu_rand(&rng) % 6144;
        p[i] = sm_env_allocate(env, sz[i], NULL);
        REQUIRE(p[i] != NULL);
        tu_fill(p[i], sz[i], (unsigned)i);
    }
    for (i = 0; i < ROUNDS; i++) {
        unsigned k = tu_rand(&rng) % N;
        size_t held;
        CHECK(tu_check(p[k], sz[k], k));
        CHECK_EQ_INT(sm_env_free(env, p[k]), SM_OK);
        sz[k] = 2048 + tu_rand(&rng) % 6144;
        p[k] = sm_env_allocate(env, sz[k], NULL);
        REQUIRE(p[k] != NULL);
        tu_fill(p[k], sz[k], k);
        held = tu_stats(env).backing_bytes;
        if (held > worst)
            worst = held;
    }
    /* the live set is at most N * 8 KiB, in chunks that double from 256 KiB: blocks piling up
       on a list took a third chunk (1.8 MiB in all) */
    CHECK(worst <= 2 * N * 8192 + 2 * 256 * 1024);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Exact figures while recycling: live blocks and bytes are those of the live set. */
TEST(recycle_stats_exact)
{
    enum { N = 24 };
    tc_alloc c;
    sm_env *env;
    void *p[N];
    size_t sz[N], i, k, live_bytes;
    unsigned rng = 99u;
    sm_stats s;
    tc_init(&c);
    env = make_env(&c, 2048, SM_RECYCLE);
    REQUIRE(env != NULL);
    memset(p, 0, sizeof p);
    for (i = 0; i < 3000; i++) {
        k = tu_rand(&rng) % N;
        if (p[k]) {
            CHECK_EQ_INT(sm_env_free(env, p[k]), SM_OK);
            p[k] = NULL;
        }
        if (tu_rand(&rng) % 3) {
            sz[k] = churn_sizes[tu_rand(&rng) % NW(churn_sizes)];
            p[k] = sm_env_allocate(env, sz[k], NULL);
            REQUIRE(p[k] != NULL);
        }
        if (i % 100 == 0 || i == 2999) {
            size_t live = 0;
            for (k = 0, live_bytes = 0; k < N; k++) {
                if (p[k]) {
                    live++;
                    live_bytes += usable(sz[k]);
                }
            }
            s = tu_stats(env);
            CHECK_EQ_SIZE(s.live_blocks, live);
            CHECK_EQ_SIZE(s.live_bytes, live_bytes);
        }
    }
    /* everything freed: nothing live; what waits on the lists counts as freed, whole granules */
    for (k = 0; k < N; k++)
        if (p[k])
            CHECK_EQ_INT(sm_env_free(env, p[k]), SM_OK);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 0);
    CHECK_EQ_SIZE(s.live_bytes, 0);
    CHECK(s.freed_blocks > 0);
    CHECK(s.freed_bytes >= s.freed_blocks * TC_GRAIN && s.freed_bytes % TC_GRAIN == 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* The blocks of the chunk the thread bumps: one with a block after it goes on a list, the last
   one moves the bump back (it leaves the figures), and neither a repeat nor an address inside
   a block is taken. */
TEST(recycle_own_chunk_frees)
{
    tc_alloc c;
    sm_env *env;
    unsigned char *a, *b, *d, *e;
    sm_stats s;
    tc_init(&c);
    env = make_env(&c, 4096, SM_RECYCLE);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate(env, 48, NULL);
    b = (unsigned char *)sm_env_allocate(env, 40, NULL);
    REQUIRE(a && b);
    CHECK_EQ_INT(sm_env_free(env, b), SM_OK);   /* the last block */
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 1);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_INT(sm_env_free(env, b), SM_INVALID_ARG);
    d = (unsigned char *)sm_env_allocate(env, 100, NULL);   /* no list has it: the bump */
    CHECK(d == b);
    REQUIRE(d != NULL);
    CHECK_EQ_INT(sm_env_free(env, a + TC_GRAIN), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(env, a + 1), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, a), SM_INVALID_ARG);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 1);
    CHECK_EQ_SIZE(s.live_bytes, usable(100));
    CHECK_EQ_SIZE(s.freed_blocks, 1);
    CHECK_EQ_SIZE(s.freed_bytes, usable(48));
    e = (unsigned char *)sm_env_allocate(env, 48, NULL);   /* a's size: a's block */
    CHECK(e == a);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* sm_free of blocks of a chunk the thread has moved on from, in an environment it enabled: the
   first finds the chunk in the page map, the second in the chunk the thread remembers; both go
   on the lists, and the next two allocations of their size take them back. */
TEST(recycle_sm_free_in_older_chunk)
{
    enum { N = 200 };
    tc_alloc c;
    sm_config cfg;
    void *p[N], *q, *r;
    size_t i;
    sm_stats s;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    cfg.flags = SM_RECYCLE;
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    for (i = 0; i < N; i++) {
        p[i] = sm_allocate(48, NULL);
        REQUIRE(p[i] != NULL);
    }
    REQUIRE(tu_stats(sm_current_env(NULL)).chunks > 1);   /* p[0] and p[1]: an older chunk */
    CHECK_EQ_INT(sm_free(p[0]), SM_OK);
    CHECK_EQ_INT(sm_free(p[1]), SM_OK);
    CHECK_EQ_INT(sm_free(p[1]), SM_INVALID_ARG);
    s = tu_stats(sm_current_env(NULL));
    CHECK_EQ_SIZE(s.freed_blocks, 2);
    q = sm_allocate(48, NULL);
    r = sm_allocate(48, NULL);
    CHECK((q == p[0] && r == p[1]) || (q == p[1] && r == p[0]));
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* SM_TRACK with SM_RECYCLE: a reused block has its new site and size in the report. */
TEST(recycle_track_report)
{
    tc_alloc c;
    sm_env *env;
    void *x, *y, *z, *w;
    tc_init(&c);
    env = make_env(&c, 4096, SM_RECYCLE | SM_TRACK);
    REQUIRE(env != NULL);
    x = sm_env_allocate_at(env, 40, NULL, "x.c", 1);
    y = sm_env_allocate_at(env, 40, NULL, "y.c", 1);
    REQUIRE(x && y);
    REQUIRE(sm_env_allocate_at(env, 1000, NULL, "k.c", 1) != NULL);
    REQUIRE(sm_env_allocate_at(env, 8, NULL, "k.c", 2) != NULL);
    CHECK_EQ_INT(sm_env_free(env, x), SM_OK);
    {
        const tu_site want[] = { { "k.c", 1, 1, 1000 }, { "k.c", 2, 1, 8 }, { "y.c", 1, 1, 40 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    z = sm_env_allocate_at(env, 40, NULL, "z.c", 1);
    CHECK(z == x);
    {
        const tu_site want[] = { { "k.c", 1, 1, 1000 }, { "k.c", 2, 1, 8 }, { "y.c", 1, 1, 40 },
                                 { "z.c", 1, 1, 40 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* reused for a smaller request of the same class: the size asked is reported */
    CHECK_EQ_INT(sm_env_free(env, y), SM_OK);
    w = sm_env_allocate(env, 35, NULL);
    CHECK(w == y);
    {
        const tu_site want[] = { { NULL, 0, 1, 35 }, { "k.c", 1, 1, 1000 }, { "k.c", 2, 1, 8 },
                                 { "z.c", 1, 1, 40 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

#ifndef SMALLOC_NO_THREADS

/* --- several threads ------------------------------------------------------------------------- */

/* A block carries its own description: size, then a pattern seeded by its address. */
typedef struct blk_head {
    size_t size;
    unsigned seed;
} blk_head;

static void blk_fill(void *p, size_t size, unsigned seed)
{
    blk_head h;
    h.size = size;
    h.seed = seed;
    memcpy(p, &h, sizeof h);
    tu_fill((unsigned char *)p + sizeof h, size - sizeof h, seed);
}

static int blk_ok(const void *p)
{
    blk_head h;
    memcpy(&h, p, sizeof h);
    return h.size >= sizeof h && h.size <= 4096 &&
           tu_check((const unsigned char *)p + sizeof h, h.size - sizeof h, h.seed);
}

enum { T_THREADS = 4, T_SLOTS = 64, T_ROUNDS = 20000 };

typedef struct mix_arg {
    sm_env *env;
    void **slots;             /* shared: blocks waiting for some thread to check and free */
    th_barrier *b;
    int id;
    int attached;             /* 1: sm_set_thread_handle and sm_allocate/sm_free */
    long bad, failed, allocated;
} mix_arg;

static void *mix_alloc(mix_arg *a, size_t n)
{
    return a->attached ? sm_allocate(n, NULL) : sm_env_allocate(a->env, n, NULL);
}

static sm_status mix_free(mix_arg *a, void *p)
{
    return a->attached ? sm_free(p) : sm_env_free(a->env, p);
}

static void mixer(void *arg)
{
    mix_arg *a = (mix_arg *)arg;
    unsigned rng = 1000u + (unsigned)a->id;
    int i;
    if (a->attached && sm_set_thread_handle(sm_env_handle(a->env)) != SM_OK)
        a->failed++;
    th_barrier_wait(a->b);
    for (i = 0; i < T_ROUNDS; i++) {
        size_t n = sizeof(blk_head) + tu_rand(&rng) % (i % 16 == 0 ? 2000 : 200);
        unsigned k = tu_rand(&rng) % T_SLOTS;
        void *p = mix_alloc(a, n), *old;
        if (!p) {
            a->failed++;
            continue;
        }
        a->allocated++;
        blk_fill(p, n, (unsigned)(uintptr_t)p ^ (unsigned)i);
        if (tu_rand(&rng) % 4 == 0) {
            /* freed at once by this thread (often the last block: rolled back) */
            if (!blk_ok(p))
                a->bad++;
            if (mix_free(a, p) != SM_OK)
                a->failed++;
            continue;
        }
        old = __atomic_exchange_n(&a->slots[k], p, __ATOMIC_ACQ_REL);
        if (old) {
            /* most likely another thread's block */
            if (!blk_ok(old))
                a->bad++;
            if (mix_free(a, old) != SM_OK)
                a->failed++;
        }
    }
    th_barrier_wait(a->b);
    if (a->attached)
        (void)sm_set_thread_handle(NULL);
}

/* Threads attached to one environment allocate, hand blocks to each other and free them;
   no block is ever handed out twice while live (the patterns would clash). */
static void mix_run(unsigned flags)
{
    tc_alloc c;
    mix_arg a[T_THREADS];
    th_thread t[T_THREADS];
    th_barrier b;
    void *slots[T_SLOTS];
    sm_env *env;
    sm_stats s;
    size_t i, in_slots = 0;
    long allocated = 0;
    tc_init(&c);
    env = make_env(&c, 1024, flags);
    REQUIRE(env != NULL);
    memset(slots, 0, sizeof slots);
    th_barrier_init(&b, T_THREADS);
    for (i = 0; i < T_THREADS; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].env = env;
        a[i].slots = slots;
        a[i].b = &b;
        a[i].id = (int)i;
        a[i].attached = (int)(i % 2);
        REQUIRE(th_thread_start(&t[i], mixer, &a[i]));
    }
    for (i = 0; i < T_THREADS; i++) {
        th_thread_join(&t[i]);
        CHECK_EQ_INT(a[i].bad, 0);
        CHECK_EQ_INT(a[i].failed, 0);
        allocated += a[i].allocated;
    }
    th_barrier_destroy(&b);
    for (i = 0; i < T_SLOTS; i++) {
        if (slots[i]) {
            CHECK(blk_ok(slots[i]));
            in_slots++;
        }
    }
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, in_slots);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    if (flags & SM_RECYCLE)   /* far less than the bytes allocated (about 200 KiB a thread) */
        CHECK(s.backing_bytes < (size_t)allocated * 40);
    for (i = 0; i < T_SLOTS; i++)
        if (slots[i])
            CHECK_EQ_INT(sm_env_free(env, slots[i]), SM_OK);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

TEST(recycle_threads)
{
    mix_run(SM_RECYCLE);
}

TEST(recycle_threads_all_flags)
{
    mix_run(SM_RECYCLE | SM_TRACK | SM_POISON);
}

/* A thread that never allocated in the environment has no cursor: the blocks it marks free go
   to the environment's lists, which an allocating thread uses before it takes a new chunk. */
typedef struct orphan_arg {
    sm_env *env;
    void **blocks;
    int n;
    int ok;
} orphan_arg;

static void free_without_cursor(void *arg)
{
    orphan_arg *a = (orphan_arg *)arg;
    int i;
    a->ok = 1;
    for (i = 0; i < a->n; i++)
        a->ok = a->ok && sm_env_free(a->env, a->blocks[i]) == SM_OK;
    for (i = 0; i < a->n; i++)   /* on a list: double frees */
        a->ok = a->ok && sm_env_free(a->env, a->blocks[i]) == SM_INVALID_ARG;
}

static void orphans(unsigned flags)
{
    enum { KEEP = 8, FREED = 4 };
    tc_alloc c;
    sm_env *env;
    void *keep[KEEP], *freed[FREED], *p;
    orphan_arg a;
    th_thread t;
    size_t chunks, i, reused = 0, n;
    sm_stats s;
    tc_init(&c);
    env = make_env(&c, 1024, flags);
    REQUIRE(env != NULL);
    for (i = 0; i < KEEP; i++) {
        keep[i] = sm_env_allocate_at(env, 48, NULL, "k.c", 1);
        REQUIRE(keep[i] != NULL);
        if (i % 2 == 0 && i / 2 < FREED)
            freed[i / 2] = keep[i];   /* none of them the last block */
    }
    a.env = env;
    a.blocks = freed;
    a.n = FREED;
    a.ok = 0;
    REQUIRE(th_thread_start(&t, free_without_cursor, &a));
    th_thread_join(&t);
    CHECK(a.ok);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.freed_blocks, FREED);
    CHECK_EQ_SIZE(s.live_blocks, KEEP - FREED);
    /* allocate until a new chunk comes: every orphan is handed out before that */
    chunks = s.chunks;
    for (n = 1; n < 1000; n++) {
        p = sm_env_allocate_at(env, 48, NULL, "o.c", 2);
        REQUIRE(p != NULL);
        for (i = 0; i < FREED; i++)
            reused += p == freed[i];
        if (tu_stats(env).chunks > chunks)
            break;
    }
    CHECK(n < 1000);
    CHECK_EQ_SIZE(reused, FREED);
    CHECK_EQ_SIZE(tu_stats(env).freed_blocks, 0);
    if (flags & SM_TRACK) {
        const tu_site want[] = { { "k.c", 1, KEEP - FREED, 48 * (KEEP - FREED) }, { "o.c", 2, n, 48 * n } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(recycle_orphans)
{
    orphans(SM_RECYCLE);
    orphans(SM_RECYCLE | SM_TRACK);
}

/* A producer allocates, a consumer thread marks free: churn like any other, which must stay
   bounded whether or not the consumer ever allocated in the environment itself. */
enum { PC_ROUNDS = 200, PC_BATCH = 50, PC_SIZE = 64 };

typedef struct pc_arg {
    sm_env *env;
    th_barrier *b;
    void **batch;
    int allocate_once;        /* 1: the consumer allocates a block first (it then has a cursor) */
    int ok;
} pc_arg;

static void consumer(void *arg)
{
    pc_arg *a = (pc_arg *)arg;
    int r, i;
    a->ok = 1;
    if (a->allocate_once)
        a->ok = sm_env_allocate(a->env, 16, NULL) != NULL;
    for (r = 0; r < PC_ROUNDS; r++) {
        th_barrier_wait(a->b);   /* a batch is ready */
        for (i = 0; i < PC_BATCH; i++)
            a->ok = a->ok && tu_check(a->batch[i], PC_SIZE, (unsigned)i) &&
                    sm_env_free(a->env, a->batch[i]) == SM_OK;
        th_barrier_wait(a->b);   /* freed */
    }
}

static void producer_consumer(int allocate_once)
{
    tc_alloc c;
    sm_env *env;
    void *batch[PC_BATCH];
    pc_arg a;
    th_thread t;
    th_barrier b;
    int r, i;
    size_t worst = 0, bound = 8 * PC_BATCH * usable(PC_SIZE) + 8 * 1024 + 4096;
    tc_init(&c);
    env = make_env(&c, 1024, SM_RECYCLE);
    REQUIRE(env != NULL);
    th_barrier_init(&b, 2);
    a.env = env;
    a.b = &b;
    a.batch = batch;
    a.allocate_once = allocate_once;
    a.ok = 0;
    REQUIRE(th_thread_start(&t, consumer, &a));
    for (r = 0; r < PC_ROUNDS; r++) {
        size_t held;
        for (i = 0; i < PC_BATCH; i++) {
            batch[i] = sm_env_allocate(env, PC_SIZE, NULL);
            if (batch[i])
                tu_fill(batch[i], PC_SIZE, (unsigned)i);
            else
                batch[i] = &a;   /* the consumer's check fails on it */
        }
        th_barrier_wait(&b);
        th_barrier_wait(&b);
        held = tu_stats(env).backing_bytes;
        if (held > worst)
            worst = held;
    }
    th_thread_join(&t);
    th_barrier_destroy(&b);
    CHECK(a.ok);
    /* PC_ROUNDS * PC_BATCH blocks of PC_SIZE went through; a few batches' worth may be held */
    if (worst > bound)
        th_check_num(__FILE__, __LINE__, "bytes held (got) within the bound (expected)",
                     (long long)worst, (long long)bound, 1);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(recycle_consumer_without_cursor)
{
    producer_consumer(0);
}

TEST(recycle_consumer_with_cursor)
{
    producer_consumer(1);
}

/* The first thread's direct path (sm__recycle_free) keeps to the lists' owners: the blocks it
   marks free in a chunk that another thread bumped and has moved on from go to that thread,
   whose next allocations of their size take them back. */
enum { OWNED_BLOCKS = 8 };

typedef struct owned_arg {
    sm_env *env;
    th_barrier *b;
    void *blocks[OWNED_BLOCKS];
    size_t reused;
    int ok;
} owned_arg;

static void bump_on_then_take_back(void *arg)
{
    owned_arg *a = (owned_arg *)arg;
    size_t chunks, i, n;
    a->ok = 1;
    for (i = 0; i < OWNED_BLOCKS; i++)
        a->ok = a->ok && (a->blocks[i] = sm_env_allocate(a->env, 48, NULL)) != NULL;
    chunks = tu_stats(a->env).chunks;
    for (n = 0; n < 1000 && tu_stats(a->env).chunks == chunks; n++)   /* the first chunk retires */
        a->ok = a->ok && sm_env_allocate(a->env, 48, NULL) != NULL;
    a->ok = a->ok && n < 1000;
    th_barrier_wait(a->b);
    th_barrier_wait(a->b);   /* the first thread has marked the blocks free */
    for (n = 0; n < OWNED_BLOCKS; n++) {
        void *p = sm_env_allocate(a->env, 48, NULL);
        for (i = 0; i < OWNED_BLOCKS; i++)
            a->reused += p == a->blocks[i];
    }
}

TEST(recycle_free_returns_to_owner)
{
    tc_alloc c;
    sm_env *env;
    owned_arg a;
    th_thread t;
    th_barrier b;
    size_t i;
    tc_init(&c);
    env = make_env(&c, 1024, SM_RECYCLE);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);   /* this thread holds the first cursor */
    th_barrier_init(&b, 2);
    memset(&a, 0, sizeof a);
    a.env = env;
    a.b = &b;
    REQUIRE(th_thread_start(&t, bump_on_then_take_back, &a));
    th_barrier_wait(&b);
    for (i = 0; i < OWNED_BLOCKS; i++)
        CHECK_EQ_INT(sm_env_free(env, a.blocks[i]), SM_OK);
    for (i = 0; i < OWNED_BLOCKS; i++)
        CHECK_EQ_INT(sm_env_free(env, a.blocks[i]), SM_INVALID_ARG);
    CHECK_EQ_SIZE(tu_stats(env).freed_blocks, OWNED_BLOCKS);
    th_barrier_wait(&b);
    th_thread_join(&t);
    th_barrier_destroy(&b);
    CHECK(a.ok);
    CHECK_EQ_SIZE(a.reused, OWNED_BLOCKS);
    CHECK_EQ_SIZE(tu_stats(env).freed_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

#endif /* SMALLOC_NO_THREADS */

/* A thread marks 50 blocks free and exits: the blocks on its lists are not lost with it. The
   environment's next allocations of that size, from a thread that was there all along, take
   them again. */
#ifndef SMALLOC_NO_THREADS
enum { EXITED_BLOCKS = 50 };
static void *exited_blocks[EXITED_BLOCKS];

static void allocate_free_exit(void *env)
{
    int i;
    for (i = 0; i < EXITED_BLOCKS; i++)
        exited_blocks[i] = sm_env_allocate((sm_env *)env, 64, NULL);
    for (i = 0; i < EXITED_BLOCKS; i++)
        CHECK_EQ_INT(sm_env_free((sm_env *)env, exited_blocks[i]), SM_OK);
}

TEST(recycle_lists_of_exited_thread)
{
    tc_alloc c;
    sm_env *env;
    th_thread t;
    size_t reused = 0, held;
    int i, k;
    tc_init(&c);
    env = make_env(&c, 65536, SM_RECYCLE);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate(env, 64, NULL) != NULL);   /* this thread's cursor and chunk */
    REQUIRE(th_thread_start(&t, allocate_free_exit, env));
    th_thread_join(&t);
    held = tu_stats(env).backing_bytes;
    for (i = 0; i < EXITED_BLOCKS; i++) {
        void *p = sm_env_allocate(env, 64, NULL);
        REQUIRE(p != NULL);
        for (k = 0; k < EXITED_BLOCKS; k++)
            reused += p == exited_blocks[k];
    }
    /* all but the last, which rolled back instead of going on a list */
    CHECK(reused >= EXITED_BLOCKS - 1);
    CHECK_EQ_SIZE(tu_stats(env).backing_bytes, held);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}
#endif

void suite_recycle(void)
{
#ifndef SMALLOC_NO_THREADS
    RUN(recycle_lists_of_exited_thread);
#endif
    RUN(recycle_same_size);
    RUN(recycle_single_chunk_given_back);
    RUN(recycle_reset_clears_lists);
    RUN(recycle_bounded_churn);
    RUN(recycle_large_classes_bounded);
    RUN(recycle_cuts_larger_block);
    RUN(recycle_stats_exact);
    RUN(recycle_own_chunk_frees);
    RUN(recycle_sm_free_in_older_chunk);
    RUN(recycle_track_report);
#ifndef SMALLOC_NO_THREADS
    RUN(recycle_threads);
    RUN(recycle_threads_all_flags);
    RUN(recycle_orphans);
    RUN(recycle_consumer_without_cursor);
    RUN(recycle_consumer_with_cursor);
    RUN(recycle_free_returns_to_owner);
#endif
}
