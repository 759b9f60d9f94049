/* workloads.h - the workloads of bench/bench.c, compiled once per adapter.

   bench.c defines, before each inclusion:
     AD          the adapter's short name (a token: bumpc, smenv, glibc, ...);
     AD_SLOTS    1 if the adapter's free needs the slot its alloc returned (glibc's pointer list);
     AD_SHARED   0: cannot be shared between threads (n/a), 1: thread-safe as it is,
                 2: not thread-safe, so the shared workload takes a mutex around each call;
   and the adapter's functions AD_create, AD_destroy, AD_reset, AD_attach, AD_detach, AD_alloc,
   AD_free with its types AD_env and AD_thr (see "Adapters" in bench.c).

   Each workload is a function of its own, wl_WORKLOAD__AD, kept out of line so that callgrind
   can count exactly its instructions (--toggle-collect) and so that the adapter's calls are
   inlined into it as they would be in a program using that allocator. Every allocation is
   touched once (one byte written through a volatile pointer, which no compiler can drop). */

#define BW_CAT_(w, a) wl_##w##__##a
#define BW_CAT(w, a)  BW_CAT_(w, a)
#define W(w)          BW_CAT(w, AD)
#define BA_CAT_(a, f) a##_##f
#define BA_CAT(a, f)  BA_CAT_(a, f)
#define A(f)          BA_CAT(AD, f)

#if AD_SLOTS
#define KEEP_SLOT(k, s) (g_slot[k] = (s))
#else
#define KEEP_SLOT(k, s) ((void)(s))
#endif

/* unmarshal: one environment, um_n allocations, each touched once, destroy. */
static NOINLINE int W(unmarshal)(void)
{
    A(env) e;
    A(thr) *t;
    size_t i;
    int rc = A(create)(&e, 0);
    if (rc != 1)
        return rc;
    t = A(attach)(&e, 0, 0);
    for (i = 0; i < um_n; i++) {
        uint32_t s = 0;
        char *p = (char *)A(alloc)(t, um_size[i], &s);
        if (!p)
            return 0;
        *(volatile char *)p = (char)i;
    }
    A(detach)(&e, t, 0);
    A(destroy)(&e);
    return 1;
}

/* requests: rq_limit short environments; reuse 0 creates and destroys one per request, reuse 1
   creates one and resets it after each request. rq_op: a size to allocate, or RQ_FREE | k to
   free the request's k-th allocation. */
static int W(requests)(int reuse)
{
    A(env) e;
    A(thr) *t;
    const uint16_t *op = rq_op;
    size_t r;
    int rc;
    memset(&e, 0, sizeof e);   /* the compiler cannot tell that reuse is the same both times */
    if (reuse && (rc = A(create)(&e, 1)) != 1)
        return rc;
    for (r = 0; r < rq_limit; r++) {
        const uint16_t *end = op + rq_len[r];
        unsigned k = 0;
        if (!reuse && (rc = A(create)(&e, 0)) != 1)
            return rc;
        t = A(attach)(&e, 0, 0);
        for (; op < end; op++) {
            unsigned v = *op;
            if (v < RQ_FREE) {
                uint32_t s = 0;
                char *p = (char *)A(alloc)(t, v, &s);
                if (!p)
                    return 0;
                *(volatile char *)p = (char)k;
                g_blk[k] = p;
                g_size[k] = (uint16_t)v;
                KEEP_SLOT(k, s);
                k++;
            } else {
                v -= RQ_FREE;
                A(free)(t, g_blk[v], g_size[v], AD_SLOTS ? g_slot[v] : 0);
            }
        }
        A(detach)(&e, t, 0);
        if (!reuse)
            A(destroy)(&e);
        else if (!A(reset)(&e))
            return 0;
    }
    if (reuse)
        A(destroy)(&e);
    return 1;
}
static NOINLINE int W(req_destroy)(void) { return W(requests)(0); }
static NOINLINE int W(req_reset)(void) { return W(requests)(1); }

/* churn: one environment; ch_l live blocks, then ch_p times: free a random live block and
   allocate a new one in its place. The pairs are a function of their own for callgrind. */
static NOINLINE int W(churn_pairs)(A(thr) *t)
{
    size_t i;
    for (i = 0; i < ch_p; i++) {
        uint32_t v = ch_victim[i], s = 0;
        char *p;
        A(free)(t, g_blk[v], g_size[v], AD_SLOTS ? g_slot[v] : 0);
        p = (char *)A(alloc)(t, ch_size[i], &s);
        if (!p)
            return 0;
        *(volatile char *)p = (char)i;
        g_blk[v] = p;
        g_size[v] = ch_size[i];
        KEEP_SLOT(v, s);
    }
    return 1;
}

static NOINLINE int W(churn)(void)
{
    A(env) e;
    A(thr) *t;
    size_t i;
    int rc = A(create)(&e, 0);
    if (rc != 1)
        return rc;
    t = A(attach)(&e, 0, 0);
    for (i = 0; i < ch_l; i++) {
        uint32_t s = 0;
        char *p = (char *)A(alloc)(t, ch_init[i], &s);
        if (!p)
            return 0;
        *(volatile char *)p = (char)i;
        g_blk[i] = p;
        g_size[i] = ch_init[i];
        KEEP_SLOT(i, s);
    }
    if (!W(churn_pairs)(t))
        return 0;
    A(detach)(&e, t, 0);
    A(destroy)(&e);
    return 1;
}

