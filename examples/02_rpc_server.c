/* 02_rpc_server.c - an RPC server in miniature: the thread-handle handoff of RpcSmGetThreadHandle
   and RpcSmSetThreadHandle. A dispatcher runs N requests one after the other. For each request:

     - the server stub gives the request an environment and makes it the stub thread's current one;
     - the manager procedure takes the environment's handle (sm_get_thread_handle) and hands it to
       W worker threads; each attaches (sm_set_thread_handle), allocates its part of the reply with
       sm_allocate - all of them at once, in the one environment, without locks - detaches
       (sm_set_thread_handle(NULL)) and finishes;
     - the manager checks each worker's part in a child environment of the request's
       (sm_env_create_child): scratch memory for one sub-operation, gone when it is destroyed,
       and destroyed with the request's environment at the latest;
     - the manager links the parts into one reply (a linked list of records) and returns it;
     - the stub "marshals" the reply, prints the request's figures from sm_env_stats and releases
       everything the request allocated in one call: sm_disable_allocate. Before the memory
       goes, a cleanup registered on the request's environment (sm_env_add_cleanup) closes the
       request's audit log, a resource held in a block of that environment.

   The stub names its environment, for sm_env_stats and the sm_env_* conveniences, with
   sm_current_env.

   Usage: 02_rpc_server [N [W]]   N requests (default 4, at most 100000), W workers per request
                                  (default 4, at most 64). Bad arguments: a usage message, status 2.

   Build by hand from the top directory (Debian: apt-get install libstb-dev):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb) examples/02_rpc_server.c -o 02_rpc_server
   or run `make demo`, which builds and runs every example. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

#define MAX_REQUESTS 100000L
#define MAX_WORKERS  64L

/* One record of a reply. The reply is a linked list of these, all in the request's environment. */
typedef struct record {
    struct record *next;
    int            worker;
    int            index;
    char          *text;     /* also in the environment */
} record;

/* The request's audit log: a resource held in the request's environment, closed by a cleanup
   when that environment releases its memory. */
typedef struct audit_log {
    FILE *file;
    int   request;
    long  lines;
} audit_log;

static void audit_close(void *data)
{
    audit_log *log = (audit_log *)data;
    printf("             audit log of request %d closed by its cleanup: %ld lines\n", log->request,
           log->lines);
    if (log->file != NULL)
        fclose(log->file);
}

/* What the manager procedure gives each worker, and what the worker gives back. */
typedef struct worker_job {
    sm_thread_handle handle;   /* the request's environment */
    int              request;
    int              worker;
    record          *first;    /* the worker's part of the reply */
    record          *last;
    int              records;
    sm_status        status;   /* SM_OK, or the first failure */
} worker_job;

/* ---- a worker thread -------------------------------------------------------------------- */

static void run_worker(worker_job *job)
{
    int i, count;
    sm_status status = SM_OK;

    job->first = job->last = NULL;
    job->records = 0;
    job->status = sm_set_thread_handle(job->handle);   /* attach: the request's env is current */
    if (job->status != SM_OK)
        return;

    count = 8 + (job->request * 7 + job->worker * 5) % 24;
    for (i = 0; i < count; i++) {
        char line[96];
        size_t length;
        char *scratch;
        record *r;

        /* A temporary for formatting: allocated last and marked free at once, so the worker's
           bump pointer moves back and the next allocation reuses the bytes. */
        scratch = (char *)sm_allocate(sizeof line, &status);
        if (scratch == NULL)
            break;
        snprintf(scratch, sizeof line, "request %d, worker %d, record %d", job->request, job->worker, i);
        strcpy(line, scratch);
        status = sm_free(scratch);
        if (status != SM_OK)
            break;

        r = (record *)sm_allocate(sizeof *r, &status);
        if (r == NULL)
            break;
        length = strlen(line) + 1;
        r->text = (char *)sm_allocate(length, &status);
        if (r->text == NULL)
            break;
        memcpy(r->text, line, length);
        r->next = NULL;
        r->worker = job->worker;
        r->index = i;
        if (job->last != NULL)
            job->last->next = r;
        else
            job->first = r;
        job->last = r;
        job->records++;
    }
    if (status != SM_OK)
        job->status = status;
    sm_set_thread_handle(NULL);   /* detach before the thread ends */
}

