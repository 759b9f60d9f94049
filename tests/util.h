/* util.h - helpers shared by the test files: stats snapshots, overlap and pattern checks, leak
   reports.
   main.c defines TH_IMPLEMENTATION before including this file. */
#ifndef TU_UTIL_H
#define TU_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "harness.h"
#include "../smalloc.h"

typedef struct tu_range {
    uintptr_t start;
    size_t size;
} tu_range;

/* The environment's figures (all-ones when sm_env_stats fails, which no test expects). */
sm_stats tu_stats(const sm_env *env);
/* 1 when no two of the n ranges share a byte (sorts r). */
int tu_no_overlap(tu_range *r, size_t n);
/* Fills / checks n bytes with a pattern derived from seed. */
void tu_fill(void *p, size_t n, unsigned seed);
int  tu_check(const void *p, size_t n, unsigned seed);
/* A small deterministic pseudo-random generator. */
unsigned tu_rand(unsigned *state);

/* AddressSanitizer in this build (smalloc then poisons through it instead of filling). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

/* Leak reports: tu_report_fn (an sm_report_fn, user a tu_report) records each call. */
#define TU_REPORT_MAX 128
typedef struct tu_site {
    const char *file;
    int line;
    size_t blocks, bytes;
} tu_site;
typedef struct tu_report {
    size_t n;              /* calls recorded in e */
    size_t calls;          /* calls made (more than n once e is full) */
    tu_site e[TU_REPORT_MAX];
} tu_report;
void tu_report_init(tu_report *r);
void tu_report_fn(void *user, const char *file, int line, size_t blocks, size_t bytes);
/* Sorts the recorded calls by file (NULL first) and line and merges those of one site (as if
   each site had been reported once). */
void tu_report_merge(tu_report *r);
/* Whether r holds exactly want[0..n) in that order (files compared as strings); a mismatch is
   recorded as a failure at file:line with both lists printed. */
int tu_report_equal(const char *file, int line, const tu_report *r, const tu_site *want, size_t n);
/* sm_env_report(env) into a fresh report: SM_OK and exactly want[0..n). */
int tu_env_report_is(const char *file, int line, const sm_env *env, const tu_site *want, size_t n);
#define CHECK_REPORT(r, want, n)       tu_report_equal(__FILE__, __LINE__, (r), (want), (n))
#define CHECK_ENV_REPORT(env, want, n) tu_env_report_is(__FILE__, __LINE__, (env), (want), (n))

#define CHECK_STATS_EQ(a, b) do { \
        CHECK_EQ_SIZE((a).live_bytes, (b).live_bytes); \
        CHECK_EQ_SIZE((a).live_blocks, (b).live_blocks); \
        CHECK_EQ_SIZE((a).freed_bytes, (b).freed_bytes); \
        CHECK_EQ_SIZE((a).freed_blocks, (b).freed_blocks); \
        CHECK_EQ_SIZE((a).backing_bytes, (b).backing_bytes); \
        CHECK_EQ_SIZE((a).backing_peak, (b).backing_peak); \
        CHECK_EQ_SIZE((a).chunks, (b).chunks); \
    } while (0)

#endif /* TU_UTIL_H */

#ifdef TH_IMPLEMENTATION
#ifndef TU_UTIL_IMPLEMENTED
#define TU_UTIL_IMPLEMENTED
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sm_stats tu_stats(const sm_env *env)
{
    sm_stats s;
    if (sm_env_stats(env, &s) != SM_OK)
        memset(&s, 0xff, sizeof s);
    return s;
}

static int tu_cmp_range(const void *a, const void *b)
{
    uintptr_t x = ((const tu_range *)a)->start, y = ((const tu_range *)b)->start;
    return x < y ? -1 : x > y;
}

int tu_no_overlap(tu_range *r, size_t n)
{
    size_t i;
    qsort(r, n, sizeof *r, tu_cmp_range);
    for (i = 1; i < n; i++)
        if (r[i - 1].start + (r[i - 1].size ? r[i - 1].size : 1) > r[i].start)
            return 0;
    return 1;
}

void tu_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = (unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 31u + i * 7u + 1u);
}

int tu_check(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed * 31u + i * 7u + 1u))
            return 0;
    return 1;
}

unsigned tu_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fffu;
}

void tu_report_init(tu_report *r)
{
    memset(r, 0, sizeof *r);
}

void tu_report_fn(void *user, const char *file, int line, size_t blocks, size_t bytes)
{
    tu_report *r = (tu_report *)user;
    r->calls++;
    if (r->n < TU_REPORT_MAX) {
        r->e[r->n].file = file;
        r->e[r->n].line = line;
        r->e[r->n].blocks = blocks;
        r->e[r->n].bytes = bytes;
        r->n++;
    }
}

static int tu_site_cmp(const void *a, const void *b)
{
    const tu_site *x = (const tu_site *)a, *y = (const tu_site *)b;
    int c = x->file == y->file ? 0 : !x->file ? -1 : !y->file ? 1 : strcmp(x->file, y->file);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

void tu_report_merge(tu_report *r)
{
    size_t i, k = 0;
    qsort(r->e, r->n, sizeof r->e[0], tu_site_cmp);
    for (i = 0; i < r->n; i++) {
        if (k && tu_site_cmp(&r->e[k - 1], &r->e[i]) == 0) {
            r->e[k - 1].blocks += r->e[i].blocks;
            r->e[k - 1].bytes += r->e[i].bytes;
        } else {
            r->e[k++] = r->e[i];
        }
    }
    if (r->calls == r->n)
        r->calls = k;
    r->n = k;
}

static void tu_print_sites(const char *what, const tu_site *e, size_t n)
{
    size_t i;
    fprintf(stderr, "    %s (%u):\n", what, (unsigned)n);
    for (i = 0; i < n; i++)
        fprintf(stderr, "      %s:%d  %lu blocks, %lu bytes\n", e[i].file ? e[i].file : "(null)",
                e[i].line, (unsigned long)e[i].blocks, (unsigned long)e[i].bytes);
}

int tu_report_equal(const char *file, int line, const tu_report *r, const tu_site *want, size_t n)
{
    size_t i;
    int same = r->calls == r->n && r->n == n;
    for (i = 0; same && i < n; i++)
        same = tu_site_cmp(&r->e[i], &want[i]) == 0 && r->e[i].blocks == want[i].blocks &&
               r->e[i].bytes == want[i].bytes;
    if (!same) {
        th_fail(file, line, "leak report as expected");
        tu_print_sites("got", r->e, r->n);
        tu_print_sites("expected", want, n);
    }
    return same;
}

int tu_env_report_is(const char *file, int line, const sm_env *env, const tu_site *want, size_t n)
{
    tu_report r;
    sm_status st;
    tu_report_init(&r);
    st = sm_env_report(env, tu_report_fn, &r);
    if (st != SM_OK) {
        th_fail(file, line, "sm_env_report(...) == SM_OK");
        fprintf(stderr, "    got %s\n", sm_status_string(st));
        return 0;
    }
    return tu_report_equal(file, line, &r, want, n);
}
#endif
#endif /* TH_IMPLEMENTATION */
