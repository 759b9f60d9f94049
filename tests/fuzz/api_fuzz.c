/* api_fuzz.c - a libFuzzer target for smalloc's public API, checked against a shadow model.

   Every input is a sequence of operations (fuzz.h: the opcodes and their argument bytes):
   create, destroy and reset environments; enable and disable (nested); allocate in all the ways
   there are, with sizes from 0 to larger than a chunk and sizes that overflow; mark-free, describe
   and reallocate live, marked-free, interior, foreign and stale pointers; get and set the thread
   handle, live, stale and made up; swap and use the client allocator pair; stats and leak
   reports; new threads that enable, then disable or exit; backing- and bookkeeping-allocator
   failures injected at chosen calls. Each result is compared with a small model of what must be
   true (which blocks are live and where, which status each call must return, what the figures
   and reports must say), and any difference aborts with the operation, what was expected and
   what came back, so libFuzzer records the input.

   What the model checks, besides every status:
     - blocks are aligned, distinct and do not overlap any live block of any environment;
     - a block keeps its contents (a pattern from its id, written at allocation) until it is
       marked free, reallocated (up to the smaller size) or its environment goes;
     - sm_env_describe finds every live block from any pointer inside it, with its usable size
       and site; a marked-free block either still is one or was reclaimed (the bump moved back
       over it), and nothing else is a block;
     - sm_env_stats: live and marked-free blocks and bytes exactly; backing bytes equal to what
       the counting allocator below holds for that environment;
     - a failed allocation leaves the figures as they were and is explained by a refused call
       or an impossible size; the backing allocator sees the site of the allocation;
     - SM_TRACK reports (sm_env_report and the report function at destroy) per site exactly;
     - SM_POISON: marked-free memory is poisoned for AddressSanitizer (in ASan builds);
     - after destroy, disable or the exit of a thread that still owned environments, every
       byte went back to the backing allocator and the report function saw what was live;
     - at the end of every input nothing is left: no environment, no current environment, the
       default client pair, an empty chunk cache.
   Which of SM_TRACK, SM_POISON, SM_RECYCLE and a report function sm_env_create accepts is
   probed once per process: a refusal must be exactly SM_INVALID_ARG, and an accepted flag is
   then checked as above. The fuzzer never touches memory of a block that is not live.

   Build and run (from the repository root):
       make fuzz FUZZ_TIME=600     libFuzzer with ASan and UBSan (clang), on all cores
       make check-fuzz-replay      the checked-in corpus and regressions through replay.c, built
                                   with the plain compiler (part of `make test`)
   FUZZ_TRACE=1 in the environment prints every operation as it runs (to read a finding). */
#include "fuzz.h"

#include <stdarg.h>
#ifndef SMALLOC_NO_THREADS
#include <pthread.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* smalloc's bookkeeping (stb_ds, the handle table) goes through these, so that its failures
   can be injected too; see G.book. */
static void *fz_book_realloc(void *p, size_t n);
static void fz_book_free(void *p);
#define SMALLOC_REALLOC(p, n) fz_book_realloc((p), (n))
#define SMALLOC_FREE(p)       fz_book_free(p)
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../../smalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#ifdef FZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* The model's linear scans are not worth libFuzzer's comparison tracing, which made them most
   of an execution's time; their outcomes show in the branches of the callers anyway. */
#if defined(__clang__) && __clang_major__ >= 13
#define FZ_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define FZ_NOCOV
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FZ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define FZ_NORETURN __attribute__((noreturn))
#else
#define FZ_PRINTF(f, a)
#define FZ_NORETURN
#endif

/* smalloc's granule: alignof(max_align_t), at least 8 (C99 has no max_align_t). */
struct fz_align_probe { char c; union { long double ld; long long ll; double d; void *p; void (*f)(void); } u; };
#define FZ_MAX_ALIGN ((size_t)offsetof(struct fz_align_probe, u))
#define FZ_GRAIN (FZ_MAX_ALIGN < 8 ? (size_t)8 : FZ_MAX_ALIGN)

#define FZ_MAX_ENVS    64        /* environments per input, live or gone */
#define FZ_MAX_FRAMES  16        /* nested enables */
#define FZ_MAX_BLOCKS  2048      /* model records, live and marked free */
#define FZ_MAX_CLIENT  128       /* blocks of the client pair */
#define FZ_MAX_DEAD    32        /* remembered pointers of gone blocks */
#define FZ_MAX_OLD     64        /* remembered handles of earlier inputs */
#define FZ_MAX_OPS     4096
#define FZ_BUDGET      ((size_t)64 << 20)   /* what the counting allocators may hold at once */
#define FZ_HUGE        ((size_t)1 << 30)    /* no block this large can be had */
#define FZ_SMALL_MAX   ((size_t)64 << 10)   /* the largest request to malloc-backed memory */
#define FZ_WINDOW      128                  /* bytes of pattern at each end of a block */
#define FZ_UNKNOWN     ((size_t)-1)         /* usable size not known exactly (SM_RECYCLE) */

/* Allocation sites for the _at variants; plain calls have FZ_SITE_NONE (NULL, 0). rank: the
   order reports must follow ("in order of file and line", NULL first). */
static const char fz_file_a[] = "fuzz_site_a.c";
static const char fz_file_b[] = "fuzz_site_b.c";
static const struct { const char *file; int line, rank; } fz_sites[] = {
    { fz_file_a, 11, 1 }, { fz_file_a, 22, 2 }, { fz_file_b, 11, 3 }, { NULL, 0, 0 }
};
#define FZ_NSITES    4
#define FZ_SITE_NONE 3

static const char *const fz_op_names[] = {
#define FZ_NAME_(name, nargs) #name,
    FZ_OPS(FZ_NAME_)
#undef FZ_NAME_
};
static const unsigned char fz_op_nargs[] = {
#define FZ_NARGS_(name, nargs) nargs,
    FZ_OPS(FZ_NARGS_)
#undef FZ_NARGS_
};

/* ------------------------------------------------------------------------------------------ */
/* Model                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* A counting backing allocator: one per environment, so that destroy can be checked to give
   back every byte of that environment. */
typedef struct fz_ctx {
    size_t live_bytes, live_blocks, peak;
} fz_ctx;

/* What a report function received, by site. */
typedef struct fz_collect {
    size_t calls[FZ_NSITES], blocks[FZ_NSITES], bytes[FZ_NSITES];
    int unknown;                  /* a site the fuzzer never used */
    int last_rank, unordered;     /* the order of the calls */
    const sm_env *env;            /* set: the callback calls smalloc on it (allowed) */
} fz_collect;

typedef struct fz_env {
    int alive;
    int enabled;                  /* made by sm_enable_allocate*: owned by this thread */
    sm_env *env;                  /* explicit environments only */
    sm_thread_handle h;
    unsigned flags;
    size_t chunk;                 /* the first chunk's size as configured (0 and small raised) */
    int counted;                  /* backing allocator: ctx */
    int small;                    /* malloc-backed: requests kept small (libFuzzer's malloc limit) */
    int report;                   /* sm_config.report set */
    fz_ctx ctx;
    fz_collect col;               /* what the report function received */
} fz_env;

enum { FZ_EMPTY, FZ_LIVE, FZ_FREED };

typedef struct fz_block {
    int state;
    int env;
    unsigned char *p;
    size_t size;                  /* as requested: what a report counts */
    size_t umin, umax;            /* usable size; equal once sm_env_describe said it */
    unsigned id;                  /* seeds its pattern */
    int site;
    unsigned long seq;            /* allocation order */
} fz_block;

enum { FZ_CB_MALLOC, FZ_CB_CUSTOM };
typedef struct fz_cblock {
    int used, kind;
    unsigned char *p;
    size_t size;
    unsigned id;
} fz_cblock;

typedef struct fz_frame {
    int env;
    int prev;                     /* what was current before: env index or -1 */
} fz_frame;

/* Failure injection for one allocator: refuse call number `at`, or every call of an op. */
typedef struct fz_fail {
    unsigned long calls, at, refused;
    int all, pending;
} fz_inject;

/* The client pairs: the default and two of the fuzzer's own. */
enum { FZ_P_DEFAULT, FZ_P_A, FZ_P_B, FZ_P_NULL };

static struct fz_state {
    const uint8_t *in;
    size_t len, pos;
    unsigned opno;
    const char *opname;
    int trace;
    fz_env envs[FZ_MAX_ENVS];
    int nenvs;
    fz_frame frames[FZ_MAX_FRAMES];
    int nframes;
    int cur;                      /* the current environment (maybe gone: stale), or -1 */
    fz_block blocks[FZ_MAX_BLOCKS];
    int nblocks;                  /* high-water mark */
    int free_slots[FZ_MAX_BLOCKS];   /* empty records below the mark */
    int nfree;
    fz_cblock client[FZ_MAX_CLIENT];
    void *dead[FZ_MAX_DEAD];
    unsigned ndead;
    int pair_alloc, pair_free;
    unsigned long seq;
    unsigned next_id;
    size_t backing_live;          /* over all counting allocators */
    fz_inject bk, book;
    int op_site;                  /* the site the backing allocator must see in this op */
    unsigned char *heap;          /* a foreign heap buffer */
    void *stack;                  /* a foreign stack address */
    /* the fuzzer's client pairs record their calls */
    unsigned long c_allocs, c_frees;
    int c_alloc_pair, c_free_pair;
    size_t c_size;
    void *c_freed;
} G;

/* Process-wide: what the probe found, and handles of earlier inputs. */
static int fz_ready;
static int fz_flag_ok[16];        /* index: flags | (report ? 8 : 0) */
static sm_client_alloc_fn *fz_def_alloc;
static sm_client_free_fn *fz_def_free;
static sm_thread_handle fz_old[FZ_MAX_OLD];
static unsigned fz_nold;
static unsigned char fz_static_buf[256];

/* ------------------------------------------------------------------------------------------ */
/* Reporting a mismatch                                                                       */
/* ------------------------------------------------------------------------------------------ */

static FZ_NORETURN FZ_PRINTF(1, 2) void fz_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "api_fuzz: op %u (%s): ", G.opno, G.opname ? G.opname : "setup");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

static void fz_status(const char *call, sm_status got, sm_status want)
{
    if (got != want)
        fz_fail("%s returned %s, expected %s", call, sm_status_string(got), sm_status_string(want));
}

static void fz_check(int ok, const char *what)
{
    if (!ok)
        fz_fail("%s", what);
}

/* ------------------------------------------------------------------------------------------ */
/* Allocators: counting backing allocator, bookkeeping allocator, client pairs                */
/* ------------------------------------------------------------------------------------------ */

static int fz_refuse(fz_inject *f)
{
    unsigned long n = ++f->calls;
    if (f->all || (f->at && n == f->at)) {
        if (n == f->at)
            f->at = 0;
        f->refused++;
        return 1;
    }
    return 0;
}

typedef union fz_hdr {
    struct { size_t magic, size; fz_ctx *ctx; } h;
    long double align_ld;         /* keeps what follows aligned like malloc's memory */
    void *align_p;
    long long align_ll;
} fz_hdr;
#define FZ_MAGIC ((size_t)0x5a11ab1eu)
#define FZ_DEAD_MAGIC ((size_t)0xdeadb10cu)

