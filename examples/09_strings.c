/* 09_strings.c - building a reply out of strings in the request's environment, as APR's
   apr_pstrdup/apr_psprintf and talloc_strdup/talloc_asprintf do: sm_env_strdup, sm_env_strndup,
   sm_env_memdup, sm_env_printf and sm_env_allocate_zeroed give ordinary blocks of the
   environment, all released with it in one call. A status is explained with sm_status_message.

   Build by hand from the top directory (Debian: apt-get install libstb-dev):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb) examples/09_strings.c -o 09_strings
   or run `make demo`, which builds and runs every example. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <stdio.h>
#include <string.h>

/* A reply: a few header lines and a body, every byte in the request's environment. */
typedef struct reply {
    const char **lines;   /* NULL-terminated */
    size_t count;
    unsigned char *body;
    size_t body_size;
} reply;

static reply *build_reply(sm_env *env, const char *request, sm_status *status)
{
    static const unsigned char payload[] = { 0x01, 0x00, 0x02, 0x00, 0xff };
    const char *space = strchr(request, ' ');
    size_t verb = space ? (size_t)(space - request) : strlen(request);
    reply *r = (reply *)sm_env_allocate_zeroed(env, 1, sizeof *r, status);
    if (!r)
        return NULL;
    r->lines = (const char **)sm_env_allocate_zeroed(env, 4, sizeof *r->lines, status);
    if (!r->lines)
        return NULL;
    /* a copy of the request's first word, of the whole request, and formatted lines */
    r->lines[0] = sm_env_strndup(env, request, verb, status);
    r->lines[1] = sm_env_printf(env, status, "request: \"%s\" (%u bytes)", request, (unsigned)strlen(request));
    r->lines[2] = sm_env_printf(env, status, "body: %u bytes", (unsigned)sizeof payload);
    r->count = 3;
    r->body = (unsigned char *)sm_env_memdup(env, payload, sizeof payload, status);
    r->body_size = sizeof payload;
    return r->lines[0] && r->lines[1] && r->lines[2] && r->body ? r : NULL;
}

int main(void)
{
    sm_status status;
    sm_stats stats;
    size_t i;
    reply *r;
    sm_env *env = sm_env_create(NULL, &status);
    if (!env) {
        printf("sm_env_create: %s\n", sm_status_message(status));
        return 1;
    }
    r = build_reply(env, "GET /status HTTP/1.0", &status);
    if (!r) {
        printf("build_reply: %s\n", sm_status_message(status));
        return 1;
    }
    printf("verb: %s\n", r->lines[0]);
    for (i = 1; i < r->count; i++)
        printf("%s\n", r->lines[i]);
    (void)sm_env_stats(env, &stats);
    printf("the reply is %lu blocks, %lu bytes, all in one environment\n",
           (unsigned long)stats.live_blocks, (unsigned long)stats.live_bytes);
    /* a NULL string is refused with a status, not a crash */
    if (!sm_env_strdup(env, NULL, &status))
        printf("sm_env_strdup(NULL): %s: %s\n", sm_status_string(status), sm_status_message(status));
    /* the reply has been sent: one call releases all of it */
    status = sm_env_destroy(env);
    printf("sm_env_destroy: %s\n", sm_status_string(status));
    return status == SM_OK ? 0 : 1;
}
