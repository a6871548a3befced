#ifndef ECHOD_RATELIMIT_H
#define ECHOD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Per-source token buckets for UDP echo. A fixed table (no allocation after
 * init) keyed by the source address: IPv4 addresses whole, IPv6 addresses by
 * their /64, since one host owns a whole /64 and could rotate within it. The
 * table is 4-way set associative with a random hash key; when a set is full
 * the source seen least recently gives way.
 */

#define RATELIMIT_WAYS 4

struct ratelimit_entry {
        uint64_t key_high;
        uint64_t key_low;
        double tokens;
        double last; /* seconds; 0 marks a free entry */
};

struct ratelimit {
        struct ratelimit_entry *entries;
        size_t sets; /* a power of two */
        uint64_t hash_key[2];
        double rate;  /* tokens per second */
        double burst; /* bucket size */
};

/* Allocate a table of at least `sources` entries. Returns 0 or -errno. */
int ratelimit_init(struct ratelimit *limit, size_t sources, double rate, double burst);

/* Change the rate and burst; existing buckets keep their tokens (capped). */
void ratelimit_configure(struct ratelimit *limit, double rate, double burst);

/* Free the table. */
void ratelimit_fini(struct ratelimit *limit);

/* Take one token for src at time now (seconds). True if the datagram may pass. */
bool ratelimit_allow(struct ratelimit *limit, const struct sockaddr *src, double now);

#endif
