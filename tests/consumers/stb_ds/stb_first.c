/* stb_first.c - a file that compiles stb_ds's implementation itself and then smalloc's, and
   uses both: smalloc takes the file's stb_ds instead of compiling its own. Prints OK. */
#define STB_DS_IMPLEMENTATION
#include "stb_ds.h"
#define SMALLOC_IMPLEMENTATION
#include "smalloc.h"
#include <stdio.h>

int main(void)
{
    char **names = NULL;
    sm_env *env = sm_env_create(NULL, NULL);
    int i;

    if (env == NULL)
        return 1;
    for (i = 0; i < 100; i++) {
        char *name = (char *)sm_env_allocate(env, 16, NULL);
        if (name == NULL)
            return 1;
        sprintf(name, "block %d", i);
        arrput(names, name);
    }
    if (arrlen(names) != 100 || sm_env_destroy(env) != SM_OK)
        return 1;
    arrfree(names);
    puts("OK");
    return 0;
}
