/* bench.c - smalloc beside the allocators people would otherwise use for RPC-style data:
   glibc malloc/free, mimalloc heaps, jemalloc private arenas, APR pools, talloc, GNU obstack,
   and two minimal bump pointers (the practical limit), on eight workloads.

   Run:  make bench          (everything; prints a Markdown table, writes build/bench/chart.svg
                              and copies both to bench/results/)
         make bench-build    (builds build/bench/bench only)
         build/bench/bench [--reps N] [--only W,W] [--adapters A,A] [--no-rss] [--no-ir]
                           [--data FILE] [--commit C]
         (workloads and adapters by the names in the tables `workloads` and `adapters` below)

   What it measures. Each adapter wraps one allocator as an "environment" (create, allocate,
   free one block, reset, destroy), honestly: allocators without a per-block free get a no-op,
   malloc's environment remembers its blocks and frees them one by one at destroy, and the bump
   pointers are minimal but correct (16-byte alignment, a chunk list, big blocks in chunks of
   their own). Sizes follow unmarshalled RPC data: 88% 8-64 bytes, 10% 65-511, 2% 512-8191,
   from fixed seeds. Every allocation is touched once. The workloads:
     unmarshal     one environment, 1,000,000 allocations, destroy;
     req-destroy   20,000 requests of 100-300 allocations (about 1 in 8 followed by a mark-free,
                   half of them of the block just allocated), an environment created and
                   destroyed per request;
     req-reset     the same with one environment reset between requests (each peer's equivalent);
                   both also with smalloc used as the peers without a per-block free are (its
                   mark-frees skipped: the smnofree row), to show what the mark-frees cost;
     churn         one environment, 20,000 live blocks, then 2,000,000 times: free a random live
                   block, allocate another (smalloc also with SM_RECYCLE);
     shared-1/2    5 times: one environment, 1 or 2 threads allocating 100,000 blocks each in it at
                   once, destroy (peers that are not thread-safe take a mutex around each call;
                   a mimalloc heap cannot be shared: n/a);
     large         40 environments of 100 allocations from 8 bytes to 1 MiB (log-uniform);
     recreate      the unmarshal environment made 3 times in a row: the first round warms what
                   the allocator keeps of released memory, the second and third are timed, and
                   their minor page faults (getrusage ru_minflt) counted, per allocation: what a
                   process that builds a big environment again and again pays for fresh pages.
   Method: all adapters in one process, interleaved (the order rotates each repetition), one
   warm-up and --reps repetitions (default 5): median, min and max in ns per allocation (churn:
   per free + allocate pair; shared: wall time over all threads' allocations; recreate: its
   timed rounds only). Then, per workload and adapter, a fresh child process runs it once and
   reports its peak resident memory above its own set-up (VmHWM after clearing it through
   /proc/self/clear_refs); and, when valgrind is installed, callgrind counts the instructions of
   the workload function alone (--toggle-collect), a number that does not depend on the
   machine's load. An adapter whose warm-up of a request workload takes over 0.3 s (jemalloc:
   an arena per request) runs a prefix of the requests in each repetition; the table says how
   many. The SM_RECYCLE row is n/a while sm_env_create refuses the flag. For the shared
   workload, the report also gives what a second thread adds to a CPU-only loop on the same
   machine: the ceiling of its scaling.

   Linking: libjemalloc.so and Debian's libmimalloc.so both export malloc and free, so linking
   either would replace glibc's malloc in the whole process (checked: dladdr(malloc) then names
   them) and make the glibc row, and every allocator built on malloc, something else. Both are
   therefore loaded with dlopen(RTLD_LOCAL), which keeps their malloc private; main() checks that
   malloc is still glibc's. libjemalloc needs more static TLS than glibc keeps for dlopen, so the
   program re-executes itself once with GLIBC_TUNABLES=glibc.rtld.optional_static_tls=... */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* dladdr, mkdtemp */
#endif
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Only for types and flag encodings: the functions are looked up with dlsym (see the top). */
#include <jemalloc/jemalloc.h>
#include <mimalloc.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_version.h>
#include <talloc.h>
#define obstack_chunk_alloc malloc
#define obstack_chunk_free free
#include <obstack.h>

#ifndef BENCH_FLAGS
#define BENCH_FLAGS "(unknown flags)"
#endif
#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* ---------------------------------------------------------------------------------------- */
/* Scripts: what each workload allocates and frees, generated once from fixed seeds so that
   every adapter does exactly the same work. */

#define UM_N     1000000
#define RQ_N     20000
#define RQ_MAX   300          /* allocations per request: 100..RQ_MAX */
#define RQ_FREE  0x8000u      /* op >= RQ_FREE: free allocation op - RQ_FREE of this request */
#define CH_L     20000
#define CH_P     2000000
#define SH_M     100000       /* per thread and round */
#define SH_ROUNDS 5
#define SH_MAXT  2
#define LG_ENVS  40
#define LG_PER   100
#define RC_ROUNDS 3           /* recreate: the unmarshal environment made this many times */

static uint16_t *um_size;             /* unmarshal (and shared: thread t uses [t*sh_m ...]) */
static size_t um_n;
static uint16_t *rq_op, *rq_len;      /* requests: ops, and the number of ops per request */
static size_t rq_n, rq_allocs;
static size_t rq_limit;               /* the requests a run goes through (a prefix of rq_n) */
static size_t *rq_allocs_upto;        /* allocations in the first r requests */
static uint16_t *ch_init, *ch_size;   /* churn */
static uint32_t *ch_victim;
static size_t ch_l, ch_p;
static size_t sh_m, sh_rounds;        /* shared: per thread and round; rounds */
static uint32_t *lg_size;             /* large */
static size_t lg_envs, lg_per;

/* The live blocks of the current request or of the churn set. */
static void *g_blk[CH_L > RQ_MAX ? CH_L : RQ_MAX];
static uint16_t g_size[CH_L > RQ_MAX ? CH_L : RQ_MAX];
static uint32_t g_slot[CH_L > RQ_MAX ? CH_L : RQ_MAX];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;   /* AD_SHARED == 2 */
static pthread_barrier_t g_start, g_end;                     /* a round of the shared workload */
static double g_part_ns;      /* recreate: the time of its timed rounds, */
static long g_part_faults;    /* and their minor page faults */

static uint64_t rng_state;
static uint64_t rnd(void)   /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* A value in [2^lo, 2^(hi+1)), log-uniform by powers of two. */
static uint32_t log_uniform(unsigned lo, unsigned hi)
{
    unsigned e = lo + (unsigned)(rnd() % (hi - lo + 1));
    return ((uint32_t)1 << e) + (uint32_t)(rnd() % ((uint64_t)1 << e));
}

/* Unmarshalled RPC data: mostly small structures and strings, some arrays, a few buffers. */
static uint16_t rpc_size(void)
{
    unsigned x = (unsigned)(rnd() % 100);
    uint32_t n;
    if (x < 88)
        return (uint16_t)(8 + rnd() % 57);     /* 8..64 */
    if (x < 98)
        n = log_uniform(6, 8);                 /* 64..511 */
    else
        n = log_uniform(9, 12);                /* 512..8191 */
    return (uint16_t)(n < 65 ? 65 : n);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    return p;
}

static void gen_unmarshal(void)
{
    size_t i;
    um_size = (uint16_t *)xmalloc(um_n * sizeof *um_size);
    rng_state = 1;
    for (i = 0; i < um_n; i++)
        um_size[i] = rpc_size();
}

static void gen_requests(void)
{
    size_t r, n = 0;
    rq_op = (uint16_t *)xmalloc(rq_n * (RQ_MAX + RQ_MAX / 4) * sizeof *rq_op);
    rq_len = (uint16_t *)xmalloc(rq_n * sizeof *rq_len);
    rq_allocs_upto = (size_t *)xmalloc((rq_n + 1) * sizeof *rq_allocs_upto);
    rng_state = 2;
    rq_allocs = 0;
    for (r = 0; r < rq_n; r++) {
        unsigned live[RQ_MAX], nl = 0, k, na = 100 + (unsigned)(rnd() % (RQ_MAX - 99));
        size_t start = n;
        rq_allocs_upto[r] = rq_allocs;
        for (k = 0; k < na; k++) {
            unsigned x = (unsigned)(rnd() % 16);
            rq_op[n++] = rpc_size();
            live[nl++] = k;
            if (x == 0) {                      /* a temporary: freed right away */
                rq_op[n++] = (uint16_t)(RQ_FREE | k);
                nl--;
            } else if (x == 1 && nl > 1) {     /* an earlier block */
                unsigned j = (unsigned)(rnd() % (nl - 1));
                rq_op[n++] = (uint16_t)(RQ_FREE | live[j]);
                live[j] = live[--nl];
            }
        }
        rq_len[r] = (uint16_t)(n - start);
        rq_allocs += na;
    }
    rq_allocs_upto[rq_n] = rq_allocs;
}

static void gen_churn(void)
{
    size_t i;
    ch_init = (uint16_t *)xmalloc(ch_l * sizeof *ch_init);
    ch_size = (uint16_t *)xmalloc(ch_p * sizeof *ch_size);
    ch_victim = (uint32_t *)xmalloc(ch_p * sizeof *ch_victim);
    rng_state = 3;
    for (i = 0; i < ch_l; i++)
        ch_init[i] = rpc_size();
    for (i = 0; i < ch_p; i++) {
        ch_victim[i] = (uint32_t)(rnd() % ch_l);
        ch_size[i] = rpc_size();
    }
}

static void gen_large(void)
{
    size_t i;
    lg_size = (uint32_t *)xmalloc(lg_envs * lg_per * sizeof *lg_size);
    rng_state = 4;
    for (i = 0; i < lg_envs * lg_per; i++) {
        uint32_t s = log_uniform(3, 19);       /* 8 .. 1 MiB */
        lg_size[i] = s > ((uint32_t)1 << 20) ? (uint32_t)1 << 20 : s;
    }
}

