/* cjson_glue.h - cJSON (unmodified) on smalloc: the glue that the README shows, shared by the
   client tests and bench/clients.c. Include it after smalloc.h and cJSON.h.

   sm_cjson_hooks() routes every cJSON allocation through the calling thread's client pair: in
   manager code (a thread with a current environment, sm_enable_allocate) a parsed document lives
   in that environment and goes with it at sm_disable_allocate; in a plain thread it is malloc's.
   cJSON_Delete marks free (or frees). The hooks are process-wide; the pair is per thread. */
#ifndef CJSON_GLUE_H
#define CJSON_GLUE_H

/* cJSON's free hook returns nothing; sm_client_free returns a status. */
static void sm_cjson_free(void *ptr)
{
    (void)sm_client_free(ptr);
}

static void sm_cjson_hooks(void)
{
    cJSON_Hooks hooks;
    hooks.malloc_fn = sm_client_allocate;
    hooks.free_fn = sm_cjson_free;
    cJSON_InitHooks(&hooks);
}

#endif /* CJSON_GLUE_H */
