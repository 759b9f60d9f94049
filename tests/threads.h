/* threads.h - threads for the tests: POSIX threads, or Win32 threads under _WIN32.

   th_thread t; th_thread_start(&t, fn, arg) runs fn(arg) in a new thread (t must live until
   th_thread_join(&t)). th_barrier: th_barrier_init(&b, n), th_barrier_wait(&b) returns when n
   threads have arrived (reusable), th_barrier_destroy(&b).
   main.c defines TH_IMPLEMENTATION before including this file. */
#ifndef TH_THREADS_H
#define TH_THREADS_H

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <pthread.h>
#endif

typedef void th_thread_fn(void *arg);

typedef struct th_thread {
    th_thread_fn *fn;
    void *arg;
#ifdef _WIN32
    HANDLE h;
#else
    pthread_t t;
#endif
} th_thread;

typedef struct th_barrier {
#ifdef _WIN32
    CRITICAL_SECTION m;
    CONDITION_VARIABLE c;
#else
    pthread_mutex_t m;
    pthread_cond_t c;
#endif
    int n, arrived;
    unsigned long round;
} th_barrier;

int  th_thread_start(th_thread *t, th_thread_fn *fn, void *arg);   /* 1 on success */
void th_thread_join(th_thread *t);
void th_barrier_init(th_barrier *b, int n);
void th_barrier_wait(th_barrier *b);
void th_barrier_destroy(th_barrier *b);

#endif /* TH_THREADS_H */

#ifdef TH_IMPLEMENTATION
#ifndef TH_THREADS_IMPLEMENTED
#define TH_THREADS_IMPLEMENTED
#ifdef _WIN32
static DWORD WINAPI th__trampoline(LPVOID p)
{
    th_thread *t = (th_thread *)p;
    t->fn(t->arg);
    return 0;
}
int th_thread_start(th_thread *t, th_thread_fn *fn, void *arg)
{
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(NULL, 0, th__trampoline, t, 0, NULL);
    return t->h != NULL;
}
void th_thread_join(th_thread *t)
{
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
}
void th_barrier_init(th_barrier *b, int n)
{
    InitializeCriticalSection(&b->m);
    InitializeConditionVariable(&b->c);
    b->n = n;
    b->arrived = 0;
    b->round = 0;
}
void th_barrier_wait(th_barrier *b)
{
    unsigned long round;
    EnterCriticalSection(&b->m);
    round = b->round;
    if (++b->arrived == b->n) {
        b->arrived = 0;
        b->round++;
        WakeAllConditionVariable(&b->c);
    } else {
        while (round == b->round)
            SleepConditionVariableCS(&b->c, &b->m, INFINITE);
    }
    LeaveCriticalSection(&b->m);
}
void th_barrier_destroy(th_barrier *b) { DeleteCriticalSection(&b->m); }
#else
static void *th__trampoline(void *p)
{
    th_thread *t = (th_thread *)p;
    t->fn(t->arg);
    return NULL;
}
int th_thread_start(th_thread *t, th_thread_fn *fn, void *arg)
{
    t->fn = fn;
    t->arg = arg;
    return pthread_create(&t->t, NULL, th__trampoline, t) == 0;
}
void th_thread_join(th_thread *t) { pthread_join(t->t, NULL); }
void th_barrier_init(th_barrier *b, int n)
{
    pthread_mutex_init(&b->m, NULL);
    pthread_cond_init(&b->c, NULL);
    b->n = n;
    b->arrived = 0;
    b->round = 0;
}
void th_barrier_wait(th_barrier *b)
{
    unsigned long round;
    pthread_mutex_lock(&b->m);
    round = b->round;
    if (++b->arrived == b->n) {
        b->arrived = 0;
        b->round++;
        pthread_cond_broadcast(&b->c);
    } else {
        while (round == b->round)
            pthread_cond_wait(&b->c, &b->m);
    }
    pthread_mutex_unlock(&b->m);
}
void th_barrier_destroy(th_barrier *b)
{
    pthread_mutex_destroy(&b->m);
    pthread_cond_destroy(&b->c);
}
#endif
#endif
#endif /* TH_IMPLEMENTATION */
