/* own_arrlen.c - a file with a function of its own called arrlen (a common name), which also
   compiles smalloc's implementation: stb_ds's short names (arrlen, arrput, ...) must not reach
   it. Prints OK. */
#define SMALLOC_IMPLEMENTATION
#include "smalloc.h"
#include <stdio.h>

/* The length of a zero-terminated array of at most max elements. */
static size_t arrlen(const int *a, size_t max)
{
    size_t n = 0;
    while (n < max && a[n] != 0)
        n++;
    return n;
}

int main(void)
{
    static const int values[] = { 3, 1, 4, 1, 5, 0 };
    sm_env *env = sm_env_create(NULL, NULL);
    int *copy;
    size_t i, n = arrlen(values, 8);

    if (env == NULL || (copy = (int *)sm_env_allocate(env, n * sizeof *copy, NULL)) == NULL)
        return 1;
    for (i = 0; i < n; i++)
        copy[i] = values[i];
    if (n != 5 || copy[4] != 5 || sm_env_destroy(env) != SM_OK)
        return 1;
    puts("OK");
    return 0;
}
