/* 08_use_after_free.c - a use after mark-free, made visible by SM_POISON. A block is marked
   free and then read again, as a stale pointer would. sm_env_describe tells what the pointer
   points to, and the read itself shows the poisoning:
     - built plainly (make demo), the released bytes read back as the pattern 0xDD;
     - built with AddressSanitizer (make sanitize-demo), the read stops the program with a
       "use-after-poison" report that names this line;
     - built with -DSMALLOC_VALGRIND and run under Valgrind, Memcheck reports an invalid read.

   Build by hand from the top directory (Debian: apt-get install libstb-dev clang):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb) examples/08_use_after_free.c -o uaf
       clang -std=c99 -g -fsanitize=address -pthread -I. $(pkg-config --cflags stb) \
           examples/08_use_after_free.c -o uaf-asan && ./uaf-asan */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
    sm_config config;
    sm_block_info info;
    sm_status status;
    sm_env *env;
    char *name, *stale;
    volatile char first;

    memset(&config, 0, sizeof config);
    config.flags = SM_POISON;
    env = sm_env_create(&config, &status);
    if (!env)
        return 1;
    name = (char *)sm_env_allocate(env, 32, &status);
    if (!name || !sm_env_allocate(env, 16, &status))   /* a block after it, so it stays in place */
        return 1;
    strcpy(name, "a name the caller still holds");
    stale = name;

    status = sm_env_free(env, name);
    printf("sm_env_free(name) -> %s\n", sm_status_string(status));
    status = sm_env_describe(env, stale + 5, &info);
    printf("sm_env_describe(stale + 5) -> %s: block at +%d, %lu bytes, %s\n", sm_status_string(status),
           (int)(stale - (char *)info.start), (unsigned long)info.size, info.live ? "live" : "marked free");

    printf("reading the stale pointer...\n");
    fflush(stdout);
    first = stale[0];   /* the bug: AddressSanitizer stops here */
    printf("read 0x%02X: the released block holds the poison pattern, not the old name\n",
           (unsigned)(unsigned char)first);
    return sm_env_destroy(env) == SM_OK && (unsigned char)first == 0xDD ? 0 : 1;
}
