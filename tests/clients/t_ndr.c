/* t_ndr.c - the NDR-like unmarshaller (ndr.c) on smalloc: round trips in a plain thread (malloc)
   and in manager code (an environment), every truncation, oversized lengths, cycles and aliases,
   bad formats, nesting limits, and allocation failures at every point (client pair, backing
   allocator, bookkeeping): each ends in an error status with nothing leaked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../harness.h"
#include "../counting.h"
#include "../util.h"
#include "clients.h"
#include "ndr.h"

/* ---- source trees (the server's data, built with malloc) ------------------------------------ */

static ndr_node *src_node(uint32_t id, int32_t value, const char *name)
{
    ndr_node *n = (ndr_node *)calloc(1, sizeof *n);
    if (!n)
        abort();
    n->id = id;
    n->value = value;
    if (name) {
        n->name = (char *)malloc(strlen(name) + 1);
        if (!n->name)
            abort();
        strcpy(n->name, name);
    }
    return n;
}

static void src_values(ndr_node *n, uint32_t count, int64_t first, int64_t step)
{
    uint32_t i;
    n->nvalues = count;
    n->values = (int64_t *)malloc(count ? count * sizeof(int64_t) : 1);
    if (!n->values)
        abort();
    for (i = 0; i < count; i++)
        n->values[i] = (int64_t)((uint64_t)first + (uint64_t)step * i);
}

static void src_children(ndr_node *n, uint32_t count)
{
    n->nchildren = count;
    n->children = (ndr_node **)calloc(count ? count : 1, sizeof(ndr_node *));
    if (!n->children)
        abort();
}

static void src_free(ndr_node *n)
{
    while (n) {
        ndr_node *next = n->next;
        uint32_t i;
        for (i = 0; i < n->nchildren; i++)
            src_free(n->children[i]);
        free(n->children);
        free(n->values);
        free(n->name);
        free(n);
        n = next;
    }
}

/* A random tree: names of 0..80 chars (some NULL), 0..12 values, 0..4 children (some NULL). */
static ndr_node *src_random(unsigned *seed, int depth)
{
    char name[96];
    unsigned len = tu_rand(seed) % 81, i, r = tu_rand(seed);
    ndr_node *n;
    for (i = 0; i < len; i++)
        name[i] = (char)(' ' + 1 + (int)(tu_rand(seed) % 94));
    name[len] = '\0';
    n = src_node(tu_rand(seed), (int32_t)tu_rand(seed) - 16384, r % 5 ? name : NULL);
    if (r % 3)
        src_values(n, tu_rand(seed) % 13, (int64_t)tu_rand(seed) * -1000003, 0x123456789ll);
    if (depth > 0 && r % 4) {
        src_children(n, tu_rand(seed) % 5);
        for (i = 0; i < n->nchildren; i++)
            if (tu_rand(seed) % 4)
                n->children[i] = src_random(seed, depth - 1);
    }
    if (depth > 0 && r % 7 == 0)
        n->next = src_random(seed, depth - 1);
    return n;
}

/* A list of count nodes linked by next. */
static ndr_node *src_list(uint32_t count)
{
    ndr_node *head = NULL, **link = &head;
    uint32_t i;
    char name[32];
    for (i = 0; i < count; i++) {
        sprintf(name, "item %u", (unsigned)i);
        *link = src_node(i, (int32_t)(i * 7), name);
        link = &(*link)->next;
    }
    return head;
}

/* The sample trees, one per shape; NULL root included. */
#define NSAMPLES 8
static ndr_node *sample(int k)
{
    ndr_node *n;
    unsigned seed;
    switch (k) {
    case 0:
        return NULL;
    case 1:
        return src_node(1, -1, NULL);
    case 2:   /* every field, extreme values, an empty name, empty arrays that exist */
        n = src_node(0xffffffffu, INT32_MIN, "");
        src_values(n, 3, INT64_MIN, INT64_MAX);
        src_children(n, 3);
        n->children[0] = src_node(2, 2, "two");
        src_values(n->children[0], 0, 0, 0);
        n->children[2] = src_node(3, 3, "three");
        src_children(n->children[2], 0);
        n->next = src_node(4, INT32_MAX, "next");
        return n;
    case 3:
        return src_list(150);
    case 4:
        seed = 7;
        return src_random(&seed, 5);
    case 5:
        seed = 1234;
        return src_random(&seed, 8);
    case 6: {   /* a wide node: 2000 children, each with a name and values */
        uint32_t i;
        char name[32];
        n = src_node(6, 6, "wide");
        src_children(n, 2000);
        for (i = 0; i < 2000; i++) {
            sprintf(name, "child-%u", (unsigned)i);
            n->children[i] = src_node(i, -(int32_t)i, name);
            src_values(n->children[i], i % 5, i, -3);
        }
        return n;
    }
    default: {   /* a long string and a long array */
        char *big = (char *)malloc(70000);
        if (!big)
            abort();
        memset(big, 'x', 69999);
        big[69999] = '\0';
        n = src_node(7, 7, big);
        free(big);
        src_values(n, 10000, 1, 1);
        return n;
    }
    }
}

