#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

static unsigned family_bits(int family)
{
        return family == AF_INET ? 32 : 128;
}

int cidr_parse(const char *text, struct cidr *out)
{
        char host[INET6_ADDRSTRLEN];
        const char *slash;
        char *zone, *end = NULL;
        unsigned long prefix;
        unsigned bits, keep;
        size_t len;

        if (!text || !out)
                return -EINVAL;
        slash = strchr(text, '/');
        if (!slash || slash == text)
                return -EINVAL;
        len = (size_t)(slash - text);
        if (len >= sizeof(host))
                return -EINVAL;
        memcpy(host, text, len);
        host[len] = '\0';
        memset(out, 0, sizeof(*out));
        zone = strchr(host, '%');
        if (zone)
                *zone++ = '\0';
        if (inet_pton(AF_INET, host, out->addr) == 1 && !zone)
                out->family = AF_INET;
        else if (inet_pton(AF_INET6, host, out->addr) == 1)
                out->family = AF_INET6;
        else
                return -EINVAL;
        if (zone) {
                out->scope_id = if_nametoindex(zone);
                if (out->scope_id == 0) {
                        errno = 0;
                        prefix = strtoul(zone, &end, 10);
                        if (*zone < '0' || *zone > '9' || errno || *end || prefix == 0 ||
                            prefix > UINT32_MAX)
                                return -ENODEV;
                        out->scope_id = (uint32_t)prefix;
                }
        } else if (out->family == AF_INET6 && out->addr[0] == 0xfe &&
                   (out->addr[1] & 0xc0) == 0x80) {
                return -EDESTADDRREQ;
        }
        bits = family_bits(out->family);
        if (units_parse_uint(slash + 1, 0, bits, &prefix) < 0)
                return -EINVAL;
        if (bits - prefix > CIDR_MAX_HOST_BITS)
                return -E2BIG;
        out->prefix = (unsigned)prefix;

        /* Clear the host bits, so "10.0.0.7/30" means the block 10.0.0.4-7. */
        keep = out->prefix;
        for (unsigned byte = 0; byte < bits / 8; byte++) {
                if (keep >= 8) {
                        keep -= 8;
                        continue;
                }
                out->addr[byte] &= (unsigned char)(0xff00u >> keep);
                keep = 0;
        }
        return 0;
}

uint32_t cidr_count(const struct cidr *block)
{
        return UINT32_C(1) << (family_bits(block->family) - block->prefix);
}

int cidr_address(const struct cidr *block, uint32_t index, struct sockaddr_storage *ss,
                 socklen_t *len)
{
        unsigned char addr[16];
        unsigned bytes = family_bits(block->family) / 8;
        uint32_t carry = index;

        if (index >= cidr_count(block))
                return -ERANGE;
        /* Add the index to the network address, from the last byte up. */
        memcpy(addr, block->addr, sizeof(addr));
        for (unsigned i = bytes; i-- > 0 && carry;) {
                uint32_t sum = addr[i] + (carry & 0xff);

                addr[i] = (unsigned char)sum;
                carry = (carry >> 8) + (sum >> 8);
        }
        memset(ss, 0, sizeof(*ss));
        if (block->family == AF_INET) {
                struct sockaddr_in *in4 = (struct sockaddr_in *)ss;

                in4->sin_family = AF_INET;
                memcpy(&in4->sin_addr, addr, 4);
                *len = sizeof(*in4);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

                in6->sin6_family = AF_INET6;
                memcpy(&in6->sin6_addr, addr, 16);
                in6->sin6_scope_id = block->scope_id;
                *len = sizeof(*in6);
        }
        return 0;
}
