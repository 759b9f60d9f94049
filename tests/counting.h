/* counting.h - a counting, fault-injecting backing allocator for the tests, and a fault-injecting
   allocator for smalloc's bookkeeping (SMALLOC_REALLOC / SMALLOC_FREE).

   tc_alloc c; tc_init(&c); sm_config cfg = tc_config(&c, chunk_size);
   Every block carries a prefix header (its size and owner) and is returned aligned to 4096, so
   that the padding of aligned blocks, and with it the sequence of calls, does not depend on where
   malloc puts things; tc_free checks that the size it receives is the size alloc was asked for and counts
   mismatches in bad_frees. fail_at = n refuses the n-th call (counting from 1, 0: never);
   fail_from = n refuses the n-th and every later call; budget refuses a call that would hold more
   than budget bytes (0: no budget). Requests above TC_MAX_REQUEST are refused without calling malloc.
   The first TC_LOG requests are logged with their size and site.

   tb_realloc / tb_free count the bookkeeping calls in tb_calls; tb_fail_at = n refuses the
   n-th call (absolute, 0: never), tb_fail_all refuses every call while set.
   main.c defines TH_IMPLEMENTATION before including this file. */
#ifndef TC_COUNTING_H
#define TC_COUNTING_H

#include <stddef.h>
#include "../smalloc.h"

#define TC_LOG 4096
#define TC_MAX_REQUEST ((size_t)1 << 30)

typedef struct tc_alloc {
    size_t calls;          /* alloc calls so far, refused ones included */
    size_t frees;          /* free calls so far */
    size_t refused;        /* alloc calls that returned NULL */
    size_t live_bytes;     /* requested bytes held now */
    size_t live_blocks;
    size_t total_bytes;    /* requested bytes ever handed out */
    size_t peak_bytes;
    size_t max_request;    /* the largest size ever asked for, refused calls included */
    size_t bad_frees;      /* frees with a wrong size, owner or pointer */
    size_t fail_at;        /* refuse this call (1-based); 0: never */
    size_t fail_from;      /* refuse this call and all later ones; 0: never */
    size_t budget;         /* refuse what would hold more than this; 0: unlimited */
    const char *last_file; /* site of the last alloc call */
    int last_line;
    size_t nlog;           /* requests logged (at most TC_LOG) */
    size_t log_size[TC_LOG];
    const char *log_file[TC_LOG];
    int log_line[TC_LOG];
    int lock;
} tc_alloc;

void tc_init(tc_alloc *c);
sm_config tc_config(tc_alloc *c, size_t chunk_size);
void *tc_alloc_fn(void *context, size_t size, const char *file, int line);
void tc_free_fn(void *context, void *ptr, size_t size);

extern size_t tb_calls;        /* realloc calls so far */
extern size_t tb_fail_at;      /* refuse this call (absolute index, 1-based); 0: never */
extern int    tb_fail_all;     /* refuse every call while nonzero */
extern size_t tb_refused;      /* calls refused */
extern void (*tb_hook)(void);  /* called at the start of every tb_realloc and tb_free call, if set */
extern long   tb_live;         /* blocks held: realloc(NULL, n) minus free(p), except the nodes of
                                  smalloc's page map (32 KiB and more when made, never freed: they
                                  are made as new address ranges come into use, not leaked) */
void *tb_realloc(void *p, size_t n);
void  tb_free(void *p);

/* alignof(max_align_t), in C99 too (which has no max_align_t). */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define TC_MAX_ALIGN ((size_t)_Alignof(max_align_t))
#else
struct tc_align_probe { char c; union { long double ld; long long ll; double d; void *p; void (*f)(void); } u; };
#define TC_MAX_ALIGN ((size_t)offsetof(struct tc_align_probe, u))
#endif
/* smalloc's granule: the alignment, at least 8. */
#define TC_GRAIN (TC_MAX_ALIGN < 8 ? (size_t)8 : TC_MAX_ALIGN)
#define TC_ROUND(n) ((((n) ? (n) : 1) + TC_GRAIN - 1) / TC_GRAIN * TC_GRAIN)

#endif /* TC_COUNTING_H */

#ifdef TH_IMPLEMENTATION
#ifndef TC_COUNTING_IMPLEMENTED
#define TC_COUNTING_IMPLEMENTED
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define TC_LOCK(c)   while (__atomic_test_and_set(&(c)->lock, __ATOMIC_ACQUIRE)) {}
#define TC_UNLOCK(c) __atomic_clear(&(c)->lock, __ATOMIC_RELEASE)
#define TB_INC(p)    __atomic_add_fetch((p), 1, __ATOMIC_RELAXED)
#define TB_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define TB_LOAD(p)   __atomic_load_n((p), __ATOMIC_RELAXED)
#else
#define TC_LOCK(c)   ((void)0)
#define TC_UNLOCK(c) ((void)0)
#define TB_INC(p)    (++*(p))
#define TB_ADD(p, v) (*(p) += (v))
#define TB_LOAD(p)   (*(p))
#endif

