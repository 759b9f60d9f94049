/* t_cleanups.c - cleanups and child environments (API.md section 13): order, what a cleanup may
   do, reset, removal, memory running out, thread exit, children destroyed with their parent,
   stale handles of children, and several threads at once. */
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "../smalloc.h"
#include "suites.h"

/* A log of the cleanups that ran: each appends its tag. */
typedef struct cl_log { char tags[64]; size_t n; } cl_log;
typedef struct cl_arg { cl_log *log; char tag; } cl_arg;

static void cl_record(void *data)
{
    cl_arg *a = (cl_arg *)data;
    if (a->log->n + 1 < sizeof a->log->tags)
        a->log->tags[a->log->n++] = a->tag;
}

static cl_arg cl_make(cl_log *log, char tag)
{
    cl_arg a;
    a.log = log;
    a.tag = tag;
    return a;
}

TEST(cleanups_last_added_first)
{
    cl_log log;
    cl_arg a[3];
    sm_env *env = sm_env_create(NULL, NULL);
    int i;
    REQUIRE(env != NULL);
    memset(&log, 0, sizeof log);
    for (i = 0; i < 3; i++) {
        a[i] = cl_make(&log, (char)('a' + i));
        CHECK_EQ_INT(sm_env_add_cleanup(env, cl_record, &a[i]), SM_OK);
    }
    CHECK_EQ_SIZE(log.n, 0);   /* nothing runs before the release */
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_STR(log.tags, "cba");
}

/* A cleanup reads a block of its environment: the blocks are still there when it runs. */
typedef struct cl_reader { const char *block; char seen[16]; } cl_reader;

static void cl_read(void *data)
{
    cl_reader *r = (cl_reader *)data;
    memcpy(r->seen, r->block, strlen(r->block) + 1);
}

TEST(cleanup_before_release)
{
    sm_config cfg;
    cl_reader r;
    sm_env *env;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = SM_POISON;   /* a released block would be poisoned (and ASan would stop a read) */
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    memset(&r, 0, sizeof r);
    r.block = sm_env_strdup(env, "still here", NULL);
    REQUIRE(r.block != NULL);
    CHECK_EQ_INT(sm_env_add_cleanup(env, cl_read, &r), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_STR(r.seen, "still here");
}

/* A cleanup that allocates in its environment and adds cleanups: they run too, and nothing
   leaks. */
typedef struct cl_adder { sm_env *env; cl_log *log; cl_arg late; int allocated; } cl_adder;

static void cl_add_more(void *data)
{
    cl_adder *d = (cl_adder *)data;
    d->allocated = sm_env_allocate(d->env, 5000, NULL) != NULL && sm_env_strdup(d->env, "x", NULL) != NULL;
    cl_record(&d->late);
    d->late.tag = 'L';
    (void)sm_env_add_cleanup(d->env, cl_record, &d->late);
}

TEST(cleanup_allocates_and_adds)
{
    tc_alloc c;
    sm_config cfg;
    cl_log log;
    cl_adder d;
    cl_arg first;
    int round;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    for (round = 0; round < 2; round++) {   /* at destroy, then at reset */
        sm_env *env = sm_env_create(&cfg, NULL);
        REQUIRE(env != NULL);
        memset(&log, 0, sizeof log);
        first = cl_make(&log, 'f');
        d.env = env;
        d.log = &log;
        d.late = cl_make(&log, 'a');
        d.allocated = 0;
        CHECK_EQ_INT(sm_env_add_cleanup(env, cl_record, &first), SM_OK);
        CHECK_EQ_INT(sm_env_add_cleanup(env, cl_add_more, &d), SM_OK);
        if (round == 0) {
            CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
        } else {
            CHECK_EQ_INT(sm_env_reset(env), SM_OK);
            CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);   /* its blocks released too */
            CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
        }
        CHECK(d.allocated);
        CHECK_STR(log.tags, "aLf");   /* the added one runs before the older one */
        CHECK_EQ_SIZE(c.live_bytes, 0);
        CHECK_EQ_SIZE(c.bad_frees, 0);
    }
}

