#ifndef ECHOD_UDPGUARD_H
#define ECHOD_UDPGUARD_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * Reflection guards for UDP echo, after OpenBSD inetd's dg_badinput(): a
 * datagram is not answered when its answer could be aimed at a third party
 * or at another service (an echo loop, an amplifier).
 */

#define UDPGUARD_BROADCAST_MAX 32
/* Port ranges of echod's own echo sockets: one per socket, one per configured port. */
#define UDPGUARD_OWN_PORTS_MAX 64

enum udpguard_verdict {
        UDPGUARD_OK = 0,
        UDPGUARD_LOW_PORT,          /* source port below 1024: a system service */
        UDPGUARD_SERVICE_PORT,      /* a well-known UDP service above 1023 */
        UDPGUARD_BAD_SOURCE,        /* unspecified, class E, "this network" */
        UDPGUARD_MULTICAST_SOURCE,  /* multicast or broadcast source */
        UDPGUARD_SPOOFED_LOOPBACK,  /* loopback source sent to a non-loopback address */
        UDPGUARD_GROUP_DESTINATION, /* sent to a broadcast or multicast address */
        UDPGUARD_OWN_PORT,          /* from a port echod echoes on: a loop */
};

/* An inclusive range of UDP ports. */
struct udpguard_port_range {
        unsigned short first;
        unsigned short last;
};

struct udpguard {
        /* The interfaces' IPv4 broadcast addresses (network byte order). */
        struct in_addr broadcast[UDPGUARD_BROADCAST_MAX];
        size_t broadcast_count;
        /* Ports echod itself echoes on (or may, after the busy-port fallback). */
        struct udpguard_port_range own_ports[UDPGUARD_OWN_PORTS_MAX];
        size_t own_port_count;
};

/* Start with no interface broadcast addresses and no own ports. */
void udpguard_init(struct udpguard *guard);

/* Learn the interfaces' broadcast addresses. Returns 0 or -errno. */
int udpguard_load_interfaces(struct udpguard *guard);

/* Add one broadcast address. Returns 0 or -ENOSPC. */
int udpguard_add_broadcast(struct udpguard *guard, struct in_addr address);

/*
 * Drop datagrams from source ports first..last: echod's own UDP echo sockets,
 * so that it never answers itself or another of its sockets. Returns 0 or
 * -ENOSPC.
 */
int udpguard_add_own_ports(struct udpguard *guard, unsigned short first, unsigned short last);

/*
 * Judge a datagram from src that arrived at dst (NULL when the destination
 * is unknown). Returns UDPGUARD_OK if it may be answered.
 */
enum udpguard_verdict udpguard_check(const struct udpguard *guard, const struct sockaddr *src,
                                     const struct sockaddr *dst);

/* A short text for a verdict, for logs. */
const char *udpguard_reason(enum udpguard_verdict verdict);

#endif
