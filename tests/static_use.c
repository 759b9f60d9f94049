/* static_use.c - SMALLOC_STATIC: the implementation with internal linkage in a file that uses
   only two of its functions must compile warning-free (-Wall -Wextra -Wunused-function -Werror).
   Exits 0 on success. */
#define SMALLOC_STATIC
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../smalloc.h"

int main(void)
{
    sm_env *env = sm_env_create(NULL, NULL);
    return env != NULL && sm_env_destroy(env) == SM_OK ? 0 : 1;
}
