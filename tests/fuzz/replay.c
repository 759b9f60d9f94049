/* replay.c - runs fuzzer inputs through LLVMFuzzerTestOneInput without libFuzzer, so the
   checked-in corpus and the regression inputs are an ordinary test built by any C compiler.

       replay DIR-OR-FILE...

   Every regular file of each directory (sorted by name; names starting with "." or "README"
   are skipped) and every file named is one input. Each input runs in a forked child, twice in a
   row: the second run starts from whatever global state the first left, which the fuzzer checks
   is none. A child that aborts (a model mismatch), crashes or exits non-zero fails that input.
   The last line is "fuzz replay: N passed, M failed"; the exit status is 0 iff M is 0 and N > 0.
   FUZZ_NOFORK=1 runs the inputs in this process instead (for a debugger), stopping at the first
   failure. Built with api_fuzz.c: see mk/fuzz.mk (make check-fuzz-replay). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

static int passed, failed;

/* The whole file, or NULL (with *size 0 for an empty one). */
static unsigned char *read_file(const char *path, size_t *size, int *ok)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL, *grown;
    size_t cap = 0, n = 0, got;
    *ok = 0;
    *size = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            grown = (unsigned char *)realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    *ok = !ferror(f);
    fclose(f);
    *size = n;
    return buf;
}

static void run_one(const char *path)
{
    size_t size;
    int ok, status = 0;
    const char *nofork = getenv("FUZZ_NOFORK");
    unsigned char *data = read_file(path, &size, &ok);
    pid_t pid;
    if (!ok) {
        fprintf(stderr, "FAIL %s (cannot read it)\n", path);
        failed++;
        free(data);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    if (nofork && *nofork && strcmp(nofork, "0") != 0) {
        (void)LLVMFuzzerTestOneInput(data, size);
        (void)LLVMFuzzerTestOneInput(data, size);
        passed++;
        free(data);
        return;
    }
    pid = fork();
    if (pid == 0) {
        alarm(120);   /* a hang fails this input, not the run */
        (void)LLVMFuzzerTestOneInput(data, size);
        (void)LLVMFuzzerTestOneInput(data, size);
        free(data);
        exit(0);      /* exit, not _exit: LeakSanitizer checks the child */
    }
    free(data);
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        fprintf(stderr, "FAIL %s (fork/wait failed)\n", path);
        failed++;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        passed++;
    } else {
        if (WIFSIGNALED(status))
            fprintf(stderr, "FAIL %s (killed by signal %d)\n", path, WTERMSIG(status));
        else
            fprintf(stderr, "FAIL %s (exit code %d)\n", path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        failed++;
    }
}

static int skipped(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    char **names = NULL, **grown;
    size_t n = 0, cap = 0, i;
    if (!d) {
        fprintf(stderr, "FAIL %s (cannot open the directory)\n", dir);
        failed++;
        return;
    }
    while ((ent = readdir(d)) != NULL) {
        if (skipped(ent->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            grown = (char **)realloc(names, cap * sizeof *names);
            if (!grown)
                break;
            names = grown;
        }
        names[n] = (char *)malloc(strlen(dir) + strlen(ent->d_name) + 2);
        if (!names[n])
            break;
        sprintf(names[n], "%s/%s", dir, ent->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            run_one(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    int i;
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR-OR-FILE...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            run_dir(argv[i]);
        } else {
            run_one(argv[i]);
        }
    }
    fflush(stderr);
    printf("fuzz replay: %d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed == 0 && passed > 0 ? 0 : 1;
}
