/* t_diff.c - the differential test: seeded random sequences of calls on several environments at
   once, each call checked against a shadow model of what the contract says it must do.

   The model knows every block of every environment: its start, the size asked, its usable size
   (what sm_env_describe said when it was handed out), the seed of the pattern it was filled with
   (tu_fill), its allocation site, and whether it is live or marked free. Of each environment it
   knows the configuration, the parent, the cleanups and the counting backing allocator
   (counting.h), if it has one. A world holds four environments made by sm_env_create (one
   plain with a counting allocator, the others with random SM_TRACK / SM_POISON / SM_RECYCLE
   flags, two with counting allocators and two with malloc), up to three children of them
   (nested, with their parent's configuration or their own) and up to two environments of the
   thread (sm_enable_allocate, nested), which it uses through sm_allocate, sm_free and
   sm_reallocate while they are current.

   Each operation is one call, chosen at random: allocate (plain, aligned, with a site, zeroed;
   0 to 20 KiB, so some blocks get a chunk of their own; also an invalid alignment, a size that
   overflows, no environment); mark-free of a live block, and of what is not one (an interior
   pointer, a block marked free already, a block of another environment, memory of a destroyed
   one, memory no environment owns, NULL); reallocate (shrink, grow, move, a bad block or old
   size); describe (inside a live block, a marked-free one, a foreign pointer); strdup, strndup,
   memdup, printf; stats and leak reports; reset; destroy and create again; create a child; add
   and remove cleanups (each cleanup checks that its environment's blocks are still intact, and
   the order they ran in, children first, must be the contract's); enable, disable and the
   statuses without a current environment; memory pressure (a byte budget on a counting
   allocator). Before each operation a failure may be injected into a counting allocator
   (fail_at) or into smalloc's bookkeeping (tb_fail_at): a call that fails must say
   SM_OUT_OF_MEMORY, and only after a refusal, and change nothing. Every status is compared
   with the model's.

   Checked after every 64 operations (DIFF_CHECK_EVERY), after each operation that saw a refusal
   and at the end: every live block holds its pattern, no two live blocks overlap, sm_env_stats agrees
   with the model (live blocks and bytes exactly; marked-free ones too, once sm_env_describe has
   said which were reclaimed by a rollback or reused), and each counting allocator holds exactly
   what its environments say they hold. After the environments are destroyed the counting
   allocators hold nothing.

   The threaded run (not with SMALLOC_NO_THREADS): DIFF_THREADS threads, each with a world of its
   own and its own seeded sequence, and one shared environment: each thread allocates blocks there
   (by name or attached through its handle, saving and restoring its own), fills them and hands
   them to the next thread through a mutex-protected queue; that thread checks and marks them
   free. While the threads wait at a barrier, the shared environment's live figures must be
   exactly what the queues hold; at the end nothing is live and every byte is back. Half of the
   threads leave their enabled environments to be destroyed by their exit.

   Seeds and length come from the environment: SM_DIFF_SEEDS, a seed ("12345"), a range ("1-8")
   or a list of them ("3,7,10-12"), default 1-4; SM_DIFF_OPS, operations per seed, default 4000
   (the threaded run shares them among its threads). Each seed is a test of its own,
   "diff_single seed N" and "diff_threads seed N". A mismatch prints the seed, the thread, the
   number of the operation and what differed, and the line that replays it:
       SM_DIFF_SEEDS=N SM_DIFF_OPS=M build/smalloc_test
   A single-threaded seed replays exactly; in the threaded run each thread's own operations do,
   while what the threads hand each other depends on timing. `make check-diff-long` runs many
   seeds, longer (mk/diff.mk). */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "counting.h"
#include "threads.h"
#include "util.h"
#include "suites.h"
#ifdef TU_ASAN
#include <sanitizer/asan_interface.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define DIFF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DIFF_PRINTF(f, a)
#endif

enum {
    DIFF_ROOTS = 4,                   /* slots of environments made by sm_env_create */
    DIFF_CHILDREN = 3,                /* slots of children (sm_env_create_child) */
    DIFF_ENABLED = 2,                 /* slots of the thread's environments (sm_enable_allocate) */
    DIFF_FIRST_CHILD = DIFF_ROOTS,
    DIFF_FIRST_ENABLED = DIFF_ROOTS + DIFF_CHILDREN,
    DIFF_SLOTS = DIFF_FIRST_ENABLED + DIFF_ENABLED,
    DIFF_TCS = DIFF_ROOTS + DIFF_ENABLED,   /* counting allocators: one per root and enabled slot */
    DIFF_RECORDS = 768,               /* blocks the model holds, live and marked free */
    DIFF_TAGS = 3,                    /* cleanup data per environment */
    DIFF_CLEANUPS = 6,                /* cleanups registered per environment */
    DIFF_LOG = 64,                    /* cleanups run by one call */
    DIFF_DEAD = 16,                   /* remembered starts of blocks gone with their environment */
    DIFF_TEXT = 6000,                 /* the longest string copied */
    DIFF_MAX_SIZE = 20 * 1024,
    DIFF_CHECK_EVERY = 64,
    DIFF_MESSAGES = 6,                /* mismatches printed per world */
    DIFF_THREADS = 4,
    DIFF_QUEUE = 64                   /* blocks waiting for the next thread */
};

/* Allocation sites: plain calls record none (NULL, 0). */
enum { DIFF_SITE_NONE, DIFF_SITE_A, DIFF_SITE_B, DIFF_SITES };
static const char diff_file_a[] = "diff_site_a.c";
static const char diff_file_b[] = "diff_site_b.c";
static const char *const diff_site_file[DIFF_SITES] = { NULL, diff_file_a, diff_file_b };
static const int diff_site_line[DIFF_SITES] = { 0, 101, 202 };

enum { DIFF_EMPTY, DIFF_LIVE, DIFF_FREED };

typedef struct diff_block {
    int state;
    int slot;                 /* its environment */
    unsigned char *p;
    size_t size;              /* as asked: what a leak report counts */
    size_t usable;            /* as sm_env_describe said */
    unsigned seed;            /* of its pattern */
    int site;
} diff_block;

typedef struct diff_env {
    sm_env *env;              /* NULL: the slot is empty */
    sm_thread_handle handle;
    unsigned flags;
    int tc;                   /* its counting allocator, or -1: malloc */
    int parent;               /* the parent's slot, or -1 */
    unsigned long born;       /* creation order: children are destroyed last created first */
    int ncl;
    int cl[DIFF_CLEANUPS];    /* the tags of its cleanups, in the order they were added */
} diff_env;

typedef struct diff_world diff_world;

/* What a cleanup is registered with: its world, environment and tag. */
typedef struct diff_cleanup_data {
    diff_world *w;
    int slot, tag;
} diff_cleanup_data;

/* A cleanup that ran, and whether it found its environment's blocks intact. */
typedef struct diff_ran {
    int slot, tag, intact;
} diff_ran;

typedef struct diff_shared diff_shared;

struct diff_world {
    unsigned seed;
    int thread;               /* -1: the single-threaded run */
    uint64_t rng;
    unsigned long op, ops;
    const char *what;         /* the operation under way, for messages */
    int failures;
    unsigned long refusals_before;   /* refusals before the operation */
    int book_faults;          /* bookkeeping failures may be injected: no other thread runs */
    int leave_to_exit;        /* the thread's exit destroys its enabled environments */
    diff_env env[DIFF_SLOTS];
    int nenabled;
    unsigned long born;
    diff_block rec[DIFF_RECORDS];
    int nrec;                 /* records below this are in use or empty */
    int empty[DIFF_RECORDS];  /* the empty ones */
    int nempty;
    unsigned next_seed;
    void *dead[DIFF_DEAD];
    unsigned ndead;
    tc_alloc tc[DIFF_TCS];
    diff_cleanup_data cdata[DIFF_SLOTS][DIFF_TAGS];
    diff_ran ran[DIFF_LOG];
    int nran;
    char text[DIFF_TEXT + 1];        /* printable: the source of the string copies */
    char scratch[DIFF_TEXT + 1];
    unsigned char foreign[64];       /* memory no environment owns */
    diff_shared *shared;             /* the threaded run's shared environment */
};

static unsigned diff_seed;            /* the seed of the test being run */
static unsigned long diff_ops;        /* SM_DIFF_OPS, or the default */

/* ------------------------------------------------------------------------------------------ */
/* Randomness, mismatches                                                                     */
/* ------------------------------------------------------------------------------------------ */

static unsigned diff_rand(diff_world *w)
{
    /* xorshift64* */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (unsigned)((w->rng * UINT64_C(2685821657736338717)) >> 32);
}

static unsigned diff_below(diff_world *w, unsigned n)
{
    return diff_rand(w) % n;
}

/* Sizes from 0 to DIFF_MAX_SIZE, mostly small; the large ones get a chunk of their own. */
static size_t diff_size(diff_world *w)
{
    unsigned r = diff_below(w, 32);
    if (r == 0)
        return 0;
    if (r < 20)
        return diff_below(w, 129);
    if (r < 28)
        return diff_below(w, 2049);
    return diff_below(w, DIFF_MAX_SIZE + 1);
}

/* A mismatch: what differed, where, and how to replay it, in one write (threads print too). */
static DIFF_PRINTF(3, 4) void diff_fail(diff_world *w, int line, const char *fmt, ...)
{
    char what[512], where[32] = "";
    va_list ap;
    if (w->failures++ < DIFF_MESSAGES) {
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (w->thread >= 0)
            sprintf(where, ", thread %d", w->thread);
        fprintf(stderr, "t_diff.c:%d: seed %u%s, operation %lu (%s): %s\n"
                "    replay: SM_DIFF_SEEDS=%u SM_DIFF_OPS=%lu build/smalloc_test\n",
                line, w->seed, where, w->op, w->what, what, w->seed, diff_ops);
    }
    th_fail(__FILE__, line, "the call does what the model says");
}

#define DIFF_CHECK(w, cond, ...) \
    do { if (!(cond)) diff_fail((w), __LINE__, __VA_ARGS__); } while (0)
#define DIFF_STATUS(w, call, got, want) \
    diff_status((w), __LINE__, (call), (got), (want))

