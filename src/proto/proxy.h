#ifndef ECHOD_PROXY_H
#define ECHOD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The PROXY protocol header (HAProxy's "PROXY protocol" specification,
 * versions 1 and 2) a load balancer sends before the client's first byte,
 * naming the client it relays. No I/O here: proxy_parse() is given the
 * bytes received so far and says "need more", how long the header is, or
 * why it is not one. Addresses come out as raw bytes (proto includes no
 * socket header). Called by: the daemon's pre-service stage (issue 19),
 * tests/unit/test_proxy.c and fuzz/fuzz_proxy.c; calls: addr_parse_ip().
 */

/* The longest version 1 header, "\r\n" included (the specification's bound). */
#define PROXY_V1_MAX 107
/* The longest version 2 header echod accepts: 16 bytes, then addresses and TLVs. */
#define PROXY_V2_MAX 1024
/* The version 2 signature's length, and the fixed part before the addresses. */
#define PROXY_V2_SIGNATURE_SIZE 12
#define PROXY_V2_FIXED_SIZE     16

enum proxy_command {
        PROXY_COMMAND_LOCAL = 0, /* v2 LOCAL: the balancer's own connection (a health check) */
        PROXY_COMMAND_PROXY = 1, /* a relayed client (v1 always) */
};

enum proxy_family {
        PROXY_FAMILY_UNSPEC = 0,
        PROXY_FAMILY_INET = 4,
        PROXY_FAMILY_INET6 = 6,
        PROXY_FAMILY_UNIX = 1,
};

struct proxy_endpoint {
        enum proxy_family family;
        unsigned char address[16]; /* 4 bytes for INET, 16 for INET6, network order */
        uint16_t port;             /* host order */
        char path[109];            /* UNIX: the path, NUL-terminated (108 bytes at most) */
};

struct proxy_header {
        int version; /* 1 or 2 */
        enum proxy_command command;
        bool has_address; /* false for v1 UNKNOWN, v2 LOCAL and v2 UNSPEC */
        int transport;    /* v2: 0 unspecified, 1 stream, 2 datagram; v1: 1 */
        struct proxy_endpoint source, destination;
        size_t tlv_count; /* v2 TLVs seen (bounds-checked, otherwise skipped) */
};

/*
 * Parse the header at the start of data (length bytes, everything received
 * so far). Returns 0 if the bytes are a valid prefix of a header and more
 * are needed, the header's length (> 0) with *header filled in when it is
 * complete (the bytes after it are the client's), -EPROTO if the bytes do
 * not start a PROXY header at all (a plain client), -EMSGSIZE if the header
 * is longer than PROXY_V1_MAX or PROXY_V2_MAX, and -EINVAL if it is
 * malformed (bad address, port, version, command, family or TLV bounds).
 */
int proxy_parse(const void *data, size_t length, struct proxy_header *header);

/* A short description of an error proxy_parse() returned, for the log. */
const char *proxy_strerror(int error);

#endif
