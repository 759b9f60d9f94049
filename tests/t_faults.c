/* t_faults.c - memory running out at every call in turn: the n-th backing allocator call, then
   the n-th bookkeeping call (SMALLOC_REALLOC), of a scripted workload fails. Each failure must give
   SM_OUT_OF_MEMORY with everything as before, the retried call must work, and in the end every
   byte must be back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "util.h"
#include "suites.h"

enum { MAXB = 600, ENVS = 300 };

typedef struct fw {
    tc_alloc c;
    int bookkeeping;          /* 1: failures injected through tb_realloc, else through c */
    sm_env *env;              /* the explicit environment */
    sm_thread_handle attached;
    void *blk[MAXB];
    size_t bsz[MAXB];
    int bimplicit[MAXB];      /* 1: allocated through the attached / enabled environment */
    sm_thread_handle btag[MAXB];  /* the handle of the block's environment */
    int blive[MAXB];
    int nblk;
    int failures;             /* operations that reported a failure */
    int silent;               /* refusals absorbed by a call that cannot fail (reset) */
} fw;

/* The injected failure, if any, happened during the operation just made. */
static size_t fw_refused(const fw *w) { return w->bookkeeping ? tb_refused : w->c.refused; }
static void fw_disarm(fw *w)
{
    if (w->bookkeeping)
        tb_fail_at = 0;
    else
        w->c.fail_at = 0;
}

/* mode: 0 sm_env_allocate, 1 sm_env_allocate_aligned, 2 sm_allocate (current environment),
   3 sm_allocate_aligned, 4 sm_env_allocate_at */
static void *fw_call(fw *w, int mode, size_t size, sm_status *st)
{
    switch (mode) {
    case 0: return sm_env_allocate(w->env, size, st);
    case 1: return sm_env_allocate_aligned(w->env, size, 256, st);
    case 2: return sm_allocate(size, st);
    case 3: return sm_allocate_aligned(size, 128, st);
    default: return sm_env_allocate_at(w->env, size, st, "faults.c", 1);
    }
}

static void fw_alloc(fw *w, int mode, size_t size)
{
    int implicit = mode == 2 || mode == 3;
    int have_stats = w->env && (!implicit || w->attached == sm_env_handle(w->env));
    sm_stats before, after;
    size_t lb = w->c.live_bytes, lk = w->c.live_blocks, refused = fw_refused(w);
    sm_thread_handle h = sm_get_thread_handle(NULL);
    sm_status st = SM_INVALID_HANDLE;
    void *p;
    if (have_stats)
        before = tu_stats(w->env);
    p = fw_call(w, mode, size, &st);
    if (!p) {
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        CHECK_EQ_SIZE(fw_refused(w), refused + 1);
        CHECK_EQ_SIZE(w->c.live_bytes, lb);
        CHECK_EQ_SIZE(w->c.live_blocks, lk);
        CHECK(sm_get_thread_handle(NULL) == h);
        if (have_stats) {
            after = tu_stats(w->env);
            CHECK_STATS_EQ(after, before);
        }
        w->failures++;
        fw_disarm(w);
        st = SM_INVALID_HANDLE;
        p = fw_call(w, mode, size, &st);
    }
    CHECK(p != NULL);
    CHECK_EQ_INT(st, SM_OK);
    if (p && w->nblk < MAXB) {
        tu_fill(p, size, (unsigned)w->nblk);
        w->blk[w->nblk] = p;
        w->bsz[w->nblk] = size;
        w->bimplicit[w->nblk] = implicit;
        w->btag[w->nblk] = implicit ? sm_get_thread_handle(NULL) : sm_env_handle(w->env);
        w->blive[w->nblk] = 1;
        w->nblk++;
    }
}

static void fw_free(fw *w, int i)
{
    if (i < w->nblk && w->blive[i]) {
        CHECK_EQ_INT(w->bimplicit[i] ? sm_free(w->blk[i]) : sm_env_free(w->env, w->blk[i]), SM_OK);
        w->blive[i] = 0;
    }
}

/* The blocks of the explicit environment (implicit 0) or of the current one (1) that are still
   live hold their pattern and free exactly once; then they are forgotten. */
static void fw_verify_and_forget(fw *w, int implicit)
{
    sm_thread_handle tag = implicit ? sm_get_thread_handle(NULL) : sm_env_handle(w->env);
    int i;
    for (i = 0; i < w->nblk; i++) {
        if (w->bimplicit[i] != implicit || w->btag[i] != tag || !w->blive[i])
            continue;
        CHECK(tu_check(w->blk[i], w->bsz[i], (unsigned)i));
    }
    for (i = w->nblk - 1; i >= 0; i--) {
        if (w->bimplicit[i] != implicit || w->btag[i] != tag)
            continue;
        if (w->blive[i]) {
            sm_status st = implicit ? sm_free(w->blk[i]) : sm_env_free(w->env, w->blk[i]);
            CHECK_EQ_INT(st, SM_OK);
        }
        w->blive[i] = 0;
        w->bimplicit[i] = -1;
    }
}

