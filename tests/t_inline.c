/* t_inline.c - the inline fast path of sm_env_allocate and sm_allocate (the macros) against the
   functions it falls back to, called by name in parentheses or through a pointer. */
#include <stdint.h>
#include <string.h>
#include "counting.h"
#include "harness.h"
#include "threads.h"
#include "util.h"
#include "../smalloc.h"
#include "suites.h"

#define INLINE_BLOCKS 3000

typedef void *env_allocate_fn(sm_env *env, size_t size, sm_status *status);
typedef void *allocate_fn(size_t size, sm_status *status);

/* Where the header promises the inline path, this build must have it: otherwise the other tests
   of this file would compare the functions with themselves. */
TEST(inline_path_present_here)
{
#if (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__) && (defined(__x86_64__) || defined(__aarch64__))
#ifndef SM__INLINE_FAST_PATH
    CHECK(!"the inline fast path is off in a build that should have it");
#endif
#endif
    CHECK(1);
}

/* Blocks from the macro, the function and a pointer to it, interleaved in one environment: each
   reports SM_OK, none overlaps another, and each is a block that mark-free knows (its start
   bit was set), exactly once. */
TEST(inline_and_called_env_allocations_agree)
{
    static void *p[INLINE_BLOCKS];
    static tu_range r[INLINE_BLOCKS];
    env_allocate_fn *const by_pointer = sm_env_allocate;
    size_t i, live = 0;
    sm_status st;
    sm_stats s;
    sm_env *env = sm_env_create(NULL, &st);
    CHECK(env != NULL);
    if (!env)
        return;
    for (i = 0; i < INLINE_BLOCKS; i++) {
        size_t n = 1 + (i * 37) % 500;
        st = SM_INVALID_ARG;
        p[i] = i % 3 == 0 ? sm_env_allocate(env, n, &st)
             : i % 3 == 1 ? (sm_env_allocate)(env, n, &st) : by_pointer(env, n, &st);
        CHECK_EQ_INT(st, SM_OK);
        CHECK(p[i] != NULL && (uintptr_t)p[i] % TC_MAX_ALIGN == 0);
        if (!p[i])
            return;
        memset(p[i], (int)(i & 0xff), n);
        r[i].start = (uintptr_t)p[i];
        r[i].size = n;
        live += n;
    }
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, INLINE_BLOCKS);
    CHECK(s.live_bytes >= live);
    for (i = 0; i < INLINE_BLOCKS; i++)
        CHECK_EQ_INT(sm_env_free(env, p[i]), SM_OK);
    for (i = 0; i < INLINE_BLOCKS; i++)
        CHECK_EQ_INT(sm_env_free(env, p[i]), SM_INVALID_ARG);
    CHECK(tu_no_overlap(r, INLINE_BLOCKS));
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* The same for sm_allocate in an enabled environment; and once it is disabled, both forms
   refuse with the same status. */
TEST(inline_and_called_allocations_agree)
{
    static void *p[INLINE_BLOCKS];
    allocate_fn *const by_pointer = sm_allocate;
    size_t i;
    sm_status st;
    CHECK_EQ_INT(sm_enable_allocate(), SM_OK);
    for (i = 0; i < INLINE_BLOCKS; i++) {
        size_t n = 1 + (i * 53) % 700;
        st = SM_INVALID_ARG;
        p[i] = i % 3 == 0 ? sm_allocate(n, &st) : i % 3 == 1 ? (sm_allocate)(n, &st) : by_pointer(n, &st);
        CHECK_EQ_INT(st, SM_OK);
        CHECK(p[i] != NULL);
        if (!p[i])
            break;
    }
    for (i = 0; i < INLINE_BLOCKS && p[i]; i++)
        CHECK_EQ_INT(sm_free(p[i]), SM_OK);
    CHECK_EQ_INT(sm_free(p[0]), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    st = SM_OK;
    CHECK(sm_allocate(16, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    st = SM_OK;
    CHECK((sm_allocate)(16, &st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    CHECK(sm_allocate(16, NULL) == NULL);
}

/* An environment with flags is the functions' alone: with SM_RECYCLE, the macro's next block of
   a size just marked free is that block, which only the function's recycling can give. */
TEST(inline_path_leaves_flagged_env_to_calls)
{
    sm_config cfg;
    sm_status st;
    sm_env *env;
    void *a, *b;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = SM_RECYCLE;
    env = sm_env_create(&cfg, &st);
    CHECK(env != NULL);
    if (!env)
        return;
    a = sm_env_allocate(env, 48, &st);
    b = sm_env_allocate(env, 48, &st);   /* keeps a from being the last block */
    CHECK(a != NULL && b != NULL);
    CHECK_EQ_INT(sm_env_free(env, a), SM_OK);
    CHECK(sm_env_allocate(env, 48, &st) == a);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* A thread that does not own the solo cursor allocates from its own cursor, which its cache
   finds (the functions' fast path), and marks free there; the solo thread's blocks stay
   intact, and mark-free stays exact for both. */
typedef struct second_job {
    sm_env *env;
    void *p[INLINE_BLOCKS];
    size_t n;
    int ok;
} second_job;

static void second_thread(void *arg)
{
    second_job *j = (second_job *)arg;
    size_t i;
    j->ok = 1;
    for (i = 0; i < INLINE_BLOCKS; i++) {
        sm_status st = SM_INVALID_ARG;
        j->p[i] = sm_env_allocate(j->env, 24 + i % 40, &st);
        if (!j->p[i] || st != SM_OK) {
            j->ok = 0;
            return;
        }
        memset(j->p[i], 0x5a, 24 + i % 40);
    }
    j->n = INLINE_BLOCKS;
    for (i = 0; i < INLINE_BLOCKS; i += 2)
        if (sm_env_free(j->env, j->p[i]) != SM_OK || sm_env_free(j->env, j->p[i]) != SM_INVALID_ARG)
            j->ok = 0;
}

TEST(second_thread_fast_paths_exact)
{
    static second_job job;
    static unsigned char *mine[64];
    th_thread t;
    size_t i, k;
    sm_stats s;
    sm_env *env = sm_env_create(NULL, NULL);
    CHECK(env != NULL);
    if (!env)
        return;
    for (i = 0; i < 64; i++) {
        mine[i] = (unsigned char *)sm_env_allocate(env, 32, NULL);   /* this thread owns solo */
        CHECK(mine[i] != NULL);
        if (!mine[i])
            return;
        memset(mine[i], (int)i, 32);
    }
    job.env = env;
    th_thread_start(&t, second_thread, &job);
    th_thread_join(&t);
    CHECK(job.ok);
    CHECK_EQ_SIZE(job.n, INLINE_BLOCKS);
    for (i = 0; i < 64; i++)
        for (k = 0; k < 32; k++)
            if (mine[i][k] != (unsigned char)i) {
                CHECK(!"a block of the solo thread was overwritten");
                i = 64;
                break;
            }
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 64 + INLINE_BLOCKS / 2);
    CHECK_EQ_SIZE(s.freed_blocks, INLINE_BLOCKS / 2);
    for (i = 1; i < job.n; i += 2)
        CHECK_EQ_INT(sm_env_free(env, job.p[i]), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, job.p[0]), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

void suite_inline(void)
{
    RUN(inline_path_present_here);
    RUN(inline_and_called_env_allocations_agree);
    RUN(inline_and_called_allocations_agree);
    RUN(inline_path_leaves_flagged_env_to_calls);
    RUN(second_thread_fast_paths_exact);
}
