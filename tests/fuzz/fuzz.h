/* fuzz.h - the input format of smalloc's API fuzzer (api_fuzz.c), shared with the corpus
   generator (gen_seeds.c) and the replay driver (replay.c).

   An input is a sequence of operations: one opcode byte (taken modulo FZ_NOPS), then exactly
   the number of argument bytes FZ_OPS lists for it (missing bytes at the end of the input read
   as 0). A fixed shape per operation keeps a mutation local: changing one byte changes one
   argument or one operation, not the parse of everything after it.

   Conventions of the argument bytes (api_fuzz.c has the details):
     env      an explicit environment: 0xFF tests NULL, 0xFE a NULL out-parameter where there
              is one, anything else picks one of the live ones (modulo their number); with
              0x80 set, ALLOC_BURST and FREE_BURST work on the current environment instead.
     cfg      bits 0-2 SM_TRACK/SM_POISON/SM_RECYCLE, bit 3 a report function, bits 4-6 the
              chunk size, bit 7 config NULL (sm_enable_allocate / sm_env_create(NULL, ...)).
     backing  modulo 8: 0-4 the counting allocator, 5 malloc (alloc and free NULL), 6 only
              alloc set, 7 only free set (both invalid); bit 7 set passes status NULL.
     size     class (modulo 8: tiny, byte, medium, page, quarter chunk, large, overflowing,
              granules) and detail.
     THREAD   its third byte: bits 0-3 refuse that bookkeeping call of the new thread (0: none),
              bits 4-5 blocks it allocates, bit 6 it disables (else it exits owning the env).
     kind     which pointer to pass: NULL, a live block, a marked-free block, an interior
              pointer, the end of a block, a static, heap or stack address, a pointer of a
              destroyed or reset environment, a client block (modulo FZ_KINDS).
   The operations from ZEROED on (strings, cleanups, children) read their env byte so: 0xFF
   NULL, 0x80-0xFE the calling thread's current environment as sm_current_env gives it (NULL
   without a usable one), anything else one of the live explicit environments (children too).
     fn, data ADD_CLEANUP / REMOVE_CLEANUP: fn modulo FZ_NCL + 1 (FZ_NCL: NULL), data modulo
              FZ_CDATA + 1: one of the environment's data slots (FZ_CDATA: NULL).
     THREAD_ENV  as THREAD, and its fourth byte: bits 0-1 cleanups the new thread adds to its
              environment (fn from bits 2-3 on), bit 4 a child of it (config NULL, else bit 5
              an explicit one) with a block and a cleanup.

   New operations go at the end of FZ_OPS. An opcode byte below FZ_NOPS keeps its meaning when
   operations are added, a larger one does not (it is taken modulo FZ_NOPS): inputs kept in
   tests/fuzz/regressions are written with opcodes below FZ_NOPS.

   Build with the rest of the fuzzer: see api_fuzz.c. */
#ifndef FZ_FUZZ_H
#define FZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* name, argument bytes */
#define FZ_OPS(X) \
    X(CREATE, 2)        /* cfg, backing */ \
    X(DESTROY, 1)       /* env */ \
    X(RESET, 1)         /* env */ \
    X(ENABLE, 2)        /* cfg, backing */ \
    X(DISABLE, 0) \
    X(ALLOC, 4)         /* env, size class, size detail, variant */ \
    X(ALLOC_CUR, 3)     /* size class, size detail, variant */ \
    X(FREE, 4)          /* env, kind, pick, offset */ \
    X(FREE_CUR, 3)      /* kind, pick, offset */ \
    X(GET_HANDLE, 1)    /* variant */ \
    X(SET_HANDLE, 2)    /* kind, pick */ \
    X(STATS, 1)         /* env */ \
    X(ENV_HANDLE, 1)    /* env */ \
    X(CLIENT_SWAP, 1)   /* alloc, free and mode bits */ \
    X(CLIENT_ALLOC, 2)  /* size class, size detail */ \
    X(CLIENT_FREE, 3)   /* kind, pick, offset */ \
    X(DESCRIBE, 4)      /* env, kind, pick, offset */ \
    X(REALLOC, 6)       /* env, kind, pick, old-size mode, size class, size detail */ \
    X(REALLOC_CUR, 5)   /* kind, pick, old-size mode, size class, size detail */ \
    X(REPORT, 2)        /* env, variant */ \
    X(FAIL, 2)          /* backing allocator, bookkeeping allocator */ \
    X(VERIFY, 0) \
    X(TRIM, 1)          /* keep */ \
    X(ALLOC_BURST, 3)   /* env, count, size */ \
    X(FREE_BURST, 2)    /* env, count and order */ \
    X(THREAD, 3)        /* cfg, backing, fail/allocations/disable bits */ \
    X(ZEROED, 4)        /* env, count, size, variant */ \
    X(STRDUP, 4)        /* env, length, n, variant */ \
    X(MEMDUP, 4)        /* env, source pick, n, variant */ \
    X(PRINTF, 4)        /* env, format, argument, variant */ \
    X(CURRENT_ENV, 1)   /* variant: status NULL, the value for sm_status_message */ \
    X(ADD_CLEANUP, 3)   /* env, fn, data */ \
    X(REMOVE_CLEANUP, 3) /* env, fn, data */ \
    X(CHILD, 3)         /* parent env, cfg, backing */ \
    X(THREAD_ENV, 4)    /* cfg, backing, fail/allocations/disable bits, cleanup/child bits */

