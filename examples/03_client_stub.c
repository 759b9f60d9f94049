/* 03_client_stub.c - the client allocator pair (RpcSmClientFree, RpcSmSetClientAllocFree,
   RpcSmSwapClientAllocFree). A stub that unmarshals [out] data allocates it with
   sm_client_allocate, which calls the calling thread's client pair:

     1. in a plain thread (no current environment) the default pair is malloc/free, and the
        caller frees the unmarshalled list with sm_client_free;
     2. inside manager code (a thread with a current environment) the same stub allocates from
        the environment: sm_client_free marks free (exactly checked), and disabling the
        environment releases whatever is left;
     3. a library routine installs its own pair for its scope with sm_swap_client_alloc_free
        (here, a small fixed pool it throws away afterwards) and puts the old pair back.

   Build by hand from the top directory (Debian: apt-get install libstb-dev):
       cc -std=c99 -O2 -pthread -I. $(pkg-config --cflags stb) examples/03_client_stub.c -o 03_client_stub
   or run `make demo`, which builds and runs every example. */
#define SMALLOC_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#include "smalloc.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The unmarshalled form: a linked list of named entries. */
typedef struct entry {
    struct entry *next;
    int           id;
    char         *name;
} entry;

/* The wire form: NUL-separated "id:name" records, ending with an empty one. */
static const char wire[] = "7:alpha\0" "11:beta\0" "13:gamma\0" "17:delta\0";

/* Frees a list with sm_client_free (RpcSmClientFree); returns the first failing status. */
static sm_status free_list(entry *list)
{
    sm_status result = SM_OK, status;

    while (list != NULL) {
        entry *next = list->next;
        status = sm_client_free(list->name);
        if (status != SM_OK && result == SM_OK)
            result = status;
        status = sm_client_free(list);
        if (status != SM_OK && result == SM_OK)
            result = status;
        list = next;
    }
    return result;
}

/* The client stub's unmarshalling: every node and string comes from sm_client_allocate.
   Returns the list, or NULL with what was built so far freed again. */
static entry *unmarshal(const char *data)
{
    entry *head = NULL, **link = &head;

    while (*data != '\0') {
        const char *colon = strchr(data, ':');
        size_t length;
        entry *e;

        if (colon == NULL)
            break;
        length = strlen(colon + 1) + 1;
        e = (entry *)sm_client_allocate(sizeof *e);
        if (e == NULL) {
            free_list(head);
            return NULL;
        }
        e->next = NULL;
        e->id = 0;
        e->name = (char *)sm_client_allocate(length);
        *link = e;
        link = &e->next;
        if (e->name == NULL) {
            free_list(head);
            return NULL;
        }
        while (data < colon)
            e->id = e->id * 10 + (*data++ - '0');
        memcpy(e->name, colon + 1, length);
        data = colon + length + 1;
    }
    return head;
}

static void print_list(const char *label, const entry *list)
{
    printf("  %s:", label);
    for (; list != NULL; list = list->next)
        printf(" %d=%s", list->id, list->name);
    printf("\n");
}

/* ---- 3. a library routine with its own pair --------------------------------------------- */

/* A pool the routine throws away when it is done: free does nothing. */
static union {
    unsigned char bytes[1024];
    void *align_p;
    double align_d;
    long align_l;
} pool;
static size_t pool_used, pool_allocations, pool_frees;

static void *pool_alloc(size_t size)
{
    const size_t granule = 16;
    size_t rounded;

    if (size > sizeof pool.bytes)
        return NULL;
    rounded = (size + granule - 1) / granule * granule;
    if (rounded == 0)
        rounded = granule;
    if (rounded > sizeof pool.bytes - pool_used)
        return NULL;
    pool_used += rounded;
    pool_allocations++;
    return pool.bytes + pool_used - rounded;
}

static void pool_free(void *ptr)
{
    (void)ptr;
    pool_frees++;
}

/* Sums the ids of a wire message, unmarshalling it into the routine's own pool whatever pair
   the caller has; the caller's pair is in force again when it returns. Returns -1 on failure. */
static long sum_ids(const char *data)
{
    sm_client_alloc_fn *old_alloc, *mine_alloc;
    sm_client_free_fn *old_free, *mine_free;
    entry *list, *e;
    long sum = 0;

    if (sm_swap_client_alloc_free(pool_alloc, pool_free, &old_alloc, &old_free) != SM_OK)
        return -1;
    pool_used = pool_allocations = pool_frees = 0;
    list = unmarshal(data);
    if (list == NULL)
        sum = -1;
    for (e = list; e != NULL; e = e->next)
        sum += e->id;
    free_list(list);
    printf("  sum_ids: %lu allocations (%lu bytes) from its pool, %lu frees\n",
           (unsigned long)pool_allocations, (unsigned long)pool_used, (unsigned long)pool_frees);

    /* Put the caller's pair back; the swap hands ours back, which proves what was in force. */
    if (sm_swap_client_alloc_free(old_alloc, old_free, &mine_alloc, &mine_free) != SM_OK
        || mine_alloc != pool_alloc || mine_free != pool_free)
        return -1;
    return sum;
}

int main(void)
{
    sm_status status;
    entry *list, *second;
    long sum;

    /* 1. A plain thread: the default pair is malloc/free. */
    printf("1. client thread, no environment (default pair: malloc/free)\n");
    list = unmarshal(wire);
    if (list == NULL)
        return 1;
    print_list("unmarshalled", list);
    printf("  sm_free(list) -> %s: no environment, the list is malloc's memory\n",
           sm_status_string(sm_free(list)));
    status = free_list(list);
    printf("  free_list with sm_client_free -> %s\n", sm_status_string(status));
    if (status != SM_OK)
        return 1;

    /* 2. Manager code: the same stub allocates from the current environment. */
    printf("2. manager code, current environment (default pair: the environment)\n");
    status = sm_enable_allocate();
    printf("  sm_enable_allocate -> %s\n", sm_status_string(status));
    if (status != SM_OK)
        return 1;
    list = unmarshal(wire);
    second = unmarshal(wire);
    if (list == NULL || second == NULL)
        return 1;
    print_list("unmarshalled", list);
    status = free_list(list);
    printf("  free_list with sm_client_free -> %s (marked free in the environment)\n",
           sm_status_string(status));
    printf("  sm_client_free(second) -> %s\n", sm_status_string(sm_client_free(second)));
    printf("  sm_client_free(second) again -> %s (the exact mark-free check)\n",
           sm_status_string(sm_client_free(second)));

    /* 3. A library routine with its own pair, called from manager code. */
    printf("3. a library routine with its own pair for its scope\n");
    sum = sum_ids(wire);
    printf("  sum_ids -> %ld\n", sum);
    if (sum < 0)
        return 1;
    list = unmarshal(wire);   /* the default pair is back: environment memory again */
    printf("  after sum_ids, sm_client_allocate uses the environment again: sm_free -> %s\n",
           list == NULL ? "(unmarshal failed)" : sm_status_string(sm_free(list)));

    /* The rest of `second` and `list` need no freeing: disable releases the environment. */
    status = sm_disable_allocate();
    printf("  sm_disable_allocate -> %s\n", sm_status_string(status));
    return status == SM_OK ? 0 : 1;
}
