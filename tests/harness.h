/* harness.h - the test harness of smalloc's suite (ours, a few dozen lines).

   TEST(name) { ... }    defines a test (a static function).
   CHECK(cond), CHECK_EQ_INT(a, b), CHECK_EQ_SIZE(a, b), CHECK_EQ_PTR(a, b), CHECK_STR(a, b)
                         record a failure with file:line and the expression, and go on;
   REQUIRE(cond)         records a failure and returns from the test.
                         CHECK may be used in helper threads of a test.
   RUN(name)             runs one test: on POSIX in a forked child (a crash or a hang fails that
                         test only; the child's exit code says pass or fail), on Windows and with
                         TH_NOFORK=1 in the environment (for Valgrind) in this process.
   th_summary()          prints "N passed, M failed" as the last line and returns the exit code.

   main.c defines TH_IMPLEMENTATION before including this file. */
#ifndef TH_HARNESS_H
#define TH_HARNESS_H

#include <stddef.h>

#define TEST(name) static void name(void)
#define RUN(name)  th_run(#name, name)

#define CHECK(cond) \
    do { if (!(cond)) th_fail(__FILE__, __LINE__, #cond); } while (0)
#define REQUIRE(cond) \
    do { if (!(cond)) { th_fail(__FILE__, __LINE__, #cond); return; } } while (0)
#define CHECK_EQ_INT(a, b) \
    th_check_num(__FILE__, __LINE__, #a " == " #b, (long long)(a), (long long)(b), 0)
#define CHECK_EQ_SIZE(a, b) \
    th_check_num(__FILE__, __LINE__, #a " == " #b, (long long)(size_t)(a), (long long)(size_t)(b), 1)
#define CHECK_EQ_PTR(a, b) \
    do { if ((const void *)(a) != (const void *)(b)) th_fail(__FILE__, __LINE__, #a " == " #b); } while (0)
#define CHECK_STR(a, b) th_check_str(__FILE__, __LINE__, #a " == " #b, (a), (b))

void th_fail(const char *file, int line, const char *expr);
int  th_check_num(const char *file, int line, const char *expr, long long a, long long b, int is_unsigned);
int  th_check_str(const char *file, int line, const char *expr, const char *a, const char *b);
void th_run(const char *name, void (*fn)(void));
int  th_summary(void);
int  th_forking(void);   /* 1 when tests run in child processes */

#endif /* TH_HARNESS_H */

#ifdef TH_IMPLEMENTATION
#ifndef TH_HARNESS_IMPLEMENTED
#define TH_HARNESS_IMPLEMENTED
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static int th_passed, th_failed, th_cur_failures;
static const char *th_cur_name = "";

void th_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", file, line, th_cur_name, expr);
    fflush(stderr);
#if defined(__GNUC__) || defined(__clang__)
    __atomic_add_fetch(&th_cur_failures, 1, __ATOMIC_RELAXED);   /* helper threads check too */
#else
    th_cur_failures++;
#endif
}

/* Decimal text of a number without printf's long long (msvcrt's printf may not know %lld). */
static const char *th_num(char *buf, long long v, int is_unsigned)
{
    unsigned long long u = is_unsigned || v >= 0 ? (unsigned long long)v : 0ull - (unsigned long long)v;
    char *p = buf + 31;
    *p = '\0';
    do { *--p = (char)('0' + (int)(u % 10)); u /= 10; } while (u);
    if (!is_unsigned && v < 0)
        *--p = '-';
    return p;
}

int th_check_num(const char *file, int line, const char *expr, long long a, long long b, int is_unsigned)
{
    char ba[32], bb[32];
    if (a == b)
        return 1;
    th_fail(file, line, expr);
    fprintf(stderr, "    got %s, expected %s\n", th_num(ba, a, is_unsigned), th_num(bb, b, is_unsigned));
    return 0;
}

int th_check_str(const char *file, int line, const char *expr, const char *a, const char *b)
{
    if (a && b && strcmp(a, b) == 0)
        return 1;
    th_fail(file, line, expr);
    fprintf(stderr, "    got \"%s\", expected \"%s\"\n", a ? a : "(null)", b ? b : "(null)");
    return 0;
}

int th_forking(void)
{
#ifdef _WIN32
    return 0;
#else
    const char *e = getenv("TH_NOFORK");
    return !(e && *e && strcmp(e, "0") != 0);
#endif
}

static void th_result(const char *name, int ok, const char *why)
{
    if (ok) {
        th_passed++;
    } else {
        th_failed++;
        fprintf(stderr, "FAIL %s%s\n", name, why);
    }
    fflush(stderr);
}

void th_run(const char *name, void (*fn)(void))
{
    const char *verbose = getenv("TH_VERBOSE");
    th_cur_name = name;
    th_cur_failures = 0;
    if (verbose && *verbose && strcmp(verbose, "0") != 0)
        fprintf(stderr, "RUN %s\n", name);   /* which test a slow emulator is in */
    fflush(stdout);
    fflush(stderr);
#ifndef _WIN32
    if (th_forking()) {
        int st = 0;
        char why[64];
        pid_t pid = fork();
        if (pid == 0) {
            alarm(120);   /* a hang fails this test instead of the run */
            fn();
            fflush(stdout);
            fflush(stderr);
            exit(th_cur_failures ? 1 : 0);   /* exit, not _exit: LeakSanitizer checks the child */
        }
        if (pid < 0 || waitpid(pid, &st, 0) != pid) {
            th_result(name, 0, " (fork/wait failed)");
            return;
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            th_result(name, 1, "");
        } else {
            if (WIFSIGNALED(st))
                sprintf(why, " (killed by signal %d)", WTERMSIG(st));
            else
                sprintf(why, " (exit code %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            th_result(name, 0, why);
        }
        return;
    }
#endif
    fn();
    th_result(name, th_cur_failures == 0, "");
}

int th_summary(void)
{
    fflush(stderr);
    printf("%d passed, %d failed\n", th_passed, th_failed);
    fflush(stdout);
    return th_failed == 0 ? 0 : 1;
}
#endif
#endif /* TH_IMPLEMENTATION */
