/* t_sites.c - allocation sites (PALLOCMEM's file and line) reach the backing allocator when
   memory is needed; plain calls pass NULL and 0; sm_env_report is refused without SM_TRACK. */
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "util.h"
#include "suites.h"

/* Every backing call logged from `from` on came from (file, line); there was at least one. */
static void check_sites(const tc_alloc *c, size_t from, const char *file, int line)
{
    size_t i;
    CHECK(c->nlog > from);
    for (i = from; i < c->nlog; i++) {
        if (file)
            CHECK_STR(c->log_file[i], file);
        else
            CHECK(c->log_file[i] == NULL);
        CHECK_EQ_INT(c->log_line[i], line);
    }
}

TEST(env_allocate_sites)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    sm_status st = SM_INVALID_ARG;
    size_t from, i;
    int line;
    void *p;
    char file[32];
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    CHECK(c.log_file[0] == NULL && c.log_line[0] == 0);   /* the environment itself */
    /* the first allocation needs a chunk (and a cursor): the site goes with it */
    from = c.nlog;
    line = __LINE__; p = SM_ENV_ALLOCATE(env, 10, &st);
    CHECK(p != NULL);
    CHECK_EQ_INT(st, SM_OK);
    check_sites(&c, from, __FILE__, line);
    /* no new memory needed: no call */
    from = c.nlog;
    CHECK(SM_ENV_ALLOCATE(env, 10, NULL) != NULL);
    CHECK_EQ_SIZE(c.nlog, from);
    /* explicit sites, for a big block and for a new chunk */
    from = c.nlog;
    CHECK(sm_env_allocate_at(env, 100000, &st, "big.c", 77) != NULL);
    check_sites(&c, from, "big.c", 77);
    for (i = 0; i < 200 && c.nlog == from + 1; i++)
        CHECK(sm_env_allocate_at(env, 200, NULL, "chunk.c", 12) != NULL);
    check_sites(&c, from + 1, "chunk.c", 12);
    /* NULL and 0 are fine */
    from = c.nlog;
    for (i = 0; i < 200 && c.nlog == from; i++)
        CHECK(sm_env_allocate_at(env, 200, NULL, NULL, 0) != NULL);
    check_sites(&c, from, NULL, 0);
    /* plain calls pass NULL and 0 */
    from = c.nlog;
    for (i = 0; i < 200 && c.nlog == from; i++)
        CHECK(sm_env_allocate(env, 200, NULL) != NULL);
    check_sites(&c, from, NULL, 0);
    from = c.nlog;
    CHECK(sm_env_allocate(env, 50000, NULL) != NULL);
    check_sites(&c, from, NULL, 0);
    from = c.nlog;
    CHECK(sm_env_allocate_aligned(env, 50000, 256, NULL) != NULL);
    check_sites(&c, from, NULL, 0);
    /* the site is not kept: a later plain call does not see it, even if its text is gone */
    strcpy(file, "stack.c");
    from = c.nlog;
    CHECK(sm_env_allocate_at(env, 60000, NULL, file, 5) != NULL);
    check_sites(&c, from, "stack.c", 5);
    memset(file, 'x', sizeof file - 1);
    from = c.nlog;
    CHECK(sm_env_allocate(env, 60000, NULL) != NULL);
    check_sites(&c, from, NULL, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(thread_allocate_sites)
{
    tc_alloc c;
    sm_config cfg;
    sm_status st = SM_INVALID_ARG;
    size_t from, i;
    int line;
    void *p;
    tc_init(&c);
    cfg = tc_config(&c, 1024);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    check_sites(&c, 0, NULL, 0);   /* the environment */
    from = c.nlog;
    line = __LINE__; p = SM_ALLOCATE(10, &st);
    CHECK(p != NULL);
    CHECK_EQ_INT(st, SM_OK);
    check_sites(&c, from, __FILE__, line);
    from = c.nlog;
    CHECK(sm_allocate_at(100000, NULL, "rpc.c", 321) != NULL);
    check_sites(&c, from, "rpc.c", 321);
    from = c.nlog;
    for (i = 0; i < 200 && c.nlog == from; i++)
        CHECK(sm_allocate(200, NULL) != NULL);
    check_sites(&c, from, NULL, 0);
    from = c.nlog;
    for (i = 0; i < 200 && c.nlog == from; i++)
        CHECK(sm_allocate_aligned(200, 64, NULL) != NULL);
    check_sites(&c, from, NULL, 0);
    from = c.nlog;
    for (i = 0; i < 200 && c.nlog == from; i++)
        CHECK(SM_ALLOCATE(200, NULL) != NULL);
    CHECK(c.nlog > from);
    for (i = from; i < c.nlog; i++)
        CHECK_STR(c.log_file[i], __FILE__);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

static int report_calls;
static void count_report(void *user, const char *file, int line, size_t blocks, size_t bytes)
{
    (void)user; (void)file; (void)line; (void)blocks; (void)bytes;
    report_calls++;
}

TEST(report_refused_without_track)
{
    sm_env *env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    CHECK(SM_ENV_ALLOCATE(env, 10, NULL) != NULL);
    report_calls = 0;
    CHECK_EQ_INT(sm_env_report(env, count_report, NULL), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_report(env, NULL, NULL), SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_report(NULL, count_report, NULL), SM_INVALID_ARG);
    CHECK_EQ_INT(report_calls, 0);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 1);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

void suite_sites(void)
{
    RUN(env_allocate_sites);
    RUN(thread_allocate_sites);
    RUN(report_refused_without_track);
}