static int diff_status(diff_world *w, int line, const char *call, sm_status got, sm_status want)
{
    if (got == want)
        return 1;
    diff_fail(w, line, "%s returned %s, expected %s", call, sm_status_string(got), sm_status_string(want));
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Failure injection                                                                          */
/* ------------------------------------------------------------------------------------------ */

static unsigned long diff_refusals(const diff_world *w)
{
    unsigned long n = w->book_faults ? (unsigned long)tb_refused : 0;
    int k;
    for (k = 0; k < DIFF_TCS; k++)
        n += (unsigned long)w->tc[k].refused;
    return n;
}

/* An allocation was refused during the operation under way. */
static int diff_refused(const diff_world *w)
{
    return diff_refusals(w) != w->refusals_before;
}

/* Now and then the next call or one soon after of a counting allocator, or of smalloc's
   bookkeeping, is refused. */
static void diff_arm(diff_world *w)
{
    unsigned r = diff_below(w, 16), later = diff_below(w, 3);
    w->refusals_before = diff_refusals(w);
    if (r == 0 && w->book_faults) {
        tb_fail_at = tb_calls + 1 + later;
    } else if (r <= 3) {
        tc_alloc *c = &w->tc[diff_below(w, DIFF_TCS)];
        c->fail_at = c->calls + 1 + later;
    }
}

static void diff_disarm(diff_world *w)
{
    int k;
    if (w->book_faults)
        tb_fail_at = 0;
    for (k = 0; k < DIFF_TCS; k++)
        w->tc[k].fail_at = 0;
}

/* A call returned failure (NULL, or a status other than SM_OK): that must be SM_OUT_OF_MEMORY
   after a refused allocation. */
static void diff_expect_refusal(diff_world *w, const char *call, sm_status st)
{
    DIFF_STATUS(w, call, st, SM_OUT_OF_MEMORY);
    DIFF_CHECK(w, diff_refused(w), "%s failed (%s) though no allocation was refused", call, sm_status_string(st));
}

/* ------------------------------------------------------------------------------------------ */
/* Environments and records                                                                   */
/* ------------------------------------------------------------------------------------------ */

static int diff_is_current(const diff_world *w, int slot)
{
    return w->nenabled > 0 && slot == DIFF_FIRST_ENABLED + w->nenabled - 1;
}

/* A random environment alive in slots [from, to), or -1. */
static int diff_pick_slot(diff_world *w, int from, int to)
{
    int n = to - from, start = (int)diff_below(w, (unsigned)n), k;
    for (k = 0; k < n; k++) {
        int s = from + (start + k) % n;
        if (w->env[s].env)
            return s;
    }
    return -1;
}

/* A random record in `state` (of environment slot, or of any when slot is -1), or -1. */
static int diff_pick(diff_world *w, int state, int slot)
{
    int i, n = 0;
    unsigned k;
    for (i = 0; i < w->nrec; i++)
        if (w->rec[i].state == state && (slot < 0 || w->rec[i].slot == slot))
            n++;
    if (!n)
        return -1;
    k = diff_below(w, (unsigned)n);
    for (i = 0; i < w->nrec; i++)
        if (w->rec[i].state == state && (slot < 0 || w->rec[i].slot == slot) && k-- == 0)
            return i;
    return -1;
}

static int diff_has_room(const diff_world *w)
{
    return w->nempty > 0 || w->nrec < DIFF_RECORDS;
}

static int diff_new_record(diff_world *w)
{
    return w->nempty ? w->empty[--w->nempty] : w->nrec++;
}

static void diff_forget(diff_world *w, int i)
{
    w->rec[i].state = DIFF_EMPTY;
    w->empty[w->nempty++] = i;
}

/* A block gone with a reset or destroy: its start is kept as a pointer no block has. */
static void diff_bury(diff_world *w, int i)
{
    w->dead[w->ndead++ % DIFF_DEAD] = w->rec[i].p;
    diff_forget(w, i);
}

/* The live record of environment slot that starts at p, or -1. */
static int diff_live_at(const diff_world *w, int slot, const void *p)
{
    int i;
    for (i = 0; i < w->nrec; i++)
        if (w->rec[i].state == DIFF_LIVE && w->rec[i].slot == slot && (const void *)w->rec[i].p == p)
            return i;
    return -1;
}

/* The record (live or marked free) of environment slot whose usable bytes hold p, or -1. */
static int diff_holding(const diff_world *w, int slot, const void *p)
{
    uintptr_t q = (uintptr_t)p;
    int i;
    for (i = 0; i < w->nrec; i++) {
        const diff_block *b = &w->rec[i];
        if (b->state != DIFF_EMPTY && b->slot == slot && q >= (uintptr_t)b->p && q - (uintptr_t)b->p < b->usable)
            return i;
    }
    return -1;
}

/* The usable size of a fresh block of `size` bytes: the granules asked, with SM_RECYCLE at least
   room for the link of a free list. */
static size_t diff_need(const diff_world *w, int slot, size_t size)
{
    size_t n = TC_ROUND(size), link = TC_ROUND(2 * sizeof(void *));
    return (w->env[slot].flags & SM_RECYCLE) && n < link ? link : n;
}

static sm_stats diff_stats(diff_world *w, int slot)
{
    sm_stats s;
    sm_status st = sm_env_stats(w->env[slot].env, &s);
    if (!DIFF_STATUS(w, "sm_env_stats", st, SM_OK))
        memset(&s, 0, sizeof s);
    return s;
}

/* After a call that must have changed nothing in environment slot: its figures are as before
   (the peak may have risen: memory obtained and given back on the way to a failure was held),
   and so are its counting allocator's. */
static void diff_unchanged(diff_world *w, int slot, const sm_stats *before, size_t tc_before, const char *call)
{
    sm_stats s = diff_stats(w, slot);
    int tc = w->env[slot].tc;
    DIFF_CHECK(w, s.live_blocks == before->live_blocks && s.live_bytes == before->live_bytes &&
                  s.freed_blocks == before->freed_blocks && s.freed_bytes == before->freed_bytes &&
                  s.backing_bytes == before->backing_bytes && s.chunks == before->chunks &&
                  s.backing_peak >= before->backing_peak,
               "%s changed the figures of env %d: live %lu/%lu -> %lu/%lu, marked free %lu/%lu -> "
               "%lu/%lu, backing %lu -> %lu, chunks %lu -> %lu", call, slot,
               (unsigned long)before->live_blocks, (unsigned long)before->live_bytes,
               (unsigned long)s.live_blocks, (unsigned long)s.live_bytes,
               (unsigned long)before->freed_blocks, (unsigned long)before->freed_bytes,
               (unsigned long)s.freed_blocks, (unsigned long)s.freed_bytes,
               (unsigned long)before->backing_bytes, (unsigned long)s.backing_bytes,
               (unsigned long)before->chunks, (unsigned long)s.chunks);
    if (tc >= 0)
        DIFF_CHECK(w, w->tc[tc].live_bytes == tc_before, "%s changed what the backing allocator holds: %lu -> %lu",
                   call, (unsigned long)tc_before, (unsigned long)w->tc[tc].live_bytes);
}

static size_t diff_tc_live(const diff_world *w, int slot)
{
    return w->env[slot].tc >= 0 ? w->tc[w->env[slot].tc].live_bytes : 0;
}

/* sm_env_describe of record i's start: what it says must be the record's site; for a live block
   its start and liveness (its usable size is returned), for a marked-free one that it still is
   one, of the same size, or SM_INVALID_ARG when it was reclaimed (then the model forgets it). */
static size_t diff_describe_start(diff_world *w, int i, const char *call)
{
    diff_block *b = &w->rec[i];
    int live = b->state == DIFF_LIVE;
    int site = (w->env[b->slot].flags & SM_TRACK) ? b->site : DIFF_SITE_NONE;
    sm_block_info info;
    sm_status st;
    memset(&info, 0, sizeof info);
    st = sm_env_describe(w->env[b->slot].env, b->p, &info);
    if (!live && st == SM_INVALID_ARG) {
        diff_forget(w, i);
        return 0;
    }
    if (!DIFF_STATUS(w, "sm_env_describe", st, SM_OK))
        return b->usable;
    DIFF_CHECK(w, info.start == (void *)b->p && info.live == live && info.size >= TC_ROUND(b->size) &&
                  info.size % TC_GRAIN == 0 && (live || info.size == b->usable),
               "sm_env_describe of the %s block at %p of env %d (%lu bytes asked, %lu usable) after %s: "
               "start %p, size %lu, live %d", live ? "live" : "marked-free", (void *)b->p, b->slot,
               (unsigned long)b->size, (unsigned long)b->usable, call, info.start, (unsigned long)info.size,
               info.live);
    DIFF_CHECK(w, info.file == diff_site_file[site] && info.line == diff_site_line[site],
               "sm_env_describe of the block at %p of env %d: site (%s, %d), expected (%s, %d)", (void *)b->p,
               b->slot, info.file ? info.file : "NULL", info.line,
               diff_site_file[site] ? diff_site_file[site] : "NULL", diff_site_line[site]);
    return info.size;
}

/* The memory [p, p + n) now belongs to live record self: no other live block may share a byte
   of it, and the marked-free blocks there were reclaimed and their memory reused. One that
   started there and was longer was cut (SM_RECYCLE): the rest is a marked-free block. */
static void diff_claim(diff_world *w, int self, const unsigned char *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    int i;
    for (i = 0; i < w->nrec; i++) {
        const diff_block *b = &w->rec[i];
        uintptr_t s = (uintptr_t)b->p;
        if (i == self || b->state == DIFF_EMPTY || !(a < s + b->usable && s < a + n))
            continue;
        if (b->state == DIFF_FREED && s == a && s + b->usable > a + n) {
            w->rec[i].p += n;
            w->rec[i].usable -= n;
            w->rec[i].size = w->rec[i].usable;
        } else if (b->state == DIFF_FREED)
            diff_forget(w, i);
        else
            diff_fail(w, __LINE__, "the block at %p (env %d, %lu usable bytes) overlaps the live block at %p "
                      "(env %d, %lu usable bytes)", (const void *)p, w->rec[self].slot, (unsigned long)n,
                      (void *)b->p, b->slot, (unsigned long)b->usable);
    }
}

/* A block just handed out to environment slot: checked (alignment, sm_env_describe, overlap),
   recorded and filled with a new pattern. The caller made sure there is room. */
static int diff_add(diff_world *w, int slot, void *ptr, size_t size, size_t align, int site, const char *call)
{
    int i = diff_new_record(w);
    diff_block *b = &w->rec[i];
    b->state = DIFF_LIVE;
    b->slot = slot;
    b->p = (unsigned char *)ptr;
    b->size = size;
    b->usable = TC_ROUND(size);
    b->seed = ++w->next_seed;
    b->site = site;
    DIFF_CHECK(w, (uintptr_t)b->p % align == 0, "%s returned %p, not aligned to %lu", call, ptr, (unsigned long)align);
    b->usable = diff_describe_start(w, i, call);
    if (!(w->env[slot].flags & SM_RECYCLE))
        DIFF_CHECK(w, b->usable == TC_ROUND(size), "%s(%lu): a usable size of %lu, expected %lu", call,
                   (unsigned long)size, (unsigned long)b->usable, (unsigned long)TC_ROUND(size));
    diff_claim(w, i, b->p, b->usable);
    tu_fill(b->p, size, b->seed);
    return i;
}

/* Record i was just marked free. In the threaded run, a block whose memory went back at once
   (a thread's last large block takes its chunk with it) may already serve another thread's
   environment, which unpoisons it: there only a block still marked free in its environment
   must be poisoned. */
static void diff_marked_free(diff_world *w, int i, const char *call)
{
    int slot = w->rec[i].slot;
    unsigned char *p = w->rec[i].p;
    w->rec[i].state = DIFF_FREED;
    (void)diff_describe_start(w, i, call);
#ifdef TU_ASAN
    if ((w->env[slot].flags & SM_POISON) && (w->thread < 0 || w->rec[i].state == DIFF_FREED))
        DIFF_CHECK(w, __asan_address_is_poisoned(p), "SM_POISON: the block at %p is not poisoned after %s",
                   (void *)p, call);
#else
    (void)slot;
    (void)p;
#endif
}

static int diff_intact(const diff_world *w, int slot)
{
    int i;
    for (i = 0; i < w->nrec; i++)
        if (w->rec[i].state == DIFF_LIVE && w->rec[i].slot == slot &&
            !tu_check(w->rec[i].p, w->rec[i].size, w->rec[i].seed))
            return 0;
    return 1;
}

static void diff_check_block(diff_world *w, int i, const char *when)
{
    const diff_block *b = &w->rec[i];
    DIFF_CHECK(w, tu_check(b->p, b->size, b->seed), "%s: the live block at %p (env %d, %lu bytes) lost its contents",
               when, (void *)b->p, b->slot, (unsigned long)b->size);
}

/* sm_env_stats of environment slot against the model. */
static void diff_check_stats(diff_world *w, int slot)
{
    size_t live = 0, live_bytes = 0, freed = 0, freed_bytes = 0;
    sm_stats s;
    int i;
    for (i = 0; i < w->nrec; i++)
        if (w->rec[i].state == DIFF_FREED && w->rec[i].slot == slot)
            (void)diff_describe_start(w, i, "sm_env_stats");
    for (i = 0; i < w->nrec; i++) {
        const diff_block *b = &w->rec[i];
        if (b->slot != slot || b->state == DIFF_EMPTY)
            continue;
        if (b->state == DIFF_LIVE) {
            live++;
            live_bytes += b->usable;
        } else {
            freed++;
            freed_bytes += b->usable;
        }
    }
    s = diff_stats(w, slot);
    DIFF_CHECK(w, s.live_blocks == live && s.live_bytes == live_bytes && s.freed_blocks == freed &&
                  s.freed_bytes == freed_bytes,
               "sm_env_stats of env %d: live %lu blocks, %lu bytes, marked free %lu, %lu; the model: %lu, %lu, %lu, %lu",
               slot, (unsigned long)s.live_blocks, (unsigned long)s.live_bytes, (unsigned long)s.freed_blocks,
               (unsigned long)s.freed_bytes, (unsigned long)live, (unsigned long)live_bytes, (unsigned long)freed,
               (unsigned long)freed_bytes);
    DIFF_CHECK(w, s.backing_peak >= s.backing_bytes && (live + freed == 0 || s.chunks > 0),
               "sm_env_stats of env %d: backing %lu, peak %lu, %lu chunks", slot, (unsigned long)s.backing_bytes,
               (unsigned long)s.backing_peak, (unsigned long)s.chunks);
}

/* Counting allocator k holds what the environments using it say they hold, and was never given
   back a block with a wrong size. */
static void diff_check_backing(diff_world *w, int k)
{
    size_t held = 0;
    int s;
    for (s = 0; s < DIFF_SLOTS; s++)
        if (w->env[s].env && w->env[s].tc == k)
            held += diff_stats(w, s).backing_bytes;
    DIFF_CHECK(w, held == w->tc[k].live_bytes && w->tc[k].bad_frees == 0,
               "counting allocator %d holds %lu bytes, its environments say %lu; %lu bad frees", k,
               (unsigned long)w->tc[k].live_bytes, (unsigned long)held, (unsigned long)w->tc[k].bad_frees);
}

/* Every live block holds its pattern, none overlaps another, every environment's figures and
   every counting allocator agree with the model. */
static void diff_check_all(diff_world *w)
{
    static const char when[] = "checking every block";
    tu_range r[DIFF_RECORDS];
    size_t n = 0;
    int i, s, k;
    for (i = 0; i < w->nrec; i++) {
        if (w->rec[i].state != DIFF_LIVE)
            continue;
        diff_check_block(w, i, when);
        r[n].start = (uintptr_t)w->rec[i].p;
        r[n].size = w->rec[i].usable;
        n++;
    }
    DIFF_CHECK(w, tu_no_overlap(r, n), "two live blocks overlap");
    for (s = 0; s < DIFF_SLOTS; s++)
        if (w->env[s].env)
            diff_check_stats(w, s);
    for (k = 0; k < DIFF_TCS; k++)
        diff_check_backing(w, k);
}

/* ------------------------------------------------------------------------------------------ */
/* Cleanups and the end of environments                                                      */
/* ------------------------------------------------------------------------------------------ */

static void diff_cleanup(void *data)
{
    const diff_cleanup_data *d = (const diff_cleanup_data *)data;
    diff_world *w = d->w;
    if (w->nran < DIFF_LOG) {
        w->ran[w->nran].slot = d->slot;
        w->ran[w->nran].tag = d->tag;
        w->ran[w->nran].intact = diff_intact(w, d->slot);
    }
    w->nran++;
}

static void diff_expect_destroy(const diff_world *w, int slot, diff_ran *want, int *n);

/* What the end of environment slot's children runs, appended to want: each child, last created
   first, as its own destroy. */
static void diff_expect_children(const diff_world *w, int slot, diff_ran *want, int *n)
{
    unsigned long before = ULONG_MAX;
    for (;;) {
        int c = -1, s;
        for (s = DIFF_FIRST_CHILD; s < DIFF_FIRST_ENABLED; s++)
            if (w->env[s].env && w->env[s].parent == slot && w->env[s].born < before &&
                (c < 0 || w->env[s].born > w->env[c].born))
                c = s;
        if (c < 0)
            return;
        diff_expect_destroy(w, c, want, n);
        before = w->env[c].born;
    }
}

/* What destroying (or resetting) environment slot runs: its children first, then its own
   cleanups, last added first. */
static void diff_expect_destroy(const diff_world *w, int slot, diff_ran *want, int *n)
{
    int k;
    diff_expect_children(w, slot, want, n);
    for (k = w->env[slot].ncl - 1; k >= 0 && *n < DIFF_LOG; k--) {
        want[*n].slot = slot;
        want[*n].tag = w->env[slot].cl[k];
        want[*n].intact = 1;
        (*n)++;
    }
}

/* The cleanups that ran are the n expected, in that order, and each found its blocks intact. */
static void diff_check_ran(diff_world *w, const diff_ran *want, int n, const char *call)
{
    int k, same = w->nran == n;
    for (k = 0; same && k < n; k++)
        same = w->ran[k].slot == want[k].slot && w->ran[k].tag == want[k].tag && w->ran[k].intact;
    if (!same) {
        diff_fail(w, __LINE__, "%s ran %d cleanups, expected %d (below), each finding its blocks intact", call,
                  w->nran, n);
        for (k = 0; k < w->nran && k < DIFF_LOG; k++)
            fprintf(stderr, "    ran: env %d, tag %d%s\n", w->ran[k].slot, w->ran[k].tag,
                    w->ran[k].intact ? "" : " (its blocks had changed)");
        for (k = 0; k < n; k++)
            fprintf(stderr, "    expected: env %d, tag %d\n", want[k].slot, want[k].tag);
    }
    w->nran = 0;
}

/* Environment slot and its descendants are gone: the model forgets them and their blocks. */
static void diff_gone(diff_world *w, int slot)
{
    int s, i;
    for (s = DIFF_FIRST_CHILD; s < DIFF_FIRST_ENABLED; s++)
        if (w->env[s].env && w->env[s].parent == slot)
            diff_gone(w, s);
    for (i = 0; i < w->nrec; i++)
        if (w->rec[i].state != DIFF_EMPTY && w->rec[i].slot == slot)
            diff_bury(w, i);
    memset(&w->env[slot], 0, sizeof w->env[slot]);
    w->env[slot].parent = -1;
    w->env[slot].tc = -1;
}

/* A stale handle is refused and changes nothing. */
static void diff_check_stale(diff_world *w, sm_thread_handle stale)
{
    sm_thread_handle h = sm_get_thread_handle(NULL);
    DIFF_STATUS(w, "sm_set_thread_handle(the handle of a destroyed environment)", sm_set_thread_handle(stale),
                SM_INVALID_HANDLE);
    DIFF_CHECK(w, sm_get_thread_handle(NULL) == h, "a refused sm_set_thread_handle changed the current environment");
}

static void diff_destroy(diff_world *w, int slot)
{
    diff_ran want[DIFF_LOG];
    int n = 0, tc = w->env[slot].tc, parent = w->env[slot].parent;
    sm_thread_handle handle = w->env[slot].handle;
    diff_expect_destroy(w, slot, want, &n);
    w->nran = 0;
    DIFF_STATUS(w, "sm_env_destroy", sm_env_destroy(w->env[slot].env), SM_OK);
    diff_check_ran(w, want, n, "sm_env_destroy");
    diff_gone(w, slot);
    if (tc >= 0)
        diff_check_backing(w, tc);
    if (parent >= 0)
        diff_check_stats(w, parent);
    diff_check_stale(w, handle);
}

/* ------------------------------------------------------------------------------------------ */
/* Creating environments                                                                      */
/* ------------------------------------------------------------------------------------------ */

static size_t diff_chunk_size(diff_world *w)
{
    static const size_t sizes[] = { 0, 100, 4096, 16384 };
    return sizes[diff_below(w, 4)];
}

/* Now and then a configuration that must be refused first: one of alloc and free without the
   other, an unknown flag, a report function without SM_TRACK. */
static void diff_refused_config(diff_world *w, const sm_config *cfg, int child_of)
{
    sm_config bad = *cfg;
    sm_status st = SM_OK;
    sm_env *env;
    switch (diff_below(w, 24)) {
    case 0: bad.alloc = tc_alloc_fn; bad.free = NULL; break;
    case 1: bad.flags |= 8u; break;
    case 2: bad.flags &= ~(unsigned)SM_TRACK; bad.report = tu_report_fn; break;
    default: return;
    }
    env = child_of >= 0 ? sm_env_create_child(w->env[child_of].env, &bad, &st) : sm_env_create(&bad, &st);
    DIFF_CHECK(w, env == NULL, "an invalid configuration was accepted");
    DIFF_STATUS(w, "creating with an invalid configuration", st, SM_INVALID_ARG);
    if (env)
        (void)sm_env_destroy(env);
}

/* Root slot: plain with a counting allocator (0), random flags with malloc (1, 3) or with a
   counting allocator (2). */
static void op_create_root(diff_world *w, int slot)
{
    diff_env *v = &w->env[slot];
    int counted = slot % 2 == 0;
    unsigned flags = slot == 0 ? 0u : diff_below(w, 8);
    size_t chunk = diff_chunk_size(w), tc_before = w->tc[slot].live_bytes;
    sm_config cfg;
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env;
    w->what = "sm_env_create";
    if (counted) {
        cfg = tc_config(&w->tc[slot], chunk);
    } else {
        memset(&cfg, 0, sizeof cfg);
        cfg.chunk_size = chunk;
    }
    cfg.flags = flags;
    diff_refused_config(w, &cfg, -1);
    env = sm_env_create(&cfg, &st);
    if (!env) {
        diff_expect_refusal(w, "sm_env_create", st);
        DIFF_CHECK(w, w->tc[slot].live_bytes == tc_before, "a failed sm_env_create kept memory");
        return;
    }
    DIFF_STATUS(w, "sm_env_create", st, SM_OK);
    v->env = env;
    v->handle = sm_env_handle(env);
    v->flags = flags;
    v->tc = counted ? slot : -1;
    v->parent = -1;
    v->born = ++w->born;
    v->ncl = 0;
    DIFF_CHECK(w, v->handle != NULL, "a new environment's handle is NULL");
    diff_check_stats(w, slot);
}

static void op_create_child(diff_world *w)
{
    int slot, parent, inherit;
    sm_config cfg;
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env;
    size_t tc_before;
    w->what = "sm_env_create_child";
    for (slot = DIFF_FIRST_CHILD; slot < DIFF_FIRST_ENABLED && w->env[slot].env; slot++)
        ;
    parent = diff_pick_slot(w, 0, DIFF_FIRST_ENABLED);
    inherit = diff_below(w, 2) == 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.chunk_size = diff_chunk_size(w);
    cfg.flags = diff_below(w, 8);
    if (slot == DIFF_FIRST_ENABLED || parent < 0)
        return;
    if (diff_below(w, 16) == 0) {
        DIFF_CHECK(w, sm_env_create_child(NULL, NULL, &st) == NULL, "sm_env_create_child(NULL parent) gave a child");
        DIFF_STATUS(w, "sm_env_create_child(NULL parent)", st, SM_INVALID_ARG);
    }
    if (!inherit)
        diff_refused_config(w, &cfg, parent);
    tc_before = diff_tc_live(w, parent);
    env = sm_env_create_child(w->env[parent].env, inherit ? NULL : &cfg, &st);
    if (!env) {
        diff_expect_refusal(w, "sm_env_create_child", st);
        DIFF_CHECK(w, diff_tc_live(w, parent) == tc_before, "a failed sm_env_create_child kept memory");
        return;
    }
    DIFF_STATUS(w, "sm_env_create_child", st, SM_OK);
    w->env[slot].env = env;
    w->env[slot].handle = sm_env_handle(env);
    w->env[slot].flags = inherit ? w->env[parent].flags : cfg.flags;
    w->env[slot].tc = inherit ? w->env[parent].tc : -1;
    w->env[slot].parent = parent;
    w->env[slot].born = ++w->born;
    w->env[slot].ncl = 0;
    diff_check_stats(w, slot);
}

/* ------------------------------------------------------------------------------------------ */
/* Allocating                                                                                 */
/* ------------------------------------------------------------------------------------------ */

enum { DIFF_PLAIN, DIFF_ALIGNED, DIFF_AT, DIFF_ZEROED };

static void *diff_call_allocate(diff_world *w, int slot, int how, size_t count, size_t size, size_t align,
                                int site, sm_status *st)
{
    sm_env *env = w->env[slot].env;
    int implicit = diff_is_current(w, slot) && diff_below(w, 4) != 0;
    switch (how) {
    case DIFF_ALIGNED:
        return implicit ? sm_allocate_aligned(size, align, st) : sm_env_allocate_aligned(env, size, align, st);
    case DIFF_AT:
        return implicit ? sm_allocate_at(size, st, diff_site_file[site], diff_site_line[site])
                        : sm_env_allocate_at(env, size, st, diff_site_file[site], diff_site_line[site]);
    case DIFF_ZEROED:
        return sm_env_allocate_zeroed(env, count, size, st);
    default:
        return implicit ? sm_allocate(size, st) : sm_env_allocate(env, size, st);
    }
}

/* Calls that must be refused: no environment, an alignment that is not a power of two, a size
   or a count * size that overflows (without asking the backing allocator). */
static void diff_allocate_refused(diff_world *w, int slot)
{
    sm_env *env = w->env[slot].env;
    sm_stats before = diff_stats(w, slot);
    size_t tc_before = diff_tc_live(w, slot), calls = w->env[slot].tc >= 0 ? w->tc[w->env[slot].tc].calls : 0;
    unsigned how = diff_below(w, 4), small = diff_below(w, 64);
    size_t size = diff_size(w), bad_align = small % 2 ? 0 : 24 + 16 * (small % 8);
    sm_status st = SM_OK;
    void *p;
    switch (how) {
    case 0:
        p = sm_env_allocate(NULL, size, &st);
        DIFF_STATUS(w, "sm_env_allocate(NULL env)", st, SM_INVALID_ARG);
        break;
    case 1:
        p = sm_env_allocate_aligned(env, size, bad_align, &st);
        DIFF_STATUS(w, "sm_env_allocate_aligned(an alignment not a power of two)", st, SM_INVALID_ARG);
        break;
    case 2:
        p = sm_env_allocate(env, SIZE_MAX - small, &st);
        DIFF_STATUS(w, "sm_env_allocate(a size that overflows)", st, SM_OUT_OF_MEMORY);
        break;
    default:
        p = sm_env_allocate_zeroed(env, SIZE_MAX / 16 + small, 16 + small, &st);
        DIFF_STATUS(w, "sm_env_allocate_zeroed(a product that overflows)", st, SM_OUT_OF_MEMORY);
        if (w->env[slot].tc >= 0)
            DIFF_CHECK(w, w->tc[w->env[slot].tc].calls == calls,
                       "an overflowing count * size reached the backing allocator");
        break;
    }
    DIFF_CHECK(w, p == NULL, "a call that must fail returned a block");
    diff_unchanged(w, slot, &before, tc_before, "a refused allocation");
}

static void op_allocate(diff_world *w)
{
    static const size_t aligns[] = { 8, 16, 32, 64, 256, 4096 };
    int slot = diff_pick_slot(w, 0, DIFF_SLOTS), how, site = DIFF_SITE_NONE;
    unsigned r = diff_below(w, 16);
    size_t size = diff_size(w), count = 1, align = TC_GRAIN;
    size_t tc_before;
    sm_stats before;
    sm_status st = SM_INVALID_HANDLE;
    unsigned char *p;
    w->what = "allocate";
    if (slot < 0 || !diff_has_room(w))
        return;
    if (r == 0) {
        diff_allocate_refused(w, slot);
        return;
    }
    how = r < 10 ? DIFF_PLAIN : r < 12 ? DIFF_ALIGNED : r < 14 ? DIFF_AT : DIFF_ZEROED;
    if (how == DIFF_ALIGNED) {
        align = aligns[diff_below(w, 6)];
        if (align < TC_GRAIN)
            align = TC_GRAIN;
    } else if (how == DIFF_AT) {
        site = 1 + (int)diff_below(w, DIFF_SITES - 1);
    } else if (how == DIFF_ZEROED) {
        count = 1 + diff_below(w, 8);
        size /= count;
    }
    before = diff_stats(w, slot);
    tc_before = diff_tc_live(w, slot);
    p = (unsigned char *)diff_call_allocate(w, slot, how, count, size, align, site, &st);
    if (!p) {
        diff_expect_refusal(w, "allocate", st);
        diff_unchanged(w, slot, &before, tc_before, "a failed allocation");
        return;
    }
    DIFF_STATUS(w, "allocate", st, SM_OK);
    if (how == DIFF_ZEROED) {
        size_t k;
        for (k = 0; k < count * size && p[k] == 0; k++)
            ;
        DIFF_CHECK(w, k == count * size, "sm_env_allocate_zeroed: byte %lu of %lu is not 0", (unsigned long)k,
                   (unsigned long)(count * size));
    }
    (void)diff_add(w, slot, p, count * size, align, site, "allocate");
}

/* ------------------------------------------------------------------------------------------ */
/* Marking free                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* A pointer inside live block i, not its start: often at a granule, where a block could start. */
static unsigned char *diff_interior(diff_world *w, int i)
{
    size_t u = w->rec[i].usable, off;
    if (u >= 2 * TC_GRAIN && diff_below(w, 2))
        off = TC_GRAIN * (1 + diff_below(w, (unsigned)(u / TC_GRAIN - 1)));
    else
        off = 1 + diff_below(w, (unsigned)(u - 1));
    return w->rec[i].p + off;
}

/* Mark-free through the environment's name, or through sm_free when it is current. */
static sm_status diff_call_free(diff_world *w, int slot, void *p)
{
    if (diff_is_current(w, slot) && diff_below(w, 4) != 0)
        return sm_free(p);
    return sm_env_free(w->env[slot].env, p);
}

static void op_free(diff_world *w)
{
    int i = diff_pick(w, DIFF_LIVE, -1);
    w->what = "mark-free";
    if (i < 0)
        return;
    diff_check_block(w, i, "before mark-free");
    if (DIFF_STATUS(w, "mark-free of a live block", diff_call_free(w, w->rec[i].slot, w->rec[i].p), SM_OK))
        diff_marked_free(w, i, "mark-free");
}

/* A pointer that is not the start of a live block of the environment it is given to: refused
   with SM_INVALID_ARG, and nothing changes (NULL: SM_OK). */
static void op_free_invalid(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_SLOTS), i = -1, null_env = 0;
    sm_status want = SM_INVALID_ARG;
    const char *what;
    unsigned char *p = NULL;
    size_t tc_before;
    sm_stats before;
    w->what = "mark-free of what is not a live block";
    if (slot < 0)
        return;
    switch (diff_below(w, 7)) {
    case 0:
        what = "an interior pointer";
        if ((i = diff_pick(w, DIFF_LIVE, slot)) >= 0)
            p = diff_interior(w, i);
        break;
    case 1:
        what = "a block marked free already";
        if ((i = diff_pick(w, DIFF_FREED, slot)) >= 0)
            p = w->rec[i].p;
        i = -1;
        break;
    case 2:
        what = "a live block of another environment";
        i = diff_pick(w, DIFF_LIVE, -1);
        if (i >= 0 && w->rec[i].slot != slot)
            p = w->rec[i].p;
        break;
    case 3:
        what = "a block of a destroyed or reset environment";
        if (w->ndead)
            p = (unsigned char *)w->dead[diff_below(w, w->ndead < DIFF_DEAD ? w->ndead : DIFF_DEAD)];
        if (diff_live_at(w, slot, p) >= 0)
            p = NULL;
        break;
    case 4:
        what = "memory no environment owns";
        p = w->foreign + diff_below(w, sizeof w->foreign);
        break;
    case 5:
        what = "a live block, with env NULL";
        if ((i = diff_pick(w, DIFF_LIVE, -1)) >= 0)
            p = w->rec[i].p;
        null_env = 1;
        break;
    default:
        what = "NULL";
        want = SM_OK;
        break;
    }
    if (!p && want != SM_OK)
        return;
    w->what = what;
    before = diff_stats(w, slot);
    tc_before = diff_tc_live(w, slot);
    DIFF_STATUS(w, "mark-free", null_env ? sm_env_free(NULL, p) : diff_call_free(w, slot, p), want);
    diff_unchanged(w, slot, &before, tc_before, "a refused mark-free");
    if (i >= 0)
        diff_check_block(w, i, "after a refused mark-free");
}

