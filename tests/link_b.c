/* link_b.c - the plain-use half of the two-file link check (see link_a.c). */
#include <string.h>
#include "../smalloc.h"

int link_b_use(sm_env *env);

int link_b_use(sm_env *env)
{
    sm_status st = SM_INVALID_ARG;
    void *p = sm_env_allocate(env, 100, &st), *q;
    sm_stats s;
    if (!p || st != SM_OK)
        return 1;
    memset(p, 1, 100);
    if (sm_env_free(env, p) != SM_OK || sm_env_free(env, p) != SM_INVALID_ARG)
        return 1;
    if (sm_enable_allocate() != SM_OK)
        return 1;
    q = SM_ALLOCATE(10, &st);
    if (!q || st != SM_OK || sm_free(q) != SM_OK || sm_disable_allocate() != SM_OK)
        return 1;
    if (sm_env_stats(env, &s) != SM_OK || s.live_blocks != 0)
        return 1;
    return strcmp(sm_status_string(SM_OK), "SM_OK") != 0;
}
