#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "ratelimit.h"

static struct sockaddr_storage v4(const char *host)
{
        struct sockaddr_storage storage;
        struct sockaddr_in *in = (struct sockaddr_in *)&storage;

        memset(&storage, 0, sizeof(storage));
        in->sin_family = AF_INET;
        in->sin_port = htons(40000);
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                fail_msg("bad IPv4 test address '%s'", host);
        return storage;
}

static struct sockaddr_storage v6(const char *host)
{
        struct sockaddr_storage storage;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&storage;

        memset(&storage, 0, sizeof(storage));
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(40000);
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                fail_msg("bad IPv6 test address '%s'", host);
        return storage;
}

static bool allow(struct ratelimit *limit, const struct sockaddr_storage *src, double now)
{
        return ratelimit_allow(limit, (const struct sockaddr *)src, now);
}

/* How many datagrams src may send at the instant now before the first refusal. */
static unsigned allowed_at(struct ratelimit *limit, const struct sockaddr_storage *src, double now)
{
        unsigned n = 0;

        while (n < 100000 && allow(limit, src, now))
                n++;
        return n;
}

static void burst_passes_then_refused_at_same_instant(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 10, 5), 0);
        for (int i = 0; i < 5; i++)
                assert_true(allow(&limit, &src, 100));
        assert_false(allow(&limit, &src, 100));
        assert_false(allow(&limit, &src, 100));
        ratelimit_fini(&limit);
        assert_null(limit.entries);
}

static void tokens_refill_at_rate_per_second(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 2, 4), 0);
        assert_int_equal(allowed_at(&limit, &src, 10), 4);
        /* Half a second at 2 per second earns one token. */
        assert_int_equal(allowed_at(&limit, &src, 10.5), 1);
        /* A quarter second earns half a token: not enough. */
        assert_false(allow(&limit, &src, 10.75));
        /* The half token is kept: another quarter second completes it. */
        assert_true(allow(&limit, &src, 11));
        assert_int_equal(allowed_at(&limit, &src, 12), 2);
        ratelimit_fini(&limit);
}

static void refill_never_exceeds_burst(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 100, 3), 0);
        assert_int_equal(allowed_at(&limit, &src, 1), 3);
        assert_int_equal(allowed_at(&limit, &src, 1000), 3);
        ratelimit_fini(&limit);
}

static void rate_zero_disables_the_limit(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 0, 1), 0);
        for (int i = 0; i < 1000; i++)
                assert_true(allow(&limit, &src, 5));
        ratelimit_fini(&limit);
}

static void configure_rate_zero_turns_limit_off_and_back_on(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 2), 0);
        assert_int_equal(allowed_at(&limit, &src, 5), 2);
        ratelimit_configure(&limit, 0, 2);
        for (int i = 0; i < 100; i++)
                assert_true(allow(&limit, &src, 5));
        ratelimit_configure(&limit, 1, 2);
        assert_false(allow(&limit, &src, 5));
        ratelimit_fini(&limit);
}

static void sources_have_independent_buckets(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage a = v4("192.0.2.1");
        struct sockaddr_storage b = v4("192.0.2.2");
        struct sockaddr_storage c = v6("2001:db8::1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 3), 0);
        assert_int_equal(allowed_at(&limit, &a, 1), 3);
        assert_int_equal(allowed_at(&limit, &b, 1), 3);
        assert_int_equal(allowed_at(&limit, &c, 1), 3);
        assert_false(allow(&limit, &a, 1));
        ratelimit_fini(&limit);
}

static void ipv6_sources_in_one_slash64_share_a_bucket(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage a = v6("2001:db8:1:2::1");
        struct sockaddr_storage b = v6("2001:db8:1:2:ffff:eeee:dddd:cccc");
        struct sockaddr_storage other = v6("2001:db8:1:3::1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 4), 0);
        assert_int_equal(allowed_at(&limit, &a, 1), 4);
        assert_false(allow(&limit, &b, 1));
        assert_int_equal(allowed_at(&limit, &other, 1), 4);
        ratelimit_fini(&limit);
}

static void mapped_ipv4_shares_bucket_with_plain_ipv4(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage plain = v4("192.0.2.1");
        struct sockaddr_storage mapped = v6("::ffff:192.0.2.1");
        struct sockaddr_storage neighbour = v6("::ffff:192.0.2.2");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 4), 0);
        assert_int_equal(allowed_at(&limit, &plain, 1), 4);
        assert_false(allow(&limit, &mapped, 1));
        /* Mapped addresses are keyed by their IPv4 address, not by the /64. */
        assert_int_equal(allowed_at(&limit, &neighbour, 1), 4);
        ratelimit_fini(&limit);
}

