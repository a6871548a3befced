#ifndef ECHOD_CHAT_REDIS_RESOLVER_H
#define ECHOD_CHAT_REDIS_RESOLVER_H

#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>

/*
 * Resolving the Redis host name off the loop: getaddrinfo() may wait on a
 * DNS server for many seconds, and the loop serves echo and the chat. Each
 * lookup runs on a thread of its own, which hands its answer to the loop
 * through an ev_async watcher; one lookup at a time. A lookup still
 * running when the resolver is freed is abandoned, not waited for: its
 * thread frees what it holds when getaddrinfo() returns, so freeing never
 * blocks either (the worker pool, workers.c, would wait for it).
 *
 * Called by: redis_backend.c; calls: libc and libev only.
 */

#define REDIS_RESOLVER_ADDRESS_MAX INET6_ADDRSTRLEN

/*
 * A lookup's end, on the loop: status 0 with address the first address as
 * numeric text, or a negative status with reason (getaddrinfo's words).
 */
typedef void (*redis_resolver_done_fn)(void *data, int status, const char *address,
                                       const char *reason);

struct redis_resolver;

/* Make a resolver on loop. Returns NULL without memory. */
struct redis_resolver *redis_resolver_new(struct ev_loop *loop, redis_resolver_done_fn done,
                                          void *data);

/*
 * Look host up (TCP, IPv4 or IPv6). done runs once, on a later loop turn.
 * Returns 0, -EBUSY while a lookup is out, -ENAMETOOLONG, or -errno when
 * no thread can start.
 */
int redis_resolver_start(struct redis_resolver *resolver, const char *host);

/* True while a lookup is out. */
bool redis_resolver_busy(const struct redis_resolver *resolver);

/* Free the resolver; a lookup still out is abandoned and its done never runs. */
void redis_resolver_free(struct redis_resolver *resolver);

/* True when host is an IPv4 or IPv6 address already, with nothing to look up. */
bool redis_resolver_is_numeric(const char *host);

#endif