static void encode_or_die(const ndr_node *t, unsigned char **buf, size_t *len)
{
    if (ndr_encode(t, buf, len) != NDR_OK) {
        fprintf(stderr, "ndr_encode failed\n");
        abort();
    }
}

/* ---- raw messages for the malformed cases ------------------------------------------------ */

typedef struct raw { unsigned char b[16384]; size_t n; } raw;

static void raw_u32(raw *r, uint32_t v)
{
    r->b[r->n++] = (unsigned char)v;
    r->b[r->n++] = (unsigned char)(v >> 8);
    r->b[r->n++] = (unsigned char)(v >> 16);
    r->b[r->n++] = (unsigned char)(v >> 24);
}

/* Overwrites the word at offset off. */
static void raw_put(raw *r, size_t off, uint32_t v)
{
    size_t n = r->n;
    r->n = off;
    raw_u32(r, v);
    r->n = n;
}

/* A node's flat part. */
static void raw_node(raw *r, uint32_t name_ref, uint32_t nvalues, uint32_t values_ref,
                     uint32_t nchildren, uint32_t children_ref, uint32_t next_ref)
{
    raw_u32(r, 1);
    raw_u32(r, 2);
    raw_u32(r, name_ref);
    raw_u32(r, nvalues);
    raw_u32(r, values_ref);
    raw_u32(r, nchildren);
    raw_u32(r, children_ref);
    raw_u32(r, next_ref);
}

/* A chain of depth nodes linked by next. */
static void raw_chain(raw *r, uint32_t depth)
{
    uint32_t i;
    r->n = 0;
    raw_u32(r, 0x20000);
    for (i = 0; i < depth; i++)
        raw_node(r, 0, 0, 0, 0, 0, i + 1 < depth ? 0x20004 + 4 * i : 0);
}

/* ---- decoding in the three places ----------------------------------------------------------- */

/* Decodes in an environment (attached, so sm_client_allocate uses it) and checks that afterwards,
   tree freed or decode failed, nothing is live in it and the backing memory all went back. */
static ndr_error decode_in_env(const unsigned char *buf, size_t len, const ndr_node *expect, unsigned flags)
{
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    ndr_node *t = NULL;
    ndr_error e;
    sm_stats s;
    tc_init(&c);
    cfg = tc_config(&c, 512);
    cfg.flags = flags;
    env = sm_env_create(&cfg, NULL);
    if (!env && flags)
        env = (cfg.flags = 0, sm_env_create(&cfg, NULL));
    CHECK(env != NULL);
    if (!env)
        return NDR_E_NOMEM;
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env)), SM_OK);
    e = ndr_decode(buf, len, &t);
    if (e == NDR_OK && expect)
        CHECK(ndr_equal(t, expect));
    if (e != NDR_OK)
        CHECK(t == NULL);
    ndr_free(t);
    s = tu_stats(env);
    CHECK_EQ_SIZE(s.live_blocks, 0);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
    return e;
}

/* The client pair of a plain thread, counted: the decoder must give back all it took. */
static long plain_live;
static size_t plain_calls, plain_fail_at;
static void *plain_alloc(size_t size)
{
    void *p;
    if (++plain_calls == plain_fail_at)
        return NULL;
    p = malloc(size ? size : 1);
    if (p)
        plain_live++;
    return p;
}
static void plain_free(void *p)
{
    if (p)
        plain_live--;
    free(p);
}

