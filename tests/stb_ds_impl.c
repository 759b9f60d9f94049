/* stb_ds_impl.c - stb_ds's implementation, compiled as C for cxx_use.cpp (stb_ds's own code
   warns when compiled as C++). */
#define STB_DS_IMPLEMENTATION
#include "stb_ds.h"
