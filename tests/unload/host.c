/* host.c - loads plugin.so, has a thread use it, unloads it, then lets the thread exit: the
   thread's exit must not call into the unloaded library (API.md section 14).
   Usage: host PATH-TO-PLUGIN; prints "unload: ok" and exits 0. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

typedef int work_fn(void);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int worked, unloaded;
static work_fn *work;

static void *thread_main(void *arg)
{
    int ok = work();
    (void)arg;
    pthread_mutex_lock(&lock);
    worked = ok ? 1 : -1;
    pthread_cond_broadcast(&changed);
    while (!unloaded)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;   /* the thread exits after the library is gone */
}

int main(int argc, char **argv)
{
    pthread_t t;
    void *lib;
    int ok;
    if (argc != 2 || !(lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "unload: cannot load %s: %s\n", argc == 2 ? argv[1] : "(no path)", dlerror());
        return 2;
    }
    *(void **)&work = dlsym(lib, "plugin_work");
    if (!work || pthread_create(&t, NULL, thread_main, NULL) != 0)
        return 2;
    pthread_mutex_lock(&lock);
    while (!worked)
        pthread_cond_wait(&changed, &lock);
    ok = worked == 1;
    pthread_mutex_unlock(&lock);
    if (dlclose(lib) != 0)
        return 2;
    pthread_mutex_lock(&lock);
    unloaded = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    printf("unload: %s\n", ok ? "ok" : "plugin_work failed");
    return ok ? 0 : 1;
}
