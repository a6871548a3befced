#ifndef ECHOD_SCAN_INTERNAL_H
#define ECHOD_SCAN_INTERNAL_H

/*
 * Shared by scan.c (the bookkeeping: states, retries, timeouts, scheduling)
 * and scan_connect.c (starting and finishing attempts, with plain connect()
 * or io_uring). Not for use outside these two files.
 *
 * Calls go one way: scan.c calls down into scan_connect.c (the functions at
 * the end of this header); scan_connect.c never calls scan.c by name. What
 * it must tell the bookkeeping (an attempt ended, timed out, ran out of
 * resources) goes through struct scan_connect_ops, which scan.c fills in
 * and hands over in struct scan.
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "scan.h"
#include "uring.h"

/*
 * One state byte per (host, port): the enum scan_state in the low two bits,
 * the number of attempts started above it, and a flag while one is in flight.
 */
#define ATTEMPT_SHIFT 2
#define ATTEMPT_ONE   (1u << ATTEMPT_SHIFT)
#define ATTEMPT_MASK  0x7cu
#define IN_FLIGHT     0x80u

/* Attempts launched per turn of the loop, so timers and signals still run. */
#define FILL_BATCH 512

/* Submission queue entries; completions have twice as many, which caps what is in flight. */
#define URING_ENTRIES      8192
#define URING_MAX_INFLIGHT (2 * URING_ENTRIES)

struct scan;
struct slot;

/* The bookkeeping scan_connect.c reports to; filled in by scan.c. */
struct scan_connect_ops {
        /* The address of the (host, port) pair index. */
        void (*target_sockaddr)(const struct scan *s, uint32_t index, struct sockaddr_storage *ss,
                                socklen_t *len);
        /* An attempt got no answer in time: retry it, or call the port filtered. */
        void (*timed_out)(struct scan *s, uint32_t index);
        /* Resources ran out before a connect could start: wait, or fail if nothing can free them.
         */
        void (*out_of_resources)(struct scan *s, uint32_t index, int error);
        /* Record how an attempt ended; true when the caller may keep fd to connect again. */
        bool (*conclude)(struct scan *s, uint32_t index, int fd, int result,
                         const struct sockaddr_storage *dest, socklen_t len);
        /* Put slot in flight for index, in the timeout queue. */
        void (*take_slot)(struct scan *s, struct slot *slot, uint32_t index);
        /* The attempt of slot is over: back to the free list (its socket is the caller's). */
        void (*release_slot)(struct scan *s, struct slot *slot);
        /* Launch up to budget attempts, then schedule what comes next. */
        void (*fill)(struct scan *s, unsigned budget);
};

/* A connect in flight: its socket, its watcher, its place in the timeout queue. */
struct slot {
        ev_io io; /* used without io_uring */
        struct scan *scan;
        struct slot *prev, *next;
        ev_tstamp deadline;
        uint32_t index;
        int fd;
        /* With io_uring a slot keeps its socket while connects are refused. */
        int family;
        bool bound;
        bool queued;    /* in the timeout queue */
        bool cancelled; /* timed out; waiting for the cancellation */
        struct sockaddr_storage dest;
        socklen_t dest_len;
};

struct scan {
        struct ev_loop *loop;
        const struct scan_connect_ops *ops;
        const struct target *targets;
        size_t ntargets;
        const uint16_t *ports;
        size_t nports;
        struct scan_options options;
        uint8_t *states;
        uint32_t total;
        uint32_t cursor; /* next never-tried index */
        uint32_t done;
        /* Ports to try again (timed out, or put back under back-pressure). */
        uint32_t *retry;
        unsigned retry_head, retry_count;
        struct slot *slots, *free_slots;
        unsigned nslots, limit, inflight;
        /* In-flight slots, oldest first: with one timeout for all, the head expires first. */
        struct slot *oldest, *newest;
        bool stalled;
        ev_timer timer;
        /* --max-rate: when the next attempt may start, and the timer that waits for it. */
        ev_tstamp next_start;
        ev_timer rate_timer;
        ev_idle idle;
        /* Without io_uring: a refused socket kept to connect again (IPv4, IPv6). */
        int spare[2];
        /* With io_uring: the ring, its eventfd watcher, whether entries wait for submission. */
        struct uring *ring;
        ev_io ring_watcher;
        bool ring_queued;
        int error;
};

/* scan_connect.c: called by scan.c; calls only s->ops. */
/* Set up a slot's watcher for the plain connect() engine. */
void scan__init_slot(struct slot *slot);
/* Without io_uring: connect now; the attempt ends at once or takes a slot. */
void scan__launch(struct scan *s, uint32_t index);
/* With io_uring: queue the connect; it is submitted with the rest of the batch. */
void scan__launch_ring(struct scan *s, uint32_t index);
/* Submit the queued io_uring entries. */
void scan__submit(struct scan *s);
/* Report the io_uring completions waiting. */
void scan__reap(struct scan *s);
/* Use io_uring unless told not to or unavailable. */
void scan__setup_ring(struct scan *s);

#endif
