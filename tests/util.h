/* util.h - helpers shared by the test files: stats snapshots, overlap and pattern checks.
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
#endif
#endif /* TH_IMPLEMENTATION */
