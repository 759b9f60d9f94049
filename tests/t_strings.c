/* t_strings.c - zeroed allocation, strdup/strndup/memdup, printf into an environment, the current
   environment and status messages (API.md section 12). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "util.h"
#include "../smalloc.h"
#include "suites.h"

/* A tracked environment over the counting allocator: reports give the size each block asked for. */
static sm_env *tracked(tc_alloc *c)
{
    sm_config cfg;
    tc_init(c);
    cfg = tc_config(c, 0);
    cfg.flags = SM_TRACK;
    return sm_env_create(&cfg, NULL);
}

/* The only live block of env asked for `want` bytes. */
static void check_one_block_of(const sm_env *env, size_t want, int line)
{
    tu_site one;
    one.file = NULL;
    one.line = 0;
    one.blocks = 1;
    one.bytes = want;
    tu_env_report_is(__FILE__, line, env, &one, 1);
}

TEST(zeroed_is_zero)
{
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env = sm_env_create(NULL, NULL);
    unsigned char *dirty, *z;
    size_t i, nonzero = 0;
    REQUIRE(env != NULL);
    /* dirty memory first: the last block rolls back, so the next one starts at the same place */
    dirty = (unsigned char *)sm_env_allocate(env, 1000, NULL);
    REQUIRE(dirty != NULL);
    memset(dirty, 0xAB, 1000);
    CHECK_EQ_INT(sm_env_free(env, dirty), SM_OK);
    z = (unsigned char *)sm_env_allocate_zeroed(env, 10, 100, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(z != NULL);
    CHECK(z == dirty);
    for (i = 0; i < 1000; i++)
        nonzero += z[i] != 0;
    CHECK_EQ_SIZE(nonzero, 0);
    CHECK_EQ_INT(sm_env_free(env, z), SM_OK);   /* an ordinary block */
    /* count or size 0: a unique block */
    z = (unsigned char *)sm_env_allocate_zeroed(env, 0, 8, &st);
    CHECK(z != NULL);
    CHECK(sm_env_allocate_zeroed(env, 8, 0, &st) != z);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

TEST(zeroed_overflow)
{
    tc_alloc c;
    sm_config cfg;
    sm_status st = SM_OK;
    sm_env *env;
    size_t calls;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    calls = c.calls;
    CHECK(sm_env_allocate_zeroed(env, SIZE_MAX / 2 + 1, 2, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    st = SM_OK;
    CHECK(sm_env_allocate_zeroed(env, 3, SIZE_MAX / 2, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    st = SM_OK;
    CHECK(sm_env_allocate_zeroed(env, SIZE_MAX, SIZE_MAX, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    CHECK_EQ_SIZE(c.calls, calls);   /* never asked for a wrapped size */
    CHECK(c.max_request < 100000);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    st = SM_OK;
    CHECK(sm_env_allocate_zeroed(NULL, 1, 1, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(strdup_copies)
{
    tc_alloc c;
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env = tracked(&c);
    const char *src = "unmarshalled string";
    sm_block_info info;
    char *s;
    REQUIRE(env != NULL);
    s = sm_env_strdup(env, src, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(s != NULL);
    CHECK(s != src);
    CHECK_STR(s, src);
    check_one_block_of(env, strlen(src) + 1, __LINE__);
    CHECK_EQ_INT(sm_env_describe(env, s + 3, &info), SM_OK);
    CHECK(info.start == s && info.live == 1);
    CHECK_EQ_INT(sm_env_free(env, s), SM_OK);
    s = sm_env_strdup(env, "", &st);
    REQUIRE(s != NULL);
    CHECK_STR(s, "");
    st = SM_OK;
    CHECK(sm_env_strdup(env, NULL, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    st = SM_OK;
    CHECK(sm_env_strdup(NULL, src, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(strndup_at_most_n)
{
    tc_alloc c;
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env = tracked(&c);
    /* not terminated: strndup must not read past n characters (ASan would say so) */
    static const char four[4] = { 'a', 'b', 'c', 'd' };
    char *s;
    REQUIRE(env != NULL);
    s = sm_env_strndup(env, "abcdef", 3, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(s != NULL);
    CHECK_STR(s, "abc");
    check_one_block_of(env, 4, __LINE__);   /* exactly the characters kept and the 0 */
    CHECK_EQ_INT(sm_env_free(env, s), SM_OK);
    s = sm_env_strndup(env, "ab", 100, &st);
    REQUIRE(s != NULL);
    CHECK_STR(s, "ab");
    check_one_block_of(env, 3, __LINE__);
    CHECK_EQ_INT(sm_env_free(env, s), SM_OK);
    s = sm_env_strndup(env, four, sizeof four, &st);
    REQUIRE(s != NULL);
    CHECK_STR(s, "abcd");
    s = sm_env_strndup(env, "xyz", 0, &st);
    REQUIRE(s != NULL);
    CHECK_STR(s, "");
    st = SM_OK;
    CHECK(sm_env_strndup(env, NULL, 3, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(memdup_copies_bytes)
{
    tc_alloc c;
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env = tracked(&c);
    unsigned char src[300], *q;
    REQUIRE(env != NULL);
    tu_fill(src, sizeof src, 7);
    src[10] = 0;   /* zeros are bytes like any other */
    q = (unsigned char *)sm_env_memdup(env, src, sizeof src, &st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(q != NULL);
    CHECK(memcmp(q, src, sizeof src) == 0);
    check_one_block_of(env, sizeof src, __LINE__);
    CHECK_EQ_INT(sm_env_free(env, q), SM_OK);
    /* nothing to copy: p may be NULL, and the block is unique */
    q = (unsigned char *)sm_env_memdup(env, NULL, 0, &st);
    CHECK_EQ_INT(st, SM_OK);
    CHECK(q != NULL);
    CHECK(sm_env_memdup(env, src, 0, &st) != q);
    st = SM_OK;
    CHECK(sm_env_memdup(env, NULL, 1, &st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

static char *format_v(sm_env *env, sm_status *st, const char *format, ...) SMALLOC__PRINTF(3, 4);
static char *format_v(sm_env *env, sm_status *st, const char *format, ...)
{
    va_list args;
    char *p;
    va_start(args, format);
    p = sm_env_vprintf(env, st, format, args);
    va_end(args);
    return p;
}

TEST(printf_exact_length)
{
    tc_alloc c;
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env = tracked(&c);
    char *s, want[64];
    REQUIRE(env != NULL);
    s = sm_env_printf(env, &st, "%s #%d: %u bytes", "reply", 42, 1234u);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(s != NULL);
    CHECK_STR(s, "reply #42: 1234 bytes");
    check_one_block_of(env, strlen("reply #42: 1234 bytes") + 1, __LINE__);
    CHECK_EQ_INT(sm_env_free(env, s), SM_OK);
    s = format_v(env, &st, "%05d|%-4s|%c", 7, "ab", 'z');
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(s != NULL);
    sprintf(want, "%05d|%-4s|%c", 7, "ab", 'z');
    CHECK_STR(s, want);
    CHECK_EQ_INT(sm_env_free(env, s), SM_OK);
    /* longer than a chunk: a block of its own, still exact */
    s = sm_env_printf(env, &st, "%20000s", "end");
    REQUIRE(s != NULL);
    CHECK_EQ_SIZE(strlen(s), 20000);
    CHECK_STR(s + 19997, "end");
    check_one_block_of(env, 20001, __LINE__);
    s = sm_env_printf(env, &st, "%s", "");
    REQUIRE(s != NULL);
    CHECK_STR(s, "");
    st = SM_OK;
    CHECK(format_v(env, &st, NULL) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    st = SM_OK;
    CHECK(sm_env_printf(NULL, &st, "%d", 1) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_ARG);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* Out of memory: NULL + SM_OUT_OF_MEMORY, the environment as it was. */
TEST(strings_out_of_memory)
{
    tc_alloc c;
    sm_config cfg;
    sm_status st = SM_OK;
    sm_env *env;
    sm_stats before;
    static char big[30000];
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    memset(big, 'x', sizeof big - 1);
    before = tu_stats(env);
    c.fail_from = c.calls + 1;
    CHECK(sm_env_strdup(env, big, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    st = SM_OK;
    CHECK(sm_env_memdup(env, big, sizeof big, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    st = SM_OK;
    CHECK(sm_env_printf(env, &st, "%s", big) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    st = SM_OK;
    CHECK(sm_env_allocate_zeroed(env, 3, 10000, &st) == NULL);
    CHECK_EQ_INT(st, SM_OUT_OF_MEMORY);
    CHECK_STATS_EQ(tu_stats(env), before);
    c.fail_from = 0;
    CHECK(sm_env_strdup(env, big, &st) != NULL);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

TEST(current_env)
{
    sm_status st = SM_OK;
    sm_env *env, *other;
    sm_thread_handle h;
    char *s;
    CHECK(sm_current_env(&st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
    REQUIRE(sm_enable_allocate() == SM_OK);
    env = sm_current_env(&st);
    CHECK_EQ_INT(st, SM_OK);
    REQUIRE(env != NULL);
    CHECK(sm_env_handle(env) == sm_get_thread_handle(NULL));
    /* every sm_env_* call works on it, and its blocks are the thread's current ones */
    s = sm_env_strdup(env, "current", NULL);
    REQUIRE(s != NULL);
    CHECK_EQ_INT(sm_free(s), SM_OK);
    CHECK_EQ_INT(sm_env_free(env, s), SM_INVALID_ARG);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    /* attached through a handle */
    other = sm_env_create(NULL, NULL);
    REQUIRE(other != NULL);
    h = sm_get_thread_handle(NULL);
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(other)), SM_OK);
    CHECK(sm_current_env(&st) == other);
    CHECK_EQ_INT(st, SM_OK);
    CHECK_EQ_INT(sm_env_destroy(other), SM_OK);
    st = SM_OK;
    CHECK(sm_current_env(&st) == NULL);
    CHECK_EQ_INT(st, SM_INVALID_HANDLE);
    CHECK(sm_current_env(NULL) == NULL);
    CHECK_EQ_INT(sm_set_thread_handle(h), SM_OK);
    CHECK(sm_current_env(NULL) == env);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK(sm_current_env(&st) == NULL);
    CHECK_EQ_INT(st, SM_NO_ENVIRONMENT);
}

TEST(status_messages)
{
    static const sm_status all[] = { SM_OK, SM_INVALID_HANDLE, SM_OUT_OF_MEMORY, SM_INVALID_ARG,
                                     SM_NO_ENVIRONMENT };
    size_t i, j;
    for (i = 0; i < sizeof all / sizeof *all; i++) {
        const char *m = sm_status_message(all[i]);
        REQUIRE(m != NULL);
        CHECK(strlen(m) > 10);
        CHECK(strcmp(m, sm_status_string(all[i])) != 0);   /* a sentence, not the name */
        for (j = 0; j < i; j++)
            CHECK(strcmp(m, sm_status_message(all[j])) != 0);
    }
    CHECK(strstr(sm_status_message(SM_INVALID_HANDLE), "destroyed") != NULL);
    CHECK(strstr(sm_status_message(SM_NO_ENVIRONMENT), "no current environment") != NULL);
    CHECK(sm_status_message((sm_status)12345) != NULL);
    CHECK(sm_status_message((sm_status)-1) != NULL);
}

void suite_strings(void)
{
    RUN(zeroed_is_zero);
    RUN(zeroed_overflow);
    RUN(strdup_copies);
    RUN(strndup_at_most_n);
    RUN(memdup_copies_bytes);
    RUN(printf_exact_length);
    RUN(strings_out_of_memory);
    RUN(current_env);
    RUN(status_messages);
}
