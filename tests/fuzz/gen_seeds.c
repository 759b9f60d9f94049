/* gen_seeds.c - writes the API fuzzer's seed corpus: one small input per scenario, together
   covering every operation of fuzz.h and the interesting arguments of each.

       gen_seeds DIR        writes DIR/NN_name for every scenario (DIR must exist)

   The checked-in tests/fuzz/corpus is this program's output: `make fuzz-seeds` rewrites it, and
   `make check-fuzz-replay` checks that it is still exactly what this program writes (so a change
   of the input format cannot leave the corpus behind). Each scenario is a list of operations
   written with op(); arguments are in fuzz.h's order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static const unsigned char nargs[] = {
#define FZ_NARGS_(name, n) n,
    FZ_OPS(FZ_NARGS_)
#undef FZ_NARGS_
};

/* Configuration byte (fuzz.h "cfg"): flags, report function, chunk size index
   (0: default 8192, 1: 1 byte, 2: 256, 3: 300, 4: 1000, 5: 4096, 6: 65536, 7: 1 MiB). */
#define CFG(flags, report, chunk) ((flags) | ((report) << 3) | ((chunk) << 4))
#define CFG_NULL 0x80
enum { T = 1, P = 2, R = 4 };                 /* SM_TRACK, SM_POISON, SM_RECYCLE */
enum { COUNTED = 0, MALLOC = 5, ALLOC_ONLY = 6, FREE_ONLY = 7, NO_STATUS = 0x80 };
/* size classes */
enum { TINY, BYTE, MEDIUM, PAGE, QUARTER, LARGE, HUGE, GRANULES };
/* allocation variants */
#define PLAIN 0
#define SITE(k) (1 | ((k) << 2))
#define ALIGNED(k) (2 | ((k) << 2))       /* index into 1 8 16 32 64 128 256 1024 4096 0 3 48 */
#define NOST 3
#define CUR 0x80                          /* ALLOC_BURST / FREE_BURST on the current env */
#define NULLENV 0xFF
#define NULLOUT 0xFE
/* ZEROED's variant: mode (fuzz.h, api_fuzz.c) and size class; SWAP swaps count and size */
#define ZMODE(mode, cls) ((mode) | ((cls) << 3))
#define SWAP 0x40

static unsigned char buf[4096];
static size_t len;

static void op(int code, ...)
{
    va_list ap;
    int k;
    if (len + 1 + nargs[code] > sizeof buf) {
        fprintf(stderr, "gen_seeds: a scenario is too long\n");
        exit(1);
    }
    buf[len++] = (unsigned char)code;
    va_start(ap, code);
    for (k = 0; k < nargs[code]; k++)
        buf[len++] = (unsigned char)va_arg(ap, int);
    va_end(ap);
}

static void save(const char *dir, const char *name)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        exit(1);
    }
    len = 0;
}

static void create_destroy(void)
{
    int k;
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_CREATE, CFG(0, 0, 2), MALLOC);
    op(FZ_CREATE, CFG_NULL, COUNTED);
    op(FZ_CREATE, CFG(0, 0, 1), COUNTED | NO_STATUS);
    op(FZ_CREATE, CFG(0, 0, 0), ALLOC_ONLY);
    op(FZ_CREATE, CFG(0, 0, 0), FREE_ONLY | NO_STATUS);
    op(FZ_CREATE, CFG(0, 1, 0), COUNTED);         /* a report function without SM_TRACK */
    for (k = 1; k < 8; k++)
        op(FZ_CREATE, CFG(k, k & 1, k), COUNTED);
    op(FZ_STATS, 0);
    op(FZ_STATS, 1);
    op(FZ_STATS, NULLENV);
    op(FZ_STATS, NULLOUT);
    op(FZ_ENV_HANDLE, 0);
    op(FZ_ENV_HANDLE, 2);
    op(FZ_ENV_HANDLE, NULLENV);
    op(FZ_DESTROY, 1);
    op(FZ_DESTROY, 0);
    op(FZ_DESTROY, NULLENV);
    op(FZ_RESET, NULLENV);
    op(FZ_DESTROY, 3);
}

static void alloc_sizes(void)
{
    int c, d;
    op(FZ_CREATE, CFG(0, 0, 2), COUNTED);         /* 256-byte chunks: everything is large */
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    for (c = 0; c < 8; c++)
        for (d = 0; d < 256; d += 85)
            op(FZ_ALLOC, c & 1, c, d, c & 3);
    for (d = 0; d < 12; d++)
        op(FZ_ALLOC, 1, TINY, d, ALIGNED(d));
    for (d = 0; d < 4; d++)
        op(FZ_ALLOC, 0, BYTE, 40 + d, SITE(d));
    op(FZ_ALLOC, 0, GRANULES, 0, NOST);
    op(FZ_ALLOC, NULLENV, 0, 0, 0);
    op(FZ_VERIFY);
    op(FZ_STATS, 0);
    op(FZ_STATS, 1);
}

static void free_kinds(void)
{
    int k;
    op(FZ_CREATE, CFG(0, 0, 4), COUNTED);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_ALLOC_BURST, 0, 12, 40);
    op(FZ_ALLOC_BURST, 1, 4, 100);
    op(FZ_ALLOC, 0, LARGE, 3, PLAIN);
    op(FZ_FREE, 0, FZ_K_LIVE, 3, 0);
    op(FZ_CLIENT_ALLOC, BYTE, 30);                 /* a malloc'd block: foreign */
    for (k = 0; k < FZ_KINDS; k++) {
        op(FZ_FREE, 0, k, 1, 2 * k + 1);
        op(FZ_FREE, 1, k, 2, 2 * k);
    }
    op(FZ_FREE, NULLENV, FZ_K_LIVE, 0, 0);
    op(FZ_STATS, 0);
    op(FZ_STATS, 1);
}

