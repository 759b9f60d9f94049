/* The declarations of smalloc.h compile as C89: every public type, function and macro used
   once (compiled only, never linked: `make check-c89`). */
#include "smalloc.h"

int c89_use(void);

int c89_use(void)
{
    sm_status status = SM_OK;
    sm_config config = { 0, 0, 0, 0, 0, 0, 0 };
    sm_stats stats;
    sm_env *env = sm_env_create(&config, &status);
    sm_thread_handle handle = sm_env_handle(env);
    sm_client_alloc_fn *old_alloc = 0;
    sm_client_free_fn *old_free = 0;
    void *block = SM_ENV_ALLOCATE(env, 16, &status);
    (void)sm_env_stats(env, &stats);
    (void)sm_env_free(env, block);
    (void)sm_set_thread_handle(handle);
    block = SM_ALLOCATE(8, &status);
    (void)sm_free(block);
    (void)sm_swap_client_alloc_free(old_alloc, old_free, &old_alloc, &old_free);
    (void)sm_set_raise_handler(0);
    (void)sm_env_destroy(env);
    return (int)status + SMALLOC_VERSION + (int)sizeof(SMALLOC_VERSION_STRING) + SM_TRACK;
}
