/* t_backing.c - what API.md section 14 asks of the code around smalloc's callbacks.
   Backing allocators whose memory is aligned to less than alignof(max_align_t) (a pool
   allocator's 8 bytes, even 1): blocks must still be aligned, mark-free exact, describe right,
   and every byte given back. Callbacks that call back into smalloc: a backing allocator runs
   with no lock held (it may read the environment's figures, or wait for a thread that needs its
   lock) and may attach the thread elsewhere; a report at the owner's disable or at thread exit
   may enable and disable. */
#include <stdint.h>
#include <string.h>
#include "harness.h"
#include "threads.h"
#include "counting.h"
#include "util.h"
#include "../smalloc.h"
#include "suites.h"

/* The counting allocator underneath, so that leaks and sizes are still checked; the memory it
   hands out is moved `skew` bytes off its alignment. */
typedef struct skewed { tc_alloc c; size_t skew; size_t calls; } skewed;

static void *skewed_alloc(void *context, size_t size, const char *file, int line)
{
    skewed *s = (skewed *)context;
    unsigned char *p = (unsigned char *)tc_alloc_fn(&s->c, size + 16, file, line);
    s->calls++;
    return p ? p + s->skew : NULL;
}

static void skewed_free(void *context, void *ptr, size_t size)
{
    skewed *s = (skewed *)context;
    tc_free_fn(&s->c, (unsigned char *)ptr - s->skew, size + 16);
}

static sm_config skewed_config(skewed *s, size_t skew, unsigned flags)
{
    sm_config cfg;
    memset(s, 0, sizeof *s);
    tc_init(&s->c);
    s->skew = skew;
    memset(&cfg, 0, sizeof cfg);
    cfg.alloc = skewed_alloc;
    cfg.free = skewed_free;
    cfg.context = s;
    cfg.flags = flags;
    return cfg;
}

#define BK_N 600

/* Sizes from a byte to larger than a chunk, some aligned allocations, mark-free of every kind. */
static void skewed_workload(size_t skew, unsigned flags)
{
    static void *p[BK_N];
    static size_t size[BK_N];
    skewed s;
    sm_config cfg = skewed_config(&s, skew, flags);
    sm_env *env = sm_env_create(&cfg, NULL);
    unsigned seed = (unsigned)(skew * 7 + flags);
    size_t i, live = 0;
    REQUIRE(env != NULL);
    CHECK_EQ_SIZE(s.calls, 1);
    for (i = 0; i < BK_N; i++) {
        size_t r = tu_rand(&seed);
        size[i] = r % 10 == 0 ? 3000 + r % 30000 : r % 200;
        if (i % 7 == 3) {
            size_t align = TC_GRAIN << (r % 6);
            p[i] = sm_env_allocate_aligned(env, size[i], align, NULL);
            REQUIRE(p[i] != NULL);
            CHECK((uintptr_t)p[i] % align == 0);
        } else {
            p[i] = sm_env_allocate(env, size[i], NULL);
            REQUIRE(p[i] != NULL);
        }
        CHECK((uintptr_t)p[i] % TC_GRAIN == 0);
        memset(p[i], (int)(i & 0xFF), size[i]);
        live++;
    }
    /* exact mark-free: interior pointers and double frees refused, every block found */
    for (i = 0; i < BK_N; i += 2) {
        sm_block_info info;
        if (size[i] > 1) {
            CHECK_EQ_INT(sm_env_free(env, (char *)p[i] + 1), SM_INVALID_ARG);
            CHECK_EQ_INT(sm_env_describe(env, (char *)p[i] + size[i] - 1, &info), SM_OK);
            CHECK(info.start == p[i] && info.live == 1);
        }
        CHECK_EQ_INT(sm_env_free(env, p[i]), SM_OK);
        CHECK_EQ_INT(sm_env_free(env, p[i]), SM_INVALID_ARG);
        live--;
    }
    for (i = 1; i < BK_N; i += 2) {
        size_t k, bad = 0;
        for (k = 0; k < size[i]; k++)
            bad += ((unsigned char *)p[i])[k] != (unsigned char)(i & 0xFF);
        CHECK_EQ_SIZE(bad, 0);
    }
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, live);
    CHECK(sm_env_reallocate(env, p[1], size[1], 50000, NULL) != NULL);
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK(sm_env_allocate(env, 100, NULL) != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(s.c.live_bytes, 0);
    CHECK_EQ_SIZE(s.c.bad_frees, 0);
}

TEST(backing_aligned_to_8)
{
    skewed_workload(8, 0);
    skewed_workload(8, SM_TRACK | SM_POISON);
    skewed_workload(8, SM_RECYCLE);
}

