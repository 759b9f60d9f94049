/* plugin.c - a shared library that embeds smalloc privately (SMALLOC_STATIC) and is unloaded
   by its host (host.c) while threads that used it are still running. */
#define SMALLOC_STATIC
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../../smalloc.h"

int plugin_work(void);

/* Enables an environment on the calling thread, uses it and disables it: the thread is now
   known to smalloc (its thread-exit hook is set). Returns 1 on success. */
int plugin_work(void)
{
    int i, ok = sm_enable_allocate() == SM_OK;
    for (i = 0; ok && i < 100; i++)
        ok = sm_allocate((size_t)i * 10, NULL) != NULL;
    return sm_disable_allocate() == SM_OK && ok;
}
