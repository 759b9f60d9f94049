/* t_fork.c - fork while other threads are inside smalloc (API.md section 14): every child goes
   on using the environments it inherited, from the thread that forked, and nothing deadlocks.
   POSIX threads only (no fork on Windows; C11 threads have no fork hooks). */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "threads.h"
#include "util.h"
#include "counting.h"
#include "../smalloc.h"
#include "suites.h"

/* ThreadSanitizer cannot relate what a child process does to the threads of its parent, which
   do not exist in the child, and reports races there that are none; Memcheck (the suite's
   Valgrind build has SMALLOC_VALGRIND) counts the memory those threads held as leaked when the
   child exits. These tests run in the other builds.
   The test with threads that allocate at random does not run under AddressSanitizer either:
   its allocator (clang 14's) takes no lock around fork, so a child forked while another thread
   is inside malloc can wait for that lock forever (glibc's malloc takes its locks around fork). */
#if defined(__SANITIZE_THREAD__)
#define FK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FK_TSAN 1
#endif
#endif
#if !defined(_WIN32) && !defined(SMALLOC_NO_THREADS) && !defined(SMALLOC_C11_THREADS) && !defined(FK_TSAN) && \
    !defined(SMALLOC_VALGRIND)
#define FK_RUN 1
#endif

#ifdef FK_RUN
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { FK_THREADS = 4, FK_CHILDREN = 50, FK_ROUND = 400, FK_RING = 16 };
static sm_env *fk_shared;
static int fk_stop;
static unsigned fk_round;        /* the main thread starts a round of work before each fork */
static void *fk_ring[FK_RING];   /* small blocks of the shared environment, passed around */

/* The threads' own environments: a backing allocator of their own, so that creating and
   destroying them takes the process-wide lock every time (no per-thread reuse). */
static void *fk_alloc(void *context, size_t size, const char *file, int line)
{
    (void)context; (void)file; (void)line;
    return malloc(size);
}
static void fk_free(void *context, void *ptr, size_t size)
{
    (void)context; (void)size;
    free(ptr);
}
static sm_config fk_own_config;

/* What the other threads do while the main thread forks: allocate in the shared environment
   and mark free blocks that other threads allocated (lock-free, through the ring), roll back
   (a block freed right away) and refill chunks under the environment's lock, and create, use
   and destroy environments of their own (the handle table, the chunk cache). A bounded amount
   per round, so that the arena does not grow without end. */
static void fk_busy(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg, done = 0;
    while (!__atomic_load_n(&fk_stop, __ATOMIC_ACQUIRE)) {
        unsigned round = __atomic_load_n(&fk_round, __ATOMIC_ACQUIRE);
        int i;
        if (round == done) {
            sched_yield();
            continue;
        }
        for (i = 0; i < FK_ROUND; i++) {
            size_t r = tu_rand(&seed);
            void *p = sm_env_allocate(fk_shared, 16 + r % 48, NULL), *q;
            if (p && (q = __atomic_exchange_n(&fk_ring[r % FK_RING], p, __ATOMIC_ACQ_REL)) != NULL)
                CHECK_EQ_INT(sm_env_free(fk_shared, q), SM_OK);
            p = sm_env_allocate(fk_shared, r % 3000, NULL);
            if (p)
                CHECK_EQ_INT(sm_env_free(fk_shared, p), SM_OK);
            if (i % 10 == 0) {
                sm_env *own = sm_env_create(&fk_own_config, NULL);
                size_t k;
                for (k = 0; own && k < 20; k++)
                    (void)sm_env_allocate(own, 16 + k * 100, NULL);
                if (own)
                    (void)sm_env_destroy(own);
            }
        }
        done = round;
    }
}

/* The child: everything it inherited works, from the forking thread. */
static int fk_child(sm_env *inherited, void *block)
{
    sm_env *fresh;
    int i, ok = 1;
    alarm(10);   /* a deadlock ends the child, and fails the test */
    ok &= sm_env_free(fk_shared, block) == SM_OK;
    for (i = 0; i < 200; i++) {
        void *p = sm_env_allocate(fk_shared, (size_t)(i * 37 % 5000), NULL);
        void *q = sm_env_allocate(inherited, (size_t)(i * 13 % 700), NULL);
        ok &= p != NULL && q != NULL;
        if (p && i % 2)
            ok &= sm_env_free(fk_shared, p) == SM_OK;
    }
    ok &= sm_env_reset(inherited) == SM_OK;
    ok &= sm_env_allocate(inherited, 100, NULL) != NULL;
    ok &= sm_enable_allocate() == SM_OK && sm_allocate(64, NULL) != NULL && sm_disable_allocate() == SM_OK;
    fresh = sm_env_create(NULL, NULL);
    ok &= fresh != NULL && sm_env_strdup(fresh, "after fork", NULL) != NULL;
    ok &= sm_env_destroy(fresh) == SM_OK;
    ok &= sm_env_destroy(inherited) == SM_OK;
    ok &= sm_env_destroy(fk_shared) == SM_OK;
    return ok;
}

