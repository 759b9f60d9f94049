/* t_lua.c - Lua 5.4 (Debian liblua5.4-dev, unmodified) with one environment per state: a lua_Alloc
   on sm_env_allocate / sm_env_reallocate / sm_env_free (lua_glue.h), SM_RECYCLE where smalloc
   has it, and sm_lua_close = one sm_env_destroy. Programs that stress the allocator (table
   growth, string churn, closures, coroutines, finalizers and weak tables, the collector in incremental and generational modes)
   print the same as on a malloc state and as expected; a byte budget on the backing allocator
   makes Lua raise "not enough memory" cleanly and the state stays usable; a refusal at any point
   (backing allocator, bookkeeping) is a Lua memory error or nothing, never a crash or a leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "../harness.h"
#include "../counting.h"
#include "../util.h"
#include "clients.h"
#include "lua_glue.h"

/* ---- the programs ------------------------------------------------------------------------ */

typedef struct program {
    const char *name;
    const char *expect;   /* what the chunk returns, or NULL: as on a malloc state */
    const char *source;
} program;

static const program programs[] = {
    { "tables", "200000 60000300000 1250025000 25000 10000",
      "local t = {}\n"
      "for i = 1, 200000 do t[i] = i * 3 end\n"
      "local h = {}\n"
      "for i = 1, 50000 do h['k' .. i] = i end\n"
      "local s = 0\n"
      "for i = 1, #t do s = s + t[i] end\n"
      "local c = 0\n"
      "for _, v in pairs(h) do c = c + v end\n"
      "for i = 1, 50000, 2 do h['k' .. i] = nil end\n"
      "collectgarbage()\n"
      "local c2 = 0\n"
      "for _ in pairs(h) do c2 = c2 + 1 end\n"
      "local m = {}\n"   /* tables of tables, grown then dropped row by row */
      "for i = 1, 100 do m[i] = {} for j = 1, 100 do m[i][j] = {i, j} end end\n"
      "local cells = 0\n"
      "for i = 1, 100 do cells = cells + #m[i]; m[i] = nil end\n"
      "return string.format('%d %d %d %d %d', #t, s, c, c2, cells)\n" },
    { "strings", "20000 510000 1300",
      "local parts = {}\n"
      "local total = 0\n"
      "for i = 1, 20000 do\n"
      "  local s = string.format('%05d:%s', i, string.rep(string.char(97 + i % 26), i % 40))\n"
      "  s = s:upper():lower()\n"
      "  total = total + #s\n"
      "  parts[#parts + 1] = s\n"
      "  if #parts == 1000 then parts = { table.concat(parts, ',') } end\n"
      "end\n"
      "local joined = table.concat(parts, ',')\n"
      "local n = 0\n"
      "for _ in joined:gmatch('[^,]+') do n = n + 1 end\n"
      "local r = joined:gsub('%d', ''):sub(1, 1300)\n"
      "return n .. ' ' .. total .. ' ' .. #r\n" },
    { "closures", "500500 1000 55 true",
      "local function counter()\n"
      "  local n = 0\n"
      "  return function(k) n = n + (k or 1); return n end\n"
      "end\n"
      "local fs = {}\n"
      "for i = 1, 1000 do fs[i] = counter() end\n"
      "local sum = 0\n"
      "for i = 1, 1000 do sum = sum + fs[i](i) end\n"
      "local shared = 0\n"   /* closures sharing one upvalue */
      "local inc, get = (function() local v = 0\n"
      "  return function() v = v + 1 end, function() return v end end)()\n"
      "for _ = 1, 1000 do inc() end\n"
      "local function compose(f, g) return function(x) return f(g(x)) end end\n"
      "local f = function(x) return x end\n"
      "for i = 1, 10 do local k = i; f = compose(function(x) return x + k end, f) end\n"
      "for _ = 1, 20000 do local g = function() return shared end; shared = shared + 0 * g() end\n"
      "return sum .. ' ' .. get() .. ' ' .. f(0) .. ' ' .. tostring(shared == 0)\n" },
    { "coroutines", "1229 9592 499500 200",
      "local function primes(n)\n"   /* a generator: sieve in a coroutine */
      "  return coroutine.wrap(function()\n"
      "    local sieve = {}\n"
      "    for i = 2, n do\n"
      "      if not sieve[i] then coroutine.yield(i); for j = i * i, n, i do sieve[j] = true end end\n"
      "    end\n"
      "  end)\n"
      "end\n"
      "local c1 = 0 for _ in primes(10000) do c1 = c1 + 1 end\n"
      "local c2 = 0 for _ in primes(100000) do c2 = c2 + 1 end\n"
      "local cos = {}\n"   /* many coroutines alive at once, resumed round-robin */
      "for i = 1, 200 do\n"
      "  cos[i] = coroutine.create(function(a)\n"
      "    local acc = {}\n"
      "    for k = 1, 5 do acc[#acc + 1] = a * k; a = coroutine.yield(#acc) end\n"
      "    return #acc\n"
      "  end)\n"
      "end\n"
      "local finished, s = 0, 0\n"
      "for round = 1, 6 do\n"
      "  for i = 1, 200 do\n"
      "    if coroutine.status(cos[i]) ~= 'dead' then\n"
      "      local ok, v = coroutine.resume(cos[i], i)\n"
      "      assert(ok)\n"
      "      if coroutine.status(cos[i]) == 'dead' then finished = finished + 1 end\n"
      "    end\n"
      "  end\n"
      "end\n"
      "for i = 1, 999 do s = s + i end\n"
      "return c1 .. ' ' .. c2 .. ' ' .. s .. ' ' .. finished\n" },
    { "gc-incremental", "5000 ok 30000",
      "collectgarbage('incremental', 120, 200)\n"
      "local finalized = 0\n"
      "local mt = { __gc = function() finalized = finalized + 1 end }\n"
      "for i = 1, 5000 do setmetatable({i}, mt) end\n"
      "collectgarbage(); collectgarbage()\n"
      "local weak = setmetatable({}, { __mode = 'k' })\n"
      "for i = 1, 1000 do weak[{}] = i end\n"
      "collectgarbage()\n"
      "local left = 0 for _ in pairs(weak) do left = left + 1 end\n"
      "local keep = {}\n"
      "for i = 1, 30000 do\n"
      "  local t = { string.rep('x', i % 100), i }\n"
      "  if i % 3 == 0 then keep[#keep + 1] = t end\n"
      "  if i % 5000 == 0 then collectgarbage('step', 0) end\n"
      "end\n"
      "return finalized .. ' ' .. (left == 0 and 'ok' or 'weak kept ' .. left) .. ' ' .. #keep * 3\n" },
    { "gc-generational", "5000 ok 120000 2500",
      "collectgarbage('generational', 20, 100)\n"
      "local finalized = 0\n"
      "local mt = { __gc = function() finalized = finalized + 1 end }\n"
      "for i = 1, 5000 do setmetatable({i}, mt) end\n"
      "collectgarbage(); collectgarbage()\n"
      "local weak = setmetatable({}, { __mode = 'v' })\n"
      "for i = 1, 1000 do weak[i] = {} end\n"
      "collectgarbage()\n"
      "local left = 0 for _ in pairs(weak) do left = left + 1 end\n"
      "local old = {}\n"   /* old objects pointing at young ones: the barrier's work */
      "for i = 1, 1000 do old[i] = {} end\n"
      "local young = 0\n"
      "for r = 1, 120 do\n"
      "  for i = 1, 1000 do old[i].v = { r, i }; young = young + 1 end\n"
      "end\n"
      "local list = nil\n"
      "for i = 1, 30000 do list = { next = (i % 4 ~= 0) and list or nil, i } end\n"
      "local len = 0 while list do len = len + 1; list = list.next end\n"
      "collectgarbage('incremental')\n"
      "return finalized .. ' ' .. (left == 0 and 'ok' or 'weak kept ' .. left) .. ' ' .. young\n"
      "  .. ' ' .. len * 2500\n" },
    { "mixed", NULL,
      "local words = {}\n"
      "for i = 1, 3000 do words[i] = ('w' .. (i * 7919) % 1000) end\n"
      "local freq = {}\n"
      "for _, w in ipairs(words) do freq[w] = (freq[w] or 0) + 1 end\n"
      "local keys = {}\n"
      "for k in pairs(freq) do keys[#keys + 1] = k end\n"
      "table.sort(keys)\n"
      "local out = {}\n"
      "for i = 1, 5 do out[i] = keys[i] .. '=' .. freq[keys[i]] end\n"
      "local t = {}\n"
      "for i = 1, 2000 do table.insert(t, 1, i) end\n"
      "for i = 1, 1000 do table.remove(t) end\n"
      "return table.concat(out, ' ') .. ' ' .. #t .. ' ' .. t[1] .. ' ' .. #keys\n" },
};
#define NPROGRAMS (sizeof programs / sizeof programs[0])

