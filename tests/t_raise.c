/* t_raise.c - the raising family sm_ss_*: every failure path calls the raise handler with its
   status and function name; the default handler prints and aborts; a returning handler aborts. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "suites.h"
#ifndef _WIN32
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static jmp_buf raise_jb;
static int raise_calls;
static sm_status raise_status;
static const char *raise_function;

static void jumping_handler(sm_status status, const char *function)
{
    raise_calls++;
    raise_status = status;
    raise_function = function;
    longjmp(raise_jb, 1);
}

typedef void action_fn(void *arg);

/* Runs f(arg) with the jumping handler: 1 when it raised. */
static int raised(action_fn *f, void *arg)
{
    raise_calls = 0;
    raise_status = SM_OK;
    raise_function = NULL;
    if (setjmp(raise_jb) == 0) {
        f(arg);
        return 0;
    }
    return 1;
}

#define CHECK_RAISES(f, arg, status, name) do { \
        CHECK(raised((f), (arg))); \
        CHECK_EQ_INT(raise_calls, 1); \
        CHECK_EQ_INT(raise_status, (status)); \
        CHECK_STR(raise_function, (name)); \
    } while (0)
#define CHECK_NO_RAISE(f, arg) do { \
        CHECK(!raised((f), (arg))); \
        CHECK_EQ_INT(raise_calls, 0); \
    } while (0)

static void *result;
static void do_enable(void *arg) { (void)arg; sm_ss_enable_allocate(); }
static void do_disable(void *arg) { (void)arg; sm_ss_disable_allocate(); }
static void do_allocate(void *arg) { result = sm_ss_allocate(*(size_t *)arg); }
static void do_free(void *arg) { sm_ss_free(arg); }
static void do_get(void *arg) { (void)arg; result = (void *)sm_ss_get_thread_handle(); }
static void do_set(void *arg) { sm_ss_set_thread_handle((sm_thread_handle)arg); }
static void *ca(size_t n) { (void)n; return NULL; }
static void cf(void *p) { (void)p; }
static void do_set_pair_null(void *arg) { (void)arg; sm_ss_set_client_alloc_free(NULL, cf); }
static void do_swap_pair_null(void *arg)
{
    sm_client_alloc_fn *a;
    sm_client_free_fn *f;
    (void)arg;
    sm_ss_swap_client_alloc_free(ca, NULL, &a, &f);
}
static void do_swap_pair(void *arg)
{
    sm_client_alloc_fn *a = NULL;
    sm_client_free_fn *f = NULL;
    (void)arg;
    sm_ss_swap_client_alloc_free(ca, cf, &a, &f);
    sm_ss_set_client_alloc_free(a, f);   /* back to the default pair */
    result = (void *)(uintptr_t)(a != NULL && f != NULL);
}

TEST(raise_handler_previous)
{
    CHECK(sm_set_raise_handler(jumping_handler) == NULL);   /* the default was in force */
    CHECK(sm_set_raise_handler(jumping_handler) == jumping_handler);
    CHECK(sm_set_raise_handler(NULL) == jumping_handler);
    CHECK(sm_set_raise_handler(NULL) == NULL);
}

TEST(ss_failures_raise)
{
    size_t size;
    int local = 0;
    sm_env *env;
    sm_thread_handle stale;
    REQUIRE(sm_set_raise_handler(jumping_handler) == NULL);
    /* no environment */
    CHECK_RAISES(do_disable, NULL, SM_NO_ENVIRONMENT, "sm_ss_disable_allocate");
    size = 8;
    CHECK_RAISES(do_allocate, &size, SM_NO_ENVIRONMENT, "sm_ss_allocate");
    CHECK_RAISES(do_free, &local, SM_NO_ENVIRONMENT, "sm_ss_free");
    CHECK_NO_RAISE(do_free, NULL);
    result = &local;
    CHECK_NO_RAISE(do_get, NULL);
    CHECK(result == NULL);
    CHECK_NO_RAISE(do_set, NULL);
    /* client pair */
    CHECK_RAISES(do_set_pair_null, NULL, SM_INVALID_ARG, "sm_ss_set_client_alloc_free");
    CHECK_RAISES(do_swap_pair_null, NULL, SM_INVALID_ARG, "sm_ss_swap_client_alloc_free");
    result = NULL;
    CHECK_NO_RAISE(do_swap_pair, NULL);
    CHECK(result != NULL);
    /* with an environment */
    CHECK_NO_RAISE(do_enable, NULL);
    size = 0;
    result = NULL;
    CHECK_NO_RAISE(do_allocate, &size);
    CHECK(result != NULL);
    size = 100;
    result = NULL;
    CHECK_NO_RAISE(do_allocate, &size);
    REQUIRE(result != NULL);
    memset(result, 1, 100);
    size = SIZE_MAX;
    CHECK_RAISES(do_allocate, &size, SM_OUT_OF_MEMORY, "sm_ss_allocate");
    size = SIZE_MAX - 8;
    CHECK_RAISES(do_allocate, &size, SM_OUT_OF_MEMORY, "sm_ss_allocate");
    CHECK_RAISES(do_free, &local, SM_INVALID_ARG, "sm_ss_free");
    CHECK_RAISES(do_free, (char *)result + 1, SM_INVALID_ARG, "sm_ss_free");
    CHECK_NO_RAISE(do_free, result);
    CHECK_RAISES(do_free, result, SM_INVALID_ARG, "sm_ss_free");   /* double free */
    result = NULL;
    CHECK_NO_RAISE(do_get, NULL);
    CHECK(result != NULL && result == (void *)sm_get_thread_handle(NULL));
    /* the environment still works after all those jumps */
    size = 16;
    CHECK_NO_RAISE(do_allocate, &size);
    CHECK_NO_RAISE(do_disable, NULL);
    CHECK_RAISES(do_disable, NULL, SM_NO_ENVIRONMENT, "sm_ss_disable_allocate");
    /* stale handles */
    env = sm_env_create(NULL, NULL);
    REQUIRE(env != NULL);
    stale = sm_env_handle(env);
    CHECK_NO_RAISE(do_set, (void *)stale);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_RAISES(do_get, NULL, SM_INVALID_HANDLE, "sm_ss_get_thread_handle");
    size = 8;
    CHECK_RAISES(do_allocate, &size, SM_INVALID_HANDLE, "sm_ss_allocate");
    CHECK_RAISES(do_free, &local, SM_INVALID_HANDLE, "sm_ss_free");
    CHECK_RAISES(do_disable, NULL, SM_INVALID_HANDLE, "sm_ss_disable_allocate");
    CHECK_RAISES(do_set, (void *)stale, SM_INVALID_HANDLE, "sm_ss_set_thread_handle");
    CHECK_NO_RAISE(do_set, NULL);
    CHECK(sm_set_raise_handler(NULL) == jumping_handler);
}