/* ------------------------------------------------------------------------------------------ */
/* Reallocating, describing, copying                                                          */
/* ------------------------------------------------------------------------------------------ */

static void *diff_call_reallocate(diff_world *w, int slot, void *p, size_t old_size, size_t new_size, sm_status *st)
{
    if (diff_is_current(w, slot) && diff_below(w, 4) != 0)
        return sm_reallocate(p, old_size, new_size, st);
    return sm_env_reallocate(w->env[slot].env, p, old_size, new_size, st);
}

/* A node that is not a live block of the environment, or an old size past its usable size:
   NULL + SM_INVALID_ARG, nothing changed. */
static void diff_reallocate_refused(diff_world *w, int slot)
{
    int i = -1;
    unsigned char *p = NULL;
    size_t old_size = 0, tc_before = diff_tc_live(w, slot);
    sm_stats before = diff_stats(w, slot);
    sm_status st = SM_OK;
    switch (diff_below(w, 3)) {
    case 0:
        w->what = "reallocate an interior pointer";
        if ((i = diff_pick(w, DIFF_LIVE, slot)) >= 0)
            p = diff_interior(w, i);
        break;
    case 1:
        w->what = "reallocate with an old size past the usable size";
        if ((i = diff_pick(w, DIFF_LIVE, slot)) >= 0) {
            p = w->rec[i].p;
            old_size = w->rec[i].usable + 1 + diff_below(w, 64);
        }
        break;
    default:
        w->what = "reallocate a block marked free";
        if ((i = diff_pick(w, DIFF_FREED, slot)) >= 0)
            p = w->rec[i].p;
        i = -1;
        break;
    }
    if (!p)
        return;
    DIFF_CHECK(w, diff_call_reallocate(w, slot, p, old_size, diff_size(w), &st) == NULL,
               "%s gave a block", w->what);
    DIFF_STATUS(w, w->what, st, SM_INVALID_ARG);
    diff_unchanged(w, slot, &before, tc_before, w->what);
    if (i >= 0)
        diff_check_block(w, i, "after a refused reallocation");
}

