/* t_cjson.c - cJSON (Debian libcjson-dev, unmodified) allocating through the client pair
   (cJSON_InitHooks with sm_client_allocate / sm_client_free): documents of many shapes parse and
   print the same in manager code as with malloc; a whole document lives in the request's
   environment and goes with it; and every allocation failure, wherever it happens (the client
   pair, the environment's backing allocator, smalloc's bookkeeping), surfaces as a failed parse
   with nothing left live: never a crash or a leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "../harness.h"
#include "../counting.h"
#include "../threads.h"
#include "../util.h"
#include "clients.h"
#include "cjson_glue.h"

/* ---- documents -------------------------------------------------------------------------- */

typedef struct sbuf { char *s; size_t n, cap; } sbuf;

static void sb_add(sbuf *b, const char *text, size_t n)
{
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        char *s;
        while (cap - b->n < n + 1)
            cap *= 2;
        if (!(s = (char *)realloc(b->s, cap)))
            abort();
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->n, text, n);
    b->s[b->n += n] = '\0';
}

static void sb_puts(sbuf *b, const char *text)
{
    sb_add(b, text, strlen(text));
}

/* Appends text with each '#' replaced by the next number of a[]. */
static void sb_fmt(sbuf *b, const char *text, long a0, long a1)
{
    long a[2];
    int k = 0;
    a[0] = a0;
    a[1] = a1;
    for (; *text; text++) {
        if (*text == '#' && k < 2) {
            char tmp[32];
            int n = snprintf(tmp, sizeof tmp, "%ld", a[k++]);
            sb_add(b, tmp, (size_t)n);
        } else {
            sb_add(b, text, 1);
        }
    }
}

