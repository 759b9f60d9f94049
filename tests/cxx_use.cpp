/* cxx_use.cpp - the whole header, implementation included, compiled as C++11
   (g++ -std=c++11 -Wall -Wextra -Werror); stb_ds's implementation is in stb_ds_impl.c (C).
   Exits 0 on success. */
#define SMALLOC_IMPLEMENTATION
#include "../smalloc.h"

#include <cstring>

static int check_env()
{
    sm_status st = SM_INVALID_ARG;
    sm_env *env = sm_env_create(nullptr, &st);
    if (!env || st != SM_OK)
        return 1;
    void *p = sm_env_allocate_aligned(env, 64, 64, &st);
    int bad = !p || st != SM_OK || reinterpret_cast<unsigned long long>(p) % 64 != 0;
    bad |= sm_env_free(env, p) != SM_OK;
    bad |= sm_env_destroy(env) != SM_OK;
    return bad;
}

int main()
{
    if (sm_enable_allocate() != SM_OK)
        return 1;
    sm_status st = SM_INVALID_ARG;
    char *p = static_cast<char *>(sm_allocate(100, &st));
    if (!p || st != SM_OK)
        return 1;
    std::memset(p, 'x', 100);
    int bad = sm_free(p) != SM_OK;
    bad |= sm_free(p) != SM_INVALID_ARG;
    bad |= sm_get_thread_handle(nullptr) == nullptr;
    bad |= sm_disable_allocate() != SM_OK;
    bad |= sm_disable_allocate() != SM_NO_ENVIRONMENT;
    bad |= std::strcmp(sm_status_string(SM_OUT_OF_MEMORY), "SM_OUT_OF_MEMORY") != 0;
    bad |= check_env();
    return bad;
}
