/* 07_lua.c - Lua 5.4, unmodified, with all of a state's memory in one smalloc environment: a
   lua_Alloc on sm_env_allocate, sm_env_reallocate (the last block grows in place) and
   sm_env_free (mark-free), the environment created with SM_RECYCLE so that what the collector
   frees is reused (falling back to plain mark-free where smalloc refuses the flag). Closing the
   state is lua_close with frees skipped, then one sm_env_destroy.

   Usage: 07_lua SCRIPT.lua [ARGS...]   (the script sees ARGS in the global table arg; a file that
          cannot be read or compiled: a message, exit status 2; a runtime error: exit status 1)

   Build by hand from the top directory (Debian: apt-get install libstb-dev liblua5.4-dev):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb lua5.4) examples/07_lua.c \
          -o 07_lua $(pkg-config --libs lua5.4)
   or run `make demo`, which builds and runs every example (this one on examples/data/demo.lua). */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

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

static int panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "07_lua: unprotected error: %s\n", msg ? msg : "(not a string)");
    return 0;   /* Lua aborts */
}

/* Message handler: the error with a traceback. */
static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* Runs in protected mode: the libraries, arg, then the script (its path and arguments on the stack). */
static int run_script(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1), i, status, msgh;
    char **argv = (char **)lua_touserdata(L, 2);
    luaL_openlibs(L);
    lua_createtable(L, argc - 2, 2);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);   /* arg[0] is the script, arg[-1] this program */
    }
    lua_setglobal(L, "arg");
    status = luaL_loadfile(L, argv[1]);
    if (status != LUA_OK) {
        lua_pushinteger(L, 2);   /* exit status: could not read or compile it */
        lua_insert(L, -2);
        return 2;
    }
    lua_pushcfunction(L, traceback);
    lua_insert(L, -2);
    msgh = lua_gettop(L) - 1;
    for (i = 2; i < argc; i++)
        lua_pushstring(L, argv[i]);
    status = lua_pcall(L, argc - 2, 0, msgh);
    lua_pushinteger(L, status == LUA_OK ? 0 : 1);
    lua_insert(L, -2);
    return status == LUA_OK ? 1 : 2;
}

static void show(const char *when, const sm_env *env, lua_State *L)
{
    sm_stats s;
    if (sm_env_stats(env, &s) != SM_OK)
        return;
    printf("  %-23s Lua counts %6d KiB; smalloc: %6lu blocks live (%7lu bytes), %5lu marked free,"
           " %7lu bytes from malloc (peak %lu) in %lu chunks\n", when, lua_gc(L, LUA_GCCOUNT),
           (unsigned long)s.live_blocks, (unsigned long)s.live_bytes, (unsigned long)s.freed_blocks,
           (unsigned long)s.backing_bytes, (unsigned long)s.backing_peak, (unsigned long)s.chunks);
}

int main(int argc, char **argv)
{
    sm_config config;
    sm_status status;
    sm_env *env;
    lua_State *L;
    int rc, results;

    if (argc < 2) {
        fprintf(stderr, "usage: 07_lua SCRIPT.lua [ARGS...]\n");
        return 2;
    }

    /* One environment per state; SM_RECYCLE keeps a long-running script's memory bounded. */
    memset(&config, 0, sizeof config);
    config.flags = SM_RECYCLE;
    env = sm_env_create(&config, &status);
    if (env == NULL && status == SM_INVALID_ARG) {
        config.flags = 0;   /* an smalloc without SM_RECYCLE: mark-free only */
        env = sm_env_create(&config, &status);
    }
    if (env == NULL) {
        fprintf(stderr, "07_lua: sm_env_create: %s\n", sm_status_string(status));
        return 1;
    }
    L = lua_newstate(sm_lua_alloc, env);
    if (L == NULL) {
        fprintf(stderr, "07_lua: not enough memory for a Lua state\n");
        sm_env_destroy(env);
        return 1;
    }
    lua_atpanic(L, panic);
    printf("%s on smalloc %s (%s), script %s\n", LUA_RELEASE, SMALLOC_VERSION_STRING,
           config.flags ? "SM_RECYCLE" : "mark-free only", argv[1]);

    /* Everything that allocates runs protected, out-of-memory included. */
    lua_pushcfunction(L, run_script);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    if (lua_pcall(L, 2, LUA_MULTRET, 0) != LUA_OK) {
        fprintf(stderr, "07_lua: %s\n", lua_tostring(L, -1));
        rc = 1;
    } else {
        results = lua_gettop(L);
        rc = (int)lua_tointeger(L, 1);
        if (results > 1)
            fprintf(stderr, "07_lua: %s\n", lua_tostring(L, 2));
    }
    lua_settop(L, 0);

    show("after the script", env, L);
    lua_gc(L, LUA_GCCOLLECT);
    show("after a full collection", env, L);

    lua_setallocf(L, sm_lua_alloc_closing, env);
    lua_close(L);
    status = sm_env_destroy(env);
    printf("  lua_close, sm_env_destroy -> %s: one call gives the state's memory back\n",
           sm_status_string(status));
    return rc;
}
