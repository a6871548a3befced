#include "udpguard.h"

#include "config.h"
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>

/*
 * UDP services above 1023 that answer datagrams and so could be played
 * against each other: NFS, SSDP, ARD, WS-Discovery, SIP, mDNS, CoAP, echod's
 * own standalone echo port, memcached. echod's port is a range: a standalone
 * echod whose port was busy took one of the next ones, and two echods on
 * neighbouring ports must not play ping-pong.
 */
static const struct udpguard_port_range service_ports[] = {
    {1900, 1900},   {2049, 2049},
    {3283, 3283},   {3702, 3702},
    {5060, 5060},   {5353, 5353},
    {5683, 5683},   {CONFIG_DEFAULT_ECHO_PORT, CONFIG_DEFAULT_ECHO_PORT + LISTEN_PORT_TRIES - 1},
    {11211, 11211},
};

void udpguard_init(struct udpguard *guard)
{
        guard->broadcast_count = 0;
        guard->own_port_count = 0;
}

int udpguard_add_own_ports(struct udpguard *guard, unsigned short first, unsigned short last)
{
        for (size_t i = 0; i < guard->own_port_count; i++) {
                if (guard->own_ports[i].first == first && guard->own_ports[i].last == last)
                        return 0;
        }
        if (guard->own_port_count >= UDPGUARD_OWN_PORTS_MAX)
                return -ENOSPC;
        guard->own_ports[guard->own_port_count++] =
            (struct udpguard_port_range){.first = first, .last = last};
        return 0;
}

static bool port_in(const struct udpguard_port_range *ranges, size_t count, unsigned short port)
{
        for (size_t i = 0; i < count; i++) {
                if (port >= ranges[i].first && port <= ranges[i].last)
                        return true;
        }
        return false;
}

int udpguard_add_broadcast(struct udpguard *guard, struct in_addr address)
{
        if (guard->broadcast_count >= UDPGUARD_BROADCAST_MAX)
                return -ENOSPC;
        guard->broadcast[guard->broadcast_count++] = address;
        return 0;
}

int udpguard_load_interfaces(struct udpguard *guard)
{
        struct ifaddrs *list, *ifa;

        if (getifaddrs(&list) < 0)
                return -errno;
        guard->broadcast_count = 0;
        for (ifa = list; ifa; ifa = ifa->ifa_next) {
                if (!(ifa->ifa_flags & IFF_BROADCAST) || !ifa->ifa_broadaddr ||
                    ifa->ifa_broadaddr->sa_family != AF_INET)
                        continue;
                if (udpguard_add_broadcast(
                        guard, ((struct sockaddr_in *)ifa->ifa_broadaddr)->sin_addr) < 0)
                        break;
        }
        freeifaddrs(list);
        return 0;
}

/* The IPv4 address inside sa (plain or IPv4-mapped IPv6); false if none. */
static bool ipv4_of(const struct sockaddr *sa, uint32_t *address)
{
        if (sa->sa_family == AF_INET) {
                *address = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
                return true;
        }
        if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

                if (IN6_IS_ADDR_V4MAPPED(a6)) {
                        uint32_t v;
                        memcpy(&v, &a6->s6_addr[12], sizeof(v));
                        *address = ntohl(v);
                        return true;
                }
        }
        return false;
}

static bool is_interface_broadcast(const struct udpguard *guard, uint32_t address)
{
        for (size_t i = 0; i < guard->broadcast_count; i++) {
                if (ntohl(guard->broadcast[i].s_addr) == address)
                        return true;
        }
        return false;
}

static bool is_loopback(const struct sockaddr *sa)
{
        uint32_t v4;

        if (ipv4_of(sa, &v4))
                return (v4 >> 24) == 127;
        return sa->sa_family == AF_INET6 &&
               IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static enum udpguard_verdict check_source(const struct udpguard *guard, const struct sockaddr *src)
{
        uint32_t v4;

        if (ipv4_of(src, &v4)) {
                if ((v4 >> 24) == 0 || v4 >= 0xf0000000u)
                        return UDPGUARD_BAD_SOURCE; /* 0/8 "this network"; 240/4 and broadcast */
                if ((v4 >> 28) == 0xe || is_interface_broadcast(guard, v4))
                        return UDPGUARD_MULTICAST_SOURCE;
                return UDPGUARD_OK;
        }
        if (src->sa_family == AF_INET6) {
                const struct in6_addr *a6 = &((const struct sockaddr_in6 *)src)->sin6_addr;

                if (IN6_IS_ADDR_MULTICAST(a6))
                        return UDPGUARD_MULTICAST_SOURCE;
                /* IPv4-compatible addresses are deprecated and only seen forged. */
                if (IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_V4COMPAT(a6))
                        return UDPGUARD_BAD_SOURCE;
                return UDPGUARD_OK;
        }
        return UDPGUARD_BAD_SOURCE;
}

static bool is_group_destination(const struct udpguard *guard, const struct sockaddr *dst)
{
        uint32_t v4;

        if (ipv4_of(dst, &v4))
                return (v4 >> 28) == 0xe || v4 == 0xffffffffu || is_interface_broadcast(guard, v4);
        return dst->sa_family == AF_INET6 &&
               IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)dst)->sin6_addr);
}

enum udpguard_verdict udpguard_check(const struct udpguard *guard, const struct sockaddr *src,
                                     const struct sockaddr *dst)
{
        unsigned short port;
        enum udpguard_verdict verdict;

        if (src->sa_family == AF_INET)
                port = ntohs(((const struct sockaddr_in *)src)->sin_port);
        else if (src->sa_family == AF_INET6)
                port = ntohs(((const struct sockaddr_in6 *)src)->sin6_port);
        else
                return UDPGUARD_BAD_SOURCE;
        if (port < 1024)
                return UDPGUARD_LOW_PORT;
        if (port_in(service_ports, sizeof(service_ports) / sizeof(service_ports[0]), port))
                return UDPGUARD_SERVICE_PORT;
        /* Answering one of our own sockets would loop (with another echod, or with itself). */
        if (port_in(guard->own_ports, guard->own_port_count, port))
                return UDPGUARD_OWN_PORT;
        verdict = check_source(guard, src);
        if (verdict != UDPGUARD_OK)
                return verdict;
        if (dst) {
                if (is_group_destination(guard, dst))
                        return UDPGUARD_GROUP_DESTINATION;
                /* Loopback traffic never arrives on an outside address. */
                if (is_loopback(src) && !is_loopback(dst))
                        return UDPGUARD_SPOOFED_LOOPBACK;
        }
        return UDPGUARD_OK;
}

const char *udpguard_reason(enum udpguard_verdict verdict)
{
        switch (verdict) {
        case UDPGUARD_OK:
                return "ok";
        case UDPGUARD_LOW_PORT:
                return "source port below 1024";
        case UDPGUARD_SERVICE_PORT:
                return "source port of a well-known UDP service";
        case UDPGUARD_BAD_SOURCE:
                return "impossible source address";
        case UDPGUARD_MULTICAST_SOURCE:
                return "broadcast or multicast source";
        case UDPGUARD_SPOOFED_LOOPBACK:
                return "loopback source on a non-loopback address";
        case UDPGUARD_GROUP_DESTINATION:
                return "sent to a broadcast or multicast address";
        case UDPGUARD_OWN_PORT:
                return "source port of one of echod's own echo sockets";
        }
        return "unknown";
}
