/* clients.c - real, unmodified clients on three allocators, in one run: cJSON parsing a large
   generated document and freeing it, and an allocation-heavy Lua script, each on smalloc, on the
   C library's malloc (glibc) and on mimalloc (a mi_heap behind cJSON's hooks / the lua_Alloc).

   Build and run:  make bench-clients (part of make bench); by hand from the top directory:
       cc -O2 -pthread -I. $(pkg-config --cflags stb libcjson lua5.4) bench/clients.c \
          -o clients $(pkg-config --libs libcjson lua5.4) -ldl && ./clients
   Every configuration runs in a process of its own (forked after the document is generated), so
   its peak memory is its own: the growth of the resident set (VmHWM less the VmRSS at the start,
   from /proc/self/status), which counts what the allocator keeps as well as what it hands out.
   Each process runs a warm-up round, then the measured one; the configurations take turns, ROUNDS
   times, and the times are medians, the peak the largest.
   mimalloc is loaded with dlopen (MIMALLOC_LIB): linked in, Debian's libmimalloc.so would
   replace malloc in the whole process, glibc's included. Without it, its rows say so.
   Arguments: "quick" makes everything ten times smaller (a smoke test); "json" or "lua" runs
   that part alone. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../smalloc.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cJSON.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "../tests/clients/cjson_glue.h"
#include "../tests/clients/lua_glue.h"

#ifndef MIMALLOC_LIB
#define MIMALLOC_LIB "libmimalloc.so.2"
#endif
#define ROUNDS 7

/* ---- mimalloc, through dlopen ---------------------------------------------------------- */

typedef struct mi_heap_s mi_heap_t;
static struct {
    mi_heap_t *(*heap_new)(void);
    void (*heap_delete)(mi_heap_t *);
    void (*heap_destroy)(mi_heap_t *);
    void *(*heap_malloc)(mi_heap_t *, size_t);
    void *(*heap_realloc)(mi_heap_t *, void *, size_t);
    void (*free)(void *);
    int (*version)(void);
} mi;

static int mi_load(void)
{
    void *lib = dlopen(MIMALLOC_LIB, RTLD_NOW | RTLD_LOCAL), *sym;
    static const char *names[] = { "mi_heap_new", "mi_heap_delete", "mi_heap_destroy",
                                   "mi_heap_malloc", "mi_heap_realloc", "mi_free", "mi_version" };
    void *slots[7];
    size_t i;
    if (!lib)
        lib = dlopen("libmimalloc.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return 0;
    for (i = 0; i < 7; i++) {
        if (!(sym = dlsym(lib, names[i])))
            return 0;
        slots[i] = sym;
    }
    /* object pointer to function pointer: by memcpy, which ISO C leaves to POSIX */
    memcpy(&mi.heap_new, &slots[0], sizeof mi.heap_new);
    memcpy(&mi.heap_delete, &slots[1], sizeof mi.heap_delete);
    memcpy(&mi.heap_destroy, &slots[2], sizeof mi.heap_destroy);
    memcpy(&mi.heap_malloc, &slots[3], sizeof mi.heap_malloc);
    memcpy(&mi.heap_realloc, &slots[4], sizeof mi.heap_realloc);
    memcpy(&mi.free, &slots[5], sizeof mi.free);
    memcpy(&mi.version, &slots[6], sizeof mi.version);
    return 1;
}

/* cJSON's hooks take no context: the heap is a global. */
static mi_heap_t *mi_json_heap;
static void *mi_json_malloc(size_t size)
{
    return mi.heap_malloc(mi_json_heap, size);
}
static void mi_json_free(void *ptr)
{
    mi.free(ptr);
}

static void *mi_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)osize;
    if (nsize == 0) {
        mi.free(ptr);
        return NULL;
    }
    return mi.heap_realloc((mi_heap_t *)ud, ptr, nsize);
}

/* The lua_Alloc of the Lua manual (and of luaL_newstate). */
static void *malloc_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