static void rollback(void)
{
    op(FZ_CREATE, CFG(0, 0, 2), COUNTED);
    op(FZ_ALLOC_BURST, 0, 30, 16);
    op(FZ_FREE_BURST, 0, 5);                       /* newest first: each rolls back */
    op(FZ_STATS, 0);
    op(FZ_ALLOC_BURST, 0, 20, 48);
    op(FZ_FREE_BURST, 0, 0x10 | 7);                /* oldest first: the last one cascades */
    op(FZ_STATS, 0);
    op(FZ_ALLOC, 0, TINY, 8, ALIGNED(7));          /* padding before an aligned block */
    op(FZ_ALLOC, 0, TINY, 8, PLAIN);
    op(FZ_FREE_BURST, 0, 1);
    op(FZ_DESCRIBE, 0, FZ_K_FREED, 0, 0);
    op(FZ_STATS, 0);
    /* a block of its own as the last allocation, after an exactly full chunk */
    op(FZ_CREATE, CFG(0, 0, 4), COUNTED);
    op(FZ_ALLOC_BURST, 1, 63, 0);
    op(FZ_ALLOC, 1, LARGE, 2, PLAIN);
    op(FZ_FREE_BURST, 1, 0);
    op(FZ_STATS, 1);
}

static void reset(void)
{
    op(FZ_CREATE, CFG(0, 0, 3), COUNTED);
    op(FZ_ALLOC_BURST, 0, 40, 90);
    op(FZ_ALLOC, 0, LARGE, 1, PLAIN);
    op(FZ_FREE, 0, FZ_K_LIVE, 3, 0);
    op(FZ_RESET, 0);
    op(FZ_FREE, 0, FZ_K_DEAD, 0, 0);
    op(FZ_DESCRIBE, 0, FZ_K_DEAD, 1, 0);
    op(FZ_ALLOC_BURST, 0, 40, 90);
    op(FZ_STATS, 0);
    op(FZ_RESET, 0);
    op(FZ_RESET, 0);
    op(FZ_STATS, 0);
}

static void enable_nested(void)
{
    op(FZ_DISABLE);
    op(FZ_ALLOC_CUR, TINY, 4, PLAIN);
    op(FZ_FREE_CUR, FZ_K_STATIC, 0, 0);
    op(FZ_FREE_CUR, FZ_K_NULL, 0, 0);
    op(FZ_GET_HANDLE, 0);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_ALLOC_CUR, BYTE, 100, PLAIN);
    op(FZ_ENABLE, CFG_NULL, 0);
    op(FZ_ALLOC_CUR, MEDIUM, 10, SITE(1));
    op(FZ_ENABLE, CFG(0, 0, 2), COUNTED);
    op(FZ_ALLOC_BURST, CUR, 20, 30);
    op(FZ_ALLOC_CUR, LARGE, 1, ALIGNED(8));
    op(FZ_ALLOC_CUR, TINY, 0, ALIGNED(10));        /* bad alignment */
    op(FZ_FREE_CUR, FZ_K_LIVE, 2, 0);
    op(FZ_FREE_CUR, FZ_K_INTERIOR, 1, 3);
    op(FZ_FREE_BURST, CUR, 3);
    op(FZ_GET_HANDLE, 1);
    op(FZ_DISABLE);
    op(FZ_FREE_CUR, FZ_K_LIVE, 0, 0);
    op(FZ_DISABLE);
    op(FZ_ENABLE, CFG(0, 0, 0), ALLOC_ONLY);       /* refused */
    op(FZ_DISABLE);
    op(FZ_DISABLE);
    op(FZ_ENABLE, CFG(0, 0, 5), COUNTED);          /* left for the end of the input */
    op(FZ_ALLOC_CUR, PAGE, 7, NOST);
}

static void handles(void)
{
    int k;
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_GET_HANDLE, 0);
    for (k = 0; k < FZ_HKINDS; k++) {
        op(FZ_SET_HANDLE, k, 0);
        op(FZ_SET_HANDLE, k, 37);
        op(FZ_GET_HANDLE, 0);
    }
    op(FZ_SET_HANDLE, FZ_H_LIVE, 0);               /* attach to an explicit environment */
    op(FZ_ALLOC_CUR, BYTE, 64, PLAIN);
    op(FZ_ALLOC, 0, BYTE, 64, PLAIN);
    op(FZ_FREE_CUR, FZ_K_LIVE, 0, 0);
    op(FZ_DISABLE);                                /* not the owner */
    op(FZ_DESTROY, 0);                             /* the current environment goes: stale */
    op(FZ_GET_HANDLE, 0);
    op(FZ_ALLOC_CUR, TINY, 1, PLAIN);
    op(FZ_FREE_CUR, FZ_K_STATIC, 0, 0);
    op(FZ_FREE_CUR, FZ_K_NULL, 0, 0);
    op(FZ_REALLOC_CUR, FZ_K_NULL, 0, 0, TINY, 3);
    op(FZ_DISABLE);
    op(FZ_SET_HANDLE, FZ_H_STALE, 0);
    op(FZ_SET_HANDLE, FZ_H_OLD, 0);
    op(FZ_SET_HANDLE, FZ_H_FLIP, 1);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 1);
    op(FZ_SET_HANDLE, FZ_H_NULL, 0);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 0);
    op(FZ_SET_HANDLE, FZ_H_NULL, 0);
}

static void attach_disable(void)
{
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 0);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);          /* remembers the explicit one */
    op(FZ_ALLOC_CUR, BYTE, 9, PLAIN);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_ALLOC_CUR, BYTE, 9, PLAIN);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 1);               /* the first enabled one */
    op(FZ_DISABLE);                                /* out of order: its predecessor comes back */
    op(FZ_GET_HANDLE, 0);
    op(FZ_DESTROY, 0);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 0);
    op(FZ_DISABLE);                                /* back to the destroyed explicit one */
    op(FZ_GET_HANDLE, 0);
    op(FZ_ALLOC_CUR, TINY, 3, PLAIN);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);          /* enabling while attached to a stale one */
    op(FZ_DISABLE);
    op(FZ_DISABLE);
}

