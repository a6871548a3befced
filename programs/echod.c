#include <stdio.h>

#include "version.h"

int main(void)
{
        printf("echod %s\n", ECHOD_VERSION);
        return 0;
}
