#include "proxy.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"

static const unsigned char v2_signature[PROXY_V2_SIGNATURE_SIZE] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_prefix[] = "PROXY ";

/* Do the first length bytes match the first bytes of prefix (size bytes)? */
static bool prefix_matches(const unsigned char *data, size_t length, const void *prefix,
                           size_t size)
{
        return memcmp(data, prefix, length < size ? length : size) == 0;
}

/* A decimal port as v1 writes it: 0..65535, no sign, no leading zero. */
static int parse_v1_port(const char *text, uint16_t *port)
{
        unsigned long value = 0;
        size_t n = strlen(text);

        if (n == 0 || n > 5 || (n > 1 && text[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (text[i] < '0' || text[i] > '9')
                        return -EINVAL;
                value = value * 10 + (unsigned long)(text[i] - '0');
        }
        if (value > 65535)
                return -EINVAL;
        *port = (uint16_t)value;
        return 0;
}

/* Split line at single spaces into at most max fields; returns how many, or -EINVAL. */
static int split_fields(char *line, char **fields, int max)
{
        int count = 0;
        char *p = line;

        for (;;) {
                char *space = strchr(p, ' ');

                if (count == max)
                        return -EINVAL;
                fields[count++] = p;
                if (!space)
                        break;
                *space = '\0';
                p = space + 1;
        }
        for (int i = 0; i < count; i++)
                if (fields[i][0] == '\0')
                        return -EINVAL; /* two spaces in a row, or a trailing one */
        return count;
}

static int parse_v1(const unsigned char *data, size_t length, struct proxy_header *header)
{
        char line[PROXY_V1_MAX + 1], *fields[6];
        const unsigned char *end;
        size_t scan = length < PROXY_V1_MAX ? length : PROXY_V1_MAX;
        size_t line_length;
        bool v6;
        int count;

        end = memchr(data, '\n', scan);
        if (!end)
                return length >= PROXY_V1_MAX ? -EMSGSIZE : 0;
        line_length = (size_t)(end - data);
        if (line_length == 0 || data[line_length - 1] != '\r')
                return -EINVAL;
        memcpy(line, data, line_length - 1);
        line[line_length - 1] = '\0';
        if (memchr(line, '\0', line_length - 1) || memchr(line, '\r', line_length - 1))
                return -EINVAL;
        header->version = 1;
        header->command = PROXY_COMMAND_PROXY;
        header->transport = 1;
        /* "PROXY UNKNOWN" may be followed by anything: the receiver ignores it. */
        if (strncmp(line + 6, "UNKNOWN", 7) == 0 && (line[13] == '\0' || line[13] == ' '))
                return (int)(line_length + 1);
        count = split_fields(line + 6, fields, 6);
        if (count != 5)
                return -EINVAL;
        if (strcmp(fields[0], "TCP4") == 0)
                v6 = false;
        else if (strcmp(fields[0], "TCP6") == 0)
                v6 = true;
        else
                return -EINVAL;
        header->source.family = header->destination.family =
            v6 ? PROXY_FAMILY_INET6 : PROXY_FAMILY_INET;
        if (addr_parse_ip(fields[1], v6, header->source.address) < 0 ||
            addr_parse_ip(fields[2], v6, header->destination.address) < 0 ||
            parse_v1_port(fields[3], &header->source.port) < 0 ||
            parse_v1_port(fields[4], &header->destination.port) < 0)
                return -EINVAL;
        header->has_address = true;
        return (int)(line_length + 1);
}

static uint16_t read_be16(const unsigned char *bytes)
{
        return (uint16_t)(bytes[0] << 8 | bytes[1]);
}

static void copy_path(char path[109], const unsigned char *bytes)
{
        memcpy(path, bytes, 108);
        path[108] = '\0';
}

static int parse_v2(const unsigned char *data, size_t length, struct proxy_header *header)
{
        size_t total, body, need = 0, offset;
        unsigned family, command;

        if (length < PROXY_V2_FIXED_SIZE)
                return 0;
        body = read_be16(data + 14);
        total = PROXY_V2_FIXED_SIZE + body;
        if (total > PROXY_V2_MAX)
                return -EMSGSIZE;
        if (data[12] >> 4 != 2)
                return -EINVAL;
        command = data[12] & 0x0F;
        if (command > 1)
                return -EINVAL;
        family = data[13] >> 4;
        if (family > 3 || (data[13] & 0x0F) > 2)
                return -EINVAL;
        if (length < total)
                return 0;
        header->version = 2;
        header->command = command ? PROXY_COMMAND_PROXY : PROXY_COMMAND_LOCAL;
        header->transport = data[13] & 0x0F;
        if (family == 1)
                need = 12;
        else if (family == 2)
                need = 36;
        else if (family == 3)
                need = 216;
        if (body < need)
                return -EINVAL;
        data += PROXY_V2_FIXED_SIZE;
        if (family == 1 || family == 2) {
                size_t size = family == 1 ? 4 : 16;
                enum proxy_family f = family == 1 ? PROXY_FAMILY_INET : PROXY_FAMILY_INET6;

                header->source.family = header->destination.family = f;
                memcpy(header->source.address, data, size);
                memcpy(header->destination.address, data + size, size);
                header->source.port = read_be16(data + 2 * size);
                header->destination.port = read_be16(data + 2 * size + 2);
        } else if (family == 3) {
                header->source.family = header->destination.family = PROXY_FAMILY_UNIX;
                copy_path(header->source.path, data);
                copy_path(header->destination.path, data + 108);
        }
        /* LOCAL: the addresses, if any, are the balancer's own; use the real connection's. */
        header->has_address = command == 1 && family != 0;
        /* TLVs: type (1), length (2), value; each must fit in what is left. */
        for (offset = need; offset < body;) {
                size_t value;

                if (body - offset < 3)
                        return -EINVAL;
                value = read_be16(data + offset + 1);
                if (value > body - offset - 3)
                        return -EINVAL;
                offset += 3 + value;
                header->tlv_count++;
        }
        return (int)total;
}

int proxy_parse(const void *data, size_t length, struct proxy_header *header)
{
        const unsigned char *bytes = data;

        memset(header, 0, sizeof(*header));
        if (length == 0)
                return 0;
        if (prefix_matches(bytes, length, v2_signature, sizeof(v2_signature))) {
                if (length < sizeof(v2_signature))
                        return 0;
                return parse_v2(bytes, length, header);
        }
        if (prefix_matches(bytes, length, v1_prefix, sizeof(v1_prefix) - 1)) {
                if (length < sizeof(v1_prefix) - 1)
                        return 0;
                return parse_v1(bytes, length, header);
        }
        return -EPROTO;
}

const char *proxy_strerror(int error)
{
        switch (error) {
        case -EPROTO:
                return "no PROXY protocol header";
        case -EMSGSIZE:
                return "PROXY protocol header too long";
        case -EINVAL:
                return "malformed PROXY protocol header";
        default:
                return "PROXY protocol error";
        }
}