/* The scripts of the workloads in `what`, each from its own seed. scale > 1 shortens unmarshal,
   requests and churn (for callgrind and the peak-RSS children); the per-operation figures
   stay. */
#define GEN_UM  1u     /* unmarshal and shared */
#define GEN_RQ  2u
#define GEN_CH  4u
#define GEN_LG  8u
static void gen_scripts(unsigned scale, unsigned what)
{
    um_n = UM_N / scale < 2 * SH_M ? 2 * SH_M : UM_N / scale;
    sh_m = SH_M;
    sh_rounds = SH_ROUNDS;
    rq_limit = rq_n = RQ_N / scale;
    ch_l = CH_L;
    ch_p = CH_P / scale;
    lg_envs = LG_ENVS;
    lg_per = LG_PER;
    if (what & GEN_UM)
        gen_unmarshal();
    if (what & GEN_RQ)
        gen_requests();
    if (what & GEN_CH)
        gen_churn();
    if (what & GEN_LG)
        gen_large();
}

/* ---------------------------------------------------------------------------------------- */
/* Adapters. Each provides, for its short name X:
     X_env, X_thr                         the environment, and what one thread allocates with;
     int  X_create(X_env *, int reuse)    1 ok, 0 failure, -1 not available (reuse: the
                                          environment will be reset rather than destroyed);
     void X_destroy(X_env *)              releases everything;
     int  X_reset(X_env *)                releases every block, keeps what the allocator keeps;
     X_thr *X_attach(X_env *, int tid, int worker), void X_detach(X_env *, X_thr *, int worker)
                                          a thread starts and stops using the environment
                                          (worker: a thread other than the creator);
     void *X_alloc(X_thr *, size_t, uint32_t *slot), void X_free(X_thr *, void *, size_t, slot). */

#define WANT_MAXT SH_MAXT

typedef int workload_fn(void);
enum { W_UNMARSHAL, W_REQ_DESTROY, W_REQ_RESET, W_CHURN, W_SHARED1, W_SHARED2, W_LARGE,
       W_RECREATE, NW };
typedef struct adapter_runs { workload_fn *run[NW]; } adapter_runs;

/* --- bump pointers ------------------------------------------------------------------------
   64 KiB chunks from malloc, 16-byte granules (alignof(max_align_t) on x86-64), blocks over a
   quarter chunk in a chunk of their own. Reset keeps the normal chunks. At destroy, bumpf gives
   every chunk back to free; bumpc keeps normal chunks in a process-wide cache for the next
   environment, at most the same number of bytes as smalloc's own cache (SMALLOC_CACHE_SIZE),
   as a caching allocator for a server must. Not thread-safe (the cache neither). */
#define BUMP_CHUNK ((size_t)64 * 1024)
#define BUMP_BIG   (BUMP_CHUNK / 4)
#define BUMP_CACHE_MAX SMALLOC_CACHE_SIZE

typedef struct bump_chunk { struct bump_chunk *next; size_t size; } bump_chunk;  /* 16 bytes */
typedef struct bump_env { char *top, *end; bump_chunk *used, *spare; } bump_env;
static bump_chunk *bump_cache;
static size_t bump_cache_bytes;

static NOINLINE void *bump_refill(bump_env *b, size_t size, int caching)
{
    bump_chunk *c;
    size_t n;
    if (size > SIZE_MAX - 2 * sizeof *c)
        return NULL;
    n = size ? (size + 15) & ~(size_t)15 : 16;
    if (n > BUMP_BIG) {
        if (!(c = (bump_chunk *)malloc(sizeof *c + n)))
            return NULL;
        c->size = sizeof *c + n;
        c->next = b->used;
        b->used = c;
        return c + 1;
    }
    if ((c = b->spare) != NULL)
        b->spare = c->next;
    else if (caching && (c = bump_cache) != NULL) {
        bump_cache = c->next;
        bump_cache_bytes -= BUMP_CHUNK;
    } else if ((c = (bump_chunk *)malloc(BUMP_CHUNK)) != NULL)
        c->size = BUMP_CHUNK;
    else
        return NULL;
    c->next = b->used;
    b->used = c;
    b->top = (char *)(c + 1) + n;
    b->end = (char *)c + BUMP_CHUNK;
    return c + 1;
}

static inline void *bump_alloc(bump_env *b, size_t size, int caching)
{
    /* room is whole granules, so size <= room means the rounded size fits; size 0 goes slow */
    if (size - 1 < (size_t)(b->end - b->top)) {
        void *p = b->top;
        b->top += (size + 15) & ~(size_t)15;
        return p;
    }
    return bump_refill(b, size, caching);
}

static int bump_create(bump_env *b)
{
    b->top = b->end = NULL;
    b->used = b->spare = NULL;
    return 1;
}

static void bump_release(bump_chunk *c, int caching)
{
    if (caching && c->size == BUMP_CHUNK && bump_cache_bytes + BUMP_CHUNK <= BUMP_CACHE_MAX) {
        c->next = bump_cache;
        bump_cache = c;
        bump_cache_bytes += BUMP_CHUNK;
    } else
        free(c);
}

static void bump_destroy(bump_env *b, int caching)
{
    bump_chunk *c, *next;
    for (c = b->used; c; c = next) {
        next = c->next;
        bump_release(c, caching);
    }
    for (c = b->spare; c; c = next) {
        next = c->next;
        bump_release(c, caching);
    }
}

static int bump_reset(bump_env *b)
{
    bump_chunk *c, *next;
    for (c = b->used; c; c = next) {
        next = c->next;
        if (c->size == BUMP_CHUNK) {
            c->next = b->spare;
            b->spare = c;
        } else
            free(c);
    }
    b->used = NULL;
    b->top = b->end = NULL;
    return 1;
}

static size_t bump_bytes(const bump_env *b)
{
    const bump_chunk *c;
    size_t n = 0;
    for (c = b->used; c; c = c->next)
        n += c->size;
    for (c = b->spare; c; c = c->next)
        n += c->size;
    return n;
}

typedef bump_env bumpf_env, bumpf_thr, bumpc_env, bumpc_thr;
static int bumpf_create(bumpf_env *e, int reuse) { (void)reuse; return bump_create(e); }
static void bumpf_destroy(bumpf_env *e) { bump_destroy(e, 0); }
static int bumpf_reset(bumpf_env *e) { return bump_reset(e); }
static bumpf_thr *bumpf_attach(bumpf_env *e, int tid, int w) { (void)tid; (void)w; return e; }
static void bumpf_detach(bumpf_env *e, bumpf_thr *t, int w) { (void)e; (void)t; (void)w; }
static inline void *bumpf_alloc(bumpf_thr *t, size_t n, uint32_t *s) { (void)s; return bump_alloc(t, n, 0); }
static inline void bumpf_free(bumpf_thr *t, void *p, size_t n, uint32_t s) { (void)t; (void)p; (void)n; (void)s; }
static int bumpc_create(bumpc_env *e, int reuse) { (void)reuse; return bump_create(e); }
static void bumpc_destroy(bumpc_env *e) { bump_destroy(e, 1); }
static int bumpc_reset(bumpc_env *e) { return bump_reset(e); }
static bumpc_thr *bumpc_attach(bumpc_env *e, int tid, int w) { (void)tid; (void)w; return e; }
static void bumpc_detach(bumpc_env *e, bumpc_thr *t, int w) { (void)e; (void)t; (void)w; }
static inline void *bumpc_alloc(bumpc_thr *t, size_t n, uint32_t *s) { (void)s; return bump_alloc(t, n, 1); }
static inline void bumpc_free(bumpc_thr *t, void *p, size_t n, uint32_t s) { (void)t; (void)p; (void)n; (void)s; }

/* --- smalloc, explicit: sm_env_* on the environment itself. smrec: created with SM_RECYCLE
   (n/a while sm_env_create refuses the flag). Statuses are not asked for (NULL). */
typedef struct smenv_env { sm_env *env; } smenv_env, smrec_env;
typedef sm_env smenv_thr, smrec_thr;
static int sm_create_flags(smenv_env *e, unsigned flags)
{
    sm_config cfg;
    sm_status st = SM_OK;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = flags;
    e->env = sm_env_create(flags ? &cfg : NULL, &st);
    return e->env ? 1 : st == SM_INVALID_ARG ? -1 : 0;
}
static int smenv_create(smenv_env *e, int reuse) { (void)reuse; return sm_create_flags(e, 0); }
static void smenv_destroy(smenv_env *e) { sm_env_destroy(e->env); }
static int smenv_reset(smenv_env *e) { return sm_env_reset(e->env) == SM_OK; }
static smenv_thr *smenv_attach(smenv_env *e, int tid, int w) { (void)tid; (void)w; return e->env; }
static void smenv_detach(smenv_env *e, smenv_thr *t, int w) { (void)e; (void)t; (void)w; }
static inline void *smenv_alloc(smenv_thr *t, size_t n, uint32_t *s) { (void)s; return sm_env_allocate(t, n, NULL); }
static inline void smenv_free(smenv_thr *t, void *p, size_t n, uint32_t s) { (void)n; (void)s; (void)sm_env_free(t, p); }
static int smrec_create(smrec_env *e, int reuse) { (void)reuse; return sm_create_flags(e, SM_RECYCLE); }
#define smrec_destroy smenv_destroy
#define smrec_reset smenv_reset
#define smrec_attach smenv_attach
#define smrec_detach smenv_detach
#define smrec_alloc smenv_alloc
#define smrec_free smenv_free
/* smnofree: smalloc used as an APR pool or an obstack is, without mark-free (the requests
   workloads only): what the workload's mark-frees cost, beside peers that have none. */