#define TC_ALIGN  ((size_t)4096)
#define TC_MAGIC  ((size_t)0x5ca1ab1eu)
#define TC_DEAD   ((size_t)0xdeadbeefu)

/* Right before the block handed out. */
typedef struct tc_header {
    size_t magic;
    size_t size;
    tc_alloc *owner;
    void *raw;              /* what malloc returned */
} tc_header;

void tc_init(tc_alloc *c)
{
    memset(c, 0, sizeof *c);
}

sm_config tc_config(tc_alloc *c, size_t chunk_size)
{
    sm_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.chunk_size = chunk_size;
    cfg.alloc = tc_alloc_fn;
    cfg.free = tc_free_fn;
    cfg.context = c;
    return cfg;
}

void *tc_alloc_fn(void *context, size_t size, const char *file, int line)
{
    tc_alloc *c = (tc_alloc *)context;
    unsigned char *raw = NULL, *user = NULL;
    size_t n;
    TC_LOCK(c);
    n = ++c->calls;
    if (size > c->max_request)
        c->max_request = size;
    c->last_file = file;
    c->last_line = line;
    if (c->nlog < TC_LOG) {
        c->log_size[c->nlog] = size;
        c->log_file[c->nlog] = file;
        c->log_line[c->nlog] = line;
        c->nlog++;
    }
    if (n != c->fail_at && !(c->fail_from && n >= c->fail_from) && size <= TC_MAX_REQUEST &&
        !(c->budget && c->live_bytes + size > c->budget))
        raw = (unsigned char *)malloc(sizeof(tc_header) + TC_ALIGN + size);
    if (raw) {
        tc_header *h;
        user = (unsigned char *)(((uintptr_t)raw + sizeof(tc_header) + TC_ALIGN - 1) & ~(uintptr_t)(TC_ALIGN - 1));
        h = (tc_header *)(void *)(user - sizeof(tc_header));
        h->raw = raw;
        h->magic = TC_MAGIC;
        h->size = size;
        h->owner = c;
        c->live_bytes += size;
        c->live_blocks++;
        c->total_bytes += size;
        if (c->live_bytes > c->peak_bytes)
            c->peak_bytes = c->live_bytes;
    } else {
        c->refused++;
    }
    TC_UNLOCK(c);
    return user;
}

void tc_free_fn(void *context, void *ptr, size_t size)
{
    tc_alloc *c = (tc_alloc *)context;
    tc_header *h;
    TC_LOCK(c);
    c->frees++;
    if (!ptr) {
        c->bad_frees++;
        TC_UNLOCK(c);
        return;
    }
    h = (tc_header *)(void *)((unsigned char *)ptr - sizeof(tc_header));
    if (h->magic != TC_MAGIC || h->owner != c || h->size != size) {
        c->bad_frees++;   /* keep it: freeing a block we cannot trust would corrupt the heap */
        TC_UNLOCK(c);
        return;
    }
    h->magic = TC_DEAD;
    c->live_bytes -= size;
    c->live_blocks--;
    TC_UNLOCK(c);
    free(h->raw);
}

#define TB_MAP_NODE ((size_t)32 << 10)
#define TB_HEAD     32   /* keeps what follows aligned like malloc's memory */
size_t tb_calls, tb_fail_at, tb_refused;
int tb_fail_all;
long tb_live;
void (*tb_hook)(void);

void *tb_realloc(void *p, size_t n)
{
    size_t k = TB_INC(&tb_calls);
    void *q;
    if (tb_hook)
        tb_hook();
    if (k == TB_LOAD(&tb_fail_at) || TB_LOAD(&tb_fail_all)) {
        TB_INC(&tb_refused);
        return NULL;
    }
    /* a header says whether the block is counted in tb_live (not a page-map node), as decided
       when it was made: a counted array may grow past the nodes' size */
    size_t counted = p ? *(size_t *)(void *)((char *)p - TB_HEAD) : n < TB_MAP_NODE;
    q = realloc(p ? (char *)p - TB_HEAD : NULL, n + TB_HEAD);
    if (!q)
        return NULL;
    *(size_t *)q = counted;
    if (!p && counted)
        TB_INC(&tb_live);
    return (char *)q + TB_HEAD;
}

void tb_free(void *p)
{
    if (tb_hook)
        tb_hook();
    /* page-map nodes are freed only when another thread installed its node first */
    if (!p)
        return;
    if (*(size_t *)(void *)((char *)p - TB_HEAD))
        TB_ADD(&tb_live, -1);
    free((char *)p - TB_HEAD);
}
#endif
#endif /* TH_IMPLEMENTATION */