static void clock_stepping_back_adds_no_tokens(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 2), 0);
        assert_int_equal(allowed_at(&limit, &src, 100), 2);
        assert_false(allow(&limit, &src, 50));
        /* Back at the old time: the step back must not count as time passed. */
        assert_false(allow(&limit, &src, 100));
        assert_false(allow(&limit, &src, 100.5));
        assert_true(allow(&limit, &src, 101));
        assert_false(allow(&limit, &src, 101));
        ratelimit_fini(&limit);
}

static void source_first_seen_at_time_zero_keeps_its_bucket(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 1), 0);
        assert_true(allow(&limit, &src, 0));
        assert_false(allow(&limit, &src, 0));
        ratelimit_fini(&limit);
}

static void full_set_evicts_least_recently_seen_source(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src[RATELIMIT_WAYS + 1];
        char host[32];

        (void)state;
        /* Room for RATELIMIT_WAYS sources is one set: every source lands in it. */
        assert_int_equal(ratelimit_init(&limit, RATELIMIT_WAYS, 0.001, 1), 0);
        assert_int_equal(limit.sets, 1);
        for (int i = 0; i <= RATELIMIT_WAYS; i++) {
                snprintf(host, sizeof(host), "192.0.2.%d", i + 1);
                src[i] = v4(host);
        }
        for (int i = 0; i < RATELIMIT_WAYS; i++)
                assert_true(allow(&limit, &src[i], 10 + i));
        /* Source 0 is seen again (and refused), so source 1 is now the oldest. */
        assert_false(allow(&limit, &src[0], 20));
        assert_true(allow(&limit, &src[RATELIMIT_WAYS], 21));
        /* The others were kept, their buckets still empty. */
        for (int i = 0; i <= RATELIMIT_WAYS; i++) {
                if (i != 1 && allow(&limit, &src[i], 22))
                        fail_msg("source %d was evicted instead of the oldest", i);
        }
        /* Source 1 was forgotten and starts over with a full bucket. */
        assert_true(allow(&limit, &src[1], 23));
        ratelimit_fini(&limit);
}

/* Room for RATELIMIT_WAYS sources: one set, so every source competes for it. */
static void init_one_set(struct ratelimit *limit, double rate, double burst)
{
        assert_int_equal(ratelimit_init(limit, RATELIMIT_WAYS, rate, burst), 0);
        assert_int_equal(limit->sets, 1);
}

static void churn_does_not_give_a_drained_source_a_new_burst(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage victim = v4("192.0.2.1"), other;
        char host[32];

        (void)state;
        init_one_set(&limit, 1, 200);
        assert_int_equal(allowed_at(&limit, &victim, 10), 200);
        /* Fresh sources, one datagram each, push the victim out of its set. */
        for (int i = 0; i < 4 * RATELIMIT_WAYS; i++) {
                snprintf(host, sizeof(host), "198.51.100.%d", i + 1);
                other = v4(host);
                assert_true(allow(&limit, &other, 10.5));
        }
        /* Back within a second: one token, not a fresh burst of 200. */
        assert_int_equal(allowed_at(&limit, &victim, 10.75), 1);
        ratelimit_fini(&limit);
}

static void newcomer_gets_full_burst_when_the_table_is_not_churning(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src[RATELIMIT_WAYS + 1];
        char host[32];

        (void)state;
        init_one_set(&limit, 1, 5);
        for (int i = 0; i <= RATELIMIT_WAYS; i++) {
                snprintf(host, sizeof(host), "192.0.2.%d", i + 1);
                src[i] = v4(host);
        }
        /* A free slot: a full burst. */
        assert_int_equal(allowed_at(&limit, &src[0], 10), 5);
        for (int i = 1; i < RATELIMIT_WAYS; i++)
                assert_true(allow(&limit, &src[i], 10));
        /* The oldest entry was idle long enough to have refilled: no churn, a full burst. */
        assert_int_equal(allowed_at(&limit, &src[RATELIMIT_WAYS], 15), 5);
        ratelimit_fini(&limit);
}

static void global_budget_bounds_replies_whatever_the_number_of_sources(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src;
        char host[32];
        unsigned passed = 0;

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 8192, 100, 200), 0);
        ratelimit_configure_global(&limit, 50);
        for (int i = 0; i < 1000; i++) {
                snprintf(host, sizeof(host), "10.0.%d.%d", i / 250, i % 250 + 1);
                src = v4(host);
                if (allow(&limit, &src, 10))
                        passed++;
        }
        assert_int_equal(passed, 50);
        assert_int_equal(ratelimit_check(&limit, (struct sockaddr *)&src, 10), RATELIMIT_GLOBAL);
        /* One second later, one second's worth again (not more: the budget is capped). */
        src = v4("192.0.2.9");
        assert_int_equal(allowed_at(&limit, &src, 100), 50);
        /* 0 turns it off. */
        ratelimit_configure_global(&limit, 0);
        assert_int_equal(allowed_at(&limit, &src, 100), 150);
        ratelimit_fini(&limit);
}

