/* fastpath.c - what one allocation costs: smalloc's fast paths beside a raw bump pointer and
   malloc, in one process, interleaved, median of several rounds.

   Build and run:  make bench   (or: cc -O2 -pthread $(pkg-config --cflags stb) -I.. fastpath.c)
   Each round allocates N blocks of 8..64 bytes (touching each once) and releases everything:
     bump      a minimal correct bump pointer: 16-byte alignment, 64 KiB chunks kept in a list
               and reused by the next round (the practical lower bound);
     env       sm_env_allocate on an environment created and destroyed per round;
     env-reset sm_env_allocate on one environment, sm_env_reset between rounds;
     implicit  sm_allocate between sm_enable_allocate and sm_disable_allocate;
     malloc    malloc per block, free of every block at the end of the round.
   An argument selects one of them alone (two rounds, after the same set-up), or "setup" for the
   set-up alone: `make bench-callgrind` subtracts that and divides by the allocations made, for
   an instruction count per allocation that does not depend on the machine's load. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../smalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N      1000000
#define ROUNDS 7
#define BUMP_CHUNK (64 * 1024)

typedef struct bump_chunk { struct bump_chunk *next; } bump_chunk;
typedef struct bump { char *top, *end; bump_chunk *used, *spare; } bump;

static void *bump_alloc(bump *b, size_t size)
{
    size_t n = (size + 15) & ~(size_t)15;
    char *p;
    if ((size_t)(b->end - b->top) < n) {
        bump_chunk *c = b->spare;
        if (c)
            b->spare = c->next;
        else if (!(c = (bump_chunk *)malloc(BUMP_CHUNK)))
            return NULL;
        c->next = b->used;
        b->used = c;
        b->top = (char *)c + 16;
        b->end = (char *)c + BUMP_CHUNK;
    }
    p = b->top;
    b->top += n;
    return p;
}

static void bump_reset(bump *b)
{
    while (b->used) {
        bump_chunk *c = b->used;
        b->used = c->next;
        c->next = b->spare;
        b->spare = c;
    }
    b->top = b->end = NULL;
}

static unsigned short sizes[N];
static void *blocks[N];
static sm_env *reused;
static bump bp;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run(int which)
{
    sm_status st = SM_OK;
    sm_env *env = NULL;
    int i;
    if (which == 1)
        env = sm_env_create(NULL, &st);
    if (which == 3)
        st = sm_enable_allocate();
    if (st != SM_OK)
        return 0;
    for (i = 0; i < N; i++) {
        char *p;
        switch (which) {
        case 0:  p = (char *)bump_alloc(&bp, sizes[i]); break;
        case 1:  p = (char *)sm_env_allocate(env, sizes[i], &st); break;
        case 2:  p = (char *)sm_env_allocate(reused, sizes[i], &st); break;
        case 3:  p = (char *)sm_allocate(sizes[i], &st); break;
        default: p = (char *)malloc(sizes[i]); blocks[i] = p; break;
        }
        if (!p)
            return 0;
        p[0] = (char)i;
    }
    switch (which) {
    case 0: bump_reset(&bp); break;
    case 1: sm_env_destroy(env); break;
    case 2: sm_env_reset(reused); break;
    case 3: sm_disable_allocate(); break;
    default: for (i = 0; i < N; i++) free(blocks[i]); break;
    }
    return 1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    static const char *names[] = { "bump", "env", "env-reset", "implicit", "malloc", "setup" };
    double t[5][ROUNDS];
    unsigned seed = 12345;
    int i, r, k, only = -1;
    for (i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        sizes[i] = (unsigned short)(8 + (seed >> 16) % 57);
    }
    if (argc > 1)
        for (k = 0; k < 6; k++)
            if (!strcmp(argv[1], names[k]))
                only = k;
    if (argc > 1 && only < 0) {
        fprintf(stderr, "usage: %s [bump|env|env-reset|implicit|malloc|setup]\n", argv[0]);
        return 2;
    }
    reused = sm_env_create(NULL, NULL);
    if (!reused)
        return 1;
    if (only == 5)
        return 0;
    if (only >= 0)
        return run(only) && run(only) ? 0 : 1;
    for (k = 0; k < 5; k++)
        if (!run(k))
            return 1;
    for (r = 0; r < ROUNDS; r++)
        for (k = 0; k < 5; k++) {
            double t0 = now();
            if (!run(k))
                return 1;
            t[k][r] = (now() - t0) * 1e9 / N;
        }
    printf("| allocator | ns per allocation (median) | min | max | ratio to bump |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (k = 0; k < 5; k++)
        qsort(t[k], ROUNDS, sizeof(double), cmp);
    for (k = 0; k < 5; k++)
        printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", names[k], t[k][ROUNDS / 2], t[k][0],
               t[k][ROUNDS - 1], t[k][ROUNDS / 2] / t[0][ROUNDS / 2]);
    sm_env_destroy(reused);
    return 0;
}
