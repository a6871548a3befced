#include "ratelimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int ratelimit_init(struct ratelimit *limit, size_t sources, double rate, double burst)
{
        size_t sets = 1;

        while (sets * RATELIMIT_WAYS < sources)
                sets <<= 1;
        limit->entries = calloc(sets * RATELIMIT_WAYS, sizeof(*limit->entries));
        if (!limit->entries)
                return -ENOMEM;
        limit->sets = sets;
        /* A secret key stops a sender from choosing addresses that collide. */
        if (getrandom(limit->hash_key, sizeof(limit->hash_key), GRND_NONBLOCK) !=
            sizeof(limit->hash_key)) {
                limit->hash_key[0] = (uint64_t)(uintptr_t)limit ^ 0x9e3779b97f4a7c15ull;
                limit->hash_key[1] = (uint64_t)(uintptr_t)limit->entries;
        }
        ratelimit_configure(limit, rate, burst);
        return 0;
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

/* A keyed mix of the two key halves (splitmix64 finaliser). */
static uint64_t mix(const struct ratelimit *limit, uint64_t high, uint64_t low)
{
        uint64_t x = (high ^ limit->hash_key[0]) * 0xbf58476d1ce4e5b9ull;

        x ^= (low ^ limit->hash_key[1]) + 0x9e3779b97f4a7c15ull + (x << 6) + (x >> 2);
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebull;
        x ^= x >> 31;
        return x;
}

bool ratelimit_allow(struct ratelimit *limit, const struct sockaddr *src, double now)
{
        struct ratelimit_entry *set, *entry = NULL, *oldest;
        uint64_t high, low;

        if (limit->rate <= 0)
                return true; /* 0 turns the limit off */
        source_key(src, &high, &low);
        set = &limit->entries[(mix(limit, high, low) & (limit->sets - 1)) * RATELIMIT_WAYS];
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
                entry->key_high = high;
                entry->key_low = low;
                entry->tokens = limit->burst;
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