typedef smenv_env smnofree_env;
typedef smenv_thr smnofree_thr;
#define smnofree_create smenv_create
#define smnofree_destroy smenv_destroy
#define smnofree_reset smenv_reset
#define smnofree_attach smenv_attach
#define smnofree_detach smenv_detach
#define smnofree_alloc smenv_alloc
static inline void smnofree_free(smnofree_thr *t, void *p, size_t n, uint32_t s) { (void)t; (void)p; (void)n; (void)s; }

/* --- smalloc, thread-implicit: sm_allocate/sm_free on the calling thread's environment.
   Per request: sm_enable_allocate ... sm_disable_allocate. Reused (RpcSm has no reset): an
   environment from sm_env_create made current with sm_set_thread_handle, sm_env_reset between
   requests. Workers attach with sm_set_thread_handle, as RPC manager threads do. */
typedef struct smimp_env { sm_env *env; sm_thread_handle h; } smimp_env;
typedef char smimp_thr;   /* nothing: the thread's current environment is implicit */
static int smimp_create(smimp_env *e, int reuse)
{
    sm_status st = SM_OK;
    if (reuse) {
        if (!(e->env = sm_env_create(NULL, &st)))
            return 0;
        e->h = sm_env_handle(e->env);
        return sm_set_thread_handle(e->h) == SM_OK;
    }
    e->env = NULL;
    if (sm_enable_allocate() != SM_OK)
        return 0;
    e->h = sm_get_thread_handle(&st);
    return 1;
}
static void smimp_destroy(smimp_env *e)
{
    if (e->env) {
        sm_set_thread_handle(NULL);
        sm_env_destroy(e->env);
    } else
        sm_disable_allocate();
}
static int smimp_reset(smimp_env *e) { return e->env && sm_env_reset(e->env) == SM_OK; }
static smimp_thr *smimp_attach(smimp_env *e, int tid, int w)
{
    static smimp_thr none;
    (void)tid;
    if (w)
        sm_set_thread_handle(e->h);
    return &none;
}
static void smimp_detach(smimp_env *e, smimp_thr *t, int w) { (void)e; (void)t; if (w) sm_set_thread_handle(NULL); }
static inline void *smimp_alloc(smimp_thr *t, size_t n, uint32_t *s) { (void)t; (void)s; return sm_allocate(n, NULL); }
static inline void smimp_free(smimp_thr *t, void *p, size_t n, uint32_t s) { (void)t; (void)n; (void)s; (void)sm_free(p); }

/* --- glibc malloc: the environment is a list of its blocks per thread (a slot array and a
   stack of free slots), so that free of one block is O(1) and destroy frees the rest one by
   one; reset frees them too and keeps the list. malloc is thread-safe: one list per thread. */
typedef struct glibc_thr { void **v; uint32_t *spare; size_t n, cap, nspare; } glibc_thr;
typedef struct glibc_env { glibc_thr t[WANT_MAXT]; } glibc_env;
static int glibc_create(glibc_env *e, int reuse) { (void)reuse; memset(e, 0, sizeof *e); return 1; }
static void glibc_clear(glibc_thr *t)
{
    size_t i;
    for (i = 0; i < t->n; i++)
        free(t->v[i]);
    t->n = t->nspare = 0;
}
static void glibc_destroy(glibc_env *e)
{
    int i;
    for (i = 0; i < WANT_MAXT; i++) {
        glibc_clear(&e->t[i]);
        free(e->t[i].v);
        free(e->t[i].spare);
    }
}
static int glibc_reset(glibc_env *e)
{
    int i;
    for (i = 0; i < WANT_MAXT; i++)
        glibc_clear(&e->t[i]);
    return 1;
}
static glibc_thr *glibc_attach(glibc_env *e, int tid, int w) { (void)w; return &e->t[tid]; }
static void glibc_detach(glibc_env *e, glibc_thr *t, int w) { (void)e; (void)t; (void)w; }
static NOINLINE int glibc_grow(glibc_thr *t)
{
    size_t cap = t->cap ? 2 * t->cap : 1024;
    void **v = (void **)realloc(t->v, cap * sizeof *v);
    uint32_t *sp;
    if (!v)
        return 0;
    t->v = v;
    if (!(sp = (uint32_t *)realloc(t->spare, cap * sizeof *sp)))
        return 0;
    t->spare = sp;
    t->cap = cap;
    return 1;
}
static inline void *glibc_alloc(glibc_thr *t, size_t n, uint32_t *slot)
{
    void *p = malloc(n);
    uint32_t s;
    if (!p)
        return NULL;
    if (t->nspare)
        s = t->spare[--t->nspare];
    else {
        if (t->n == t->cap && !glibc_grow(t)) {
            free(p);
            return NULL;
        }
        s = (uint32_t)t->n++;
    }
    t->v[s] = p;
    *slot = s;
    return p;
}
static inline void glibc_free(glibc_thr *t, void *p, size_t n, uint32_t s)
{
    (void)n;
    free(p);
    t->v[s] = NULL;
    t->spare[t->nspare++] = s;
}

/* --- mimalloc heaps (dlopen'd): mi_heap_new / mi_heap_malloc / mi_free / mi_heap_destroy.
   No reset: reuse is destroy + new. A heap belongs to the thread that made it: shared n/a. */
static struct {
    mi_heap_t *(*heap_new)(void);
    void (*heap_destroy)(mi_heap_t *);
    void *(*heap_malloc)(mi_heap_t *, size_t);
    void (*free)(void *);
    int (*version)(void);
} mi;
typedef struct mimal_env { mi_heap_t *h; } mimal_env;
typedef mi_heap_t mimal_thr;
static int mimal_create(mimal_env *e, int reuse)
{
    (void)reuse;
    if (!mi.heap_new)
        return -1;
    return (e->h = mi.heap_new()) != NULL;
}
static void mimal_destroy(mimal_env *e) { mi.heap_destroy(e->h); }
static int mimal_reset(mimal_env *e) { mi.heap_destroy(e->h); return (e->h = mi.heap_new()) != NULL; }
static mimal_thr *mimal_attach(mimal_env *e, int tid, int w) { (void)tid; (void)w; return e->h; }
static void mimal_detach(mimal_env *e, mimal_thr *t, int w) { (void)e; (void)t; (void)w; }
static inline void *mimal_alloc(mimal_thr *t, size_t n, uint32_t *s) { (void)s; return mi.heap_malloc(t, n); }
static inline void mimal_free(mimal_thr *t, void *p, size_t n, uint32_t s) { (void)t; (void)n; (void)s; mi.free(p); }

/* --- jemalloc private arenas (dlopen'd): arenas.create, mallocx/sdallocx with MALLOCX_ARENA
   and an explicit thread cache per thread (created once per thread slot and reused, since a
   tcache is not tied to an arena), arena.<i>.reset, arena.<i>.destroy. Arenas are thread-safe;
   each thread has its own tcache. The tcaches are flushed before a reset or destroy, as
   jemalloc requires. */
static struct {
    void *(*mallocx)(size_t, int);
    void (*sdallocx)(void *, size_t, int);
    int (*mallctl)(const char *, void *, size_t *, void *, size_t);
    unsigned tc[WANT_MAXT];
    int have_tc[WANT_MAXT];
} je;
typedef struct jemal_thr { int flags; int used; } jemal_thr;
typedef struct jemal_env { unsigned arena; jemal_thr t[WANT_MAXT]; } jemal_env;
static int jemal_create(jemal_env *e, int reuse)
{
    size_t sz = sizeof e->arena;
    (void)reuse;
    if (!je.mallocx)
        return -1;
    memset(e->t, 0, sizeof e->t);
    return je.mallctl("arenas.create", &e->arena, &sz, NULL, 0) == 0;
}
static int jemal_arena_ctl(jemal_env *e, const char *what)
{
    char name[64];
    int i;
    for (i = 0; i < WANT_MAXT; i++)
        if (e->t[i].used)
            je.mallctl("tcache.flush", NULL, NULL, &je.tc[i], sizeof je.tc[i]);
    snprintf(name, sizeof name, "arena.%u.%s", e->arena, what);
    return je.mallctl(name, NULL, NULL, NULL, 0) == 0;
}
static void jemal_destroy(jemal_env *e) { (void)jemal_arena_ctl(e, "destroy"); }
static int jemal_reset(jemal_env *e) { return jemal_arena_ctl(e, "reset"); }
/* Each thread writes only its own slot; the creator reads them after the workers are joined. */
static jemal_thr *jemal_attach(jemal_env *e, int tid, int w)
{
    jemal_thr *t = &e->t[tid];
    (void)w;
    if (!je.have_tc[tid]) {
        size_t sz = sizeof je.tc[tid];
        if (je.mallctl("tcache.create", &je.tc[tid], &sz, NULL, 0) == 0)
            je.have_tc[tid] = 1;
    }
    t->flags = MALLOCX_ARENA(e->arena) | (je.have_tc[tid] ? MALLOCX_TCACHE(je.tc[tid]) : MALLOCX_TCACHE_NONE);
    t->used = je.have_tc[tid];
    return t;
}
static void jemal_detach(jemal_env *e, jemal_thr *t, int w) { (void)e; (void)t; (void)w; }
static inline void *jemal_alloc(jemal_thr *t, size_t n, uint32_t *s) { (void)s; return je.mallocx(n ? n : 1, t->flags); }
static inline void jemal_free(jemal_thr *t, void *p, size_t n, uint32_t s) { (void)s; je.sdallocx(p, n ? n : 1, t->flags); }

/* --- APR pools: apr_pool_create (child of APR's global pool) / apr_palloc / apr_pool_clear /
   apr_pool_destroy; no per-block free. APR aligns to 8 bytes only (APR_ALIGN_DEFAULT). */
