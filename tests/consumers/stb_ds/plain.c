/* plain.c - the implementation with nothing but SMALLOC_IMPLEMENTATION defined: no stb_ds macro,
   no stb_ds implementation anywhere else in the program. Valid C99 and C++11, and clean under a
   strict warning set with stb_ds.h found through a plain -I. Prints OK. */
#define SMALLOC_IMPLEMENTATION
#include "smalloc.h"
#include <stdio.h>

int main(void)
{
    sm_status status = SM_OK;
    sm_env *env = sm_env_create(NULL, &status);
    size_t i;

    if (env == NULL) {
        fprintf(stderr, "sm_env_create: %s\n", sm_status_string(status));
        return 1;
    }
    /* Enough blocks, of growing size, for several chunks: smalloc's stb_ds arrays grow. */
    for (i = 0; i < 2000; i++) {
        if (sm_env_allocate(env, 64 + i * 8, &status) == NULL) {
            fprintf(stderr, "sm_env_allocate: %s\n", sm_status_string(status));
            return 1;
        }
    }
    if ((status = sm_env_destroy(env)) != SM_OK) {
        fprintf(stderr, "sm_env_destroy: %s\n", sm_status_string(status));
        return 1;
    }
    puts("OK");
    return 0;
}
