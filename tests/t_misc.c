/* t_misc.c - status names and values, version macros. */
#include <stdio.h>
#include <string.h>
#include "harness.h"
#include "../smalloc.h"
#include "suites.h"

TEST(status_values)
{
    /* The numbers are the Windows codes; SM_NO_ENVIRONMENT differs from all of them. */
    CHECK_EQ_INT(SM_OK, 0);
    CHECK_EQ_INT(SM_INVALID_HANDLE, 6);
    CHECK_EQ_INT(SM_OUT_OF_MEMORY, 14);
    CHECK_EQ_INT(SM_INVALID_ARG, 87);
    CHECK(SM_NO_ENVIRONMENT != SM_OK && SM_NO_ENVIRONMENT != SM_INVALID_HANDLE &&
          SM_NO_ENVIRONMENT != SM_OUT_OF_MEMORY && SM_NO_ENVIRONMENT != SM_INVALID_ARG);
}

TEST(status_strings)
{
    CHECK_STR(sm_status_string(SM_OK), "SM_OK");
    CHECK_STR(sm_status_string(SM_INVALID_HANDLE), "SM_INVALID_HANDLE");
    CHECK_STR(sm_status_string(SM_OUT_OF_MEMORY), "SM_OUT_OF_MEMORY");
    CHECK_STR(sm_status_string(SM_INVALID_ARG), "SM_INVALID_ARG");
    CHECK_STR(sm_status_string(SM_NO_ENVIRONMENT), "SM_NO_ENVIRONMENT");
    CHECK_STR(sm_status_string((sm_status)12345), "SM_UNKNOWN_STATUS");
    CHECK_STR(sm_status_string((sm_status)1), "SM_UNKNOWN_STATUS");
    CHECK_STR(sm_status_string((sm_status)-1), "SM_UNKNOWN_STATUS");
}

TEST(version_macros)
{
    char buf[64];
    CHECK_EQ_INT(SMALLOC_VERSION,
                 SMALLOC_VERSION_MAJOR * 10000 + SMALLOC_VERSION_MINOR * 100 + SMALLOC_VERSION_PATCH);
    CHECK(SMALLOC_VERSION_MINOR >= 0 && SMALLOC_VERSION_MINOR < 100);
    CHECK(SMALLOC_VERSION_PATCH >= 0 && SMALLOC_VERSION_PATCH < 100);
    sprintf(buf, "%d.%d.%d", SMALLOC_VERSION_MAJOR, SMALLOC_VERSION_MINOR, SMALLOC_VERSION_PATCH);
    CHECK_STR(SMALLOC_VERSION_STRING, buf);
#if SMALLOC_VERSION < 100
    th_fail(__FILE__, __LINE__, "SMALLOC_VERSION is usable in #if and is at least 0.1.0");
#endif
}

void suite_misc(void)
{
    RUN(status_values);
    RUN(status_strings);
    RUN(version_macros);
}
