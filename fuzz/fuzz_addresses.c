/*
 * libFuzzer target for the address parsers users type: listen addresses
 * ("[udp:][ADDR:]PORT"), CIDR blocks (echoscan targets) and port lists
 * (echoscan -p).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cidr.h"
#include "portspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct addr_spec spec;
        struct cidr block;
        struct portspec ports;
        struct portspec_error error;
        char *text = malloc(size + 1);

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        (void)addr_parse_listen(text, 7007, &spec);
        (void)cidr_parse(text, &block);
        memset(&ports, 0, sizeof(ports));
        (void)portspec_parse(&ports, text, &error);
        free(text);
        return 0;
}
