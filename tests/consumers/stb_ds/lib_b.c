/* lib_b.c - the second library that embeds smalloc privately (see lib_a.c); this one defines
   nothing about stb_ds. */
#define SMALLOC_STATIC
#define SMALLOC_IMPLEMENTATION
#include "smalloc.h"

int lib_b_work(void);

int lib_b_work(void)
{
    sm_status status = sm_enable_allocate();
    int i;
    if (status != SM_OK)
        return 1;
    for (i = 0; i < 1000; i++)
        if (sm_allocate(700, NULL) == NULL)
            return 1;
    return sm_disable_allocate() == SM_OK ? 0 : 1;
}
