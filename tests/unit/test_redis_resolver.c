#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "redis_resolver.h"

/*
 * The Redis host name lookup off the loop. Only a name the hosts file
 * answers (localhost), so that no test sends a query to the machine's DNS
 * server; failures and a silent server are the integration test's
 * (integration.chat_redis_resolver, in a network namespace).
 */

struct outcome {
        int calls;
        int status;
        char address[REDIS_RESOLVER_ADDRESS_MAX];
        char reason[128];
};

static void record(void *data, int status, const char *address, const char *reason)
{
        struct outcome *outcome = data;

        outcome->calls++;
        outcome->status = status;
        snprintf(outcome->address, sizeof(outcome->address), "%s", address ? address : "");
        snprintf(outcome->reason, sizeof(outcome->reason), "%s", reason ? reason : "");
}

/* Run the loop until done has run; the lookup's thread wakes it. */
static void run_until_done(struct ev_loop *loop, const struct outcome *outcome)
{
        while (outcome->calls == 0)
                ev_run(loop, EVRUN_ONCE);
}

static void numeric_addresses_need_no_lookup(void **state)
{
        (void)state;
        assert_true(redis_resolver_is_numeric("127.0.0.1"));
        assert_true(redis_resolver_is_numeric("::1"));
        assert_true(redis_resolver_is_numeric("2001:db8::7"));
        assert_false(redis_resolver_is_numeric("localhost"));
        assert_false(redis_resolver_is_numeric("redis.example"));
        assert_false(redis_resolver_is_numeric(""));
}

static void a_known_name_gives_its_address_on_a_later_loop_turn(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct outcome outcome = {0};
        struct redis_resolver *resolver = redis_resolver_new(loop, record, &outcome);

        (void)state;
        assert_non_null(resolver);
        assert_int_equal(redis_resolver_start(resolver, "localhost"), 0);
        assert_true(redis_resolver_busy(resolver));
        /* One lookup at a time. */
        assert_int_equal(redis_resolver_start(resolver, "localhost"), -EBUSY);
        assert_int_equal(outcome.calls, 0);
        run_until_done(loop, &outcome);
        assert_int_equal(outcome.calls, 1);
        assert_int_equal(outcome.status, 0);
        assert_true(redis_resolver_is_numeric(outcome.address));
        assert_false(redis_resolver_busy(resolver));
        /* Again, as at each reconnect. */
        outcome.calls = 0;
        assert_int_equal(redis_resolver_start(resolver, "localhost"), 0);
        run_until_done(loop, &outcome);
        assert_int_equal(outcome.status, 0);
        redis_resolver_free(resolver);
        ev_loop_destroy(loop);
}

static void freeing_while_a_lookup_is_out_abandons_it(void **state)
{
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
        struct outcome outcome = {0};
        struct redis_resolver *resolver = redis_resolver_new(loop, record, &outcome);
        char name[REDIS_RESOLVER_ADDRESS_MAX + 300];

        (void)state;
        memset(name, 'x', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        assert_int_equal(redis_resolver_start(resolver, name), -ENAMETOOLONG);
        assert_int_equal(redis_resolver_start(resolver, "localhost"), 0);
        redis_resolver_free(resolver);
        /* Its done never runs; the loop has nothing of it left (ASan sees the thread's free). */
        ev_run(loop, EVRUN_NOWAIT);
        assert_int_equal(outcome.calls, 0);
        ev_loop_destroy(loop);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(numeric_addresses_need_no_lookup),
            cmocka_unit_test(a_known_name_gives_its_address_on_a_later_loop_turn),
            cmocka_unit_test(freeing_while_a_lookup_is_out_abandons_it),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