static void *fz_backing_alloc(void *context, size_t size, const char *file, int line)
{
    fz_ctx *c = (fz_ctx *)context;
    fz_hdr *h;
    if (G.op_site >= 0 && (file != fz_sites[G.op_site].file || line != fz_sites[G.op_site].line))
        fz_fail("the backing allocator was called with site (%s, %d), expected (%s, %d)",
                file ? file : "NULL", line, fz_sites[G.op_site].file ? fz_sites[G.op_site].file : "NULL",
                fz_sites[G.op_site].line);
    if (fz_refuse(&G.bk))
        return NULL;
    if (size > FZ_BUDGET || G.backing_live > FZ_BUDGET - size) {
        G.bk.refused++;           /* over budget: a refusal like any other */
        return NULL;
    }
    h = (fz_hdr *)malloc(sizeof *h + size);
    if (!h) {
        G.bk.refused++;
        return NULL;
    }
    h->h.magic = FZ_MAGIC;
    h->h.size = size;
    h->h.ctx = c;
    c->live_bytes += size;
    c->live_blocks++;
    if (c->live_bytes > c->peak)
        c->peak = c->live_bytes;
    G.backing_live += size;
    return h + 1;
}

static void fz_backing_free(void *context, void *ptr, size_t size)
{
    fz_ctx *c = (fz_ctx *)context;
    fz_hdr *h;
    if (!ptr)
        fz_fail("the backing allocator's free was called with NULL");
    h = (fz_hdr *)ptr - 1;
    if (h->h.magic != FZ_MAGIC || h->h.ctx != c)
        fz_fail("the backing allocator's free got %p, which its allocator did not hand out%s", ptr,
                h->h.magic == FZ_DEAD_MAGIC ? " (freed twice)" : "");
    if (h->h.size != size)
        fz_fail("the backing allocator's free got size %zu for a block of %zu bytes", size, h->h.size);
    h->h.magic = FZ_DEAD_MAGIC;
    c->live_bytes -= size;
    c->live_blocks--;
    G.backing_live -= size;
    free(h);
}

static void *fz_book_realloc(void *p, size_t n)
{
    if (n && fz_refuse(&G.book))
        return NULL;
    return realloc(p, n);
}

static void fz_book_free(void *p)
{
    free(p);
}

static void *fz_client_alloc(int pair, size_t size)
{
    G.c_allocs++;
    G.c_alloc_pair = pair;
    G.c_size = size;
    return malloc(size ? size : 1);
}

static void fz_client_free(int pair, void *p)
{
    G.c_frees++;
    G.c_free_pair = pair;
    G.c_freed = p;
    free(p);
}

static void *fz_client_alloc_a(size_t size) { return fz_client_alloc(FZ_P_A, size); }
static void *fz_client_alloc_b(size_t size) { return fz_client_alloc(FZ_P_B, size); }
static void fz_client_free_a(void *p) { fz_client_free(FZ_P_A, p); }
static void fz_client_free_b(void *p) { fz_client_free(FZ_P_B, p); }

static sm_client_alloc_fn *fz_alloc_fn(int pair)
{
    return pair == FZ_P_DEFAULT ? fz_def_alloc : pair == FZ_P_A ? fz_client_alloc_a
         : pair == FZ_P_B ? fz_client_alloc_b : NULL;
}

static sm_client_free_fn *fz_free_fn(int pair)
{
    return pair == FZ_P_DEFAULT ? fz_def_free : pair == FZ_P_A ? fz_client_free_a
         : pair == FZ_P_B ? fz_client_free_b : NULL;
}

static void fz_report_cb(void *user, const char *file, int line, size_t blocks, size_t bytes)
{
    fz_collect *col = (fz_collect *)user;
    int k;
    if (col->env) {
        /* "fn may call smalloc, even on env": this must neither deadlock nor fail */
        sm_stats s;
        sm_block_info info;
        if (sm_env_stats(col->env, &s) != SM_OK || sm_env_describe(col->env, fz_static_buf, &info) != SM_INVALID_ARG)
            col->unknown += 1000;
    }
    for (k = 0; k < FZ_NSITES; k++) {
        const char *f = fz_sites[k].file;
        if (line == fz_sites[k].line && (f == file || (f && file && strcmp(f, file) == 0))) {
            if (col->calls[0] + col->calls[1] + col->calls[2] + col->calls[3] && fz_sites[k].rank <= col->last_rank)
                col->unordered = 1;
            col->last_rank = fz_sites[k].rank;
            col->calls[k]++;
            col->blocks[k] += blocks;
            col->bytes[k] += bytes;
            return;
        }
    }
    col->unknown++;
}

/* ------------------------------------------------------------------------------------------ */
/* Input                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static uint8_t fz_byte(void)
{
    return G.pos < G.len ? G.in[G.pos++] : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Blocks: patterns, lookups, adding and dropping                                             */
/* ------------------------------------------------------------------------------------------ */

static size_t fz_round(size_t n)
{
    return ((n ? n : 1) + FZ_GRAIN - 1) / FZ_GRAIN * FZ_GRAIN;
}

static unsigned char fz_pat(unsigned id, size_t off)
{
    return (unsigned char)(id * 167u + (unsigned)off * 13u + (unsigned)(off >> 8) * 7u + 1u);
}

/* Only the ends of a block carry the pattern: what a buggy allocator overwrites first is a
   neighbour's head or tail, and big blocks stay cheap. */
static int fz_in_window(size_t size, size_t off)
{
    return off < FZ_WINDOW || off + FZ_WINDOW >= size;
}

FZ_NOCOV static void fz_fill(unsigned char *p, unsigned id, size_t size)
{
    size_t i;
    for (i = 0; i < size; i++) {
        if (!fz_in_window(size, i)) {
            i = size - FZ_WINDOW - 1;
            continue;
        }
        p[i] = fz_pat(id, i);
    }
}

/* Checks the pattern of a block of `size` bytes with `id` at p, at offsets below limit. */
FZ_NOCOV static void fz_verify_at(const unsigned char *p, unsigned id, size_t size, size_t limit, const char *when)
{
    size_t i;
    if (limit > size)
        limit = size;
    for (i = 0; i < limit; i++) {
        if (!fz_in_window(size, i)) {
            i = size - FZ_WINDOW - 1;
            continue;
        }
        if (p[i] != fz_pat(id, i))
            fz_fail("%s: byte %zu of the block at %p (%zu bytes) is 0x%02x, expected 0x%02x",
                    when, i, (const void *)p, size, p[i], fz_pat(id, i));
    }
}

static void fz_verify(const fz_block *b, const char *when)
{
    fz_verify_at(b->p, b->id, b->size, b->size, when);
}

static int fz_explicit(int e)
{
    return e >= 0 && G.envs[e].alive && !G.envs[e].enabled;
}

/* The live block of env e that starts at q, or -1. */
FZ_NOCOV static int fz_live_at(int e, uintptr_t q)
{
    int i;
    for (i = 0; i < G.nblocks; i++)
        if (G.blocks[i].state == FZ_LIVE && G.blocks[i].env == e && (uintptr_t)G.blocks[i].p == q)
            return i;
    return -1;
}

/* The block of env e in the given state whose usable bytes contain q, or -1. */
FZ_NOCOV static int fz_containing(int e, int state, uintptr_t q)
{
    int i;
    for (i = 0; i < G.nblocks; i++) {
        const fz_block *b = &G.blocks[i];
        if (b->state == state && b->env == e && q >= (uintptr_t)b->p && q - (uintptr_t)b->p < b->umin)
            return i;
    }
    return -1;
}

/* The pick-th (modulo their number) block in `state` of env e (-1: of any), or -1. */
FZ_NOCOV static int fz_nth(int e, int state, unsigned pick)
{
    int i, n = 0;
    for (i = 0; i < G.nblocks; i++)
        if (G.blocks[i].state == state && (e < 0 || G.blocks[i].env == e))
            n++;
    if (!n)
        return -1;
    pick %= (unsigned)n;
    for (i = 0; i < G.nblocks; i++)
        if (G.blocks[i].state == state && (e < 0 || G.blocks[i].env == e) && pick-- == 0)
            return i;
    return -1;
}

/* The record a new block will take, or -1 when the model is full. */
static int fz_block_slot(void)
{
    if (G.nfree)
        return G.free_slots[G.nfree - 1];
    return G.nblocks < FZ_MAX_BLOCKS ? G.nblocks : -1;
}

/* The model forgets record i. */
static void fz_release(int i)
{
    G.blocks[i].state = FZ_EMPTY;
    G.free_slots[G.nfree++] = i;
}

static int fz_room(void)
{
    return fz_block_slot() >= 0;
}

static void fz_remember_dead(void *p)
{
    G.dead[G.ndead++ % FZ_MAX_DEAD] = p;
}

static int fz_overlap(uintptr_t a, size_t an, uintptr_t b, size_t bn)
{
    return a < b + bn && b < a + an;
}

/* A block now occupies [p, p + n): no live block may overlap it, and marked-free blocks there
   were reclaimed (rolled back or recycled) or their memory went back and came again. */
FZ_NOCOV static void fz_claim(int self, uintptr_t p, size_t n)
{
    int i;
    for (i = 0; i < G.nblocks; i++) {
        fz_block *b = &G.blocks[i];
        if (i == self || b->state == FZ_EMPTY || !fz_overlap(p, n, (uintptr_t)b->p, b->umin))
            continue;
        if (b->state == FZ_LIVE)
            fz_fail("the block at %p (%zu usable bytes, env %d) overlaps the live block at %p "
                    "(%zu bytes of %zu usable, env %d)", (void *)p, n, G.blocks[self].env,
                    (void *)b->p, b->size, b->umin, b->env);
        fz_release(i);
    }
}

static void fz_check_site(const fz_block *b, const sm_block_info *info, const char *call)
{
    const char *file = NULL;
    int line = 0;
    if (G.envs[b->env].flags & SM_TRACK) {
        file = fz_sites[b->site].file;
        line = fz_sites[b->site].line;
    }
    if (info->file != file || info->line != line)
        fz_fail("%s of the block at %p: site (%s, %d), expected (%s, %d)", call, (void *)b->p,
                info->file ? info->file : "NULL", info->line, file ? file : "NULL", line);
}

/* Asks sm_env_describe for the usable size of a new or resized live block of an explicit
   environment, checks it against the bounds and pins it. */
static void fz_pin(int i, const char *call)
{
    fz_block *b = &G.blocks[i];
    sm_block_info info;
    sm_status st;
    if (!fz_explicit(b->env))
        return;
    memset(&info, 0, sizeof info);
    st = sm_env_describe(G.envs[b->env].env, b->p, &info);
    if (st != SM_OK)
        fz_fail("sm_env_describe of the block at %p just returned by %s: %s", (void *)b->p, call,
                sm_status_string(st));
    if (info.start != (void *)b->p || !info.live || info.size < b->umin || info.size > b->umax)
        fz_fail("sm_env_describe of the block at %p just returned by %s (%zu bytes): start %p, "
                "size %zu, live %d; expected start %p, size %zu..%zu, live 1", (void *)b->p, call,
                b->size, info.start, info.size, info.live, (void *)b->p, b->umin, b->umax);
    fz_check_site(b, &info, "sm_env_describe");
    b->umin = b->umax = info.size;
}

