/* link_a.c - two-file link check, with link_b.c: the implementation is compiled here, the other
   file includes smalloc.h plainly and uses it. Prints nothing; exits 0 on success. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../smalloc.h"
#include "../smalloc.h"   /* a second include is harmless, implementation and all */

int link_b_use(sm_env *env);   /* in link_b.c */

int main(void)
{
    sm_status st = SM_INVALID_ARG;
    sm_env *env = sm_env_create(NULL, &st);
    int bad = 0;
    if (!env || st != SM_OK)
        return 1;
    bad |= link_b_use(env);
    bad |= sm_env_destroy(env) != SM_OK;
    return bad;
}
