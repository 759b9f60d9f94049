/* poison_probe.c - one bad read of an SM_POISON environment, for the death tests of mk/debug.mk
   (make check-poison-asan, make check-poison-valgrind): the tool must report it.

       poison_probe freed     reads a block after it was marked free
       poison_probe reset     reads a block after sm_env_reset
       poison_probe tail      reads the part of a chunk not handed out yet
       poison_probe overrun   reads one byte past the size asked (inside the block's granule)
       poison_probe ok        the same environment used correctly: must run clean

   A bad case the tool missed reads the pattern byte and exits 0, which the check counts as a
   failure; usage errors exit 2. Built with SMALLOC_VALGRIND for Valgrind, plain for ASan (which
   smalloc detects by itself). */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <stdio.h>
#include <string.h>

static unsigned char peek(const unsigned char *p)
{
    return *(const volatile unsigned char *)p;
}

int main(int argc, char **argv)
{
    sm_config cfg;
    sm_env *env;
    unsigned char *a, *b, *c;
    unsigned sum = 0;
    const char *what = argc == 2 ? argv[1] : "";
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = SM_POISON;
    env = sm_env_create(&cfg, NULL);
    if (!env)
        return 3;
    a = (unsigned char *)sm_env_allocate(env, 64, NULL);
    b = (unsigned char *)sm_env_allocate(env, 64, NULL);
    c = (unsigned char *)sm_env_allocate(env, 20, NULL);   /* the last block, not a granule long */
    if (!a || !b || !c)
        return 3;
    memset(a, 1, 64);
    memset(b, 2, 64);
    memset(c, 3, 20);
    if (strcmp(what, "freed") == 0) {
        if (sm_env_free(env, a) != SM_OK)   /* not the last block: marked free, stays */
            return 3;
        sum = peek(a + 8);
    } else if (strcmp(what, "reset") == 0) {
        if (sm_env_reset(env) != SM_OK)
            return 3;
        sum = peek(b);
    } else if (strcmp(what, "tail") == 0) {
        sum = peek(c + 20 + 256);
    } else if (strcmp(what, "overrun") == 0) {
        sum = peek(c + 20);
    } else if (strcmp(what, "ok") == 0) {
        /* every byte handed out is readable; freeing, rolling back, reusing, resetting */
        sum = peek(a) + peek(a + 63) + peek(b + 32) + peek(c + 19);
        if (sm_env_free(env, b) != SM_OK || sm_env_free(env, c) != SM_OK)
            return 3;
        c = (unsigned char *)sm_env_allocate(env, 100, NULL);
        if (!c)
            return 3;
        memset(c, 4, 100);
        sum += peek(c + 99);
        if (sm_env_reset(env) != SM_OK)
            return 3;
        a = (unsigned char *)sm_env_allocate(env, 10, NULL);
        if (!a)
            return 3;
        a[9] = 5;
        sum += peek(a + 9);
        if (sum != 1 + 1 + 2 + 3 + 4 + 5)
            return 4;
    } else {
        (void)fprintf(stderr, "usage: poison_probe freed|reset|tail|overrun|ok\n");
        return 2;
    }
    (void)sm_env_destroy(env);
    (void)sm_cache_trim(0);
    printf("%s: read %u\n", what, sum);
    return 0;
}