static ndr_error decode_plain(const unsigned char *buf, size_t len, size_t fail_at)
{
    sm_client_alloc_fn *oa;
    sm_client_free_fn *of;
    ndr_node *t = NULL;
    ndr_error e;
    plain_live = 0;
    plain_calls = 0;
    plain_fail_at = fail_at;
    CHECK_EQ_INT(sm_swap_client_alloc_free(plain_alloc, plain_free, &oa, &of), SM_OK);
    e = ndr_decode(buf, len, &t);
    ndr_free(t);
    CHECK_EQ_INT(plain_live, 0);
    CHECK_EQ_INT(sm_set_client_alloc_free(oa, of), SM_OK);
    return e;
}

/* ---- tests ---------------------------------------------------------------------------------- */

TEST(ndr_roundtrip)
{
    int k;
    for (k = 0; k < NSAMPLES; k++) {
        ndr_node *src = sample(k), *t = NULL;
        unsigned char *b1, *b2;
        size_t n1, n2;
        encode_or_die(src, &b1, &n1);
        /* plain thread: the default pair is malloc */
        CHECK_EQ_INT(ndr_decode(b1, n1, &t), NDR_OK);
        CHECK(ndr_equal(t, src));
        CHECK_EQ_SIZE(ndr_count(t), ndr_count(src));
        encode_or_die(t, &b2, &n2);
        CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
        ndr_free(t);
        free(b2);
        /* manager code, with and without SM_RECYCLE */
        CHECK_EQ_INT(decode_in_env(b1, n1, src, 0), NDR_OK);
        CHECK_EQ_INT(decode_in_env(b1, n1, src, SM_RECYCLE), NDR_OK);
        CHECK_EQ_INT(decode_plain(b1, n1, 0), NDR_OK);
        free(b1);
        src_free(src);
    }
}

/* The RPC model: the tree lives in the request's environment, never freed one by one. */
TEST(ndr_request_lifetime)
{
    tc_alloc c;
    sm_config cfg;
    int k;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    for (k = 0; k < NSAMPLES; k++) {
        ndr_node *src = sample(k), *t = NULL;
        unsigned char *b;
        size_t n;
        encode_or_die(src, &b, &n);
        CHECK_EQ_INT(ndr_decode(b, n, &t), NDR_OK);
        CHECK(ndr_equal(t, src));
        free(b);
        src_free(src);
    }
    CHECK(c.live_bytes > 100000);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Every prefix of a message is refused as truncated (or as a length beyond its end). */
TEST(ndr_truncated)
{
    int k;
    for (k = 2; k < 6; k++) {
        ndr_node *src = sample(k);
        unsigned char *b;
        size_t n, cut;
        encode_or_die(src, &b, &n);
        for (cut = 0; cut < n; cut += (k == 3 || n < 2000) ? 1 : 7) {
            ndr_error e = decode_in_env(b, cut, NULL, (unsigned)(cut & 1) * SM_RECYCLE);
            CHECK(e == NDR_E_TRUNCATED || e == NDR_E_LENGTH);
            if (cut % 5 == 0)
                CHECK_EQ_INT(decode_plain(b, cut, 0), e);
        }
        free(b);
        src_free(src);
    }
}

/* Lengths beyond the buffer are refused before anything is allocated for them. */
TEST(ndr_oversized)
{
    static const uint32_t huge[] = { 0xffffffffu, 0x80000000u, 0x40000000u, 0x1fffffffu, 10000 };
    size_t i;
    for (i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        raw r;
        tc_alloc c;
        sm_config cfg;
        /* values: the count in the flat part and the conformance agree, the data is missing */
        r.n = 0;
        raw_u32(&r, 0x20000);
        raw_node(&r, 0, huge[i], 0x20004, 0, 0, 0);
        raw_u32(&r, huge[i]);
        raw_u32(&r, 0);
        raw_u32(&r, 0);
        CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_LENGTH);
        CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_E_LENGTH);
        /* children */
        r.n = 0;
        raw_u32(&r, 0x20000);
        raw_node(&r, 0, 0, 0, huge[i], 0x20004, 0);
        raw_u32(&r, huge[i]);
        raw_u32(&r, 0);
        CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_LENGTH);
        /* a string whose actual count runs past the end */
        r.n = 0;
        raw_u32(&r, 0x20000);
        raw_node(&r, 0x20004, 0, 0, 0, 0, 0);
        raw_u32(&r, huge[i]);
        raw_u32(&r, 0);
        raw_u32(&r, huge[i]);
        raw_u32(&r, 0x00414141);
        CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_LENGTH);
        /* the allocator never saw any of those sizes */
        tc_init(&c);
        cfg = tc_config(&c, 0);
        REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
        {
            ndr_node *t = NULL;
            CHECK_EQ_INT(ndr_decode(r.b, r.n, &t), NDR_E_LENGTH);
        }
        CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
        CHECK(c.max_request < 65536);
    }
}