TEST(backing_aligned_to_1)
{
    size_t skew;
    for (skew = 1; skew < 16; skew += 3)
        skewed_workload(skew, 0);
    skewed_workload(1, SM_TRACK | SM_POISON | SM_RECYCLE);
}

/* The thread-implicit calls and a second thread's cursor on the same odd memory. */
TEST(backing_skewed_enable)
{
    skewed s;
    sm_config cfg = skewed_config(&s, 4, 0);
    sm_env *child;
    void *a, *b;
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    a = sm_allocate(24, NULL);
    b = sm_allocate(24, NULL);
    REQUIRE(a && b);
    CHECK((uintptr_t)a % TC_GRAIN == 0 && (uintptr_t)b % TC_GRAIN == 0);
    CHECK_EQ_INT(sm_free(a), SM_OK);
    CHECK_EQ_INT(sm_free(a), SM_INVALID_ARG);
    child = sm_env_create_child(sm_current_env(NULL), NULL, NULL);
    REQUIRE(child != NULL);
    CHECK(sm_env_strdup(child, "on odd memory", NULL) != NULL);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(s.c.live_bytes, 0);
    CHECK_EQ_SIZE(s.c.bad_frees, 0);
}

/* A backing allocator that, once armed, works on the environment it serves before it
   returns: reads its figures (the environment's lock) and, with threads, waits for another
   thread to mark one of its blocks free (SM_TRACK: under that lock too). */
typedef struct reentrant {
    tc_alloc c;
    sm_env *env;
    void *victim;
    int armed, entered;
    sm_status stats_status, free_status;
} reentrant;

static void reentrant_free_victim(void *arg)
{
    reentrant *r = (reentrant *)arg;
    r->free_status = sm_env_free(r->env, r->victim);
}

static void *reentrant_alloc(void *context, size_t size, const char *file, int line)
{
    reentrant *r = (reentrant *)context;
    if (r->armed) {
        sm_stats st;
        r->armed = 0;
        r->entered++;
        r->stats_status = sm_env_stats(r->env, &st);
#ifndef SMALLOC_NO_THREADS
        {
            th_thread t;
            if (th_thread_start(&t, reentrant_free_victim, r))
                th_thread_join(&t);
        }
#else
        reentrant_free_victim(r);
#endif
    }
    return tc_alloc_fn(&r->c, size, file, line);
}

static void reentrant_free(void *context, void *ptr, size_t size)
{
    tc_free_fn(&((reentrant *)context)->c, ptr, size);
}

/* Arms r with a fresh victim block, allocates size bytes until one allocation needs new memory,
   and checks that the callback ran and that both of its calls succeeded. */
static void reentrant_round(reentrant *r, size_t size)
{
    int i;
    r->victim = sm_env_allocate(r->env, 32, NULL);
    REQUIRE(r->victim != NULL);
    r->stats_status = r->free_status = SM_INVALID_ARG;
    r->entered = 0;
    r->armed = 1;
    for (i = 0; i < 100 && !r->entered; i++)
        CHECK(sm_env_allocate(r->env, size, NULL) != NULL);
    CHECK_EQ_INT(r->entered, 1);
    CHECK_EQ_INT(r->stats_status, SM_OK);
    CHECK_EQ_INT(r->free_status, SM_OK);
}

#ifndef SMALLOC_NO_THREADS
static void reentrant_second_thread(void *arg)
{
    reentrant_round((reentrant *)arg, 64);   /* a cursor for this thread, then its chunk */
}
#endif

TEST(backing_allocator_runs_unlocked)
{
    reentrant r;
    sm_config cfg;
    memset(&r, 0, sizeof r);
    tc_init(&r.c);
    cfg = tc_config(&r.c, 4096);
    cfg.alloc = reentrant_alloc;
    cfg.free = reentrant_free;
    cfg.context = &r;
    cfg.flags = SM_TRACK;
    r.env = sm_env_create(&cfg, NULL);
    REQUIRE(r.env != NULL);
    reentrant_round(&r, 100000);   /* a block with a chunk of its own */
    reentrant_round(&r, 1000);     /* a new normal chunk */
#ifndef SMALLOC_NO_THREADS
    {
        th_thread t;
        REQUIRE(th_thread_start(&t, reentrant_second_thread, &r));
        th_thread_join(&t);
    }
#endif
    CHECK_EQ_INT(sm_env_destroy(r.env), SM_OK);
    CHECK_EQ_SIZE(r.c.live_bytes, 0);
}