static void client_pair(void)
{
    int k;
    op(FZ_CLIENT_ALLOC, TINY, 0);                  /* default pair, no environment: malloc */
    op(FZ_CLIENT_ALLOC, BYTE, 77);
    op(FZ_CLIENT_FREE, FZ_K_CLIENT, 0, 0);
    op(FZ_CLIENT_FREE, FZ_K_NULL, 0, 0);
    for (k = 0; k < 32; k++)
        op(FZ_CLIENT_SWAP, k);
    op(FZ_CLIENT_SWAP, 1 | (1 << 2));              /* pair A */
    op(FZ_CLIENT_ALLOC, MEDIUM, 3);
    op(FZ_CLIENT_ALLOC, TINY, 0);
    op(FZ_CLIENT_FREE, FZ_K_CLIENT, 0, 0);
    op(FZ_CLIENT_SWAP, 2 | (2 << 2) | 16);         /* pair B, set */
    op(FZ_CLIENT_ALLOC, BYTE, 5);
    op(FZ_CLIENT_FREE, FZ_K_CLIENT, 1, 0);
    op(FZ_CLIENT_SWAP, 1 | (0 << 2));              /* A's alloc, the default free */
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_CLIENT_ALLOC, BYTE, 50);
    op(FZ_CLIENT_FREE, FZ_K_LIVE, 0, 0);
    op(FZ_CLIENT_SWAP, 0);                         /* the default pair again */
    op(FZ_CLIENT_ALLOC, BYTE, 50);
    op(FZ_CLIENT_ALLOC, PAGE, 1);
    op(FZ_CLIENT_FREE, FZ_K_LIVE, 1, 0);
    op(FZ_CLIENT_FREE, FZ_K_INTERIOR, 0, 1);
    op(FZ_CLIENT_FREE, FZ_K_CLIENT, 0, 0);
    op(FZ_GET_HANDLE, 0);
    op(FZ_SET_HANDLE, FZ_H_NULL, 0);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 1);
    op(FZ_DESTROY, 0);                             /* stale: the default pair says so */
    op(FZ_CLIENT_ALLOC, BYTE, 50);
    op(FZ_CLIENT_FREE, FZ_K_STATIC, 0, 0);
    op(FZ_CLIENT_FREE, FZ_K_NULL, 0, 0);
    op(FZ_CLIENT_SWAP, 2 | (1 << 2));              /* left mixed for the end of the input */
}

static void describe(void)
{
    int k;
    op(FZ_CREATE, CFG(0, 0, 4), COUNTED);
    op(FZ_CREATE, CFG(0, 0, 0), MALLOC);
    op(FZ_ALLOC_BURST, 0, 10, 70);
    op(FZ_ALLOC, 0, LARGE, 0, PLAIN);
    op(FZ_ALLOC, 0, TINY, 0, ALIGNED(8));
    op(FZ_ALLOC, 1, BYTE, 1, PLAIN);
    op(FZ_FREE, 0, FZ_K_LIVE, 2, 0);
    op(FZ_FREE, 0, FZ_K_LIVE, 10, 0);
    for (k = 0; k < FZ_KINDS; k++) {
        op(FZ_DESCRIBE, 0, k, k, 3 * k);
        op(FZ_DESCRIBE, 0, k, k + 1, 3 * k + 1);
        op(FZ_DESCRIBE, 1, k, k, 5);
    }
    op(FZ_DESCRIBE, NULLENV, FZ_K_LIVE, 0, 0);
    op(FZ_DESCRIBE, NULLOUT, FZ_K_LIVE, 0, 0);
}

static void realloc_ops(void)
{
    int m;
    op(FZ_CREATE, CFG(0, 0, 4), COUNTED);
    op(FZ_REALLOC, 0, FZ_K_NULL, 0, 0, BYTE, 20);  /* allocates */
    op(FZ_REALLOC, 0, FZ_K_LIVE, 0, 0, BYTE, 200); /* the last block grows in place */
    op(FZ_REALLOC, 0, FZ_K_LIVE, 0, 0, TINY, 3);   /* shrinks in place */
    op(FZ_ALLOC, 0, BYTE, 30, PLAIN);
    op(FZ_REALLOC, 0, FZ_K_LIVE, 0, 0, MEDIUM, 40); /* not the last: moves */
    op(FZ_REALLOC, 0, FZ_K_LIVE, 1, 0, LARGE, 2);  /* to a chunk of its own */
    for (m = 0; m < 4; m++)
        op(FZ_REALLOC, 0, FZ_K_LIVE, m, m, BYTE, 60 + m);
    op(FZ_REALLOC, 0, FZ_K_LIVE, 0, 3 | 8, BYTE, 1); /* an old size beyond the block */
    op(FZ_REALLOC, 0, FZ_K_FREED, 0, 0, BYTE, 10);
    op(FZ_REALLOC, 0, FZ_K_INTERIOR, 0, 0, BYTE, 10);
    op(FZ_REALLOC, 0, FZ_K_STATIC, 0, 0, BYTE, 10);
    op(FZ_REALLOC, 0, FZ_K_LIVE, 0, 0, HUGE, 0);
    op(FZ_REALLOC, NULLENV, 0, 0, 0, 0, 0);
    op(FZ_STATS, 0);
    op(FZ_REALLOC_CUR, FZ_K_NULL, 0, 0, BYTE, 5);  /* no environment */
    op(FZ_ENABLE, CFG(0, 0, 3), COUNTED);
    op(FZ_REALLOC_CUR, FZ_K_NULL, 0, 0, BYTE, 5);
    op(FZ_REALLOC_CUR, FZ_K_LIVE, 0, 0, MEDIUM, 5);
    op(FZ_ALLOC_CUR, BYTE, 5, PLAIN);
    op(FZ_REALLOC_CUR, FZ_K_LIVE, 0, 0, PAGE, 5);
    op(FZ_REALLOC_CUR, FZ_K_LIVE, 1, 1, TINY, 5);
    op(FZ_REALLOC_CUR, FZ_K_FREED, 0, 0, TINY, 5);
    op(FZ_VERIFY);
}

static void track_report(void)
{
    int k;
    op(FZ_CREATE, CFG(T, 1, 2), COUNTED);
    op(FZ_CREATE, CFG(T, 0, 0), COUNTED);
    for (k = 0; k < 8; k++)
        op(FZ_ALLOC, k & 1, k % 3 == 0 ? LARGE : BYTE, 10 * k, SITE(k % 4));
    op(FZ_ALLOC_BURST, 0, 8, 30);
    op(FZ_REPORT, 0, 0);
    op(FZ_REPORT, 1, 0);
    op(FZ_REPORT, 0, 1);
    op(FZ_REPORT, NULLENV, 0);
    op(FZ_FREE, 0, FZ_K_LIVE, 1, 0);
    op(FZ_REALLOC, 0, FZ_K_LIVE, 2, 0, MEDIUM, 9);
    op(FZ_DESCRIBE, 0, FZ_K_LIVE, 3, 0);
    op(FZ_DESCRIBE, 0, FZ_K_FREED, 0, 0);
    op(FZ_REPORT, 0, 0);
    op(FZ_DESTROY, 0);                             /* the report function sees what is live */
    op(FZ_ENABLE, CFG(T, 1, 0), COUNTED);
    op(FZ_ALLOC_CUR, BYTE, 3, SITE(2));
    op(FZ_ALLOC_CUR, BYTE, 4, PLAIN);
    op(FZ_DISABLE);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_REPORT, 1, 0);                           /* without SM_TRACK */
}