static void op_reallocate(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_SLOTS), i;
    unsigned how = diff_below(w, 8);
    size_t new_size, tc_before, kept;
    diff_block old;
    sm_stats before;
    sm_status st = SM_INVALID_HANDLE;
    unsigned char *q;
    w->what = "reallocate";
    if (slot < 0 || !diff_has_room(w))
        return;
    if (how == 0) {
        diff_reallocate_refused(w, slot);
        return;
    }
    if (how == 1) {
        /* node NULL allocates */
        new_size = diff_size(w);
        q = (unsigned char *)diff_call_reallocate(w, slot, NULL, 0, new_size, &st);
        if (!q)
            diff_expect_refusal(w, "reallocate(NULL)", st);
        else if (DIFF_STATUS(w, "reallocate(NULL)", st, SM_OK))
            (void)diff_add(w, slot, q, new_size, TC_GRAIN, DIFF_SITE_NONE, "reallocate(NULL)");
        return;
    }
    if ((i = diff_pick(w, DIFF_LIVE, slot)) < 0)
        return;
    old = w->rec[i];
    switch (how) {
    case 2: case 3: new_size = diff_below(w, (unsigned)old.size + 1); break;           /* shrink */
    case 4: case 5: new_size = old.size + diff_below(w, 64); break;                      /* grow a little */
    case 6: new_size = old.size + diff_below(w, 8192); break;
    default: new_size = diff_size(w); break;
    }
    before = diff_stats(w, slot);
    tc_before = diff_tc_live(w, slot);
    q = (unsigned char *)diff_call_reallocate(w, slot, old.p, old.size, new_size, &st);
    if (!q) {
        diff_expect_refusal(w, "reallocate", st);
        diff_unchanged(w, slot, &before, tc_before, "a failed reallocation");
        diff_check_block(w, i, "after a failed reallocation");
        return;
    }
    DIFF_STATUS(w, "reallocate", st, SM_OK);
    DIFF_CHECK(w, q == old.p || diff_need(w, slot, new_size) > old.usable,
               "reallocate %p from %lu to %lu bytes (usable %lu) moved it to %p: it fits, so it stays in place",
               (void *)old.p, (unsigned long)old.size, (unsigned long)new_size, (unsigned long)old.usable, (void *)q);
    kept = old.size < new_size ? old.size : new_size;
    DIFF_CHECK(w, tu_check(q, kept, old.seed), "reallocate %p (%lu -> %lu bytes) to %p: the first %lu bytes "
               "are not the old block's", (void *)old.p, (unsigned long)old.size, (unsigned long)new_size,
               (void *)q, (unsigned long)kept);
    if (q == old.p) {
        diff_block *b = &w->rec[i];
        b->size = new_size;
        b->seed = ++w->next_seed;
        b->usable = diff_describe_start(w, i, "reallocate in place");
        diff_claim(w, i, b->p, b->usable);
        tu_fill(b->p, new_size, b->seed);
        return;
    }
    (void)diff_add(w, slot, q, new_size, TC_GRAIN, old.site, "reallocate");
    diff_marked_free(w, i, "reallocate (the old block)");
}

