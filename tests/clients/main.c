/* main.c - the client tests: real, unmodified libraries allocating through smalloc (cJSON through
   the client pair, Lua 5.4 through a lua_Alloc on an environment) and an NDR-like unmarshaller
   (ndr.c) that builds its [out] tree with sm_client_allocate. This translation unit holds
   smalloc's implementation, with the fault-injecting bookkeeping allocator of counting.h.

   Build and run: make check-clients (Debian: libcjson-dev liblua5.4-dev libstb-dev), or by hand
       cc -std=c99 -pthread -I. $(pkg-config --cflags stb libcjson lua5.4) tests/clients/main.c \
          tests/clients/t_*.c tests/clients/ndr.c -o clients_test $(pkg-config --libs libcjson lua5.4)
   The last line printed is "N passed, M failed".
   clients_test --ndr-corpus DIR writes the NDR seed corpus (tests/clients/ndr_corpus) to DIR. */
#include <string.h>
#define TH_IMPLEMENTATION
#include "../harness.h"
#include "../counting.h"
#include "../threads.h"
#include "../util.h"

#define SMALLOC_REALLOC(p, n) tb_realloc((p), (n))
#define SMALLOC_FREE(p)       tb_free(p)
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "../../smalloc.h"

#include "clients.h"

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--ndr-corpus") == 0)
        return ndr_write_corpus(argv[2]);
    suite_ndr();
    suite_cjson();
    suite_lua();
    return th_summary();
}