static void poison(void)
{
    op(FZ_CREATE, CFG(P, 0, 2), COUNTED);
    op(FZ_CREATE, CFG(P, 0, 0), MALLOC);
    op(FZ_ALLOC_BURST, 0, 20, 33);
    op(FZ_ALLOC, 0, LARGE, 0, PLAIN);
    op(FZ_FREE, 0, FZ_K_LIVE, 3, 0);
    op(FZ_FREE_BURST, 0, 2);
    op(FZ_REALLOC, 0, FZ_K_LIVE, 0, 0, MEDIUM, 1);
    op(FZ_REALLOC, 0, FZ_K_LIVE, 1, 1, TINY, 1);
    op(FZ_DESCRIBE, 0, FZ_K_INTERIOR_FREED, 0, 0);
    op(FZ_ALLOC_BURST, 1, 20, 120);
    op(FZ_FREE_BURST, 1, 0x10 | 4);
    op(FZ_RESET, 0);
    op(FZ_ALLOC_BURST, 0, 20, 33);
    op(FZ_STATS, 0);
    op(FZ_ENABLE, CFG(P, 0, 0), COUNTED);
    op(FZ_ALLOC_BURST, CUR, 10, 20);
    op(FZ_FREE_BURST, CUR, 3);
    op(FZ_VERIFY);
}

static void recycle(void)
{
    int k;
    op(FZ_CREATE, CFG(R, 0, 2), COUNTED);
    op(FZ_CREATE, CFG(R | P, 0, 0), COUNTED);
    for (k = 0; k < 3; k++) {
        op(FZ_ALLOC_BURST, k & 1, 24, 60 + k);
        op(FZ_FREE, k & 1, FZ_K_LIVE, 3, 0);
        op(FZ_FREE, k & 1, FZ_K_LIVE, 7, 0);
        op(FZ_FREE, k & 1, FZ_K_LIVE, 11, 0);
        op(FZ_ALLOC_BURST, k & 1, 6, 60 + k);     /* reuses what was marked free */
        op(FZ_ALLOC, k & 1, MEDIUM, 20, PLAIN);
        op(FZ_FREE, k & 1, FZ_K_LIVE, 0, 0);
        op(FZ_ALLOC, k & 1, MEDIUM, 10, PLAIN);
        op(FZ_REALLOC, k & 1, FZ_K_LIVE, 2, 0, MEDIUM, 30);
        op(FZ_STATS, k & 1);
    }
    op(FZ_ALLOC, 0, LARGE, 1, PLAIN);
    op(FZ_ALLOC, 0, TINY, 1, PLAIN);
    op(FZ_FREE, 0, FZ_K_LIVE, 0, 0);
    op(FZ_DESCRIBE, 0, FZ_K_FREED_ANY, 0, 0);
    op(FZ_RESET, 1);
    op(FZ_ALLOC_BURST, 1, 10, 60);
    op(FZ_STATS, 1);
}

static void fail_backing(void)
{
    int k;
    op(FZ_FAIL, 1, 0);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);          /* refused */
    op(FZ_CREATE, CFG(0, 0, 2), COUNTED);
    for (k = 1; k < 4; k++) {
        op(FZ_FAIL, k, 0);
        op(FZ_ALLOC, 0, MEDIUM, 5 * k, PLAIN);
    }
    op(FZ_FAIL, 0x80, 0);                          /* every call of the next op */
    op(FZ_ALLOC, 0, LARGE, 5, PLAIN);
    op(FZ_FAIL, 0x80, 0);
    op(FZ_ALLOC_BURST, 0, 40, 100);
    op(FZ_ALLOC, 0, BYTE, 1, PLAIN);
    op(FZ_FAIL, 0x80, 0);
    op(FZ_REALLOC, 0, FZ_K_LIVE, 0, 0, LARGE, 9);
    op(FZ_FAIL, 0x80, 0);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_FAIL, 1, 0);
    op(FZ_ALLOC_CUR, TINY, 1, PLAIN);              /* the cursor's memory is refused */
    op(FZ_FAIL, 2, 0);
    op(FZ_ALLOC_CUR, TINY, 1, PLAIN);              /* the chunk is refused */
    op(FZ_ALLOC_CUR, TINY, 1, PLAIN);
    op(FZ_FAIL, 0x80, 0);
    op(FZ_CLIENT_ALLOC, PAGE, 200);
    op(FZ_STATS, 0);
}

static void fail_book(void)
{
    int k;
    op(FZ_CREATE, CFG(T, 1, 2), COUNTED);          /* env 0: sites, report at destroy */
    op(FZ_FAIL, 0, 0x80);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_FAIL, 0, 0x80);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    for (k = 1; k < 6; k++) {
        op(FZ_FAIL, 0, k);
        op(FZ_ALLOC, 0, k & 1 ? LARGE : MEDIUM, k, SITE(k % 4));
    }
    op(FZ_FAIL, 0, 0x80);
    op(FZ_ALLOC_BURST, 0, 64, 199);
    op(FZ_ALLOC_BURST, 0, 64, 199);
    op(FZ_FAIL, 0, 0x80);
    op(FZ_REPORT, 0, 0);
    op(FZ_FAIL, 0, 0x80);
    op(FZ_RESET, 0);
    op(FZ_ALLOC_BURST, 0, 30, 150);
    op(FZ_FAIL, 0, 0x80);
    op(FZ_DESTROY, 0);                             /* the report at destroy, without memory */
    op(FZ_FAIL, 3, 3);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_ALLOC_CUR, BYTE, 10, PLAIN);
    op(FZ_FAIL, 0, 0);
}

static void huge(void)
{
    int d;
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_CREATE, CFG(0, 0, 0), MALLOC);
    for (d = 0; d < 8; d++) {
        op(FZ_ALLOC, 0, HUGE, d, d & 2 ? ALIGNED(8) : PLAIN);
        op(FZ_ALLOC, 1, HUGE, d, PLAIN);
    }
    op(FZ_ALLOC, 0, BYTE, 1, PLAIN);
    op(FZ_REALLOC, 0, FZ_K_LIVE, 0, 0, HUGE, 2);
    op(FZ_ENABLE, CFG_NULL, 0);
    op(FZ_ALLOC_CUR, HUGE, 0, PLAIN);
    op(FZ_ALLOC_CUR, HUGE, 5, ALIGNED(8));
    op(FZ_STATS, 0);
    op(FZ_STATS, 1);
}