/* A new live block of env e: checked and recorded, filled with its pattern. */
static int fz_add(int e, void *ptr, size_t size, size_t align, int site, unsigned id, const char *call)
{
    unsigned char *p = (unsigned char *)ptr;
    int i = fz_block_slot();
    fz_block *b;
    size_t g = fz_round(size);
    if (i < 0)
        fz_fail("no room in the model (callers check first)");
    if (align < FZ_GRAIN)
        align = FZ_GRAIN;
    if ((uintptr_t)p % align)
        fz_fail("%s returned %p, not aligned to %zu", call, ptr, align);
    if (G.nfree && G.free_slots[G.nfree - 1] == i)
        G.nfree--;
    else
        G.nblocks++;
    b = &G.blocks[i];
    memset(b, 0, sizeof *b);
    b->state = FZ_LIVE;
    b->env = e;
    b->p = p;
    b->size = size;
    b->umin = b->umax = g;
    if (G.envs[e].flags & SM_RECYCLE) {
        /* a marked-free block holds a list link; a reused one may be larger than asked */
        if (b->umin < fz_round(2 * sizeof(void *)))
            b->umin = fz_round(2 * sizeof(void *));
        b->umax = FZ_UNKNOWN;
    }
    b->id = id;
    b->site = site;
    b->seq = ++G.seq;
    fz_pin(i, call);
    fz_claim(i, (uintptr_t)p, b->umin);
    fz_fill(p, id, size);
    return i;
}

/* Everything of env e goes (reset, destroy, disable). */
FZ_NOCOV static void fz_drop_env_blocks(int e)
{
    int i;
    for (i = 0; i < G.nblocks; i++) {
        if (G.blocks[i].state != FZ_EMPTY && G.blocks[i].env == e) {
            fz_remember_dead(G.blocks[i].p);
            fz_release(i);
        }
    }
}

/* A marked-free block of an explicit environment: still a marked-free block of the same
   start and size, or reclaimed (SM_INVALID_ARG), which the model then forgets. */
static void fz_refresh_freed(int i)
{
    fz_block *b = &G.blocks[i];
    sm_block_info info;
    sm_status st;
    if (!fz_explicit(b->env))
        return;
    memset(&info, 0, sizeof info);
    st = sm_env_describe(G.envs[b->env].env, b->p, &info);
    if (st == SM_INVALID_ARG) {
        fz_release(i);
        return;
    }
    if (st != SM_OK)
        fz_fail("sm_env_describe of the marked-free block at %p returned %s", (void *)b->p,
                sm_status_string(st));
    if (info.start != (void *)b->p || info.live || info.size != b->umin)
        fz_fail("sm_env_describe of the marked-free block at %p (%zu usable bytes): start %p, "
                "size %zu, live %d; expected it, or SM_INVALID_ARG if reclaimed", (void *)b->p,
                b->umin, info.start, info.size, info.live);
    fz_check_site(b, &info, "sm_env_describe");
}

/* Block i was just marked free. */
static void fz_mark_freed(int i)
{
    fz_block *b = &G.blocks[i];
    b->state = FZ_FREED;
#ifdef FZ_ASAN
    if ((G.envs[b->env].flags & SM_POISON) && !__asan_address_is_poisoned(b->p))
        fz_fail("SM_POISON: the block at %p was marked free but its first byte is not poisoned",
                (void *)b->p);
#endif
    fz_refresh_freed(i);
}

/* ------------------------------------------------------------------------------------------ */
/* Environments: figures, reports, handles, the current environment                           */
/* ------------------------------------------------------------------------------------------ */

static void fz_stats(int e, sm_stats *s)
{
    sm_status st = sm_env_stats(G.envs[e].env, s);
    fz_status("sm_env_stats", st, SM_OK);
}

/* The figures of an explicit environment against the model. */
static void fz_check_stats(int e)
{
    const fz_env *v = &G.envs[e];
    sm_stats s;
    size_t live = 0, live_bytes = 0, freed = 0, freed_bytes = 0;
    int i;
    if (!fz_explicit(e))
        return;
    for (i = 0; i < G.nblocks; i++)
        if (G.blocks[i].state == FZ_FREED && G.blocks[i].env == e)
            fz_refresh_freed(i);
    for (i = 0; i < G.nblocks; i++) {
        const fz_block *b = &G.blocks[i];
        if (b->env != e)
            continue;
        if (b->state == FZ_LIVE) {
            live++;
            live_bytes += b->umin;
        } else if (b->state == FZ_FREED) {
            freed++;
            freed_bytes += b->umin;
        }
    }
    fz_stats(e, &s);
    if (s.live_blocks != live || s.live_bytes != live_bytes || s.freed_blocks != freed ||
        s.freed_bytes != freed_bytes)
        fz_fail("sm_env_stats: live %zu blocks %zu bytes, marked free %zu blocks %zu bytes; "
                "expected %zu, %zu, %zu, %zu", s.live_blocks, s.live_bytes, s.freed_blocks,
                s.freed_bytes, live, live_bytes, freed, freed_bytes);
    if (v->counted && s.backing_bytes != v->ctx.live_bytes)
        fz_fail("sm_env_stats: backing_bytes %zu, but the backing allocator holds %zu for it",
                s.backing_bytes, v->ctx.live_bytes);
    if (s.backing_peak < s.backing_bytes || (v->counted && s.backing_peak > v->ctx.peak))
        fz_fail("sm_env_stats: backing_peak %zu with backing_bytes %zu (allocator's peak %zu)",
                s.backing_peak, s.backing_bytes, v->ctx.peak);
    if (s.live_blocks + s.freed_blocks > 0 && s.chunks == 0)
        fz_fail("sm_env_stats: blocks but no chunks");
}

/* After a call that must have changed nothing. The peak may have risen: memory that was
   obtained and given back on the way to a failure was held. */
static void fz_check_same(int e, const sm_stats *before, const char *call)
{
    sm_stats s;
    if (!fz_explicit(e))
        return;
    fz_stats(e, &s);
    if (s.live_blocks != before->live_blocks || s.live_bytes != before->live_bytes ||
        s.freed_blocks != before->freed_blocks || s.freed_bytes != before->freed_bytes ||
        s.backing_bytes != before->backing_bytes || s.chunks != before->chunks ||
        s.backing_peak < before->backing_peak)
        fz_fail("%s failed but changed the figures: live %zu/%zu -> %zu/%zu, freed %zu/%zu -> "
                "%zu/%zu, backing %zu -> %zu, chunks %zu -> %zu", call, before->live_blocks,
                before->live_bytes, s.live_blocks, s.live_bytes, before->freed_blocks,
                before->freed_bytes, s.freed_blocks, s.freed_bytes, before->backing_bytes,
                s.backing_bytes, before->chunks, s.chunks);
}

static void fz_snapshot(int e, sm_stats *s)
{
    memset(s, 0, sizeof *s);
    if (fz_explicit(e))
        fz_stats(e, s);
}

/* What a report of env e must say, by site: its live blocks, sizes as requested. */
FZ_NOCOV static void fz_expected_report(int e, fz_collect *x)
{
    int i;
    memset(x, 0, sizeof *x);
    for (i = 0; i < G.nblocks; i++) {
        const fz_block *b = &G.blocks[i];
        if (b->state == FZ_LIVE && b->env == e) {
            x->blocks[b->site]++;
            x->bytes[b->site] += b->size;
        }
    }
    for (i = 0; i < FZ_NSITES; i++)
        x->calls[i] = x->blocks[i] ? 1 : 0;
}

/* strict: one call per site with live blocks (else, at destroy without memory to group them,
   one call per block is allowed: only the sums must match). */
static void fz_compare_report(const fz_collect *got, const fz_collect *want, int strict, const char *call)
{
    int k;
    if (got->unknown >= 1000)
        fz_fail("%s: the report function could not call sm_env_stats / sm_env_describe on the "
                "environment", call);
    if (got->unknown)
        fz_fail("%s reported %d site(s) the fuzzer never used", call, got->unknown);
    if (strict && got->unordered)
        fz_fail("%s: the sites did not come in order of file and line", call);
    for (k = 0; k < FZ_NSITES; k++) {
        if (got->blocks[k] != want->blocks[k] || got->bytes[k] != want->bytes[k] ||
            (strict && got->calls[k] != want->calls[k]))
            fz_fail("%s: site (%s, %d) reported %zu times, %zu blocks, %zu bytes; expected %zu, "
                    "%zu, %zu", call, fz_sites[k].file ? fz_sites[k].file : "NULL", fz_sites[k].line,
                    got->calls[k], got->blocks[k], got->bytes[k], want->calls[k], want->blocks[k],
                    want->bytes[k]);
        if (!strict && (got->calls[k] != 0) != (want->calls[k] != 0))
            fz_fail("%s: site (%s, %d) reported %zu times, expected %s", call,
                    fz_sites[k].file ? fz_sites[k].file : "NULL", fz_sites[k].line, got->calls[k],
                    want->calls[k] ? "some" : "none");
    }
}

FZ_NOCOV static int fz_handle_known(sm_thread_handle h)
{
    int i;
    unsigned k;
    for (i = 0; i < G.nenvs; i++)
        if (G.envs[i].h == h)
            return 1;
    for (k = 0; k < fz_nold && k < FZ_MAX_OLD; k++)
        if (fz_old[k] == h)
            return 1;
    return 0;
}

/* Env e was destroyed (explicitly or by disable): everything of it goes, every byte went back
   to its backing allocator, its report function saw what was live. */
static void fz_env_gone(int e, const fz_collect *want, unsigned long refused_before)
{
    fz_env *v = &G.envs[e];
    fz_drop_env_blocks(e);
    v->alive = 0;
    v->env = NULL;
    fz_old[fz_nold++ % FZ_MAX_OLD] = v->h;
    if (v->counted && (v->ctx.live_bytes || v->ctx.live_blocks))
        fz_fail("environment %d destroyed, but its backing allocator still holds %zu bytes in %zu "
                "blocks", e, v->ctx.live_bytes, v->ctx.live_blocks);
    if (v->report)
        fz_compare_report(&v->col, want, G.book.refused == refused_before, "the report function at destroy");
    else if (v->col.calls[0] + v->col.calls[1] + v->col.calls[2] + v->col.calls[3] + (size_t)v->col.unknown)
        fz_fail("a report function was called for an environment without one");
}

static sm_status fz_cur_status(void)
{
    if (G.cur < 0)
        return SM_NO_ENVIRONMENT;
    return G.envs[G.cur].alive ? SM_OK : SM_INVALID_HANDLE;
}

/* sm_get_thread_handle against the model. */
static void fz_check_current(int with_status)
{
    sm_status st = SM_OK, want = fz_cur_status();
    sm_thread_handle h = sm_get_thread_handle(with_status ? &st : NULL), hw;
    hw = want == SM_OK ? G.envs[G.cur].h : NULL;
    if (want == SM_NO_ENVIRONMENT)
        want = SM_OK;
    if (h != hw || (with_status && st != want))
        fz_fail("sm_get_thread_handle: %p, %s; expected %p, %s", (void *)h, sm_status_string(st),
                (void *)hw, sm_status_string(want));
}