#ifdef _WIN32
typedef HANDLE worker_thread;
static DWORD WINAPI worker_main(LPVOID arg) { run_worker((worker_job *)arg); return 0; }
static int start_worker(worker_thread *t, worker_job *job)
{
    *t = CreateThread(NULL, 0, worker_main, job, 0, NULL);
    return *t != NULL;
}
static void join_worker(worker_thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
#else
typedef pthread_t worker_thread;
static void *worker_main(void *arg) { run_worker((worker_job *)arg); return NULL; }
static int start_worker(worker_thread *t, worker_job *job)
{
    return pthread_create(t, NULL, worker_main, job) == 0;
}
static void join_worker(worker_thread t) { pthread_join(t, NULL); }
#endif

/* ---- the manager procedure -------------------------------------------------------------- */

/* A sub-operation: checks one worker's part with scratch memory of its own, in a child of the
   request's environment. Returns SM_OK, or why not. */
static sm_status check_part(sm_env *request_env, const worker_job *job, audit_log *log)
{
    sm_status status;
    sm_env *scratch = sm_env_create_child(request_env, NULL, &status);
    const record **seen, *r;
    int i = 0;
    char *line;

    if (scratch == NULL)
        return status;
    seen = (const record **)sm_env_allocate_zeroed(scratch, (size_t)job->records + 1, sizeof *seen, &status);
    for (r = job->first; seen != NULL && r != NULL; r = r->next)
        seen[i++] = r;
    for (i = 0; seen != NULL && i < job->records; i++)
        if (seen[i]->index != i || seen[i]->worker != job->worker)
            status = SM_INVALID_ARG;
    line = sm_env_printf(scratch, &status, "worker %d: %d records checked", job->worker, job->records);
    if (line != NULL && log->file != NULL) {
        fprintf(log->file, "%s\n", line);
        log->lines++;
    }
    if (status == SM_OK && job->worker % 2 == 0)
        status = sm_env_destroy(scratch);   /* done with it; the others go with the request */
    return status;
}

/* Builds the reply of one request with `workers` threads; runs in the stub's thread, whose
   current environment is the request's (request_env). Returns the reply (NULL with *status on
   failure). */
static record *manager_procedure(sm_env *request_env, audit_log *log, int request, int workers,
                                 sm_status *status)
{
    worker_job jobs[MAX_WORKERS];
    worker_thread threads[MAX_WORKERS];
    record *reply = NULL, *tail = NULL;
    sm_thread_handle handle;
    int i, started = 0;

    handle = sm_get_thread_handle(status);   /* RpcSmGetThreadHandle */
    if (handle == NULL) {
        if (*status == SM_OK)
            *status = SM_NO_ENVIRONMENT;
        return NULL;
    }
    for (i = 0; i < workers; i++) {
        jobs[i].handle = handle;
        jobs[i].request = request;
        jobs[i].worker = i;
        if (!start_worker(&threads[i], &jobs[i])) {
            fprintf(stderr, "request %d: cannot start worker %d\n", request, i);
            break;
        }
        started++;
    }
    for (i = 0; i < started; i++)
        join_worker(threads[i]);

    *status = started == workers ? SM_OK : SM_OUT_OF_MEMORY;
    for (i = 0; i < started; i++) {
        if (jobs[i].status != SM_OK && *status == SM_OK)
            *status = jobs[i].status;
        if (*status == SM_OK)
            *status = check_part(request_env, &jobs[i], log);
        if (jobs[i].first == NULL)
            continue;
        if (tail != NULL)
            tail->next = jobs[i].first;
        else
            reply = jobs[i].first;
        tail = jobs[i].last;
    }
    return *status == SM_OK ? reply : NULL;
}

/* ---- the server stub and the dispatcher ------------------------------------------------- */

/* Runs one request; returns 0 on success. */
static int server_stub(int request, int workers)
{
    sm_status status;
    sm_stats stats;
    sm_env *env;
    audit_log *log;
    record *reply, *r;
    size_t records = 0, text_bytes = 0;
    int ok;

    status = sm_enable_allocate();   /* RpcSmEnableAllocate: the stub thread's current environment */
    if (status != SM_OK) {
        fprintf(stderr, "request %d: sm_enable_allocate: %s\n", request, sm_status_message(status));
        return 1;
    }
    env = sm_current_env(&status);
    log = (audit_log *)sm_allocate(sizeof *log, &status);
    if (env == NULL || log == NULL) {
        fprintf(stderr, "request %d: %s\n", request, sm_status_message(status));
        sm_disable_allocate();
        return 1;
    }
    log->file = tmpfile();
    log->request = request;
    log->lines = 0;
    status = sm_env_add_cleanup(env, audit_close, log);
    if (status != SM_OK) {
        audit_close(log);
        sm_disable_allocate();
        return 1;
    }

    reply = manager_procedure(env, log, request, workers, &status);
    ok = status == SM_OK;
    if (!ok)
        fprintf(stderr, "request %d: manager procedure: %s\n", request, sm_status_message(status));

    /* "Marshal" the reply: here, walk it. */
    for (r = reply; r != NULL; r = r->next) {
        records++;
        text_bytes += strlen(r->text) + 1;
    }
    status = sm_env_stats(env, &stats);
    if (status == SM_OK)
        printf("request %3d: %2d workers, %4lu records (%5lu text bytes) | live %5lu blocks "
               "%7lu B, marked free %3lu blocks | backing %7lu B (peak %7lu B) in %lu chunks\n",
               request, workers, (unsigned long)records, (unsigned long)text_bytes,
               (unsigned long)stats.live_blocks, (unsigned long)stats.live_bytes,
               (unsigned long)stats.freed_blocks, (unsigned long)stats.backing_bytes,
               (unsigned long)stats.backing_peak, (unsigned long)stats.chunks);
    else
        ok = 0;

    /* The reply has been sent: everything the request allocated goes in one call (first the
       scratch environments still there, then the cleanup that closes the audit log). */
    status = sm_disable_allocate();   /* RpcSmDisableAllocate */
    if (status != SM_OK) {
        fprintf(stderr, "request %d: sm_disable_allocate: %s\n", request, sm_status_message(status));
        ok = 0;
    }
    return ok ? 0 : 1;
}

static void usage(const char *program)
{
    fprintf(stderr,
            "usage: %s [N [W]]\n"
            "  N  requests to run, 1 to %ld (default 4)\n"
            "  W  worker threads per request, 1 to %ld (default 4)\n",
            program, MAX_REQUESTS, MAX_WORKERS);
}

/* Parses a whole decimal argument in [1, max]; 0 on failure. */
static long parse_count(const char *text, long max)
{
    char *end;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1 || value > max)
        return 0;
    return value;
}

int main(int argc, char **argv)
{
    long requests = 4, workers = 4, i;
    int failures = 0;

    if (argc > 3 || (argc > 1 && (requests = parse_count(argv[1], MAX_REQUESTS)) == 0)
        || (argc > 2 && (workers = parse_count(argv[2], MAX_WORKERS)) == 0)) {
        usage(argc > 0 ? argv[0] : "02_rpc_server");
        return 2;
    }
    printf("dispatcher: %ld requests, %ld workers each\n", requests, workers);
    for (i = 0; i < requests; i++)
        failures += server_stub((int)i, (int)workers);
    printf("dispatcher: %ld requests done, %d failed\n", requests, failures);
    return failures == 0 ? 0 : 1;
}