/* A backing free that, while an environment is destroyed, waits for another thread to create
   and destroy an environment (the handle table's lock) and to allocate in a third one: a
   destroy holds no lock of smalloc while it gives memory back. */
typedef struct waiting_free { tc_alloc c; sm_env *third; int armed, waited, worked; } waiting_free;

#ifndef SMALLOC_NO_THREADS
static void create_elsewhere(void *arg)
{
    waiting_free *w = (waiting_free *)arg;
    sm_env *env = sm_env_create(NULL, NULL);
    w->worked = env && sm_env_allocate(env, 64, NULL) && sm_env_destroy(env) == SM_OK &&
                sm_env_allocate(w->third, 5000, NULL) != NULL;
}
#endif

static void waiting_free_fn(void *context, void *ptr, size_t size)
{
    waiting_free *w = (waiting_free *)context;
    if (w->armed) {
#ifndef SMALLOC_NO_THREADS
        th_thread t;
        w->armed = 0;
        if (th_thread_start(&t, create_elsewhere, w)) {
            th_thread_join(&t);
            w->waited = 1;
        }
#else
        w->armed = 0;
        w->waited = w->worked = 1;
#endif
    }
    tc_free_fn(&w->c, ptr, size);
}

TEST(backing_free_runs_unlocked)
{
    waiting_free w;
    sm_config cfg;
    sm_env *env;
    int i;
    memset(&w, 0, sizeof w);
    tc_init(&w.c);
    cfg = tc_config(&w.c, 4096);
    cfg.free = waiting_free_fn;
    cfg.context = &w;
    w.third = sm_env_create(&cfg, NULL);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL && w.third != NULL);
    for (i = 0; i < 20; i++)
        CHECK(sm_env_allocate(env, 3000, NULL) != NULL);
    CHECK(sm_env_allocate(env, 100000, NULL) != NULL);
    w.armed = 1;
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK(w.waited && w.worked);
    CHECK_EQ_INT(sm_env_destroy(w.third), SM_OK);
    CHECK_EQ_SIZE(w.c.live_bytes, 0);
}

/* The same for the chunk cache: an environment that uses malloc, destroyed when the thread's
   cache of released environments is full, gives its memory back with no lock held either, so
   that smalloc's own bookkeeping free (here the suite's, which waits for a thread that
   creates an environment from the chunk cache) does not stall other threads. */
static int bookkeeping_armed, bookkeeping_worked;

#ifndef SMALLOC_NO_THREADS
static void create_from_cache(void *arg)
{
    sm_env *env = sm_env_create(NULL, NULL);
    (void)arg;
    bookkeeping_worked = env && sm_env_allocate(env, 64, NULL) && sm_env_destroy(env) == SM_OK;
}
#endif

static void bookkeeping_waits(void)
{
    if (bookkeeping_armed) {
        bookkeeping_armed = 0;
#ifndef SMALLOC_NO_THREADS
        {
            th_thread t;
            if (th_thread_start(&t, create_from_cache, NULL))
                th_thread_join(&t);
        }
#else
        bookkeeping_worked = 1;
#endif
    }
}

TEST(destroy_gives_back_unlocked)
{
    enum { ENVS = 6 };
    sm_env *env[ENVS];
    sm_config cfg;
    int i, k;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = SM_TRACK;   /* site records: bookkeeping to free at destroy */
    for (i = 0; i < ENVS; i++) {
        env[i] = sm_env_create(&cfg, NULL);
        REQUIRE(env[i] != NULL);
        for (k = 0; k < 10; k++)
            CHECK(sm_env_allocate(env[i], 2000, NULL) != NULL);
    }
    for (i = 0; i < ENVS - 1; i++)   /* the thread's cache of released environments fills */
        CHECK_EQ_INT(sm_env_destroy(env[i]), SM_OK);
    bookkeeping_worked = 0;
    bookkeeping_armed = 1;
    tb_hook = bookkeeping_waits;
    CHECK_EQ_INT(sm_env_destroy(env[ENVS - 1]), SM_OK);
    tb_hook = NULL;
    CHECK(!bookkeeping_armed && bookkeeping_worked);
    (void)sm_cache_trim(0);
}

/* A backing allocator that attaches the calling thread to another environment (or detaches
   it) while sm_allocate waits for it: the call under way ends in the environment it began in,
   and the thread's next calls serve the one it is attached to now. */
static sm_thread_handle attach_target;
static int attach_armed;

static void *attaching_alloc(void *context, size_t size, const char *file, int line)
{
    if (attach_armed) {
        attach_armed = 0;
        CHECK_EQ_INT(sm_set_thread_handle(attach_target), SM_OK);
    }
    return tc_alloc_fn((tc_alloc *)context, size, file, line);
}

