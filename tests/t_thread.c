/* t_thread.c - the calling thread's environment (enable/disable), thread handles, thread exit,
   several threads sharing one environment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "suites.h"

/* Enable, allocate n in {0, 1, 7, 8, 4096, > chunk}, Disable: non-NULL, distinct, aligned,
   writable, and every byte goes back to the backing allocator. */
TEST(enable_allocate_disable)
{
    static const size_t sizes[] = { 0, 1, 7, 8, 4096, 5000, 40000 };
    enum { NS = sizeof sizes / sizeof sizes[0], ROUNDS = 30 };
    tu_range r[NS * ROUNDS];
    void *p[NS * ROUNDS];
    size_t n = 0, i, k;
    tc_alloc c;
    sm_config cfg;
    sm_status st;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    CHECK(c.calls >= 1);
    for (k = 0; k < ROUNDS; k++) {
        for (i = 0; i < NS; i++) {
            st = SM_INVALID_HANDLE;
            p[n] = k % 3 == 2 ? sm_allocate_aligned(sizes[i], 64, &st) : sm_allocate(sizes[i], &st);
            REQUIRE(p[n] != NULL);
            CHECK_EQ_INT(st, SM_OK);
            CHECK_EQ_SIZE((uintptr_t)p[n] % TC_MAX_ALIGN, 0);
            if (k % 3 == 2)
                CHECK_EQ_SIZE((uintptr_t)p[n] % 64, 0);
            tu_fill(p[n], sizes[i], (unsigned)n);
            r[n].start = (uintptr_t)p[n];
            r[n].size = sizes[i];
            n++;
        }
    }
    for (i = 0; i < n; i++)
        CHECK(tu_check(p[i], r[i].size, (unsigned)i));
    CHECK(tu_no_overlap(r, n));
    CHECK_EQ_INT(sm_free(p[3]), SM_OK);
    CHECK_EQ_INT(sm_free(p[3]), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.live_blocks, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(st, SM_OK);
}

/* Every thread-implicit allocation returns NULL with status want (and works without status). */
static void check_allocate_refused(sm_status want)
{
    sm_status st = SM_OK;
    CHECK(sm_allocate(8, &st) == NULL);
    CHECK_EQ_INT(st, want);
    st = SM_OK;
    CHECK(sm_allocate(0, &st) == NULL);
    CHECK_EQ_INT(st, want);
    st = SM_OK;
    CHECK(sm_allocate_aligned(8, 64, &st) == NULL);
    CHECK_EQ_INT(st, want);
    st = SM_OK;
    CHECK(sm_allocate_at(8, &st, __FILE__, __LINE__) == NULL);
    CHECK_EQ_INT(st, want);
    st = SM_OK;
    CHECK(SM_ALLOCATE(8, &st) == NULL);
    CHECK_EQ_INT(st, want);
    CHECK(sm_allocate(8, NULL) == NULL);
}

TEST(no_environment)
{
    sm_status st = SM_OK;
    int x;
    check_allocate_refused(SM_NO_ENVIRONMENT);
    CHECK_EQ_INT(sm_free(&x), SM_NO_ENVIRONMENT);
    CHECK_EQ_INT(sm_free(NULL), SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_NO_ENVIRONMENT);
    st = SM_INVALID_ARG;
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(sm_get_thread_handle(NULL) == NULL);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    CHECK(sm_get_thread_handle(&st) == NULL);
    /* and a working enable afterwards */
    REQUIRE(sm_enable_allocate() == SM_OK);
    CHECK(sm_allocate(8, &st) != NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK(sm_allocate(8, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
}

/* Enable twice: the second Disable restores the first; nothing leaks, at any depth. */
TEST(enable_nesting)
{
    enum { DEPTH = 12 };
    tc_alloc c[DEPTH];
    sm_config cfg;
    sm_thread_handle h[DEPTH];
    unsigned char *p[DEPTH];
    sm_status st;
    int i;
    for (i = 0; i < DEPTH; i++) {
        tc_init(&c[i]);
        cfg = tc_config(&c[i], 1024);
        REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
        h[i] = sm_get_thread_handle(&st);
        CHECK(h[i] != NULL);
        CHECK_EQ_INT(st, SM_OK);
        if (i > 0)
            CHECK(h[i] != h[i - 1]);
        p[i] = (unsigned char *)sm_allocate(100 + (size_t)i * 1000, NULL);
        REQUIRE(p[i] != NULL);
        memset(p[i], i, 100);
        CHECK(c[i].live_blocks >= 2);   /* the environment and a chunk */
    }
    for (i = DEPTH - 1; i >= 0; i--) {
        CHECK(sm_get_thread_handle(&st) == h[i]);
        CHECK(p[i][0] == (unsigned char)i && p[i][99] == (unsigned char)i);
        /* a block of the one below is not this environment's */
        if (i > 0)
            CHECK_EQ_INT(sm_free(p[i - 1]), SM_INVALID_ARG);
        CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
        CHECK_EQ_SIZE(c[i].live_bytes, 0);
        CHECK_EQ_SIZE(c[i].bad_frees, 0);
        if (i > 0) {
            CHECK(sm_get_thread_handle(&st) == h[i - 1]);
            CHECK_EQ_INT(st, SM_OK);
            CHECK_EQ_SIZE(c[i - 1].live_blocks, 2);   /* untouched: environment (with its cursor), chunk */
        }
    }
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_NO_ENVIRONMENT);
}

/* Save/restore: h = Get; Set(other); Set(h) keeps ownership, and the owner's Disable frees. */
TEST(save_restore_keeps_ownership)
{
    tc_alloc ca, co;
    sm_config cfg;
    sm_env *other;
    sm_thread_handle h;
    sm_status st;
    void *p;
    tc_init(&ca);
    tc_init(&co);
    cfg = tc_config(&ca, 0);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    REQUIRE(sm_allocate(100, NULL) != NULL);
    cfg = tc_config(&co, 0);
    other = sm_env_create(&cfg, NULL);
    REQUIRE(other != NULL);
    h = sm_get_thread_handle(&st);
    REQUIRE(h != NULL);
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(other)), SM_OK);
    p = sm_allocate(50, NULL);
    CHECK(p != NULL);
    CHECK_EQ_SIZE(tu_stats(other).live_blocks, 1);
    CHECK_EQ_INT(sm_disable_allocate(), SM_INVALID_ARG);   /* not ours */
    CHECK_EQ_INT(sm_set_thread_handle(h), SM_OK);
    CHECK(sm_get_thread_handle(&st) == h);
    CHECK_EQ_INT(sm_free(p), SM_INVALID_ARG);   /* other's block, not h's */
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(ca.live_bytes, 0);
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(sm_set_thread_handle(h), SM_INVALID_HANDLE);
    CHECK_EQ_SIZE(tu_stats(other).live_blocks, 1);
    CHECK_EQ_INT(sm_env_destroy(other), SM_OK);
    CHECK_EQ_SIZE(co.live_bytes, 0);
}

/* SetThreadHandle(NULL) detaches, even the owner; its environment lives on and can be
   attached again, and the owner's Disable then works. */
TEST(set_null_detaches)
{
    tc_alloc c;
    sm_config cfg;
    sm_thread_handle h;
    sm_status st;
    void *p;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    h = sm_get_thread_handle(NULL);
    p = sm_allocate(40, NULL);
    REQUIRE(h != NULL && p != NULL);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    st = SM_OK;
    CHECK(sm_allocate(8, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    CHECK_EQ_INT(sm_free(p), SM_NO_ENVIRONMENT);
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_NO_ENVIRONMENT);
    CHECK(c.live_blocks >= 2);   /* nothing was destroyed */
    CHECK_EQ_INT(sm_set_thread_handle(h), SM_OK);
    CHECK_EQ_INT(sm_free(p), SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* An environment destroyed while this thread is attached: every call but Set says so. */
TEST(destroyed_while_attached)
{
    sm_env *env = sm_env_create(NULL, NULL);
    sm_thread_handle h;
    sm_status st;
    void *p;
    REQUIRE(env != NULL);
    h = sm_env_handle(env);
    REQUIRE(sm_set_thread_handle(h) == SM_OK);
    p = sm_allocate(10, NULL);
    REQUIRE(p != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    check_allocate_refused(SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_free(p), SM_INVALID_HANDLE);
    st = SM_OK;
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_disable_allocate(), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle(h), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    st = SM_INVALID_ARG;
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(sm_allocate(10, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
}

/* Handles that never were: SM_INVALID_HANDLE, nothing changes. */
TEST(unknown_handles)
{
    int local;
    sm_thread_handle h;
    sm_status st;
    REQUIRE(sm_enable_allocate() == SM_OK);
    h = sm_get_thread_handle(NULL);
    CHECK_EQ_INT(sm_set_thread_handle((sm_thread_handle)(uintptr_t)1), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle((sm_thread_handle)(uintptr_t)-1), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle((sm_thread_handle)(uintptr_t)&local), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle((sm_thread_handle)((uintptr_t)h + 1)), SM_INVALID_HANDLE);
    CHECK(sm_get_thread_handle(&st) == h);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(sm_allocate(8, NULL) != NULL);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
}

/* A backing allocator with one block of memory: every environment it serves lies at the same
   address, so a stale handle meets its old environment's memory reused. */
static union { long double ld; void *p; unsigned char b[4096]; } pool;
static int pool_used;
static void *pool_alloc(void *context, size_t size, const char *file, int line)
{
    (void)context; (void)file; (void)line;
    if (pool_used || size > sizeof pool)
        return NULL;
    pool_used = 1;
    return pool.b;
}
static void pool_free(void *context, void *ptr, size_t size)
{
    (void)context; (void)size;
    if (ptr == (void *)pool.b)
        pool_used = 0;
}

TEST(stale_handle_after_reuse)
{
    sm_config cfg;
    sm_env *old, *e;
    sm_thread_handle stale, cur;
    sm_status st;
    long i, same = 0, failures = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.alloc = pool_alloc;
    cfg.free = pool_free;
    REQUIRE(sm_enable_allocate() == SM_OK);
    cur = sm_get_thread_handle(NULL);
    old = sm_env_create(&cfg, NULL);
    REQUIRE(old != NULL);
    stale = sm_env_handle(old);
    CHECK_EQ_INT(sm_env_destroy(old), SM_OK);
    for (i = 0; i < 100000; i++) {
        e = sm_env_create(&cfg, NULL);
        if (!e) {
            failures++;
            continue;
        }
        same += e == old;
        if (sm_env_handle(e) == stale)
            failures++;
        CHECK_EQ_INT(sm_env_destroy(e), SM_OK);
    }
    CHECK_EQ_INT(failures, 0);
    CHECK_EQ_INT(same, 100000);
    CHECK_EQ_INT(sm_set_thread_handle(stale), SM_INVALID_HANDLE);
    CHECK(sm_get_thread_handle(&st) == cur);
    CHECK_EQ_INT(st, SM_OK);
    /* also while a live environment occupies the old one's memory */
    e = sm_env_create(&cfg, NULL);
    REQUIRE(e == old);
    CHECK_EQ_INT(sm_set_thread_handle(stale), SM_INVALID_HANDLE);
    CHECK(sm_get_thread_handle(&st) == cur);
    CHECK(sm_env_handle(e) != stale);
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(e)), SM_OK);
    st = SM_OK;
    CHECK(sm_allocate(8, &st) == NULL);   /* attached: the pool has no room left, so no memory */
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    CHECK_EQ_INT(sm_set_thread_handle(cur), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(e), SM_OK);
    CHECK(sm_allocate(8, &st) != NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_INT(pool_used, 0);
}

#ifndef SMALLOC_NO_THREADS

/* --- a helper thread that attaches to a handle, allocates, and reports ------------------- */

typedef struct attach_arg {
    sm_thread_handle h;
    void *block;
    sm_status set_st, alloc_st, disable_st, get_st;
    sm_thread_handle got;
} attach_arg;

static void attach_and_allocate(void *p)
{
    attach_arg *a = (attach_arg *)p;
    a->set_st = sm_set_thread_handle(a->h);
    a->got = sm_get_thread_handle(&a->get_st);
    a->block = sm_allocate(64, &a->alloc_st);
    if (a->block)
        memset(a->block, 0x5a, 64);
    a->disable_st = sm_disable_allocate();   /* not the owner */
}

/* SetThreadHandle(h) in another thread attaches it; a non-owner's Disable is refused. */
TEST(set_in_other_thread)
{
    tc_alloc c;
    sm_config cfg;
    attach_arg a;
    th_thread t;
    sm_thread_handle h;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    h = sm_get_thread_handle(NULL);
    memset(&a, 0, sizeof a);
    a.h = h;
    REQUIRE(th_thread_start(&t, attach_and_allocate, &a));
    th_thread_join(&t);
    CHECK_EQ_INT(a.set_st, SM_OK);
    CHECK(a.got == h);
    CHECK_EQ_INT(a.get_st, SM_OK);
    CHECK(a.block != NULL);
    CHECK_EQ_INT(a.alloc_st, SM_OK);
    CHECK_EQ_INT(a.disable_st, SM_INVALID_ARG);
    /* the helper exited while attached: the environment and its block live on */
    CHECK(sm_get_thread_handle(NULL) == h);
    REQUIRE(a.block != NULL);
    CHECK(((unsigned char *)a.block)[63] == 0x5a);
    CHECK(sm_allocate(10, NULL) != NULL);
    CHECK_EQ_INT(sm_free(a.block), SM_OK);
    CHECK_EQ_INT(sm_free(a.block), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Helpers attached through sm_env_handle allocate in the environment: its figures show it. */
TEST(helper_blocks_in_stats)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    attach_arg a[3];
    th_thread t[3];
    int i;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    for (i = 0; i < 3; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].h = sm_env_handle(env);
        REQUIRE(th_thread_start(&t[i], attach_and_allocate, &a[i]));
        th_thread_join(&t[i]);
        CHECK(a[i].block != NULL);
        CHECK_EQ_INT(a[i].disable_st, SM_INVALID_ARG);
    }
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 3);
    CHECK_EQ_SIZE(tu_stats(env).live_bytes, 3 * TC_ROUND(64));
    CHECK_EQ_SIZE(tu_stats(env).backing_bytes, c.live_bytes);
    for (i = 0; i < 3; i++)
        CHECK_EQ_INT(sm_env_free(env, a[i].block), SM_OK);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* --- thread exit --------------------------------------------------------------------------- */

typedef struct exit_arg {
    tc_alloc *c1, *c2;
    th_barrier *b;
    sm_thread_handle h;
    sm_env *attach_to;
    int ok;
} exit_arg;

static void enable_and_exit(void *p)
{
    exit_arg *a = (exit_arg *)p;
    sm_config cfg = tc_config(a->c1, 1024);
    int i;
    a->ok = sm_enable_allocate_with(&cfg) == SM_OK;
    for (i = 0; i < 50 && a->ok; i++)
        a->ok = sm_allocate((size_t)i * 37, NULL) != NULL;
    a->h = sm_get_thread_handle(NULL);
    cfg = tc_config(a->c2, 1024);
    a->ok = a->ok && sm_enable_allocate_with(&cfg) == SM_OK;
    for (i = 0; i < 50 && a->ok; i++)
        a->ok = sm_allocate((size_t)i * 1000, NULL) != NULL;
    if (a->attach_to)   /* owning without being attached still owns */
        a->ok = a->ok && sm_set_thread_handle(sm_env_handle(a->attach_to)) == SM_OK &&
                sm_allocate(10, NULL) != NULL;
    if (a->b) {
        th_barrier_wait(a->b);   /* the main thread attaches to h */
        th_barrier_wait(a->b);
    }
}

/* A thread that exits still owning environments has them destroyed. */
TEST(thread_exit_destroys_owned)
{
    tc_alloc c1, c2, c3;
    sm_config cfg;
    exit_arg a;
    th_thread t;
    th_barrier b;
    sm_env *other;
    sm_status st;
    tc_init(&c1);
    tc_init(&c2);
    tc_init(&c3);
    cfg = tc_config(&c3, 0);
    other = sm_env_create(&cfg, NULL);
    REQUIRE(other != NULL);
    th_barrier_init(&b, 2);
    memset(&a, 0, sizeof a);
    a.c1 = &c1;
    a.c2 = &c2;
    a.b = &b;
    a.attach_to = other;
    REQUIRE(th_thread_start(&t, enable_and_exit, &a));
    th_barrier_wait(&b);
    CHECK(a.ok);
    CHECK(c1.live_bytes > 0 && c2.live_bytes > 0);
    CHECK_EQ_INT(sm_set_thread_handle(a.h), SM_OK);   /* attach to the thread's first one */
    CHECK(sm_allocate(16, NULL) != NULL);
    th_barrier_wait(&b);
    th_thread_join(&t);
    CHECK_EQ_SIZE(c1.live_bytes, 0);
    CHECK_EQ_SIZE(c1.live_blocks, 0);
    CHECK_EQ_SIZE(c2.live_bytes, 0);
    CHECK_EQ_SIZE(c2.live_blocks, 0);
    CHECK_EQ_SIZE(c1.bad_frees + c2.bad_frees, 0);
    /* the main thread was attached to one of them */
    CHECK(sm_allocate(16, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    /* the environment it was merely attached to lives on */
    CHECK_EQ_SIZE(tu_stats(other).live_blocks, 1);
    CHECK_EQ_INT(sm_env_destroy(other), SM_OK);
    CHECK_EQ_SIZE(c3.live_bytes, 0);
    th_barrier_destroy(&b);
    /* many threads in turn, none disabling */
    {
        int i;
        for (i = 0; i < 20; i++) {
            tc_init(&c1);
            tc_init(&c2);
            memset(&a, 0, sizeof a);
            a.c1 = &c1;
            a.c2 = &c2;
            REQUIRE(th_thread_start(&t, enable_and_exit, &a));
            th_thread_join(&t);
            CHECK(a.ok);
            CHECK_EQ_SIZE(c1.live_bytes + c2.live_bytes, 0);
        }
    }
}

/* --- the owner's Disable while helpers are attached ---------------------------------------- */

enum { HELPERS = 3 };

typedef struct helper_arg {
    int id;
    th_barrier *b;
    sm_thread_handle h, live;
    void *blocks[100];
} helper_arg;

static void helper_outlives(void *p)
{
    helper_arg *a = (helper_arg *)p;
    sm_status st;
    int i;
    CHECK_EQ_INT(sm_set_thread_handle(a->h), SM_OK);
    for (i = 0; i < 100; i++) {
        a->blocks[i] = sm_allocate(32 + (size_t)i, &st);
        CHECK(a->blocks[i] != NULL);
        CHECK_EQ_INT(st, SM_OK);
        if (a->blocks[i])
            memset(a->blocks[i], a->id, 32);
    }
    CHECK_EQ_INT(sm_free(a->blocks[50]), SM_OK);
    th_barrier_wait(a->b);   /* 1: done allocating */
    th_barrier_wait(a->b);   /* 2: the owner has disabled */
    st = SM_OK;
    CHECK(sm_allocate(8, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    st = SM_OK;
    CHECK(sm_allocate_aligned(8, 64, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_free(a->blocks[0]), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_free(a->blocks[99]), SM_INVALID_HANDLE);
    st = SM_OK;
    CHECK(sm_get_thread_handle(&st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_disable_allocate(), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle(a->h), SM_INVALID_HANDLE);
    /* still attached to the destroyed one after the refused Set */
    st = SM_OK;
    CHECK(sm_allocate(8, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    if (a->id == 0) {
        CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
        st = SM_INVALID_ARG;
        CHECK(sm_get_thread_handle(&st) == NULL);
        CHECK_EQ_INT(st, SM_OK);
        CHECK(sm_allocate(8, &st) == NULL);
        CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    } else {
        void *q;
        CHECK_EQ_INT(sm_set_thread_handle(a->live), SM_OK);
        CHECK(sm_get_thread_handle(&st) == a->live);
        CHECK_EQ_INT(st, SM_OK);
        q = sm_allocate(8, &st);
        CHECK(q != NULL);
        CHECK_EQ_INT(st, SM_OK);
        CHECK_EQ_INT(sm_free(q), SM_OK);
        CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    }
}

TEST(owner_disable_while_attached)
{
    tc_alloc c, cl;
    sm_config cfg;
    sm_env *live;
    helper_arg a[HELPERS];
    th_thread t[HELPERS];
    th_barrier b;
    sm_thread_handle h;
    int i;
    tc_init(&c);
    tc_init(&cl);
    cfg = tc_config(&cl, 0);
    live = sm_env_create(&cfg, NULL);
    REQUIRE(live != NULL);
    cfg = tc_config(&c, 1024);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    h = sm_get_thread_handle(NULL);
    th_barrier_init(&b, HELPERS + 1);
    for (i = 0; i < HELPERS; i++) {
        a[i].id = i;
        a[i].b = &b;
        a[i].h = h;
        a[i].live = sm_env_handle(live);
        REQUIRE(th_thread_start(&t[i], helper_outlives, &a[i]));
    }
    th_barrier_wait(&b);
    CHECK(c.live_blocks >= 2 + HELPERS);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.live_blocks, 0);
    th_barrier_wait(&b);
    for (i = 0; i < HELPERS; i++)
        th_thread_join(&t[i]);
    th_barrier_destroy(&b);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
    CHECK_EQ_SIZE(tu_stats(live).live_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(live), SM_OK);
    CHECK_EQ_SIZE(cl.live_bytes, 0);
}

/* --- several threads sharing one handle ---------------------------------------------------- */

enum { SHARERS = 5, PER_THREAD = 20000 };

typedef struct share_arg {
    int id;
    th_barrier *b;
    sm_thread_handle h;      /* NULL for the owner, which is current already */
    size_t cross_ok, cross_refused;
} share_arg;

static void **share_blocks;   /* PER_THREAD per thread, thread after thread */

static size_t share_size(int id, size_t k) { return (k * 7 + (size_t)id * 13) % 64 + 1; }

static void sharer(void *p)
{
    share_arg *a = (share_arg *)p;
    void **mine = share_blocks + (size_t)a->id * PER_THREAD;
    size_t k;
    int other;
    if (a->h)
        CHECK_EQ_INT(sm_set_thread_handle(a->h), SM_OK);
    th_barrier_wait(a->b);
    /* phase 1, concurrently: allocate, fill, mark free every third block of one's own */
    for (k = 0; k < PER_THREAD; k++) {
        size_t n = share_size(a->id, k);
        sm_status st = SM_INVALID_ARG;
        void *q = sm_allocate(n, &st);
        if (!q || st != SM_OK) {
            CHECK(q != NULL);
            CHECK_EQ_INT(st, SM_OK);
            mine[k] = NULL;
            continue;
        }
        tu_fill(q, n, (unsigned)(a->id * 100000 + (int)k));
        mine[k] = q;
        if (k >= 1 && (k - 1) % 3 == 0 && mine[k - 1])
            CHECK_EQ_INT(sm_free(mine[k - 1]), SM_OK);
    }
    th_barrier_wait(a->b);
    /* phase 2, concurrently: every thread tries to mark free the blocks k % 3 == 1 of all the
       others; exactly one attempt per block may succeed. Blocks k % 3 == 0 are freed already. */
    for (other = 0; other < SHARERS; other++) {
        void **theirs = share_blocks + (size_t)other * PER_THREAD;
        if (other == a->id)
            continue;
        for (k = 0; k < PER_THREAD; k++) {
            if (!theirs[k])
                continue;
            if (k % 3 == 1) {
                sm_status st = sm_free(theirs[k]);
                if (st == SM_OK)
                    a->cross_ok++;
                else if (st == SM_INVALID_ARG)
                    a->cross_refused++;
                else
                    CHECK_EQ_INT(st, SM_OK);
            } else if (k % 3 == 0 && k % 300 == 0) {
                CHECK_EQ_INT(sm_free(theirs[k]), SM_INVALID_ARG);
            }
        }
    }
    th_barrier_wait(a->b);
    /* phase 3: one's own live blocks are intact */
    for (k = 2; k < PER_THREAD; k += 3)
        if (mine[k])
            CHECK(tu_check(mine[k], share_size(a->id, k), (unsigned)(a->id * 100000 + (int)k)));
}

TEST(shared_handle_stress)
{
    tc_alloc c;
    sm_config cfg;
    share_arg a[SHARERS];
    th_thread t[SHARERS];
    th_barrier b;
    sm_thread_handle h;
    size_t i, total_ok = 0, per_third;
    tu_range *r;
    int id;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    h = sm_get_thread_handle(NULL);
    share_blocks = (void **)calloc((size_t)SHARERS * PER_THREAD, sizeof *share_blocks);
    r = (tu_range *)malloc((size_t)SHARERS * PER_THREAD * sizeof *r);
    REQUIRE(share_blocks && r);
    th_barrier_init(&b, SHARERS);
    for (id = 0; id < SHARERS; id++) {
        memset(&a[id], 0, sizeof a[id]);
        a[id].id = id;
        a[id].b = &b;
        a[id].h = id == 0 ? NULL : h;
    }
    for (id = 1; id < SHARERS; id++)
        REQUIRE(th_thread_start(&t[id], sharer, &a[id]));
    sharer(&a[0]);   /* the owner takes part */
    for (id = 1; id < SHARERS; id++)
        th_thread_join(&t[id]);
    th_barrier_destroy(&b);

    per_third = (PER_THREAD + 1) / 3;   /* k % 3 == 1 for k < PER_THREAD */
    for (id = 0; id < SHARERS; id++)
        total_ok += a[id].cross_ok;
    CHECK_EQ_SIZE(total_ok, (size_t)SHARERS * per_third);
    for (id = 0; id < SHARERS; id++)
        CHECK_EQ_SIZE(a[id].cross_ok + a[id].cross_refused, (size_t)(SHARERS - 1) * per_third);
    /* no two blocks overlap */
    for (i = 0; i < (size_t)SHARERS * PER_THREAD; i++) {
        r[i].start = (uintptr_t)share_blocks[i];
        r[i].size = share_size((int)(i / PER_THREAD), i % PER_THREAD);
    }
    CHECK(tu_no_overlap(r, (size_t)SHARERS * PER_THREAD));
    /* every block k % 3 == 2 is still live: it frees once */
    for (i = 0; i < (size_t)SHARERS * PER_THREAD; i += 97)
        if (i % PER_THREAD % 3 == 2)
            CHECK_EQ_INT(sm_free(share_blocks[i]), SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
    free(share_blocks);
    free(r);
}

/* Two threads mark the same block free at the same moment, the owner's last block (which the
   owner rolls back while the other thread looks it up): exactly one of them gets SM_OK, and no
   trace of the refused one is left on the memory the next block takes. The window is a few
   instructions wide, so the threads meet by spinning, for up to 300,000 rounds or 3 seconds. */
typedef struct race_arg {
    sm_env *env;
    void *block;
    int go, done;                 /* handshake, through atomics */
    sm_status status;
} race_arg;

static void racer(void *p)
{
    race_arg *a = (race_arg *)p;
    for (;;) {
        int go;
        while ((go = __atomic_load_n(&a->go, __ATOMIC_ACQUIRE)) == 0)
            ;
        if (go < 0)
            return;
        a->status = sm_env_free(a->env, a->block);
        __atomic_store_n(&a->go, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    }
}

/* A new environment in a (cfg NULL: defaults), and the racer started on it; 0 if either cannot
   be had. */
static int race_begin(race_arg *a, th_thread *t, const sm_config *cfg)
{
    memset(a, 0, sizeof *a);
    a->env = sm_env_create(cfg, NULL);
    return a->env != NULL && th_thread_start(t, racer, a);
}

static void race_end(race_arg *a, th_thread *t)
{
    __atomic_store_n(&a->go, -1, __ATOMIC_RELEASE);
    th_thread_join(t);
}

/* Marks a->block free here while the racer does the same; this thread's status (a->status
   holds the racer's). */
static sm_status race_free(race_arg *a)
{
    sm_status mine;
    __atomic_store_n(&a->done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&a->go, 1, __ATOMIC_SEQ_CST);   /* visible before this thread goes on */
    mine = sm_env_free(a->env, a->block);
    while (!__atomic_load_n(&a->done, __ATOMIC_ACQUIRE))
        ;
    return mine;
}

TEST(racing_double_free)
{
    race_arg a;
    th_thread t;
    time_t t0 = time(NULL);
    long i, both = 0, neither = 0, rejected = 0;
    REQUIRE(race_begin(&a, &t, NULL));
    for (i = 0; i < 300000 && time(NULL) - t0 < 3; i++) {
        sm_status mine;
        void *next;
        REQUIRE(sm_env_allocate(a.env, 16, NULL) != NULL);
        a.block = sm_env_allocate(a.env, 16, NULL);
        REQUIRE(a.block != NULL);
        mine = race_free(&a);
        both += mine == SM_OK && a.status == SM_OK;
        neither += mine != SM_OK && a.status != SM_OK;
        next = sm_env_allocate(a.env, 16, NULL);   /* where the block was, if it rolled back */
        rejected += sm_env_free(a.env, next) != SM_OK;
        CHECK_EQ_INT(sm_env_reset(a.env), SM_OK);
    }
    race_end(&a, &t);
    CHECK_EQ_SIZE((size_t)both, 0);
    CHECK_EQ_SIZE((size_t)neither, 0);
    CHECK_EQ_SIZE((size_t)rejected, 0);
    CHECK_EQ_INT(sm_env_destroy(a.env), SM_OK);
}

/* The same race on a block with a chunk of its own, which the winning mark-free gives back at
   once (the process-wide cache off: to free). The losing thread must not read that chunk: it
   finds it in the page map, and takes the lock before it looks at it (under AddressSanitizer
   or ThreadSanitizer, a read of it after it went back is a use after free). */
TEST(racing_double_free_of_large_block)
{
    race_arg a;
    th_thread t;
    time_t t0 = time(NULL);
    long i, both = 0, neither = 0;
    size_t limit = sm_cache_limit(0);
    REQUIRE(race_begin(&a, &t, NULL));
    for (i = 0; i < 20000 && time(NULL) - t0 < 2; i++) {
        sm_status mine;
        a.block = sm_env_allocate(a.env, (size_t)256 << 10, NULL);
        REQUIRE(a.block != NULL);
        mine = race_free(&a);
        both += mine == SM_OK && a.status == SM_OK;
        neither += mine != SM_OK && a.status != SM_OK;
    }
    race_end(&a, &t);
    CHECK_EQ_SIZE((size_t)both, 0);
    CHECK_EQ_SIZE((size_t)neither, 0);
    CHECK_EQ_INT(sm_env_destroy(a.env), SM_OK);
    (void)sm_cache_limit(limit);
}

/* sm_env_destroy of an environment the thread enabled: allowed to that thread, as its disable
   when it is current, and it leaves the thread's list of enabled environments. Left on it, the
   list would make the thread's exit destroy whatever environment takes that memory next (the
   thread's cache hands it to the next create). Another thread's destroy is refused. */
static sm_env *enabled_elsewhere;

static void destroy_enabled_elsewhere(void *arg)
{
    (void)arg;
    CHECK_EQ_INT(sm_env_destroy(enabled_elsewhere), SM_INVALID_ARG);
}

static void enable_then_destroy(void *arg)
{
    sm_env **other = (sm_env **)arg, *outer, *inner;
    th_thread t;
    void *p;
    sm_status st;
    CHECK_EQ_INT(sm_enable_allocate(), SM_OK);
    outer = sm_current_env(NULL);
    CHECK_EQ_INT(sm_enable_allocate(), SM_OK);
    inner = sm_current_env(NULL);
    REQUIRE(outer != NULL && inner != NULL);
    p = sm_allocate(32, NULL);
    CHECK(p != NULL);
    enabled_elsewhere = inner;
    REQUIRE(th_thread_start(&t, destroy_enabled_elsewhere, NULL));
    th_thread_join(&t);
    CHECK_EQ_INT(sm_free(p), SM_OK);               /* refused elsewhere: still whole */
    CHECK_EQ_INT(sm_env_destroy(inner), SM_OK);   /* the current one: outer comes back */
    CHECK(sm_current_env(NULL) == outer);
    CHECK(sm_allocate(32, NULL) != NULL);
    *other = sm_env_create(NULL, NULL);           /* may take the memory inner had */
    REQUIRE(*other != NULL);
    CHECK(sm_env_allocate(*other, 16, NULL) != NULL);
    CHECK_EQ_INT(sm_env_destroy(outer), SM_OK);
    CHECK(sm_current_env(&st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    CHECK_EQ_INT(sm_disable_allocate(), SM_NO_ENVIRONMENT);
    CHECK_EQ_INT(sm_enable_allocate(), SM_OK);    /* the thread exits owning this one */
}

TEST(destroy_of_enabled_environment)
{
    th_thread t;
    sm_env *other = NULL;
    void *p;
    REQUIRE(th_thread_start(&t, enable_then_destroy, &other));
    th_thread_join(&t);
    REQUIRE(other != NULL);
    p = sm_env_allocate(other, 16, NULL);   /* the exit destroyed only what it still owned */
    CHECK(p != NULL);
    CHECK_EQ_INT(sm_env_free(other, p), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(other), SM_OK);
}

/* Another thread marks the owner's last block free (a plain mark-free: that thread does not bump
   the chunk); the owner's own mark-free of it afterwards is a double free, refused with nothing
   changed: no rollback, the block still counted as marked free. The block below is small (its
   start in the last block's bitmap word) or spans a whole word (its start in an earlier one). */
static void free_block_of(void *p)
{
    race_arg *a = (race_arg *)p;
    a->status = sm_env_free(a->env, a->block);
}

static void double_free_of_last_block(size_t below_size)
{
    race_arg a;
    th_thread t;
    void *below;
    sm_stats s;
    memset(&a, 0, sizeof a);
    a.env = sm_env_create(NULL, NULL);
    REQUIRE(a.env != NULL);
    below = sm_env_allocate(a.env, below_size, NULL);
    a.block = sm_env_allocate(a.env, 16, NULL);
    REQUIRE(below != NULL && a.block != NULL);
    REQUIRE(th_thread_start(&t, free_block_of, &a));
    th_thread_join(&t);
    CHECK_EQ_INT(a.status, SM_OK);
    CHECK_EQ_INT(sm_env_free(a.env, a.block), SM_INVALID_ARG);
    s = tu_stats(a.env);
    CHECK_EQ_SIZE(s.live_blocks, 1);
    CHECK_EQ_SIZE(s.freed_blocks, 1);
    CHECK(sm_env_allocate(a.env, 16, NULL) != a.block);   /* not rolled back */
    CHECK_EQ_INT(sm_env_destroy(a.env), SM_OK);
}

TEST(double_free_of_last_block_freed_elsewhere) { double_free_of_last_block(16); }
TEST(double_free_of_last_block_after_a_long_one) { double_free_of_last_block(64 * TC_GRAIN); }

/* SM_POISON: another thread marks free the block below the owner's last one while the owner
   marks that last one free, which rolls back over both, and allocates where they were. The
   other thread's poisoning (a 0xDD fill, or ASan's shadow) must never reach the new block. */
TEST(racing_poison_spares_next_block)
{
    race_arg a;
    th_thread t;
    sm_config cfg;
    time_t t0 = time(NULL);
    long i, spoiled = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = SM_POISON;
    REQUIRE(race_begin(&a, &t, &cfg));
    for (i = 0; i < 300000 && time(NULL) - t0 < 3; i++) {
        unsigned char *last, *next;
        size_t k;
        a.block = sm_env_allocate(a.env, 16, NULL);
        last = (unsigned char *)sm_env_allocate(a.env, 16, NULL);
        REQUIRE(a.block != NULL && last != NULL);
        __atomic_store_n(&a.done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&a.go, 1, __ATOMIC_SEQ_CST);
        CHECK_EQ_INT(sm_env_free(a.env, last), SM_OK);
        next = (unsigned char *)sm_env_allocate(a.env, 64, NULL);
        REQUIRE(next != NULL);
        memset(next, 0x5A, 64);
        while (!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE))
            ;
        CHECK_EQ_INT(a.status, SM_OK);
        for (k = 0; k < 64; k++)
            spoiled += next[k] != 0x5A;
        CHECK_EQ_INT(sm_env_reset(a.env), SM_OK);
    }
    race_end(&a, &t);
    CHECK_EQ_SIZE((size_t)spoiled, 0);
    CHECK_EQ_INT(sm_env_destroy(a.env), SM_OK);
}

/* A pointer into another environment's blocks, asked about while that environment's thread
   resets it again and again (its chunks go back and come again): always refused, and the
   lookup never reads the other environment's chunks (AddressSanitizer and ThreadSanitizer
   would report the read of memory given back, or the race with its reuse). */
typedef struct foreign_arg { sm_config cfg; void *published; int stop; } foreign_arg;

static void reset_again_and_again(void *p)
{
    foreign_arg *a = (foreign_arg *)p;
    sm_env *env = sm_env_create(a->cfg.alloc ? &a->cfg : NULL, NULL);
    time_t t0 = time(NULL);
    int i;
    for (i = 0; env && i < 100000 && time(NULL) - t0 < 2; i++) {
        void *block = sm_env_allocate(env, (size_t)(5000 + (i % 7) * 2000), NULL);
        __atomic_store_n(&a->published, block, __ATOMIC_RELEASE);
        CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    }
    if (env)
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    __atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
}

TEST(foreign_pointer_while_its_environment_resets)
{
    int own;
    for (own = 0; own < 2; own++) {
        foreign_arg a;
        tc_alloc c;
        th_thread t;
        sm_env *mine = sm_env_create(NULL, NULL);
        sm_block_info info;
        long refused = 0, asked = 0;
        REQUIRE(mine != NULL && sm_env_allocate(mine, 16, NULL) != NULL);
        memset(&a, 0, sizeof a);
        if (own) {   /* a backing allocator that frees at once: nothing cached */
            tc_init(&c);
            a.cfg = tc_config(&c, 4096);
        }
        REQUIRE(th_thread_start(&t, reset_again_and_again, &a));
        while (!__atomic_load_n(&a.stop, __ATOMIC_ACQUIRE)) {
            void *p = __atomic_load_n(&a.published, __ATOMIC_ACQUIRE);
            if (!p)
                continue;
            asked++;
            refused += sm_env_describe(mine, p, &info) == SM_INVALID_ARG && sm_env_free(mine, p) == SM_INVALID_ARG;
        }
        th_thread_join(&t);
        CHECK_EQ_SIZE((size_t)refused, (size_t)asked);
        CHECK_EQ_INT(sm_env_destroy(mine), SM_OK);
    }
}

/* The same with sm_env_create, so that sm_env_stats gives exact figures afterwards. */
TEST(shared_env_stats_exact)
{
    tc_alloc c;
    sm_config cfg;
    share_arg a[SHARERS];
    th_thread t[SHARERS];
    th_barrier b;
    sm_env *env;
    size_t i, live_bytes = 0, live_blocks = 0, freed_blocks = 0, freed_bytes = 0;
    int id;
    sm_stats s;
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    share_blocks = (void **)calloc((size_t)SHARERS * PER_THREAD, sizeof *share_blocks);
    REQUIRE(share_blocks != NULL);
    th_barrier_init(&b, SHARERS);
    for (id = 0; id < SHARERS; id++) {
        memset(&a[id], 0, sizeof a[id]);
        a[id].id = id;
        a[id].b = &b;
        a[id].h = sm_env_handle(env);
        REQUIRE(th_thread_start(&t[id], sharer, &a[id]));
    }
    for (id = 0; id < SHARERS; id++)
        th_thread_join(&t[id]);
    th_barrier_destroy(&b);
    for (i = 0; i < (size_t)SHARERS * PER_THREAD; i++) {
        size_t n = TC_ROUND(share_size((int)(i / PER_THREAD), i % PER_THREAD));
        CHECK(share_blocks[i] != NULL);
        if (i % PER_THREAD % 3 == 2) {
            live_blocks++;
            live_bytes += n;
        } else {
            freed_blocks++;
            freed_bytes += n;
        }
    }
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, live_blocks);
    CHECK_EQ_SIZE(s.live_bytes, live_bytes);
    CHECK_EQ_SIZE(s.freed_blocks, freed_blocks);
    CHECK_EQ_SIZE(s.freed_bytes, freed_bytes);
    CHECK_EQ_SIZE(s.backing_bytes, c.live_bytes);
    /* the environment (with the first thread's cursor), one cursor per other thread, the chunks */
    CHECK_EQ_SIZE(s.chunks, c.live_blocks - SHARERS);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
    free(share_blocks);
}

#endif /* SMALLOC_NO_THREADS */

/* Integers passed as handles, while environments are live: small ones, and ones shaped as
   handles are (a generation above 24 or 16 bits of slot index), name none of them. */
TEST(garbage_handles_rejected)
{
    enum { ENVS = 8 };
    sm_env *env[ENVS];
    uintptr_t v, gen, accepted = 0;
    size_t shift = sizeof(uintptr_t) >= 8 ? 24 : 16;
    int i;
    for (i = 0; i < ENVS; i++) {
        env[i] = sm_env_create(NULL, NULL);
        REQUIRE(env[i] != NULL);
    }
    for (v = 1; v < 100000; v++)
        accepted += sm_set_thread_handle((sm_thread_handle)v) == SM_OK;
    for (gen = 0; gen < 64; gen++)
        for (v = 1; v <= 1024; v++)
            accepted += sm_set_thread_handle((sm_thread_handle)(gen << shift | v)) == SM_OK;
    CHECK_EQ_SIZE(accepted, 0);
    /* the real handles still name their environments */
    for (i = 0; i < ENVS; i++) {
        CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env[i])), SM_OK);
        CHECK_EQ_PTR(sm_current_env(NULL), env[i]);
    }
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    for (i = 0; i < ENVS; i++)
        CHECK_EQ_INT(sm_env_destroy(env[i]), SM_OK);
}

/* A pool whose threads come and go, each on a stack of its own (ever larger stacks, so that
   none reuses the memory of one that exited): a long-lived environment stays bounded, since a
   new thread takes over the cursor, chunk and lists of one that has exited. */
#if !defined(SMALLOC_NO_THREADS) && !defined(_WIN32) && !defined(SMALLOC_C11_THREADS)
#include <pthread.h>

enum { WAVE_BLOCKS = 40 };
static int wave_forward;

static void *wave_work(void *arg)
{
    sm_env *env = (sm_env *)arg;
    void *p[WAVE_BLOCKS];
    int i;
    for (i = 0; i < WAVE_BLOCKS; i++) {
        p[i] = sm_env_allocate(env, 24 + (size_t)i * 8, NULL);
        CHECK(p[i] != NULL);
    }
    if (wave_forward) {
        for (i = 0; i < WAVE_BLOCKS; i++)   /* SM_RECYCLE: onto the thread's lists */
            CHECK_EQ_INT(sm_env_free(env, p[i]), SM_OK);
    } else {
        for (i = WAVE_BLOCKS; i-- > 0;)     /* newest first: each rolls the cursor back */
            CHECK_EQ_INT(sm_env_free(env, p[i]), SM_OK);
    }
    return NULL;
}

/* The environment's backing bytes after each of `waves` threads in turn. */
static void run_waves(sm_env *env, int waves, size_t *after)
{
    int w;
    for (w = 0; w < waves; w++) {
        pthread_attr_t attr;
        pthread_t t;
        CHECK(pthread_attr_init(&attr) == 0);
        CHECK(pthread_attr_setstacksize(&attr, ((size_t)256 << 10) + (size_t)w * (64 << 10)) == 0);
        CHECK(pthread_create(&t, &attr, wave_work, env) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        (void)pthread_attr_destroy(&attr);
        after[w] = tu_stats(env).backing_bytes;
    }
}

TEST(threads_come_and_go_bounded)
{
    static const unsigned flags[] = { 0, SM_RECYCLE, SM_TRACK };
    enum { WAVES = 120 };
    size_t after[WAVES], f;
    for (f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        sm_config cfg;
        sm_env *env;
        memset(&cfg, 0, sizeof cfg);
        cfg.chunk_size = 8192;
        cfg.flags = flags[f];
        env = sm_env_create(&cfg, NULL);
        REQUIRE(env != NULL);
        wave_forward = (flags[f] & SM_RECYCLE) != 0;
        run_waves(env, WAVES, after);
        /* every wave gives back what it took: a thread's cursor and chunk (about 9 KiB) stay
           for the next thread, never one more per thread */
        CHECK_EQ_SIZE(after[WAVES - 1], after[9]);
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    }
}
#endif

/* Windows: a fiber that enabled an environment, deleted by another thread. Fiber-local storage
   calls smalloc's hook on the deleting thread, with the record of the thread the fiber ran on;
   that thread still uses the record, so it must be left alone. */
#if defined(_WIN32) && !defined(SMALLOC_NO_THREADS)
static void *fiber_home, *fiber_enabler;
static volatile LONG fiber_stage;   /* 1: the fiber has enabled; 2: it was deleted */
static sm_status fiber_status;

static void CALLBACK fiber_enables(void *arg)
{
    (void)arg;
    fiber_status = sm_enable_allocate();
    if (fiber_status == SM_OK && !sm_allocate(100, NULL))
        fiber_status = SM_OUT_OF_MEMORY;
    SwitchToFiber(fiber_home);
}

static void fiber_thread(void *arg)
{
    (void)arg;
    fiber_home = ConvertThreadToFiber(NULL);
    fiber_enabler = fiber_home ? CreateFiber(0, fiber_enables, NULL) : NULL;
    if (!fiber_enabler) {
        fiber_status = SM_INVALID_ARG;
        InterlockedExchange(&fiber_stage, 1);
        return;
    }
    SwitchToFiber(fiber_enabler);
    InterlockedExchange(&fiber_stage, 1);
    while (InterlockedCompareExchange(&fiber_stage, 2, 2) != 2)
        Sleep(1);
    /* the record is still this thread's: its environment is still current */
    CHECK(sm_allocate(200, NULL) != NULL);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK(ConvertFiberToThread());
}

TEST(fiber_deleted_by_another_thread)
{
    th_thread t;
    REQUIRE(th_thread_start(&t, fiber_thread, NULL));
    while (InterlockedCompareExchange(&fiber_stage, 1, 1) != 1)
        Sleep(1);
    CHECK_EQ_INT(fiber_status, SM_OK);
    if (fiber_enabler)
        DeleteFiber(fiber_enabler);
    InterlockedExchange(&fiber_stage, 2);
    th_thread_join(&t);
}
#endif

void suite_thread(void)
{
#if defined(_WIN32) && !defined(SMALLOC_NO_THREADS)
    RUN(fiber_deleted_by_another_thread);
#endif
    RUN(garbage_handles_rejected);
#if !defined(SMALLOC_NO_THREADS) && !defined(_WIN32) && !defined(SMALLOC_C11_THREADS)
    RUN(threads_come_and_go_bounded);
#endif
    RUN(enable_allocate_disable);
    RUN(no_environment);
    RUN(enable_nesting);
    RUN(save_restore_keeps_ownership);
    RUN(set_null_detaches);
    RUN(destroyed_while_attached);
    RUN(unknown_handles);
    RUN(stale_handle_after_reuse);
#ifndef SMALLOC_NO_THREADS
    RUN(set_in_other_thread);
    RUN(helper_blocks_in_stats);
    RUN(thread_exit_destroys_owned);
    RUN(owner_disable_while_attached);
    RUN(shared_handle_stress);
    RUN(shared_env_stats_exact);
    RUN(racing_double_free);
    RUN(racing_double_free_of_large_block);
    RUN(double_free_of_last_block_freed_elsewhere);
    RUN(double_free_of_last_block_after_a_long_one);
    RUN(destroy_of_enabled_environment);
    RUN(racing_poison_spares_next_block);
    RUN(foreign_pointer_while_its_environment_resets);
#endif
}
