/* lua_glue.h - Lua 5.4 (unmodified) on smalloc: the glue that the README shows, shared by the
   client tests and bench/clients.c. Include it after smalloc.h, <stdio.h>, <string.h> and lua.h.

   sm_lua_newstate(config) opens a state whose memory is one environment (with SM_RECYCLE where
   this smalloc has it, so that what the collector frees is reused); sm_lua_close(L) closes the
   state and gives everything back with one sm_env_destroy. */
#ifndef LUA_GLUE_H
#define LUA_GLUE_H

/* lua_Alloc: ud is the state's environment. nsize 0 frees; ptr NULL allocates (osize is then a
   type tag); otherwise osize is the block's size, and shrinking stays in place, never failing. */
static void *sm_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    if (nsize == 0) {
        (void)sm_env_free((sm_env *)ud, ptr);
        return NULL;
    }
    if (ptr == NULL)
        return sm_env_allocate((sm_env *)ud, nsize, NULL);
    return sm_env_reallocate((sm_env *)ud, ptr, osize, nsize, NULL);
}

/* While the state closes, every object is about to go with the environment: skip the frees. */
static void *sm_lua_alloc_closing(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return nsize ? sm_lua_alloc(ud, ptr, osize, nsize) : NULL;
}

static int sm_lua_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "lua: unprotected error: %s\n", msg ? msg : "(not a string)");
    return 0;   /* Lua aborts */
}

/* A new state on a new environment (config NULL: defaults); NULL when memory runs out. */
static lua_State *sm_lua_newstate(const sm_config *config)
{
    sm_config cfg;
    sm_status st;
    sm_env *env;
    lua_State *L;
    if (config)
        cfg = *config;
    else
        memset(&cfg, 0, sizeof cfg);
    cfg.flags |= SM_RECYCLE;
    env = sm_env_create(&cfg, &st);
    if (!env && st == SM_INVALID_ARG) {   /* an smalloc without SM_RECYCLE: mark-free only */
        cfg.flags &= ~(unsigned)SM_RECYCLE;
        env = sm_env_create(&cfg, NULL);
    }
    if (!env)
        return NULL;
    if (!(L = lua_newstate(sm_lua_alloc, env))) {
        sm_env_destroy(env);
        return NULL;
    }
    lua_atpanic(L, sm_lua_panic);
    return L;
}

/* The environment of a state made by sm_lua_newstate. */
static sm_env *sm_lua_env(lua_State *L)
{
    void *ud = NULL;
    (void)lua_getallocf(L, &ud);
    return (sm_env *)ud;
}

/* Closes the state (finalizers run and may still allocate), then one sm_env_destroy. */
static void sm_lua_close(lua_State *L)
{
    sm_env *env = sm_lua_env(L);
    lua_setallocf(L, sm_lua_alloc_closing, env);
    lua_close(L);
    sm_env_destroy(env);
}

#endif /* LUA_GLUE_H */
