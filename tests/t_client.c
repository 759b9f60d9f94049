/* t_client.c - the client allocator pair: default pair in plain and manager code, set/swap per
   thread, NULL functions refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "suites.h"

static int my_alloc_calls, my_free_calls, my2_alloc_calls;
static void *my_last_freed;
static unsigned char my_buf[4][256];

static void *my_alloc(size_t size)
{
    my_alloc_calls++;
    return size <= sizeof my_buf[0] ? my_buf[0] : NULL;
}
static void my_free(void *p)
{
    my_free_calls++;
    my_last_freed = p;
}
static void *my2_alloc(size_t size)
{
    my2_alloc_calls++;
    return size <= sizeof my_buf[1] ? my_buf[1] : NULL;
}
static void my2_free(void *p) { (void)p; }

/* The default pair's functions, as swap reports them; the pair is then put back. */
static void default_pair(sm_client_alloc_fn **a, sm_client_free_fn **f)
{
    *a = NULL;
    *f = NULL;
    CHECK_EQ_INT(sm_swap_client_alloc_free(my_alloc, my_free, a, f), SM_OK);
    CHECK(*a != NULL && *f != NULL);
    CHECK(*a != my_alloc && *f != my_free);
    CHECK_EQ_INT(sm_set_client_alloc_free(*a, *f), SM_OK);
}

/* Plain code (no current environment): malloc and free; size 0 gives a block. */
static void plain_pair_checks(void)
{
    unsigned char *p = (unsigned char *)sm_client_allocate(0);
    CHECK(p != NULL);
    if (p)
        p[0] = 1;
    CHECK_EQ_INT(sm_client_free(p), SM_OK);
    p = (unsigned char *)sm_client_allocate(1000);
    REQUIRE(p != NULL);
    memset(p, 0x33, 1000);
    CHECK_EQ_SIZE((uintptr_t)p % TC_MAX_ALIGN, 0);
    CHECK_EQ_INT(sm_client_free(p), SM_OK);
    CHECK_EQ_INT(sm_client_free(NULL), SM_OK);
    p = (unsigned char *)malloc(10);   /* the default free is free() */
    REQUIRE(p != NULL);
    CHECK_EQ_INT(sm_client_free(p), SM_OK);
}

TEST(default_pair_plain)
{
    sm_status st;
    CHECK(sm_get_thread_handle(&st) == NULL);
    plain_pair_checks();
}