/* Documents of many shapes; valid ones first, then NDOCS_BAD that cJSON must refuse. */
#define NDOCS 16
#define NDOCS_BAD 8
static char *make_doc(int k)
{
    sbuf b = { NULL, 0, 0 };
    long i;
    switch (k) {
    case 0: sb_puts(&b, "null"); break;
    case 1: sb_puts(&b, " [true, false, null, 0, -0.5, 1e300, -12345678901234, 3.25e-7] "); break;
    case 2: sb_puts(&b, "\"\""); break;
    case 3:
        sb_puts(&b, "{\"esc\": \"tab\\t nl\\n quote\\\" back\\\\ slash\\/ ");
        sb_puts(&b, "\\u00e9 \\u20ac \\ud83d\\ude00\"}");
        break;
    case 4: sb_puts(&b, "{\"a\": [], \"b\": {}, \"c\": [[], [{}], {\"d\": []}]}"); break;
    case 5:   /* deep arrays, well inside cJSON's nesting limit */
        for (i = 0; i < 900; i++)
            sb_puts(&b, "[");
        sb_puts(&b, "42");
        for (i = 0; i < 900; i++)
            sb_puts(&b, "]");
        break;
    case 6:   /* deep objects */
        for (i = 0; i < 300; i++)
            sb_fmt(&b, "{\"level#\": ", i, 0);
        sb_puts(&b, "\"bottom\"");
        for (i = 0; i < 300; i++)
            sb_puts(&b, "}");
        break;
    case 7:   /* a wide array of numbers */
        sb_puts(&b, "[");
        for (i = 0; i < 3000; i++)
            sb_fmt(&b, i ? ",#.#" : "#.#", i * 37 - 50000, i % 10);
        sb_puts(&b, "]");
        break;
    case 8:   /* a wide object */
        sb_puts(&b, "{");
        for (i = 0; i < 1500; i++)
            sb_fmt(&b, i ? ",\"key#\":\"value #\"" : "\"key#\":\"value #\"", i, i * i);
        sb_puts(&b, "}");
        break;
    case 9:   /* one long string with escapes */
        sb_puts(&b, "[\"");
        for (i = 0; i < 8000; i++)
            sb_puts(&b, i % 3 ? "abcdefg" : "\\n\\u0041\\\"");
        sb_puts(&b, "\"]");
        break;
    case 10:   /* records, as a server would return them */
        sb_puts(&b, "{\"records\": [");
        for (i = 0; i < 200; i++) {
            sb_fmt(&b, "{\"id\": #, \"rank\": #, ", i, 200 - i);
            sb_fmt(&b, "\"name\": \"user #\", \"tags\": [\"t#\", \"x\"], ", i, i % 7);
            sb_fmt(&b, "\"score\": #.#, \"active\": true, \"meta\": null, ", i * 3, i % 9);
            sb_puts(&b, "\"nested\": {\"a\": [1, 2, {\"b\": \"c\"}]}}");
            if (i < 199)
                sb_puts(&b, ",");
        }
        sb_puts(&b, "], \"count\": 200}");
        break;
    case 11: sb_puts(&b, "\n\t {\r\n \"spaced\" :\t[ 1 ,\n2 ] , \"x\" : { } }\n"); break;
    case 12: sb_puts(&b, "[1.7976931348623157e308, 2.2250738585072014e-308, -0, 0.1]"); break;
    case 13: sb_puts(&b, "{\"dup\": 1, \"dup\": 2, \"\": \"empty key\"}"); break;
    case 14: sb_puts(&b, "\"\\u0000 a NUL escape\""); break;
    case 15:   /* many small objects in arrays of arrays */
        sb_puts(&b, "[");
        for (i = 0; i < 100; i++) {
            long j;
            sb_puts(&b, i ? ",[" : "[");
            for (j = 0; j < 10; j++)
                sb_fmt(&b, j ? ",{\"i\":#,\"j\":#}" : "{\"i\":#,\"j\":#}", i, j);
            sb_puts(&b, "]");
        }
        sb_puts(&b, "]");
        break;
    /* refused */
    case 16: sb_puts(&b, "[1, 2"); break;
    case 17: sb_puts(&b, "{\"a\": }"); break;
    case 18: sb_puts(&b, "\"unterminated"); break;
    case 19: sb_puts(&b, "{\"a\" 1}"); break;
    case 20: sb_puts(&b, "[\"\\u12\"]"); break;
    case 21: sb_puts(&b, "tru"); break;
    case 22:   /* deeper than cJSON's nesting limit */
        for (i = 0; i < 1200; i++)
            sb_puts(&b, "[");
        for (i = 0; i < 1200; i++)
            sb_puts(&b, "]");
        break;
    default:   /* a good document cut short in its middle */
        sb_puts(&b, "{\"records\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"na");
        break;
    }
    return b.s;
}

/* What cJSON prints for a document in a plain thread (malloc through the default pair), or NULL
   when it refuses it. */
static char *reference(const char *doc)
{
    cJSON *j = cJSON_Parse(doc);
    char *out, *copy;
    if (!j)
        return NULL;
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!out)
        return NULL;
    copy = (char *)malloc(strlen(out) + 1);
    if (copy)
        strcpy(copy, out);
    cJSON_free(out);
    return copy;
}

/* Parses (and prints) doc in the calling thread's client pair; 1 when it printed ref, 0 when the
   parse failed, -1 on a wrong result. */
static int parse_check(const char *doc, const char *ref)
{
    cJSON *j = cJSON_Parse(doc);
    char *out;
    int ok;
    if (!j)
        return 0;
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!out)
        return 0;
    ok = ref && strcmp(out, ref) == 0 ? 1 : -1;
    cJSON_free(out);
    return ok;
}

static char *docs[NDOCS + NDOCS_BAD], *refs[NDOCS + NDOCS_BAD];

static void docs_load(void)
{
    int k;
    if (docs[0])
        return;
    sm_cjson_hooks();
    for (k = 0; k < NDOCS + NDOCS_BAD; k++) {
        docs[k] = make_doc(k);
        refs[k] = reference(docs[k]);
    }
}

/* ---- tests ---------------------------------------------------------------------------------- */

