/* t_cache.c - the process-wide chunk cache: environments using malloc (config NULL) give their
   memory to it when they are destroyed or reset chunks go back, the next ones take from it, and
   sm_cache_trim(keep) gives it back to free down to keep bytes, returning how many it gave.
   Environments with their own backing allocator never use it, and it does not weaken the
   stale-handle guarantees. Each test starts by emptying the cache (earlier tests may have
   filled it when the suite runs in one process). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "suites.h"

enum { NBLK = 100, BLK = 1000 };

/* NBLK blocks of BLK bytes and one with a chunk of its own; returns the first block. */
static void *fill_env(sm_env *env)
{
    void *first = NULL;
    int i;
    for (i = 0; i < NBLK; i++) {
        void *p = sm_env_allocate(env, BLK, NULL);
        if (!p)
            return NULL;
        tu_fill(p, BLK, (unsigned)i);
        if (!first)
            first = p;
    }
    return sm_env_allocate(env, 100000, NULL) ? first : NULL;
}

TEST(cache_reuses_memory)
{
    sm_env *env;
    void *p1, *p2;
    size_t held, t1, t2;
    (void)sm_cache_trim(0);
    CHECK_EQ_SIZE(sm_cache_trim(0), 0);
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    p1 = fill_env(env);
    REQUIRE(p1 != NULL);
    held = tu_stats(env).backing_bytes;
    CHECK(held > NBLK * BLK + 100000);
    CHECK_EQ_SIZE(sm_cache_trim(0), 0);   /* nothing released yet */
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    /* everything went to the cache: keeping it all gives nothing back */
    CHECK_EQ_SIZE(sm_cache_trim(held), 0);
    CHECK_EQ_SIZE(sm_cache_trim(SIZE_MAX), 0);
    /* an identical environment takes it all back, and its blocks are where they were */
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    p2 = fill_env(env);
    REQUIRE(p2 != NULL);
    CHECK(p2 == p1);
    CHECK_EQ_SIZE(tu_stats(env).backing_bytes, held);
    CHECK_EQ_SIZE(sm_cache_trim(0), 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    /* trimming: down to keep bytes, the rest given back once */
    t1 = sm_cache_trim(held - 1);
    CHECK(t1 > 0);
    CHECK(t1 <= held);
    CHECK_EQ_SIZE(sm_cache_trim(held - 1), 0);
    t2 = sm_cache_trim(0);
    CHECK_EQ_SIZE(t1 + t2, held);
    CHECK_EQ_SIZE(sm_cache_trim(0), 0);
}

/* Reset keeps the normal chunks; the chunks of big blocks go to the cache. */
TEST(cache_reset_gives_single_chunks)
{
    sm_env *env;
    sm_stats before, after;
    (void)sm_cache_trim(0);
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    REQUIRE(sm_env_allocate(env, 100000, NULL) != NULL);
    REQUIRE(sm_env_allocate(env, 16, NULL) != NULL);
    before = tu_stats(env);
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    after = tu_stats(env);
    CHECK(before.backing_bytes - after.backing_bytes >= 100000);
    CHECK_EQ_SIZE(after.chunks, 1);
    CHECK_EQ_SIZE(sm_cache_trim(0), before.backing_bytes - after.backing_bytes);
    /* the same again: the big block's chunk comes from the cache, then goes back to it */
    REQUIRE(sm_env_allocate(env, 100000, NULL) != NULL);
    CHECK_EQ_SIZE(tu_stats(env).backing_bytes, before.backing_bytes);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(sm_cache_trim(0), before.backing_bytes);
}

/* A custom backing allocator gets every chunk back, and the cache is neither fed nor used. */
TEST(cache_not_for_custom_backing)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    size_t held;
    sm_stats s;
    (void)sm_cache_trim(0);
    /* something in the cache that a custom environment could take */
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    REQUIRE(fill_env(env) != NULL);
    held = tu_stats(env).backing_bytes;
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    REQUIRE(fill_env(env) != NULL);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    CHECK_EQ_SIZE(c.calls, c.live_blocks);   /* every piece from the backing allocator */
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK_EQ_SIZE(c.frees, 1);               /* the big block's chunk, at once */
    CHECK_EQ_SIZE(tu_stats(env).backing_bytes, c.live_bytes);
    REQUIRE(fill_env(env) != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.live_blocks, 0);
    CHECK_EQ_SIZE(c.frees, c.calls);
    CHECK_EQ_SIZE(c.bad_frees, 0);
    /* the cache still holds exactly what the first environment left */
    CHECK_EQ_SIZE(sm_cache_trim(0), held);
}

