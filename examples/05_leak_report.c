/* 05_leak_report.c - finding a leak with SM_TRACK: a request handler allocates with SM_ALLOCATE
   (which records __FILE__ and __LINE__) and forgets to mark some blocks free. sm_env_report
   lists what is still live per allocation site while the request runs, and the report function
   in the configuration is called with the same list when the environment is destroyed. A child
   environment (sm_env_create_child), which inherits the configuration, reports its own leak
   when its parent destroys it.

   Build by hand from the top directory (Debian: apt-get install libstb-dev):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb) examples/05_leak_report.c -o 05_leak_report
   or run `make demo`, which builds and runs every example. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <stdio.h>
#include <string.h>

typedef struct record {
    char *name;
    int *values;
    size_t count;
} record;

static void print_site(void *user, const char *file, int line, size_t blocks, size_t bytes)
{
    size_t *total = (size_t *)user;
    printf("    %s:%d  %lu block%s, %lu bytes\n", file ? file : "(no site)", line,
           (unsigned long)blocks, blocks == 1 ? "" : "s", (unsigned long)bytes);
    *total += bytes;
}

/* Unmarshals one record; the scratch buffer is forgotten on every third call (the bug). */
static record *unmarshal(int i)
{
    sm_status status;
    record *r = (record *)SM_ALLOCATE(sizeof *r, &status);
    char *scratch = (char *)SM_ALLOCATE(64, &status);
    size_t k;
    if (!r || !scratch)
        return NULL;
    sprintf(scratch, "record-%d", i);
    r->name = (char *)SM_ALLOCATE(strlen(scratch) + 1, &status);
    r->count = (size_t)(i % 4 + 1);
    r->values = (int *)SM_ALLOCATE(r->count * sizeof *r->values, &status);
    if (!r->name || !r->values)
        return NULL;
    strcpy(r->name, scratch);
    for (k = 0; k < r->count; k++)
        r->values[k] = i * 10 + (int)k;
    if (i % 3 != 0)
        (void)sm_free(scratch);
    return r;
}

static void release(record *r)
{
    (void)sm_free(r->values);
    (void)sm_free(r->name);
    (void)sm_free(r);          /* the name and values are freed; the scratch buffer may not be */
}

int main(void)
{
    sm_config config;
    sm_env *env;
    sm_status status;
    size_t live = 0, leaked = 0;
    int i;

    memset(&config, 0, sizeof config);
    config.flags = SM_TRACK;
    config.report = print_site;        /* called at destroy for whatever is still live */
    config.report_user = &leaked;
    env = sm_env_create(&config, &status);
    if (!env) {
        printf("sm_env_create: %s\n", sm_status_string(status));
        return 1;
    }
    /* the handler uses the thread-implicit calls: attach this thread to env */
    if (sm_set_thread_handle(sm_env_handle(env)) != SM_OK)
        return 1;

    for (i = 0; i < 10; i++) {
        record *r = unmarshal(i);
        if (!r)
            return 1;
        if (i < 8)
            release(r);                /* the last two records are still in use */
    }
    {
        /* a sub-operation in a child environment, which forgets its reply */
        sm_env *child = sm_env_create_child(env, NULL, &status);
        if (!child || !SM_ENV_ALLOCATE(child, 100, &status))
            return 1;
    }

    printf("live blocks by site while the request runs (sm_env_report):\n");
    status = sm_env_report(env, print_site, &live);
    printf("  %s, %lu bytes live\n", sm_status_string(status), (unsigned long)live);

    (void)sm_set_thread_handle(NULL);
    printf("still live when the environment is destroyed (sm_config.report), the child first:\n");
    status = sm_env_destroy(env);
    printf("  %s, %lu bytes were never marked free\n", sm_status_string(status), (unsigned long)leaked);
    return status == SM_OK && leaked == live + 100 ? 0 : 1;
}
