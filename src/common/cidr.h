#ifndef ECHOD_CIDR_H
#define ECHOD_CIDR_H

#include <stdint.h>
#include <sys/socket.h>

/* The largest block cidr_parse() accepts: 2^16 addresses (/16 IPv4, /112 IPv6). */
#define CIDR_MAX_HOST_BITS 16

/* An address block: the network address (host bits zero) and its prefix length. */
struct cidr {
        int family;
        unsigned char addr[16];
        unsigned prefix;
        uint32_t scope_id; /* IPv6 zone ("%eth0"), 0 when none was given */
};

/*
 * Parse "ADDR[%ZONE]/PREFIX" (numeric IPv4 or IPv6, no brackets; a zone, an
 * interface name or index, only for IPv6). Host bits in ADDR are cleared.
 * Returns 0, -EINVAL (not a CIDR block), -E2BIG (more host bits than
 * CIDR_MAX_HOST_BITS), -ENODEV (no such interface) or -EDESTADDRREQ (an IPv6
 * link-local block without a zone: it could not be reached).
 */
int cidr_parse(const char *text, struct cidr *out);

/* The number of addresses in the block, network and broadcast included. */
uint32_t cidr_count(const struct cidr *block);

/* Write the index-th address of the block to ss. Returns 0 or -ERANGE. */
int cidr_address(const struct cidr *block, uint32_t index, struct sockaddr_storage *ss,
                 socklen_t *len);

#endif
