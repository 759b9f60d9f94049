/* 01_basics.c - the smallest use of smalloc: the calling thread enables an environment
   (RpcSmEnableAllocate), allocates from it (RpcSmAllocate), marks blocks free (RpcSmFree) and
   disables it (RpcSmDisableAllocate), printing every status with sm_status_string. It also shows
   what the exact mark-free check answers for a double free, an interior pointer and NULL, and
   what a call without an environment gets.

   Build by hand from the top directory (Debian: apt-get install libstb-dev):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb) examples/01_basics.c -o 01_basics
   or run `make demo`, which builds and runs every example. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <stdio.h>
#include <string.h>

static void show(const char *call, sm_status status)
{
    printf("  %-44s -> %s (%d)\n", call, sm_status_string(status), (int)status);
}

int main(void)
{
    sm_status status;
    char *greeting, *numbers, *scratch;

    printf("smalloc %s\n", SMALLOC_VERSION_STRING);

    status = sm_enable_allocate();
    show("sm_enable_allocate()", status);
    if (status != SM_OK)
        return 1;

    greeting = (char *)sm_allocate(32, &status);
    show("sm_allocate(32)", status);
    numbers = (char *)sm_allocate(4 * sizeof(int), &status);
    show("sm_allocate(4 * sizeof(int))", status);
    if (greeting == NULL || numbers == NULL)
        return 1;
    strcpy(greeting, "hello from the environment");
    printf("  greeting: \"%s\"\n", greeting);

    /* A scoped temporary: it is the block allocated last, so marking it free moves the bump
       pointer back and the memory is reused at once. */
    scratch = (char *)sm_allocate(256, &status);
    show("sm_allocate(256) (scratch)", status);
    show("sm_free(scratch)", sm_free(scratch));

    /* Marking free is checked exactly: only the start of a live block is accepted. */
    show("sm_free(greeting)", sm_free(greeting));
    show("sm_free(greeting) again: double free", sm_free(greeting));
    show("sm_free(numbers + 1): interior pointer", sm_free(numbers + 1));
    show("sm_free(NULL)", sm_free(NULL));

    /* Disable releases every block, marked free or not (numbers is still live). */
    show("sm_disable_allocate()", sm_disable_allocate());

    /* Without an environment the calls fail with a status instead of crashing. */
    numbers = (char *)sm_allocate(8, &status);
    show(numbers == NULL ? "sm_allocate(8) without environment: NULL"
                         : "sm_allocate(8) without environment", status);
    show("sm_disable_allocate() again", sm_disable_allocate());
    return 0;
}