TEST(backing_allocator_attaches_elsewhere)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *other = sm_env_create(NULL, NULL), *mine;
    sm_block_info info;
    sm_status st = SM_OK;
    void *p;
    REQUIRE(other != NULL);
    tc_init(&c);
    cfg = tc_config(&c, 4096);
    cfg.alloc = attaching_alloc;
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    mine = sm_current_env(NULL);
    REQUIRE(sm_allocate(16, NULL) != NULL);
    /* attached elsewhere */
    attach_target = sm_env_handle(other);
    attach_armed = 1;
    p = sm_allocate(100000, NULL);
    REQUIRE(p != NULL);
    CHECK_EQ_INT(sm_env_describe(mine, p, &info), SM_OK);
    CHECK_EQ_PTR(sm_current_env(NULL), other);
    p = sm_allocate(16, NULL);
    REQUIRE(p != NULL);
    CHECK_EQ_INT(sm_env_describe(other, p, &info), SM_OK);
    CHECK(sm_env_describe(mine, p, &info) != SM_OK);
    CHECK_EQ_INT(sm_free(p), SM_OK);
    /* detached */
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(mine)), SM_OK);
    attach_target = NULL;
    attach_armed = 1;
    CHECK(sm_allocate(100000, NULL) != NULL);
    CHECK(sm_allocate(16, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    CHECK_EQ_INT(sm_free(p), SM_NO_ENVIRONMENT);
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(mine)), SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(other), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* A report, called at the owner's disable or at thread exit, that enables or disables: the
   thread's state is already as after the disable (the environment before it is current). */
enum { REPORT_DISABLES = 1, REPORT_ENABLES };
static int report_action;
static sm_status report_status;
static sm_env *report_enabled;

static void acting_report(void *user, const char *file, int line, size_t blocks, size_t bytes)
{
    (void)user; (void)file; (void)line; (void)blocks; (void)bytes;
    if (report_action == REPORT_DISABLES) {
        report_status = sm_disable_allocate();
    } else if (report_action == REPORT_ENABLES) {
        report_status = sm_enable_allocate();
        report_enabled = sm_current_env(NULL);
    }
    report_action = 0;
}

/* Enables an untracked environment, then a tracked one with a block left in it. */
static sm_env *report_enable_two(sm_env **outer)
{
    sm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = SM_TRACK;
    cfg.report = acting_report;
    if (sm_enable_allocate() != SM_OK)
        return NULL;
    *outer = sm_current_env(NULL);
    if (sm_enable_allocate_with(&cfg) != SM_OK || !sm_allocate(40, NULL))
        return NULL;
    return sm_current_env(NULL);
}

#ifndef SMALLOC_NO_THREADS
static void report_thread_exits(void *arg)
{
    sm_env *outer;
    (void)arg;
    if (!report_enable_two(&outer))
        return;
    report_action = REPORT_DISABLES;
    /* exits without disabling: the report disables the outer environment */
}
#endif

TEST(report_enables_and_disables)
{
    sm_env *outer, *inner;
    sm_status st = SM_OK;
    /* disables the environment current before the one being disabled */
    inner = report_enable_two(&outer);
    REQUIRE(inner != NULL);
    report_action = REPORT_DISABLES;
    report_status = SM_INVALID_ARG;
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_INT(report_status, SM_OK);
    CHECK(sm_current_env(&st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    /* enables one, current once the disable returns, with the outer one before it */
    inner = report_enable_two(&outer);
    REQUIRE(inner != NULL);
    report_action = REPORT_ENABLES;
    report_status = SM_INVALID_ARG;
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_INT(report_status, SM_OK);
    CHECK(report_enabled != NULL && report_enabled != inner && report_enabled != outer);
    CHECK_EQ_PTR(sm_current_env(NULL), report_enabled);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_PTR(sm_current_env(NULL), outer);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
#ifndef SMALLOC_NO_THREADS
    {
        th_thread t;
        report_status = SM_INVALID_ARG;
        REQUIRE(th_thread_start(&t, report_thread_exits, NULL));
        th_thread_join(&t);
        CHECK_EQ_INT(report_status, SM_OK);
    }
#endif
}

void suite_backing(void)
{
    RUN(backing_aligned_to_8);
    RUN(backing_aligned_to_1);
    RUN(backing_skewed_enable);
    RUN(backing_allocator_runs_unlocked);
    RUN(backing_allocator_attaches_elsewhere);
    RUN(backing_free_runs_unlocked);
    RUN(destroy_gives_back_unlocked);
    RUN(report_enables_and_disables);
}