/* A string's max_count is what a stub allocates: up to NDR_MAX_STRING, which the allocator
   serves from a chunk of its own, or refuses cleanly under a budget. */
TEST(ndr_large_string_buffer)
{
    raw r;
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    ndr_node *t = NULL;
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0x20004, 0, 0, 0, 0, 0);
    raw_u32(&r, NDR_MAX_STRING);
    raw_u32(&r, 0);
    raw_u32(&r, 3);
    raw_u32(&r, 0x00006968);   /* "hi\0" and a zero pad byte... */
    r.n--;                     /* ...which is not part of the message */
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_OK);
    CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_OK);
    raw_put(&r, 36, NDR_MAX_STRING + 1);   /* max_count one above the limit */
    CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_E_LENGTH);
    raw_put(&r, 36, NDR_MAX_STRING);
    /* under a budget */
    tc_init(&c);
    cfg = tc_config(&c, 0);
    c.budget = 512 * 1024;
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env)), SM_OK);
    CHECK_EQ_INT(ndr_decode(r.b, r.n, &t), NDR_E_NOMEM);
    CHECK(t == NULL);
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    CHECK(c.refused > 0);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
}

/* A referent id seen before: a cycle when it names a node being decoded, else an alias. */
TEST(ndr_cycles_and_aliases)
{
    raw r;
    /* root -> next = root */
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 0, 0, 0, 0, 0x20000);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_CYCLE);
    CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_E_CYCLE);
    /* root -> child -> child's next = root */
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 0, 0, 1, 0x20004, 0);
    raw_u32(&r, 1);
    raw_u32(&r, 0x20008);
    raw_node(&r, 0, 0, 0, 0, 0, 0x20000);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, SM_RECYCLE), NDR_E_CYCLE);
    CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_E_CYCLE);
    /* a child whose children array names the child itself */
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 0, 0, 1, 0x20004, 0);
    raw_u32(&r, 1);
    raw_u32(&r, 0x20008);
    raw_node(&r, 0, 0, 0, 1, 0x2000c, 0);
    raw_u32(&r, 1);
    raw_u32(&r, 0x20008);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_CYCLE);
    /* two children with one id: sharing, which a tree of [unique] pointers cannot have */
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 0, 0, 2, 0x20004, 0);
    raw_u32(&r, 2);
    raw_u32(&r, 0x20008);
    raw_u32(&r, 0x20008);
    raw_node(&r, 0, 0, 0, 0, 0, 0);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_ALIAS);
    CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_E_ALIAS);
    /* a name and the values array with one id */
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0x20004, 1, 0x20004, 0, 0, 0);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_ALIAS);
}

