/* pic_lib.c - smalloc's implementation as a shared library, for bench/pic.c. */
#define SMALLOC_IMPLEMENTATION
#include "../smalloc.h"
