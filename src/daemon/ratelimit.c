#include "ratelimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

int ratelimit_init(struct ratelimit *limit, size_t sources, double rate, double burst)
{
        size_t sets = 1;

        /* Safe to call more than once (the chat calls it too); needed for randombytes. */
        if (sodium_init() < 0)
                return -EIO;
        while (sets * RATELIMIT_WAYS < sources)
                sets <<= 1;
        limit->entries = calloc(sets * RATELIMIT_WAYS, sizeof(*limit->entries));
        if (!limit->entries)
                return -ENOMEM;
        limit->sets = sets;
        /* A secret key stops a sender from choosing addresses that collide. */
        randombytes_buf(limit->hash_key, sizeof(limit->hash_key));
        ratelimit_configure(limit, rate, burst);
        ratelimit_configure_global(limit, 0);
        return 0;
}

void ratelimit_configure_global(struct ratelimit *limit, double global_rate)
{
        limit->global_rate = global_rate > 0 ? global_rate : 0;
        if (limit->global_tokens > limit->global_rate || limit->global_last == 0)
                limit->global_tokens = limit->global_rate;
}

void ratelimit_configure(struct ratelimit *limit, double rate, double burst)
{
        limit->rate = rate;
        limit->burst = burst < 1 ? 1 : burst;
}

void ratelimit_fini(struct ratelimit *limit)
{
        free(limit->entries);
        limit->entries = NULL;
}

static void source_key(const struct sockaddr *src, uint64_t *high, uint64_t *low)
{
        *high = 0;
        *low = 0;
        if (src->sa_family == AF_INET) {
                *low = ((const struct sockaddr_in *)src)->sin_addr.s_addr;
        } else if (src->sa_family == AF_INET6) {
                const struct in6_addr *a6 = &((const struct sockaddr_in6 *)src)->sin6_addr;

                if (IN6_IS_ADDR_V4MAPPED(a6)) {
                        uint32_t v4;
                        memcpy(&v4, &a6->s6_addr[12], sizeof(v4));
                        *low = v4;
                } else {
                        memcpy(high, &a6->s6_addr[0], sizeof(*high));
                        *low = 1ull << 32; /* the /64 alone, apart from every IPv4 key */
                }
        }
}

/* SipHash-2-4 of the key under the secret key. */
static uint64_t keyed_hash(const struct ratelimit *limit, uint64_t high, uint64_t low)
{
        unsigned char in[16], out[crypto_shorthash_BYTES];
        uint64_t hash;

        memcpy(in, &high, sizeof(high));
        memcpy(in + 8, &low, sizeof(low));
        crypto_shorthash(out, in, sizeof(in), limit->hash_key);
        memcpy(&hash, out, sizeof(hash));
        return hash;
}

/* Refill the global budget and say whether one reply is left in it. */
static bool global_has_token(struct ratelimit *limit, double now)
{
        if (limit->global_rate <= 0)
                return true;
        if (now > limit->global_last) {
                if (limit->global_last > 0)
                        limit->global_tokens += (now - limit->global_last) * limit->global_rate;
                if (limit->global_tokens > limit->global_rate)
                        limit->global_tokens = limit->global_rate;
                limit->global_last = now;
        }
        return limit->global_tokens >= 1;
}

/* Tokens a source new to the table starts with, in place of victim. */
static double first_tokens(const struct ratelimit *limit, const struct ratelimit_entry *victim,
                           double now)
{
        /* A free slot, or one whose bucket would have refilled anyway: no churn. */
        if (victim->last == 0 || (now - victim->last) * limit->rate >= limit->burst)
                return limit->burst;
        return 1;
}

/* The per-source bucket: may src send one more? Takes the token if so. */
static bool source_take(struct ratelimit *limit, const struct sockaddr *src, double now)
{
        struct ratelimit_entry *set, *entry = NULL, *oldest;
        uint64_t high, low;

        if (limit->rate <= 0)
                return true; /* 0 turns the limit off */
        source_key(src, &high, &low);
        set = &limit->entries[(keyed_hash(limit, high, low) & (limit->sets - 1)) * RATELIMIT_WAYS];
        oldest = &set[0];
        for (int i = 0; i < RATELIMIT_WAYS; i++) {
                if (set[i].last > 0 && set[i].key_high == high && set[i].key_low == low) {
                        entry = &set[i];
                        break;
                }
                if (set[i].last < oldest->last)
                        oldest = &set[i];
        }
        if (!entry) {
                entry = oldest;
                entry->tokens = first_tokens(limit, entry, now);
                entry->key_high = high;
                entry->key_low = low;
                /* A clock of 0 would read as a free entry; nudge it. */
                entry->last = now > 0 ? now : 1e-9;
        } else {
                /* A clock stepping back adds nothing rather than taking tokens. */
                if (now > entry->last)
                        entry->tokens += (now - entry->last) * limit->rate;
                if (entry->tokens > limit->burst)
                        entry->tokens = limit->burst;
        }
        if (now > entry->last)
                entry->last = now;
        if (entry->tokens < 1)
                return false;
        entry->tokens -= 1;
        return true;
}

enum ratelimit_verdict ratelimit_check(struct ratelimit *limit, const struct sockaddr *src,
                                       double now)
{
        /* The global budget is looked at first, so a refused source takes nothing from it. */
        if (!global_has_token(limit, now))
                return RATELIMIT_GLOBAL;
        if (!source_take(limit, src, now))
                return RATELIMIT_SOURCE;
        if (limit->global_rate > 0)
                limit->global_tokens -= 1;
        return RATELIMIT_PASS;
}

bool ratelimit_allow(struct ratelimit *limit, const struct sockaddr *src, double now)
{
        return ratelimit_check(limit, src, now) == RATELIMIT_PASS;
}