typedef struct aprp_env { apr_pool_t *p; } aprp_env;
typedef apr_pool_t aprp_thr;
static int aprp_create(aprp_env *e, int reuse) { (void)reuse; return apr_pool_create(&e->p, NULL) == APR_SUCCESS; }
static void aprp_destroy(aprp_env *e) { apr_pool_destroy(e->p); }
static int aprp_reset(aprp_env *e) { apr_pool_clear(e->p); return 1; }
static aprp_thr *aprp_attach(aprp_env *e, int tid, int w) { (void)tid; (void)w; return e->p; }
static void aprp_detach(aprp_env *e, aprp_thr *t, int w) { (void)e; (void)t; (void)w; }
static inline void *aprp_alloc(aprp_thr *t, size_t n, uint32_t *s) { (void)s; return apr_palloc(t, n); }
static inline void aprp_free(aprp_thr *t, void *p, size_t n, uint32_t s) { (void)t; (void)p; (void)n; (void)s; }

/* --- talloc: a context from talloc_new(NULL); talloc_size children, talloc_free of one,
   talloc_free_children to reset, talloc_free of the context to destroy. */
typedef struct tal_env { void *ctx; } tal_env;
typedef void tal_thr;
static int tal_create(tal_env *e, int reuse) { (void)reuse; return (e->ctx = talloc_new(NULL)) != NULL; }
static void tal_destroy(tal_env *e) { talloc_free(e->ctx); }
static int tal_reset(tal_env *e) { talloc_free_children(e->ctx); return 1; }
static tal_thr *tal_attach(tal_env *e, int tid, int w) { (void)tid; (void)w; return e->ctx; }
static void tal_detach(tal_env *e, tal_thr *t, int w) { (void)e; (void)t; (void)w; }
static inline void *tal_alloc(tal_thr *t, size_t n, uint32_t *s) { (void)s; return talloc_size(t, n); }
static inline void tal_free(tal_thr *t, void *p, size_t n, uint32_t s) { (void)t; (void)n; (void)s; talloc_free(p); }

/* --- GNU obstack: obstack_init (malloc/free chunks of its default size), obstack_alloc; no
   per-block free (obstack_free releases everything after an object); reset frees back to a
   zero-size first object, which keeps the first chunk; destroy is obstack_free(NULL). */
typedef struct obstk_env { struct obstack ob; void *first; } obstk_env;
typedef struct obstack obstk_thr;
static int obstk_create(obstk_env *e, int reuse)
{
    (void)reuse;
    if (!obstack_init(&e->ob))
        return 0;
    e->first = obstack_alloc(&e->ob, 0);
    return 1;
}
static void obstk_destroy(obstk_env *e) { obstack_free(&e->ob, NULL); }
static int obstk_reset(obstk_env *e)
{
    obstack_free(&e->ob, e->first);
    e->first = obstack_alloc(&e->ob, 0);
    return 1;
}
static obstk_thr *obstk_attach(obstk_env *e, int tid, int w) { (void)tid; (void)w; return &e->ob; }
static void obstk_detach(obstk_env *e, obstk_thr *t, int w) { (void)e; (void)t; (void)w; }
static inline void *obstk_alloc(obstk_thr *t, size_t n, uint32_t *s) { (void)s; return obstack_alloc(t, n); }
static inline void obstk_free(obstk_thr *t, void *p, size_t n, uint32_t s) { (void)t; (void)p; (void)n; (void)s; }

/* Clocks for a workload that times a part of itself (recreate). */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long minor_faults(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_minflt : 0;
}

/* The workloads, once per adapter. */
#define AD bumpf
#define AD_SLOTS 0
#define AD_SHARED 2
#include "workloads.h"
#define AD bumpc
#define AD_SLOTS 0
#define AD_SHARED 2
#include "workloads.h"
#define AD smenv
#define AD_SLOTS 0
#define AD_SHARED 1
#include "workloads.h"
#define AD smimp
#define AD_SLOTS 0
#define AD_SHARED 1
#include "workloads.h"
#define AD smrec
#define AD_SLOTS 0
#define AD_SHARED 1
#include "workloads.h"
#define AD smnofree
#define AD_SLOTS 0
#define AD_SHARED 1
#include "workloads.h"
#define AD glibc
#define AD_SLOTS 1
#define AD_SHARED 1
#include "workloads.h"
#define AD mimal
#define AD_SLOTS 0
#define AD_SHARED 0
#include "workloads.h"
#define AD jemal
#define AD_SLOTS 0
#define AD_SHARED 1
#include "workloads.h"
#define AD aprp
#define AD_SLOTS 0
#define AD_SHARED 2
#include "workloads.h"
#define AD tal
#define AD_SLOTS 0
#define AD_SHARED 2
#include "workloads.h"
#define AD obstk
#define AD_SLOTS 0
#define AD_SHARED 2
#include "workloads.h"

/* ---------------------------------------------------------------------------------------- */
/* The harness. */

enum { A_BUMPF, A_BUMPC, A_SMENV, A_SMIMP, A_SMREC, A_SMNOFREE, A_GLIBC, A_MIMAL, A_JEMAL, A_APR, A_TAL,
       A_OBSTK, NA };
#define ALL_W ((1u << NW) - 1)

typedef struct adapter {
    const char *key;      /* on the command line and in callgrind's function names */
    const char *name;     /* in the table */
    const char *label;    /* in the chart */
    const adapter_runs *runs;
    unsigned workloads;   /* the workloads it takes part in */
} adapter;

static const adapter adapters[NA] = {
    { "bumpf", "bump pointer, frees chunks", "bump (frees chunks)", &runs_bumpf, ALL_W },
    { "bumpc", "bump pointer, caches chunks", "bump (caches chunks)", &runs_bumpc, ALL_W },
    { "smenv", "**smalloc sm_env_allocate**", "smalloc sm_env", &runs_smenv, ALL_W },
    { "smimp", "**smalloc sm_allocate**", "smalloc sm_allocate", &runs_smimp, ALL_W },
    { "smrec", "**smalloc sm_env_allocate, SM_RECYCLE**", "smalloc SM_RECYCLE", &runs_smrec,
      1u << W_CHURN },
    { "smnofree", "smalloc sm_env_allocate, no mark-free", "smalloc, no mark-free", &runs_smnofree,
      1u << W_REQ_DESTROY | 1u << W_REQ_RESET },
    { "glibc", "glibc malloc/free", "glibc malloc", &runs_glibc, ALL_W },
    { "mimal", "mimalloc heap", "mimalloc heap", &runs_mimal, ALL_W },
    { "jemal", "jemalloc arena", "jemalloc arena", &runs_jemal, ALL_W },
    { "aprp", "APR pool", "APR pool", &runs_aprp, ALL_W },
    { "tal", "talloc", "talloc", &runs_tal, ALL_W },
    { "obstk", "GNU obstack", "obstack", &runs_obstk, ALL_W },
};
#define IS_PEER(a) ((a) >= A_GLIBC)

typedef struct workload {
    const char *key;      /* on the command line */
    const char *fn;       /* the function callgrind counts: wl_<fn>__<adapter> */
    const char *title;
    const char *label;    /* in the chart */
    unsigned ir_scale;    /* callgrind runs a shorter script: 0 = no instruction count */
    unsigned rss_scale;   /* so may the peak-RSS child, where the peak is reached early */
} workload;

static const workload workloads[NW] = {
    { "unmarshal", "unmarshal", "unmarshal", "unmarshal", 4, 1 },
    { "req-destroy", "req_destroy", "requests, create/destroy", "requests, destroy", 20, 10 },
    { "req-reset", "req_reset", "requests, reset", "requests, reset", 20, 10 },
    { "churn", "churn_pairs", "churn", "churn", 20, 1 },
    { "shared-1", "shared1", "shared, 1 thread", "shared, 1 thr.", 0, 1 },
    { "shared-2", "shared2", "shared, 2 threads", "shared, 2 thr.", 0, 1 },
    { "large", "large", "large", "large", 1, 1 },
    { "recreate", "recreate_again", "unmarshal, made again", "unmarshal again", 1, 1 },
};
#define IS_REQ(w) ((w) == W_REQ_DESTROY || (w) == W_REQ_RESET)
/* An adapter whose warm-up of a request workload takes longer than this runs a prefix of the
   requests in the repetitions, so that a slow peer cannot take minutes (the table says so). */
#define REQ_BUDGET_NS 3e8
static size_t req_limit[NW][NA];   /* 0: all */

static size_t ops_of(int w)
{
    switch (w) {
    case W_UNMARSHAL: return um_n;
    case W_REQ_DESTROY: case W_REQ_RESET: return rq_allocs_upto[rq_limit];
    case W_CHURN: return ch_p;
    case W_SHARED1: return sh_rounds * sh_m;
    case W_SHARED2: return 2 * sh_rounds * sh_m;
    case W_RECREATE: return (RC_ROUNDS - 1) * um_n;   /* the timed rounds */
    default: return lg_envs * lg_per;
    }
}

static unsigned script_of(int w)
{
    switch (w) {
    case W_UNMARSHAL: case W_SHARED1: case W_SHARED2: case W_RECREATE: return GEN_UM;
    case W_REQ_DESTROY: case W_REQ_RESET: return GEN_RQ;
    case W_CHURN: return GEN_CH;
    default: return GEN_LG;
    }
}

/* Where the shared workloads are mutex-wrapped or impossible, the table says so. */
static const char *shared_note(int a)
{
    switch (a) {
    case A_BUMPF: case A_BUMPC: case A_APR: case A_TAL: case A_OBSTK: return " (mutex)";
    case A_MIMAL: return " (a heap cannot be shared)";
    default: return "";
    }
}

static char lib_note[NA][160];   /* why an adapter is not available, or its version */

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p)
        fprintf(stderr, "bench: %s: %s\n", name, dlerror());
    return p;
}
#define LOAD(h, var, name) \
    do { void *p_ = sym(h, name); if (!p_) ok = 0; memcpy(&(var), &p_, sizeof p_); } while (0)