TEST(fork_while_threads_allocate)
{
    th_thread t[FK_THREADS];
    int i, started = 0, children_ok = 0;
    memset(&fk_own_config, 0, sizeof fk_own_config);
    fk_own_config.alloc = fk_alloc;
    fk_own_config.free = fk_free;
    fk_shared = sm_env_create(NULL, NULL);
    REQUIRE(fk_shared != NULL);
    fk_stop = 0;
    for (i = 0; i < FK_THREADS; i++)
        started += th_thread_start(&t[i], fk_busy, (void *)(size_t)(i + 1));
    CHECK_EQ_INT(started, FK_THREADS);
    for (i = 0; i < FK_CHILDREN; i++) {
        sm_env *inherited = sm_env_create(NULL, NULL);
        void *block = sm_env_allocate(fk_shared, 48, NULL);
        pid_t pid;
        int status = 0;
        REQUIRE(inherited != NULL && block != NULL);
        CHECK(sm_env_allocate(inherited, 500, NULL) != NULL);
        __atomic_add_fetch(&fk_round, 1, __ATOMIC_ACQ_REL);   /* the threads are busy now */
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0)
            _exit(fk_child(inherited, block) ? 0 : 1);
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            children_ok++;
        CHECK_EQ_INT(sm_env_free(fk_shared, block), SM_OK);   /* the parent's own state goes on */
        CHECK_EQ_INT(sm_env_destroy(inherited), SM_OK);
    }
    CHECK_EQ_INT(children_ok, FK_CHILDREN);
    __atomic_store_n(&fk_stop, 1, __ATOMIC_RELEASE);
    for (i = 0; i < started; i++)
        th_thread_join(&t[i]);
    CHECK_EQ_INT(sm_env_destroy(fk_shared), SM_OK);
}

/* Deterministic: a thread is inside smalloc's bookkeeping allocator, which grows the list of
   an environment's cleanups while holding the environment's lock, at the moment of the fork.
   The child must still get new chunks in that environment (without the fork handlers it would
   wait for a lock that no thread of its own will ever release). */
static int fk_inside;
static pthread_t fk_grower;

static void fk_pause_grower(void)
{
    struct timespec pause = { 0, 50 * 1000 * 1000 };
    if (pthread_equal(pthread_self(), fk_grower) && !__atomic_load_n(&fk_inside, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&fk_inside, 1, __ATOMIC_RELEASE);
        nanosleep(&pause, NULL);
    }
}

static void fk_nothing(void *data) { (void)data; }

static void fk_grow(void *env)
{
    fk_grower = pthread_self();
    tb_hook = fk_pause_grower;   /* its first bookkeeping call: the list of cleanups */
    CHECK_EQ_INT(sm_env_add_cleanup((sm_env *)env, fk_nothing, NULL), SM_OK);
}

TEST(fork_while_bookkeeping_grows)
{
    th_thread t;
    sm_env *env = sm_env_create(NULL, NULL);
    pid_t pid;
    int status = 0;
    REQUIRE(env != NULL);
    fk_inside = 0;
    REQUIRE(th_thread_start(&t, fk_grow, env));
    while (!__atomic_load_n(&fk_inside, __ATOMIC_ACQUIRE))
        sched_yield();
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int i, ok = 1;
        alarm(10);
        for (i = 0; i < 100; i++)   /* new chunks: the environment's lock */
            ok &= sm_env_allocate(env, 3000, NULL) != NULL;
        ok &= sm_env_add_cleanup(env, fk_nothing, NULL) == SM_OK;
        ok &= sm_env_destroy(env) == SM_OK;
        _exit(ok ? 0 : 1);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    th_thread_join(&t);
    tb_hook = NULL;
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* An environment another thread of the parent enabled: in the child nobody can disable it, so
   the forking thread may destroy it (the fork hook forgets its owner there). In the parent its
   owner's destroy is still refused to this thread. */
static sm_env *fk_enabled;
static int fk_enabled_stage;   /* 1: enabled, 2: may disable */

static void fk_enable_and_wait(void *arg)
{
    (void)arg;
    CHECK_EQ_INT(sm_enable_allocate(), SM_OK);
    CHECK(sm_allocate(100, NULL) != NULL);
    fk_enabled = sm_current_env(NULL);
    __atomic_store_n(&fk_enabled_stage, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&fk_enabled_stage, __ATOMIC_ACQUIRE) != 2)
        sched_yield();
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
}

TEST(fork_destroys_environment_enabled_by_another_thread)
{
    th_thread t;
    pid_t pid;
    int status = 0;
    fk_enabled_stage = 0;
    REQUIRE(th_thread_start(&t, fk_enable_and_wait, NULL));
    while (!__atomic_load_n(&fk_enabled_stage, __ATOMIC_ACQUIRE))
        sched_yield();
    REQUIRE(fk_enabled != NULL);
    CHECK_EQ_INT(sm_env_destroy(fk_enabled), SM_INVALID_ARG);   /* not this thread's */
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int ok = 1;
        alarm(10);
        ok &= sm_env_allocate(fk_enabled, 64, NULL) != NULL;
        ok &= sm_env_destroy(fk_enabled) == SM_OK;
        _exit(ok ? 0 : 1);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    __atomic_store_n(&fk_enabled_stage, 2, __ATOMIC_RELEASE);
    th_thread_join(&t);
}
#endif

void suite_fork(void)
{
#ifdef FK_RUN
#ifdef TU_ASAN
    (void)fork_while_threads_allocate;   /* not under AddressSanitizer: see the top of this file */
#else
    RUN(fork_while_threads_allocate);
#endif
    RUN(fork_while_bookkeeping_grows);
    RUN(fork_destroys_environment_enabled_by_another_thread);
#endif
}
