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
 * table is 4-way set associative, indexed with a keyed hash (SipHash,
 * libsodium's crypto_shorthash, with a per-process secret key) so senders
 * cannot aim at one set; when a set is full the source seen least recently
 * gives way.
 *
 * Churn must not reset a bucket: a newcomer starts with a full burst only if
 * the entry it replaces had been idle long enough to have refilled (or the
 * slot was free). If it replaces a source seen more recently, the table is
 * under churn and the newcomer starts with one token, so flooding the table
 * from many addresses to evict a drained source gains nothing.
 *
 * A global budget (replies per second, a burst of one second's worth) bounds
 * the total whatever the number of sources.
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
        size_t sets;                /* a power of two */
        unsigned char hash_key[16]; /* crypto_shorthash_KEYBYTES */
        double rate;                /* tokens per second */
        double burst;               /* bucket size */
        double global_rate;         /* replies per second in all; 0 = no global limit */
        double global_tokens;       /* at most global_rate (one second's worth) */
        double global_last;         /* when global_tokens was last refilled; 0 = never */
};

enum ratelimit_verdict {
        RATELIMIT_PASS = 0,
        RATELIMIT_SOURCE, /* the source's own bucket is empty */
        RATELIMIT_GLOBAL, /* the global budget is spent */
};

/*
 * Allocate a table of at least `sources` entries, with no global limit.
 * Initialises libsodium for the hash key. Returns 0 or -errno.
 */
int ratelimit_init(struct ratelimit *limit, size_t sources, double rate, double burst);

/* Change the rate and burst; existing buckets keep their tokens (capped). */
void ratelimit_configure(struct ratelimit *limit, double rate, double burst);

/* Set the global budget in replies per second (0: none); it starts full. */
void ratelimit_configure_global(struct ratelimit *limit, double global_rate);

/* Free the table. */
void ratelimit_fini(struct ratelimit *limit);

/*
 * Take one token for src, and one from the global budget, at time now
 * (seconds). Returns RATELIMIT_PASS if the datagram may be answered, else
 * which limit refused it (and nothing is taken).
 */
enum ratelimit_verdict ratelimit_check(struct ratelimit *limit, const struct sockaddr *src,
                                       double now);

/* ratelimit_check() == RATELIMIT_PASS. */
bool ratelimit_allow(struct ratelimit *limit, const struct sockaddr *src, double now);

#endif
