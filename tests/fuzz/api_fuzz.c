/* api_fuzz.c - a libFuzzer target for smalloc's public API, checked against a shadow model.

   Every input is a sequence of operations (fuzz.h: the opcodes and their argument bytes):
   create, destroy and reset environments; enable and disable (nested); allocate in all the ways
   there are, with sizes from 0 to larger than a chunk and sizes that overflow; mark-free, describe
   and reallocate live, marked-free, interior, foreign and stale pointers; get and set the thread
   handle, live, stale and made up; swap and use the client allocator pair; stats and leak
   reports; new threads that enable, then disable or exit; zeroed blocks, string and memory
   copies, printf; the current environment and status messages; cleanups (added, removed, and
   run by destroy, reset, disable and thread exit, some of them allocating and adding cleanups
   while they run); child environments, nested, with their parent's configuration or their own;
   backing- and bookkeeping-allocator failures injected at chosen calls. Each result is compared
   with a small model of what must be true (which blocks are live and where, which status each
   call must return, what the figures and reports must say, which callbacks run in what order),
   and any difference aborts with the operation, what was expected and what came back, so
   libFuzzer records the input.

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
     - zeroed, strdup, strndup, memdup, printf and vprintf: an ordinary block of the size asked
       (count * size, the copy's length + 1, the formatted length + 1; site NULL and 0) whose
       contents are right (zeros, the bytes copied and the terminating 0, snprintf's output);
       an overflowing count * size fails without a backing-allocator call; NULL arguments are
       SM_INVALID_ARG and failures change nothing;
     - sm_current_env is the model's current environment, or NULL with the status the model
       says; sm_status_message is never NULL;
     - cleanups: the model keeps each environment's registrations (an injected failure leaves
       them unchanged; remove takes the most recent one of exactly that pair). Every cleanup
       and every call of a report function is logged, and after each destroy, reset, disable
       and thread exit the log must be exactly what the model expects: the children destroyed
       first, last created first, grandchildren before children, each with its cleanups and
       then its report; then the environment's own cleanups, last added first, once each, a
       cleanup added by a running one next; then its report. A cleanup checks the pattern of
       its environment's live blocks (nothing was released yet), and some allocate there and
       add another cleanup, which must run too. No callback runs in any other operation;
     - children: their handles are stale, their blocks gone and their backing allocator's bytes
       back once their parent went (a child with config NULL shares its parent's allocator and
       report function: the bytes held for an allocator are those of the environments using
       it); a parent's figures never include its children's blocks;
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
#include <wchar.h>
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
#define FZ_MAX_CLEANUPS 32                  /* registrations per environment */
#define FZ_MAX_EVENTS  8192                 /* cleanups run and report calls in one operation */
#define FZ_TEXT        9000                 /* the longest string the string operations copy */

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
    int logged;                   /* an environment's (sm_config.report_user): calls go to the log */
} fz_collect;

/* A cleanup registration: which of the fuzzer's functions (enum fz_cleanup) and its data. */
typedef struct fz_reg {
    int fn;
    void *data;
} fz_reg;

/* What ran inside one operation, in order: cleanups and calls of report functions. */
enum { FZ_EV_CLEANUP, FZ_EV_REPORT };
typedef struct fz_event {
    int kind;
    int fn;                       /* cleanup: its function, data and, for FZ_CL_ALLOC, whether */
    void *data;                   /* the cleanup it added was registered */
    int added;
    const fz_collect *col;        /* report: whose report_user, the site (-1: unknown), figures */
    int site;
    size_t blocks, bytes;
} fz_event;

typedef struct fz_env {
    int alive;
    int enabled;                  /* made by sm_enable_allocate*: owned by this thread */
    sm_env *env;                  /* enabled ones too (fz_learn_env, from sm_current_env) */
    sm_thread_handle h;
    unsigned flags;
    size_t chunk;                 /* the first chunk's size as configured (0 and small raised) */
    int counted;                  /* backing allocator: ctx */
    int small;                    /* malloc-backed: requests kept small (libFuzzer's malloc limit) */
    int report;                   /* sm_config.report set */
    fz_ctx ctx;
    fz_collect col;               /* its report_user: the report function's calls are logged */
    int parent;                   /* sm_env_create_child: the parent's index, else -1 */
    unsigned long born;           /* creation order (children go last created first) */
    int ctxo, colo;               /* whose ctx and col the configuration names: its own, or an
                                     ancestor's for a child created with config NULL */
    int ncl;
    fz_reg cl[FZ_MAX_CLEANUPS];   /* its cleanups, in the order they were added */
    int doomed;                   /* going in the operation being checked */
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
    /* the log of callbacks of the current operation */
    fz_event ev[FZ_MAX_EVENTS];
    int nev;
    int in_cleanup;               /* a cleanup of env cl_env is allocating: blocks are not */
    int cl_env;                   /* described, other environments' memory may be free */
    int unwind_root;              /* the environment being destroyed or reset, or -1 */
    fz_reg cl_stack[2 * FZ_MAX_CLEANUPS];   /* the simulation's copy of a cleanup list */
} G;

/* Process-wide: what the probe found, and handles of earlier inputs. */
static int fz_ready;
static int fz_flag_ok[16];        /* index: flags | (report ? 8 : 0) */
static sm_client_alloc_fn *fz_def_alloc;
static sm_client_free_fn *fz_def_free;
static sm_thread_handle fz_old[FZ_MAX_OLD];
static unsigned fz_nold;
static unsigned char fz_static_buf[256];
/* The data of cleanups: FZ_CDATA slots per environment, whose index the address gives. */
static unsigned char fz_cdata[FZ_MAX_ENVS][FZ_CDATA];
/* Printable text without a 0 before its end: the sources of the string operations. */
static char fz_text[FZ_TEXT + 1];
/* A wide string that the C library may fail to convert (printf's %ls). */
static const wchar_t fz_badwide[] = { 0x41, (wchar_t)0x10FFFF, (wchar_t)0xD800, 0x42, 0 };
static const char *volatile fz_nofmt;   /* NULL, which the compiler cannot know */

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

/* A new entry of the log of callbacks. */
static fz_event *fz_event_new(int kind)
{
    fz_event *ev;
    if (G.nev >= FZ_MAX_EVENTS)
        fz_fail("more than %d cleanups and report calls in one operation", FZ_MAX_EVENTS);
    ev = &G.ev[G.nev++];
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->site = -1;
    return ev;
}

