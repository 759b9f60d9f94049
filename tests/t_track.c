/* t_track.c - SM_TRACK: sm_env_report gives, per allocation site and in order of file and line,
   exactly the blocks still live and their bytes as requested; config.report gets the same at
   destroy, at the owner's disable and at thread exit; and memory running out (the backing
   allocator's or the bookkeeping's) fails an allocation cleanly without spoiling the report. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "suites.h"

#define NW(a) (sizeof (a) / sizeof (a)[0])

static sm_env *track_env(tc_alloc *c, size_t chunk, unsigned flags, tu_report *at_destroy)
{
    sm_config cfg = tc_config(c, chunk);
    cfg.flags = SM_TRACK | flags;
    if (at_destroy) {
        cfg.report = tu_report_fn;
        cfg.report_user = at_destroy;
    }
    return sm_env_create(&cfg, NULL);
}

/* The report before any allocation, and after every kind of allocation call. */
TEST(report_exact_sites)
{
    tc_alloc c;
    sm_env *env;
    sm_status st = SM_INVALID_ARG;
    void *p[12];
    int i, line;
    size_t k;
    tc_init(&c);
    env = track_env(&c, 1024, 0, NULL);
    REQUIRE(env != NULL);
    CHECK_ENV_REPORT(env, NULL, 0);   /* nothing live: fn is never called */

    p[0] = sm_env_allocate_at(env, 10, &st, "b.c", 20);
    CHECK_EQ_INT(st, SM_OK);
    p[1] = sm_env_allocate_at(env, 30, NULL, "a.c", 100);
    p[2] = sm_env_allocate_at(env, 7, NULL, "a.c", 9);     /* 9 before 100: lines are numbers */
    p[3] = sm_env_allocate(env, 5, NULL);                   /* plain: NULL and 0 */
    p[4] = sm_env_allocate_at(env, 100, NULL, "a.c", 100);
    line = __LINE__; p[5] = SM_ENV_ALLOCATE(env, 0, &st);
    p[6] = sm_env_allocate_at(env, 64, NULL, "b.c", 20);
    p[7] = sm_env_allocate(env, 1, NULL);
    p[8] = sm_env_allocate_aligned(env, 3, 64, NULL);       /* plain too */
    p[9] = sm_env_allocate_at(env, 50, NULL, "b.c", 3);
    p[10] = sm_env_allocate_at(env, 12, NULL, "c.c", 1);
    p[11] = sm_env_allocate_at(env, 200, NULL, NULL, 0);    /* an explicit NULL site: plain */
    for (i = 0; i < 12; i++)
        REQUIRE(p[i] != NULL);
    {
        const tu_site want[] = {
            { NULL, 0, 4, 5 + 1 + 3 + 200 }, { "a.c", 9, 1, 7 }, { "a.c", 100, 2, 130 },
            { "b.c", 3, 1, 50 }, { "b.c", 20, 2, 74 }, { "c.c", 1, 1, 12 }, { __FILE__, line, 1, 0 }
        };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* marked-free blocks drop out; a site with none left is not reported */
    CHECK_EQ_INT(sm_env_free(env, p[4]), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, p[9]), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, p[3]), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, p[5]), SM_OK);
    {
        const tu_site want[] = {
            { NULL, 0, 3, 1 + 3 + 200 }, { "a.c", 9, 1, 7 }, { "a.c", 100, 1, 30 },
            { "b.c", 20, 2, 74 }, { "c.c", 1, 1, 12 }
        };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* a refused double free changes nothing */
    CHECK_EQ_INT(sm_env_free(env, p[4]), SM_INVALID_ARG);
    /* the last block rolls back; then the one before it is the last */
    CHECK_EQ_INT(sm_env_free(env, p[11]), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, p[10]), SM_OK);
    {
        const tu_site want[] = {
            { NULL, 0, 2, 1 + 3 }, { "a.c", 9, 1, 7 }, { "a.c", 100, 1, 30 }, { "b.c", 20, 2, 74 }
        };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* where they were, new blocks with new sites */
    p[10] = sm_env_allocate_at(env, 12, NULL, "c.c", 2);
    p[11] = sm_env_allocate_at(env, 13, NULL, "a.c", 9);
    REQUIRE(p[10] && p[11]);
    {
        const tu_site want[] = {
            { NULL, 0, 2, 1 + 3 }, { "a.c", 9, 2, 20 }, { "a.c", 100, 1, 30 }, { "b.c", 20, 2, 74 },
            { "c.c", 2, 1, 12 }
        };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* many blocks of one site, over several chunks */
    for (k = 0; k < 300; k++)
        REQUIRE(sm_env_allocate_at(env, k % 40, NULL, "m.c", 1) != NULL);
    {
        const tu_site want[] = {
            { NULL, 0, 2, 1 + 3 }, { "a.c", 9, 2, 20 }, { "a.c", 100, 1, 30 }, { "b.c", 20, 2, 74 },
            { "c.c", 2, 1, 12 }, { "m.c", 1, 300, 7 * (39 * 40 / 2) + 19 * 20 / 2 }
        };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* reset: nothing is live */
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK_ENV_REPORT(env, NULL, 0);
    p[0] = sm_env_allocate_at(env, 33, NULL, "r.c", 1);
    REQUIRE(p[0] != NULL);
    {
        const tu_site want[] = { { "r.c", 1, 1, 33 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Blocks with a chunk of their own are reported like the others. */
TEST(report_single_chunks)
{
    tc_alloc c;
    sm_env *env;
    void *big1, *big2, *big3, *small;
    tc_init(&c);
    env = track_env(&c, 1024, 0, NULL);
    REQUIRE(env != NULL);
    big1 = sm_env_allocate_at(env, 5000, NULL, "big.c", 1);
    small = sm_env_allocate_at(env, 10, NULL, "small.c", 1);
    big2 = sm_env_allocate_at(env, 6001, NULL, "big.c", 1);
    big3 = sm_env_allocate(env, 70000, NULL);
    REQUIRE(big1 && small && big2 && big3);
    CHECK_EQ_SIZE(tu_stats(env).chunks, 4);   /* one normal, three single */
    {
        const tu_site want[] = { { NULL, 0, 1, 70000 }, { "big.c", 1, 2, 11001 }, { "small.c", 1, 1, 10 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_free(env, big1), SM_OK);   /* marked free */
    {
        const tu_site want[] = { { NULL, 0, 1, 70000 }, { "big.c", 1, 1, 6001 }, { "small.c", 1, 1, 10 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_free(env, big3), SM_OK);   /* the last allocation: given back */
    {
        const tu_site want[] = { { "big.c", 1, 1, 6001 }, { "small.c", 1, 1, 10 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    big3 = sm_env_allocate_at(env, 4000, NULL, "big.c", 2);
    REQUIRE(big3 != NULL);
    {
        const tu_site want[] = { { "big.c", 1, 1, 6001 }, { "big.c", 2, 1, 4000 }, { "small.c", 1, 1, 10 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK_ENV_REPORT(env, NULL, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* sm_env_reallocate: the block keeps its site, in place or moved, and counts its new size. */
TEST(report_reallocate)
{
    tc_alloc c;
    sm_env *env;
    sm_status st = SM_INVALID_ARG;
    unsigned char *a, *b, *q, *big;
    tc_init(&c);
    env = track_env(&c, 1024, 0, NULL);
    REQUIRE(env != NULL);
    a = (unsigned char *)sm_env_allocate_at(env, 40, NULL, "a.c", 1);
    REQUIRE(a != NULL);
    tu_fill(a, 40, 1);
    /* the last block grows in place */
    q = (unsigned char *)sm_env_reallocate(env, a, 40, 90, &st);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(q == a);
    {
        const tu_site want[] = { { "a.c", 1, 1, 90 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    b = (unsigned char *)sm_env_allocate_at(env, 8, NULL, "b.c", 1);
    REQUIRE(b != NULL);
    /* a non-last block shrinks in place */
    q = (unsigned char *)sm_env_reallocate(env, a, 90, 20, &st);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(q == a);
    {
        const tu_site want[] = { { "a.c", 1, 1, 20 }, { "b.c", 1, 1, 8 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* and moves to grow: the new block has a's site and size, a is marked free */
    q = (unsigned char *)sm_env_reallocate(env, a, 20, 300, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL);
    CHECK(q != a);
    CHECK(tu_check(q, 20, 1));
    {
        const tu_site want[] = { { "a.c", 1, 1, 300 }, { "b.c", 1, 1, 8 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* to a chunk of its own, and back to a normal chunk */
    big = (unsigned char *)sm_env_reallocate(env, q, 300, 9000, &st);
    REQUIRE(big != NULL);
    CHECK(tu_check(big, 20, 1));
    {
        const tu_site want[] = { { "a.c", 1, 1, 9000 }, { "b.c", 1, 1, 8 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    q = (unsigned char *)sm_env_reallocate(env, big, 9000, 100, &st);   /* shrinks in place */
    CHECK(q == big);
    q = (unsigned char *)sm_env_reallocate(env, b, 8, 12000, &st);
    REQUIRE(q != NULL);
    {
        const tu_site want[] = { { "a.c", 1, 1, 100 }, { "b.c", 1, 1, 12000 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* node NULL allocates, as a plain call */
    CHECK(sm_env_reallocate(env, NULL, 0, 77, &st) != NULL);
    CHECK_EQ_INT(st, SM_OK);
    {
        const tu_site want[] = { { NULL, 0, 1, 77 }, { "a.c", 1, 1, 100 }, { "b.c", 1, 1, 12000 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* refused: nothing changes (a's memory is the 77-byte block's now; its inside is no node) */
    CHECK(sm_env_reallocate(env, a + TC_GRAIN, 20, 50, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    CHECK(sm_env_reallocate(env, big, 100, SIZE_MAX, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    {
        const tu_site want[] = { { NULL, 0, 1, 77 }, { "a.c", 1, 1, 100 }, { "b.c", 1, 1, 12000 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* fn may call smalloc: here it allocates in the reported environment, reads its figures, and
   uses another environment; the report in progress is not disturbed. */
typedef struct reentrant {
    sm_env *env, *other;
    tu_report r;
    int ok;
} reentrant;

static void reentrant_fn(void *user, const char *file, int line, size_t blocks, size_t bytes)
{
    reentrant *x = (reentrant *)user;
    sm_stats s;
    void *p;
    tu_report_fn(&x->r, file, line, blocks, bytes);
    p = sm_env_allocate_at(x->env, 8, NULL, "cb.c", 1);
    x->ok = x->ok && p != NULL && sm_env_stats(x->env, &s) == SM_OK;
    p = sm_env_allocate(x->other, 100, NULL);
    x->ok = x->ok && p != NULL && sm_env_free(x->other, p) == SM_OK;
}

TEST(report_callback_may_call_smalloc)
{
    tc_alloc c;
    reentrant x;
    tc_init(&c);
    memset(&x, 0, sizeof x);
    tu_report_init(&x.r);
    x.ok = 1;
    x.env = track_env(&c, 1024, 0, NULL);
    x.other = sm_env_create(NULL, NULL);
    REQUIRE(x.env && x.other);
    REQUIRE(sm_env_allocate_at(x.env, 1, NULL, "a.c", 1) != NULL);
    REQUIRE(sm_env_allocate_at(x.env, 2, NULL, "a.c", 2) != NULL);
    REQUIRE(sm_env_allocate_at(x.env, 3, NULL, "a.c", 3) != NULL);
    CHECK_EQ_INT(sm_env_report(x.env, reentrant_fn, &x), SM_OK);
    CHECK(x.ok);
    {
        const tu_site want[] = { { "a.c", 1, 1, 1 }, { "a.c", 2, 1, 2 }, { "a.c", 3, 1, 3 } };
        CHECK_REPORT(&x.r, want, NW(want));
    }
    {
        const tu_site want[] = {
            { "a.c", 1, 1, 1 }, { "a.c", 2, 1, 2 }, { "a.c", 3, 1, 3 }, { "cb.c", 1, 3, 24 }
        };
        CHECK_ENV_REPORT(x.env, want, NW(want));
    }
    CHECK_EQ_SIZE(tu_stats(x.other).live_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(x.env), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(x.other), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Flags without SM_TRACK: no report. */
TEST(report_needs_track)
{
    sm_config cfg;
    sm_env *env;
    tu_report r;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = SM_POISON | SM_RECYCLE;
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    REQUIRE(SM_ENV_ALLOCATE(env, 10, NULL) != NULL);
    tu_report_init(&r);
    CHECK_EQ_INT(sm_env_report(env, tu_report_fn, &r), SM_INVALID_ARG);
    CHECK_EQ_SIZE(r.calls, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    /* and with it, fn NULL or env NULL are refused */
    cfg.flags = SM_TRACK;
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(sm_env_report(env, NULL, NULL), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_report(NULL, tu_report_fn, &r), SM_INVALID_ARG);
    CHECK_EQ_SIZE(r.calls, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* config.report at sm_env_destroy: what is still live, once; nothing at all when nothing is. */
TEST(report_at_destroy)
{
    tc_alloc c;
    tu_report r;
    sm_env *env;
    void *a, *b;
    tc_init(&c);
    tu_report_init(&r);
    env = track_env(&c, 512, 0, &r);
    REQUIRE(env != NULL);
    a = sm_env_allocate_at(env, 10, NULL, "x.c", 2);
    b = sm_env_allocate_at(env, 20, NULL, "x.c", 1);
    REQUIRE(a && b);
    REQUIRE(sm_env_allocate_at(env, 30, NULL, "x.c", 1) != NULL);
    REQUIRE(sm_env_allocate_at(env, 6000, NULL, "w.c", 1) != NULL);
    REQUIRE(sm_env_allocate(env, 4, NULL) != NULL);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK_EQ_SIZE(r.calls, 0);   /* not before destroy */
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    {
        const tu_site want[] = { { NULL, 0, 1, 4 }, { "w.c", 1, 1, 6000 }, { "x.c", 1, 2, 50 } };
        CHECK_REPORT(&r, want, NW(want));
    }
    CHECK_EQ_SIZE(c.live_bytes, 0);
    /* everything marked free, or reset: no call */
    tu_report_init(&r);
    env = track_env(&c, 512, 0, &r);
    REQUIRE(env != NULL);
    a = sm_env_allocate_at(env, 10, NULL, "x.c", 2);
    b = sm_env_allocate_at(env, 10000, NULL, "x.c", 2);
    REQUIRE(a && b);
    REQUIRE(sm_env_allocate_at(env, 10, NULL, "x.c", 2) != NULL);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, b), SM_OK);
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    REQUIRE(sm_env_allocate_at(env, 10, NULL, "x.c", 2) != NULL);
    CHECK_EQ_INT(sm_env_free(env, sm_env_allocate_at(env, 10, NULL, "x.c", 3)), SM_OK);
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(r.calls, 0);
    /* an environment that never allocated */
    env = track_env(&c, 512, 0, &r);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(r.calls, 0);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* config.report at the owner's disable; nested environments each report their own blocks. */
TEST(report_at_disable_nested)
{
    tc_alloc c;
    tu_report r1, r2, r3;
    sm_config cfg;
    int l1, l2, l3;
    void *p;
    tc_init(&c);
    tu_report_init(&r1);
    tu_report_init(&r2);
    tu_report_init(&r3);
    cfg = tc_config(&c, 1024);
    cfg.flags = SM_TRACK;
    cfg.report = tu_report_fn;
    cfg.report_user = &r1;
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    l1 = __LINE__; REQUIRE(SM_ALLOCATE(11, NULL) != NULL);
    REQUIRE(sm_allocate(5, NULL) != NULL);
    cfg.report_user = &r2;
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    l2 = __LINE__; REQUIRE(SM_ALLOCATE(22, NULL) != NULL);
    REQUIRE(SM_ALLOCATE(1, NULL) != NULL); l3 = __LINE__;
    REQUIRE(sm_allocate_at(9000, NULL, "big.c", 4) != NULL);
    REQUIRE(sm_allocate_aligned(3, 128, NULL) != NULL);
    p = sm_allocate_at(44, NULL, "gone.c", 1);
    REQUIRE(p != NULL);
    REQUIRE(sm_allocate(1, NULL) != NULL);
    CHECK_EQ_INT(sm_free(p), SM_OK);
    /* a third one with nothing live: no call */
    cfg.report_user = &r3;
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    CHECK_EQ_INT(sm_free(SM_ALLOCATE(10, NULL)), SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(r3.calls, 0);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(r1.calls, 0);
    {
        const tu_site want[] = { { NULL, 0, 2, 4 }, { "big.c", 4, 1, 9000 }, { __FILE__, l2, 1, 22 },
                                 { __FILE__, l3, 1, 1 } };
        CHECK_REPORT(&r2, want, NW(want));
    }
    /* the outer one is current again */
    REQUIRE(sm_allocate_at(6, NULL, "outer.c", 1) != NULL);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    {
        const tu_site want[] = { { NULL, 0, 1, 5 }, { "outer.c", 1, 1, 6 }, { __FILE__, l1, 1, 11 } };
        CHECK_REPORT(&r1, want, NW(want));
    }
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK(sm_get_thread_handle(NULL) == NULL);
}

/* Recording a site needs bookkeeping memory now and then. While none can be had, allocations
   that need it fail with SM_OUT_OF_MEMORY (never succeed untracked); the report stays exact. */
TEST(track_bookkeeping_refused)
{
    tc_alloc c;
    sm_env *env;
    size_t ok = 0, refused = 0, k, tb_before;
    sm_status st;
    sm_stats before, after;
    tu_report r;
    tc_init(&c);
    env = track_env(&c, 8192, 0, NULL);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate_at(env, 16, NULL, "t.c", 1) != NULL);
    ok++;
    tb_before = tb_refused;
    for (k = 0; k < 2000 && !refused; k++) {
        void *p;
        before = tu_stats(env);
        tb_fail_all = 1;
        st = SM_INVALID_HANDLE;
        p = sm_env_allocate_at(env, 16, &st, "t.c", 1);
        tb_fail_all = 0;
        if (p) {
            CHECK_EQ_INT(st, SM_OK);
            ok++;
        } else {
            CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
            after = tu_stats(env);
            CHECK_STATS_EQ(after, before);
            refused++;
        }
    }
    CHECK_EQ_SIZE(refused, 1);
    CHECK(tb_refused > tb_before);
    CHECK_EQ_SIZE(c.refused, 0);
    {
        const tu_site want[] = { { "t.c", 1, ok, 16 * ok } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* with memory again, the same allocation works */
    REQUIRE(sm_env_allocate_at(env, 16, NULL, "t.c", 1) != NULL);
    ok++;
    {
        const tu_site want[] = { { "t.c", 1, ok, 16 * ok } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    /* the report itself needs memory to group the records: refused, fn not called */
    tu_report_init(&r);
    tb_fail_all = 1;
    st = sm_env_report(env, tu_report_fn, &r);
    tb_fail_all = 0;
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    CHECK_EQ_SIZE(r.calls, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* A site record that cannot grow for a new chunk fails the allocation, and the figures are as
   before, backing_peak included (the chunk obtained meanwhile went back). */
TEST(track_refused_growth_keeps_figures)
{
    tc_alloc c;
    sm_env *env;
    sm_stats before, after;
    sm_status st = SM_OK;
    size_t k;
    void *p = NULL;
    tc_init(&c);
    env = track_env(&c, 256, 0, NULL);
    REQUIRE(env != NULL);
    REQUIRE(sm_env_allocate_at(env, 16, NULL, "t.c", 1) != NULL);
    /* the first chunk holds a few blocks; the next one needs a new record array */
    for (k = 0; k < 100; k++) {
        before = tu_stats(env);
        tb_fail_all = 1;
        p = sm_env_allocate_at(env, 16, &st, "t.c", 1);
        tb_fail_all = 0;
        if (!p)
            break;
    }
    REQUIRE(p == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    after = tu_stats(env);
    CHECK_STATS_EQ(after, before);
    CHECK_EQ_SIZE(after.backing_bytes, c.live_bytes);
    {
        const tu_site want[] = { { "t.c", 1, k + 1, 16 * (k + 1) } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* At destroy without memory to group the records: one call per live block. */
TEST(report_at_destroy_without_memory)
{
    tc_alloc c;
    tu_report r;
    sm_env *env;
    size_t i;
    tc_init(&c);
    tu_report_init(&r);
    env = track_env(&c, 1024, 0, &r);
    REQUIRE(env != NULL);
    for (i = 0; i < 10; i++)
        REQUIRE(sm_env_allocate_at(env, i + 1, NULL, i % 2 ? "odd.c" : "even.c", (int)(i % 3)) != NULL);
    REQUIRE(sm_env_allocate_at(env, 5000, NULL, "big.c", 1) != NULL);
    tb_fail_all = 1;
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    tb_fail_all = 0;
    CHECK_EQ_SIZE(r.calls, 11);
    for (i = 0; i < r.n; i++)
        CHECK_EQ_SIZE(r.e[i].blocks, 1);
    tu_report_merge(&r);
    {
        /* even.c: i = 0 (line 0), 2 (2), 4 (1), 6 (0), 8 (2); odd.c: 1 (1), 3 (0), 5 (2), 7 (1), 9 (0) */
        const tu_site want[] = {
            { "big.c", 1, 1, 5000 }, { "even.c", 0, 2, 1 + 7 }, { "even.c", 1, 1, 5 }, { "even.c", 2, 2, 3 + 9 },
            { "odd.c", 0, 2, 4 + 10 }, { "odd.c", 1, 2, 2 + 8 }, { "odd.c", 2, 1, 6 }
        };
        CHECK_REPORT(&r, want, NW(want));
    }
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* --- memory running out at every call in turn ------------------------------------------- */

enum { TW_SITES = 5, TW_MAX = 120 };
static const char *const tw_file[TW_SITES] = { NULL, "a.c", "a.c", "b.c", "z.c" };
static const int tw_line[TW_SITES] = { 0, 9, 10, 1, 3 };

typedef struct tw {
    tc_alloc c;
    int bookkeeping;          /* 1: failures injected through tb_realloc, else through c */
    sm_env *env;
    void *p[TW_MAX];
    size_t size[TW_MAX];
    int site[TW_MAX];
    int live[TW_MAX];
    int n;
    int failures;             /* calls that reported SM_OUT_OF_MEMORY */
    int silent;               /* refusals absorbed by a call that cannot fail (reset, destroy) */
    int absorbed;             /* refusals after which the allocation still succeeded (a retry) */
    tu_report at_destroy;
} tw;

static size_t tw_refused(const tw *w) { return w->bookkeeping ? tb_refused : w->c.refused; }
static void tw_disarm(tw *w)
{
    if (w->bookkeeping)
        tb_fail_at = 0;
    else
        w->c.fail_at = 0;
}

/* The report the ledger expects: the sites in order, those with live blocks. */
static size_t tw_expect(const tw *w, tu_site *want)
{
    size_t n = 0;
    int s, i;
    for (s = 0; s < TW_SITES; s++) {
        size_t blocks = 0, bytes = 0;
        for (i = 0; i < w->n; i++) {
            if (w->live[i] && w->site[i] == s) {
                blocks++;
                bytes += w->size[i];
            }
        }
        if (blocks) {
            want[n].file = tw_file[s];
            want[n].line = tw_line[s];
            want[n].blocks = blocks;
            want[n].bytes = bytes;
            n++;
        }
    }
    return n;
}

/* The figures after a refused call: as before. (backing_peak may have moved: see
   track_refused_growth_keeps_figures.) */
static void tw_same_stats(sm_stats after, sm_stats before)
{
    after.backing_peak = before.backing_peak;
    CHECK_STATS_EQ(after, before);
}

/* The report is exact; if gathering it runs out of memory, the retry is. */
static void tw_check(tw *w)
{
    tu_site want[TW_SITES];
    size_t n = tw_expect(w, want), refused = tw_refused(w);
    tu_report r;
    sm_status st;
    tu_report_init(&r);
    st = sm_env_report(w->env, tu_report_fn, &r);
    if (st == SM_OUT_OF_MEMORY) {
        CHECK(w->bookkeeping);
        CHECK_EQ_SIZE(tw_refused(w), refused + 1);
        CHECK_EQ_SIZE(r.calls, 0);
        w->failures++;
        tw_disarm(w);
        st = sm_env_report(w->env, tu_report_fn, &r);
    }
    CHECK_EQ_INT(st, SM_OK);
    CHECK_REPORT(&r, want, n);
}

static void *tw_call(tw *w, int site, size_t size, sm_status *st)
{
    if (size % 5 == 3)
        return sm_env_allocate_aligned(w->env, size, 64, st);   /* plain, like site 0 */
    if (site == 0)
        return sm_env_allocate(w->env, size, st);
    return sm_env_allocate_at(w->env, size, st, tw_file[site], tw_line[site]);
}

static void tw_alloc(tw *w, int site, size_t size)
{
    sm_stats before = tu_stats(w->env), after;
    size_t refused = tw_refused(w), lb = w->c.live_bytes;
    sm_status st = SM_INVALID_HANDLE;
    int failed = 0;
    void *p;
    if (size % 5 == 3)
        site = 0;
    p = tw_call(w, site, size, &st);
    if (!p) {
        failed = 1;
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        CHECK_EQ_SIZE(tw_refused(w), refused + 1);
        CHECK_EQ_SIZE(w->c.live_bytes, lb);
        after = tu_stats(w->env);
        tw_same_stats(after, before);
        w->failures++;
        tw_disarm(w);
        tw_check(w);
        st = SM_INVALID_HANDLE;
        p = tw_call(w, site, size, &st);
    }
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(p != NULL);
    REQUIRE(w->n < TW_MAX);
    if (!failed && tw_refused(w) != refused) {
        w->absorbed++;   /* succeeded all the same: the report must show it */
        tw_disarm(w);
    }
    tu_fill(p, size, (unsigned)w->n);
    w->p[w->n] = p;
    w->size[w->n] = size;
    w->site[w->n] = site;
    w->live[w->n] = 1;
    w->n++;
    tw_check(w);
}

static void tw_free(tw *w, int i)
{
    if (i < 0 || i >= w->n || !w->live[i])
        return;
    CHECK(tu_check(w->p[i], w->size[i], (unsigned)i));
    CHECK_EQ_INT(sm_env_free(w->env, w->p[i]), SM_OK);
    w->live[i] = 0;
    tw_check(w);
}

static void tw_realloc(tw *w, int i, size_t size)
{
    sm_stats before, after;
    size_t refused = tw_refused(w), keep = size < w->size[i] ? size : w->size[i];
    sm_status st = SM_INVALID_HANDLE;
    int failed = 0;
    void *p;
    if (i < 0 || i >= w->n || !w->live[i])
        return;
    before = tu_stats(w->env);
    p = sm_env_reallocate(w->env, w->p[i], w->size[i], size, &st);
    if (!p) {
        failed = 1;
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        CHECK_EQ_SIZE(tw_refused(w), refused + 1);
        CHECK(tu_check(w->p[i], w->size[i], (unsigned)i));   /* untouched */
        after = tu_stats(w->env);
        tw_same_stats(after, before);
        w->failures++;
        tw_disarm(w);
        tw_check(w);
        st = SM_INVALID_HANDLE;
        p = sm_env_reallocate(w->env, w->p[i], w->size[i], size, &st);
    }
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(p != NULL);
    if (!failed && tw_refused(w) != refused) {
        w->absorbed++;
        tw_disarm(w);
    }
    CHECK(tu_check(p, keep, (unsigned)i));
    tu_fill(p, size, (unsigned)i);
    w->p[i] = p;
    w->size[i] = size;
    tw_check(w);
}

static void tw_reset(tw *w)
{
    size_t refused = tw_refused(w);
    int i;
    for (i = 0; i < w->n; i++) {
        if (w->live[i])
            CHECK(tu_check(w->p[i], w->size[i], (unsigned)i));
        w->live[i] = 0;
    }
    CHECK_EQ_INT(sm_env_reset(w->env), SM_OK);   /* cannot fail */
    if (tw_refused(w) != refused) {
        w->silent++;
        tw_disarm(w);
    }
    tw_check(w);
}

static void tw_workload(tw *w)
{
    static const size_t sizes[] = { 0, 1, 24, 300, 40, 7, 64, 129, 2000, 16, 5, 33 };
    sm_config cfg = tc_config(&w->c, 256);
    size_t refused = tw_refused(w);
    sm_status st = SM_INVALID_HANDLE;
    tu_site want[TW_SITES];
    size_t nwant;
    int i;
    cfg.flags = SM_TRACK;
    cfg.report = tu_report_fn;
    cfg.report_user = &w->at_destroy;
    w->env = sm_env_create(&cfg, &st);
    if (!w->env) {
        CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
        CHECK_EQ_SIZE(tw_refused(w), refused + 1);
        w->failures++;
        tw_disarm(w);
        w->env = sm_env_create(&cfg, &st);
    }
    REQUIRE(w->env != NULL);
    tw_check(w);
    for (i = 0; i < 50; i++)
        tw_alloc(w, i % TW_SITES, sizes[i % 12]);
    for (i = 0; i < 50; i += 3)
        tw_free(w, i);
    tw_realloc(w, 1, 500);
    tw_realloc(w, 4, 10);
    tw_realloc(w, w->n - 1, 200);   /* the last block */
    tw_realloc(w, 8, 3000);
    tw_realloc(w, 13, 0);
    tw_free(w, w->n - 1);           /* rolls back */
    tw_alloc(w, 2, 48);
    tw_reset(w);
    for (i = 0; i < 40; i++)
        tw_alloc(w, (i * 3) % TW_SITES, sizes[(i * 7) % 12]);
    for (i = 50; i < w->n; i += 2)
        tw_free(w, i);
    tw_realloc(w, 51, 700);
    tw_realloc(w, 53, 1);
    for (i = 0; i < 4; i++)   /* chunks of their own again */
        tw_alloc(w, i + 1, 20000 + (size_t)i);
    tw_free(w, w->n - 3);
    tw_realloc(w, w->n - 1, 30000);
    /* destroy: config.report gets the live blocks (one call each if grouping ran out) */
    nwant = tw_expect(w, want);
    refused = tw_refused(w);
    tu_report_init(&w->at_destroy);
    CHECK_EQ_INT(sm_env_destroy(w->env), SM_OK);
    w->env = NULL;
    if (tw_refused(w) != refused) {
        w->silent++;
        tw_disarm(w);
        CHECK(w->bookkeeping);
        CHECK_EQ_SIZE(w->at_destroy.calls, w->at_destroy.n);
        for (i = 0; i < (int)w->at_destroy.n; i++)
            CHECK_EQ_SIZE(w->at_destroy.e[i].blocks, 1);
        tu_report_merge(&w->at_destroy);
    }
    CHECK_REPORT(&w->at_destroy, want, nwant);
}

static void tw_init(tw *w, int bookkeeping)
{
    memset(w, 0, sizeof *w);
    tc_init(&w->c);
    w->bookkeeping = bookkeeping;
}

/* How many calls a run makes can vary a little: which spare chunk a cursor takes after reset
   depends on where the backing allocator put the chunks. So k runs a bit past the dry run's
   count, and a run that made fewer than k calls must simply have had no failure. */
TEST(track_backing_failure_at_every_call)
{
    static tw w;
    size_t total, k;
    tw_init(&w, 0);
    tw_workload(&w);
    total = w.c.calls;
    CHECK(total > 8);   /* the environment, two normal chunks, single chunks */
    CHECK_EQ_INT(w.failures, 0);
    CHECK_EQ_SIZE(w.c.live_bytes, 0);
    for (k = 1; k <= total + 4; k++) {
        tw_init(&w, 0);
        w.c.fail_at = k;
        tw_workload(&w);
        if (w.failures != (w.c.calls >= k))
            th_check_num(__FILE__, __LINE__, "one failure at call k (k is got)", (long long)k, -1, 0);
        CHECK_EQ_SIZE(w.c.refused, w.c.calls >= k);
        CHECK_EQ_SIZE(w.c.live_bytes, 0);
        CHECK_EQ_SIZE(w.c.live_blocks, 0);
        CHECK_EQ_SIZE(w.c.bad_frees, 0);
    }
}

TEST(track_bookkeeping_failure_at_every_call)
{
    static tw w;
    size_t base, total, k;
    long live;
    /* a dry run, then one that counts the bookkeeping calls */
    tw_init(&w, 1);
    tw_workload(&w);
    CHECK_EQ_INT(w.failures, 0);
    live = tb_live;
    base = tb_calls;
    tw_init(&w, 1);
    tw_workload(&w);
    total = tb_calls - base;
    CHECK(total > 50);
    CHECK_EQ_INT(tb_live, live);
    for (k = 1; k <= total + 10; k++) {
        size_t refused = tb_refused, used;
        int expect;
        tw_init(&w, 1);
        base = tb_calls;
        tb_fail_at = base + k;
        tw_workload(&w);
        tb_fail_at = 0;
        used = tb_calls - base;
        expect = used >= k;
        CHECK_EQ_SIZE(tb_refused, refused + (size_t)expect);
        if (w.failures + w.silent + w.absorbed != expect)
            th_check_num(__FILE__, __LINE__, "one failure at bookkeeping call k (k is got)",
                         (long long)k, -1, 0);
        CHECK_EQ_SIZE(w.c.live_bytes, 0);
        CHECK_EQ_SIZE(w.c.bad_frees, 0);
        CHECK_EQ_INT(tb_live, live);   /* no bookkeeping leaked */
    }
}

/* The records of 4,000 blocks, arrays that grow past 32 KiB in chunks of 1 MiB, go back with
   their chunks (larger than what a thread keeps of an environment): the bookkeeping count
   returns. */
TEST(track_large_records_returned)
{
    sm_config cfg;
    long live = 0;
    int round, i;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = SM_TRACK;
    cfg.chunk_size = (size_t)1 << 20;
    for (round = 0; round < 2; round++) {   /* the first warms what the thread keeps */
        sm_env *env;
        if (round == 1)
            live = tb_live;
        env = sm_env_create(&cfg, NULL);
        CHECK(env != NULL);
        if (!env)
            return;
        for (i = 0; i < 4000; i++)
            CHECK(sm_env_allocate_at(env, 16, NULL, __FILE__, __LINE__) != NULL);
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    }
    CHECK_EQ_INT(tb_live, live);
}

#ifndef SMALLOC_NO_THREADS

/* --- thread exit ---------------------------------------------------------------------------- */

typedef struct exit_arg {
    tc_alloc *c;
    tu_report *outer, *inner;
    int line;
    int ok;
} exit_arg;

static void track_and_exit(void *p)
{
    exit_arg *a = (exit_arg *)p;
    sm_config cfg = tc_config(a->c, 1024);
    void *q;
    cfg.flags = SM_TRACK;
    cfg.report = tu_report_fn;
    cfg.report_user = a->outer;
    a->ok = sm_enable_allocate_with(&cfg) == SM_OK;
    a->ok = a->ok && sm_allocate_at(100, NULL, "t.c", 1) != NULL;
    a->line = __LINE__; a->ok = a->ok && SM_ALLOCATE(7, NULL) != NULL;
    q = sm_allocate_at(3, NULL, "t.c", 1);
    a->ok = a->ok && q != NULL && sm_allocate(9, NULL) != NULL && sm_free(q) == SM_OK;
    /* a nested one with nothing live: its report function is not called */
    cfg.report_user = a->inner;
    a->ok = a->ok && sm_enable_allocate_with(&cfg) == SM_OK;
    q = sm_allocate_at(3, NULL, "t.c", 1);
    a->ok = a->ok && q != NULL && sm_free(q) == SM_OK;
}

/* An exiting thread's environments report what is still live, each to its own function. */
TEST(report_at_thread_exit)
{
    tc_alloc c;
    tu_report outer, inner;
    exit_arg a;
    th_thread t;
    tc_init(&c);
    tu_report_init(&outer);
    tu_report_init(&inner);
    memset(&a, 0, sizeof a);
    a.c = &c;
    a.outer = &outer;
    a.inner = &inner;
    REQUIRE(th_thread_start(&t, track_and_exit, &a));
    th_thread_join(&t);
    CHECK(a.ok);
    {
        const tu_site want[] = { { NULL, 0, 1, 9 }, { "t.c", 1, 1, 100 }, { __FILE__, a.line, 1, 7 } };
        CHECK_REPORT(&outer, want, NW(want));
    }
    CHECK_EQ_SIZE(inner.calls, 0);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Blocks allocated by several threads in one environment are reported together. */
typedef struct share_arg {
    sm_env *env;
    int id;
    int ok;
} share_arg;

static void track_share(void *p)
{
    share_arg *a = (share_arg *)p;
    int i;
    a->ok = 1;
    for (i = 0; i < 200; i++) {
        void *q = sm_env_allocate_at(a->env, (size_t)a->id + 1, NULL, "shared.c", a->id);
        a->ok = a->ok && q != NULL;
        if (q && i % 2)
            a->ok = a->ok && sm_env_free(a->env, q) == SM_OK;
    }
}

TEST(report_several_threads)
{
    enum { T = 3 };
    tc_alloc c;
    share_arg a[T];
    th_thread t[T];
    sm_env *env;
    int i;
    tc_init(&c);
    env = track_env(&c, 512, 0, NULL);
    REQUIRE(env != NULL);
    for (i = 0; i < T; i++) {
        a[i].env = env;
        a[i].id = i;
        REQUIRE(th_thread_start(&t[i], track_share, &a[i]));
    }
    for (i = 0; i < T; i++) {
        th_thread_join(&t[i]);
        CHECK(a[i].ok);
    }
    {
        const tu_site want[] = { { "shared.c", 0, 100, 100 }, { "shared.c", 1, 100, 200 },
                                 { "shared.c", 2, 100, 300 } };
        CHECK_ENV_REPORT(env, want, NW(want));
    }
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

#endif /* SMALLOC_NO_THREADS */

void suite_track(void)
{
    RUN(report_exact_sites);
    RUN(report_single_chunks);
    RUN(report_reallocate);
    RUN(report_callback_may_call_smalloc);
    RUN(report_needs_track);
    RUN(report_at_destroy);
    RUN(report_at_disable_nested);
    RUN(track_bookkeeping_refused);
    RUN(track_refused_growth_keeps_figures);
    RUN(report_at_destroy_without_memory);
    RUN(track_backing_failure_at_every_call);
    RUN(track_bookkeeping_failure_at_every_call);
    RUN(track_large_records_returned);
#ifndef SMALLOC_NO_THREADS
    RUN(report_at_thread_exit);
    RUN(report_several_threads);
#endif
}