TEST(ndr_bad_format)
{
    raw r;
    ndr_node *src;
    unsigned char *b;
    size_t n;
    /* a count without its array */
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 2, 0, 0, 0, 0);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_FORMAT);
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 0, 0, 2, 0, 0);
    CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_E_FORMAT);
    /* size_is and the conformance disagree */
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 1, 0x20004, 0, 0, 0);
    raw_u32(&r, 2);
    raw_u32(&r, 0);
    raw_u32(&r, 5);
    raw_u32(&r, 0);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_FORMAT);
    /* strings: offset, actual 0, actual > max, no NUL, a NUL inside */
    {
        static const uint32_t cases[][4] = {
            { 4, 1, 3, 0x00636261 }, { 4, 0, 0, 0 }, { 2, 0, 3, 0x00006261 },
            { 4, 0, 4, 0x64636261 }, { 4, 0, 4, 0x00630061 },
        };
        size_t i;
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            r.n = 0;
            raw_u32(&r, 0x20000);
            raw_node(&r, 0x20004, 0, 0, 0, 0, 0);
            raw_u32(&r, cases[i][0]);
            raw_u32(&r, cases[i][1]);
            raw_u32(&r, cases[i][2]);
            raw_u32(&r, cases[i][3]);
            r.n -= 4 - cases[i][2];
            CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_FORMAT);
        }
    }
    /* nonzero padding before the values, and bytes after the message */
    src = src_node(1, 1, "ab");   /* 4 + 32 + 12 + 3 bytes, then the values' count and padding */
    src_values(src, 1, 42, 0);
    encode_or_die(src, &b, &n);
    CHECK_EQ_INT(decode_plain(b, n, 0), NDR_OK);
    CHECK_EQ_INT(b[51], 0);
    b[51] = 0xee;
    CHECK_EQ_INT(decode_in_env(b, n, NULL, 0), NDR_E_FORMAT);
    b[51] = 0;
    CHECK_EQ_INT(decode_in_env(b, n - 1, NULL, 0), NDR_E_LENGTH);   /* 7 bytes for one int64 */
    CHECK_EQ_INT(decode_in_env(b, 50, NULL, 0), NDR_E_LENGTH);      /* the name cut short */
    CHECK_EQ_INT(decode_in_env(b, 51, NULL, 0), NDR_E_TRUNCATED);   /* before the padding */
    {
        unsigned char *longer = (unsigned char *)malloc(n + 1);
        REQUIRE(longer != NULL);
        memcpy(longer, b, n);
        longer[n] = 0;
        CHECK_EQ_INT(decode_in_env(longer, n + 1, NULL, 0), NDR_E_TRAILING);
        free(longer);
    }
    free(b);
    src_free(src);
}

TEST(ndr_depth)
{
    raw r;
    ndr_node *deep, *t;
    unsigned char *b;
    size_t n;
    raw_chain(&r, NDR_MAX_DEPTH);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_OK);
    CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_OK);
    raw_chain(&r, NDR_MAX_DEPTH + 1);
    CHECK_EQ_INT(decode_in_env(r.b, r.n, NULL, 0), NDR_E_DEPTH);
    CHECK_EQ_INT(decode_plain(r.b, r.n, 0), NDR_E_DEPTH);
    /* the encoder refuses too deep a tree rather than recursing without end */
    deep = src_list(NDR_MAX_DEPTH + 1);
    CHECK_EQ_INT(ndr_encode(deep, &b, &n), NDR_E_DEPTH);
    t = deep;
    while (t->next->next)
        t = t->next;
    src_free(t->next);
    t->next = NULL;
    CHECK_EQ_INT(ndr_encode(deep, &b, &n), NDR_OK);
    free(b);
    src_free(deep);
}

/* Allocation failure at every point of the decoder's client pair: NDR_E_NOMEM, nothing leaked. */
TEST(ndr_client_faults)
{
    int k;
    for (k = 2; k < 6; k++) {
        ndr_node *src = sample(k);
        unsigned char *b;
        size_t n, calls, i;
        encode_or_die(src, &b, &n);
        CHECK_EQ_INT(decode_plain(b, n, 0), NDR_OK);
        calls = plain_calls;
        for (i = 1; i <= calls; i++)
            CHECK_EQ_INT(decode_plain(b, n, i), NDR_E_NOMEM);
        CHECK_EQ_INT(decode_plain(b, n, calls + 1), NDR_OK);
        free(b);
        src_free(src);
    }
}

