/* ndr_fuzz.c - libFuzzer target for the NDR-like unmarshaller (ndr.h) on smalloc.

   Each input is decoded three ways, and whatever it holds, nothing may crash, leak or trip a
   sanitizer, and the allocator must never be what breaks:
     1. in a plain thread (the default client pair is malloc/free): a tree that decodes must
        re-encode and decode to the same tree and the same bytes; then it is freed;
     2. in manager code attached to an environment whose backing allocator has a small budget
        (SM_RECYCLE for inputs of odd length): any failure is NDR_E_NOMEM or a format error,
        and afterwards, tree freed or decode failed, the environment holds no live block;
     3. between sm_enable_allocate and sm_disable_allocate, never freed: disable releases it.

   make fuzz-ndr FUZZ_TIME=60     clang -fsanitize=fuzzer,address,undefined, corpus
                                  tests/clients/ndr_corpus (copied, so new inputs stay in build/)
   With -DNDR_REPLAY_MAIN the file has a main that replays files or directories given on the
   command line through the same checks, built with any C compiler (make check-clients). */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../../smalloc.h"
#include "ndr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

/* A backing allocator with a byte budget. */
typedef struct budget { size_t live, budget; } budget;

static void *budget_alloc(void *context, size_t size, const char *file, int line)
{
    budget *b = (budget *)context;
    void *p;
    (void)file;
    (void)line;
    if (size > b->budget - b->live)
        return NULL;
    if ((p = malloc(size)) != NULL)
        b->live += size;
    return p;
}

static void budget_free(void *context, void *ptr, size_t size)
{
    budget *b = (budget *)context;
    b->live -= size;
    free(ptr);
}

static void plain(const uint8_t *data, size_t size)
{
    ndr_node *t = NULL, *t2 = NULL;
    unsigned char *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    ndr_error e = ndr_decode(data, size, &t);
    if (e != NDR_OK) {
        FUZZ_CHECK(t == NULL && e != NDR_E_NOMEM);
        return;
    }
    FUZZ_CHECK(ndr_encode(t, &e1, &n1) == NDR_OK);
    FUZZ_CHECK(ndr_decode(e1, n1, &t2) == NDR_OK);
    FUZZ_CHECK(ndr_equal(t, t2));
    FUZZ_CHECK(ndr_encode(t2, &e2, &n2) == NDR_OK);
    FUZZ_CHECK(n1 == n2 && memcmp(e1, e2, n1) == 0);
    FUZZ_CHECK(n1 == size);   /* only referent ids and string max_counts may differ */
    free(e1);
    free(e2);
    ndr_free(t);
    ndr_free(t2);
}

static void manager(const uint8_t *data, size_t size, ndr_error plain_result)
{
    budget b = { 0, 256 * 1024 };
    sm_config cfg;
    sm_env *env;
    sm_stats s;
    ndr_node *t = NULL;
    ndr_error e;
    memset(&cfg, 0, sizeof cfg);
    cfg.chunk_size = 1024;
    cfg.alloc = budget_alloc;
    cfg.free = budget_free;
    cfg.context = &b;
    cfg.flags = (size & 1) ? SM_RECYCLE : 0;
    env = sm_env_create(&cfg, NULL);
    if (!env && cfg.flags) {   /* an smalloc without SM_RECYCLE */
        cfg.flags = 0;
        env = sm_env_create(&cfg, NULL);
    }
    FUZZ_CHECK(env != NULL);
    FUZZ_CHECK(sm_set_thread_handle(sm_env_handle(env)) == SM_OK);
    e = ndr_decode(data, size, &t);
    /* the same answer as with malloc, unless the budget ran out */
    FUZZ_CHECK(e == plain_result || e == NDR_E_NOMEM);
    FUZZ_CHECK(e == NDR_OK || t == NULL);
    ndr_free(t);
    FUZZ_CHECK(sm_env_stats(env, &s) == SM_OK);
    FUZZ_CHECK(s.live_blocks == 0 && s.live_bytes == 0);
    FUZZ_CHECK(s.backing_peak <= b.budget);
    FUZZ_CHECK(sm_set_thread_handle(NULL) == SM_OK);
    FUZZ_CHECK(sm_env_destroy(env) == SM_OK);
    FUZZ_CHECK(b.live == 0);
}

static void request(const uint8_t *data, size_t size, ndr_error plain_result)
{
    ndr_node *t = NULL;
    FUZZ_CHECK(sm_enable_allocate() == SM_OK);
    FUZZ_CHECK(ndr_decode(data, size, &t) == plain_result);
    FUZZ_CHECK(sm_disable_allocate() == SM_OK);   /* the tree goes with the environment */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ndr_node *t = NULL;
    ndr_error e = ndr_decode(data, size, &t);
    ndr_free(t);
    plain(data, size);
    manager(data, size, e);
    request(data, size, e);
    return 0;
}

#ifdef NDR_REPLAY_MAIN
#include <dirent.h>

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, n;
    if (!f)
        return 0;
    for (;;) {
        if (cap - len < 4096) {
            unsigned char *b = (unsigned char *)realloc(buf, cap = cap * 2 + 4096);
            FUZZ_CHECK(b != NULL);
            buf = b;
        }
        n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 1;
}

int main(int argc, char **argv)
{
    int i, files = 0;
    for (i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d) {
            struct dirent *de;
            char path[4096];
            while ((de = readdir(d)) != NULL) {
                if (de->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
                files += replay_file(path);
            }
            closedir(d);
        } else if (replay_file(argv[i])) {
            files++;
        } else {
            fprintf(stderr, "ndr replay: cannot read %s\n", argv[i]);
            return 2;
        }
    }
    printf("ndr replay: %d inputs decoded, re-encoded and freed in three modes, no failure\n", files);
    return files > 0 ? 0 : 1;
}
#endif