enum fz_op {
#define FZ_ENUM_(name, nargs) FZ_##name,
    FZ_OPS(FZ_ENUM_)
#undef FZ_ENUM_
    FZ_NOPS
};

/* Pointer kinds (argument "kind", modulo FZ_KINDS). */
enum fz_kind {
    FZ_K_NULL,          /* NULL */
    FZ_K_LIVE,          /* a live block of the target environment */
    FZ_K_LIVE_ANY,      /* a live block of any environment */
    FZ_K_FREED,         /* a marked-free block of the target environment */
    FZ_K_FREED_ANY,     /* a marked-free block of any environment */
    FZ_K_INTERIOR,      /* inside a live block of the target environment */
    FZ_K_INTERIOR_FREED,/* inside a marked-free block */
    FZ_K_END,           /* one past the usable end of a live block */
    FZ_K_BEFORE,        /* one granule before a live block */
    FZ_K_STATIC,        /* a static array of the fuzzer */
    FZ_K_HEAP,          /* a malloc'd buffer of the fuzzer */
    FZ_K_STACK,         /* a local variable of the fuzzer */
    FZ_K_DEAD,          /* a block of a destroyed or reset environment */
    FZ_K_CLIENT,        /* a block of the client allocator pair */
    FZ_K_BEYOND,        /* a few granules past a live block (maybe the unused top of a chunk) */
    FZ_KINDS
};

/* Handle kinds of SET_HANDLE (modulo FZ_HKINDS). */
enum fz_hkind {
    FZ_H_NULL,          /* detach */
    FZ_H_LIVE,          /* a live environment's handle (explicit or enabled) */
    FZ_H_STALE,         /* the handle of an environment destroyed in this input */
    FZ_H_OLD,           /* a handle of an earlier input (all destroyed) */
    FZ_H_FLIP,          /* a live handle with one bit flipped */
    FZ_H_SMALL,         /* a small integer */
    FZ_H_ADDRESS,       /* the address of something */
    FZ_HKINDS
};

/* Cleanup functions of ADD_CLEANUP and REMOVE_CLEANUP (argument fn, modulo FZ_NCL + 1). Each
   records that it ran; VERIFY also checks the pattern of every live block of its data's
   environment; ALLOC does that, allocates a block there and adds VERIFY with the same data. */
enum fz_cleanup {
    FZ_CL_LOG,
    FZ_CL_LOG2,         /* the same, another function: pairs differ by fn */
    FZ_CL_VERIFY,
    FZ_CL_ALLOC,
    FZ_NCL              /* fn NULL */
};
#define FZ_CDATA 4      /* data slots per environment (argument data, modulo FZ_CDATA + 1) */

/* Variant bits of ZEROED, STRDUP, MEMDUP and PRINTF: bits 0-1 the mode (api_fuzz.c; PRINTF
   has none, its format is an argument), bit 2 status NULL, bit 3 long strings (STRDUP, MEMDUP),
   bit 4 the other call of a pair (strndup, vprintf), bit 5 format NULL (PRINTF). ZEROED: bits
   3-5 the size class instead, bit 6 count and size swapped. */
#define FZ_V_NOST   0x04
#define FZ_V_LONG   0x08
#define FZ_V_OTHER  0x10
#define FZ_V_NULLFMT 0x20

/* libFuzzer's entry point, defined in api_fuzz.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* FZ_FUZZ_H */
