/* The consumer program of tests/consumers: enable, allocate, free, disable; prints OK.
   Each consumer project builds it with smalloc.h from wherever its way of using smalloc puts it. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"
#include <stdio.h>
#include <string.h>

static int fail(const char *what, sm_status status)
{
    fprintf(stderr, "%s: %s\n", what, sm_status_string(status));
    return 1;
}

int main(void)
{
    sm_status status = sm_enable_allocate();
    char *text;

    if (status != SM_OK)
        return fail("sm_enable_allocate", status);
    text = (char *)sm_allocate(64, &status);
    if (text == NULL)
        return fail("sm_allocate", status);
    strcpy(text, "smalloc " SMALLOC_VERSION_STRING ": enable, allocate, free, disable");
    puts(text);
    if ((status = sm_free(text)) != SM_OK)
        return fail("sm_free", status);
    if ((status = sm_disable_allocate()) != SM_OK)
        return fail("sm_disable_allocate", status);
    puts("OK");
    return 0;
}