static void op_describe(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_SLOTS), i;
    unsigned how = diff_below(w, 4);
    const unsigned char *q = NULL;
    sm_block_info info;
    w->what = "sm_env_describe";
    if (slot < 0)
        return;
    if (how == 0) {
        if ((i = diff_pick(w, DIFF_LIVE, slot)) < 0)
            return;
        q = w->rec[i].p + diff_below(w, (unsigned)w->rec[i].usable);
        memset(&info, 0, sizeof info);
        DIFF_STATUS(w, "sm_env_describe inside a live block", sm_env_describe(w->env[slot].env, q, &info), SM_OK);
        DIFF_CHECK(w, info.start == (void *)w->rec[i].p && info.size == w->rec[i].usable && info.live == 1,
                   "sm_env_describe(%p) inside the live block at %p (%lu usable bytes): start %p, size %lu, live %d",
                   (const void *)q, (void *)w->rec[i].p, (unsigned long)w->rec[i].usable, info.start,
                   (unsigned long)info.size, info.live);
    } else if (how == 1) {
        if ((i = diff_pick(w, DIFF_FREED, slot)) >= 0)
            (void)diff_describe_start(w, i, "sm_env_describe");
    } else {
        /* a block of another environment, of a destroyed one, or memory nobody owns */
        if (how == 2 && (i = diff_pick(w, DIFF_LIVE, -1)) >= 0 && w->rec[i].slot != slot)
            q = w->rec[i].p + diff_below(w, (unsigned)w->rec[i].usable);
        else if (how == 3 && w->ndead)
            q = (const unsigned char *)w->dead[diff_below(w, w->ndead < DIFF_DEAD ? w->ndead : DIFF_DEAD)];
        else
            q = w->foreign + diff_below(w, sizeof w->foreign);
        if (diff_holding(w, slot, q) >= 0)
            return;
        DIFF_STATUS(w, "sm_env_describe of a pointer the environment does not own",
                    sm_env_describe(w->env[slot].env, q, &info), SM_INVALID_ARG);
    }
}