TEST(cjson_reference_shapes)
{
    int k;
    docs_load();
    for (k = 0; k < NDOCS; k++)
        CHECK(refs[k] != NULL);
    for (k = NDOCS; k < NDOCS + NDOCS_BAD; k++)
        CHECK(refs[k] == NULL);
    CHECK(refs[14] && strncmp(refs[14], "\"\"", 2) == 0);   /* cJSON's strings end at a NUL */
}

/* Manager code: an attached environment serves every allocation; after cJSON_Delete (and after a
   refused document) nothing is live in it. Plain, with SM_RECYCLE, and with SM_POISON too (under
   AddressSanitizer a touch of a block cJSON freed would stop the test). */
TEST(cjson_manager_code)
{
    static const unsigned modes[] = { 0, SM_RECYCLE, SM_POISON | SM_RECYCLE, SM_POISON };
    size_t mode;
    int k;
    docs_load();
    for (mode = 0; mode < sizeof modes / sizeof modes[0]; mode++) {
        unsigned flags = modes[mode];
        tc_alloc c;
        sm_config cfg;
        sm_env *env;
        sm_stats s;
        tc_init(&c);
        cfg = tc_config(&c, 0);
        cfg.flags = flags;
        env = sm_env_create(&cfg, NULL);
        if (!env)
            continue;   /* an smalloc without these flags */
        CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env)), SM_OK);
        for (k = 0; k < NDOCS + NDOCS_BAD; k++) {
            size_t before = c.calls;
            CHECK_EQ_INT(parse_check(docs[k], refs[k]), k < NDOCS ? 1 : 0);
            s = tu_stats(env);
            CHECK_EQ_SIZE(s.live_blocks, 0);
            if (k == 10)
                CHECK(s.freed_blocks > 1000 || c.calls > before);   /* it did allocate here */
        }
        CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
        CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
        CHECK_EQ_SIZE(c.live_bytes, 0);
        CHECK_EQ_SIZE(c.bad_frees, 0);
    }
}

/* The RPC model: parsed in the request's environment, never deleted, gone at disable. */
TEST(cjson_request_lifetime)
{
    tc_alloc c;
    sm_config cfg;
    cJSON *j[NDOCS];
    int k;
    docs_load();
    tc_init(&c);
    cfg = tc_config(&c, 0);
    REQUIRE(sm_enable_allocate_with(&cfg) == SM_OK);
    for (k = 0; k < NDOCS; k++) {
        j[k] = cJSON_Parse(docs[k]);
        CHECK(j[k] != NULL);
    }
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j[10], "records")) == 200);
    CHECK_EQ_INT(cJSON_GetObjectItem(j[10], "count")->valueint, 200);
    CHECK(c.live_bytes > 200000);
    CHECK_EQ_INT(sm_disable_allocate(), SM_OK);   /* sixteen documents, one call */
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* A client pair that refuses its n-th allocation, in front of the default pair. */
static size_t cp_calls, cp_fail_at;
static sm_client_alloc_fn *cp_next_alloc;
static sm_client_free_fn *cp_next_free;
static void *cp_alloc(size_t size)
{
    if (++cp_calls == cp_fail_at)
        return NULL;
    return cp_next_alloc(size);
}
static void cp_free(void *p)
{
    cp_next_free(p);
}

/* Every allocation cJSON makes, refused in turn: the parse (or the print) fails, and what it had
   built is all marked free again. */