static void *open_lib(const char *const *names, char *why, size_t n)
{
    int i;
    for (i = 0; names[i]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h)
            return h;
        snprintf(why, n, "n/a: %s", dlerror());
    }
    return NULL;
}

static void load_libs(void)
{
    static const char *const je_names[] = { "libjemalloc.so.2", "libjemalloc.so", NULL };
    static const char *const mi_names[] = { "libmimalloc.so.2", "libmimalloc.so", NULL };
    void *h;
    int ok;
    /* jemalloc first: it needs the larger share of the static TLS reserve */
    if ((h = open_lib(je_names, lib_note[A_JEMAL], sizeof lib_note[A_JEMAL])) != NULL) {
        const char *v = NULL;
        size_t sz = sizeof v;
        ok = 1;
        LOAD(h, je.mallocx, "mallocx");
        LOAD(h, je.sdallocx, "sdallocx");
        LOAD(h, je.mallctl, "mallctl");
        if (!ok)
            je.mallocx = NULL;
        else if (je.mallctl("version", (void *)&v, &sz, NULL, 0) == 0 && v)
            snprintf(lib_note[A_JEMAL], sizeof lib_note[A_JEMAL], "jemalloc %.40s", v);
    }
    if ((h = open_lib(mi_names, lib_note[A_MIMAL], sizeof lib_note[A_MIMAL])) != NULL) {
        ok = 1;
        LOAD(h, mi.heap_new, "mi_heap_new");
        LOAD(h, mi.heap_destroy, "mi_heap_destroy");
        LOAD(h, mi.heap_malloc, "mi_heap_malloc");
        LOAD(h, mi.free, "mi_free");
        LOAD(h, mi.version, "mi_version");
        if (!ok)
            mi.heap_new = NULL;
        else {
            int v = mi.version();
            snprintf(lib_note[A_MIMAL], sizeof lib_note[A_MIMAL], "mimalloc %d.%d.%d",
                     v / 100, v / 10 % 10, v % 10);
        }
    }
}

/* The glibc row and everything built on malloc must use glibc's malloc. */
static void check_malloc(void)
{
    void *(*f)(size_t) = malloc;
    void *addr;
    Dl_info info;
    memcpy(&addr, &f, sizeof addr);
    if (!dladdr(addr, &info) || !info.dli_fname || !strstr(info.dli_fname, "libc.so")) {
        fprintf(stderr, "bench: malloc is not glibc's (%s): the comparison would be wrong\n",
                info.dli_fname ? info.dli_fname : "?");
        exit(1);
    }
}

/* libjemalloc's initial-exec TLS does not fit glibc's default reserve for dlopen. */
static void reexec_for_tls(char **argv)
{
    static const char opt[] = "glibc.rtld.optional_static_tls=16384";
    const char *t = getenv("GLIBC_TUNABLES");
    char buf[1024];
    if (t && strstr(t, "optional_static_tls"))
        return;
    snprintf(buf, sizeof buf, "%s%s%s", t ? t : "", t ? ":" : "", opt);
    if (setenv("GLIBC_TUNABLES", buf, 1) == 0)
        execv("/proc/self/exe", argv);
    /* if that failed, go on: jemalloc will say n/a */
}

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static int find(const char *key, int is_adapter)
{
    int i;
    for (i = 0; i < (is_adapter ? NA : NW); i++)
        if (!strcmp(key, is_adapter ? adapters[i].key : workloads[i].key))
            return i;
    fprintf(stderr, "bench: unknown %s '%s'\n", is_adapter ? "adapter" : "workload", key);
    exit(2);
}

/* A child: run one workload once for one adapter and print "ops N rss KiB". */
static int child(const char *mode, unsigned scale, int w, int a)
{
    long rss0, hwm;
    int rc;
    FILE *f;
    gen_scripts(scale, script_of(w));
    rss0 = status_kib("VmRSS");
    /* "5" resets the peak to the current RSS; where that is refused, the set-up's own peak
       (the scripts, still resident) is about rss0 anyway */
    if ((f = fopen("/proc/self/clear_refs", "w")) != NULL) {
        fputs("5", f);
        fclose(f);
    }
    rc = adapters[a].runs->run[w]();
    hwm = status_kib("VmHWM");
    if (rc != 1)
        return rc < 0 ? 3 : 1;
    printf("ops %zu rss %ld\n", ops_of(w), !strcmp(mode, "rss") ? hwm - rss0 : 0);
    return 0;
}

/* ---- children, at most `par` at a time ---- */
typedef struct job { int w, a, ir; pid_t pid; char out[64], err[64]; int status; } job;

