/* 06_cjson.c - cJSON, unmodified, allocating through smalloc: cJSON_InitHooks with the client
   pair (sm_client_allocate, and sm_client_free behind a one-line wrapper). A server parses a
   request's JSON in manager code, so the whole document lives in the request's environment:

     1. between sm_enable_allocate and sm_disable_allocate, the document is parsed, read, and
        never deleted: disable releases it with the environment;
     2. the same in an environment the program holds (sm_env_create, the thread attached with
        sm_set_thread_handle, as an RPC runtime does for a request), to print its figures with
        sm_env_stats after the parse, after cJSON_Delete (mark-free) and at destroy.

   Usage: 06_cjson FILE.json    (an unreadable or invalid file: a message, exit status 2)

   Build by hand from the top directory (Debian: apt-get install libstb-dev libcjson-dev):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb libcjson) examples/06_cjson.c \
          -o 06_cjson $(pkg-config --libs libcjson)
   or run `make demo`, which builds and runs every example (this one on examples/data/orders.json). */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>

/* cJSON's free hook returns nothing; sm_client_free returns a status. */
static void json_free(void *ptr)
{
    (void)sm_client_free(ptr);
}

/* The file's bytes (malloc'd: they are the client's, not the request's), or NULL. */
static char *read_file(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (!f)
        return NULL;
    do {
        if (cap - n < 4096) {
            char *b = (char *)realloc(buf, cap = cap * 2 + 4096);
            if (!b) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = b;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        errno = e ? e : EIO;
        return NULL;
    }
    fclose(f);
    *length = n;
    return buf;
}

typedef struct census {
    long objects, arrays, strings, numbers, booleans, nulls;
    int depth;
} census;

static void count(const cJSON *item, int depth, census *c)
{
    if (depth > c->depth)
        c->depth = depth;
    for (; item != NULL; item = item->next) {
        if (cJSON_IsObject(item))
            c->objects++;
        else if (cJSON_IsArray(item))
            c->arrays++;
        else if (cJSON_IsString(item))
            c->strings++;
        else if (cJSON_IsNumber(item))
            c->numbers++;
        else if (cJSON_IsBool(item))
            c->booleans++;
        else if (cJSON_IsNull(item))
            c->nulls++;
        if (item->child)
            count(item->child, depth + 1, c);
    }
}

/* Where a parse stopped, as line:column of the file. */
static void report_parse_error(const char *path, const char *buf, size_t length)
{
    const char *at = cJSON_GetErrorPtr(), *p;
    long line = 1, column = 1;
    if (at == NULL || at < buf || at > buf + length) {
        fprintf(stderr, "06_cjson: %s: not valid JSON\n", path);
        return;
    }
    for (p = buf; p < at; p++) {
        if (*p == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    fprintf(stderr, "06_cjson: %s:%ld:%ld: not valid JSON (%s)\n", path, line, column,
            at == buf + length ? "the file ends too early" : "unexpected character here");
}

/* The request handler: manager code, unaware of where its memory comes from. */
static cJSON *parse_request(const char *buf, size_t length)
{
    return cJSON_ParseWithLength(buf, length);
}

static void show_stats(const char *when, const sm_env *env)
{
    sm_stats s;
    if (sm_env_stats(env, &s) != SM_OK)
        return;
    printf("  %-20s %6lu blocks live (%7lu bytes), %6lu marked free (%7lu bytes);"
           " %7lu bytes from malloc in %lu chunks\n", when,
           (unsigned long)s.live_blocks, (unsigned long)s.live_bytes,
           (unsigned long)s.freed_blocks, (unsigned long)s.freed_bytes,
           (unsigned long)s.backing_bytes, (unsigned long)s.chunks);
}

int main(int argc, char **argv)
{
    cJSON_Hooks hooks;
    const cJSON *key;
    cJSON *doc;
    census c;
    char *buf;
    size_t length = 0;
    sm_status status;
    sm_env *env;
    int parsed;

    if (argc != 2) {
        fprintf(stderr, "usage: 06_cjson FILE.json\n");
        return 2;
    }
    if ((buf = read_file(argv[1], &length)) == NULL) {
        fprintf(stderr, "06_cjson: cannot read %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    printf("%s: %lu bytes, cJSON %s, smalloc %s\n", argv[1], (unsigned long)length,
           cJSON_Version(), SMALLOC_VERSION_STRING);

    /* Once per process: cJSON allocates through the calling thread's client pair. */
    hooks.malloc_fn = sm_client_allocate;
    hooks.free_fn = json_free;
    cJSON_InitHooks(&hooks);

    /* 1. Manager code: the document lives in the request's environment. */
    printf("1. manager code (sm_enable_allocate ... sm_disable_allocate)\n");
    status = sm_enable_allocate();
    if (status != SM_OK) {
        fprintf(stderr, "06_cjson: sm_enable_allocate: %s\n", sm_status_string(status));
        free(buf);
        return 1;
    }
    doc = parse_request(buf, length);
    if (doc == NULL) {
        report_parse_error(argv[1], buf, length);
        sm_disable_allocate();   /* whatever the failed parse left goes too */
        free(buf);
        return 2;
    }
    memset(&c, 0, sizeof c);
    count(doc, 1, &c);
    printf("  parsed %ld values: %ld objects, %ld arrays, %ld strings, %ld numbers, %ld booleans,"
           " %ld nulls; depth %d\n", c.objects + c.arrays + c.strings + c.numbers + c.booleans + c.nulls,
           c.objects, c.arrays, c.strings, c.numbers, c.booleans, c.nulls, c.depth);
    if (cJSON_IsObject(doc)) {
        printf("  top-level keys:");
        cJSON_ArrayForEach(key, doc)
            printf(" \"%s\"", key->string);
        printf("\n");
    }
    status = sm_disable_allocate();
    printf("  sm_disable_allocate -> %s: the document went with the environment, no cJSON_Delete\n",
           sm_status_string(status));

    /* 2. The same in an environment we hold, for its figures. */
    printf("2. the environment's figures (sm_env_stats)\n");
    env = sm_env_create(NULL, &status);
    if (env == NULL || sm_set_thread_handle(sm_env_handle(env)) != SM_OK) {
        fprintf(stderr, "06_cjson: sm_env_create: %s\n", sm_status_string(status));
        free(buf);
        return 1;
    }
    doc = parse_request(buf, length);
    parsed = doc != NULL;
    show_stats("after cJSON_Parse", env);
    cJSON_Delete(doc);   /* every node marked free, exactly checked */
    show_stats("after cJSON_Delete", env);
    sm_set_thread_handle(NULL);
    printf("  sm_env_destroy -> %s: one call gives all of it back\n", sm_status_string(sm_env_destroy(env)));
    free(buf);
    return parsed ? 0 : 1;
}