/* large: lg_envs environments of lg_per allocations of 8 bytes to 1 MiB each. */
static NOINLINE int W(large)(void)
{
    size_t r, i;
    const uint32_t *size = lg_size;
    for (r = 0; r < lg_envs; r++) {
        A(env) e;
        A(thr) *t;
        int rc = A(create)(&e, 0);
        if (rc != 1)
            return rc;
        t = A(attach)(&e, 0, 0);
        for (i = 0; i < lg_per; i++) {
            uint32_t s = 0;
            char *p = (char *)A(alloc)(t, *size++, &s);
            if (!p)
                return 0;
            *(volatile char *)p = (char)i;
        }
        A(detach)(&e, t, 0);
        A(destroy)(&e);
    }
    return 1;
}

/* recreate: the unmarshal environment made RC_ROUNDS times in a row. The first round warms
   whatever the allocator keeps of the memory released; the others, a function of their own for
   callgrind, are timed here, with the minor page faults they take (g_part_ns, g_part_faults). */
static NOINLINE int W(recreate_again)(void)
{
    int r, rc = 1;
    for (r = 1; r < RC_ROUNDS && rc == 1; r++)
        rc = W(unmarshal)();
    return rc;
}

static NOINLINE int W(recreate)(void)
{
    double t;
    long f;
    int rc = W(unmarshal)();
    if (rc != 1)
        return rc;
    f = minor_faults();
    t = now_ns();
    rc = W(recreate_again)();
    g_part_ns = now_ns() - t;
    g_part_faults = minor_faults() - f;
    return rc;
}

/* shared: sh_rounds times, an environment created by the calling thread, n worker threads
   attached to it allocating sh_m blocks each at the same time, then destroyed: a request
   served by several threads. The workers live across rounds; two barriers delimit a round. */
#if AD_SHARED
typedef struct W(job) { A(env) *e; int tid; int ok; } W(job);

static void *W(worker)(void *arg)
{
    W(job) *j = (W(job) *)arg;
    const uint16_t *size = um_size + (size_t)j->tid * sh_m;
    size_t i, r;
    for (r = 0; r < sh_rounds; r++) {
        A(thr) *t;
        pthread_barrier_wait(&g_start);
#if AD_SHARED == 2
        pthread_mutex_lock(&g_lock);
#endif
        t = A(attach)(j->e, j->tid, 1);
#if AD_SHARED == 2
        pthread_mutex_unlock(&g_lock);
#endif
        for (i = 0; i < sh_m; i++) {
            uint32_t s = 0;
            char *p;
#if AD_SHARED == 2
            pthread_mutex_lock(&g_lock);
            p = (char *)A(alloc)(t, size[i], &s);
            pthread_mutex_unlock(&g_lock);
#else
            p = (char *)A(alloc)(t, size[i], &s);
#endif
            if (!p) {
                j->ok = 0;
                break;
            }
            *(volatile char *)p = (char)i;
        }
#if AD_SHARED == 2
        pthread_mutex_lock(&g_lock);
#endif
        A(detach)(j->e, t, 1);
#if AD_SHARED == 2
        pthread_mutex_unlock(&g_lock);
#endif
        pthread_barrier_wait(&g_end);
    }
    return NULL;
}

static int W(shared)(int n)
{
    A(env) e;
    W(job) job[SH_MAXT];
    pthread_t th[SH_MAXT];
    size_t r;
    int i, ok = 1, rc = A(create)(&e, 0);
    if (rc != 1)
        return rc;
    if (pthread_barrier_init(&g_start, NULL, (unsigned)n + 1) != 0 ||
        pthread_barrier_init(&g_end, NULL, (unsigned)n + 1) != 0)
        return 0;
    for (i = 0; i < n; i++) {
        job[i].e = &e;
        job[i].tid = i;
        job[i].ok = 1;
        if (pthread_create(&th[i], NULL, W(worker), &job[i]) != 0)
            return 0;
    }
    for (r = 0; r < sh_rounds; r++) {
        if (r > 0 && A(create)(&e, 0) != 1) {
            fprintf(stderr, "bench: environment creation failed in the shared workload\n");
            exit(1);
        }
        pthread_barrier_wait(&g_start);
        pthread_barrier_wait(&g_end);
        A(destroy)(&e);
    }
    for (i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ok &= job[i].ok;
    }
    pthread_barrier_destroy(&g_start);
    pthread_barrier_destroy(&g_end);
    return ok;
}
#else
static int W(shared)(int n)
{
    (void)n;
    return -1;
}
#endif
static NOINLINE int W(shared1)(void) { return W(shared)(1); }
static NOINLINE int W(shared2)(void) { return W(shared)(2); }

static const adapter_runs BA_CAT(runs, AD) = {
    { W(unmarshal), W(req_destroy), W(req_reset), W(churn), W(shared1), W(shared2), W(large),
      W(recreate) }
};

#undef W
#undef A
#undef KEEP_SLOT
#undef AD
#undef AD_SLOTS
#undef AD_SHARED