static void trim(void)
{
    int k;
    for (k = 0; k < 4; k++) {
        op(FZ_CREATE, CFG_NULL, 0);
        op(FZ_ALLOC_BURST, 0, 30, 180);
        op(FZ_ALLOC, 0, LARGE, 4, PLAIN);
        op(FZ_DESTROY, 0);
        op(FZ_TRIM, k);
    }
    op(FZ_ENABLE, CFG_NULL, 0);
    op(FZ_ALLOC_BURST, CUR, 30, 180);
    op(FZ_DISABLE);
    op(FZ_CREATE, CFG_NULL, 0);                    /* from the cache */
    op(FZ_ALLOC_BURST, 0, 30, 180);
    op(FZ_STATS, 0);
}

static void all_flags(void)
{
    op(FZ_CREATE, CFG(T | P | R, 1, 3), COUNTED);
    op(FZ_ALLOC_BURST, 0, 16, 77);
    op(FZ_ALLOC, 0, LARGE, 1, SITE(0));
    op(FZ_ALLOC, 0, TINY, 1, SITE(1));
    op(FZ_FREE, 0, FZ_K_LIVE, 4, 0);
    op(FZ_FREE, 0, FZ_K_LIVE, 9, 0);
    op(FZ_ALLOC, 0, BYTE, 77, SITE(2));
    op(FZ_REALLOC, 0, FZ_K_LIVE, 3, 0, MEDIUM, 3);
    op(FZ_REPORT, 0, 0);
    op(FZ_DESCRIBE, 0, FZ_K_INTERIOR, 2, 4);
    op(FZ_STATS, 0);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 0);
    op(FZ_ALLOC_CUR, BYTE, 8, SITE(3));
    op(FZ_CLIENT_ALLOC, BYTE, 8);
    op(FZ_CLIENT_FREE, FZ_K_LIVE, 0, 0);
    op(FZ_REALLOC_CUR, FZ_K_LIVE, 1, 0, BYTE, 100);
    op(FZ_FREE_BURST, CUR, 4);
    op(FZ_RESET, 0);
    op(FZ_ALLOC_BURST, 0, 16, 77);
    op(FZ_DESTROY, 0);
}

static void big_blocks(void)
{
    op(FZ_CREATE, CFG(0, 0, 2), COUNTED);
    op(FZ_ALLOC, 0, QUARTER, 0, PLAIN);
    op(FZ_ALLOC, 0, QUARTER, 200, PLAIN);
    op(FZ_ALLOC, 0, LARGE, 0, PLAIN);
    op(FZ_ALLOC, 0, LARGE, 30, PLAIN);
    op(FZ_FREE_BURST, 0, 0);                       /* the last one: its chunk goes back at once */
    op(FZ_FREE, 0, FZ_K_LIVE, 0, 0);               /* not the last: marked */
    op(FZ_DESCRIBE, 0, FZ_K_FREED, 0, 0);
    op(FZ_ALLOC, 0, PAGE, 3, ALIGNED(8));
    op(FZ_ALLOC, 0, QUARTER, 9, ALIGNED(7));
    op(FZ_STATS, 0);
    op(FZ_RESET, 0);
    op(FZ_ALLOC, 0, LARGE, 30, PLAIN);
    op(FZ_STATS, 0);
    op(FZ_CREATE, CFG(0, 0, 7), COUNTED);          /* 1 MiB chunks: growth capped at the chunk */
    op(FZ_ALLOC_BURST, 1, 40, 199);
    op(FZ_ALLOC, 1, LARGE, 255, PLAIN);
    op(FZ_ALLOC, 1, QUARTER, 0, PLAIN);
    op(FZ_STATS, 1);
}

/* More environments than a thread's cache of cursors (4, direct-mapped) has entries. */
static void many_envs(void)
{
    int k, e;
    for (e = 0; e < 7; e++)
        op(FZ_CREATE, CFG(e == 3 ? T | R : 0, 0, e % 2 ? 2 : 0), e == 5 ? MALLOC : COUNTED);
    for (k = 0; k < 4; k++) {
        for (e = 0; e < 7; e++)
            op(FZ_ALLOC, e, k == 3 ? LARGE : BYTE, 16 * k + e, PLAIN);
        for (e = 6; e >= 0; e--)
            op(FZ_FREE, e, FZ_K_LIVE, k, 0);
        for (e = 0; e < 7; e++)
            op(FZ_REALLOC, e, FZ_K_LIVE, 0, 0, MEDIUM, k + e);
    }
    op(FZ_SET_HANDLE, FZ_H_LIVE, 2);
    for (e = 0; e < 7; e++) {
        op(FZ_ALLOC_CUR, BYTE, e, PLAIN);
        op(FZ_ALLOC, e, TINY, e, PLAIN);
        op(FZ_FREE_CUR, FZ_K_LIVE, e, 0);
    }
    op(FZ_DESTROY, 2);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);          /* maybe at the same address as a gone one */
    op(FZ_ALLOC_BURST, 6, 10, 40);
    for (e = 0; e < 7; e++)
        op(FZ_STATS, e);
}

/* Threads that enable: their first calls into smalloc, thread exit destroying what they own. */
static void threads(void)
{
    op(FZ_THREAD, CFG(0, 0, 0), COUNTED, 0x30);         /* three blocks, exits owning it */
    op(FZ_THREAD, CFG(T, 1, 2), COUNTED, 0x20);         /* the report function at thread exit */
    op(FZ_THREAD, CFG(T, 1, 2), COUNTED, 0x70);         /* ... and at its disable */
    op(FZ_THREAD, CFG(P | R, 0, 3), COUNTED, 0x10);
    op(FZ_THREAD, CFG_NULL, 0, 0x35);
    op(FZ_THREAD, CFG(0, 0, 0), COUNTED, 0x01);         /* its record refused: out of memory */
    op(FZ_THREAD, CFG(0, 0, 0), COUNTED, 0x02);         /* its frame refused */
    op(FZ_THREAD, CFG(0, 0, 0), ALLOC_ONLY, 0x30);      /* refused: invalid */
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);               /* the main thread's own stays current */
    op(FZ_THREAD, CFG(0, 0, 0), COUNTED, 0x30);
    op(FZ_GET_HANDLE, 0);
    op(FZ_SET_HANDLE, FZ_H_STALE, 0);
    op(FZ_DISABLE);
}