/* strdup, strndup, memdup and printf: an ordinary block of the length asked with the right
   contents; a NULL source is refused. */
static void op_copy(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_SLOTS), i = -1;
    unsigned how = diff_below(w, 5);
    size_t len = diff_below(w, 8) ? diff_below(w, 80) : diff_below(w, DIFF_TEXT);
    size_t start = diff_below(w, (unsigned)(DIFF_TEXT - len) + 1), n = diff_below(w, (unsigned)len + 16);
    size_t want_size = 0, tc_before;
    char expect[DIFF_TEXT + 64];
    const char *call;
    sm_stats before;
    sm_status st = SM_INVALID_HANDLE;
    sm_env *env;
    char *p;
    w->what = "string and memory copies";
    if (slot < 0 || !diff_has_room(w))
        return;
    env = w->env[slot].env;
    memcpy(w->scratch, w->text + start, len);
    w->scratch[len] = '\0';
    before = diff_stats(w, slot);
    tc_before = diff_tc_live(w, slot);
    switch (how) {
    case 0:
        call = "sm_env_strdup";
        p = sm_env_strdup(env, w->scratch, &st);
        want_size = len + 1;
        memcpy(expect, w->scratch, want_size);
        break;
    case 1:
        call = "sm_env_strndup";
        p = sm_env_strndup(env, w->scratch, n, &st);
        want_size = (n < len ? n : len) + 1;
        memcpy(expect, w->scratch, want_size - 1);
        expect[want_size - 1] = '\0';
        break;
    case 2:
        call = "sm_env_memdup";
        if ((i = diff_pick(w, DIFF_LIVE, -1)) < 0)
            return;
        want_size = w->rec[i].size;
        p = (char *)sm_env_memdup(env, w->rec[i].p, want_size, &st);
        break;
    case 3:
        call = "sm_env_printf";
        p = sm_env_printf(env, &st, "%s|%u|%lu", w->scratch, w->seed, w->op);
        snprintf(expect, sizeof expect, "%s|%u|%lu", w->scratch, w->seed, w->op);
        want_size = strlen(expect) + 1;
        break;
    default:
        call = "sm_env_strdup(NULL)";
        p = sm_env_strdup(env, NULL, &st);
        DIFF_CHECK(w, p == NULL, "sm_env_strdup(NULL) gave a block");
        DIFF_STATUS(w, call, st, SM_INVALID_ARG);
        diff_unchanged(w, slot, &before, tc_before, call);
        return;
    }
    w->what = call;
    if (!p) {
        diff_expect_refusal(w, call, st);
        diff_unchanged(w, slot, &before, tc_before, call);
        return;
    }
    DIFF_STATUS(w, call, st, SM_OK);
    if (i >= 0)
        DIFF_CHECK(w, tu_check(p, want_size, w->rec[i].seed), "sm_env_memdup: the copy differs");
    else
        DIFF_CHECK(w, memcmp(p, expect, want_size) == 0, "%s: the copy differs", call);
    (void)diff_add(w, slot, p, want_size, TC_GRAIN, DIFF_SITE_NONE, call);
}

/* ------------------------------------------------------------------------------------------ */
/* Figures, reports, reset, destroy, cleanups                                                 */
/* ------------------------------------------------------------------------------------------ */

static void op_stats(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_SLOTS);
    w->what = "sm_env_stats";
    if (slot < 0)
        return;
    diff_check_stats(w, slot);
    if (w->env[slot].tc >= 0)
        diff_check_backing(w, w->env[slot].tc);
}

/* sm_env_report: per site, the live blocks and the bytes asked, in order of file and line. */
static void op_report(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_SLOTS), i, k, n = 0;
    tu_site want[DIFF_SITES];
    tu_report r;
    sm_status st;
    w->what = "sm_env_report";
    if (slot < 0)
        return;
    tu_report_init(&r);
    st = sm_env_report(w->env[slot].env, tu_report_fn, &r);
    if (!(w->env[slot].flags & SM_TRACK)) {
        DIFF_STATUS(w, "sm_env_report without SM_TRACK", st, SM_INVALID_ARG);
        return;
    }
    if (st != SM_OK) {
        diff_expect_refusal(w, "sm_env_report", st);
        return;
    }
    for (k = 0; k < DIFF_SITES; k++) {
        want[n].file = diff_site_file[k];
        want[n].line = diff_site_line[k];
        want[n].blocks = want[n].bytes = 0;
        for (i = 0; i < w->nrec; i++) {
            if (w->rec[i].state == DIFF_LIVE && w->rec[i].slot == slot && w->rec[i].site == k) {
                want[n].blocks++;
                want[n].bytes += w->rec[i].size;
            }
        }
        if (want[n].blocks)
            n++;
    }
    if (!tu_report_equal(__FILE__, __LINE__, &r, want, (size_t)n))
        diff_fail(w, __LINE__, "sm_env_report of env %d differs from the model (above)", slot);
}

static void op_reset(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_SLOTS), s, i, n = 0;
    diff_ran want[DIFF_LOG];
    w->what = "sm_env_reset";
    if (slot < 0)
        return;
    if (diff_below(w, 16) == 0)
        DIFF_STATUS(w, "sm_env_reset(NULL)", sm_env_reset(NULL), SM_INVALID_ARG);
    diff_expect_destroy(w, slot, want, &n);
    w->nran = 0;
    DIFF_STATUS(w, "sm_env_reset", sm_env_reset(w->env[slot].env), SM_OK);
    diff_check_ran(w, want, n, "sm_env_reset");
    for (s = DIFF_FIRST_CHILD; s < DIFF_FIRST_ENABLED; s++)
        if (w->env[s].env && w->env[s].parent == slot)
            diff_gone(w, s);
    for (i = 0; i < w->nrec; i++)
        if (w->rec[i].state != DIFF_EMPTY && w->rec[i].slot == slot)
            diff_bury(w, i);
    w->env[slot].ncl = 0;
    diff_check_stats(w, slot);
    if (w->env[slot].tc >= 0)
        diff_check_backing(w, w->env[slot].tc);
}

static void op_destroy(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_FIRST_ENABLED);
    w->what = "sm_env_destroy";
    if (diff_below(w, 16) == 0)
        DIFF_STATUS(w, "sm_env_destroy(NULL)", sm_env_destroy(NULL), SM_INVALID_ARG);
    if (slot >= 0)
        diff_destroy(w, slot);
}

/* A root slot that is empty is filled; otherwise a child is made. */
static void op_create(diff_world *w)
{
    int slot;
    for (slot = 0; slot < DIFF_ROOTS && w->env[slot].env; slot++)
        ;
    if (slot < DIFF_ROOTS)
        op_create_root(w, slot);
    else
        op_create_child(w);
}