static pid_t spawn(job *j, const char *self, const char *dir, const char *valgrind)
{
    char scale[16], toggle[128];
    const char *argv[16];
    int n = 0;
    pid_t pid;
    snprintf(j->out, sizeof j->out, "%s/%d-%d-%d.out", dir, j->w, j->a, j->ir);
    snprintf(j->err, sizeof j->err, "%s/%d-%d-%d.err", dir, j->w, j->a, j->ir);
    {
        size_t sc = j->ir ? workloads[j->w].ir_scale : workloads[j->w].rss_scale;
        if (IS_REQ(j->w) && req_limit[j->w][j->a])   /* as much shorter as the timing runs */
            sc *= (rq_n + req_limit[j->w][j->a] - 1) / req_limit[j->w][j->a];
        snprintf(scale, sizeof scale, "%zu", sc);
    }
    snprintf(toggle, sizeof toggle, "--toggle-collect=wl_%s__%s*", workloads[j->w].fn,
             adapters[j->a].key);
    if (j->ir) {
        argv[n++] = valgrind;
        argv[n++] = "--tool=callgrind";
        argv[n++] = "--callgrind-out-file=/dev/null";
        argv[n++] = "--collect-atstart=no";
        argv[n++] = toggle;
    }
    argv[n++] = self;
    argv[n++] = "--child";
    argv[n++] = j->ir ? "ir" : "rss";
    argv[n++] = scale;
    argv[n++] = workloads[j->w].key;
    argv[n++] = adapters[j->a].key;
    argv[n] = NULL;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int o = open(j->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(j->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return pid;
}

static void run_jobs(job *jobs, int n, int par, const char *self, const char *dir,
                     const char *valgrind)
{
    int next = 0, running = 0, done = 0, i;
    while (done < n) {
        while (running < par && next < n) {
            jobs[next].pid = spawn(&jobs[next], self, dir, valgrind);
            if (jobs[next].pid < 0) {
                jobs[next].status = -1;
                done++;
            } else
                running++;
            next++;
        }
        if (running) {
            int st;
            pid_t pid = wait(&st);
            for (i = 0; i < next; i++)
                if (jobs[i].pid == pid) {
                    jobs[i].status = st;
                    jobs[i].pid = 0;
                    running--;
                    done++;
                    fprintf(stderr, ".");
                }
        }
    }
    fprintf(stderr, "\n");
}

static int read_job(const job *j, size_t *ops, long *rss, double *ir)
{
    FILE *f;
    char line[512];
    int ok = 0;
    if (!WIFEXITED(j->status) || WEXITSTATUS(j->status) != 0)
        return 0;
    if ((f = fopen(j->out, "r")) != NULL) {
        ok = fscanf(f, "ops %zu rss %ld", ops, rss) == 2;
        fclose(f);
    }
    if (ok && ir && (f = fopen(j->err, "r")) != NULL) {
        ok = 0;
        while (fgets(line, sizeof line, f)) {
            char *c = strstr(line, "Collected :");
            if (c) {
                *ir = strtod(c + 11, NULL);
                ok = 1;
            }
        }
        fclose(f);
    }
    remove(j->out);
    remove(j->err);
    return ok;
}

/* ---- results ---- */
#define MAXREPS 50
static double t_ns[NW][NA][MAXREPS];   /* ns per operation */
static double med[NW][NA], tmin[NW][NA], tmax[NW][NA];
static int state[NW][NA];              /* 0 not run, 1 measured, -1 n/a */
static double rss_mib[NW][NA];         /* < 0: unknown */
static double ir_op[NW][NA];           /* < 0: unknown */
static double rc_flt[NA][MAXREPS];     /* recreate: minor page faults per allocation */
static double rc_flt_med[NA];

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int active(int w, int a)
{
    return (adapters[a].workloads >> w) & 1u;
}

static double best_bump(int w)
{
    double b = -1;
    int a;
    for (a = A_BUMPF; a <= A_BUMPC; a++)
        if (state[w][a] == 1 && (b < 0 || med[w][a] < b))
            b = med[w][a];
    return b;
}

static void cell_ratio(double x, double base)
{
    if (x > 0 && base > 0)
        printf(" %.2f |", x / base);
    else
        printf(" — |");
}

static void print_table(void)
{
    int w, a;
    printf("| workload | allocator | ns per allocation (median) | min – max | × bump | × glibc "
           "| peak RSS (MiB) | instructions per allocation |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (w = 0; w < NW; w++) {
        int first = 1;
        for (a = 0; a < NA; a++) {
            if (!active(w, a) || !state[w][a])
                continue;
            printf("| %s%s%s | %s%s", first ? "**" : "", first ? workloads[w].title : "",
                   first ? "**" : "", adapters[a].name,
                   w == W_SHARED1 || w == W_SHARED2 ? shared_note(a) : "");
            if (req_limit[w][a])
                printf(" (first %zu requests)", req_limit[w][a]);
            if (w == W_RECREATE && state[w][a] == 1)
                printf(" (%.4f page faults per allocation)", rc_flt_med[a]);
            printf(" |");
            first = 0;
            if (state[w][a] < 0) {
                printf(" n/a | | | | | |\n");
                continue;
            }
            printf(" %.2f | %.2f – %.2f |", med[w][a], tmin[w][a], tmax[w][a]);
            cell_ratio(med[w][a], best_bump(w));
            cell_ratio(med[w][a], state[w][A_GLIBC] == 1 ? med[w][A_GLIBC] : -1);
            if (rss_mib[w][a] >= 0)
                printf(" %.1f |", rss_mib[w][a]);
            else
                printf(" — |");
            if (ir_op[w][a] >= 0)
                printf(" %.1f |\n", ir_op[w][a]);
            else
                printf(" — |\n");
        }
    }
}

/* The fastest peer (not smalloc, not a bump pointer) of a workload. */
static int fastest_peer(int w)
{
    int a, best = -1;
    for (a = A_GLIBC; a < NA; a++)
        if (state[w][a] == 1 && (best < 0 || med[w][a] < med[w][best]))
            best = a;
    return best;
}

static void target(const char *what, const char *measured, int met)
{
    printf("| %s | %s | %s |\n", what, measured, met < 0 ? "not measured" : met ? "met" : "**missed**");
}

static void print_targets(double mem_ratio, double scaling, double stats_ratio)
{
    char m[256];
    int w, a, p;
    double b, r, r2;
    printf("\n| target | measured | |\n|---|---|---|\n");
    w = W_UNMARSHAL;
    b = best_bump(w);
    r = state[w][A_SMENV] == 1 && b > 0 ? med[w][A_SMENV] / b : -1;
    snprintf(m, sizeof m, "%.2f× the faster bump pointer", r);
    target("unmarshal: sm_env_allocate within 1.3× of the bump pointer (time)", m, r < 0 ? -1 : r <= 1.3);
    r = ir_op[w][A_SMENV] > 0 && ir_op[w][A_BUMPC] > 0 ? ir_op[w][A_SMENV] / ir_op[w][A_BUMPC] : -1;
    snprintf(m, sizeof m, "%.1f vs %.1f: %.2f×", ir_op[w][A_SMENV], ir_op[w][A_BUMPC], r);
    target("unmarshal: sm_env_allocate within 1.5× of the caching bump pointer (instructions)", m,
           r < 0 ? -1 : r <= 1.5);
    r = state[w][A_SMIMP] == 1 && b > 0 ? med[w][A_SMIMP] / b : -1;
    snprintf(m, sizeof m, "%.2f× the faster bump pointer", r);
    target("unmarshal: sm_allocate within 1.5× of the bump pointer (time)", m, r < 0 ? -1 : r <= 1.5);
    for (w = W_UNMARSHAL; w <= W_REQ_DESTROY; w++)
        for (a = A_SMENV; a <= A_SMIMP; a++) {
            char what[160];
            p = fastest_peer(w);
            r = p >= 0 && state[w][a] == 1 ? med[w][a] / med[w][p] : -1;
            snprintf(what, sizeof what, "%s: %s faster than every peer", workloads[w].title,
                     a == A_SMENV ? "sm_env_allocate" : "sm_allocate");
            snprintf(m, sizeof m, "%.2f× the fastest peer (%s)", r, p >= 0 ? adapters[p].label : "?");
            target(what, m, r < 0 ? -1 : r < 1);
        }
    for (w = W_REQ_DESTROY; w <= W_REQ_RESET; w++)
        for (a = A_SMENV; a <= A_SMIMP; a++) {
            char what[160];
            double fewest = -1;
            if (ir_op[w][A_APR] > 0 && ir_op[w][A_OBSTK] > 0)
                fewest = ir_op[w][A_APR] < ir_op[w][A_OBSTK] ? ir_op[w][A_APR] : ir_op[w][A_OBSTK];
            r = ir_op[w][a] > 0 && fewest > 0 ? ir_op[w][a] / fewest : -1;
            snprintf(what, sizeof what, "%s: %s in fewer instructions than the APR pool and the obstack",
                     workloads[w].title, a == A_SMENV ? "sm_env_allocate" : "sm_allocate");
            snprintf(m, sizeof m, "%.1f vs %.1f: %.2f×", ir_op[w][a], fewest, r);
            target(what, m, r < 0 ? -1 : r < 1);
            r = ir_op[w][a] > 0 && ir_op[w][A_BUMPC] > 0 ? ir_op[w][a] / ir_op[w][A_BUMPC] : -1;
            snprintf(what, sizeof what, "%s: %s within 1.3× of the caching bump pointer (instructions)",
                     workloads[w].title, a == A_SMENV ? "sm_env_allocate" : "sm_allocate");
            snprintf(m, sizeof m, "%.1f vs %.1f: %.2f×", ir_op[w][a], ir_op[w][A_BUMPC], r);
            target(what, m, r < 0 ? -1 : r <= 1.3);
        }
    w = W_REQ_RESET;
    b = best_bump(w);
    r = state[w][A_SMENV] == 1 && b > 0 ? med[w][A_SMENV] / b : -1;
    snprintf(m, sizeof m, "%.2f× the faster bump pointer", r);
    target("requests, reset: sm_env_reset within 1.2× of the bump pointer", m, r < 0 ? -1 : r <= 1.2);
    w = W_CHURN;
    if (state[w][A_SMREC] < 0) {
        target("churn: SM_RECYCLE time no worse than glibc", "n/a: sm_env_create refuses SM_RECYCLE", 0);
        target("churn: SM_RECYCLE peak RSS at most 1.5× glibc's", "n/a", 0);
    } else {
        r = state[w][A_SMREC] == 1 && state[w][A_GLIBC] == 1 ? med[w][A_SMREC] / med[w][A_GLIBC] : -1;
        snprintf(m, sizeof m, "%.2f× glibc", r);
        target("churn: SM_RECYCLE time no worse than glibc", m, r < 0 ? -1 : r <= 1.0);
        r = state[w][A_SMREC] == 1 && state[w][A_MIMAL] == 1 ? med[w][A_SMREC] / med[w][A_MIMAL] : -1;
        snprintf(m, sizeof m, "%.2f× the mimalloc heap", r);
        target("churn: SM_RECYCLE time within 2× a mimalloc heap's", m, r < 0 ? -1 : r <= 2.0);
        r = rss_mib[w][A_SMREC] >= 0 && rss_mib[w][A_GLIBC] > 0 ? rss_mib[w][A_SMREC] / rss_mib[w][A_GLIBC] : -1;
        snprintf(m, sizeof m, "%.1f MiB vs %.1f MiB: %.2f×", rss_mib[w][A_SMREC], rss_mib[w][A_GLIBC], r);
        target("churn: SM_RECYCLE peak RSS at most 1.5× glibc's", m, r < 0 ? -1 : r <= 1.5);
    }
    for (a = A_SMENV; a <= A_SMIMP; a++) {
        const char *nm = a == A_SMENV ? "sm_env_allocate" : "sm_allocate";
        char what[160];
        int ok2 = state[W_SHARED1][a] == 1 && state[W_SHARED2][a] == 1;
        /* ns per allocation is wall time over all allocations: throughput is its inverse */
        r = ok2 ? med[W_SHARED1][a] / med[W_SHARED2][a] : -1;
        r2 = ok2 && state[W_SHARED2][A_GLIBC] == 1 ? med[W_SHARED2][a] / med[W_SHARED2][A_GLIBC] : -1;
        snprintf(what, sizeof what, "shared: %s, 2 threads ≥ 1.7× the throughput of 1", nm);
        snprintf(m, sizeof m, "%.2f× (a CPU-only loop: %.2f× on this machine)", r, scaling);
        target(what, m, r < 0 ? -1 : r >= 1.7);
        snprintf(what, sizeof what, "shared: %s, 2 threads faster than glibc malloc", nm);
        snprintf(m, sizeof m, "%.2f× glibc's time", r2);
        target(what, m, r2 < 0 ? -1 : r2 < 1);
    }
    w = W_LARGE;
    r = state[w][A_SMENV] == 1 && state[w][A_GLIBC] == 1 ? med[w][A_SMENV] / med[w][A_GLIBC] : -1;
    snprintf(m, sizeof m, "%.2f× glibc", r);
    target("large: sm_env_allocate within 1.2× of glibc", m, r < 0 ? -1 : r <= 1.2);
    snprintf(m, sizeof m, "%.3f×", mem_ratio);
    target("unmarshal: bytes from the backing allocator (backing_peak) ≤ 1.10× bytes requested", m,
           mem_ratio < 0 ? -1 : mem_ratio <= 1.10);
    snprintf(m, sizeof m, "%.2f×", stats_ratio);
    target("stats: mark-frees beside a sm_env_stats loop keep ≥ 80% of their throughput beside a "
           "spinning thread", m, stats_ratio < 0 ? -1 : stats_ratio >= 0.8);
}

/* How much a second thread adds on this machine to a loop that touches no shared memory: the
   shared workload's scaling cannot be better (a shared or busy machine makes it less than 2). */
static void *spin(void *arg)
{
    volatile uint64_t x = 0;
    uint64_t i;
    for (i = 0; i < 20000000u; i++)
        x += i;
    return x == 1 ? NULL : arg;
}

static double cpu_scaling(void)
{
    double r[5];
    int k, i;
    for (k = 0; k < 5; k++) {
        double t1, t2;
        pthread_t th[2];
        t1 = now_ns();
        spin(NULL);
        t1 = now_ns() - t1;
        t2 = now_ns();
        for (i = 0; i < 2; i++)
            if (pthread_create(&th[i], NULL, spin, NULL) != 0)
                return -1;
        for (i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        t2 = now_ns() - t2;
        r[k] = 2 * t1 / t2;
    }
    qsort(r, 5, sizeof r[0], cmp_double);
    return r[2];
}

/* path: the chart's data; path.gp: its caption, for chart.gp. */
static void print_legend(void)
{
    printf("\nHow each allocator is driven (bench/bench.c, \"Adapters\"):\n\n"
"| allocator | environment: create, destroy | free of one block | reset (requests, reset) | shared by threads |\n"
"|---|---|---|---|---|\n"
"| bump pointer, frees chunks | 64 KiB chunks from malloc, a list; all given back to free | no-op | chunks kept | mutex |\n"
"| bump pointer, caches chunks | the same; chunks kept in a process-wide cache (at most SMALLOC_CACHE_SIZE, 64 MiB) for the next environment | no-op | chunks kept | mutex |\n"
"| smalloc sm_env_allocate | sm_env_create, sm_env_destroy | sm_env_free (mark-free) | sm_env_reset | thread-safe |\n"
"| smalloc sm_allocate | sm_enable_allocate, sm_disable_allocate | sm_free | sm_env_reset of an environment made current with sm_set_thread_handle | workers attach with sm_set_thread_handle |\n"
"| smalloc SM_RECYCLE | sm_env_create with SM_RECYCLE (n/a if refused) | sm_env_free | — | — |\n"
"| smalloc, no mark-free (requests only) | sm_env_create, sm_env_destroy | no-op: the workload's frees are skipped | sm_env_reset | — |\n"
"| glibc malloc/free | a list of the blocks (slot array); free of each at destroy | free | free of each block | thread-safe; a list per thread |\n"
"| mimalloc heap | mi_heap_new, mi_heap_destroy | mi_free | mi_heap_destroy + mi_heap_new (no reset) | n/a: a heap belongs to one thread |\n"
"| jemalloc arena | arenas.create, arena.<i>.destroy; mallocx/sdallocx with an explicit tcache per thread | sdallocx | arena.<i>.reset | thread-safe; a tcache per thread |\n"
"| APR pool | apr_pool_create, apr_pool_destroy (8-byte alignment) | no-op | apr_pool_clear | mutex |\n"
"| talloc | talloc_new(NULL), talloc_free | talloc_free | talloc_free_children | mutex |\n"
"| GNU obstack | obstack_init, obstack_free(NULL) | no-op | obstack_free back to the first object | mutex |\n"
"\nmimalloc and jemalloc are loaded with dlopen(RTLD_LOCAL): linking either would replace glibc's "
"malloc in the whole process (and so the glibc row and every allocator built on malloc).\n");
}

static void write_chart_data(const char *path, const char *caption)
{
    char gp[4096];
    FILE *f;
    int w, a;
    snprintf(gp, sizeof gp, "%s.gp", path);
    if ((f = fopen(gp, "w")) != NULL) {
        fprintf(f, "caption = \"%s\"\n", caption);
        fclose(f);
    }
    if (!(f = fopen(path, "w"))) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "workload");
    for (a = 0; a < NA; a++)
        fprintf(f, " \"%s\"", adapters[a].label);
    fprintf(f, "\n");
    for (w = 0; w < NW; w++) {
        int any = 0;
        for (a = 0; a < NA; a++)
            any |= state[w][a] == 1;
        if (!any)
            continue;
        fprintf(f, "\"%s\"", workloads[w].label);
        for (a = 0; a < NA; a++)
            if (state[w][a] == 1 && state[w][A_GLIBC] == 1)
                fprintf(f, " %.4f", med[w][a] / med[w][A_GLIBC]);
            else
                fprintf(f, " NaN");
        fprintf(f, "\n");
    }
    fclose(f);
}

static void cpu_model(char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    snprintf(buf, n, "unknown CPU");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 1 + (c[1] == ' ');
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    fclose(f);
}

/* backing_peak / bytes requested of an sm_env unmarshal, and the same for the bump pointer. */
static double memory_ratio(double *bump_ratio)
{
    sm_env *env = sm_env_create(NULL, NULL);
    sm_stats st;
    bump_env b;
    double req = 0;
    size_t i;
    *bump_ratio = -1;
    if (!env)
        return -1;
    for (i = 0; i < um_n; i++) {
        char *p = (char *)sm_env_allocate(env, um_size[i], NULL);
        if (!p)
            return -1;
        *(volatile char *)p = 1;
        req += um_size[i];
    }
    if (sm_env_stats(env, &st) != SM_OK)
        return -1;
    sm_env_destroy(env);
    bump_create(&b);
    for (i = 0; i < um_n; i++)
        if (!bump_alloc(&b, um_size[i], 0))
            return -1;
    *bump_ratio = (double)bump_bytes(&b) / req;
    bump_destroy(&b, 0);
    printf("Memory, unmarshal: %.1f MiB requested in %zu blocks; sm_env_stats: backing_peak %.1f MiB "
           "(**%.3f×** the bytes requested), live_bytes %.1f MiB (sizes rounded to the granule); "
           "the bump pointer's chunks: %.3f×.\n\n",
           req / 1048576, um_n, (double)st.backing_peak / 1048576, (double)st.backing_peak / req,
           (double)st.live_bytes / 1048576, *bump_ratio);
    return (double)st.backing_peak / req;
}

/* sm_env_stats beside mark-frees (a long-lived environment watched by a monitor): in each round
   the main thread allocates ST_BLOCKS blocks of 16-256 bytes, then ST_FREERS threads mark them
   free, a share each, while a fifth thread idles, calls sm_env_stats in a loop, or spins (the
   CPU a fifth thread takes from the others on this machine). A round's time runs from the
   freers' start to their end; the modes take turns round by round. The fifth thread lives
   through all rounds and stays out of the environment while the main thread resets it (a
   Dekker handshake on st_phase and st_busy). The figures must be exact after every round. */
#define ST_BLOCKS 100000
#define ST_FREERS 4
#define ST_ROUNDS 20
enum { ST_ALONE, ST_STATS, ST_SPIN, ST_MODES };
static sm_env *st_env;
static void *st_block[ST_BLOCKS];
static pthread_barrier_t st_start, st_done;
static int st_quit, st_phase, st_busy, st_mode;   /* atomic; st_phase: the freers are at work */
static size_t st_calls;                          /* sm_env_stats calls (atomic) */

static void *st_freer(void *arg)
{
    size_t k = (size_t)(uintptr_t)arg, i;
    for (;;) {
        pthread_barrier_wait(&st_start);
        if (__atomic_load_n(&st_quit, __ATOMIC_ACQUIRE))
            return NULL;
        for (i = k; i < ST_BLOCKS; i += ST_FREERS)
            (void)sm_env_free(st_env, st_block[i]);
        pthread_barrier_wait(&st_done);
    }
}

static void *st_reader(void *arg)
{
    volatile uint64_t x = 0;
    sm_stats s;
    while (!__atomic_load_n(&st_quit, __ATOMIC_ACQUIRE)) {
        int mode = __atomic_load_n(&st_mode, __ATOMIC_ACQUIRE), i;
        if (mode == ST_STATS) {
            __atomic_store_n(&st_busy, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&st_phase, __ATOMIC_SEQ_CST)) {
                (void)sm_env_stats(st_env, &s);
                __atomic_fetch_add(&st_calls, 1, __ATOMIC_RELAXED);
            }
            __atomic_store_n(&st_busy, 0, __ATOMIC_SEQ_CST);
        } else if (mode == ST_SPIN) {
            for (i = 0; i < 1000; i++)
                x += (uint64_t)i;
        } else {
            struct timespec nap = { 0, 100000 };
            nanosleep(&nap, NULL);
        }
    }
    return x == 1 ? NULL : arg;
}

/* ns per mark-free in each mode; *calls: sm_env_stats calls per round; 0 if something failed. */
static int stats_beside_frees(double ns[ST_MODES], double *calls)
{
    pthread_t freer[ST_FREERS], reader;
    double t[ST_MODES] = { 0, 0, 0 };
    int r, ok = 1;
    size_t i;
    sm_stats s;
    st_env = sm_env_create(NULL, NULL);
    if (!st_env)
        return 0;
    pthread_barrier_init(&st_start, NULL, ST_FREERS + 1);
    pthread_barrier_init(&st_done, NULL, ST_FREERS + 1);
    for (i = 0; i < ST_FREERS; i++)
        if (pthread_create(&freer[i], NULL, st_freer, (void *)(uintptr_t)i) != 0)
            return 0;
    if (pthread_create(&reader, NULL, st_reader, NULL) != 0)
        return 0;
    for (r = 0; r < ST_ROUNDS * ST_MODES; r++) {
        int mode = r % ST_MODES;
        double t0;
        for (i = 0; i < ST_BLOCKS; i++)
            if (!(st_block[i] = sm_env_allocate(st_env, 16 + (i * 7919) % 241, NULL)))
                ok = 0;
        __atomic_store_n(&st_mode, mode, __ATOMIC_RELEASE);
        __atomic_store_n(&st_phase, 1, __ATOMIC_SEQ_CST);
        t0 = now_ns();
        pthread_barrier_wait(&st_start);
        pthread_barrier_wait(&st_done);
        t[mode] += now_ns() - t0;
        __atomic_store_n(&st_phase, 0, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&st_busy, __ATOMIC_SEQ_CST))
            ;
        if (sm_env_stats(st_env, &s) != SM_OK || s.live_blocks != 0 || s.freed_blocks != ST_BLOCKS)
            ok = 0;
        (void)sm_env_reset(st_env);
    }
    __atomic_store_n(&st_quit, 1, __ATOMIC_RELEASE);
    pthread_barrier_wait(&st_start);
    for (i = 0; i < ST_FREERS; i++)
        pthread_join(freer[i], NULL);
    pthread_join(reader, NULL);
    pthread_barrier_destroy(&st_start);
    pthread_barrier_destroy(&st_done);
    sm_env_destroy(st_env);
    for (r = 0; r < ST_MODES; r++)
        ns[r] = t[r] / ((double)ST_ROUNDS * ST_BLOCKS);
    *calls = (double)st_calls / ST_ROUNDS;
    return ok;
}

