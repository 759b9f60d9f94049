/* lib_a.c - a library that embeds smalloc privately (SMALLOC_STATIC) and exports one function.
   With lib_b.c, which does the same, and libs_main.c, which uses stb_ds on its own account:
   the three must link into one program. This one is written as for 0.2.0, with
   SMALLOC_STB_DS_IMPLEMENTATION, which must do no harm. */
#define SMALLOC_STATIC
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

int lib_a_work(void);

int lib_a_work(void)
{
    sm_env *env = sm_env_create(NULL, NULL);
    int i;
    if (env == NULL)
        return 1;
    for (i = 0; i < 1000; i++)
        if (sm_env_allocate(env, 512, NULL) == NULL)
            return 1;
    return sm_env_destroy(env) == SM_OK ? 0 : 1;
}
