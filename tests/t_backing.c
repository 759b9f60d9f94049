/* t_backing.c - backing allocators whose memory is aligned to less than alignof(max_align_t):
   a pool allocator's 8 bytes, even 1 (API.md section 14). Blocks must still be aligned, mark-free
   exact, describe right, and every byte given back. */
#include <stdint.h>
#include <string.h>
#include "harness.h"
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

void suite_backing(void)
{
    RUN(backing_aligned_to_8);
    RUN(backing_aligned_to_1);
    RUN(backing_skewed_enable);
}
