#ifndef ECHOD_ECHO_UDP_H
#define ECHOD_ECHO_UDP_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "ratelimit.h"
#include "udpguard.h"

/*
 * UDP echo (RFC 862): each datagram goes back to its sender, from the
 * address it was sent to (IP_PKTINFO / IPV6_PKTINFO), unless the reflection
 * guards or the per-source rate limit say no.
 */

struct echo_udp_stats {
        uint64_t received;
        uint64_t answered;
        uint64_t dropped_guard;
        uint64_t dropped_rate;
        uint64_t send_errors;
};

struct echo_udp {
        struct ev_loop *loop;
        ev_io read_watcher;
        int fd;
        const struct udpguard *guard;
        struct ratelimit *limit;
        struct echo_udp_stats *stats; /* shared by every UDP socket */
        uint64_t dropped_unlogged;
        ev_tstamp last_drop_log;
        const char *last_drop_reason;
        char last_drop_source[80];
        char local[80];
};

/*
 * Serve the datagram socket fd (not owned: it is never closed here). Turns on
 * destination-address reporting if it is off. Returns 0 or -errno.
 */
int echo_udp_start(struct echo_udp *udp, struct ev_loop *loop, int fd, const struct udpguard *guard,
                   struct ratelimit *limit, struct echo_udp_stats *stats);

/*
 * Log the drops not yet logged: at most once per 10 s, or now with force.
 * The daemon calls it from a timer so a flood that stops is still reported.
 */
void echo_udp_flush_drops(struct echo_udp *udp, bool force);

/* Stop (paused) or go back to (not paused) reading the socket. */
void echo_udp_pause(struct echo_udp *udp, bool paused);

/* Stop serving (the socket stays open). */
void echo_udp_stop(struct echo_udp *udp);

#endif