/* The environment's backing allocator and smalloc's bookkeeping refusing at every point. */
TEST(ndr_backing_faults)
{
    int k;
    for (k = 3; k < NSAMPLES; k++) {
        ndr_node *src = sample(k);
        unsigned char *b;
        size_t n, i, calls = 0;
        int mode;
        encode_or_die(src, &b, &n);
        for (mode = 0; mode < 2; mode++) {
            for (i = 1;; i++) {
                tc_alloc c;
                sm_config cfg;
                sm_env *env;
                ndr_node *t = NULL;
                ndr_error e;
                size_t base;
                tc_init(&c);
                cfg = tc_config(&c, 256);
                cfg.flags = mode ? SM_RECYCLE : 0;
                env = sm_env_create(&cfg, NULL);
                REQUIRE(env != NULL);
                CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env)), SM_OK);
                base = c.calls;
                c.fail_at = base + i;
                e = ndr_decode(b, n, &t);
                if (e == NDR_OK)
                    CHECK(ndr_equal(t, src));
                else
                    CHECK_EQ_INT(e, NDR_E_NOMEM);
                CHECK((e == NDR_OK) == (c.refused == 0));
                ndr_free(t);
                CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
                CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
                CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
                CHECK_EQ_SIZE(c.live_bytes, 0);
                CHECK_EQ_SIZE(c.bad_frees, 0);
                if (e == NDR_OK) {
                    calls = c.calls - base;
                    break;
                }
            }
            CHECK(calls > 0);
            /* bookkeeping (stb_ds arrays of chunks) refused at every call in turn */
            for (i = 1;; i++) {
                tc_alloc c;
                sm_config cfg;
                sm_env *env;
                ndr_node *t = NULL;
                ndr_error e;
                size_t before;
                tc_init(&c);
                cfg = tc_config(&c, 256);
                cfg.flags = mode ? SM_RECYCLE : 0;
                env = sm_env_create(&cfg, NULL);
                REQUIRE(env != NULL);
                CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env)), SM_OK);
                before = tb_refused;
                tb_fail_at = tb_calls + i;
                e = ndr_decode(b, n, &t);
                tb_fail_at = 0;
                CHECK(e == NDR_OK || e == NDR_E_NOMEM);
                if (e == NDR_OK)
                    CHECK(ndr_equal(t, src));
                ndr_free(t);
                CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
                CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
                CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
                CHECK_EQ_SIZE(c.live_bytes, 0);
                if (tb_refused == before || i > 10000)
                    break;
            }
        }
        free(b);
        src_free(src);
    }
}

/* ---- the seed corpus -------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const unsigned char *b, size_t n)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int ndr_write_corpus(const char *dir)
{
    static const char *names[NSAMPLES] = {
        "valid_null_root", "valid_one_node", "valid_every_field", "valid_list_150",
        "valid_random_5", "valid_random_8", "valid_wide_2000", "valid_long_string_and_array",
    };
    int k, bad = 0;
    raw r;
    char name[64];
    for (k = 0; k < NSAMPLES; k++) {
        ndr_node *src = sample(k);
        unsigned char *b;
        size_t n;
        encode_or_die(src, &b, &n);
        if (k < 6 || n < 16384) {
            bad |= write_file(dir, names[k], b, n);
            if (k == 2) {
                bad |= write_file(dir, "truncated_every_field", b, n - 5);
            }
        }
        free(b);
        src_free(src);
    }
    raw_chain(&r, NDR_MAX_DEPTH + 1);
    bad |= write_file(dir, "too_deep", r.b, r.n);
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 0, 0, 1, 0x20004, 0);
    raw_u32(&r, 1);
    raw_u32(&r, 0x20008);
    raw_node(&r, 0, 0, 0, 0, 0, 0x20000);
    bad |= write_file(dir, "cycle", r.b, r.n);
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 0, 0, 2, 0x20004, 0);
    raw_u32(&r, 2);
    raw_u32(&r, 0x20008);
    raw_u32(&r, 0x20008);
    raw_node(&r, 0, 0, 0, 0, 0, 0);
    bad |= write_file(dir, "alias", r.b, r.n);
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0, 0xffffffffu, 0x20004, 0, 0, 0);
    raw_u32(&r, 0xffffffffu);
    raw_u32(&r, 0);
    bad |= write_file(dir, "oversized_values", r.b, r.n);
    r.n = 0;
    raw_u32(&r, 0x20000);
    raw_node(&r, 0x20004, 0, 0, 0, 0, 0);
    raw_u32(&r, 100000);
    raw_u32(&r, 0);
    raw_u32(&r, 3);
    raw_u32(&r, 0x00006968);
    r.n--;
    sprintf(name, "string_max_count_%u", 100000u);
    bad |= write_file(dir, name, r.b, r.n);
    return bad;
}

void suite_ndr(void)
{
    RUN(ndr_roundtrip);
    RUN(ndr_request_lifetime);
    RUN(ndr_truncated);
    RUN(ndr_oversized);
    RUN(ndr_large_string_buffer);
    RUN(ndr_cycles_and_aliases);
    RUN(ndr_bad_format);
    RUN(ndr_depth);
    RUN(ndr_client_faults);
    RUN(ndr_backing_faults);
}