TEST(cjson_client_faults)
{
    int k;
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    docs_load();
    tc_init(&c);
    cfg = tc_config(&c, 0);
    env = sm_env_create(&cfg, NULL);
    REQUIRE(env != NULL);
    CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env)), SM_OK);
    CHECK_EQ_INT(sm_swap_client_alloc_free(cp_alloc, cp_free, &cp_next_alloc, &cp_next_free), SM_OK);
    for (k = 0; k < NDOCS + NDOCS_BAD; k++) {
        size_t n, i, step;
        cp_calls = 0;
        cp_fail_at = 0;
        CHECK_EQ_INT(parse_check(docs[k], refs[k]), k < NDOCS ? 1 : 0);
        n = cp_calls;
        step = n > 600 ? n / 300 : 1;   /* the big documents: some 300 points, the last ones too */
        for (i = 1; i <= n + 1; i += (i + 20 < n ? step : 1)) {
            cp_calls = 0;
            cp_fail_at = i;
            CHECK_EQ_INT(parse_check(docs[k], refs[k]), i > n && k < NDOCS ? 1 : 0);
            CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
        }
    }
    CHECK_EQ_INT(sm_set_client_alloc_free(cp_next_alloc, cp_next_free), SM_OK);
    CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* The environment's backing allocator (every call in turn, or every call from one on) and
   smalloc's bookkeeping refusing: a failed parse, or the right document. */
TEST(cjson_backing_faults)
{
    int k, mode;
    docs_load();
    for (k = 0; k < NDOCS + NDOCS_BAD; k++) {
        for (mode = 0; mode < 3; mode++) {
            size_t i;
            for (i = 1; i < 100000; i++) {
                tc_alloc c;
                sm_config cfg;
                sm_env *env;
                size_t base, tb_before;
                int r;
                tc_init(&c);
                cfg = tc_config(&c, 256);
                cfg.flags = (k & 1) ? SM_RECYCLE : 0;
                env = sm_env_create(&cfg, NULL);
                if (!env)
                    env = (cfg.flags = 0, sm_env_create(&cfg, NULL));
                REQUIRE(env != NULL);
                CHECK_EQ_INT(sm_set_thread_handle(sm_env_handle(env)), SM_OK);
                base = c.calls;
                tb_before = tb_refused;
                if (mode == 0)
                    c.fail_at = base + i;
                else if (mode == 1)
                    c.fail_from = base + i;
                else
                    tb_fail_at = tb_calls + i;
                r = parse_check(docs[k], refs[k]);
                tb_fail_at = 0;
                c.fail_at = c.fail_from = 0;
                CHECK(r >= 0);
                if (k >= NDOCS)
                    CHECK_EQ_INT(r, 0);
                else if (mode < 2)
                    CHECK_EQ_INT(r, c.refused == 0);   /* a refusal is always a failed parse */
                CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
                CHECK_EQ_INT(sm_set_thread_handle(NULL), SM_OK);
                CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
                CHECK_EQ_SIZE(c.live_bytes, 0);
                CHECK_EQ_SIZE(c.bad_frees, 0);
                if (mode < 2 ? c.refused == 0 : tb_refused == tb_before)
                    break;   /* past the last call: nothing was refused */
            }
        }
    }
}

/* Server threads, each in its own request environment, parse at once. */
static void server_thread(void *arg)
{
    int t = *(int *)arg, round, k;
    for (round = 0; round < 20; round++) {
        if (sm_enable_allocate() != SM_OK) {
            CHECK(0);
            return;
        }
        for (k = t % 4; k < NDOCS; k += 2) {
            cJSON *j = cJSON_Parse(docs[k]);
            char *out = j ? cJSON_PrintUnformatted(j) : NULL;
            CHECK(out != NULL && strcmp(out, refs[k]) == 0);
            if (round & 1)
                cJSON_Delete(j);   /* or not: disable takes it all */
        }
        CHECK_EQ_INT(sm_disable_allocate(), SM_OK);
    }
}

TEST(cjson_server_threads)
{
    th_thread t[4];
    int id[4], i;
    docs_load();
    for (i = 0; i < 4; i++) {
        id[i] = i;
        CHECK(th_thread_start(&t[i], server_thread, &id[i]));
    }
    for (i = 0; i < 4; i++)
        th_thread_join(&t[i]);
}

void suite_cjson(void)
{
    RUN(cjson_reference_shapes);
    RUN(cjson_manager_code);
    RUN(cjson_request_lifetime);
    RUN(cjson_client_faults);
    RUN(cjson_backing_faults);
    RUN(cjson_server_threads);
}