/* The stats paragraph; returns throughput beside the sm_env_stats loop / beside a spinning
   thread, or -1. */
static double stats_report(void)
{
    double ns[ST_MODES], calls;
    if (!stats_beside_frees(ns, &calls)) {
        printf("Stats beside mark-frees: failed (or the figures were not exact once the threads stopped).\n\n");
        return -1;
    }
    printf("Stats beside mark-frees: %d threads mark free %d blocks that another thread allocated, "
           "%d rounds per case: %.1f ns per mark-free alone, %.1f beside a fifth thread that calls "
           "sm_env_stats in a loop (%.0f calls per round), %.1f beside a fifth thread that spins; "
           "sm_env_stats figures exact after every round.\n\n",
           ST_FREERS, ST_BLOCKS, ST_ROUNDS, ns[ST_ALONE], ns[ST_STATS], calls, ns[ST_SPIN]);
    return ns[ST_SPIN] / ns[ST_STATS];
}

static void usage(void)
{
    fprintf(stderr, "usage: bench [--reps N] [--only W,W...] [--adapters A,A...] [--no-rss] [--no-ir]"
                    " [--data FILE] [--commit C] [--stats]\n       bench --child rss|ir SCALE WORKLOAD ADAPTER\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int reps = 5, do_rss = 1, do_ir = 1, do_stats = 0, i, w, a, r, k, ncpu;
    unsigned want = ALL_W, want_a = (1u << NA) - 1;
    const char *data = NULL, *commit = "unknown";
    const char *valgrind = getenv("VALGRIND");
    char self[4096], dir[] = "/tmp/smalloc-bench-XXXXXX", cpu[160], vcmd[512], caption[512];
    ssize_t len;
    double t0, mem_ratio, bump_ratio, scaling = -1, stats_ratio = -1;
    job jobs[2 * NW * NA];
    int njobs = 0;

    reexec_for_tls(argv);
    load_libs();
    check_malloc();
    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "bench: apr_initialize failed\n");
        return 1;
    }
    if (argc == 6 && !strcmp(argv[1], "--child"))
        return child(argv[2], (unsigned)atoi(argv[3]), find(argv[4], 0), find(argv[5], 1));
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-rss"))
            do_rss = 0;
        else if (!strcmp(argv[i], "--no-ir"))
            do_ir = 0;
        else if (!strcmp(argv[i], "--stats"))
            do_stats = 1;
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--commit") && i + 1 < argc)
            commit = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            char *s = argv[++i], *tok;
            want = 0;
            for (tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
                want |= 1u << find(tok, 0);
        } else if (!strcmp(argv[i], "--adapters") && i + 1 < argc) {
            char *s = argv[++i], *tok;
            want_a = 0;
            for (tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
                want_a |= 1u << find(tok, 1);
        } else
            usage();
    }
    if (reps < 1 || reps > MAXREPS)
        usage();
    if (!valgrind)
        valgrind = "valgrind";
    len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return 1;
    self[len] = 0;
    ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;

    t0 = now_ns();
    gen_scripts(1, GEN_UM | GEN_RQ | GEN_CH | GEN_LG);
    fprintf(stderr, "bench: scripts made in %.2f s\n", (now_ns() - t0) * 1e-9);

    if ((want >> W_SHARED2) & 1u)
        scaling = cpu_scaling();

    /* Timings: per workload, a warm-up then reps repetitions, adapters interleaved with the
       starting adapter rotating. */
    for (w = 0; w < NW; w++) {
        if (!((want >> w) & 1u))
            continue;
        t0 = now_ns();
        for (r = 0; r <= reps; r++)
            for (k = 0; k < NA; k++) {
                double t;
                int rc;
                a = (k + r) % NA;
                if (!active(w, a) || state[w][a] < 0 || !((want_a >> a) & 1u))
                    continue;
                rq_limit = req_limit[w][a] ? req_limit[w][a] : rq_n;
                t = now_ns();
                rc = adapters[a].runs->run[w]();
                t = now_ns() - t;
                if (rc == 0) {
                    fprintf(stderr, "bench: %s failed in %s\n", adapters[a].key, workloads[w].key);
                    return 1;
                }
                if (rc < 0) {
                    state[w][a] = -1;
                    continue;
                }
                state[w][a] = 1;
                if (w == W_RECREATE) {   /* its timed rounds only */
                    t = g_part_ns;
                    if (r > 0)
                        rc_flt[a][r - 1] = (double)g_part_faults / (double)ops_of(w);
                }
                if (r > 0)
                    t_ns[w][a][r - 1] = t / (double)ops_of(w);
                else if (IS_REQ(w) && t > REQ_BUDGET_NS) {
                    req_limit[w][a] = (size_t)((double)rq_n * REQ_BUDGET_NS / t);
                    if (req_limit[w][a] < 500)
                        req_limit[w][a] = 500;
                }
            }
        rq_limit = rq_n;
        for (a = 0; a < NA; a++)
            if (state[w][a] == 1) {
                qsort(t_ns[w][a], (size_t)reps, sizeof(double), cmp_double);
                med[w][a] = reps % 2 ? t_ns[w][a][reps / 2]
                                     : (t_ns[w][a][reps / 2 - 1] + t_ns[w][a][reps / 2]) / 2;
                tmin[w][a] = t_ns[w][a][0];
                tmax[w][a] = t_ns[w][a][reps - 1];
                if (w == W_RECREATE) {
                    qsort(rc_flt[a], (size_t)reps, sizeof(double), cmp_double);
                    rc_flt_med[a] = reps % 2 ? rc_flt[a][reps / 2]
                                             : (rc_flt[a][reps / 2 - 1] + rc_flt[a][reps / 2]) / 2;
                }
            }
        fprintf(stderr, "bench: %-12s %.1f s\n", workloads[w].key, (now_ns() - t0) * 1e-9);
    }

    for (w = 0; w < NW; w++)
        for (a = 0; a < NA; a++)
            rss_mib[w][a] = ir_op[w][a] = -1;
    snprintf(vcmd, sizeof vcmd, "%s --version >/dev/null 2>&1", valgrind);
    if (do_ir && system(vcmd) != 0) {
        fprintf(stderr, "bench: no valgrind (%s): no instruction counts\n", valgrind);
        do_ir = 0;
    }
    if ((do_rss || do_ir) && !mkdtemp(dir)) {
        fprintf(stderr, "bench: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    for (w = 0; w < NW; w++)
        for (a = 0; a < NA; a++) {
            if (state[w][a] != 1)
                continue;
            if (do_rss) {
                memset(&jobs[njobs], 0, sizeof jobs[njobs]);
                jobs[njobs].w = w;
                jobs[njobs].a = a;
                njobs++;
            }
            if (do_ir && workloads[w].ir_scale) {
                memset(&jobs[njobs], 0, sizeof jobs[njobs]);
                jobs[njobs].w = w;
                jobs[njobs].a = a;
                jobs[njobs].ir = 1;
                njobs++;
            }
        }
    if (njobs) {
        t0 = now_ns();
        fprintf(stderr, "bench: %d child processes (peak RSS%s)", njobs, do_ir ? ", callgrind" : "");
        run_jobs(jobs, njobs, ncpu, self, dir, valgrind);
        for (i = 0; i < njobs; i++) {
            size_t ops = 0;
            long rss = -1;
            double ir = -1;
            if (!read_job(&jobs[i], &ops, &rss, jobs[i].ir ? &ir : NULL)) {
                fprintf(stderr, "bench: child %s %s %s failed\n", jobs[i].ir ? "ir" : "rss",
                        workloads[jobs[i].w].key, adapters[jobs[i].a].key);
                continue;
            }
            if (jobs[i].ir)
                ir_op[jobs[i].w][jobs[i].a] = ir / (double)ops;
            else
                rss_mib[jobs[i].w][jobs[i].a] = rss / 1024.0;
        }
        rmdir(dir);
        fprintf(stderr, "bench: children took %.1f s\n", (now_ns() - t0) * 1e-9);
    }

    cpu_model(cpu, sizeof cpu);
    snprintf(caption, sizeof caption, "%s (%d logical CPUs), %s %s, %s, glibc %s, commit %s", cpu,
             ncpu,
#if defined(__clang__)
             "clang", __clang_version__,
#else
             "gcc", __VERSION__,
#endif
             BENCH_FLAGS, gnu_get_libc_version(), commit);
    printf("### smalloc %s beside its peers\n\n", SMALLOC_VERSION_STRING);
    printf("%s; %s, %s, APR %s, talloc %d.%d, obstack from glibc. %d repetitions after a warm-up, "
           "interleaved in one process; peak RSS from a fresh process per cell; instructions "
           "from callgrind.\n\n", caption,
           lib_note[A_MIMAL][0] ? lib_note[A_MIMAL] : "mimalloc n/a",
           lib_note[A_JEMAL][0] ? lib_note[A_JEMAL] : "jemalloc n/a", apr_version_string(),
           talloc_version_major(), talloc_version_minor(), reps);
    print_table();
    printf("\nEach allocation is touched once (one byte written). × bump: to the faster of the two bump "
           "pointers in that workload; × glibc: to glibc malloc/free. Peak RSS: above the child "
           "process's own set-up (pages never touched are not resident). Churn: per free + "
           "allocate pair. Shared: wall time over all threads' allocations. Made again: the unmarshal "
           "environment created, filled and destroyed %d times in a row; time, instructions and "
           "minor page faults (getrusage; beside each allocator, the median over the repetitions) "
           "per allocation of the second and later rounds, the first warming what the allocator "
           "keeps. Instructions: the "
           "workload function alone under callgrind, on a shorter script for some workloads.\n\n",
           RC_ROUNDS);
    mem_ratio = (want >> W_UNMARSHAL) & 1u ? memory_ratio(&bump_ratio) : -1;
    if (do_stats || want == ALL_W)
        stats_ratio = stats_report();
    print_targets(mem_ratio, scaling, stats_ratio);
    print_legend();
    if (data)
        write_chart_data(data, caption);
    apr_terminate();
    return 0;
}
