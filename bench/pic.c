/* pic.c - the fast paths of smalloc built into an executable and into a shared library
   (-fPIC, as RPC runtimes ship): instructions per call, counted by callgrind in each of the
   functions below (make bench-pic), and per environment made, used once and released. Built twice from this file: with PIC_IMPLEMENTATION, the
   implementation is in the executable; without, the program calls it in libsmalloc_pic.so
   (bench/pic_lib.c), through the PLT as any user of a shared library does. */
#ifdef PIC_IMPLEMENTATION
#define SMALLOC_IMPLEMENTATION
#endif
#include "../smalloc.h"

#include <stdio.h>

#define PIC_N 200000
static void *blocks[PIC_N];

__attribute__((noinline)) static void pic_env_allocate(sm_env *env)
{
    int i;
    for (i = 0; i < PIC_N; i++)
        blocks[i] = sm_env_allocate(env, 16 + (size_t)(i & 63), NULL);
}

/* every block but the last: a later block starts beside it, the common mark-free */
__attribute__((noinline)) static void pic_env_free(sm_env *env)
{
    int i;
    for (i = 0; i < PIC_N - 1; i++)
        (void)sm_env_free(env, blocks[i]);
}

/* every block from the last down: each is the chunk's last block then, and rolls back */
__attribute__((noinline)) static void pic_rollback(sm_env *env)
{
    int i;
    for (i = PIC_N - 1; i >= 0; i--)
        (void)sm_env_free(env, blocks[i]);
}

/* blocks of chunks the thread has moved on from (chunks of 4 KiB and up) */
__attribute__((noinline)) static void pic_older(sm_env *env)
{
    int i;
    for (i = 0; i < PIC_N; i++)
        (void)sm_env_free(env, blocks[i]);
}

__attribute__((noinline)) static void pic_allocate(void)
{
    int i;
    for (i = 0; i < PIC_N; i++)
        blocks[i] = sm_allocate(16 + (size_t)(i & 63), NULL);
}

__attribute__((noinline)) static void pic_free(void)
{
    int i;
    for (i = 0; i < PIC_N - 1; i++)
        (void)sm_free(blocks[i]);
}

/* An environment per request in steady state: made, one allocation, released. */
__attribute__((noinline)) static void pic_create(void)
{
    int i;
    for (i = 0; i < PIC_N; i++) {
        sm_env *env = sm_env_create(NULL, NULL);
        (void)sm_env_allocate(env, 64, NULL);
        (void)sm_env_destroy(env);
    }
}

__attribute__((noinline)) static void pic_enable(void)
{
    int i;
    for (i = 0; i < PIC_N; i++) {
        (void)sm_enable_allocate();
        (void)sm_allocate(64, NULL);
        (void)sm_disable_allocate();
    }
}

static void fill(sm_env *env)
{
    int i;
    for (i = 0; i < PIC_N; i++)
        blocks[i] = sm_env_allocate(env, 16 + (size_t)(i & 63), NULL);
}

/* The first pass makes the chunk and enters it in the page map; the measured ones reuse it. */
static void warm_up(sm_env *env)
{
    fill(env);
    (void)sm_env_reset(env);
}

/* Fills blocks in an environment of small chunks, then allocates until a new chunk comes. */
static int fill_older(sm_env *env)
{
    sm_stats s;
    size_t chunks;
    int i;
    for (i = 0; i < PIC_N; i++)
        if ((blocks[i] = sm_env_allocate(env, 16 + (size_t)(i & 63), NULL)) == NULL)
            return 0;
    if (sm_env_stats(env, &s) != SM_OK)
        return 0;
    chunks = s.chunks;
    while (sm_env_stats(env, &s) == SM_OK && s.chunks == chunks)
        if (!sm_env_allocate(env, 64, NULL))
            return 0;
    return 1;
}

int main(void)
{
    sm_config cfg = { 0, NULL, NULL, NULL, 0, NULL, NULL };
    sm_env *env, *older;
    cfg.chunk_size = (size_t)64 << 20;   /* one chunk: no refill inside the loops */
    env = sm_env_create(&cfg, NULL);
    if (!env || sm_enable_allocate_with(&cfg) != SM_OK) {
        fprintf(stderr, "pic: no environment\n");
        return 1;
    }
    warm_up(env);
    pic_env_allocate(env);
    pic_env_free(env);
    (void)sm_env_reset(env);
    fill(env);
    pic_rollback(env);
    cfg.chunk_size = 4096;
    older = sm_env_create(&cfg, NULL);
    if (!older || !fill_older(older)) {
        fprintf(stderr, "pic: no environment of small chunks\n");
        return 1;
    }
    pic_older(older);
    (void)sm_env_destroy(older);
    warm_up(sm_current_env(NULL));
    pic_allocate();
    pic_free();
    (void)sm_disable_allocate();
    (void)sm_env_destroy(env);
    /* a first round fills the thread's cache of released environments */
    (void)sm_env_destroy(sm_env_create(NULL, NULL));
    pic_create();
    pic_enable();
    printf("%d calls each\n", PIC_N);
    return 0;
}