/* ---- measuring ------------------------------------------------------------------------- */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A field of /proc/self/status in KiB (0 if unknown). */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    size_t n = strlen(field);
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* What a child reports through its pipe. */
typedef struct result {
    int ok;
    double a_ms, b_ms;    /* cJSON: parse and free; Lua: run and close */
    long peak_kib;
    char note[96];
} result;

/* Runs fn(arg, &r) in a child process and returns what it reported. */
static result in_child(void (*fn)(const void *, result *), const void *arg)
{
    result r;
    int fd[2], st;
    pid_t pid;
    memset(&r, 0, sizeof r);
    if (pipe(fd) != 0)
        return r;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        long base = status_kib("VmRSS");
        close(fd[0]);
        fn(arg, &r);
        r.peak_kib = status_kib("VmHWM") - base;
        if (write(fd[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (pid < 0 || read(fd[0], &r, sizeof r) != (ssize_t)sizeof r)
        memset(&r, 0, sizeof r);
    close(fd[0]);
    if (pid > 0)
        waitpid(pid, &st, 0);
    return r;
}

/* ---- cJSON ------------------------------------------------------------------------------ */

typedef struct doc {
    char *text;
    size_t length;
    long records;
} doc;

typedef struct sbuf { char *s; size_t n, cap; } sbuf;

static void sb_add(sbuf *b, const char *text)
{
    size_t n = strlen(text);
    if (b->cap - b->n < n + 1) {
        while (b->cap - b->n < n + 1)
            b->cap = b->cap ? b->cap * 2 : 1 << 20;
        if (!(b->s = (char *)realloc(b->s, b->cap))) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    memcpy(b->s + b->n, text, n + 1);
    b->n += n;
}

/* A service's answer: records with strings, numbers, booleans, nulls, nested objects and
   arrays; roughly 400 bytes and 40 values a record. */
static doc make_doc(long records)
{
    static const char *cities[] = { "Lyon", "Z\\u00fcrich", "Krak\\u00f3w", "Porto", "Oslo" };
    sbuf b = { NULL, 0, 0 };
    char tmp[512];
    unsigned seed = 12345;
    long i;
    doc d;
    sb_add(&b, "{\"service\": \"inventory\", \"records\": [\n");
    for (i = 0; i < records; i++) {
        unsigned r;
        seed = seed * 1103515245u + 12345u;
        r = seed >> 8;
        snprintf(tmp, sizeof tmp,
                 "%s{\"id\": %ld, \"sku\": \"SKU-%06u\", \"name\": \"item %ld, batch %u\", "
                 "\"price\": %u.%02u, \"qty\": %u, \"active\": %s, \"discontinued\": null, "
                 "\"tags\": [\"t%u\", \"group-%u\", \"%s\"], "
                 "\"dims\": {\"w\": %u.5, \"h\": %u.25, \"d\": %u, \"unit\": \"cm\"}, "
                 "\"warehouse\": {\"city\": \"%s\", \"bins\": [%u, %u, %u, %u]}, "
                 "\"history\": [{\"day\": %u, \"sold\": %u}, {\"day\": %u, \"sold\": %u}]}",
                 i ? ",\n" : "", i, r % 1000000, i, r % 97, r % 500, r % 100, r % 1000,
                 r & 1 ? "true" : "false", r % 13, r % 7, r & 2 ? "fragile" : "bulk",
                 r % 50, r % 30, r % 20, cities[r % 5], r % 11, r % 13, r % 17, r % 19,
                 r % 28 + 1, r % 40, r % 28 + 2, r % 30);
        sb_add(&b, tmp);
    }
    sb_add(&b, "\n], \"complete\": true}\n");
    d.text = b.s;
    d.length = b.n;
    d.records = records;
    return d;
}

enum { J_MALLOC, J_MI_DELETE, J_MI_DESTROY, J_SM_DISABLE, J_SM_DELETE, J_MODES };
static const char *json_mode_name[J_MODES] = {
    "malloc (glibc), cJSON_Delete",
    "mimalloc (mi_heap), cJSON_Delete",
    "mimalloc (mi_heap), mi_heap_destroy",
    "smalloc, sm_disable_allocate",
    "smalloc, cJSON_Delete + disable",
};
typedef struct json_job { const doc *d; int mode; } json_job;

static void json_child(const void *arg, result *r)
{
    const json_job *job = (const json_job *)arg;
    int round;
    cJSON_Hooks hooks;
    if (job->mode == J_MI_DELETE || job->mode == J_MI_DESTROY) {
        if (!mi_load()) {
            snprintf(r->note, sizeof r->note, "mimalloc not found (%s)", MIMALLOC_LIB);
            return;
        }
        hooks.malloc_fn = mi_json_malloc;
        hooks.free_fn = mi_json_free;
        cJSON_InitHooks(&hooks);
    } else if (job->mode == J_SM_DISABLE || job->mode == J_SM_DELETE) {
        sm_cjson_hooks();
    } else {
        cJSON_InitHooks(NULL);
    }
    for (round = 0; round < 2; round++) {   /* a warm-up round, then the measured one */
        cJSON *j;
        double t0, t1, t2;
        if (job->mode == J_MI_DELETE || job->mode == J_MI_DESTROY)
            mi_json_heap = mi.heap_new();
        if (job->mode == J_SM_DISABLE || job->mode == J_SM_DELETE)
            sm_enable_allocate();
        t0 = now();
        j = cJSON_ParseWithLength(job->d->text, job->d->length);
        t1 = now();
        if (!j || cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")) != job->d->records) {
            snprintf(r->note, sizeof r->note, "parse failed");
            return;
        }
        switch (job->mode) {
        case J_MI_DELETE:
            cJSON_Delete(j);
            mi.heap_delete(mi_json_heap);
            break;
        case J_MI_DESTROY:
            mi.heap_destroy(mi_json_heap);   /* every block at once, like an arena */
            break;
        case J_SM_DELETE:
            cJSON_Delete(j);
            sm_disable_allocate();
            break;
        case J_SM_DISABLE:
            sm_disable_allocate();   /* the request's environment, and the document with it */
            break;
        default:
            cJSON_Delete(j);
        }
        t2 = now();
        r->a_ms = (t1 - t0) * 1e3;
        r->b_ms = (t2 - t1) * 1e3;
    }
    r->ok = 1;
}

/* ---- Lua -------------------------------------------------------------------------------- */

/* Allocation-heavy, a bit of everything: trees of small tables, string building and churn,
   closures, a hash table that grows and shrinks, coroutines. Returns a checksum. The argument
   is the size of the work in tenths. */
static const char lua_script[] =
    "local scale = (...) / 10\n"
    "local function tree(d) if d == 0 then return { 0 } end d = d - 1 return { tree(d), tree(d) } end\n"
    "local function nodes(t) if t[2] then return 1 + nodes(t[1]) + nodes(t[2]) end return 1 end\n"
    "local sum = 0\n"
    "local long = tree(14)\n"                                   /* lives through the run */
    "for i = 1, 12 * scale do sum = sum + nodes(tree(12)) end\n"
    "local parts = {}\n"
    "for i = 1, 60000 * scale do\n"
    "  local s = 'k' .. i .. ':' .. string.rep('v', i % 40)\n"
    "  parts[i % 2000 + 1] = s:upper()\n"
    "  if i % 2000 == 0 then sum = sum + #table.concat(parts, ',') end\n"
    "end\n"
    "local h = {}\n"
    "for r = 1, 4 * scale do\n"
    "  for i = 1, 30000 do h['key' .. i] = { i, r } end\n"
    "  for i = 1, 30000, 2 do h['key' .. i] = nil end\n"
    "  collectgarbage('step', 0)\n"
    "end\n"
    "for k, v in pairs(h) do sum = sum + v[1] end\n"
    "local fs = {}\n"
    "for i = 1, 50000 * scale do local a = i fs[i % 1000 + 1] = function(x) return x + a end end\n"
    "for i = 1, 1000 do sum = sum + fs[i](1) end\n"
    "local co = coroutine.wrap(function()\n"
    "  for i = 1, 40000 * scale do coroutine.yield({ i, tostring(i) }) end end)\n"
    "for i = 1, 40000 * scale do sum = sum + co()[1] end\n"
    "return sum + nodes(long)\n";

enum { L_MALLOC, L_MI, L_SM, L_MODES };
static const char *lua_mode_name[L_MODES] = {
    "malloc (glibc), realloc/free",
    "mimalloc (mi_heap), mi_heap_realloc",
    "smalloc, one environment (SM_RECYCLE)",
};
typedef struct lua_job { int mode, scale; } lua_job;

static void lua_child(const void *arg, result *r)
{
    const lua_job *job = (const lua_job *)arg;
    int round;
    if (job->mode == L_MI && !mi_load()) {
        snprintf(r->note, sizeof r->note, "mimalloc not found (%s)", MIMALLOC_LIB);
        return;
    }
    for (round = 0; round < 2; round++) {   /* a warm-up round, then the measured one */
        lua_State *L = NULL;
        mi_heap_t *heap = NULL;
        double t0 = now(), t1, t2;
        if (job->mode == L_MALLOC) {
            L = lua_newstate(malloc_lua_alloc, NULL);
        } else if (job->mode == L_MI) {
            heap = mi.heap_new();
            L = lua_newstate(mi_lua_alloc, heap);
        } else {
            L = sm_lua_newstate(NULL);
        }
        if (!L) {
            snprintf(r->note, sizeof r->note, "no Lua state");
            return;
        }
        luaL_openlibs(L);
        if (luaL_loadbuffer(L, lua_script, sizeof lua_script - 1, "bench") != LUA_OK) {
            snprintf(r->note, sizeof r->note, "%s", lua_tostring(L, -1));
            return;
        }
        lua_pushinteger(L, job->scale);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            snprintf(r->note, sizeof r->note, "%s", lua_tostring(L, -1));
            return;
        }
        snprintf(r->note, sizeof r->note, "checksum %lld", (long long)lua_tointeger(L, -1));
        t1 = now();
        if (job->mode == L_SM) {
            sm_lua_close(L);
        } else {
            lua_close(L);
            if (heap)
                mi.heap_delete(heap);
        }
        t2 = now();
        r->a_ms = (t1 - t0) * 1e3;
        r->b_ms = (t2 - t1) * 1e3;
    }
    r->ok = 1;
}

/* Runs every mode ROUNDS times, interleaved (so that a change in the machine's load touches
   them alike), and keeps per mode the median times, the largest peak and the first failure. */
static void run_modes(void (*fn)(const void *, result *), const void *jobs, size_t job_size,
                      int modes, result *out)
{
    double a[8][ROUNDS], b[8][ROUNDS];
    int round, m;
    for (m = 0; m < modes; m++) {
        memset(&out[m], 0, sizeof out[m]);
        out[m].ok = 1;
    }
    for (round = 0; round < ROUNDS; round++)
        for (m = 0; m < modes; m++) {
            result r;
            if (!out[m].ok)
                continue;
            r = in_child(fn, (const char *)jobs + (size_t)m * job_size);
            if (!r.ok) {
                out[m] = r;
                continue;
            }
            a[m][round] = r.a_ms;
            b[m][round] = r.b_ms;
            if (r.peak_kib > out[m].peak_kib)
                out[m].peak_kib = r.peak_kib;
            memcpy(out[m].note, r.note, sizeof r.note);
        }
    for (m = 0; m < modes; m++)
        if (out[m].ok) {
            out[m].a_ms = median(a[m], ROUNDS);
            out[m].b_ms = median(b[m], ROUNDS);
        }
}

/* ---- the report ------------------------------------------------------------------------- */

static void row(const char *name, const result *r, const result *base)
{
    if (!r->ok) {
        printf("  %-40s %s\n", name, r->note[0] ? r->note : "failed");
        return;
    }
    printf("  %-40s %9.1f %9.1f %9.1f %8.2fx %10.1f %8.2fx\n", name, r->a_ms, r->b_ms, r->a_ms + r->b_ms,
           base->ok ? (base->a_ms + base->b_ms) / (r->a_ms + r->b_ms) : 0.0, (double)r->peak_kib / 1024.0,
           base->ok && base->peak_kib > 0 ? (double)r->peak_kib / (double)base->peak_kib : 0.0);
}

int main(int argc, char **argv)
{
    int quick = 0, json = 1, lua = 1, m, i, fails = 0;
    result jr[J_MODES], lr[L_MODES];
    doc d;
    double js, ls;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "json") == 0) {
            lua = 0;
        } else if (strcmp(argv[i], "lua") == 0) {
            json = 0;
        } else {
            fprintf(stderr, "usage: clients [quick] [json|lua]\n");
            return 2;
        }
    }
    memset(jr, 0, sizeof jr);
    memset(lr, 0, sizeof lr);
    d = make_doc(json ? (quick ? 3000 : 30000) : 1);

    printf("cJSON %s, %s, smalloc %s; each row: the median of %d processes, each a warm-up and a"
           " measured round\n\n",
           cJSON_Version(), LUA_RELEASE, SMALLOC_VERSION_STRING, ROUNDS);

    if (json) {
        printf("cJSON: parse + free of a generated document, %.1f MB, %ld records (some 40 values each)\n",
               (double)d.length / 1e6, d.records);
        printf("  %-40s %9s %9s %9s %9s %10s %9s\n", "allocator, release", "parse ms", "free ms",
               "total ms", "speed", "peak MiB", "memory");
    }
    if (json) {
        json_job jobs[J_MODES];
        for (m = 0; m < J_MODES; m++) {
            jobs[m].d = &d;
            jobs[m].mode = m;
        }
        run_modes(json_child, jobs, sizeof jobs[0], J_MODES, jr);
        for (m = 0; m < J_MODES; m++)
            row(json_mode_name[m], &jr[m], &jr[J_MALLOC]);
    }

    if (lua) {
        printf("%sLua: an allocation-heavy script (trees of tables, strings, a churning hash table,\n"
               "closures, coroutines), a new state per round; run includes lua_newstate and luaL_openlibs\n",
               json ? "\n" : "");
        printf("  %-40s %9s %9s %9s %9s %10s %9s\n", "allocator", "run ms", "close ms", "total ms",
               "speed", "peak MiB", "memory");
    }
    if (lua) {
        lua_job jobs[L_MODES];
        for (m = 0; m < L_MODES; m++) {
            jobs[m].mode = m;
            jobs[m].scale = quick ? 1 : 10;
        }
        run_modes(lua_child, jobs, sizeof jobs[0], L_MODES, lr);
        for (m = 0; m < L_MODES; m++)
            row(lua_mode_name[m], &lr[m], &lr[L_MALLOC]);
    }
    if (lr[L_MALLOC].ok && lr[L_SM].ok && strcmp(lr[L_MALLOC].note, lr[L_SM].note) != 0)
        printf("  results differ: %s / %s\n", lr[L_MALLOC].note, lr[L_SM].note);

    /* the targets */
    printf("\n");
    if (jr[J_MALLOC].ok && jr[J_SM_DISABLE].ok) {
        js = (jr[J_MALLOC].a_ms + jr[J_MALLOC].b_ms) / (jr[J_SM_DISABLE].a_ms + jr[J_SM_DISABLE].b_ms);
        printf("target: cJSON parse + free at least 1.5x faster with smalloc than with malloc: %.2fx, %s\n",
               js, js >= 1.5 ? "met" : "NOT met");
    } else if (json) {
        fails++;
    }
    if (lr[L_MALLOC].ok && lr[L_SM].ok) {
        double mem = lr[L_MALLOC].peak_kib > 0 ? (double)lr[L_SM].peak_kib / (double)lr[L_MALLOC].peak_kib : 0;
        ls = (lr[L_MALLOC].a_ms + lr[L_MALLOC].b_ms) / (lr[L_SM].a_ms + lr[L_SM].b_ms);
        printf("target: Lua at least 1.1x faster than malloc (%.2fx: %s) with at most 1.3x its peak memory (%.2fx: %s)\n",
               ls, ls >= 1.1 ? "met" : "NOT met", mem, mem <= 1.3 ? "met" : "NOT met");
    } else if (lua) {
        fails++;
    }
    free(d.text);
    return fails ? 1 : 0;
}