/* ---- running them -------------------------------------------------------------------------- */

static int open_libs(lua_State *L)
{
    luaL_openlibs(L);
    return 0;
}

/* Opens the standard libraries (protected: they allocate) and runs source; the chunk's result
   or the error message goes to out. Returns the Lua status. */
static int run(lua_State *L, const char *name, const char *source, char *out, size_t outsz)
{
    int status;
    const char *s;
    lua_settop(L, 0);
    lua_pushcfunction(L, open_libs);
    status = lua_pcall(L, 0, 0, 0);
    if (status == LUA_OK)
        status = luaL_loadbufferx(L, source, strlen(source), name, "t");
    if (status == LUA_OK)
        status = lua_pcall(L, 0, 1, 0);
    s = lua_tostring(L, -1);
    snprintf(out, outsz, "%s", s ? s : "(no string)");
    lua_settop(L, 0);
    return status;
}

/* The standard allocator of the Lua manual: the reference. */
static void *malloc_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

static void reference(const program *p, char *out, size_t outsz)
{
    lua_State *L = lua_newstate(malloc_alloc, NULL);
    int status;
    if (!L)
        abort();
    status = run(L, p->name, p->source, out, outsz);
    lua_close(L);
    if (status != LUA_OK) {
        fprintf(stderr, "lua %s on malloc: %s\n", p->name, out);
        abort();
    }
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* 1 when this smalloc accepts the flags. */
static int supported(unsigned flags)
{
    sm_config cfg;
    sm_env *env;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = flags;
    env = sm_env_create(&cfg, NULL);
    if (env)
        sm_env_destroy(env);
    return env != NULL;
}

/* Each program, also with SM_POISON: under AddressSanitizer, a touch of a freed block stops it. */
TEST(lua_programs)
{
    size_t k;
    for (k = 0; k < 2 * NPROGRAMS; k++) {
        const program *p = &programs[k % NPROGRAMS];
        char ref[512], out[512];
        tc_alloc c;
        sm_config cfg;
        lua_State *L;
        sm_stats s;
        if (k >= NPROGRAMS && !supported(SM_POISON | SM_RECYCLE))
            break;
        reference(p, ref, sizeof ref);
        if (p->expect)
            CHECK_STR(ref, p->expect);
        tc_init(&c);
        cfg = tc_config(&c, 0);
        cfg.flags = k >= NPROGRAMS ? SM_POISON : 0;
        L = sm_lua_newstate(&cfg);
        REQUIRE(L != NULL);
        CHECK_EQ_INT(run(L, p->name, p->source, out, sizeof out), LUA_OK);
        CHECK_STR(out, ref);
        s = tu_stats(sm_lua_env(L));
        CHECK(s.live_blocks > 100);   /* the libraries and the program's globals */
        sm_lua_close(L);
        CHECK_EQ_SIZE(c.live_bytes, 0);
        CHECK_EQ_SIZE(c.live_blocks, 0);
        CHECK_EQ_SIZE(c.bad_frees, 0);
    }
}

/* Plain mark-free (no SM_RECYCLE) runs the same programs, and a second program in the same
   state runs after a full collection. */
TEST(lua_mark_free_only)
{
    size_t k;
    sm_env *env = sm_env_create(NULL, NULL);
    lua_State *L;
    REQUIRE(env != NULL);
    L = lua_newstate(sm_lua_alloc, env);
    REQUIRE(L != NULL);
    for (k = 0; k < NPROGRAMS; k++) {
        char ref[512], out[512];
        reference(&programs[k], ref, sizeof ref);
        CHECK_EQ_INT(run(L, programs[k].name, programs[k].source, out, sizeof out), LUA_OK);
        CHECK_STR(out, ref);
        lua_gc(L, LUA_GCCOLLECT);
    }
    CHECK(tu_stats(env).freed_blocks > 1000);
    lua_close(L);   /* frees every object (marks free), then the environment */
    CHECK_EQ_SIZE(tu_stats(env).live_blocks, 0);
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
}

/* With SM_RECYCLE, churn in a long-lived state stays bounded: the freed blocks are reused. */
TEST(lua_recycle_bounded)
{
    static const char churn[] =
        "local keep = {}\n"
        "for i = 1, 400000 do\n"
        "  local s = tostring(i) .. string.rep('y', i % 50)\n"
        "  local t = { s, i, { i } }\n"
        "  keep[i % 100 + 1] = t\n"
        "end\n"
        "return collectgarbage('count') < 4096 and 'bounded' or 'grew'\n";
    tc_alloc c;
    sm_config cfg;
    sm_env *env;
    lua_State *L;
    char out[256];
    tc_init(&c);
    cfg = tc_config(&c, 0);
    cfg.flags = SM_RECYCLE;
    env = sm_env_create(&cfg, NULL);
    if (!env)
        return;   /* an smalloc without SM_RECYCLE */
    CHECK_EQ_INT(sm_env_destroy(env), SM_OK);
    L = sm_lua_newstate(&cfg);
    REQUIRE(L != NULL);
    CHECK_EQ_INT(run(L, "churn", churn, out, sizeof out), LUA_OK);
    CHECK_STR(out, "bounded");
    /* some 60 MB allocated in all; the environment held a few hundred KB (mark-free alone: all of it) */
    CHECK(c.peak_bytes < 4u * 1024 * 1024);
    sm_lua_close(L);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* A budget on the backing allocator: Lua raises its memory error, the state stays usable. */
TEST(lua_memory_limit)
{
    static const char hog[] =
        "local t = {}\n"
        "for i = 1, 1e8 do t[i] = { i, tostring(i) } end\n"
        "return 'never'\n";
    static const char small[] =
        "local t = {} for i = 1, 1000 do t[i] = i * i end\n"
        "return #t .. ' ' .. t[1000]\n";
    tc_alloc c;
    sm_config cfg;
    lua_State *L;
    char out[256];
    int status;
    tc_init(&c);
    cfg = tc_config(&c, 0);
    c.budget = 4u * 1024 * 1024;
    L = sm_lua_newstate(&cfg);
    REQUIRE(L != NULL);
    status = run(L, "hog", hog, out, sizeof out);
    CHECK_EQ_INT(status, LUA_ERRMEM);
    CHECK_STR(out, "not enough memory");
    CHECK(c.refused > 0);
    CHECK(c.peak_bytes <= c.budget);
    lua_gc(L, LUA_GCCOLLECT);
    CHECK_EQ_INT(run(L, "small", small, out, sizeof out), LUA_OK);
    CHECK_STR(out, "1000 1000000");
    /* the same inside Lua: pcall catches it */
    CHECK_EQ_INT(run(L, "pcall", "local ok, e = pcall(function() local t = {} for i = 1, 1e8 do "
                     "t[i] = {i} end end) collectgarbage() return tostring(ok) .. ' ' .. e", out, sizeof out),
                 LUA_OK);
    CHECK_STR(out, "false not enough memory");
    sm_lua_close(L);
    CHECK_EQ_SIZE(c.live_bytes, 0);
    CHECK_EQ_SIZE(c.bad_frees, 0);
}

/* Every backing call refused in turn (one refusal: Lua collects and tries again), then every
   call from one on: the program's answer or Lua's memory error, nothing leaked. */
TEST(lua_backing_faults)
{
    size_t k;
    for (k = 0; k < NPROGRAMS; k += 2) {
        const program *p = &programs[k];
        char ref[512], out[512];
        int mode;
        reference(p, ref, sizeof ref);
        for (mode = 0; mode < 2; mode++) {
            size_t i;
            for (i = 1; i < 10000; i++) {
                tc_alloc c;
                sm_config cfg;
                lua_State *L;
                int status;
                tc_init(&c);
                cfg = tc_config(&c, 4096);
                if (mode == 0)
                    c.fail_at = i;
                else
                    c.fail_from = i;
                L = sm_lua_newstate(&cfg);
                if (L) {
                    status = run(L, p->name, p->source, out, sizeof out);
                    if (status == LUA_OK)
                        CHECK_STR(out, ref);
                    else
                        CHECK(status == LUA_ERRMEM && strcmp(out, "not enough memory") == 0);
                    sm_lua_close(L);
                }
                CHECK_EQ_SIZE(c.live_bytes, 0);
                CHECK_EQ_SIZE(c.bad_frees, 0);
                if (c.refused == 0)
                    break;
            }
        }
    }
}

/* smalloc's bookkeeping refused at each call in turn. */
TEST(lua_bookkeeping_faults)
{
    const program *p = &programs[1];
    char ref[512], out[512];
    size_t i;
    reference(p, ref, sizeof ref);
    for (i = 1; i < 10000; i++) {
        tc_alloc c;
        sm_config cfg;
        lua_State *L;
        size_t before = tb_refused;
        tc_init(&c);
        cfg = tc_config(&c, 4096);
        tb_fail_at = tb_calls + i;
        L = sm_lua_newstate(&cfg);
        if (L) {
            int status = run(L, p->name, p->source, out, sizeof out);
            if (status == LUA_OK)
                CHECK_STR(out, ref);
            else
                CHECK(status == LUA_ERRMEM && strcmp(out, "not enough memory") == 0);
            sm_lua_close(L);
        }
        tb_fail_at = 0;
        CHECK_EQ_SIZE(c.live_bytes, 0);
        if (tb_refused == before)
            break;
    }
}

void suite_lua(void)
{
    RUN(lua_programs);
    RUN(lua_mark_free_only);
    RUN(lua_recycle_bounded);
    RUN(lua_memory_limit);
    RUN(lua_backing_faults);
    RUN(lua_bookkeeping_faults);
}
