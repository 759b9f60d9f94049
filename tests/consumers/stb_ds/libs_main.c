/* libs_main.c - a program that compiles and uses stb_ds itself (short names and all) and links
   lib_a and lib_b, each of which embeds smalloc, and stb_user.c, which uses both stb_ds and the
   program's own smalloc. Prints OK. */
#define STB_DS_IMPLEMENTATION
#include "stb_ds.h"
#include <stdio.h>

int lib_a_work(void);
int lib_b_work(void);
int stb_user_work(void);

int main(void)
{
    int *numbers = NULL;
    int i, sum = 0;

    for (i = 1; i <= 100; i++)
        arrput(numbers, i);
    for (i = 0; i < arrlen(numbers); i++)
        sum += numbers[i];
    arrfree(numbers);
    if (sum != 5050 || lib_a_work() != 0 || lib_b_work() != 0 || stb_user_work() != 0)
        return 1;
    puts("OK");
    return 0;
}