/* Zeroed blocks, string and memory copies, printf: every mode, NULL arguments, failures, on a
   tracked environment (sites NULL and 0 in its report) and on the current one. */
static void strings(void)
{
    int k;
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);
    op(FZ_CREATE, CFG(T, 1, 2), COUNTED);
    op(FZ_CREATE, CFG(R | P, 0, 0), MALLOC);
    op(FZ_ZEROED, 0, 7, 33, ZMODE(0, BYTE));
    op(FZ_ZEROED, 0, 16, 200, ZMODE(0, PAGE));
    op(FZ_ZEROED, 1, 3, 10, ZMODE(0, LARGE));
    op(FZ_ZEROED, 2, 2, 5, ZMODE(0, MEDIUM) | FZ_V_NOST);
    op(FZ_ZEROED, 0, 0, 5, ZMODE(0, TINY));        /* count 0 */
    op(FZ_ZEROED, 0, 1, 2, ZMODE(1, 0));           /* count * size overflows */
    op(FZ_ZEROED, 1, 0, 3, ZMODE(1, 0) | SWAP);
    op(FZ_ZEROED, 2, 1, 8, ZMODE(1, 0) | FZ_V_NOST);
    op(FZ_ZEROED, 2, 1, 0, ZMODE(2, 0));           /* 0 * SIZE_MAX */
    op(FZ_ZEROED, 0, 1, 0, ZMODE(2, 0) | SWAP);
    op(FZ_ZEROED, 0, 0, 4, ZMODE(3, 0));           /* a gigabyte */
    op(FZ_ZEROED, 2, 0, 0, ZMODE(3, 0) | SWAP);
    op(FZ_ZEROED, NULLENV, 1, 1, ZMODE(0, BYTE));
    op(FZ_ALLOC_BURST, 2, 10, 40);
    op(FZ_FREE_BURST, 2, 0x10 | 5);
    op(FZ_ZEROED, 2, 1, 30, ZMODE(0, BYTE));       /* SM_RECYCLE: a reused block */
    op(FZ_STRDUP, 0, 10, 0, 0);
    op(FZ_STRDUP, 0, 0, 0, 0);                     /* "" */
    op(FZ_STRDUP, 1, 200, 0, FZ_V_LONG);
    for (k = 0; k < 8; k++)                        /* strndup: n 0, L, L-1, L+1, small, huge */
        op(FZ_STRDUP, k % 3, 20, k, FZ_V_OTHER);
    op(FZ_STRDUP, 0, 30, 1, 1);                    /* n bytes without a 0 */
    op(FZ_STRDUP, 0, 30, 8, 1);
    op(FZ_STRDUP, 1, 0, 3, 1 | FZ_V_NOST);
    op(FZ_STRDUP, 0, 0, 0, 2);                     /* s NULL */
    op(FZ_STRDUP, 0, 0, 0, 2 | FZ_V_OTHER | FZ_V_NOST);
    op(FZ_STRDUP, NULLENV, 5, 0, 0);
    op(FZ_STRDUP, 2, 0, 3, 3);                     /* a block's bytes */
    op(FZ_MEMDUP, 0, 1, 10, 0);
    op(FZ_MEMDUP, 1, 2, 0, FZ_V_LONG);
    op(FZ_MEMDUP, 2, 3, 50, 1);
    op(FZ_MEMDUP, 0, 3, 200, 1 | FZ_V_LONG);
    op(FZ_MEMDUP, 0, 0, 5, 2);                     /* NULL, n > 0 */
    op(FZ_MEMDUP, 0, 0, 0, 3);                     /* NULL, 0 */
    op(FZ_MEMDUP, 1, 0, 0, 3 | FZ_V_OTHER);
    op(FZ_MEMDUP, NULLENV, 0, 4, 1);
    for (k = 0; k < 10; k++)
        op(FZ_PRINTF, k % 3, k, 17 * k + 3, k & 1 ? FZ_V_OTHER : 0);
    op(FZ_PRINTF, 0, 3, 255, 0);
    op(FZ_PRINTF, 1, 9, 250, FZ_V_OTHER);
    op(FZ_PRINTF, 0, 0, 0, FZ_V_NULLFMT);
    op(FZ_PRINTF, 0, 0, 0, FZ_V_NULLFMT | FZ_V_OTHER | FZ_V_NOST);
    op(FZ_PRINTF, NULLENV, 1, 1, 0);
    op(FZ_PRINTF, NULLENV, 1, 1, FZ_V_OTHER);
    op(FZ_REPORT, 1, 0);
    op(FZ_DESCRIBE, 1, FZ_K_LIVE, 2, 0);
    op(FZ_FREE, 1, FZ_K_LIVE, 1, 0);
    op(FZ_FREE_BURST, 0, 3);
    for (k = 0; k < 3; k++)
        op(FZ_STATS, k);
    op(FZ_FAIL, 0x80, 0);
    op(FZ_STRDUP, 0, 200, 0, FZ_V_LONG);
    op(FZ_FAIL, 0x80, 0);
    op(FZ_ZEROED, 0, 16, 200, ZMODE(0, LARGE));
    op(FZ_FAIL, 0, 0x80);
    op(FZ_PRINTF, 1, 2, 200, 0);
    op(FZ_FAIL, 0x80, 0x80);
    op(FZ_MEMDUP, 1, 0, 0, FZ_V_LONG);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 1);
    op(FZ_STRDUP, CUR, 12, 0, 0);
    op(FZ_PRINTF, CUR, 1, 5, 0);
    op(FZ_ZEROED, CUR, 3, 8, ZMODE(0, BYTE));
    op(FZ_MEMDUP, CUR, 0, 9, 0);
    op(FZ_REPORT, 1, 0);
    op(FZ_VERIFY);
}

/* sm_current_env without an environment, owned, nested, attached, attached to a destroyed
   one; sm_status_message of the statuses and of other values. */