TEST(cleanups_at_reset_once)
{
    cl_log log;
    cl_arg a;
    sm_env *env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    memset(&log, 0, sizeof log);
    a = cl_make(&log, 'r');
    CHECK_EQ_INT(sm_env_add_cleanup(env, cl_record, &a), SM_OK);
    CHECK(sm_env_allocate(env, 100, NULL) != NULL);
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK_STR(log.tags, "r");
    /* the list is empty after a reset */
    CHECK_EQ_INT(sm_env_reset(env), SM_OK);
    CHECK_EQ_INT(sm_env_remove_cleanup(env, cl_record, &a), SM_INVALID_ARG);
    CHECK(sm_env_allocate(env, 100, NULL) != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_STR(log.tags, "r");
}

TEST(remove_cleanup)
{
    cl_log log;
    cl_arg one, two;
    sm_env *env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    memset(&log, 0, sizeof log);
    one = cl_make(&log, '1');
    two = cl_make(&log, '2');
    CHECK_EQ_INT(sm_env_add_cleanup(env, cl_record, &one), SM_OK);
    CHECK_EQ_INT(sm_env_add_cleanup(env, cl_record, &two), SM_OK);
    CHECK_EQ_INT(sm_env_add_cleanup(env, cl_record, &one), SM_OK);
    /* the most recent registration of exactly that pair */
    CHECK_EQ_INT(sm_env_remove_cleanup(env, cl_record, &one), SM_OK);
    CHECK_EQ_INT(sm_env_remove_cleanup(env, cl_read, &one), SM_INVALID_ARG);   /* other fn */
    CHECK_EQ_INT(sm_env_remove_cleanup(env, cl_record, &log), SM_INVALID_ARG); /* other data */
    CHECK_EQ_INT(sm_env_add_cleanup(env, NULL, &one), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_add_cleanup(NULL, cl_record, &one), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_remove_cleanup(NULL, cl_record, &one), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_remove_cleanup(env, NULL, &one), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_STR(log.tags, "21");
}

/* Registering needs memory: when the bookkeeping allocator refuses, SM_OUT_OF_MEMORY and the
   list as it was. */
TEST(add_cleanup_out_of_memory)
{
    cl_log log;
    cl_arg a, b;
    sm_env *env = sm_env_create(NULL, NULL);
    int i, refused = 0;
    REQUIRE(env != NULL);
    memset(&log, 0, sizeof log);
    a = cl_make(&log, 'a');
    b = cl_make(&log, 'b');
    CHECK_EQ_INT(sm_env_add_cleanup(env, cl_record, &a), SM_OK);
    /* fill the list's room, then refuse its growth */
    for (i = 0; i < 64 && !refused; i++) {
        sm_status st;
        tb_fail_all = 1;
        st = sm_env_add_cleanup(env, cl_record, &b);
        tb_fail_all = 0;
        if (st == SM_OUT_OF_MEMORY)
            refused = 1;
        else
            CHECK_EQ_INT(st, SM_OK);
    }
    CHECK(refused);
    memset(log.tags, 0, sizeof log.tags);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    /* every registration that succeeded ran once, the refused one not at all */
    CHECK_EQ_SIZE(log.n, (size_t)i);
    CHECK_EQ_INT(log.tags[log.n - 1], 'a');
}

/* The owner's disable and thread exit run the cleanups, once. */
#ifndef SMALLOC_NO_THREADS
static cl_log exit_log;
static cl_arg exit_arg;

static void cl_thread_enables(void *unused)
{
    (void)unused;
    if (sm_enable_allocate() != SM_OK)
        return;
    (void)sm_env_add_cleanup(sm_current_env(NULL), cl_record, &exit_arg);
    (void)sm_allocate(100, NULL);
    /* exits without disabling */
}
#endif

TEST(cleanups_at_disable_and_thread_exit)
{
    cl_log log;
    cl_arg a;
    memset(&log, 0, sizeof log);
    a = cl_make(&log, 'd');
    REQUIRE(sm_enable_allocate() == SM_OK);
    CHECK_EQ_INT(sm_env_add_cleanup(sm_current_env(NULL), cl_record, &a), SM_OK);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_STR(log.tags, "d");
#ifndef SMALLOC_NO_THREADS
    {
        th_thread t;
        memset(&exit_log, 0, sizeof exit_log);
        exit_arg = cl_make(&exit_log, 'x');
        REQUIRE(th_thread_start(&t, cl_thread_enables, NULL));
        th_thread_join(&t);
        CHECK_STR(exit_log.tags, "x");
    }
#endif
}

TEST(children_destroyed_with_parent)
{
    tc_alloc c;
    sm_config cfg;
    cl_log log;
    cl_arg ap, a1, a2, ag;
    sm_env *p, *c1, *c2, *g1;
    sm_thread_handle h1, hg;
    sm_status st = SM_INVALID_HANDLE;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    memset(&log, 0, sizeof log);
    p = sm_env_create(&cfg, NULL);
    REQUIRE(p != NULL);
    c1 = sm_env_create_child(p, NULL, &st);
    CHECK_EQ_INT(st, SM_OK);
    c2 = sm_env_create_child(p, NULL, NULL);
    g1 = sm_env_create_child(c1, NULL, NULL);
    REQUIRE(c1 && c2 && g1);
    ap = cl_make(&log, 'p');
    a1 = cl_make(&log, '1');
    a2 = cl_make(&log, '2');
    ag = cl_make(&log, 'g');
    CHECK_EQ_INT(sm_env_add_cleanup(p, cl_record, &ap), SM_OK);
    CHECK_EQ_INT(sm_env_add_cleanup(c1, cl_record, &a1), SM_OK);
    CHECK_EQ_INT(sm_env_add_cleanup(c2, cl_record, &a2), SM_OK);
    CHECK_EQ_INT(sm_env_add_cleanup(g1, cl_record, &ag), SM_OK);
    /* own handles, blocks and figures; the backing allocator is the parent's */
    h1 = sm_env_handle(c1);
    hg = sm_env_handle(g1);
    CHECK(h1 != sm_env_handle(p) && h1 != hg);
    CHECK(sm_env_allocate(c1, 100, NULL) != NULL);
    CHECK(sm_env_allocate(g1, 100000, NULL) != NULL);
    CHECK_EQ_SIZE(tu_stats(p).live_blocks, 0);
    CHECK_EQ_SIZE(tu_stats(c1).live_blocks, 1);
    CHECK(c.live_blocks >= 6);   /* four environments, a chunk, a block of its own */
    /* the last created first, grandchildren before children, then the parent's cleanups */
    CHECK_EQ_INT(sm_env_destroy(p), SM_OK);
    CHECK_STR(log.tags, "2g1p");
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
    /* the children's handles are stale */
    CHECK_EQ_INT(sm_set_thread_handle(h1), SM_INVALID_HANDLE);
    CHECK_EQ_INT(sm_set_thread_handle(hg), SM_INVALID_HANDLE);
}

TEST(child_destroyed_first_is_forgotten)
{
    tc_alloc c;
    sm_config cfg;
    cl_log log;
    cl_arg a;
    sm_env *p, *child, *keep;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    memset(&log, 0, sizeof log);
    p = sm_env_create(&cfg, NULL);
    REQUIRE(p != NULL);
    child = sm_env_create_child(p, NULL, NULL);
    keep = sm_env_create_child(p, NULL, NULL);
    REQUIRE(child && keep);
    a = cl_make(&log, 'c');
    CHECK_EQ_INT(sm_env_add_cleanup(child, cl_record, &a), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(child), SM_OK);
    CHECK_STR(log.tags, "c");
    CHECK_EQ_INT(sm_env_destroy(p), SM_OK);   /* destroys keep, not child again */
    CHECK_STR(log.tags, "c");
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

TEST(reset_destroys_children)
{
    cl_log log;
    cl_arg a;
    sm_env *p = sm_env_create(NULL, NULL), *child;
    sm_thread_handle h;
    REQUIRE(p != NULL);
    memset(&log, 0, sizeof log);
    child = sm_env_create_child(p, NULL, NULL);
    REQUIRE(child != NULL);
    h = sm_env_handle(child);
    a = cl_make(&log, 'k');
    CHECK_EQ_INT(sm_env_add_cleanup(child, cl_record, &a), SM_OK);
    CHECK(sm_env_allocate(p, 10, NULL) != NULL);
    CHECK_EQ_INT(sm_env_reset(p), SM_OK);
    CHECK_STR(log.tags, "k");
    CHECK_EQ_INT(sm_set_thread_handle(h), SM_INVALID_HANDLE);
    /* the parent goes on, and takes new children */
    child = sm_env_create_child(p, NULL, NULL);
    CHECK(child != NULL);
    CHECK(sm_env_allocate(child, 10, NULL) != NULL);
    /* resetting a child leaves it its parent's */
    CHECK_EQ_INT(sm_env_reset(child), SM_OK);
    CHECK_EQ_INT(sm_env_add_cleanup(child, cl_record, &a), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(p), SM_OK);
    CHECK_STR(log.tags, "kk");
}

/* config NULL copies the parent's configuration: backing allocator, chunk size, flags, report. */
TEST(child_config_copied)
{
    tc_alloc c;
    sm_config cfg, own;
    tu_report at_destroy;
    sm_env *p, *child, *plain;
    size_t calls;
    sm_status st = SM_OK;
    tc_init(&c);
    cfg = tc_config(&c, 16384);
    cfg.flags = SM_TRACK;
    cfg.report = tu_report_fn;
    cfg.report_user = &at_destroy;
    tu_report_init(&at_destroy);
    p = sm_env_create(&cfg, NULL);
    REQUIRE(p != NULL);
    calls = c.calls;
    child = sm_env_create_child(p, NULL, NULL);
    REQUIRE(child != NULL);
    CHECK(c.calls > calls);   /* the parent's backing allocator */
    CHECK(sm_env_allocate_at(child, 24, NULL, "child.c", 7) != NULL);
    CHECK_EQ_SIZE(c.log_size[c.nlog - 1], 16384);   /* its chunk size */
    {
        const tu_site want[] = { { "child.c", 7, 1, 24 } };
        CHECK_ENV_REPORT(child, want, 1);   /* SM_TRACK */
    }
    /* a configuration of its own */
    memset(&own, 0, sizeof own);
    plain = sm_env_create_child(p, &own, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(plain != NULL);
    CHECK_EQ_INT(sm_env_report(plain, tu_report_fn, &at_destroy), SM_INVALID_ARG);   /* no SM_TRACK */
    own.flags = 99;
    CHECK(sm_env_create_child(p, &own, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    st = SM_OK;
    CHECK(sm_env_create_child(NULL, NULL, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    /* the child's report comes when its parent destroys it */
    CHECK_EQ_INT(sm_env_destroy(p), SM_OK);
    {
        const tu_site want[] = { { "child.c", 7, 1, 24 } };
        CHECK_REPORT(&at_destroy, want, 1);
    }
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Out of memory while creating a child: NULL + SM_OUT_OF_MEMORY, the parent as it was.
   Entering it in the parent's list needs no memory: a child made is a child adopted. */
TEST(child_out_of_memory)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *p, *child;
    sm_status st = SM_OK;
    size_t live;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    p = sm_env_create(&cfg, NULL);
    REQUIRE(p != NULL);
    live = c.live_blocks;
    c.fail_at = c.calls + 1;   /* the child's own memory */
    CHECK(sm_env_create_child(p, NULL, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    CHECK_EQ_SIZE(c.live_blocks, live);
    tb_fail_all = 1;           /* the bookkeeping allocator refusing: the list needs none */
    child = sm_env_create_child(p, NULL, &st);
    tb_fail_all = 0;
    CHECK(child != NULL);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_INT(sm_env_destroy(p), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* A child destroyed early leaves its siblings in the order they were created (the API fuzzer
   found them swapped): the parent still destroys the last created first. */
TEST(children_order_after_early_destroy)
{
    cl_log log;
    cl_arg a[4];
    sm_env *p = sm_env_create(NULL, NULL), *k[4];
    int i;
    REQUIRE(p != NULL);
    memset(&log, 0, sizeof log);
    for (i = 0; i < 4; i++) {
        k[i] = sm_env_create_child(p, NULL, NULL);
        REQUIRE(k[i] != NULL);
        a[i] = cl_make(&log, (char)('1' + i));
        CHECK_EQ_INT(sm_env_add_cleanup(k[i], cl_record, &a[i]), SM_OK);
    }
    CHECK_EQ_INT(sm_env_destroy(k[0]), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(k[2]), SM_OK);
    CHECK_STR(log.tags, "13");
    CHECK_EQ_INT(sm_env_destroy(p), SM_OK);
    CHECK_STR(log.tags, "1342");
}

/* Children nested deeper than a recursion could go: destroyed deepest first, each once. (60,000:
   a 32-bit target has 65,280 environments alive at most.) */
#define NESTED 60000
static size_t nested_done;
static void count_nested(void *data)
{
    size_t depth = (size_t)data;
    CHECK_EQ_SIZE(depth, NESTED - 1 - nested_done);   /* the deepest first */
    nested_done++;
}

TEST(children_nested_deep)
{
    sm_env *root = sm_env_create(NULL, NULL), *at;
    size_t i;
    REQUIRE(root != NULL);
    at = root;
    for (i = 0; i < NESTED; i++) {
        at = sm_env_create_child(at, NULL, NULL);
        REQUIRE(at != NULL);
        CHECK_EQ_INT(sm_env_add_cleanup(at, count_nested, (void *)i), SM_OK);
    }
    nested_done = 0;
    CHECK_EQ_INT(sm_env_destroy(root), SM_OK);
    CHECK_EQ_SIZE(nested_done, NESTED);
}

#ifndef SMALLOC_NO_THREADS
/* Several threads create, use and destroy children of one parent, and add cleanups to it. */
enum { CT_THREADS = 4, CT_CHILDREN = 200 };
typedef struct ct_arg { sm_env *parent; size_t kept; } ct_arg;
static size_t ct_cleanups_run;

static void ct_count(void *data)
{
    (void)data;
    __atomic_add_fetch(&ct_cleanups_run, 1, __ATOMIC_RELAXED);
}

static void ct_work(void *arg)
{
    ct_arg *a = (ct_arg *)arg;
    int i;
    for (i = 0; i < CT_CHILDREN; i++) {
        sm_env *child = sm_env_create_child(a->parent, NULL, NULL);
        if (!child) {
            CHECK(child != NULL);
            return;
        }
        CHECK(sm_env_strdup(child, "work", NULL) != NULL);
        CHECK_EQ_INT(sm_env_add_cleanup(child, ct_count, NULL), SM_OK);
        CHECK_EQ_INT(sm_env_add_cleanup(a->parent, ct_count, NULL), SM_OK);
        if (i % 3)
            CHECK_EQ_INT(sm_env_destroy(child), SM_OK);
        else
            a->kept++;
    }
}

TEST(children_from_threads)
{
    th_thread t[CT_THREADS];
    ct_arg a[CT_THREADS];
    sm_env *p = sm_env_create(NULL, NULL);
    size_t kept = 0, destroyed_early;
    int i;
    REQUIRE(p != NULL);
    ct_cleanups_run = 0;
    for (i = 0; i < CT_THREADS; i++) {
        a[i].parent = p;
        a[i].kept = 0;
        REQUIRE(th_thread_start(&t[i], ct_work, &a[i]));
    }
    for (i = 0; i < CT_THREADS; i++) {
        th_thread_join(&t[i]);
        kept += a[i].kept;
    }
    destroyed_early = (size_t)CT_THREADS * CT_CHILDREN - kept;
    CHECK_EQ_SIZE(ct_cleanups_run, destroyed_early);
    CHECK_EQ_INT(sm_env_destroy(p), SM_OK);
    /* each child's cleanup once, and every cleanup the threads added to the parent */
    CHECK_EQ_SIZE(ct_cleanups_run, (size_t)CT_THREADS * CT_CHILDREN * 2);
}
#endif

void suite_cleanups(void)
{
    RUN(cleanups_last_added_first);
    RUN(cleanup_before_release);
    RUN(cleanup_allocates_and_adds);
    RUN(cleanups_at_reset_once);
    RUN(remove_cleanup);
    RUN(add_cleanup_out_of_memory);
    RUN(cleanups_at_disable_and_thread_exit);
    RUN(children_destroyed_with_parent);
    RUN(child_destroyed_first_is_forgotten);
    RUN(reset_destroys_children);
    RUN(child_config_copied);
    RUN(child_out_of_memory);
    RUN(children_order_after_early_destroy);
    RUN(children_nested_deep);
#ifndef SMALLOC_NO_THREADS
    RUN(children_from_threads);
#endif
}