static void fz_report_cb(void *user, const char *file, int line, size_t blocks, size_t bytes)
{
    fz_collect *col = (fz_collect *)user;
    fz_event *ev = NULL;
    int k;
    if (col->logged) {
        ev = fz_event_new(FZ_EV_REPORT);
        ev->col = col;
        ev->blocks = blocks;
        ev->bytes = bytes;
    }
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
            if (ev)
                ev->site = k;
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

/* A live environment whose sm_env the fuzzer knows: explicit ones, and enabled ones through
   sm_current_env. */
static int fz_known(int e)
{
    return e >= 0 && G.envs[e].alive && G.envs[e].env != NULL;
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

/* Env i is a child, grandchild... of env e. */
static int fz_descends(int i, int e)
{
    while (i >= 0 && (i = G.envs[i].parent) >= 0)
        if (i == e)
            return 1;
    return 0;
}

/* A block now occupies [p, p + n): no live block may overlap it, and marked-free blocks there
   were reclaimed (rolled back or recycled) or their memory went back and came again; one that
   started at p and was longer was cut (SM_RECYCLE), its rest a marked-free block. While a
   cleanup of env e runs in the destroy or reset of env r, the descendants of r destroyed
   before it (all but e's ancestors) are gone, though the model forgets them only after the
   operation: their memory may come again. */
FZ_NOCOV static void fz_claim(int self, uintptr_t p, size_t n)
{
    int i;
    for (i = 0; i < G.nblocks; i++) {
        fz_block *b = &G.blocks[i];
        if (i == self || b->state == FZ_EMPTY || !fz_overlap(p, n, (uintptr_t)b->p, b->umin))
            continue;
        if (G.in_cleanup && b->state == FZ_LIVE && b->env != G.cl_env &&
            fz_descends(b->env, G.unwind_root) && !fz_descends(G.cl_env, b->env))
            continue;
        if (b->state == FZ_LIVE)
            fz_fail("the block at %p (%zu usable bytes, env %d) overlaps the live block at %p "
                    "(%zu bytes of %zu usable, env %d)", (void *)p, n, G.blocks[self].env,
                    (void *)b->p, b->size, b->umin, b->env);
        if ((uintptr_t)b->p == p && b->umin == b->umax && b->umin > n) {
            b->p += n;
            b->umin -= n;
            b->umax = b->size = b->umin;
            continue;
        }
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

static void fz_pin_unless_unwinding(int i, const char *call)
{
    /* inside a cleanup the environment is being destroyed or reset: the contract lets the
       cleanup allocate there, not describe */
    if (!G.in_cleanup)
        fz_pin(i, call);
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
    fz_pin_unless_unwinding(i, call);
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

/* The counting allocator of environment o holds exactly what the live environments using it
   (o, and children of it created with config NULL) say they hold. */
FZ_NOCOV static void fz_ctx_check(int o, const char *when)
{
    const fz_ctx *c = &G.envs[o].ctx;
    size_t sum = 0;
    int i, n = 0;
    for (i = 0; i < G.nenvs; i++) {
        sm_stats s;
        if (!G.envs[i].alive || !G.envs[i].counted || G.envs[i].ctxo != o)
            continue;
        if (!G.envs[i].env)
            return;               /* another thread's: not known here */
        fz_stats(i, &s);
        sum += s.backing_bytes;
        n++;
    }
    if (sum != c->live_bytes || (!n && c->live_blocks))
        fz_fail("%s: the backing allocator of environment %d holds %zu bytes in %zu blocks, but "
                "the %d live environment(s) using it hold %zu", when, o, c->live_bytes,
                c->live_blocks, n, sum);
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
    if (v->counted)
        fz_ctx_check(v->ctxo, "sm_env_stats");
    if (s.backing_peak < s.backing_bytes || (v->counted && s.backing_peak > G.envs[v->ctxo].ctx.peak))
        fz_fail("sm_env_stats: backing_peak %zu with backing_bytes %zu (allocator's peak %zu)",
                s.backing_peak, s.backing_bytes, G.envs[v->ctxo].ctx.peak);
    if (s.live_blocks + s.freed_blocks > 0 && s.chunks == 0)
        fz_fail("sm_env_stats: blocks but no chunks");
}

/* After a call that must have changed nothing. The peak may have risen: memory that was
   obtained and given back on the way to a failure was held. */
static void fz_check_same(int e, const sm_stats *before, const char *call)
{
    sm_stats s;
    if (!fz_known(e))
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
    if (fz_known(e))
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

/* strict: one call per site with live blocks, in order (2: as many calls as the environments
   reported to one function had sites, in any order); else, at destroy without memory to group
   them, one call per block is allowed: only the sums must match. */
static void fz_compare_report(const fz_collect *got, const fz_collect *want, int strict, const char *call)
{
    int k;
    if (got->unknown >= 1000)
        fz_fail("%s: the report function could not call sm_env_stats / sm_env_describe on the "
                "environment", call);
    if (got->unknown)
        fz_fail("%s reported %d site(s) the fuzzer never used", call, got->unknown);
    if (strict == 1 && got->unordered)
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

/* Env e is gone (destroyed: explicitly, with its parent, by disable or thread exit): the model
   forgets it and its blocks. */
static void fz_env_gone(int e)
{
    fz_env *v = &G.envs[e];
    fz_drop_env_blocks(e);
    v->alive = 0;
    v->env = NULL;
    v->ncl = 0;
    v->doomed = 0;
    fz_old[fz_nold++ % FZ_MAX_OLD] = v->h;
}

static const char *const fz_cl_names[FZ_NCL + 1] = { "log", "log2", "verify", "alloc", "NULL" };

/* A cleanup's data in words, into buf. */
static const char *fz_data_name(const void *data, char *buf, size_t n)
{
    const unsigned char *p = (const unsigned char *)data, *base = &fz_cdata[0][0];
    if (!p)
        return "NULL";
    if (p >= base && p < base + sizeof fz_cdata)
        snprintf(buf, n, "slot %d of env %d", (int)((size_t)(p - base) % FZ_CDATA),
                 (int)((size_t)(p - base) / FZ_CDATA));
    else
        snprintf(buf, n, "%p", data);
    return buf;
}

static void fz_describe_event(const fz_event *ev, char *buf, size_t n)
{
    char d[64];
    int e = 0;
    if (ev->kind == FZ_EV_CLEANUP) {
        snprintf(buf, n, "cleanup %s(%s)", fz_cl_names[ev->fn], fz_data_name(ev->data, d, sizeof d));
        return;
    }
    while (e < FZ_MAX_ENVS - 1 && ev->col != &G.envs[e].col)
        e++;
    snprintf(buf, n, "the report function of env %d (site %d, %zu blocks, %zu bytes)", e, ev->site,
             ev->blocks, ev->bytes);
}

/* Checking the log of one operation against the model: a walk of what must have run. */
typedef struct fz_sim {
    int pos;                      /* the next entry of the log */
    int strict;                   /* no bookkeeping refusal: one report call per site */
    int pend[FZ_MAX_ENVS];        /* environments whose reports come next, in order */
    int npend;
    int extra_env;                /* THREAD: blocks of this env the model does not hold */
    const fz_collect *extra;
    const char *call;
} fz_sim;

/* The report calls at the log's position: those of the pending environments' reports. Where
   several environments share one report function (children created with config NULL), the
   calls are told apart by their report_user only, so their sums are compared together. */
FZ_NOCOV static void fz_sim_reports(fz_sim *s)
{
    int start = s->pos, end = s->pos, i, k, g;
    char what[160];
    while (end < G.nev && G.ev[end].kind == FZ_EV_REPORT)
        end++;
    for (i = start; i < end; i++) {
        for (g = 0; g < s->npend; g++)
            if (G.ev[i].col == &G.envs[G.envs[s->pend[g]].colo].col)
                break;
        if (g == s->npend) {
            fz_describe_event(&G.ev[i], what, sizeof what);
            fz_fail("%s: %s was called where no report was due (entry %d of the log)", s->call, what, i);
        }
    }
    for (g = 0; g < s->npend; g++) {
        const fz_collect *col = &G.envs[G.envs[s->pend[g]].colo].col;
        fz_collect got, want, w;
        int groups = 0, h;
        for (h = 0; h < g; h++)
            if (&G.envs[G.envs[s->pend[h]].colo].col == col)
                break;
        if (h < g)
            continue;             /* compared with the first one of its function */
        memset(&got, 0, sizeof got);
        memset(&want, 0, sizeof want);
        for (i = start; i < end; i++) {
            const fz_event *ev = &G.ev[i];
            if (ev->col != col)
                continue;
            if (ev->site < 0) {
                got.unknown++;
                continue;
            }
            if (got.calls[0] + got.calls[1] + got.calls[2] + got.calls[3] &&
                fz_sites[ev->site].rank <= got.last_rank)
                got.unordered = 1;
            got.last_rank = fz_sites[ev->site].rank;
            got.calls[ev->site]++;
            got.blocks[ev->site] += ev->blocks;
            got.bytes[ev->site] += ev->bytes;
        }
        for (h = g; h < s->npend; h++) {
            if (&G.envs[G.envs[s->pend[h]].colo].col != col)
                continue;
            groups++;
            fz_expected_report(s->pend[h], &w);
            for (k = 0; k < FZ_NSITES; k++) {
                if (s->pend[h] == s->extra_env && s->extra) {
                    w.blocks[k] += s->extra->blocks[k];
                    w.bytes[k] += s->extra->bytes[k];
                    w.calls[k] = w.blocks[k] ? 1 : 0;
                }
                want.blocks[k] += w.blocks[k];
                want.bytes[k] += w.bytes[k];
                want.calls[k] += w.calls[k];
            }
        }
        snprintf(what, sizeof what, "%s: the report function at destroy of env %d%s", s->call,
                 s->pend[g], groups > 1 ? " and others sharing it" : "");
        fz_compare_report(&got, &want, s->strict ? (groups > 1 ? 2 : 1) : 0, what);
    }
    s->pos = end;
    s->npend = 0;
}

/* The next entry of the log must be cleanup r of env e (its number-th, counting from the
   last added); returns whether it added a cleanup that runs next. */
static int fz_sim_cleanup(fz_sim *s, int e, const fz_reg *r, int number)
{
    char d[64], what[160];
    const fz_event *ev;
    fz_sim_reports(s);
    if (s->pos >= G.nev)
        fz_fail("%s: cleanup %s(%s) of env %d (number %d, last added first) did not run; %d ran",
                s->call, fz_cl_names[r->fn], fz_data_name(r->data, d, sizeof d), e, number, G.nev);
    ev = &G.ev[s->pos];
    if (ev->kind != FZ_EV_CLEANUP || ev->fn != r->fn || ev->data != r->data) {
        fz_describe_event(ev, what, sizeof what);
        fz_fail("%s: entry %d of the log is %s, expected cleanup %s(%s) of env %d (number %d, "
                "last added first)", s->call, s->pos, what, fz_cl_names[r->fn],
                fz_data_name(r->data, d, sizeof d), e, number);
    }
    s->pos++;
    return ev->fn == FZ_CL_ALLOC && ev->added;
}

static void fz_sim_delete(fz_sim *s, int e);

/* What releasing env e's memory runs: its children destroyed, last created first; then its
   cleanups, last added first, one added by a running cleanup next. */
FZ_NOCOV static void fz_sim_unwind(fz_sim *s, int e)
{
    int n, k = 0;
    for (;;) {
        int c = -1, i;
        for (i = 0; i < G.nenvs; i++)
            if (G.envs[i].alive && G.envs[i].parent == e && !G.envs[i].doomed &&
                (c < 0 || G.envs[i].born > G.envs[c].born))
                c = i;
        if (c < 0)
            break;
        fz_sim_delete(s, c);
    }
    n = G.envs[e].ncl;
    memcpy(G.cl_stack, G.envs[e].cl, (size_t)n * sizeof G.cl_stack[0]);
    while (n > 0) {
        fz_reg r = G.cl_stack[--n];
        if (fz_sim_cleanup(s, e, &r, ++k)) {
            if (n >= (int)(sizeof G.cl_stack / sizeof G.cl_stack[0]))
                fz_fail("model: the cleanup stack is full");
            G.cl_stack[n].fn = FZ_CL_VERIFY;
            G.cl_stack[n].data = r.data;
            n++;
        }
    }
}

/* Destroying env e: what releasing its memory runs, then its report. */
static void fz_sim_delete(fz_sim *s, int e)
{
    G.envs[e].doomed = 1;
    fz_sim_unwind(s, e);
    if (G.envs[e].report)
        s->pend[s->npend++] = e;
}

/* Env e was destroyed (reset 0: explicitly, with a parent, by disable or thread exit) or reset
   (1), in a call that logged what ran: the log must be exactly what the model expects, and
   then the model follows. extra: THREAD's blocks, which the model does not hold. book0: the
   bookkeeping refusals before the reports could be gathered. */
static void fz_unwound(int e, int reset, const fz_collect *extra, unsigned long book0, const char *call)
{
    fz_sim s;
    char what[160];
    int i, k, gone[FZ_MAX_ENVS], ngone = 0;
    memset(&s, 0, sizeof s);
    if (G.trace) {
        for (i = 0; i < G.nev; i++) {
            fz_describe_event(&G.ev[i], what, sizeof what);
            fprintf(stderr, "  %s of env %d ran %s\n", call, e, what);
        }
    }
    s.strict = G.book.refused == book0;
    s.extra_env = extra ? e : -1;
    s.extra = extra;
    s.call = call;
    if (reset)
        fz_sim_unwind(&s, e);
    else
        fz_sim_delete(&s, e);
    fz_sim_reports(&s);
    if (s.pos != G.nev) {
        fz_describe_event(&G.ev[s.pos], what, sizeof what);
        fz_fail("%s: entry %d of the log is %s; nothing more was due (%d entries)", call, s.pos,
                what, G.nev);
    }
    G.nev = 0;
    for (i = 0; i < G.nenvs; i++) {
        if (G.envs[i].doomed) {
            gone[ngone++] = i;
            fz_env_gone(i);
        }
    }
    if (reset) {
        fz_drop_env_blocks(e);
        G.envs[e].ncl = 0;
    }
    /* the handles of all that went are stale; their bytes went back */
    for (k = 0; k < ngone; k++) {
        const fz_env *v = &G.envs[i = gone[k]];
        fz_status("sm_set_thread_handle(the handle of an environment just destroyed)",
                  sm_set_thread_handle(v->h), SM_INVALID_HANDLE);
        if (v->counted && v->ctxo == i && (v->ctx.live_bytes || v->ctx.live_blocks))
            fz_fail("%s: environment %d is gone, but its backing allocator still holds %zu bytes "
                    "in %zu blocks", call, i, v->ctx.live_bytes, v->ctx.live_blocks);
        if (v->counted && v->ctxo != i)
            fz_ctx_check(v->ctxo, call);
    }
}

static void fz_trace_env(int e)
{
    const fz_env *v = &G.envs[e];
    if (G.trace)
        fprintf(stderr, "  env %d: %s, flags %u%s, chunk %zu, %s%s, parent %d\n", e,
                v->enabled ? "enabled" : "explicit", v->flags, v->report ? " + report" : "", v->chunk,
                v->counted ? "counted" : v->small ? "malloc" : "?", v->ctxo != e ? " (its parent's)" : "",
                v->parent);
}

static sm_status fz_cur_status(void)
{
    if (G.cur < 0)
        return SM_NO_ENVIRONMENT;
    return G.envs[G.cur].alive ? SM_OK : SM_INVALID_HANDLE;
}

/* sm_current_env against the model: the current environment's sm_env, or NULL with
   SM_NO_ENVIRONMENT or SM_INVALID_HANDLE. */
static sm_env *fz_current_env(int no_status)
{
    sm_status st = (sm_status)-1, want = fz_cur_status();
    sm_env *env = sm_current_env(no_status ? NULL : &st), *we = NULL;
    if (want == SM_OK) {
        we = G.envs[G.cur].env;
        if (!we)
            fz_fail("model: the current environment %d has no known sm_env", G.cur);
    }
    if (env != we || (!no_status && st != want))
        fz_fail("sm_current_env: %p, %s; expected %p (env %d), %s", (void *)env,
                no_status ? "status not asked" : sm_status_string(st), (void *)we, G.cur,
                sm_status_string(want));
    return env;
}

/* Env e was just enabled by the calling thread: its sm_env is what sm_current_env gives, and
   has e's handle. */
static void fz_learn_env(int e, const char *call)
{
    sm_status st = (sm_status)-1;
    sm_env *env = sm_current_env(&st);
    fz_status(call, st, SM_OK);
    if (!env || sm_env_handle(env) != G.envs[e].h)
        fz_fail("%s: %p, whose handle is %p, not the enabled environment's %p", call, (void *)env,
                env ? (void *)sm_env_handle(env) : NULL, (void *)G.envs[e].h);
    G.envs[e].env = env;
}

/* sm_get_thread_handle and sm_current_env against the model. */
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
    (void)fz_current_env(!with_status);
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
    v->parent = -1;
    v->ctxo = v->colo = (int)(v - G.envs);
    v->born = ++G.seq;
    v->col.logged = 1;
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
    fz_trace_env(e);
    fz_check_stats(e);
}

static void op_destroy(uint8_t a)
{
    unsigned long r0 = G.book.refused;
    int e;
    if (a == 0xFF) {
        fz_status("sm_env_destroy(NULL)", sm_env_destroy(NULL), SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    G.unwind_root = e;
    fz_status("sm_env_destroy", sm_env_destroy(G.envs[e].env), SM_OK);
    fz_unwound(e, 0, NULL, r0, "sm_env_destroy");
    if (G.envs[e].parent >= 0)
        fz_check_stats(G.envs[e].parent);
}

static void op_reset(uint8_t a)
{
    unsigned long r0 = G.book.refused;
    int e;
    if (a == 0xFF) {
        fz_status("sm_env_reset(NULL)", sm_env_reset(NULL), SM_INVALID_ARG);
        return;
    }
    if ((e = fz_pick_env(a)) < 0)
        return;
    G.unwind_root = e;
    fz_status("sm_env_reset", sm_env_reset(G.envs[e].env), SM_OK);
    fz_unwound(e, 1, NULL, r0, "sm_env_reset");
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
    fz_learn_env(e, "sm_current_env after enable");
    fz_trace_env(e);
}

static void op_disable(void)
{
    sm_status want = fz_cur_status(), st;
    unsigned long r0 = G.book.refused;
    int k, e = G.cur;
    if (want == SM_OK && !G.envs[e].enabled)
        want = SM_INVALID_ARG;   /* attached, not owned */
    G.unwind_root = e;
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
        fz_unwound(e, 0, NULL, r0, "sm_disable_allocate");
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
    fz_unwound(e, 0, &want, j.book_refused, j.x & 0x40 ? "sm_disable_allocate (new thread)" : "thread exit");
    fz_status("sm_set_thread_handle(handle of a thread's environment after it exited)",
              sm_set_thread_handle(j.h), SM_INVALID_HANDLE);
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Strings, zeroed blocks, printf; the current environment                                    */
/* ------------------------------------------------------------------------------------------ */

/* The environment an env byte of the newer operations names (fuzz.h): *e its index (-1: none,
   NULL is passed), *env its sm_env. 0: nothing to pick, the operation is skipped. */
static int fz_target(uint8_t a, int *e, sm_env **env)
{
    *e = -1;
    *env = NULL;
    if (a == 0xFF)
        return 1;
    if (a & 0x80) {
        *env = fz_current_env(0);
        if (*env)
            *e = G.cur;
        return 1;
    }
    if ((*e = fz_pick_env(a)) < 0)
        return 0;
    *env = G.envs[*e].env;
    return 1;
}

/* A call that had to fail with NULL and want (its status, when asked) and change nothing. */
static void fz_refused(int e, const void *p, int have_st, sm_status st, sm_status want,
                       const sm_stats *before, const char *call)
{
    if (p)
        fz_fail("%s returned %p, expected NULL and %s", call, p, sm_status_string(want));
    if (have_st)
        fz_status(call, st, want);
    fz_check_same(e, before, call);
}

static int fz_small(int e)
{
    return e < 0 || G.envs[e].small;
}

FZ_NOCOV static const unsigned char *fz_nonzero(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i])
            return p + i;
    return NULL;
}

/* Modes (variant bits 0-1): 0 up to 16 elements of a size of class bits 3-5, 1 a product that
   overflows, 2 a zero factor beside any other, 3 a product no block can have; bit 6 swaps
   count and size. */
static void op_zeroed(uint8_t a, uint8_t cnt, uint8_t sz, uint8_t var)
{
    sm_stats before;
    sm_status st = (sm_status)-1;
    size_t count, size, total, limit;
    unsigned long r0, bk0;
    int e, have_st = !(var & FZ_V_NOST), mode = var & 3, cls = (var >> 3) & 7;
    sm_env *env;
    unsigned char *p;
    const unsigned char *bad;
    if (!fz_target(a, &e, &env) || !fz_room())
        return;
    switch (mode) {
    case 0:
        count = cnt % 17u;
        size = fz_size(e, (uint8_t)(cls == 6 ? 1 : cls), sz);
        limit = fz_small(e) ? FZ_SMALL_MAX : (size_t)1 << 20;   /* every byte is looked at */
        if (count && size > limit / count)
            size = limit / count;
        break;
    case 1:
        size = (sz & 1) ? (size_t)sz + 2 : (size_t)1 << (sizeof(size_t) * 8 - 1 - sz % 8u);
        count = SIZE_MAX / size + 1 + cnt % 3u;
        break;
    case 2:
        count = 0;
        size = (cnt & 1) ? SIZE_MAX : (size_t)sz;
        break;
    default:
        count = fz_huge(fz_small(e), sz);
        size = 1;
        break;
    }
    if (var & 0x40) {
        size_t t = count;
        count = size;
        size = t;
    }
    total = count * size;         /* wraps in mode 1 */
    fz_snapshot(e, &before);
    r0 = fz_refusals();
    bk0 = G.bk.calls;
    p = (unsigned char *)sm_env_allocate_zeroed(env, count, size, have_st ? &st : NULL);
    if (!env) {
        fz_refused(-1, p, have_st, st, SM_INVALID_ARG, &before, "sm_env_allocate_zeroed(NULL env)");
        return;
    }
    if (mode == 1) {
        fz_refused(e, p, have_st, st, SM_OUT_OF_MEMORY, &before,
                   "sm_env_allocate_zeroed(count * size overflows)");
        if (G.bk.calls != bk0)
            fz_fail("sm_env_allocate_zeroed(%zu, %zu): the product overflows, but the backing "
                    "allocator was called", count, size);
        return;
    }
    if (p && (bad = fz_nonzero(p, total)) != NULL)
        fz_fail("sm_env_allocate_zeroed(%zu, %zu): byte %zu of the block at %p is 0x%02x", count,
                size, (size_t)(bad - p), (void *)p, *bad);
    (void)fz_alloc_result(e, p, st, have_st, total, 0, FZ_SITE_NONE, &before, r0, "sm_env_allocate_zeroed");
}

/* Modes: 0 a string of the text, whole (strdup) or at most n characters (strndup, bit 4);
   1 strndup of n bytes of a buffer without a 0 in them, of exactly that size; 2 s NULL;
   3 strndup of a live block's bytes, n its size. Bit 3: long strings. */
static void op_strdup(uint8_t a, uint8_t len, uint8_t nb, uint8_t var)
{
    sm_stats before;
    sm_status st = (sm_status)-1;
    size_t L = (var & FZ_V_LONG) ? (size_t)len * 37u % FZ_TEXT : len % 48u, n = SIZE_MAX, want = 0;
    unsigned long r0;
    int e, i = -1, have_st = !(var & FZ_V_NOST), ndup = (var & FZ_V_OTHER) != 0;
    const char *src = fz_text + FZ_TEXT - L, *call, *end;
    char *heap = NULL, *p;
    sm_env *env;
    if (!fz_target(a, &e, &env) || !fz_room())
        return;
    switch (var & 3) {
    case 0:
        if (ndup) {
            switch (nb % 8u) {
            case 0: n = 0; break;
            case 1: n = L; break;
            case 2: n = L ? L - 1 : 0; break;
            case 3: n = L + 1; break;
            case 4: n = nb / 8u; break;
            case 5: n = SIZE_MAX; break;
            case 6: n = SIZE_MAX / 2 + nb; break;
            default: n = L + 100 + nb; break;
            }
        }
        want = L < n ? L : n;
        break;
    case 1: {
        size_t m = L ? L : 1;
        ndup = 1;
        heap = (char *)malloc(m);
        fz_check(heap != NULL, "malloc failed");
        memcpy(heap, fz_text, m);
        src = heap;
        n = want = (nb & 1) ? m : nb % (m + 1);
        break;
    }
    case 2:
        src = NULL;
        n = nb;
        break;
    default:
        ndup = 1;
        if ((i = fz_nth(-1, FZ_LIVE, nb)) < 0) {
            n = 0;
            break;
        }
        src = (const char *)G.blocks[i].p;
        n = G.blocks[i].size;
        if (fz_small(e) && n >= FZ_SMALL_MAX)
            n = FZ_SMALL_MAX - 1;
        end = (const char *)memchr(src, 0, n);
        want = end ? (size_t)(end - src) : n;
        break;
    }
    call = ndup ? "sm_env_strndup" : "sm_env_strdup";
    fz_snapshot(e, &before);
    r0 = fz_refusals();
    p = ndup ? sm_env_strndup(env, src, n, have_st ? &st : NULL) : sm_env_strdup(env, src, have_st ? &st : NULL);
    if (!src || !env) {
        fz_refused(env ? e : -1, p, have_st, st, SM_INVALID_ARG, &before, call);
        free(heap);
        return;
    }
    if (p && (memcmp(p, src, want) != 0 || p[want] != 0))
        fz_fail("%s(%zu characters, n %zu): the copy at %p is not the first %zu characters and a 0",
                call, L, n, (void *)p, want);
    free(heap);
    (void)fz_alloc_result(e, p, st, have_st, want + 1, 0, FZ_SITE_NONE, &before, r0, call);
    if (i >= 0 && G.blocks[i].state == FZ_LIVE)
        fz_verify(&G.blocks[i], "the source of sm_env_strndup, after it");
}

/* Modes: 0 n bytes of a live block (bit 3: all of it), 1 n bytes of the text, 2 NULL with
   n > 0, 3 n = 0 with NULL or (bit 4) the text. */
static void op_memdup(uint8_t a, uint8_t pick, uint8_t nb, uint8_t var)
{
    sm_stats before;
    sm_status st = (sm_status)-1;
    size_t n;
    unsigned long r0;
    int e, i = -1, have_st = !(var & FZ_V_NOST);
    const unsigned char *src = (const unsigned char *)fz_text;
    unsigned char *p;
    sm_env *env;
    if (!fz_target(a, &e, &env) || !fz_room())
        return;
    switch (var & 3) {
    case 0:
        if ((i = fz_nth(-1, FZ_LIVE, pick)) < 0) {
            n = nb % 64u;
            break;
        }
        src = G.blocks[i].p;
        n = (var & FZ_V_LONG) ? G.blocks[i].size : nb % (G.blocks[i].size + 1);
        break;
    case 1:
        src += pick % 64u;
        n = (var & FZ_V_LONG) ? (size_t)nb * 37u % (FZ_TEXT - 64) : nb % 64u;
        break;
    case 2:
        src = NULL;
        n = (size_t)nb + 1;
        break;
    default:
        if (!(var & FZ_V_OTHER))
            src = NULL;
        n = 0;
        break;
    }
    if (fz_small(e) && n > FZ_SMALL_MAX)
        n = FZ_SMALL_MAX;
    fz_snapshot(e, &before);
    r0 = fz_refusals();
    p = (unsigned char *)sm_env_memdup(env, src, n, have_st ? &st : NULL);
    if (!env || (!src && n)) {
        fz_refused(env ? e : -1, p, have_st, st, SM_INVALID_ARG, &before,
                   env ? "sm_env_memdup(NULL, n > 0)" : "sm_env_memdup(NULL env)");
        return;
    }
    if (p && n && memcmp(p, src, n) != 0)
        fz_fail("sm_env_memdup(%p, %zu): the copy at %p differs", (const void *)src, n, (void *)p);
    (void)fz_alloc_result(e, p, st, have_st, n, 0, FZ_SITE_NONE, &before, r0, "sm_env_memdup");
    if (i >= 0 && G.blocks[i].state == FZ_LIVE)
        fz_verify(&G.blocks[i], "the source of sm_env_memdup, after it");
}

static FZ_PRINTF(3, 4) char *fz_vprintf(sm_env *env, sm_status *status, const char *format, ...)
{
    va_list ap;
    char *p;
    va_start(ap, format);
    p = sm_env_vprintf(env, status, format, ap);
    va_end(ap);
    return p;
}

/* printf with a NULL format: the compiler says so, rightly; here it is meant. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
#endif
static char *fz_printf_nofmt(sm_env *env, sm_status *status, int v)
{
    return v ? fz_vprintf(env, status, fz_nofmt, 1) : sm_env_printf(env, status, fz_nofmt, 1);
}
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Formats (argument modulo 10) with an argument byte; bit 4 vprintf, bit 5 format NULL. */
static void op_printf(uint8_t a, uint8_t f, uint8_t x, uint8_t var)
{
    static char want[4 * FZ_TEXT];
    sm_stats before;
    sm_status st = (sm_status)-1, *stp = (var & FZ_V_NOST) ? NULL : &st;
    size_t L = (size_t)x * 37u % FZ_TEXT;
    const char *text = fz_text + FZ_TEXT - L, *call;
    unsigned long r0;
    int e, wn = 0, v = (var & FZ_V_OTHER) != 0;
    char *p = NULL;
    sm_env *env;
    if (!fz_target(a, &e, &env) || !fz_room())
        return;
    call = v ? "sm_env_vprintf" : "sm_env_printf";
    fz_snapshot(e, &before);
    r0 = fz_refusals();
    if (var & FZ_V_NULLFMT) {
        p = fz_printf_nofmt(env, stp, v);
        fz_refused(env ? e : -1, p, stp != NULL, st, SM_INVALID_ARG, &before,
                   v ? "sm_env_vprintf(format NULL)" : "sm_env_printf(format NULL)");
        return;
    }
#define FZ_FORMAT(...) do { \
        wn = snprintf(want, sizeof want, __VA_ARGS__); \
        p = v ? fz_vprintf(env, stp, __VA_ARGS__) : sm_env_printf(env, stp, __VA_ARGS__); \
    } while (0)
    switch (f % 10u) {
    case 0: FZ_FORMAT("%s", ""); break;
    case 1: FZ_FORMAT("%d", ((int)x - 128) * 1000003); break;
    case 2: FZ_FORMAT("%s", text); break;
    case 3: FZ_FORMAT("%*d|%.*s|", (int)x * 13, (int)x, (int)(x % 40u), fz_text); break;
    case 4: FZ_FORMAT("%zu-%x-%c-%lld", (size_t)x * 123457u, (unsigned)x, 'A' + x % 26, (long long)x << 40); break;
    case 5: FZ_FORMAT("%.3f %e %g", x / 7.0, x * 1e100, -(double)x / 3.0); break;
    case 6: FZ_FORMAT("%c", 0); break;
    case 7: FZ_FORMAT("%ls", fz_badwide); break;
    case 8: FZ_FORMAT("%05d%%%s%p", (int)x, "x", (void *)fz_static_buf); break;
    default: FZ_FORMAT("%s%s%s", text, fz_text + FZ_TEXT - (size_t)x * 11u, text + L / 2); break;
    }
#undef FZ_FORMAT
    if (!env) {
        fz_refused(-1, p, stp != NULL, st, SM_INVALID_ARG, &before, call);
        return;
    }
    if (wn < 0) {   /* the C library cannot convert it */
        fz_refused(e, p, stp != NULL, st, SM_INVALID_ARG, &before, call);
        return;
    }
    if ((size_t)wn >= sizeof want)
        fz_fail("model: snprintf needs %d bytes", wn);
    if (p && memcmp(p, want, (size_t)wn + 1) != 0)
        fz_fail("%s (format %u): the block at %p does not hold what snprintf wrote (%d characters)",
                call, f % 10u, (void *)p, wn);
    (void)fz_alloc_result(e, p, st, stp != NULL, (size_t)wn + 1, 0, FZ_SITE_NONE, &before, r0, call);
}

/* sm_current_env (bit 0: status NULL) and sm_status_message of a value (bits 1-7: the five
   statuses, then values smalloc never returns). */
static void op_current_env(uint8_t var)
{
    static const sm_status known[5] = {
        SM_OK, SM_INVALID_HANDLE, SM_OUT_OF_MEMORY, SM_INVALID_ARG, SM_NO_ENVIRONMENT
    };
    int k = var >> 1;
    sm_status s = k < 5 ? known[k] : (sm_status)(k * 7919 - 300000);
    const char *m;
    (void)fz_current_env(var & 1);
    m = sm_status_message(s);
    if (!m || !*m || strlen(m) > 1000)
        fz_fail("sm_status_message(%d) is %s", (int)s, m ? "empty or too long" : "NULL");
    if (k < 5 && strcmp(m, sm_status_string(s)) == 0)
        fz_fail("sm_status_message(%s) is its name, not an explanation", sm_status_string(s));
}

/* ------------------------------------------------------------------------------------------ */
/* Cleanups and child environments                                                            */
/* ------------------------------------------------------------------------------------------ */

/* The environment whose data slot data is, or -1. */
static int fz_data_env(const void *data)
{
    const unsigned char *p = (const unsigned char *)data, *base = &fz_cdata[0][0];
    if (!p || p < base || p >= base + sizeof fz_cdata)
        return -1;
    return (int)((size_t)(p - base) / FZ_CDATA);
}

static void *fz_data(int e, uint8_t d)
{
    int k = d % (FZ_CDATA + 1);
    return e >= 0 && k < FZ_CDATA ? (void *)&fz_cdata[e][k] : NULL;
}

FZ_NOCOV static void fz_verify_env(int e, const char *when)
{
    int i;
    for (i = 0; i < G.nblocks; i++)
        if (G.blocks[i].state == FZ_LIVE && G.blocks[i].env == e)
            fz_verify(&G.blocks[i], when);
}

static void fz_cl_verify(void *data);

/* Every cleanup: logs that it ran. VERIFY and ALLOC with an environment's data: its blocks are
   all still there; ALLOC then allocates in it and adds VERIFY, as the contract allows. */
static void fz_cleanup_run(int fn, void *data)
{
    fz_event *ev = fz_event_new(FZ_EV_CLEANUP);
    int e = fz_data_env(data);
    ev->fn = fn;
    ev->data = data;
    if (e < 0 || fn == FZ_CL_LOG || fn == FZ_CL_LOG2)
        return;
    if (!G.envs[e].alive || !G.envs[e].env)
        fz_fail("cleanup %s of env %d ran, but that environment was gone", fz_cl_names[fn], e);
    fz_verify_env(e, "in a cleanup, before any block is released");
    if (fn == FZ_CL_ALLOC) {
        sm_env *env = G.envs[e].env;
        size_t size = 24 + 40 * (size_t)((const unsigned char *)data - &fz_cdata[e][0]);
        sm_status st = (sm_status)-1;
        unsigned long r0, b0;
        if (fz_room()) {
            void *p;
            r0 = fz_refusals();
            p = sm_env_allocate(env, size, &st);
            G.in_cleanup++;
            G.cl_env = e;
            (void)fz_alloc_result(e, p, st, 1, size, 0, FZ_SITE_NONE, NULL, r0, "sm_env_allocate (in a cleanup)");
            G.in_cleanup--;
        }
        b0 = G.book.refused;
        st = sm_env_add_cleanup(env, fz_cl_verify, data);
        if (st != SM_OUT_OF_MEMORY || G.book.refused == b0)
            fz_status("sm_env_add_cleanup (in a cleanup)", st, SM_OK);
        ev->added = st == SM_OK;
    }
}

static void fz_cl_log(void *data) { fz_cleanup_run(FZ_CL_LOG, data); }
static void fz_cl_log2(void *data) { fz_cleanup_run(FZ_CL_LOG2, data); }
static void fz_cl_verify(void *data) { fz_cleanup_run(FZ_CL_VERIFY, data); }
static void fz_cl_alloc(void *data) { fz_cleanup_run(FZ_CL_ALLOC, data); }
static sm_cleanup_fn *const fz_cl_fns[FZ_NCL] = { fz_cl_log, fz_cl_log2, fz_cl_verify, fz_cl_alloc };

static void fz_register(int e, int fn, void *data)
{
    fz_env *v = &G.envs[e];
    if (v->ncl >= FZ_MAX_CLEANUPS)
        fz_fail("model: too many cleanups for env %d", e);
    v->cl[v->ncl].fn = fn;
    v->cl[v->ncl].data = data;
    v->ncl++;
}

static void op_add_cleanup(uint8_t a, uint8_t f, uint8_t d)
{
    int e, fn = f % (FZ_NCL + 1);
    unsigned long b0 = G.book.refused;
    sm_status st;
    sm_env *env;
    void *data;
    if (!fz_target(a, &e, &env) || (e >= 0 && G.envs[e].ncl >= FZ_MAX_CLEANUPS))
        return;
    data = fz_data(e, d);
    st = sm_env_add_cleanup(env, fn < FZ_NCL ? fz_cl_fns[fn] : NULL, data);
    if (!env || fn == FZ_NCL) {
        fz_status(env ? "sm_env_add_cleanup(fn NULL)" : "sm_env_add_cleanup(NULL env)", st, SM_INVALID_ARG);
        return;
    }
    if (st == SM_OUT_OF_MEMORY && G.book.refused != b0)
        return;   /* nothing registered: the next unwind shows it */
    fz_status("sm_env_add_cleanup", st, SM_OK);
    fz_register(e, fn, data);
}

static void op_remove_cleanup(uint8_t a, uint8_t f, uint8_t d)
{
    int e, k, fn = f % (FZ_NCL + 1);
    sm_status st;
    sm_env *env;
    void *data;
    fz_env *v;
    if (!fz_target(a, &e, &env))
        return;
    data = fz_data(e, d);
    st = sm_env_remove_cleanup(env, fn < FZ_NCL ? fz_cl_fns[fn] : NULL, data);
    if (!env || fn == FZ_NCL) {
        fz_status(env ? "sm_env_remove_cleanup(fn NULL)" : "sm_env_remove_cleanup(NULL env)", st, SM_INVALID_ARG);
        return;
    }
    v = &G.envs[e];
    for (k = v->ncl - 1; k >= 0 && !(v->cl[k].fn == fn && v->cl[k].data == data); k--)
        ;
    if (k < 0) {
        fz_status("sm_env_remove_cleanup(a pair not registered)", st, SM_INVALID_ARG);
        return;
    }
    fz_status("sm_env_remove_cleanup", st, SM_OK);
    memmove(&v->cl[k], &v->cl[k + 1], (size_t)(v->ncl - k - 1) * sizeof v->cl[0]);
    v->ncl--;
}

/* A child created with config NULL has its parent's configuration: the same backing allocator
   and context, chunk size, flags and report function (and report_user). */
static void fz_inherit(fz_env *v, const fz_env *p)
{
    v->flags = p->flags;
    v->report = p->report;
    v->chunk = p->chunk;
    v->counted = p->counted;
    v->small = p->small;
    v->ctxo = p->ctxo;
    v->colo = p->colo;
}

/* sm_env_create_child(parent, config) gave child or not: checks it and records it as env c
   (the next free index; the caller counts it). held: what parent's allocator held before. */
static int fz_child_result(int c, int pe, sm_env *child, int have_st, sm_status st, int null_cfg,
                           int bad_pair, size_t held, unsigned long r0, const char *call)
{
    fz_env *v = &G.envs[c];
    fz_check_create(call, child != NULL, have_st, st, null_cfg, bad_pair, v, r0);
    if (!child) {
        if (v->counted && v->ctxo == c && v->ctx.live_bytes)
            fz_fail("%s failed but kept %zu bytes of its backing allocator", call, v->ctx.live_bytes);
        if (v->counted && v->ctxo != c && G.envs[v->ctxo].ctx.live_bytes != held)
            fz_fail("%s failed, and its parent's backing allocator holds %zu bytes, %zu before",
                    call, G.envs[v->ctxo].ctx.live_bytes, held);
        return 0;
    }
    v->alive = 1;
    v->env = child;
    v->parent = pe;
    v->h = sm_env_handle(child);
    fz_new_handle(v->h, call);
    return 1;
}

/* Parent: an env byte; cfg and backing as CREATE's (cfg bit 7: config NULL, the parent's). */
static void op_child(uint8_t a, uint8_t cfgb, uint8_t backing)
{
    sm_config cfg;
    sm_stats before;
    sm_status st = (sm_status)-1;
    sm_env *parent, *child;
    int pe, null_cfg, bad_pair, c = G.nenvs, have_st = !(backing & 0x80);
    size_t held = 0;
    unsigned long r0;
    if (c >= FZ_MAX_ENVS || !fz_target(a, &pe, &parent))
        return;
    fz_decode_config(cfgb, backing, &G.envs[c], &cfg, &null_cfg, &bad_pair);
    if (null_cfg && pe >= 0)
        fz_inherit(&G.envs[c], &G.envs[pe]);
    if (pe >= 0 && G.envs[pe].counted)
        held = G.envs[G.envs[pe].ctxo].ctx.live_bytes;
    fz_snapshot(pe, &before);
    r0 = fz_refusals();
    child = sm_env_create_child(parent, null_cfg ? NULL : &cfg, have_st ? &st : NULL);
    if (!parent) {
        fz_refused(-1, child, have_st, st, SM_INVALID_ARG, &before, "sm_env_create_child(NULL parent)");
        return;
    }
    if (!fz_child_result(c, pe, child, have_st, st, null_cfg, bad_pair, held, r0, "sm_env_create_child")) {
        fz_check_same(pe, &before, "sm_env_create_child");
        return;
    }
    G.nenvs++;
    fz_trace_env(c);
    fz_check_stats(c);
    fz_check_stats(pe);
}

#ifndef SMALLOC_NO_THREADS
/* THREAD_ENV: like THREAD, and the new thread's blocks are the model's; it adds cleanups to its
   environment and may create a child of it with a block and a cleanup, so that its disable or
   exit has them all to run and release. */
typedef struct fz_tenv_job {
    int e, null_cfg, bad_pair, created, child;
    uint8_t x, y;
    sm_config cfg;
    sm_thread_handle h;
    unsigned long book_refused;
} fz_tenv_job;

static void *fz_thread_env_main(void *arg)
{
    fz_tenv_job *j = (fz_tenv_job *)arg;
    int e = j->e, c = e + 1, k, n = (j->x >> 4) & 3;
    fz_env *v = &G.envs[e];
    unsigned long r0;
    sm_status st;
    sm_env *env;
    fz_arm(&G.book, (uint8_t)(j->x & 15));
    r0 = fz_refusals();
    st = j->null_cfg ? sm_enable_allocate() : sm_enable_allocate_with(&j->cfg);
    fz_check_create(j->null_cfg ? "sm_enable_allocate (new thread)" : "sm_enable_allocate_with (new thread)",
                    st == SM_OK, 1, st, j->null_cfg, j->bad_pair, v, r0);
    if (st != SM_OK) {
        fz_arm(&G.book, 0);
        return NULL;
    }
    j->created = 1;
    v->alive = v->enabled = 1;
    v->h = j->h = sm_get_thread_handle(&st);
    fz_status("sm_get_thread_handle (new thread)", st, SM_OK);
    fz_learn_env(e, "sm_current_env (new thread)");
    env = v->env;
    for (k = 0; k < n && fz_room(); k++) {
        size_t size = (size_t)k * 40 + (j->x & 7);
        void *p;
        st = (sm_status)-1;
        r0 = fz_refusals();
        p = sm_allocate(size, &st);
        (void)fz_alloc_result(e, p, st, 1, size, 0, FZ_SITE_NONE, NULL, r0, "sm_allocate (new thread)");
    }
    for (k = 0; k < (j->y & 3); k++) {
        int fn = ((j->y >> 2) + k) % FZ_NCL;
        unsigned long b0 = G.book.refused;
        st = sm_env_add_cleanup(env, fz_cl_fns[fn], &fz_cdata[e][k]);
        if (st == SM_OUT_OF_MEMORY && G.book.refused != b0)
            continue;
        fz_status("sm_env_add_cleanup (new thread)", st, SM_OK);
        fz_register(e, fn, &fz_cdata[e][k]);
    }
    if ((j->y & 0x30) && c < FZ_MAX_ENVS) {
        /* bit 4: config NULL, else T with a report function, 256-byte chunks, counted */
        fz_env *w = &G.envs[c];
        sm_config cfg;
        sm_env *child;
        int null_cfg, bad_pair;
        size_t held = v->counted ? G.envs[v->ctxo].ctx.live_bytes : 0;
        fz_decode_config((j->y & 0x10) ? 0x80 : 0x29, 0, w, &cfg, &null_cfg, &bad_pair);
        if (null_cfg)
            fz_inherit(w, v);
        st = (sm_status)-1;
        r0 = fz_refusals();
        child = sm_env_create_child(env, null_cfg ? NULL : &cfg, &st);
        if (fz_child_result(c, e, child, 1, st, null_cfg, bad_pair, held, r0, "sm_env_create_child (new thread)")) {
            unsigned long b0;
            void *p;
            j->child = 1;
            if (fz_room()) {
                st = (sm_status)-1;
                r0 = fz_refusals();
                p = sm_env_allocate(child, 100, &st);
                (void)fz_alloc_result(c, p, st, 1, 100, 0, FZ_SITE_NONE, NULL, r0, "sm_env_allocate (new thread's child)");
            }
            b0 = G.book.refused;
            st = sm_env_add_cleanup(child, fz_cl_verify, &fz_cdata[c][0]);
            if (st != SM_OUT_OF_MEMORY || G.book.refused == b0) {
                fz_status("sm_env_add_cleanup (new thread's child)", st, SM_OK);
                fz_register(c, FZ_CL_VERIFY, &fz_cdata[c][0]);
            }
        }
    }
    fz_arm(&G.book, 0);
    /* the reports at this disable, or at thread exit, come after what ran here */
    j->book_refused = G.book.refused;
    if (j->x & 0x40)
        fz_status("sm_disable_allocate (new thread)", sm_disable_allocate(), SM_OK);
    return NULL;
}

static void op_thread_env(uint8_t cfgb, uint8_t backing, uint8_t x, uint8_t y)
{
    fz_tenv_job j;
    fz_env *v;
    pthread_t t;
    int e = G.nenvs;
    if (e >= FZ_MAX_ENVS)
        return;
    memset(&j, 0, sizeof j);
    j.e = e;
    j.x = (uint8_t)(x & 0x7F);
    j.y = y;
    v = &G.envs[e];
    fz_decode_config(cfgb, backing, v, &j.cfg, &j.null_cfg, &j.bad_pair);
    G.unwind_root = e;
    if (pthread_create(&t, NULL, fz_thread_env_main, &j) != 0)
        return;   /* no thread to be had: nothing to check */
    if (pthread_join(t, NULL) != 0)
        fz_fail("pthread_join failed");
    fz_check_current(1);
    if (!j.created) {
        if (v->ctx.live_bytes)
            fz_fail("enable (new thread) failed but kept %zu bytes of its backing allocator", v->ctx.live_bytes);
        return;
    }
    fz_new_handle(j.h, "enable (new thread)");
    G.nenvs = e + 1;
    if (j.child) {
        fz_new_handle(G.envs[e + 1].h, "sm_env_create_child (new thread)");
        G.nenvs = e + 2;
    }
    fz_unwound(e, 0, NULL, j.book_refused, (j.x & 0x40) ? "sm_disable_allocate (new thread)" : "thread exit");
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
    for (k = 0; k < FZ_TEXT; k++)
        fz_text[k] = (char)('!' + (k * 7u + k / 91u) % 94u);
    fz_text[FZ_TEXT] = 0;
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
    G.nev = 0;
    G.in_cleanup = 0;
    G.unwind_root = -1;
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
        unsigned long r0 = G.book.refused;
        e = G.frames[G.nframes - 1].env;
        fz_status("sm_set_thread_handle (cleanup)", sm_set_thread_handle(G.envs[e].h), SM_OK);
        G.unwind_root = e;
        fz_status("sm_disable_allocate (cleanup)", sm_disable_allocate(), SM_OK);
        G.nframes--;
        fz_unwound(e, 0, NULL, r0, "sm_disable_allocate (cleanup)");
    }
    fz_status("sm_set_thread_handle(NULL) (cleanup)", sm_set_thread_handle(NULL), SM_OK);
    G.cur = -1;
    for (e = 0; e < G.nenvs; e++) {
        if (fz_explicit(e)) {
            unsigned long r0 = G.book.refused;
            G.unwind_root = e;
            fz_status("sm_env_destroy (cleanup)", sm_env_destroy(G.envs[e].env), SM_OK);
            fz_unwound(e, 0, NULL, r0, "sm_env_destroy (cleanup)");
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
        case FZ_ZEROED:       op_zeroed(x[0], x[1], x[2], x[3]); break;
        case FZ_STRDUP:       op_strdup(x[0], x[1], x[2], x[3]); break;
        case FZ_MEMDUP:       op_memdup(x[0], x[1], x[2], x[3]); break;
        case FZ_PRINTF:       op_printf(x[0], x[1], x[2], x[3]); break;
        case FZ_CURRENT_ENV:  op_current_env(x[0]); break;
        case FZ_ADD_CLEANUP:  op_add_cleanup(x[0], x[1], x[2]); break;
        case FZ_REMOVE_CLEANUP: op_remove_cleanup(x[0], x[1], x[2]); break;
        case FZ_CHILD:        op_child(x[0], x[1], x[2]); break;
#ifndef SMALLOC_NO_THREADS
        case FZ_THREAD_ENV:   op_thread_env(x[0], x[1], x[2], x[3]); break;
#else
        case FZ_THREAD_ENV:   break;
#endif
        case FZ_NOPS:         break;
        }
        G.bk.all = G.book.all = 0;
        G.unwind_root = -1;
        if (G.nev) {
            char what[160];
            fz_describe_event(&G.ev[0], what, sizeof what);
            fz_fail("%s ran (and %d more callbacks), but this operation releases nothing", what, G.nev - 1);
        }
    }
    G.opno = n;
    fz_finish();
    G.opname = NULL;
    return 0;
}