static sm_env *fw_create(fw *w, size_t chunk)
{
    sm_config cfg = tc_config(&w->c, chunk);
    size_t lb = w->c.live_bytes, refused = fw_refused(w);
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env = sm_env_create(&cfg, &st);
    if (!env) {
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        CHECK_EQ_SIZE(fw_refused(w), refused + 1);
        CHECK_EQ_SIZE(w->c.live_bytes, lb);
        w->failures++;
        fw_disarm(w);
        env = sm_env_create(&cfg, &st);
    }
    CHECK(env != NULL);
    CHECK_EQ_INT(st, SM_OK);
    return env;
}

static void fw_enable(fw *w, size_t chunk)
{
    sm_config cfg = tc_config(&w->c, chunk);
    size_t lb = w->c.live_bytes, lk = w->c.live_blocks, refused = fw_refused(w);
    sm_status st = SM_INVALID_HANDLE, gst;
    sm_thread_handle h = sm_get_thread_handle(&gst);
    st = sm_enable_allocate_with(&cfg);
    if (st != SM_OK) {
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        CHECK_EQ_SIZE(fw_refused(w), refused + 1);
        CHECK_EQ_SIZE(w->c.live_bytes, lb);
        CHECK_EQ_SIZE(w->c.live_blocks, lk);
        CHECK(sm_get_thread_handle(NULL) == h);
        w->failures++;
        fw_disarm(w);
        st = sm_enable_allocate_with(&cfg);
    }
    CHECK_EQ_INT(st, SM_OK);
    w->attached = sm_get_thread_handle(NULL);
    CHECK(w->attached != NULL && w->attached != h);
}

static void fw_reset(fw *w)
{
    size_t refused = fw_refused(w);
    sm_stats s;
    fw_verify_and_forget(w, 0);
    CHECK_EQ_INT(sm_env_reset(w->env), SM_OK);   /* reset cannot fail */
    if (fw_refused(w) != refused) {
        w->silent++;
        fw_disarm(w);
    }
    s = tu_stats(w->env);
    CHECK_EQ_SIZE(s.live_blocks, 0);
    CHECK_EQ_SIZE(s.backing_bytes, w->c.live_bytes);
}

/* The scripted workload. Returns with everything destroyed. */
static void workload(fw *w)
{
    static const size_t sizes[] = { 0, 1, 24, 300, 2000, 7, 64, 129, 5000, 16 };
    static sm_env *many[ENVS];
    int i, k, nenv;
    sm_thread_handle own;

    /* an explicit environment with small chunks: many chunks, big blocks, aligned blocks */
    w->env = fw_create(w, 512);
    for (i = 0; i < 120; i++)
        fw_alloc(w, i % 11 == 5 ? 1 : i % 13 == 7 ? 4 : 0, sizes[i % 10]);
    for (i = 0; i < 120; i += 3)
        fw_free(w, i);
    fw_reset(w);
    for (i = 0; i < 80; i++)
        fw_alloc(w, 0, sizes[(i * 7) % 10]);
    fw_free(w, w->nblk - 1);   /* the last block: reclaimed */
    fw_alloc(w, 0, 40);

    /* the thread's own environments, nested, and this thread attached to the explicit one */
    fw_enable(w, 1024);
    own = w->attached;
    for (i = 0; i < 60; i++)
        fw_alloc(w, i % 4 == 3 ? 3 : 2, sizes[i % 10]);
    fw_enable(w, 256);
    for (i = 0; i < 30; i++)
        fw_alloc(w, 2, sizes[(i * 3) % 10]);
    fw_verify_and_forget(w, 1);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK(sm_get_thread_handle(NULL) == own);
    w->attached = own;
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(w->env)), SM_OK);
    w->attached = sm_env_handle(w->env);
    for (i = 0; i < 40; i++)
        fw_alloc(w, i % 5 == 4 ? 3 : 2, sizes[(i * 3) % 10]);
    fw_verify_and_forget(w, 1);
    CHECK_EQ_INT(sm_set_thread_handle(own), SM_OK);
    w->attached = own;
    fw_verify_and_forget(w, 1);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK(sm_get_thread_handle(NULL) == NULL);
    w->attached = NULL;

    /* many environments alive at once (the handle table grows) */
    fw_verify_and_forget(w, 0);
    nenv = 0;
    for (k = 0; k < ENVS; k++) {
        many[k] = fw_create(w, 256);
        if (many[k])
            nenv++;
    }
    for (k = 0; k < ENVS; k += 50) {
        sm_env *keep = w->env;
        if (!many[k])
            continue;
        w->env = many[k];
        fw_alloc(w, 0, 100);
        fw_verify_and_forget(w, 0);
        w->env = keep;
    }
    for (k = 0; k < ENVS; k++)
        if (many[k])
            CHECK_EQ_INT(sm_env_destroy(many[k]), SM_OK);
    CHECK_EQ_INT(nenv, ENVS);

    fw_verify_and_forget(w, 0);
    CHECK_EQ_INT(sm_env_destroy(w->env), SM_OK);
    w->env = NULL;
}