/* Manager code (a current environment): the environment's allocate and mark-free. */
TEST(default_pair_manager)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    void *p, *q, *heap;
    sm_stats s;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    REQUIRE(sm_set_thread_handle(sm_env_handle(env)) == SM_OK);
    p = sm_client_allocate(100);
    q = sm_client_allocate(0);
    REQUIRE(p != NULL && q != NULL);
    CHECK(p != q);
    memset(p, 1, 100);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 2);
    CHECK(s.live_bytes >= TC_ROUND(100) && s.live_bytes <= TC_ROUND(100) + TC_GRAIN);
    CHECK_EQ_INT(sm_client_free(p), SM_OK);             /* marked free in the environment */
    CHECK_EQ_INT(sm_client_free(p), SM_INVALID_ARG);    /* the mark-free status */
    heap = malloc(16);
    REQUIRE(heap != NULL);
    CHECK_EQ_INT(sm_client_free(heap), SM_INVALID_ARG);  /* not the environment's: not freed */
    free(heap);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 1);
    CHECK_EQ_INT(sm_free(q), SM_OK);                    /* the environment's own block */
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    /* detached again: plain code */
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    s = tu_stats(env);
    plain_pair_checks();
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, s.live_blocks);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    /* with an enabled environment the same holds */
    tc_init(&c);
    cfg = tc_config(&c, 0);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    p = sm_client_allocate(64);
    CHECK(p != NULL);
    CHECK(c.live_blocks >= 2);   /* the environment (with its cursor), a chunk */
    CHECK_EQ_INT(sm_free(p), SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(set_and_swap)
{
    sm_client_alloc_fn *oa = NULL, *da, *x;
    sm_client_free_fn *of = NULL, *df, *y;
    void *p;
    my_alloc_calls = my_free_calls = my2_alloc_calls = 0;
    default_pair(&da, &df);
    CHECK_EQ_INT(sm_set_client_alloc_free(my_alloc, my_free), SM_OK);
    p = sm_client_allocate(10);
    CHECK_EQ_PTR(p, my_buf[0]);
    CHECK_EQ_INT(my_alloc_calls, 1);
    CHECK_EQ_INT(sm_client_free(p), SM_OK);
    CHECK_EQ_INT(my_free_calls, 1);
    CHECK_EQ_PTR(my_last_freed, my_buf[0]);
    /* swap returns exactly the pair in force */
    CHECK_EQ_INT(sm_swap_client_alloc_free(my2_alloc, my2_free, &oa, &of), SM_OK);
    CHECK(oa == my_alloc);
    CHECK(of == my_free);
    CHECK_EQ_PTR(sm_client_allocate(10), my_buf[1]);
    CHECK_EQ_INT(my2_alloc_calls, 1);
    CHECK_EQ_INT(my_alloc_calls, 1);
    /* passing it back restores it */
    CHECK_EQ_INT(sm_swap_client_alloc_free(oa, of, &x, &y), SM_OK);
    CHECK(x == my2_alloc);
    CHECK(y == my2_free);
    CHECK_EQ_PTR(sm_client_allocate(10), my_buf[0]);
    CHECK_EQ_INT(my_alloc_calls, 2);
    /* swap with no place for the old pair */
    CHECK_EQ_INT(sm_swap_client_alloc_free(my2_alloc, my2_free, NULL, NULL), SM_OK);
    CHECK_EQ_PTR(sm_client_allocate(1), my_buf[1]);
    /* back to the default pair: exactly the default behaviour again */
    CHECK_EQ_INT(sm_swap_client_alloc_free(da, df, &x, &y), SM_OK);
    CHECK(x == my2_alloc && y == my2_free);
    {
        tc_alloc c;
        sm_config cfg;
        void *heap = malloc(8);
        tc_init(&c);
        cfg = tc_config(&c, 0);
        REQUIRE(heap != NULL);
        REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
        p = sm_client_allocate(10);
        CHECK(p != NULL && p != my_buf[0] && p != my_buf[1]);
        CHECK_EQ_INT(sm_client_free(heap), SM_INVALID_ARG);   /* the default's mark-free status */
        CHECK_EQ_INT(sm_client_free(p), SM_OK);
        CHECK_EQ_INT(sm_client_free(p), SM_INVALID_ARG);
        CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
        CHECK_EQ_SIZE(c.live_bytes, 0);
        free(heap);
    }
    plain_pair_checks();
}

TEST(null_functions_refused)
{
    sm_client_alloc_fn *da, *oa = my2_alloc;
    sm_client_free_fn *df, *of = my2_free;
    default_pair(&da, &df);
    CHECK_EQ_INT(sm_set_client_alloc_free(my_alloc, my_free), SM_OK);
    my_alloc_calls = 0;
    CHECK_EQ_INT(sm_set_client_alloc_free(NULL, my2_free), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_set_client_alloc_free(my2_alloc, NULL), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_set_client_alloc_free(NULL, NULL), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_swap_client_alloc_free(NULL, my2_free, &oa, &of), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_swap_client_alloc_free(my2_alloc, NULL, &oa, &of), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_swap_client_alloc_free(NULL, NULL, NULL, NULL), SM_INVALID_ARG);
    /* nothing changed: my pair is still in force */
    CHECK_EQ_PTR(sm_client_allocate(5), my_buf[0]);
    CHECK_EQ_INT(my_alloc_calls, 1);
    CHECK_EQ_INT(sm_swap_client_alloc_free(da, df, &oa, &of), SM_OK);
    CHECK(oa == my_alloc && of == my_free);
}

#ifndef SMALLOC_NO_THREADS
typedef struct pair_arg {
    sm_client_alloc_fn *a;
    sm_client_free_fn *f;
    void *p;
    sm_status st;
} pair_arg;

static void fresh_thread_pair(void *arg)
{
    pair_arg *pa = (pair_arg *)arg;
    sm_client_alloc_fn *a = NULL;
    sm_client_free_fn *f = NULL;
    /* this thread never set a pair: the default, whatever another thread set */
    pa->p = sm_client_allocate(0);
    pa->st = sm_client_free(pa->p);
    CHECK(pa->p != my_buf[0]);
    CHECK_EQ_INT(sm_swap_client_alloc_free(my2_alloc, my2_free, &a, &f), SM_OK);
    pa->a = a;
    pa->f = f;
    CHECK_EQ_PTR(sm_client_allocate(1), my_buf[1]);
    CHECK_EQ_INT(sm_set_client_alloc_free(a, f), SM_OK);
    plain_pair_checks();
}

/* The pair is per thread. */
TEST(pair_per_thread)
{
    sm_client_alloc_fn *da;
    sm_client_free_fn *df;
    pair_arg pa;
    th_thread t;
    default_pair(&da, &df);
    CHECK_EQ_INT(sm_set_client_alloc_free(my_alloc, my_free), SM_OK);
    memset(&pa, 0, sizeof pa);
    REQUIRE(th_thread_start(&t, fresh_thread_pair, &pa));
    th_thread_join(&t);
    CHECK(pa.p != NULL);
    CHECK_EQ_INT(pa.st, SM_OK);
    CHECK(pa.a == da);
    CHECK(pa.f == df);
    /* and this thread's pair did not change */
    CHECK_EQ_PTR(sm_client_allocate(3), my_buf[0]);
    CHECK_EQ_INT(sm_set_client_alloc_free(da, df), SM_OK);
}

static void plain_thread(void *arg)
{
    (void)arg;
    plain_pair_checks();
}

TEST(default_pair_plain_thread)
{
    th_thread t;
    REQUIRE(th_thread_start(&t, plain_thread, NULL));
    th_thread_join(&t);
}
#endif

void suite_client(void)
{
    RUN(default_pair_plain);
    RUN(default_pair_manager);
    RUN(set_and_swap);
    RUN(null_functions_refused);
#ifndef SMALLOC_NO_THREADS
    RUN(pair_per_thread);
    RUN(default_pair_plain_thread);
#endif
}