static void current_env(void)
{
    int k;
    op(FZ_CURRENT_ENV, 0);
    op(FZ_CURRENT_ENV, 1);
    op(FZ_STRDUP, CUR, 3, 0, 0);                   /* NULL env */
    op(FZ_ADD_CLEANUP, CUR, FZ_CL_LOG, 0);
    op(FZ_CHILD, CUR, CFG_NULL, 0);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);          /* env 0 */
    op(FZ_CURRENT_ENV, 0);
    op(FZ_MEMDUP, CUR, 0, 30, 1);
    op(FZ_ZEROED, CUR, 2, 9, ZMODE(0, BYTE));
    op(FZ_FREE_CUR, FZ_K_LIVE, 0, 0);
    op(FZ_ENABLE, CFG_NULL, 0);                    /* env 1 */
    op(FZ_CURRENT_ENV, 0);
    op(FZ_PRINTF, CUR, 2, 40, 0);
    op(FZ_DISABLE);
    op(FZ_CURRENT_ENV, 1);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);          /* env 2 */
    op(FZ_SET_HANDLE, FZ_H_LIVE, 1);
    op(FZ_CURRENT_ENV, 0);
    op(FZ_STRDUP, CUR, 5, 0, 0);
    op(FZ_DESTROY, 0);
    op(FZ_CURRENT_ENV, 0);                         /* SM_INVALID_HANDLE */
    op(FZ_CURRENT_ENV, 1);
    op(FZ_STRDUP, CUR, 5, 0, 0);
    for (k = 0; k < 16; k++)
        op(FZ_CURRENT_ENV, (k < 5 ? k : k * 9) << 1);
    op(FZ_SET_HANDLE, FZ_H_NULL, 0);
    op(FZ_CURRENT_ENV, 0);
}

/* Cleanups: each function, a pair twice, data NULL, removal of the right one, NULL arguments,
   cleanups that allocate and add one while destroy or reset runs them, a refused registration,
   disable and the end of the input running them. */
static void cleanups(void)
{
    int k;
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);          /* env 0 */
    op(FZ_CREATE, CFG(T | P, 1, 2), COUNTED);      /* env 1 */
    op(FZ_ALLOC_BURST, 0, 10, 60);
    op(FZ_ALLOC_BURST, 1, 10, 60);
    for (k = 0; k < FZ_NCL; k++)
        op(FZ_ADD_CLEANUP, 0, k, k);
    op(FZ_ADD_CLEANUP, 0, FZ_CL_LOG, 0);
    op(FZ_ADD_CLEANUP, 0, FZ_CL_LOG2, 0);
    op(FZ_ADD_CLEANUP, 0, FZ_CL_LOG, 0);           /* (log, 0) twice, log2 between */
    op(FZ_ADD_CLEANUP, 0, FZ_CL_LOG, FZ_CDATA);    /* data NULL */
    op(FZ_ADD_CLEANUP, 0, FZ_NCL, 0);              /* fn NULL */
    op(FZ_ADD_CLEANUP, NULLENV, FZ_CL_LOG, 0);
    op(FZ_REMOVE_CLEANUP, 0, FZ_CL_LOG, 0);        /* the later one */
    op(FZ_REMOVE_CLEANUP, 0, FZ_CL_LOG, 1);        /* that fn with other data: none */
    op(FZ_REMOVE_CLEANUP, 0, FZ_CL_LOG2, 1);
    op(FZ_REMOVE_CLEANUP, 0, FZ_CL_LOG, FZ_CDATA);
    op(FZ_REMOVE_CLEANUP, 0, FZ_CL_LOG, FZ_CDATA); /* gone */
    op(FZ_REMOVE_CLEANUP, 0, FZ_NCL, 0);
    op(FZ_REMOVE_CLEANUP, NULLENV, FZ_CL_LOG, 0);
    op(FZ_RESET, 0);                               /* they run; the list is then empty */
    op(FZ_ALLOC_BURST, 0, 5, 30);
    op(FZ_RESET, 0);
    op(FZ_ADD_CLEANUP, 0, FZ_CL_ALLOC, 2);
    op(FZ_ADD_CLEANUP, 0, FZ_CL_VERIFY, 3);
    op(FZ_ALLOC_BURST, 0, 5, 30);
    op(FZ_RESET, 0);
    op(FZ_STATS, 0);
    op(FZ_ADD_CLEANUP, 1, FZ_CL_VERIFY, 0);
    op(FZ_ADD_CLEANUP, 1, FZ_CL_ALLOC, 1);         /* its block shows in the report */
    op(FZ_ADD_CLEANUP, 1, FZ_CL_ALLOC, 3);
    op(FZ_DESTROY, 1);
    op(FZ_CREATE, CFG(0, 0, 0), COUNTED);          /* env 2 */
    op(FZ_FAIL, 0, 0x80);
    op(FZ_ADD_CLEANUP, 1, FZ_CL_LOG, 0);           /* its first: refused */
    op(FZ_ADD_CLEANUP, 1, FZ_CL_LOG2, 0);
    op(FZ_CREATE, CFG(T, 1, 0), COUNTED);          /* env 3 */
    op(FZ_ALLOC, 2, BYTE, 40, SITE(1));
    op(FZ_ALLOC_BURST, 2, 6, 90);
    op(FZ_ADD_CLEANUP, 2, FZ_CL_ALLOC, 0);
    op(FZ_ADD_CLEANUP, 2, FZ_CL_ALLOC, 1);
    op(FZ_FAIL, 0x80, 0x80);                       /* every allocator call refused meanwhile */
    op(FZ_DESTROY, 2);
    op(FZ_ENABLE, CFG(T, 1, 0), COUNTED);
    op(FZ_ALLOC_CUR, BYTE, 20, SITE(1));
    op(FZ_ADD_CLEANUP, CUR, FZ_CL_VERIFY, 0);
    op(FZ_ADD_CLEANUP, CUR, FZ_CL_ALLOC, 1);
    op(FZ_ADD_CLEANUP, CUR, FZ_CL_LOG, 2);
    op(FZ_REMOVE_CLEANUP, CUR, FZ_CL_LOG, 2);
    op(FZ_DISABLE);
    op(FZ_ADD_CLEANUP, 0, FZ_CL_ALLOC, 0);         /* for the end of the input */
    op(FZ_ADD_CLEANUP, 0, FZ_CL_VERIFY, 1);
    op(FZ_ENABLE, CFG_NULL, 0);
    op(FZ_ADD_CLEANUP, CUR, FZ_CL_ALLOC, 3);
}

/* Children: the parent's configuration or their own, grandchildren, cleanups and reports in
   each; one destroyed early, the rest with a reset of their parent, attached to when that
   happens; refused configurations and failures; children of an enabled environment. */
