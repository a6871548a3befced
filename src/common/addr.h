#ifndef ECHOD_ADDR_H
#define ECHOD_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text addr_format() writes: "[v6%scope]:65535" and a NUL. */
#define ADDR_TEXT_MAX 80
/* Longest numeric host addr_host() writes (INET6_ADDRSTRLEN plus a scope). */
#define ADDR_HOST_MAX 64

enum addr_proto {
        ADDR_TCP,
        ADDR_UDP,
};

/* A listening address as the command line and config file name it. */
struct addr_spec {
        enum addr_proto proto;
        struct sockaddr_storage sa;
        socklen_t len;
        /* True when no host was given: bind every address (IPv6 and IPv4). */
        bool any;
};

/*
 * Parse "[udp:|tcp:][ADDR:]PORT" where ADDR is a numeric IPv4 address, a
 * bracketed IPv6 address ("[::1]") or "*". Returns 0 or -EINVAL.
 */
int addr_parse_listen(const char *text, uint16_t default_port, struct addr_spec *out);

/*
 * Parse a numeric IPv4 (v6 false) or IPv6 (v6 true) address, no port, no
 * brackets, into out (4 or 16 bytes, network order). 0 or -EINVAL.
 */
int addr_parse_ip(const char *text, bool v6, unsigned char out[16]);

/* Parse a decimal port 0..65535 with nothing after it. Returns 0 or -EINVAL. */
int addr_parse_port(const char *text, uint16_t *port);

/* The port of an AF_INET or AF_INET6 address, in host order (0 otherwise). */
uint16_t addr_port(const struct sockaddr *sa);

/* Set the port of an AF_INET or AF_INET6 address. */
void addr_set_port(struct sockaddr *sa, uint16_t port);

/* Write the numeric host part of sa (IPv4-mapped IPv6 shown as IPv4) to buf. */
void addr_host(const struct sockaddr *sa, char *buf, size_t size);

/*
 * The same for an address of the given length as accept(2) returns it: an
 * unnamed unix socket is "unix", an abstract one "@name", and a path never
 * runs past the length.
 */
void addr_host_length(const struct sockaddr *sa, socklen_t length, char *buf, size_t size);

/*
 * The host as per-source limits count it: an IPv6 address by its /64
 * ("2001:db8:1:2::/64"), any other address as addr_host_length() writes it.
 */
void addr_host_group(const struct sockaddr *sa, socklen_t length, char *buf, size_t size);

/* Write "host:port" (IPv6 as "[host]:port", AF_UNIX as its path) to buf. */
void addr_format(const struct sockaddr *sa, char *buf, size_t size);

#endif