/* Picks a live explicit environment (modulo their number), or -1. */
FZ_NOCOV static int fz_pick_env(uint8_t a)
{
    int i, n = 0;
    for (i = 0; i < G.nenvs; i++)
        n += fz_explicit(i);
    if (!n)
        return -1;
    a = (uint8_t)(a % n);
    for (i = 0; i < G.nenvs; i++)
        if (fz_explicit(i) && a-- == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Arguments: configurations, sizes, pointers                                                 */
/* ------------------------------------------------------------------------------------------ */

static size_t fz_huge(int small, uint8_t d)
{
    static const size_t big[6] = {
        (size_t)-1, (size_t)-1 - 8, (size_t)-1 - 4096, (size_t)-1 / 2, FZ_HUGE, (size_t)-1 - 15
    };
    /* malloc-backed memory only gets sizes whose rounding overflows: anything else would reach
       malloc, which libFuzzer reports as an out-of-memory */
    if (small)
        return (size_t)-1 - (d % 8);
    return big[d % 6] + (d % 6 == 4 ? d : 0);
}

static size_t fz_size(int e, uint8_t cls, uint8_t d)
{
    int small = e < 0 || G.envs[e].small;
    size_t chunk = e >= 0 ? G.envs[e].chunk : 8192, n;
    switch (cls % 8) {
    case 0: n = d % 17u; break;
    case 1: n = d; break;
    case 2: n = 256 + (size_t)d * 16; break;
    case 3: n = 4096 - 64 + (size_t)d / 2; break;
    case 4: n = chunk / 4 > 128 ? chunk / 4 - 128 + d : d; break;   /* around "a chunk of its own" */
    case 5: n = ((size_t)d + 1) * 4096; break;
    case 6: return fz_huge(small, d);
    default: n = (size_t)(d % 64u) * FZ_GRAIN; break;
    }
    if (small && n > FZ_SMALL_MAX)
        n %= FZ_SMALL_MAX;
    return n;
}

static const size_t fz_aligns[12] = { 1, 8, 16, 32, 64, 128, 256, 1024, 4096, 0, 3, 48 };

static int fz_align_ok(size_t a)
{
    return a && !(a & (a - 1));
}

/* A pointer to pass for target env e (-1: none). */
static void *fz_pointer(int e, uint8_t kind, uint8_t pick, uint8_t off)
{
    int i = -1;
    switch (kind % FZ_KINDS) {
    case FZ_K_NULL:
        return NULL;
    case FZ_K_LIVE:
        i = fz_nth(e, FZ_LIVE, pick);
        if (i < 0)
            i = fz_nth(-1, FZ_LIVE, pick);
        return i < 0 ? NULL : G.blocks[i].p;
    case FZ_K_LIVE_ANY:
        i = fz_nth(-1, FZ_LIVE, pick);
        return i < 0 ? NULL : G.blocks[i].p;
    case FZ_K_FREED:
        i = fz_nth(e, FZ_FREED, pick);
        if (i < 0)
            i = fz_nth(-1, FZ_FREED, pick);
        return i < 0 ? NULL : G.blocks[i].p;
    case FZ_K_FREED_ANY:
        i = fz_nth(-1, FZ_FREED, pick);
        return i < 0 ? NULL : G.blocks[i].p;
    case FZ_K_INTERIOR:
    case FZ_K_INTERIOR_FREED: {
        size_t o;
        i = fz_nth(e, kind % FZ_KINDS == FZ_K_INTERIOR ? FZ_LIVE : FZ_FREED, pick);
        if (i < 0)
            i = fz_nth(-1, FZ_LIVE, pick);
        if (i < 0)
            return fz_static_buf + 1;
        /* granule-aligned offsets pass the cheap checks; odd ones must fail them */
        o = (off & 1) ? ((size_t)(off >> 1) * FZ_GRAIN) % G.blocks[i].umin : 1 + off % (G.blocks[i].umin - 1);
        if (!o)
            o = G.blocks[i].umin > FZ_GRAIN ? FZ_GRAIN : 1;
        return (void *)((uintptr_t)G.blocks[i].p + o);
    }
    case FZ_K_END:
    case FZ_K_BEFORE:
    case FZ_K_BEYOND:
        i = fz_nth(e, FZ_LIVE, pick);
        if (i < 0)
            i = fz_nth(-1, FZ_LIVE, pick);
        if (i < 0)
            return fz_static_buf + 8;
        if (kind % FZ_KINDS == FZ_K_END)
            return (void *)((uintptr_t)G.blocks[i].p + G.blocks[i].umin);
        if (kind % FZ_KINDS == FZ_K_BEFORE)
            return (void *)((uintptr_t)G.blocks[i].p - FZ_GRAIN);
        return (void *)((uintptr_t)G.blocks[i].p + G.blocks[i].umin + FZ_GRAIN * (size_t)(1 + off % 8));
    case FZ_K_STATIC:
        return fz_static_buf + off;
    case FZ_K_HEAP:
        return G.heap + off;
    case FZ_K_STACK:
        return (void *)((uintptr_t)G.stack + (off & 7));
    case FZ_K_DEAD:
        if (!G.ndead)
            return fz_static_buf + 16;
        return G.dead[(pick % (G.ndead < FZ_MAX_DEAD ? G.ndead : FZ_MAX_DEAD))];
    default: {   /* FZ_K_CLIENT */
        int k, n = 0;
        for (k = 0; k < FZ_MAX_CLIENT; k++)
            n += G.client[k].used;
        if (!n)
            return G.heap;
        pick = (uint8_t)(pick % n);
        for (k = 0; k < FZ_MAX_CLIENT; k++)
            if (G.client[k].used && pick-- == 0)
                return G.client[k].p;
        return G.heap;
    }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Operations                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static unsigned long fz_refusals(void)
{
    return G.bk.refused + G.book.refused;
}

/* An allocation of `size` in env e came back as p (status st when have_st). Returns the
   block's index or -1. */
static int fz_alloc_result(int e, void *p, sm_status st, int have_st, size_t size, size_t align,
                           int site, const sm_stats *before, unsigned long r0, const char *call)
{
    if (!p) {
        if (have_st && st != SM_OUT_OF_MEMORY)
            fz_fail("%s(%zu) returned NULL with %s, expected SM_OUT_OF_MEMORY or a block", call,
                    size, sm_status_string(st));
        if (fz_refusals() == r0 && size < FZ_HUGE)
            fz_fail("%s(%zu) returned NULL (%s) though no allocation was refused", call, size,
                    have_st ? sm_status_string(st) : "status not asked");
        if (before)
            fz_check_same(e, before, call);
        return -1;
    }
    if (have_st && st != SM_OK)
        fz_fail("%s(%zu) returned a block with %s", call, size, sm_status_string(st));
    if (size >= FZ_HUGE)
        fz_fail("%s(%zu) returned a block; it cannot have", call, size);
    return fz_add(e, p, size, align, site, ++G.next_id, call);
}

static void fz_decode_config(uint8_t cfgb, uint8_t backing, fz_env *v, sm_config *cfg,
                             int *null_cfg, int *bad_pair)
{
    static const size_t chunks[8] = { 0, 1, 256, 300, 1000, 4096, 65536, (size_t)1 << 20 };
    memset(cfg, 0, sizeof *cfg);
    memset(v, 0, sizeof *v);
    *null_cfg = cfgb >> 7;
    *bad_pair = 0;
    cfg->flags = cfgb & 7u;
    if (cfgb & 8) {
        cfg->report = fz_report_cb;
        cfg->report_user = &v->col;
    }
    cfg->chunk_size = chunks[(cfgb >> 4) & 7];
    switch (backing % 8) {
    case 5:
        v->small = 1;
        break;
    case 6:
        cfg->alloc = fz_backing_alloc;
        cfg->context = &v->ctx;
        *bad_pair = 1;
        break;
    case 7:
        cfg->free = fz_backing_free;
        cfg->context = &v->ctx;
        *bad_pair = 1;
        break;
    default:
        cfg->alloc = fz_backing_alloc;
        cfg->free = fz_backing_free;
        cfg->context = &v->ctx;
        v->counted = 1;
        break;
    }
    if (*null_cfg) {
        v->small = 1;
        v->counted = 0;
        *bad_pair = 0;
        cfg->flags = 0;
        cfg->report = NULL;
        cfg->chunk_size = 0;
    }
    v->flags = cfg->flags;
    v->report = cfg->report != NULL;
    v->chunk = cfg->chunk_size ? cfg->chunk_size : SMALLOC_DEFAULT_CHUNK_SIZE;
    if (v->chunk < 256)
        v->chunk = 256;
}

/* Creating (or enabling) with this configuration gave an environment (ok) or not, with status
   st when have_st: SM_OK, SM_INVALID_ARG for a bad configuration, SM_OUT_OF_MEMORY only after a
   refused call. */
static void fz_check_create(const char *call, int ok, int have_st, sm_status st, int null_cfg,
                            int bad_pair, const fz_env *v, unsigned long r0)
{
    sm_status want = SM_OK;
    if (!null_cfg && (bad_pair || !fz_flag_ok[v->flags | (v->report ? 8u : 0u)]))
        want = SM_INVALID_ARG;
    if (ok) {
        if (want != SM_OK)
            fz_fail("%s accepted a configuration it refused in the probe, or a broken one", call);
        if (have_st)
            fz_status(call, st, SM_OK);
        return;
    }
    if (want == SM_OK) {
        if (fz_refusals() == r0)
            fz_fail("%s failed (%s) though no allocation was refused", call,
                    have_st ? sm_status_string(st) : "status not asked");
        want = SM_OUT_OF_MEMORY;
    }
    if (have_st)
        fz_status(call, st, want);
}

/* A new handle must be non-NULL and never seen before (handles are not reused). */
static void fz_new_handle(sm_thread_handle h, const char *call)
{
    if (!h)
        fz_fail("%s: the new environment's handle is NULL", call);
    if (fz_handle_known(h))
        fz_fail("%s: the new environment's handle %p was seen before", call, (void *)h);
}

static void op_create(uint8_t cfgb, uint8_t backing)
{
    fz_env *v;
    sm_config cfg;
    sm_status st = SM_OK;
    sm_env *env;
    int null_cfg, bad_pair, e = G.nenvs;
    unsigned long r0 = fz_refusals();
    if (e >= FZ_MAX_ENVS)
        return;
    v = &G.envs[e];
    fz_decode_config(cfgb, backing, v, &cfg, &null_cfg, &bad_pair);
    env = sm_env_create(null_cfg ? NULL : &cfg, (backing & 0x80) ? NULL : &st);
    fz_check_create("sm_env_create", env != NULL, !(backing & 0x80), st, null_cfg, bad_pair, v, r0);
    if (!env) {
        if (v->ctx.live_bytes)
            fz_fail("sm_env_create failed but kept %zu bytes of its backing allocator", v->ctx.live_bytes);
        return;
    }
    v->alive = 1;
    v->env = env;
    v->h = sm_env_handle(env);
    fz_new_handle(v->h, "sm_env_create");
    G.nenvs++;
    fz_check_stats(e);
}

static void op_destroy(uint8_t a)
{
    fz_collect want;
    unsigned long r0 = G.book.refused;
    int e;
    if (a == 0xFF) {
        fz_status("sm_env_destroy(NULL)", sm_env_destroy(NULL), SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    fz_expected_report(e, &want);
    fz_status("sm_env_destroy", sm_env_destroy(G.envs[e].env), SM_OK);
    fz_env_gone(e, &want, r0);
}

static void op_reset(uint8_t a)
{
    int e;
    if (a == 0xFF) {
        fz_status("sm_env_reset(NULL)", sm_env_reset(NULL), SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    fz_status("sm_env_reset", sm_env_reset(G.envs[e].env), SM_OK);
    fz_drop_env_blocks(e);
    fz_check_stats(e);
}

static void op_enable(uint8_t cfgb, uint8_t backing)
{
    fz_env *v;
    sm_config cfg;
    sm_status st;
    sm_thread_handle h;
    int null_cfg, bad_pair, e = G.nenvs;
    unsigned long r0 = fz_refusals();
    if (e >= FZ_MAX_ENVS || G.nframes >= FZ_MAX_FRAMES)
        return;
    v = &G.envs[e];
    fz_decode_config(cfgb, backing, v, &cfg, &null_cfg, &bad_pair);
    st = null_cfg ? sm_enable_allocate() : sm_enable_allocate_with(&cfg);
    fz_check_create(null_cfg ? "sm_enable_allocate" : "sm_enable_allocate_with", st == SM_OK, 1, st,
                    null_cfg, bad_pair, v, r0);
    if (st != SM_OK) {
        if (v->ctx.live_bytes)
            fz_fail("enable failed but kept %zu bytes of its backing allocator", v->ctx.live_bytes);
        fz_check_current(1);
        return;
    }
    v->alive = 1;
    v->enabled = 1;
    G.frames[G.nframes].env = e;
    G.frames[G.nframes].prev = G.cur;
    G.nframes++;
    G.cur = e;
    G.nenvs++;
    h = sm_get_thread_handle(&st);
    fz_status("sm_get_thread_handle after enable", st, SM_OK);
    fz_new_handle(h, "enable");
    v->h = h;
}

static void op_disable(void)
{
    sm_status want = fz_cur_status(), st;
    fz_collect rep;
    unsigned long r0 = G.book.refused;
    int k, e = G.cur;
    if (want == SM_OK && !G.envs[e].enabled)
        want = SM_INVALID_ARG;   /* attached, not owned */
    if (want == SM_OK)
        fz_expected_report(e, &rep);
    st = sm_disable_allocate();
    fz_status("sm_disable_allocate", st, want);
    if (st == SM_OK) {
        for (k = G.nframes - 1; k >= 0 && G.frames[k].env != e; k--)
            ;
        if (k < 0)
            fz_fail("model: no frame for the enabled environment %d", e);
        G.cur = G.frames[k].prev;
        memmove(&G.frames[k], &G.frames[k + 1], (size_t)(G.nframes - k - 1) * sizeof G.frames[0]);
        G.nframes--;
        fz_env_gone(e, &rep, r0);
    }
    fz_check_current(1);
}

/* Which allocation call the variant byte picks: 0 plain, 1 with a site, 2 aligned, 3 plain
   with status NULL. */
static void op_alloc(uint8_t a, uint8_t cls, uint8_t d, uint8_t var)
{
    sm_stats before;
    sm_status st = SM_OUT_OF_MEMORY;
    size_t size, align = 0;
    unsigned long r0;
    void *p;
    int e, site = FZ_SITE_NONE, how = var & 3;
    const char *call;
    if (a == 0xFF) {
        p = sm_env_allocate(NULL, 8, &st);
        fz_check(p == NULL, "sm_env_allocate(NULL env) returned a block");
        fz_status("sm_env_allocate(NULL env)", st, SM_INVALID_ARG);
        p = sm_env_allocate_aligned(NULL, 8, 16, &st);
        fz_check(p == NULL, "sm_env_allocate_aligned(NULL env) returned a block");
        fz_status("sm_env_allocate_aligned(NULL env)", st, SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0 || !fz_room())
        return;
    size = fz_size(e, cls, d);
    fz_snapshot(e, &before);
    r0 = fz_refusals();
    if (how == 1) {
        site = (var >> 2) % FZ_NSITES;
        G.op_site = site;
        call = "sm_env_allocate_at";
        p = sm_env_allocate_at(G.envs[e].env, size, &st, fz_sites[site].file, fz_sites[site].line);
    } else if (how == 2) {
        align = fz_aligns[(var >> 2) % 12];
        call = "sm_env_allocate_aligned";
        p = sm_env_allocate_aligned(G.envs[e].env, size, align, &st);
        if (!fz_align_ok(align)) {
            fz_check(p == NULL, "sm_env_allocate_aligned with a bad alignment returned a block");
            fz_status("sm_env_allocate_aligned(bad alignment)", st, SM_INVALID_ARG);
            fz_check_same(e, &before, call);
            return;
        }
    } else {
        call = "sm_env_allocate";
        p = sm_env_allocate(G.envs[e].env, size, how == 3 ? NULL : &st);
    }
    (void)fz_alloc_result(e, p, st, how != 3, size, align, site, &before, r0, call);
}

static void op_alloc_cur(uint8_t cls, uint8_t d, uint8_t var)
{
    sm_stats before;
    sm_status st = SM_OUT_OF_MEMORY, want = fz_cur_status();
    size_t size, align = 0;
    unsigned long r0;
    void *p;
    int e = G.cur, site = FZ_SITE_NONE, how = var & 3;
    const char *call;
    if (!fz_room())
        return;
    size = fz_size(want == SM_OK ? e : -1, cls, d);
    fz_snapshot(want == SM_OK ? e : -1, &before);
    r0 = fz_refusals();
    if (how == 1) {
        site = (var >> 2) % FZ_NSITES;
        G.op_site = site;
        call = "sm_allocate_at";
        p = sm_allocate_at(size, &st, fz_sites[site].file, fz_sites[site].line);
    } else if (how == 2) {
        align = fz_aligns[(var >> 2) % 12];
        call = "sm_allocate_aligned";
        p = sm_allocate_aligned(size, align, &st);
        if (!fz_align_ok(align)) {
            fz_check(p == NULL, "sm_allocate_aligned with a bad alignment returned a block");
            /* with no usable environment as well, either complaint is right */
            if (want == SM_OK || st != want)
                fz_status("sm_allocate_aligned(bad alignment)", st, SM_INVALID_ARG);
            if (want == SM_OK)
                fz_check_same(e, &before, call);
            return;
        }
    } else {
        call = "sm_allocate";
        p = sm_allocate(size, how == 3 ? NULL : &st);
    }
    if (want != SM_OK) {
        if (p)
            fz_fail("%s returned a block without a usable current environment", call);
        if (how != 3)
            fz_status(call, st, want);
        return;
    }
    (void)fz_alloc_result(e, p, st, how != 3, size, align, site, &before, r0, call);
}

/* Mark-free of q in env e through `call`, which has returned st. */
static void fz_free_result(int e, void *q, int i, sm_status st, const sm_stats *before, const char *call)
{
    if (!q) {
        fz_status(call, st, SM_OK);
        return;
    }
    if (i >= 0) {
        fz_status(call, st, SM_OK);
        fz_mark_freed(i);
        return;
    }
    if (st != SM_INVALID_ARG)
        fz_fail("%s(%p) returned %s, expected SM_INVALID_ARG: not the start of a live block of "
                "environment %d", call, q, sm_status_string(st), e);
    fz_check_same(e, before, call);
}

static void op_free(uint8_t a, uint8_t kind, uint8_t pick, uint8_t off)
{
    sm_stats before;
    void *q;
    int e, i;
    if (a == 0xFF) {
        q = fz_pointer(-1, kind, pick, off);
        fz_status("sm_env_free(NULL env)", sm_env_free(NULL, q), SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    q = fz_pointer(e, kind, pick, off);
    i = q ? fz_live_at(e, (uintptr_t)q) : -1;
    if (i >= 0)
        fz_verify(&G.blocks[i], "before sm_env_free");
    fz_snapshot(e, &before);
    fz_free_result(e, q, i, sm_env_free(G.envs[e].env, q), &before, "sm_env_free");
}

static void op_free_cur(uint8_t kind, uint8_t pick, uint8_t off)
{
    sm_stats before;
    sm_status want = fz_cur_status(), st;
    int e = want == SM_OK ? G.cur : -1, i;
    void *q = fz_pointer(e, kind, pick, off);
    i = q && e >= 0 ? fz_live_at(e, (uintptr_t)q) : -1;
    if (i >= 0)
        fz_verify(&G.blocks[i], "before sm_free");
    fz_snapshot(e, &before);
    st = sm_free(q);
    if (!q || want == SM_OK)
        fz_free_result(e, q, i, st, &before, "sm_free");
    else
        fz_status("sm_free without a usable current environment", st, want);
}

static void op_get_handle(uint8_t var)
{
    fz_check_current(!(var & 1));
}

static void op_set_handle(uint8_t kind, uint8_t pick)
{
    sm_thread_handle h = NULL;
    sm_status st;
    int i, n, target = -1;
    switch (kind % FZ_HKINDS) {
    case FZ_H_NULL:
        break;
    case FZ_H_LIVE:
    case FZ_H_STALE:
    case FZ_H_FLIP:
        for (i = n = 0; i < G.nenvs; i++)
            n += G.envs[i].alive == (kind % FZ_HKINDS != FZ_H_STALE);
        if (n) {
            int k = pick % n;
            for (i = 0; i < G.nenvs; i++)
                if (G.envs[i].alive == (kind % FZ_HKINDS != FZ_H_STALE) && k-- == 0)
                    h = G.envs[i].h;
        } else if (fz_nold) {
            h = fz_old[pick % (fz_nold < FZ_MAX_OLD ? fz_nold : FZ_MAX_OLD)];
        }
        if (kind % FZ_HKINDS == FZ_H_FLIP)
            h = (sm_thread_handle)((uintptr_t)h ^ ((uintptr_t)1 << (pick % (sizeof(uintptr_t) * 8))));
        break;
    case FZ_H_OLD:
        if (fz_nold)
            h = fz_old[pick % (fz_nold < FZ_MAX_OLD ? fz_nold : FZ_MAX_OLD)];
        break;
    case FZ_H_SMALL:
        h = (sm_thread_handle)(uintptr_t)pick;
        break;
    default:
        h = (sm_thread_handle)(void *)(pick & 1 ? (void *)(fz_static_buf + pick) : G.stack);
        break;
    }
    for (i = 0; i < G.nenvs; i++)
        if (h && G.envs[i].alive && G.envs[i].h == h)
            target = i;
    st = sm_set_thread_handle(h);
    if (!h || target >= 0) {
        fz_status("sm_set_thread_handle", st, SM_OK);
        G.cur = target;
    } else {
        fz_status("sm_set_thread_handle(stale or unknown handle)", st, SM_INVALID_HANDLE);
    }
    fz_check_current(1);
}

static void op_stats(uint8_t a)
{
    sm_stats s;
    int e;
    if (a == 0xFF) {
        fz_status("sm_env_stats(NULL env)", sm_env_stats(NULL, &s), SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    if (a == 0xFE) {
        fz_status("sm_env_stats(env, NULL)", sm_env_stats(G.envs[e].env, NULL), SM_INVALID_ARG);
        return;
    }
    fz_check_stats(e);
}

static void op_env_handle(uint8_t a)
{
    int e;
    if (a == 0xFF) {
        fz_check(sm_env_handle(NULL) == NULL, "sm_env_handle(NULL) is not NULL");
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    if (sm_env_handle(G.envs[e].env) != G.envs[e].h)
        fz_fail("sm_env_handle changed from %p to %p", (void *)G.envs[e].h,
                (void *)sm_env_handle(G.envs[e].env));
}

static void op_client_swap(uint8_t a)
{
    int na = a & 3, nf = (a >> 2) & 3, set = (a >> 4) & 1;
    sm_client_alloc_fn *oa = fz_client_alloc_b;
    sm_client_free_fn *of = fz_client_free_b;
    sm_status st, want = na == FZ_P_NULL || nf == FZ_P_NULL ? SM_INVALID_ARG : SM_OK;
    if (set)
        st = sm_set_client_alloc_free(fz_alloc_fn(na), fz_free_fn(nf));
    else
        st = sm_swap_client_alloc_free(fz_alloc_fn(na), fz_free_fn(nf), &oa, &of);
    fz_status(set ? "sm_set_client_alloc_free" : "sm_swap_client_alloc_free", st, want);
    if (st != SM_OK)
        return;
    if (!set && (oa != fz_alloc_fn(G.pair_alloc) || of != fz_free_fn(G.pair_free)))
        fz_fail("sm_swap_client_alloc_free returned a pair that was not the one in force");
    G.pair_alloc = na;
    G.pair_free = nf;
}

FZ_NOCOV static int fz_client_slot(void)
{
    int k;
    for (k = 0; k < FZ_MAX_CLIENT; k++)
        if (!G.client[k].used)
            return k;
    return -1;
}

static void fz_client_add(int kind, void *p, size_t size)
{
    int k = fz_client_slot();
    fz_cblock *c = &G.client[k];
    c->used = 1;
    c->kind = kind;
    c->p = (unsigned char *)p;
    c->size = size;
    c->id = ++G.next_id;
    fz_fill(c->p, c->id, size);
}

static void op_client_alloc(uint8_t cls, uint8_t d)
{
    size_t size = fz_size(-1, cls % 6 == 5 ? 1 : cls % 6, d);   /* no overflowing sizes: malloc */
    sm_stats before;
    sm_status cur = fz_cur_status();
    unsigned long r0 = fz_refusals(), calls = G.c_allocs;
    void *p;
    if (fz_client_slot() < 0 || !fz_room())
        return;
    if (G.pair_alloc != FZ_P_DEFAULT) {
        p = sm_client_allocate(size);
        if (G.c_allocs != calls + 1 || G.c_alloc_pair != G.pair_alloc || G.c_size != size)
            fz_fail("sm_client_allocate(%zu) did not call the pair's alloc once with that size", size);
        fz_check(p != NULL, "the fuzzer's client allocator failed");
        fz_client_add(FZ_CB_CUSTOM, p, size);
        return;
    }
    if (cur == SM_OK && G.envs[G.cur].small && size > FZ_SMALL_MAX)
        size %= FZ_SMALL_MAX;
    fz_snapshot(cur == SM_OK ? G.cur : -1, &before);
    p = sm_client_allocate(size);
    if (G.c_allocs != calls)
        fz_fail("sm_client_allocate with the default pair called the fuzzer's allocator");
    if (cur == SM_NO_ENVIRONMENT) {
        fz_check(p != NULL, "sm_client_allocate without an environment returned NULL (malloc)");
        fz_client_add(FZ_CB_MALLOC, p, size);
    } else if (cur == SM_INVALID_HANDLE) {
        fz_check(p == NULL, "sm_client_allocate attached to a destroyed environment returned memory");
    } else {
        (void)fz_alloc_result(G.cur, p, SM_OK, 0, size, 0, FZ_SITE_NONE, &before, r0, "sm_client_allocate");
    }
}

/* The client block of the given kind picked, or -1. */
FZ_NOCOV static int fz_client_pick(int kind, uint8_t pick)
{
    int k, n = 0;
    for (k = 0; k < FZ_MAX_CLIENT; k++)
        n += G.client[k].used && G.client[k].kind == kind;
    if (!n)
        return -1;
    pick = (uint8_t)(pick % n);
    for (k = 0; k < FZ_MAX_CLIENT; k++)
        if (G.client[k].used && G.client[k].kind == kind && pick-- == 0)
            return k;
    return -1;
}

static void op_client_free(uint8_t kind, uint8_t pick, uint8_t off)
{
    sm_status cur = fz_cur_status(), st;
    unsigned long frees = G.c_frees;
    int k;
    if (G.pair_free != FZ_P_DEFAULT) {
        /* the fuzzer's own free: only its own blocks (or NULL) */
        void *p = NULL;
        k = kind % FZ_KINDS == FZ_K_NULL ? -1 : fz_client_pick(FZ_CB_CUSTOM, pick);
        if (k >= 0) {
            fz_verify_at(G.client[k].p, G.client[k].id, G.client[k].size, G.client[k].size, "before sm_client_free");
            p = G.client[k].p;
            G.client[k].used = 0;
        }
        st = sm_client_free(p);
        fz_status("sm_client_free (the fuzzer's pair)", st, SM_OK);
        if (G.c_frees != frees + 1 || G.c_free_pair != G.pair_free || G.c_freed != p)
            fz_fail("sm_client_free(%p) did not call the pair's free once with it", p);
        return;
    }
    if (cur == SM_NO_ENVIRONMENT) {
        /* the default pair without an environment is free(): only what its malloc gave */
        void *p = NULL;
        k = kind % FZ_KINDS == FZ_K_NULL ? -1 : fz_client_pick(FZ_CB_MALLOC, pick);
        if (k >= 0) {
            fz_verify_at(G.client[k].p, G.client[k].id, G.client[k].size, G.client[k].size, "before sm_client_free");
            p = G.client[k].p;
            G.client[k].used = 0;
        }
        fz_status("sm_client_free (default pair, no environment)", sm_client_free(p), SM_OK);
    } else if (cur == SM_INVALID_HANDLE) {
        void *q = fz_pointer(-1, kind, pick, off);
        fz_status("sm_client_free (default pair, destroyed environment)", sm_client_free(q),
                  q ? SM_INVALID_HANDLE : SM_OK);
    } else {
        sm_stats before;
        void *q = fz_pointer(G.cur, kind, pick, off);
        int i = q ? fz_live_at(G.cur, (uintptr_t)q) : -1;
        if (i >= 0)
            fz_verify(&G.blocks[i], "before sm_client_free");
        fz_snapshot(G.cur, &before);
        fz_free_result(G.cur, q, i, sm_client_free(q), &before, "sm_client_free (default pair)");
    }
    if (G.c_frees != frees)
        fz_fail("sm_client_free with the default pair called the fuzzer's free");
}

static void op_describe(uint8_t a, uint8_t kind, uint8_t pick, uint8_t off)
{
    sm_block_info info;
    sm_status st;
    const void *q;
    int e, i;
    if (a == 0xFF) {
        q = fz_pointer(-1, kind, pick, off);
        fz_status("sm_env_describe(NULL env)", sm_env_describe(NULL, q, &info), SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    q = fz_pointer(e, kind, pick, off);
    if (a == 0xFE) {
        fz_status("sm_env_describe(info NULL)", sm_env_describe(G.envs[e].env, q, NULL), SM_INVALID_ARG);
        return;
    }
    memset(&info, 0, sizeof info);
    st = sm_env_describe(G.envs[e].env, q, &info);
    if ((i = fz_containing(e, FZ_LIVE, (uintptr_t)q)) >= 0) {
        const fz_block *b = &G.blocks[i];
        fz_status("sm_env_describe(inside a live block)", st, SM_OK);
        if (info.start != (void *)b->p || info.size != b->umin || info.live != 1)
            fz_fail("sm_env_describe(%p): start %p, size %zu, live %d; expected %p, %zu, 1",
                    q, info.start, info.size, info.live, (void *)b->p, b->umin);
        fz_check_site(b, &info, "sm_env_describe");
    } else if ((i = fz_containing(e, FZ_FREED, (uintptr_t)q)) >= 0) {
        fz_refresh_freed(i);   /* what a pointer inside it must say follows from its start */
        if (G.blocks[i].state == FZ_FREED) {
            fz_status("sm_env_describe(inside a marked-free block)", st, SM_OK);
            if (info.start != (void *)G.blocks[i].p || info.size != G.blocks[i].umin || info.live)
                fz_fail("sm_env_describe(%p): start %p, size %zu, live %d; expected %p, %zu, 0",
                        q, info.start, info.size, info.live, (void *)G.blocks[i].p, G.blocks[i].umin);
        } else {
            fz_status("sm_env_describe(inside a reclaimed block)", st, SM_INVALID_ARG);
        }
    } else if (st != SM_INVALID_ARG) {
        fz_fail("sm_env_describe(%p) returned %s (start %p, size %zu, live %d); no block of "
                "environment %d contains it", q, sm_status_string(st), info.start, info.size,
                info.live, e);
    }
}

/* Reallocation in env e (explicit) or the current environment (implicit). */
static void fz_realloc(int e, int implicit, uint8_t kind, uint8_t pick, uint8_t mode, uint8_t cls, uint8_t d)
{
    sm_status want = implicit ? fz_cur_status() : SM_OK, st = SM_OUT_OF_MEMORY;
    sm_stats before;
    size_t old = 0, nsize;
    unsigned long r0;
    const char *call = implicit ? "sm_reallocate" : "sm_env_reallocate";
    int target = want == SM_OK ? e : -1, i, bad_old = 0;
    fz_block ob;
    void *q, *r;
    if (!fz_room())
        return;
    q = fz_pointer(target, kind, pick, d);
    i = q && target >= 0 ? fz_live_at(target, (uintptr_t)q) : -1;
    if (i >= 0) {
        const fz_block *b = &G.blocks[i];
        switch (mode & 3) {
        case 0: old = b->size; break;
        case 1: old = b->size / 2; break;
        case 2: old = 0; break;
        default:
            /* more than the block holds: refused before anything is read */
            if (b->umin == b->umax && fz_explicit(target)) {
                old = b->umin + 1 + (mode >> 2);
                bad_old = 1;
            } else {
                old = b->size;
            }
            break;
        }
        fz_verify(b, "before reallocate");
        G.op_site = b->site;   /* a moved block keeps its site (NULL, 0 without SM_TRACK) */
        if (!(G.envs[target].flags & SM_TRACK))
            G.op_site = FZ_SITE_NONE;
    } else {
        old = mode;
    }
    nsize = fz_size(target, cls, pick ^ d);
    fz_snapshot(target, &before);
    r0 = fz_refusals();
    r = implicit ? sm_reallocate(q, old, nsize, &st)
                 : sm_env_reallocate(G.envs[e].env, q, old, nsize, &st);
    if (want != SM_OK) {
        if (r)
            fz_fail("sm_reallocate returned a block without a usable current environment");
        fz_status("sm_reallocate without a usable current environment", st, want);
        return;
    }
    if (!q) {   /* allocates */
        (void)fz_alloc_result(target, r, st, 1, nsize, 0, FZ_SITE_NONE, &before, r0, call);
        return;
    }
    if (i < 0 || bad_old) {
        if (r)
            fz_fail("%s(%p, old %zu) returned a block for a pointer that is not the start of a live "
                    "block of environment %d (or an old size beyond it)", call, q, old, target);
        fz_status(call, st, SM_INVALID_ARG);
        fz_check_same(target, &before, call);
        return;
    }
    ob = G.blocks[i];
    if (!r) {
        fz_status(call, st, SM_OUT_OF_MEMORY);
        if (fz_refusals() == r0 && nsize < FZ_HUGE)
            fz_fail("%s(%zu -> %zu) returned NULL though no allocation was refused", call, old, nsize);
        fz_check_same(target, &before, call);
        fz_verify(&G.blocks[i], "after a failed reallocate");
        return;
    }
    fz_status(call, st, SM_OK);
    if (nsize >= FZ_HUGE)
        fz_fail("%s to %zu bytes succeeded; it cannot have", call, nsize);
    /* the first min(old, new) bytes came along, in place or not */
    fz_verify_at((const unsigned char *)r, ob.id, ob.size, old < nsize ? old : nsize, "after reallocate");
    if (r == q) {
        fz_block *b = &G.blocks[i];
        size_t g = fz_round(nsize);
        b->size = nsize;
        b->umin = g;
        if (G.envs[target].flags & SM_RECYCLE) {
            if (b->umin < fz_round(2 * sizeof(void *)))
                b->umin = fz_round(2 * sizeof(void *));
        }
        b->umax = ob.umax == FZ_UNKNOWN ? FZ_UNKNOWN : (ob.umax > g ? ob.umax : g);
        if (b->umin > b->umax)
            b->umax = b->umin;
        fz_pin(i, call);
        fz_claim(i, (uintptr_t)b->p, b->umin);
        fz_fill(b->p, b->id, nsize);
        return;
    }
    if (nsize <= old)
        fz_fail("%s shrank %zu bytes to %zu but moved the block from %p to %p", call, old, nsize, q, r);
    /* moved: the old block was marked free, the new one keeps the old one's site and id */
    fz_mark_freed(i);
    (void)fz_add(target, r, nsize, 0, ob.site, ob.id, call);
}

static void op_realloc(uint8_t a, uint8_t kind, uint8_t pick, uint8_t mode, uint8_t cls, uint8_t d)
{
    sm_status st;
    int e;
    if (a == 0xFF) {
        void *r = sm_env_reallocate(NULL, NULL, 0, 8, &st);
        fz_check(r == NULL, "sm_env_reallocate(NULL env) returned a block");
        fz_status("sm_env_reallocate(NULL env)", st, SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    fz_realloc(e, 0, kind, pick, mode, cls, d);
}

static void op_realloc_cur(uint8_t kind, uint8_t pick, uint8_t mode, uint8_t cls, uint8_t d)
{
    fz_realloc(G.cur, 1, kind, pick, mode, cls, d);
}

/* sm_env_report of env e against the model. */
static void fz_check_report(int e)
{
    fz_collect got, want;
    unsigned long r0 = G.book.refused;
    sm_status st;
    memset(&got, 0, sizeof got);
    memset(&want, 0, sizeof want);
    got.env = G.envs[e].env;
    st = sm_env_report(G.envs[e].env, fz_report_cb, &got);
    if (!(G.envs[e].flags & SM_TRACK)) {
        fz_status("sm_env_report(without SM_TRACK)", st, SM_INVALID_ARG);
        fz_compare_report(&got, &want, 1, "sm_env_report(without SM_TRACK)");
        return;
    }
    if (st == SM_OUT_OF_MEMORY && G.book.refused != r0) {
        fz_compare_report(&got, &want, 1, "sm_env_report(out of memory)");
        return;
    }
    fz_status("sm_env_report", st, SM_OK);
    fz_expected_report(e, &want);
    fz_compare_report(&got, &want, 1, "sm_env_report");
}

static void op_report(uint8_t a, uint8_t var)
{
    fz_collect got;
    int e;
    memset(&got, 0, sizeof got);
    if (a == 0xFF) {
        fz_status("sm_env_report(NULL env)", sm_env_report(NULL, fz_report_cb, &got), SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    if (var & 1)
        fz_status("sm_env_report(fn NULL)", sm_env_report(G.envs[e].env, NULL, &got), SM_INVALID_ARG);
    else
        fz_check_report(e);
}

/* Arms a failure: 0 disarms; bit 7: every call of the next operation; else the (x & 15)-th
   call from now. */
static void fz_arm(fz_inject *f, uint8_t x)
{
    f->at = 0;
    f->pending = 0;
    if (x & 0x80)
        f->pending = 1;
    else if (x & 15)
        f->at = f->calls + (x & 15);
}

static void op_fail(uint8_t bk, uint8_t book)
{
    fz_arm(&G.bk, bk);
    fz_arm(&G.book, book);
}

static void fz_verify_all(const char *when)
{
    int i;
    for (i = 0; i < G.nblocks; i++)
        if (G.blocks[i].state == FZ_LIVE)
            fz_verify(&G.blocks[i], when);
    for (i = 0; i < FZ_MAX_CLIENT; i++)
        if (G.client[i].used)
            fz_verify_at(G.client[i].p, G.client[i].id, G.client[i].size, G.client[i].size, when);
}

static void op_trim(uint8_t a)
{
    static const size_t keep[4] = { 0, 4096, (size_t)1 << 20, (size_t)-1 };
    size_t k = keep[a % 4], again;
    (void)sm_cache_trim(k);
    again = sm_cache_trim(k);
    if (again)
        fz_fail("sm_cache_trim(%zu) gave back %zu bytes right after the same call", k, again);
}

static void op_alloc_burst(uint8_t a, uint8_t count, uint8_t sz)
{
    int implicit = (a & 0x80) != 0 && a != 0xFF, e, k, n = count % 64 + 1;
    unsigned long r0;
    if (implicit) {
        if (fz_cur_status() != SM_OK)
            return;
        e = G.cur;
    } else if ((e = fz_pick_env(a)) < 0) {
        return;
    }
    for (k = 0; k < n && fz_room(); k++) {
        size_t size = ((size_t)sz + 13u * (size_t)k) % (1u + sz % 200u);
        sm_status st = SM_OUT_OF_MEMORY;
        void *p;
        r0 = fz_refusals();
        p = implicit ? sm_allocate(size, &st) : sm_env_allocate(G.envs[e].env, size, &st);
        if (fz_alloc_result(e, p, st, 1, size, 0, FZ_SITE_NONE, NULL, r0,
                            implicit ? "sm_allocate (burst)" : "sm_env_allocate (burst)") < 0)
            break;
    }
}

static void op_free_burst(uint8_t a, uint8_t x)
{
    int implicit = (a & 0x80) != 0 && a != 0xFF, e, k, n = x % 16 + 1, oldest_first = (x >> 4) & 1;
    int pick[16], np = 0, i;
    if (implicit) {
        if (fz_cur_status() != SM_OK)
            return;
        e = G.cur;
    } else if ((e = fz_pick_env(a)) < 0) {
        return;
    }
    /* the n most recently allocated live blocks, newest first */
    while (np < n) {
        int best = -1;
        for (i = 0; i < G.nblocks; i++) {
            const fz_block *b = &G.blocks[i];
            if (b->state != FZ_LIVE || b->env != e)
                continue;
            for (k = 0; k < np && pick[k] != i; k++)
                ;
            if (k == np && (best < 0 || b->seq > G.blocks[best].seq))
                best = i;
        }
        if (best < 0)
            break;
        pick[np++] = best;
    }
    for (k = 0; k < np; k++) {
        int j = pick[oldest_first ? np - 1 - k : k];
        sm_status st;
        fz_verify(&G.blocks[j], "before a burst of frees");
        st = implicit ? sm_free(G.blocks[j].p) : sm_env_free(G.envs[e].env, G.blocks[j].p);
        fz_status(implicit ? "sm_free (burst)" : "sm_env_free (burst)", st, SM_OK);
        fz_mark_freed(j);
    }
}

#ifndef SMALLOC_NO_THREADS
/* THREAD: a new thread enables (its first call into smalloc, so its own record is made then,
   where an injected bookkeeping failure can hit), allocates a little and either disables or
   exits still owning the environment, which thread exit must then destroy. The main thread
   waits in pthread_join, so the model's state is never touched by two threads at once. */
typedef struct fz_thread_job {
    int e, null_cfg, bad_pair, created;
    uint8_t x;
    sm_config cfg;
    sm_thread_handle h;
    size_t blocks, bytes;          /* what it left live */
    unsigned long book_refused;    /* before the report at disable or exit */
} fz_thread_job;

static void *fz_thread_main(void *arg)
{
    fz_thread_job *j = (fz_thread_job *)arg;
    fz_env *v = &G.envs[j->e];
    unsigned long r0;
    sm_status st;
    int k, n = (j->x >> 4) & 3;
    fz_arm(&G.book, (uint8_t)(j->x & 15));
    r0 = fz_refusals();
    st = j->null_cfg ? sm_enable_allocate() : sm_enable_allocate_with(&j->cfg);
    fz_check_create(j->null_cfg ? "sm_enable_allocate (new thread)" : "sm_enable_allocate_with (new thread)",
                    st == SM_OK, 1, st, j->null_cfg, j->bad_pair, v, r0);
    fz_arm(&G.book, 0);
    if (st != SM_OK)
        return NULL;
    j->created = 1;
    j->h = sm_get_thread_handle(&st);
    fz_status("sm_get_thread_handle (new thread)", st, SM_OK);
    for (k = 0; k < n; k++) {
        size_t size = (size_t)k * 40 + (j->x & 7);
        unsigned char *p;
        r0 = fz_refusals();
        p = (unsigned char *)sm_allocate(size, &st);
        if (!p) {
            if (st != SM_OUT_OF_MEMORY || fz_refusals() == r0)
                fz_fail("sm_allocate (new thread) returned NULL with %s", sm_status_string(st));
            continue;
        }
        fz_status("sm_allocate (new thread)", st, SM_OK);
        if ((uintptr_t)p % FZ_GRAIN)
            fz_fail("sm_allocate (new thread) returned %p, not aligned", (void *)p);
        fz_fill(p, 1000u + (unsigned)k, size);
        fz_verify_at(p, 1000u + (unsigned)k, size, size, "in the new thread");
        j->blocks++;
        j->bytes += size;
    }
    /* the report at this disable, or at thread exit, covers the same blocks */
    j->book_refused = G.book.refused;
    if (j->x & 0x40)
        fz_status("sm_disable_allocate (new thread)", sm_disable_allocate(), SM_OK);
    return NULL;
}

static void op_thread(uint8_t cfgb, uint8_t backing, uint8_t x)
{
    fz_thread_job j;
    fz_collect want;
    fz_env *v;
    pthread_t t;
    int e = G.nenvs;
    if (e >= FZ_MAX_ENVS)
        return;
    memset(&j, 0, sizeof j);
    j.e = e;
    j.x = (uint8_t)(x & 0x7F);
    v = &G.envs[e];
    fz_decode_config(cfgb, backing, v, &j.cfg, &j.null_cfg, &j.bad_pair);
    if (pthread_create(&t, NULL, fz_thread_main, &j) != 0)
        return;   /* no thread to be had: nothing to check */
    if (pthread_join(t, NULL) != 0)
        fz_fail("pthread_join failed");
    fz_check_current(1);   /* the main thread's current environment is its own */
    if (!j.created) {
        if (v->ctx.live_bytes)
            fz_fail("enable (new thread) failed but kept %zu bytes of its backing allocator", v->ctx.live_bytes);
        return;
    }
    fz_new_handle(j.h, "enable (new thread)");
    v->h = j.h;
    v->enabled = 1;
    G.nenvs++;
    /* disabled, or destroyed at thread exit: either way gone, with a report of what was live */
    memset(&want, 0, sizeof want);
    want.blocks[FZ_SITE_NONE] = j.blocks;
    want.bytes[FZ_SITE_NONE] = j.bytes;
    want.calls[FZ_SITE_NONE] = j.blocks ? 1 : 0;
    fz_env_gone(e, &want, j.book_refused);
    fz_status("sm_set_thread_handle(handle of a thread's environment after it exited)",
              sm_set_thread_handle(j.h), SM_INVALID_HANDLE);
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Start and end of every input; the one-time probe                                           */
/* ------------------------------------------------------------------------------------------ */

/* No environment, nothing current, the default client pair. */
static void fz_check_clean(const char *when)
{
    sm_client_alloc_fn *oa = NULL;
    sm_client_free_fn *of = NULL;
    sm_status st = SM_INVALID_ARG;
    sm_thread_handle h = sm_get_thread_handle(&st);
    void *p;
    G.opname = when;
    if (h || st != SM_OK)
        fz_fail("a current environment is left: handle %p, %s", (void *)h, sm_status_string(st));
    fz_status("sm_disable_allocate with nothing enabled", sm_disable_allocate(), SM_NO_ENVIRONMENT);
    p = sm_allocate(1, &st);
    fz_check(p == NULL, "sm_allocate without an environment returned a block");
    fz_status("sm_allocate without an environment", st, SM_NO_ENVIRONMENT);
    fz_status("sm_free without an environment", sm_free(fz_static_buf), SM_NO_ENVIRONMENT);
    fz_status("sm_swap_client_alloc_free", sm_swap_client_alloc_free(fz_def_alloc, fz_def_free, &oa, &of), SM_OK);
    if (oa != fz_def_alloc || of != fz_def_free)
        fz_fail("the client pair is not the default one");
}

static void fz_probe(void)
{
    fz_ctx ctx;
    sm_config cfg;
    sm_status st;
    sm_env *env;
    unsigned k;
    const char *t = getenv("FUZZ_TRACE");
    G.trace = t && *t && strcmp(t, "0") != 0;
    G.op_site = -1;
    G.opname = "probe";
    /* the default pair's functions, which swap returns while none was set */
    st = sm_swap_client_alloc_free(fz_client_alloc_a, fz_client_free_a, &fz_def_alloc, &fz_def_free);
    fz_status("sm_swap_client_alloc_free", st, SM_OK);
    fz_check(fz_def_alloc && fz_def_free, "the default client pair has NULL functions");
    fz_status("sm_set_client_alloc_free", sm_set_client_alloc_free(fz_def_alloc, fz_def_free), SM_OK);
    /* which flags and report functions this version accepts */
    for (k = 0; k < 16; k++) {
        fz_collect col;
        memset(&col, 0, sizeof col);
        memset(&ctx, 0, sizeof ctx);
        memset(&cfg, 0, sizeof cfg);
        cfg.alloc = fz_backing_alloc;
        cfg.free = fz_backing_free;
        cfg.context = &ctx;
        cfg.flags = k & 7;
        if (k & 8) {
            cfg.report = fz_report_cb;
            cfg.report_user = &col;
        }
        env = sm_env_create(&cfg, &st);
        if (env) {
            fz_status("sm_env_create (probe)", st, SM_OK);
            fz_flag_ok[k] = 1;
            fz_status("sm_env_destroy (probe)", sm_env_destroy(env), SM_OK);
            if (ctx.live_bytes)
                fz_fail("probe: the environment kept %zu bytes after destroy", ctx.live_bytes);
        } else {
            fz_status("sm_env_create (probe, flags refused)", st, SM_INVALID_ARG);
        }
    }
    fz_check(fz_flag_ok[0], "sm_env_create refuses a plain configuration");
    /* What smalloc keeps for the life of the thread or process (the thread's record, its stack
       of enabled environments at full depth, the first page of handles) is made here, so that
       which bookkeeping call an injected failure hits does not depend on earlier inputs: every
       input behaves the same in a fresh process (a replay, libFuzzer's merge) as in a long run.
       THREAD reaches a thread's first calls deterministically instead. */
    memset(&ctx, 0, sizeof ctx);
    memset(&cfg, 0, sizeof cfg);
    cfg.alloc = fz_backing_alloc;
    cfg.free = fz_backing_free;
    cfg.context = &ctx;
    for (k = 0; k < FZ_MAX_FRAMES; k++)
        fz_status("sm_enable_allocate_with (probe)", sm_enable_allocate_with(&cfg), SM_OK);
    for (k = 0; k < FZ_MAX_FRAMES; k++)
        fz_status("sm_disable_allocate (probe)", sm_disable_allocate(), SM_OK);
    if (ctx.live_bytes)
        fz_fail("probe: disable kept %zu bytes", ctx.live_bytes);
    if (G.trace) {
        fprintf(stderr, "probe: accepted:");
        for (k = 0; k < 16; k++)
            if (fz_flag_ok[k])
                fprintf(stderr, " %s%s%s%s%s", k & 1 ? "T" : "", k & 2 ? "P" : "", k & 4 ? "R" : "",
                        k & 8 ? "+report" : "", k ? "" : "plain");
        fprintf(stderr, "\n");
    }
    fz_ready = 1;
}

static void fz_begin(const uint8_t *data, size_t size, void *stack)
{
    int trace = G.trace;
    memset(G.envs, 0, (size_t)G.nenvs * sizeof G.envs[0]);
    memset(G.blocks, 0, (size_t)G.nblocks * sizeof G.blocks[0]);
    memset(G.client, 0, sizeof G.client);
    memset(&G.bk, 0, sizeof G.bk);
    memset(&G.book, 0, sizeof G.book);
    G.in = data;
    G.len = size;
    G.pos = 0;
    G.opno = 0;
    G.trace = trace;
    G.nenvs = G.nframes = G.nblocks = G.nfree = 0;
    G.cur = -1;
    G.ndead = 0;
    G.pair_alloc = G.pair_free = FZ_P_DEFAULT;
    G.seq = 0;
    G.next_id = 0;
    G.backing_live = 0;
    G.op_site = -1;
    G.stack = stack;
    G.heap = (unsigned char *)malloc(512);
    fz_check(G.heap != NULL, "malloc failed");
    G.c_allocs = G.c_frees = 0;
}

/* Everything goes, checking on the way; then nothing may be left. */
static void fz_finish(void)
{
    sm_client_alloc_fn *oa = NULL;
    sm_client_free_fn *of = NULL;
    int e, k;
    G.opname = "finish";
    G.op_site = -1;
    fz_arm(&G.bk, 0);
    fz_arm(&G.book, 0);
    G.bk.all = G.book.all = 0;
    fz_verify_all("at the end");
    for (e = 0; e < G.nenvs; e++) {
        if (fz_explicit(e)) {
            fz_check_stats(e);
            fz_check_report(e);
        }
    }
    /* disable what was enabled, newest first: attach to it (it must be current to go) */
    while (G.nframes > 0) {
        fz_collect want;
        unsigned long r0 = G.book.refused;
        e = G.frames[G.nframes - 1].env;
        fz_status("sm_set_thread_handle (cleanup)", sm_set_thread_handle(G.envs[e].h), SM_OK);
        fz_expected_report(e, &want);
        fz_status("sm_disable_allocate (cleanup)", sm_disable_allocate(), SM_OK);
        G.nframes--;
        fz_env_gone(e, &want, r0);
    }
    fz_status("sm_set_thread_handle(NULL) (cleanup)", sm_set_thread_handle(NULL), SM_OK);
    G.cur = -1;
    for (e = 0; e < G.nenvs; e++) {
        if (fz_explicit(e)) {
            fz_collect want;
            unsigned long r0 = G.book.refused;
            fz_expected_report(e, &want);
            fz_status("sm_env_destroy (cleanup)", sm_env_destroy(G.envs[e].env), SM_OK);
            fz_env_gone(e, &want, r0);
        }
    }
    fz_status("sm_swap_client_alloc_free (cleanup)",
              sm_swap_client_alloc_free(fz_def_alloc, fz_def_free, &oa, &of), SM_OK);
    if (oa != fz_alloc_fn(G.pair_alloc) || of != fz_free_fn(G.pair_free))
        fz_fail("sm_swap_client_alloc_free returned a pair that was not the one in force");
    for (k = 0; k < FZ_MAX_CLIENT; k++) {
        if (G.client[k].used) {
            free(G.client[k].p);   /* the default pair's malloc and the fuzzer's both use malloc */
            G.client[k].used = 0;
        }
    }
    free(G.heap);
    G.heap = NULL;
    (void)sm_cache_trim(0);
    if (sm_cache_trim(0))
        fz_fail("sm_cache_trim(0) twice: the second gave something back");
    if (G.backing_live)
        fz_fail("the backing allocators still hold %zu bytes", G.backing_live);
    fz_check_clean("after the input");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int local = 0;
    unsigned n = 0;
    if (!fz_ready)
        fz_probe();
    fz_begin(data, size, &local);
    fz_check_clean("before the input");
    while (G.pos < G.len && n++ < FZ_MAX_OPS) {
        uint8_t op = (uint8_t)(fz_byte() % FZ_NOPS), x[6] = { 0, 0, 0, 0, 0, 0 };
        unsigned k;
        for (k = 0; k < fz_op_nargs[op]; k++)
            x[k] = fz_byte();
        G.opno = n;
        G.opname = fz_op_names[op];
        G.op_site = FZ_SITE_NONE;
        if (G.bk.pending) {
            G.bk.all = 1;
            G.bk.pending = 0;
        }
        if (G.book.pending) {
            G.book.all = 1;
            G.book.pending = 0;
        }
        if (G.trace)
            fprintf(stderr, "op %u %s %u %u %u %u %u %u (cur %d)\n", n, G.opname, x[0], x[1], x[2],
                    x[3], x[4], x[5], G.cur);
        switch ((enum fz_op)op) {
        case FZ_CREATE:       op_create(x[0], x[1]); break;
        case FZ_DESTROY:      op_destroy(x[0]); break;
        case FZ_RESET:        op_reset(x[0]); break;
        case FZ_ENABLE:       op_enable(x[0], x[1]); break;
        case FZ_DISABLE:      op_disable(); break;
        case FZ_ALLOC:        op_alloc(x[0], x[1], x[2], x[3]); break;
        case FZ_ALLOC_CUR:    op_alloc_cur(x[0], x[1], x[2]); break;
        case FZ_FREE:         op_free(x[0], x[1], x[2], x[3]); break;
        case FZ_FREE_CUR:     op_free_cur(x[0], x[1], x[2]); break;
        case FZ_GET_HANDLE:   op_get_handle(x[0]); break;
        case FZ_SET_HANDLE:   op_set_handle(x[0], x[1]); break;
        case FZ_STATS:        op_stats(x[0]); break;
        case FZ_ENV_HANDLE:   op_env_handle(x[0]); break;
        case FZ_CLIENT_SWAP:  op_client_swap(x[0]); break;
        case FZ_CLIENT_ALLOC: op_client_alloc(x[0], x[1]); break;
        case FZ_CLIENT_FREE:  op_client_free(x[0], x[1], x[2]); break;
        case FZ_DESCRIBE:     op_describe(x[0], x[1], x[2], x[3]); break;
        case FZ_REALLOC:      op_realloc(x[0], x[1], x[2], x[3], x[4], x[5]); break;
        case FZ_REALLOC_CUR:  op_realloc_cur(x[0], x[1], x[2], x[3], x[4]); break;
        case FZ_REPORT:       op_report(x[0], x[1]); break;
        case FZ_FAIL:         op_fail(x[0], x[1]); break;
        case FZ_VERIFY:       fz_verify_all("VERIFY"); break;
        case FZ_TRIM:         op_trim(x[0]); break;
        case FZ_ALLOC_BURST:  op_alloc_burst(x[0], x[1], x[2]); break;
        case FZ_FREE_BURST:   op_free_burst(x[0], x[1]); break;
#ifndef SMALLOC_NO_THREADS
        case FZ_THREAD:       op_thread(x[0], x[1], x[2]); break;
#else
        case FZ_THREAD:       break;
#endif
        case FZ_NOPS:         break;
        }
        G.bk.all = G.book.all = 0;
    }
    G.opno = n;
    fz_finish();
    G.opname = NULL;
    return 0;
}