#ifndef SMALLOC_NO_THREADS
/* Enable fails only when memory runs out: every bookkeeping call refused, in a thread that has
   no state yet. The handler is process-wide: it runs in that thread. */
static void enable_oom_thread(void *arg)
{
    size_t before = tb_calls;
    int *out = (int *)arg;
    tb_fail_all = 1;
    out[0] = raised(do_enable, NULL);
    tb_fail_all = 0;
    out[1] = tb_calls != before;
    out[2] = raise_status;
    out[3] = raise_function && strcmp(raise_function, "sm_ss_enable_allocate") == 0;
    if (!out[0]) {
        sm_status st = sm_disable_allocate();
        CHECK_EQ_INT(st, SM_OK);
    }
}

TEST(ss_enable_out_of_memory)
{
    int out[4] = { 0, 0, 0, 0 };
    th_thread t;
    REQUIRE(sm_set_raise_handler(jumping_handler) == NULL);
    REQUIRE(th_thread_start(&t, enable_oom_thread, out));
    th_thread_join(&t);
    if (out[0]) {
        CHECK_EQ_INT(out[2], SM_OUT_OF_MEMORY);
        CHECK(out[3]);
    } else {
        /* an implementation may need no bookkeeping memory to enable; then none was asked for */
        CHECK(!out[1]);
    }
    CHECK(sm_set_raise_handler(NULL) == jumping_handler);
}
#endif

#ifndef _WIN32
/* Runs f in a child with stderr captured: the signal that ended it (0: exited) and its text. */
static int in_child(void (*f)(void), char *text, size_t cap)
{
    int fds[2], st = 0;
    size_t n = 0;
    ssize_t k;
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        f();
        _exit(0);
    }
    close(fds[1]);
    while (n + 1 < cap && (k = read(fds[0], text + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    text[n] = '\0';
    close(fds[0]);
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void default_handler_child(void)
{
    (void)sm_set_raise_handler(NULL);
    (void)sm_ss_allocate(8);   /* no environment */
}

TEST(default_handler_aborts)
{
    char text[4096];
    int sig = in_child(default_handler_child, text, sizeof text);
    CHECK_EQ_INT(sig, SIGABRT);
    CHECK(strstr(text, "sm_ss_allocate") != NULL);
    CHECK(strstr(text, "SM_NO_ENVIRONMENT") != NULL || strstr(text, "1765") != NULL);
}

static void returning_handler(sm_status status, const char *function)
{
    fprintf(stderr, "handler returned from %s with %s\n", function, sm_status_string(status));
    fflush(stderr);
}

static void returning_handler_child(void)
{
    (void)sm_set_raise_handler(returning_handler);
    sm_ss_disable_allocate();   /* no environment */
    fprintf(stderr, "sm_ss_disable_allocate came back\n");
}

TEST(returning_handler_aborts)
{
    char text[4096];
    int sig = in_child(returning_handler_child, text, sizeof text);
    CHECK_EQ_INT(sig, SIGABRT);
    CHECK(strstr(text, "handler returned from sm_ss_disable_allocate with SM_NO_ENVIRONMENT") != NULL);
    CHECK(strstr(text, "came back") == NULL);
}
#endif

void suite_raise(void)
{
    RUN(raise_handler_previous);
    RUN(ss_failures_raise);
#ifndef SMALLOC_NO_THREADS
    RUN(ss_enable_out_of_memory);
#endif
#ifndef _WIN32
    RUN(default_handler_aborts);
    RUN(returning_handler_aborts);
#endif
}