static void children(void)
{
    int e;
    op(FZ_CREATE, CFG(T, 1, 2), COUNTED);          /* env 0 */
    op(FZ_ALLOC_BURST, 0, 6, 50);
    op(FZ_CHILD, 0, CFG_NULL, 0);                  /* env 1: env 0's configuration */
    op(FZ_CHILD, 0, CFG(0, 0, 0), COUNTED);        /* env 2: its own */
    op(FZ_CHILD, 1, CFG_NULL, 0);                  /* env 3: env 1's child */
    op(FZ_CHILD, 0, CFG(0, 0, 0), MALLOC | NO_STATUS);   /* env 4 */
    op(FZ_CHILD, 0, CFG(0, 0, 0), ALLOC_ONLY);     /* refused */
    op(FZ_CHILD, NULLENV, CFG_NULL, 0);
    op(FZ_CHILD, NULLENV, CFG(0, 0, 0), COUNTED);
    for (e = 0; e < 5; e++) {
        op(FZ_ALLOC_BURST, e, 4, 30 + e);
        op(FZ_ALLOC, e, BYTE, e, SITE(e % 4));
        op(FZ_ADD_CLEANUP, e, FZ_CL_VERIFY, 0);
        op(FZ_ADD_CLEANUP, e, FZ_CL_LOG, 1);
    }
    op(FZ_ADD_CLEANUP, 3, FZ_CL_ALLOC, 2);
    for (e = 0; e < 5; e++)
        op(FZ_STATS, e);
    op(FZ_REPORT, 0, 0);
    op(FZ_REPORT, 1, 0);
    op(FZ_SET_HANDLE, FZ_H_LIVE, 3);               /* attached to env 3 */
    op(FZ_DESTROY, 4);                             /* the last child, early */
    op(FZ_RESET, 0);                               /* 2, then 3 and 1 go */
    op(FZ_GET_HANDLE, 0);
    op(FZ_CURRENT_ENV, 0);
    op(FZ_SET_HANDLE, FZ_H_STALE, 1);
    op(FZ_STATS, 0);
    op(FZ_CHILD, 0, CFG_NULL, 0);                  /* env 5 */
    op(FZ_CHILD, 0, CFG(T, 1, 0), COUNTED);        /* env 6 */
    op(FZ_ALLOC_BURST, 1, 3, 20);
    op(FZ_ALLOC_BURST, 2, 3, 20);
    op(FZ_FAIL, 1, 0);
    op(FZ_CHILD, 0, CFG_NULL, 0);                  /* its memory refused */
    op(FZ_FAIL, 0, 0x80);
    op(FZ_CHILD, 1, CFG_NULL, 0);                  /* its records refused */
    op(FZ_FAIL, 0, 0x80);
    op(FZ_CHILD, 2, CFG(0, 0, 0), COUNTED);
    op(FZ_FAIL, 0x80, 0);
    op(FZ_CHILD, 0, CFG(0, 0, 0), COUNTED);
    op(FZ_STATS, 0);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_CHILD, CUR, CFG_NULL, 0);
    op(FZ_CHILD, CUR, CFG(T, 1, 0), COUNTED | NO_STATUS);
    op(FZ_ALLOC_BURST, 3, 5, 40);
    op(FZ_ADD_CLEANUP, 3, FZ_CL_ALLOC, 0);
    op(FZ_ADD_CLEANUP, 4, FZ_CL_VERIFY, 1);
    op(FZ_ADD_CLEANUP, CUR, FZ_CL_VERIFY, 2);
    op(FZ_DISABLE);                                /* its children go with it */
    op(FZ_CHILD, 0, CFG_NULL, 0);
    op(FZ_CHILD, 3, CFG_NULL, 0);                  /* a grandchild, for the end of the input */
    op(FZ_DESTROY, 0);
}

/* Threads whose environments have cleanups, blocks and children when they disable or exit. */
static void thread_cleanups(void)
{
    op(FZ_THREAD_ENV, CFG(0, 0, 0), COUNTED, 0x30, 0x03);    /* log, log2, verify; exits */
    op(FZ_THREAD_ENV, CFG(T, 1, 2), COUNTED, 0x70, 0x0B);    /* verify, alloc, log; disables */
    op(FZ_THREAD_ENV, CFG(T, 1, 2), COUNTED, 0x20, 0x1E);    /* a child with its configuration */
    op(FZ_THREAD_ENV, CFG(0, 0, 0), COUNTED, 0x10, 0x2D);    /* a child with its own */
    op(FZ_THREAD_ENV, CFG_NULL, 0, 0x30, 0x1F);
    op(FZ_THREAD_ENV, CFG(0, 0, 0), COUNTED, 0x03, 0x13);    /* bookkeeping refused here and there */
    op(FZ_THREAD_ENV, CFG(0, 0, 0), COUNTED, 0x05, 0x13);
    op(FZ_THREAD_ENV, CFG(0, 0, 0), COUNTED, 0x07, 0x23);
    op(FZ_ENABLE, CFG(0, 0, 0), COUNTED);
    op(FZ_THREAD_ENV, CFG(0, 0, 0), COUNTED, 0x70, 0x13);
    op(FZ_CURRENT_ENV, 0);
}

int main(int argc, char **argv)
{
    static const struct { const char *name; void (*make)(void); } scenarios[] = {
        { "01_create_destroy", create_destroy }, { "02_alloc_sizes", alloc_sizes },
        { "03_free_kinds", free_kinds },         { "04_rollback", rollback },
        { "05_reset", reset },                   { "06_enable_nested", enable_nested },
        { "07_handles", handles },               { "08_attach_disable", attach_disable },
        { "09_client_pair", client_pair },       { "10_describe", describe },
        { "11_realloc", realloc_ops },           { "12_track_report", track_report },
        { "13_poison", poison },                 { "14_recycle", recycle },
        { "15_fail_backing", fail_backing },     { "16_fail_book", fail_book },
        { "17_huge", huge },                     { "18_trim", trim },
        { "19_all_flags", all_flags },           { "20_big_blocks", big_blocks },
        { "21_many_envs", many_envs },           { "22_threads", threads },
        { "23_strings", strings },               { "24_current_env", current_env },
        { "25_cleanups", cleanups },             { "26_children", children },
        { "27_thread_cleanups", thread_cleanups },
    };
    size_t i;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        scenarios[i].make();
        save(argv[1], scenarios[i].name);
    }
    return 0;
}