static void fw_init(fw *w, int bookkeeping)
{
    memset(w, 0, sizeof *w);
    tc_init(&w->c);
    w->bookkeeping = bookkeeping;
}

TEST(backing_failure_at_every_call)
{
    static fw w;
    size_t total, k;
    /* a dry run counts the calls */
    fw_init(&w, 0);
    workload(&w);
    total = w.c.calls;
    CHECK(total > 20);
    CHECK_EQ_INT(w.failures, 0);
    CHECK_EQ_SIZE(w.c.live_bytes, 0);
    for (k = 1; k <= total; k++) {
        fw_init(&w, 0);
        w.c.fail_at = k;
        workload(&w);
        if (w.failures != 1)
            th_check_num(__FILE__, __LINE__, "one failure at call k (k is got)", (long long)k, -1, 0);
        CHECK_EQ_SIZE(w.c.refused, 1);
        CHECK_EQ_SIZE(w.c.live_bytes, 0);
        CHECK_EQ_SIZE(w.c.live_blocks, 0);
        CHECK_EQ_SIZE(w.c.bad_frees, 0);
    }
    /* one past the last call: no failure */
    fw_init(&w, 0);
    w.c.fail_at = total + 1;
    workload(&w);
    CHECK_EQ_INT(w.failures, 0);
    CHECK_EQ_SIZE(w.c.live_bytes, 0);
}

TEST(bookkeeping_failure_at_every_call)
{
    static fw w;
    size_t base, k, total;
    long live_after_first = 0;
    /* a dry run counts the bookkeeping calls; the table of handles grows once and stays */
    fw_init(&w, 1);
    workload(&w);
    CHECK_EQ_INT(w.failures, 0);
    live_after_first = tb_live;
    base = tb_calls;
    fw_init(&w, 1);
    workload(&w);
    total = tb_calls - base;
    CHECK(total > 5);
    CHECK_EQ_INT(tb_live, live_after_first);
    for (k = 1; k <= total; k++) {
        size_t refused = tb_refused;
        fw_init(&w, 1);
        tb_fail_at = tb_calls + k;
        workload(&w);
        tb_fail_at = 0;
        CHECK_EQ_SIZE(tb_refused, refused + 1);
        if (w.failures + w.silent != 1)
            th_check_num(__FILE__, __LINE__, "one failure at bookkeeping call k (k is got)",
                         (long long)k, -1, 0);
        CHECK_EQ_SIZE(w.c.live_bytes, 0);
        CHECK_EQ_SIZE(w.c.bad_frees, 0);
        CHECK_EQ_INT(tb_live, live_after_first);
    }
}

/* The first bookkeeping calls of a thread and of the handle table fail too: each in turn. */
TEST(bookkeeping_failure_first_calls)
{
    sm_status st;
    sm_env *env;
    void *p;
    int k, reported;
    size_t refused = 0;
    for (k = 1; k <= 12; k++) {
        refused = tb_refused;
        reported = 0;
        tb_fail_at = tb_calls + (size_t)k;
        env = sm_env_create(NULL, &st);
        if (!env) {
            CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
            reported++;
        }
        st = sm_enable_allocate();
        if (st != SM_OK) {
            CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
            CHECK(sm_get_thread_handle(NULL) == NULL);
            reported++;
        } else {
            p = sm_allocate(10, &st);
            if (!p) {
                CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
                reported++;
            }
            CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
        }
        tb_fail_at = 0;
        CHECK_EQ_SIZE((size_t)reported, tb_refused - refused);
        if (env)
            CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
        if (tb_refused == refused)
            break;   /* fewer than k calls */
    }
    CHECK(k > 1);
    /* everything works afterwards */
    env = sm_env_create(NULL, &st);
    CHECK(env != NULL);
    if (env) {
        CHECK(sm_env_allocate(env, 100, NULL) != NULL);
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    }
    CHECK_EQ_INT(sm_enable_allocate(), SM_OK);
    CHECK(sm_allocate(10, NULL) != NULL);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
}

void suite_faults(void)
{
    RUN(backing_failure_at_every_call);
    RUN(bookkeeping_failure_at_every_call);
    RUN(bookkeeping_failure_first_calls);
}
