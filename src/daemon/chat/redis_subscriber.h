#ifndef ECHOD_CHAT_REDIS_SUBSCRIBER_H
#define ECHOD_CHAT_REDIS_SUBSCRIBER_H

#include <ev.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "redis_address.h"

/*
 * The Redis backend's subscriber connection, on a socket and libev watchers
 * of its own rather than a hiredis asynchronous context. hiredis 0.14.1 in
 * subscribe mode asserts (and so aborts echod, echo and control with it) on
 * a reply whose shape it does not expect, which a proxy, a wrong port or a
 * half-upgraded server can send; here hiredis only parses (redisReader),
 * with limits, and the caller judges each reply. Calls go one way:
 * redis_backend.c and bus_redis.c call this module, which calls back only
 * through struct redis_subscriber_events.
 */

#define REDIS_SUBSCRIBER_INPUT_MAX    65536 /* bytes of one reply at most */
#define REDIS_SUBSCRIBER_OUTPUT_MAX   1024  /* bytes of commands queued at most */
#define REDIS_SUBSCRIBER_ELEMENTS_MAX 8     /* elements of one array reply at most */

/*
 * TCP keepalive, on both of the backend's loop connections: it finds a peer
 * gone while a connection is idle and keeps a NAT's mapping alive; the
 * backend's PINGs are what bound the detection.
 */
#define REDIS_TCP_KEEPALIVE_IDLE     15 /* seconds before the first probe */
#define REDIS_TCP_KEEPALIVE_INTERVAL 5  /* seconds between probes */
#define REDIS_TCP_KEEPALIVE_COUNT    3  /* probes unanswered before the kernel drops it */

struct redis_subscriber;

struct redis_subscriber_events {
        /* The connection is up. */
        void (*connected)(void *data);
        /* One whole reply, freed when the call returns. */
        void (*reply)(void *data, const redisReply *reply);
        /* The connection is gone (closed, an I/O error, a reply past the limits); the
         * subscriber frees itself when this returns: forget it. */
        void (*lost)(void *data, const char *reason);
};

/*
 * Start connecting to address (a host name is resolved here, blocking, as
 * hiredis does). Returns 0 with *out set, or -errno with why in reason.
 */
int redis_subscriber_open(struct ev_loop *loop, const struct redis_address *address,
                          const struct redis_subscriber_events *events, void *data,
                          struct redis_subscriber **out, char *reason, size_t size);

/* True once the connection is established. */
bool redis_subscriber_is_connected(const struct redis_subscriber *subscriber);

/* Queue one command. Returns 0, -ENOTCONN before the connection is up, or -ENOBUFS. */
int redis_subscriber_send(struct redis_subscriber *subscriber, int argc, const char **argv);

/* Close and free, with no callback; inside one of its callbacks the free waits for its return. */
void redis_subscriber_free(struct redis_subscriber *subscriber);

#endif