static void global_refusal_takes_nothing_from_the_source(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1"), other = v4("192.0.2.2");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 3), 0);
        ratelimit_configure_global(&limit, 1);
        assert_true(allow(&limit, &other, 10));
        assert_int_equal(ratelimit_check(&limit, (struct sockaddr *)&src, 10), RATELIMIT_GLOBAL);
        ratelimit_configure_global(&limit, 0);
        assert_int_equal(allowed_at(&limit, &src, 10), 3);
        ratelimit_fini(&limit);
}

static void each_table_has_its_own_secret_key(void **state)
{
        struct ratelimit a, b;
        static const unsigned char zero[sizeof(a.hash_key)];

        (void)state;
        assert_int_equal(ratelimit_init(&a, 64, 1, 1), 0);
        assert_int_equal(ratelimit_init(&b, 64, 1, 1), 0);
        assert_memory_not_equal(a.hash_key, zero, sizeof(zero));
        assert_memory_not_equal(a.hash_key, b.hash_key, sizeof(a.hash_key));
        ratelimit_fini(&a);
        ratelimit_fini(&b);
}

static void configure_caps_existing_tokens_at_new_burst(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 10), 0);
        assert_true(allow(&limit, &src, 10));
        ratelimit_configure(&limit, 1, 2);
        assert_int_equal(allowed_at(&limit, &src, 10), 2);
        ratelimit_fini(&limit);
}

static void configure_larger_burst_adds_no_tokens_at_once(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 2), 0);
        assert_int_equal(allowed_at(&limit, &src, 10), 2);
        ratelimit_configure(&limit, 1, 10);
        assert_false(allow(&limit, &src, 10));
        assert_int_equal(allowed_at(&limit, &src, 30), 10);
        ratelimit_fini(&limit);
}

static void burst_below_one_is_raised_to_one(void **state)
{
        struct ratelimit limit;
        struct sockaddr_storage src = v4("192.0.2.1");

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 64, 1, 0), 0);
        assert_int_equal(allowed_at(&limit, &src, 1), 1);
        ratelimit_configure(&limit, 1, 0.25);
        assert_int_equal(allowed_at(&limit, &src, 100), 1);
        ratelimit_fini(&limit);
}

static void table_holds_at_least_the_requested_sources(void **state)
{
        struct ratelimit limit;

        (void)state;
        assert_int_equal(ratelimit_init(&limit, 1000, 1, 1), 0);
        assert_true(limit.sets * RATELIMIT_WAYS >= 1000);
        /* A power of two, so the hash can be masked. */
        assert_int_equal(limit.sets & (limit.sets - 1), 0);
        ratelimit_fini(&limit);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(burst_passes_then_refused_at_same_instant),
            cmocka_unit_test(tokens_refill_at_rate_per_second),
            cmocka_unit_test(refill_never_exceeds_burst),
            cmocka_unit_test(rate_zero_disables_the_limit),
            cmocka_unit_test(configure_rate_zero_turns_limit_off_and_back_on),
            cmocka_unit_test(sources_have_independent_buckets),
            cmocka_unit_test(ipv6_sources_in_one_slash64_share_a_bucket),
            cmocka_unit_test(mapped_ipv4_shares_bucket_with_plain_ipv4),
            cmocka_unit_test(clock_stepping_back_adds_no_tokens),
            cmocka_unit_test(source_first_seen_at_time_zero_keeps_its_bucket),
            cmocka_unit_test(full_set_evicts_least_recently_seen_source),
            cmocka_unit_test(configure_caps_existing_tokens_at_new_burst),
            cmocka_unit_test(configure_larger_burst_adds_no_tokens_at_once),
            cmocka_unit_test(burst_below_one_is_raised_to_one),
            cmocka_unit_test(table_holds_at_least_the_requested_sources),
            cmocka_unit_test(churn_does_not_give_a_drained_source_a_new_burst),
            cmocka_unit_test(newcomer_gets_full_burst_when_the_table_is_not_churning),
            cmocka_unit_test(global_budget_bounds_replies_whatever_the_number_of_sources),
            cmocka_unit_test(global_refusal_takes_nothing_from_the_source),
            cmocka_unit_test(each_table_has_its_own_secret_key),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
