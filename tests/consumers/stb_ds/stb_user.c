/* stb_user.c - a file that uses stb_ds (its short names, declarations only: libs_main.c compiles
   stb_ds's implementation) and compiles smalloc's implementation, the program's one with
   external linkage. Linked with libs_main.c, lib_a.c and lib_b.c. */
#include "stb_ds.h"
#define SMALLOC_IMPLEMENTATION
#include "smalloc.h"

int stb_user_work(void);

int stb_user_work(void)
{
    sm_env *env = sm_env_create(NULL, NULL);
    void **blocks = NULL;
    int i, bad;

    if (env == NULL)
        return 1;
    for (i = 0; i < 300; i++)
        arrput(blocks, sm_env_allocate(env, 48, NULL));
    bad = arrlen(blocks) != 300 || blocks[299] == NULL;
    for (i = 0; i < 300; i += 2)
        bad |= sm_env_free(env, blocks[i]) != SM_OK;
    arrfree(blocks);
    return bad | (sm_env_destroy(env) != SM_OK);
}