/* Handles stay exact when a new environment gets a destroyed one's memory. */
TEST(cache_stale_handles)
{
    sm_env *a, *b;
    sm_thread_handle ha, hb, h1, h2;
    sm_status st;
    void *pa, *pb;
    int i;
    (void)sm_cache_trim(0);
    a = sm_env_create(NULL, NULL);
    REQUIRE(a != NULL);
    ha = sm_env_handle(a);
    REQUIRE(sm_env_allocate(a, 64, NULL) != NULL);
    REQUIRE(sm_set_thread_handle(ha) == SM_OK);
    pa = sm_allocate(64, NULL);
    REQUIRE(pa != NULL);
    CHECK_EQ_INT(sm_env_destroy(a), SM_OK);
    b = sm_env_create(NULL, NULL);   /* most likely in a's memory */
    REQUIRE(b != NULL);
    hb = sm_env_handle(b);
    CHECK(hb != ha);
    /* this thread is still attached to a */
    st = SM_OK;
    CHECK(sm_allocate(8, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_free(pa), SM_INVALID_HANDLE);
    st = SM_OK;
    CHECK(sm_reallocate(pa, 64, 128, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    st = SM_OK;
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_disable_allocate(), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle(ha), SM_INVALID_HANDLE);
    st = SM_OK;
    CHECK(sm_allocate(8, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    /* b works, from this thread too, by value and attached */
    pb = sm_env_allocate(b, 64, NULL);
    REQUIRE(pb != NULL);
    tu_fill(pb, 64, 1);
    CHECK_EQ_SIZE(tu_stats(b).live_blocks, 1);
    CHECK_EQ_INT(sm_set_thread_handle(hb), SM_OK);
    CHECK(sm_allocate(8, NULL) != NULL);
    CHECK_EQ_SIZE(tu_stats(b).live_blocks, 2);
    CHECK_EQ_INT(sm_free(pb), SM_OK);
    CHECK_EQ_INT(sm_env_free(b, pb), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(b), SM_OK);
    /* many environments in the same memory, one after another: every old handle is stale */
    h1 = NULL;
    for (i = 0; i < 200; i++) {
        REQUIRE(sm_enable_allocate() == SM_OK);
        h2 = sm_get_thread_handle(NULL);
        CHECK(h2 != NULL && h2 != h1);
        CHECK(sm_allocate(100, NULL) != NULL);
        CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
        if (h1)
            CHECK_EQ_INT(sm_set_thread_handle(h1), SM_INVALID_HANDLE);
        CHECK_EQ_INT(sm_set_thread_handle(h2), SM_INVALID_HANDLE);
        h1 = h2;
    }
    CHECK(sm_get_thread_handle(NULL) == NULL);
    (void)sm_cache_trim(0);
}

#ifndef SMALLOC_CACHE_SIZE   /* the default, 64 MiB (a build may choose another) */
/* An environment of `blocks` blocks of `size` bytes, destroyed. */
static void release_env(size_t blocks, size_t size)
{
    sm_env *env = sm_env_create(NULL, NULL);
    size_t i;
    REQUIRE(env != NULL);
    for (i = 0; i < blocks; i++)
        REQUIRE(sm_env_allocate(env, size, NULL) != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* The cache keeps SMALLOC_CACHE_SIZE bytes, or all of a larger environment released lately,
   so that making it again is warm; after releases of smaller ones it falls back to the 64 MiB.
   sm_cache_limit bounds it. */
TEST(cache_follows_large_environment)
{
    const size_t big = (size_t)20 << 20, base = (size_t)64 << 20;
    size_t kept;
    int i;
    (void)sm_cache_trim(0);
    release_env(5, big);
    release_env(5, big);   /* made again from the cache */
    kept = sm_cache_trim(0);
    CHECK(kept >= 5 * big);
    /* a larger one again, then smaller ones */
    release_env(5, big);
    for (i = 0; i < 30; i++)
        release_env(1, (size_t)1 << 20);
    kept = sm_cache_trim(0);
    CHECK(kept <= base);
    CHECK(kept >= base / 2);
    /* a limit at run time */
    CHECK_EQ_SIZE(sm_cache_limit((size_t)8 << 20), (size_t)-1);
    release_env(5, big);
    kept = sm_cache_trim(0);
    CHECK(kept <= (size_t)8 << 20);
    CHECK_EQ_SIZE(sm_cache_limit(0), (size_t)8 << 20);
    release_env(3, 100000);
    release_env(5, big);
    CHECK_EQ_SIZE(sm_cache_trim(0), 0);
    CHECK_EQ_SIZE(sm_cache_limit((size_t)-1), 0);
}
#endif

#ifndef SMALLOC_NO_THREADS
typedef struct churn_arg {
    int id;
    int bad;
} churn_arg;

static void env_churn(void *arg)
{
    churn_arg *a = (churn_arg *)arg;
    int i, k;
    for (i = 0; i < 300; i++) {
        sm_env *env = sm_env_create(NULL, NULL);
        void *p[8];
        if (!env) {
            a->bad++;
            continue;
        }
        for (k = 0; k < 8; k++) {
            size_t n = k == 7 ? 20000 + (size_t)i : 100 + (size_t)(k * 300);
            p[k] = sm_env_allocate(env, n, NULL);
            if (!p[k]) {
                a->bad++;
                break;
            }
            tu_fill(p[k], n, (unsigned)(a->id * 1000 + k));
        }
        for (k = 0; k < 8 && p[k]; k++) {
            size_t n = k == 7 ? 20000 + (size_t)i : 100 + (size_t)(k * 300);
            a->bad += !tu_check(p[k], n, (unsigned)(a->id * 1000 + k));
        }
        if (i % 3 == 0)
            a->bad += sm_env_reset(env) != SM_OK;
        a->bad += sm_env_destroy(env) != SM_OK;
        if (i % 50 == 0)
            (void)sm_cache_trim(i % 100 ? 0 : 100000);
    }
}

/* Threads creating and destroying environments share the cache without clashes. */
TEST(cache_threads)
{
    enum { T = 4 };
    churn_arg a[T];
    th_thread t[T];
    int i;
    (void)sm_cache_trim(0);
    for (i = 0; i < T; i++) {
        a[i].id = i;
        a[i].bad = 0;
        REQUIRE(th_thread_start(&t[i], env_churn, &a[i]));
    }
    for (i = 0; i < T; i++) {
        th_thread_join(&t[i]);
        CHECK_EQ_INT(a[i].bad, 0);
    }
    (void)sm_cache_trim(0);
    CHECK_EQ_SIZE(sm_cache_trim(0), 0);
}

/* Two threads, each with an environment whose one chunk (1 MiB, more than a thread keeps) goes
   to the cache at destroy, the second thread's last: each thread's next environment gets its
   own chunk back, whose lines its processor may still hold, not the one put last. */
typedef struct affinity_arg {
    th_barrier *step;
    void *first, *again;   /* the first block of its environment, then of the next one */
    int bad;
} affinity_arg;

static sm_env *affinity_env(void **first)
{
    sm_config cfg;
    sm_env *env;
    memset(&cfg, 0, sizeof cfg);
    cfg.chunk_size = (size_t)1 << 20;
    env = sm_env_create(&cfg, NULL);
    *first = env ? sm_env_allocate(env, 64, NULL) : NULL;
    return env;
}

static void affinity_second(void *arg)
{
    affinity_arg *a = (affinity_arg *)arg;
    sm_env *env = affinity_env(&a->first);
    a->bad += !env || !a->first;
    th_barrier_wait(a->step);          /* both hold their chunk */
    th_barrier_wait(a->step);          /* the first thread's went to the cache */
    a->bad += sm_env_destroy(env) != SM_OK;
    th_barrier_wait(a->step);          /* this one's went after it */
    th_barrier_wait(a->step);          /* the first thread took one */
    env = affinity_env(&a->again);
    a->bad += !env || !a->again;
    th_barrier_wait(a->step);
    a->bad += env && sm_env_destroy(env) != SM_OK;
}

TEST(cache_chunk_returns_to_its_thread)
{
    th_barrier step;
    th_thread t;
    affinity_arg a;
    void *first = NULL, *again = NULL;
    sm_env *env;
    (void)sm_cache_trim(0);
    th_barrier_init(&step, 2);
    a.step = &step;
    a.first = a.again = NULL;
    a.bad = 0;
    REQUIRE(th_thread_start(&t, affinity_second, &a));
    env = affinity_env(&first);
    CHECK(env != NULL && first != NULL);
    th_barrier_wait(&step);
    CHECK(env && sm_env_destroy(env) == SM_OK);
    th_barrier_wait(&step);
    th_barrier_wait(&step);
    env = affinity_env(&again);
    CHECK(env != NULL && again != NULL);
    th_barrier_wait(&step);
    th_barrier_wait(&step);
    th_thread_join(&t);
    th_barrier_destroy(&step);
    CHECK_EQ_INT(a.bad, 0);
    CHECK(first != a.first);
    CHECK(again == first);     /* its own chunk, though the other thread's went to the cache last */
    CHECK(a.again == a.first);
    CHECK(env && sm_env_destroy(env) == SM_OK);
    (void)sm_cache_trim(0);
}
#endif

/* A large block of a destroyed environment is no block of the one created next, which reuses
   the first one's memory (the API fuzzer found it still live there). */
TEST(parked_single_chunk_is_no_block)
{
    sm_block_info info;
    sm_env *env = sm_env_create(NULL, NULL);
    void *big, *again;
    REQUIRE(env != NULL);
    big = sm_env_allocate(env, 4096, NULL);   /* a chunk of its own */
    REQUIRE(big != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(sm_env_free(env, big), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_describe(env, big, &info), SM_INVALID_ARG);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    again = sm_env_allocate(env, 4000, NULL);   /* may reuse that chunk, and is then live */
    REQUIRE(again != NULL);
    CHECK_EQ_INT(sm_env_describe(env, again, &info), SM_OK);
    CHECK(info.live == 1 && info.start == again);
    CHECK_EQ_INT(sm_env_free(env, again), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, again), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* A destroyed environment waits in the thread's cache with at most 256 KiB of its chunks, the
   chunk its first thread was bumping included: one that had grown a large chunk does not hand
   it to the next environment created (which held 1 MiB from the start). */
TEST(parked_environment_keeps_no_large_chunk)
{
    sm_config cfg;
    sm_env *env;
    memset(&cfg, 0, sizeof cfg);
    cfg.chunk_size = (size_t)1 << 20;
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate(env, 64, NULL) != NULL);
    CHECK(tu_stats(env).backing_bytes >= cfg.chunk_size);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    CHECK(tu_stats(env).backing_bytes <= ((size_t)256 << 10) + 65536);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* An environment whose blocks fit its first chunk (the common small request) is released by a
   shorter path than one with several chunks or cleanups: the next one is the same memory,
   empty, with a new handle, and a cleanup still sends the release down the general path. */
static void count_cleanup(void *data) { ++*(int *)data; }

TEST(small_environment_released_whole)
{
    sm_env *a, *b;
    sm_thread_handle ha;
    unsigned char *p, *q;
    sm_stats s;
    int ran = 0, i;
    a = sm_env_create(NULL, NULL);
    REQUIRE(a != NULL);
    ha = sm_env_handle(a);
    p = (unsigned char *)sm_env_allocate(a, 40, NULL);
    REQUIRE(p != NULL);
    for (i = 0; i < 20; i++)
        REQUIRE(sm_env_allocate(a, 100, NULL) != NULL);
    REQUIRE(sm_env_free(a, p) == SM_OK);
    CHECK_EQ_INT(sm_env_destroy(a), SM_OK);
    b = sm_env_create(NULL, NULL);
    REQUIRE(b != NULL);
    CHECK(b == a);
    CHECK(sm_env_handle(b) != ha);
    CHECK_EQ_INT(sm_set_thread_handle(ha), SM_INVALID_HANDLE);
    s = tu_stats(b);
    CHECK_EQ_SIZE(s.live_blocks + s.freed_blocks, 0);
    CHECK_EQ_SIZE(s.chunks, 1);
    q = (unsigned char *)sm_env_allocate(b, 40, NULL);
    CHECK(q == p);   /* its chunk, emptied */
    s = tu_stats(b);
    CHECK_EQ_SIZE(s.live_blocks, 1);
    CHECK_EQ_SIZE(s.freed_blocks, 0);
    CHECK_EQ_INT(sm_env_free(b, q), SM_OK);
    REQUIRE(sm_env_add_cleanup(b, count_cleanup, &ran) == SM_OK);
    CHECK_EQ_INT(sm_env_destroy(b), SM_OK);
    CHECK_EQ_INT(ran, 1);
}

void suite_cache(void)
{
    RUN(parked_single_chunk_is_no_block);
    RUN(parked_environment_keeps_no_large_chunk);
    RUN(small_environment_released_whole);
    RUN(cache_reuses_memory);
    RUN(cache_reset_gives_single_chunks);
    RUN(cache_not_for_custom_backing);
    RUN(cache_stale_handles);
#ifndef SMALLOC_CACHE_SIZE
    RUN(cache_follows_large_environment);
#endif
#ifndef SMALLOC_NO_THREADS
    RUN(cache_threads);
    RUN(cache_chunk_returns_to_its_thread);
#endif
}