static void op_cleanup(diff_world *w)
{
    int slot = diff_pick_slot(w, 0, DIFF_FIRST_ENABLED), tag = (int)diff_below(w, DIFF_TAGS), k;
    unsigned how = diff_below(w, 16);
    diff_env *v;
    sm_status st;
    w->what = "cleanups";
    if (slot < 0)
        return;
    v = &w->env[slot];
    if (how == 0) {
        DIFF_STATUS(w, "sm_env_add_cleanup(NULL fn)", sm_env_add_cleanup(v->env, NULL, NULL), SM_INVALID_ARG);
        DIFF_STATUS(w, "sm_env_add_cleanup(NULL env)", sm_env_add_cleanup(NULL, diff_cleanup, NULL), SM_INVALID_ARG);
    } else if (how < 10 && v->ncl < DIFF_CLEANUPS) {
        st = sm_env_add_cleanup(v->env, diff_cleanup, &w->cdata[slot][tag]);
        if (st == SM_OK)
            v->cl[v->ncl++] = tag;
        else
            diff_expect_refusal(w, "sm_env_add_cleanup", st);
    } else {
        for (k = v->ncl - 1; k >= 0 && v->cl[k] != tag; k--)
            ;
        DIFF_STATUS(w, "sm_env_remove_cleanup", sm_env_remove_cleanup(v->env, diff_cleanup, &w->cdata[slot][tag]),
                    k >= 0 ? SM_OK : SM_INVALID_ARG);
        if (k >= 0) {
            memmove(&v->cl[k], &v->cl[k + 1], (size_t)(v->ncl - k - 1) * sizeof v->cl[0]);
            v->ncl--;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The thread's environments (RpcSm*)                                                         */
/* ------------------------------------------------------------------------------------------ */

/* The current environment (sm_get_thread_handle, sm_current_env) is the one enabled last, or
   there is none. */
static void diff_check_current(diff_world *w)
{
    sm_thread_handle want = w->nenabled ? w->env[DIFF_FIRST_ENABLED + w->nenabled - 1].handle : NULL;
    sm_status st = SM_INVALID_HANDLE;
    sm_thread_handle h = sm_get_thread_handle(&st);
    sm_env *env;
    DIFF_STATUS(w, "sm_get_thread_handle", st, SM_OK);
    DIFF_CHECK(w, h == want, "sm_get_thread_handle gave %p, expected %p", (void *)h, (void *)want);
    env = sm_current_env(&st);
    DIFF_STATUS(w, "sm_current_env", st, w->nenabled ? SM_OK : SM_NO_ENVIRONMENT);
    DIFF_CHECK(w, env == (w->nenabled ? w->env[DIFF_FIRST_ENABLED + w->nenabled - 1].env : NULL),
               "sm_current_env is not the environment enabled last");
}

static void diff_enable(diff_world *w)
{
    int slot = DIFF_FIRST_ENABLED + w->nenabled, k = DIFF_ROOTS + w->nenabled;
    int with_config = diff_below(w, 3) != 0;
    sm_config cfg = tc_config(&w->tc[k], diff_chunk_size(w));
    size_t tc_before = w->tc[k].live_bytes;
    sm_status st;
    diff_env *v = &w->env[slot];
    cfg.flags = diff_below(w, 8);
    w->what = with_config ? "sm_enable_allocate_with" : "sm_enable_allocate";
    st = with_config ? sm_enable_allocate_with(&cfg) : sm_enable_allocate();
    if (st != SM_OK) {
        diff_expect_refusal(w, w->what, st);
        DIFF_CHECK(w, w->tc[k].live_bytes == tc_before, "a failed enable kept memory");
        diff_check_current(w);
        return;
    }
    v->env = sm_current_env(&st);
    DIFF_STATUS(w, "sm_current_env after enable", st, SM_OK);
    v->handle = sm_env_handle(v->env);
    v->flags = with_config ? cfg.flags : 0u;
    v->tc = with_config ? k : -1;
    v->parent = -1;
    v->born = ++w->born;
    v->ncl = 0;
    w->nenabled++;
    diff_check_current(w);
    if (v->env)
        diff_check_stats(w, slot);
}

static void diff_disable(diff_world *w)
{
    int slot = DIFF_FIRST_ENABLED + w->nenabled - 1, tc = w->env[slot].tc;
    sm_thread_handle handle = w->env[slot].handle;
    w->what = "sm_disable_allocate";
    DIFF_STATUS(w, "sm_disable_allocate", sm_disable_allocate(), SM_OK);
    diff_gone(w, slot);
    w->nenabled--;
    if (tc >= 0)
        DIFF_CHECK(w, w->tc[tc].live_bytes == 0 && w->tc[tc].bad_frees == 0,
                   "sm_disable_allocate left %lu bytes with the backing allocator (%lu bad frees)",
                   (unsigned long)w->tc[tc].live_bytes, (unsigned long)w->tc[tc].bad_frees);
    diff_check_current(w);
    diff_check_stale(w, handle);
}

/* Without a current environment: the statuses of the calls that need one. */
static void diff_no_environment(diff_world *w)
{
    int i = diff_pick(w, DIFF_LIVE, -1);
    sm_status st = SM_OK;
    w->what = "no current environment";
    DIFF_CHECK(w, sm_allocate(diff_size(w), &st) == NULL, "sm_allocate without an environment gave a block");
    DIFF_STATUS(w, "sm_allocate without an environment", st, SM_NO_ENVIRONMENT);
    DIFF_CHECK(w, sm_reallocate(NULL, 0, 16, &st) == NULL, "sm_reallocate without an environment gave a block");
    DIFF_STATUS(w, "sm_reallocate without an environment", st, SM_NO_ENVIRONMENT);
    DIFF_STATUS(w, "sm_free(NULL) without an environment", sm_free(NULL), SM_OK);
    if (i >= 0)
        DIFF_STATUS(w, "sm_free without an environment", sm_free(w->rec[i].p), SM_NO_ENVIRONMENT);
    DIFF_STATUS(w, "sm_disable_allocate without an environment", sm_disable_allocate(), SM_NO_ENVIRONMENT);
    diff_check_current(w);
}

static void op_thread(diff_world *w)
{
    unsigned how = diff_below(w, 8);
    int i = diff_pick(w, DIFF_LIVE, -1), slot = DIFF_FIRST_ENABLED + w->nenabled - 1;
    if (w->nenabled == 0) {
        if (how < 5)
            diff_enable(w);
        else
            diff_no_environment(w);
    } else if (how < 2 && w->nenabled < DIFF_ENABLED) {
        diff_enable(w);
    } else if (how < 4) {
        diff_disable(w);
    } else if (i >= 0 && w->rec[i].slot != slot) {
        w->what = "sm_free of a block of another environment";
        DIFF_STATUS(w, w->what, sm_free(w->rec[i].p), SM_INVALID_ARG);
        diff_check_block(w, i, "after a refused sm_free");
    } else {
        w->what = "the current environment";
        diff_check_current(w);
    }
}

/* A byte budget on a counting allocator, on or off: allocations fail while it is reached. */
static void op_pressure(diff_world *w)
{
    tc_alloc *c = &w->tc[diff_below(w, DIFF_TCS)];
    size_t room = diff_below(w, 48 * 1024);
    w->what = "memory pressure";
    c->budget = c->budget ? 0 : c->live_bytes + room;
}

/* ------------------------------------------------------------------------------------------ */
/* The threaded run: blocks handed between threads through a shared environment               */
/* ------------------------------------------------------------------------------------------ */

#ifndef SMALLOC_NO_THREADS
#ifdef _WIN32
typedef CRITICAL_SECTION diff_mutex;
static void diff_mutex_init(diff_mutex *m) { InitializeCriticalSection(m); }
static void diff_mutex_destroy(diff_mutex *m) { DeleteCriticalSection(m); }
static void diff_lock(diff_mutex *m) { EnterCriticalSection(m); }
static void diff_unlock(diff_mutex *m) { LeaveCriticalSection(m); }
#else
typedef pthread_mutex_t diff_mutex;
static void diff_mutex_init(diff_mutex *m) { pthread_mutex_init(m, NULL); }
static void diff_mutex_destroy(diff_mutex *m) { pthread_mutex_destroy(m); }
static void diff_lock(diff_mutex *m) { pthread_mutex_lock(m); }
static void diff_unlock(diff_mutex *m) { pthread_mutex_unlock(m); }
#endif

typedef struct diff_handoff {
    unsigned char *p;
    size_t size, usable;
    unsigned seed;
} diff_handoff;

/* Blocks waiting for one thread to check and mark free. */
typedef struct diff_queue {
    diff_mutex lock;
    diff_handoff item[DIFF_QUEUE];
    int first, count;
} diff_queue;

struct diff_shared {
    sm_env *env;
    sm_thread_handle handle;
    tc_alloc tc;
    diff_queue queue[DIFF_THREADS];   /* queue[k]: for thread k */
    th_barrier barrier;               /* the threads and the checking thread */
};

/* Allocates in the shared environment, by name or attached to it through its handle (the
   thread's own current environment is saved and set again). */
static unsigned char *diff_shared_allocate(diff_world *w, int attached, size_t size, sm_status *st)
{
    sm_thread_handle saved;
    void *p;
    if (!attached)
        return (unsigned char *)sm_env_allocate(w->shared->env, size, st);
    saved = sm_get_thread_handle(NULL);
    DIFF_STATUS(w, "sm_set_thread_handle(the shared environment)", sm_set_thread_handle(w->shared->handle), SM_OK);
    p = sm_allocate(size, st);
    DIFF_STATUS(w, "sm_set_thread_handle(the saved handle)", sm_set_thread_handle(saved), SM_OK);
    diff_check_current(w);
    return (unsigned char *)p;
}

static void diff_shared_free(diff_world *w, int attached, const diff_handoff *b, const char *call)
{
    sm_thread_handle saved;
    sm_status st;
    DIFF_CHECK(w, tu_check(b->p, b->size, b->seed), "%s: the shared block at %p (%lu bytes) lost its contents",
               call, (void *)b->p, (unsigned long)b->size);
    if (!attached) {
        DIFF_STATUS(w, call, sm_env_free(w->shared->env, b->p), SM_OK);
        return;
    }
    saved = sm_get_thread_handle(NULL);
    DIFF_STATUS(w, "sm_set_thread_handle(the shared environment)", sm_set_thread_handle(w->shared->handle), SM_OK);
    st = sm_free(b->p);
    DIFF_STATUS(w, "sm_set_thread_handle(the saved handle)", sm_set_thread_handle(saved), SM_OK);
    DIFF_STATUS(w, call, st, SM_OK);
}

/* Allocate in the shared environment and hand the block to the next thread (or mark it free at
   once), or check and mark free what the previous thread handed over. The random choices come
   first, so that the thread's own sequence does not depend on the other threads. */
static void op_handoff(diff_world *w)
{
    unsigned how = diff_below(w, 8);
    int attached = diff_below(w, 2) == 0, pushed = 0, k, n = 0;
    size_t size = diff_below(w, 8) ? diff_below(w, 257) : diff_size(w);
    diff_queue *next = &w->shared->queue[(w->thread + 1) % DIFF_THREADS], *mine = &w->shared->queue[w->thread];
    diff_handoff b, got[4];
    sm_block_info info;
    sm_status st = SM_INVALID_HANDLE;
    w->what = "handing blocks to the next thread";
    if (how < 6) {
        b.p = diff_shared_allocate(w, attached, size, &st);
        DIFF_STATUS(w, "allocate in the shared environment", st, SM_OK);
        if (!b.p)
            return;
        b.size = size;
        b.seed = ++w->next_seed;
        memset(&info, 0, sizeof info);
        DIFF_STATUS(w, "sm_env_describe in the shared environment", sm_env_describe(w->shared->env, b.p, &info), SM_OK);
        DIFF_CHECK(w, info.start == (void *)b.p && info.live && info.size >= TC_ROUND(size),
                   "sm_env_describe of a new shared block: start %p, size %lu, live %d", info.start,
                   (unsigned long)info.size, info.live);
        b.usable = info.size;
        tu_fill(b.p, size, b.seed);
        if (how < 4) {
            diff_lock(&next->lock);
            if (next->count < DIFF_QUEUE) {
                next->item[(next->first + next->count++) % DIFF_QUEUE] = b;
                pushed = 1;
            }
            diff_unlock(&next->lock);
        }
        if (!pushed)
            diff_shared_free(w, attached, &b, "mark-free of the thread's own shared block");
        return;
    }
    diff_lock(&mine->lock);
    while (n < 4 && mine->count > 0) {
        got[n++] = mine->item[mine->first];
        mine->first = (mine->first + 1) % DIFF_QUEUE;
        mine->count--;
    }
    diff_unlock(&mine->lock);
    for (k = 0; k < n; k++)
        diff_shared_free(w, attached, &got[k], "mark-free of a block another thread allocated");
}

/* The rest of the thread's queue, once no thread hands over more. */
static void diff_drain(diff_world *w)
{
    diff_queue *mine = &w->shared->queue[w->thread];
    w->what = "marking free what is left";
    while (mine->count > 0) {
        diff_shared_free(w, 0, &mine->item[mine->first], "mark-free of a block another thread allocated");
        mine->first = (mine->first + 1) % DIFF_QUEUE;
        mine->count--;
    }
}
#endif /* SMALLOC_NO_THREADS */

/* ------------------------------------------------------------------------------------------ */
/* Worlds                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static diff_world *diff_world_new(unsigned seed, int thread, unsigned long ops, diff_shared *shared)
{
    diff_world *w = (diff_world *)calloc(1, sizeof *w);
    int s, k;
    size_t i;
    if (!w)
        return NULL;
    w->seed = seed;
    w->thread = thread;
    w->rng = (uint64_t)seed * UINT64_C(0x9E3779B97F4A7C15) + (uint64_t)(thread + 2);
    w->ops = ops;
    w->what = "setup";
    w->book_faults = thread < 0;
    w->leave_to_exit = thread >= 0 && thread % 2 == 1;
    w->shared = shared;
    for (k = 0; k < DIFF_TCS; k++)
        tc_init(&w->tc[k]);
    for (s = 0; s < DIFF_SLOTS; s++) {
        w->env[s].parent = -1;
        w->env[s].tc = -1;
        for (k = 0; k < DIFF_TAGS; k++) {
            w->cdata[s][k].w = w;
            w->cdata[s][k].slot = s;
            w->cdata[s][k].tag = k;
        }
    }
    for (i = 0; i < DIFF_TEXT; i++)
        w->text[i] = (char)(' ' + diff_below(w, 95));
    return w;
}

/* One operation, chosen by its share in percent. */
static void diff_step(diff_world *w)
{
    unsigned r = diff_below(w, 100);
    if (r < 28)
        op_allocate(w);
    else if (r < 42)
        op_free(w);
    else if (r < 48)
        op_free_invalid(w);
    else if (r < 57)
        op_reallocate(w);
    else if (r < 61)
        op_describe(w);
    else if (r < 66)
        op_copy(w);
    else if (r < 69)
        op_stats(w);
    else if (r < 71)
        op_report(w);
    else if (r < 72)
        op_reset(w);
    else if (r < 73)
        op_destroy(w);
    else if (r < 76)
        op_create(w);
    else if (r < 80)
        op_cleanup(w);
    else if (r < 87)
        op_thread(w);
    else if (r < 88)
        op_pressure(w);
#ifndef SMALLOC_NO_THREADS
    else if (w->shared)
        op_handoff(w);
#endif
    else
        op_allocate(w);
}

/* The world's environments and operations, then the check of everything. Stops at the first
   mismatch. */
static void diff_run(diff_world *w)
{
    int s;
    for (s = 0; s < DIFF_ROOTS; s++)
        op_create_root(w, s);
    for (w->op = 0; w->op < w->ops && !w->failures; w->op++) {
        diff_arm(w);
        diff_step(w);
        diff_disarm(w);
        if (diff_refused(w) || w->op % DIFF_CHECK_EVERY == DIFF_CHECK_EVERY - 1) {
            w->what = diff_refused(w) ? "checking everything after a refused allocation" : "checking everything";
            diff_check_all(w);
        }
    }
    w->what = "the final check";
    diff_check_all(w);
}

/* Everything is destroyed (except, for a thread that leaves them to its exit, the enabled
   environments): every counting allocator of the destroyed ones holds nothing. */
static void diff_teardown(diff_world *w)
{
    int s, k;
    w->what = "teardown";
    for (k = 0; k < DIFF_TCS; k++)
        w->tc[k].budget = 0;
    while (w->nenabled && !w->leave_to_exit)
        diff_disable(w);
    for (s = 0; s < DIFF_FIRST_ENABLED; s++)
        if (w->env[s].env && w->env[s].parent < 0)
            diff_destroy(w, s);
    w->what = "after teardown";
    for (k = 0; k < DIFF_ROOTS; k++)
        DIFF_CHECK(w, w->tc[k].live_bytes == 0 && w->tc[k].bad_frees == 0,
                   "counting allocator %d holds %lu bytes after its environments were destroyed (%lu bad frees)", k,
                   (unsigned long)w->tc[k].live_bytes, (unsigned long)w->tc[k].bad_frees);
}

TEST(diff_single)
{
    diff_world *w = diff_world_new(diff_seed, -1, diff_ops, NULL);
    REQUIRE(w != NULL);
    diff_run(w);
    diff_teardown(w);
    free(w);
}

#ifndef SMALLOC_NO_THREADS
static void diff_thread(void *arg)
{
    diff_world *w = (diff_world *)arg;
    th_barrier_wait(&w->shared->barrier);   /* all start together */
    diff_run(w);
    th_barrier_wait(&w->shared->barrier);   /* no more handing over: the figures are checked */
    th_barrier_wait(&w->shared->barrier);
    diff_drain(w);
    diff_teardown(w);
}

TEST(diff_threads)
{
    static const unsigned shared_flags[] = { 0, SM_RECYCLE, SM_TRACK, SM_POISON | SM_RECYCLE };
    diff_shared *sh = (diff_shared *)calloc(1, sizeof *sh);
    diff_world *w[DIFF_THREADS];
    th_thread t[DIFF_THREADS];
    sm_config cfg;
    sm_stats s;
    size_t blocks = 0, bytes = 0;
    int k, i;
    REQUIRE(sh != NULL);
    tc_init(&sh->tc);
    cfg = tc_config(&sh->tc, 4096);
    cfg.flags = shared_flags[diff_seed % 4];
    sh->env = sm_env_create(&cfg, NULL);
    REQUIRE(sh->env != NULL);
    sh->handle = sm_env_handle(sh->env);
    th_barrier_init(&sh->barrier, DIFF_THREADS + 1);
    for (k = 0; k < DIFF_THREADS; k++) {
        diff_mutex_init(&sh->queue[k].lock);
        w[k] = diff_world_new(diff_seed, k, (diff_ops + DIFF_THREADS - 1) / DIFF_THREADS, sh);
        REQUIRE(w[k] != NULL);
    }
    for (k = 0; k < DIFF_THREADS; k++)
        REQUIRE(th_thread_start(&t[k], diff_thread, w[k]));
    th_barrier_wait(&sh->barrier);   /* the threads start */
    th_barrier_wait(&sh->barrier);   /* and hand nothing more over: the queues hold every live block */
    for (k = 0; k < DIFF_THREADS; k++) {
        for (i = 0; i < sh->queue[k].count; i++) {
            blocks++;
            bytes += sh->queue[k].item[(sh->queue[k].first + i) % DIFF_QUEUE].usable;
        }
    }
    s = tu_stats(sh->env);
    CHECK_EQ_SIZE(s.live_blocks, blocks);
    CHECK_EQ_SIZE(s.live_bytes, bytes);
    CHECK_EQ_SIZE(s.backing_bytes, sh->tc.live_bytes);
    th_barrier_wait(&sh->barrier);   /* the threads mark free what is left and end */
    for (k = 0; k < DIFF_THREADS; k++) {
        th_thread_join(&t[k]);
        /* the exit of the thread destroyed what it left enabled */
        for (i = 0; i < DIFF_TCS; i++)
            CHECK_EQ_SIZE(w[k]->tc[i].live_bytes, 0);
        free(w[k]);
        diff_mutex_destroy(&sh->queue[k].lock);
    }
    th_barrier_destroy(&sh->barrier);
    s = tu_stats(sh->env);
    CHECK_EQ_SIZE(s.live_blocks, 0);
    CHECK_EQ_SIZE(s.live_bytes, 0);
    CHECK_EQ_INT(sm_env_destroy(sh->env), SM_OK);
    CHECK_EQ_SIZE(sh->tc.live_bytes, 0);
    CHECK_EQ_SIZE(sh->tc.bad_frees, 0);
    free(sh);
}
#endif /* SMALLOC_NO_THREADS */

/* ------------------------------------------------------------------------------------------ */
/* Seeds                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* The number at *s (moved past it); 0 when there is none. */
static int diff_number(const char **s, unsigned long *v)
{
    char *end;
    *v = strtoul(*s, &end, 10);
    if (end == *s)
        return 0;
    *s = end;
    return 1;
}

static void diff_run_seed(unsigned seed)
{
    static char single[48];
#ifndef SMALLOC_NO_THREADS
    static char threads[48];
#endif
    diff_seed = seed;
    sprintf(single, "diff_single seed %u", seed);
    th_run(single, diff_single);
#ifndef SMALLOC_NO_THREADS
    sprintf(threads, "diff_threads seed %u", seed);
    th_run(threads, diff_threads);
#endif
}

/* Runs (run 1) or only checks (run 0) a list of seeds such as "3,7,10-12". */
static int diff_seeds(const char *s, int run)
{
    unsigned long lo, hi, v;
    for (;;) {
        if (!diff_number(&s, &lo) || lo > UINT_MAX)
            return 0;
        hi = lo;
        if (*s == '-') {
            s++;
            if (!diff_number(&s, &hi) || hi < lo || hi > UINT_MAX)
                return 0;
        }
        for (v = lo; run; v++) {
            diff_run_seed((unsigned)v);
            if (v == hi)
                break;
        }
        if (*s == '\0')
            return 1;
        if (*s++ != ',')
            return 0;
    }
}

TEST(diff_settings)
{
    th_fail(__FILE__, __LINE__, "SM_DIFF_SEEDS is a list such as 12345, 1-8 or 3,7,10-12 and SM_DIFF_OPS a number");
}

void suite_diff(void)
{
    const char *seeds = getenv("SM_DIFF_SEEDS"), *ops = getenv("SM_DIFF_OPS"), *s = ops;
    unsigned long n = 0;
    if (!seeds || !*seeds)
        seeds = "1-4";
    if (ops && *ops && (!diff_number(&s, &n) || *s || n == 0)) {
        RUN(diff_settings);
        return;
    }
    diff_ops = n ? n : 4000;
    if (!diff_seeds(seeds, 0)) {
        RUN(diff_settings);
        return;
    }
    (void)diff_seeds(seeds, 1);
}
