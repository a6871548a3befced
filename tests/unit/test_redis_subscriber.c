#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "redis_subscriber.h"

/*
 * The subscriber connection against a unix socket the test listens on and
 * speaks for Redis: whole replies reach the caller one by one, whatever
 * their shape (judging them is bus_redis.c's job), and what the limits
 * refuse ends the connection with a reason, never the process.
 */

#define DEADLINE 10.0 /* seconds: an upper bound for any wait */

struct fixture {
        char directory[64];
        struct redis_address address;
        int listener, peer;
        struct ev_loop *loop;
        struct redis_subscriber *subscriber;
        bool connected;
        int replies;
        int last_type;
        size_t last_elements;
        char lost[256];
        bool free_in_reply;
};

static void on_connected(void *data)
{
        struct fixture *f = data;

        f->connected = true;
}

static void on_reply(void *data, const redisReply *reply)
{
        struct fixture *f = data;

        f->replies++;
        f->last_type = reply->type;
        f->last_elements = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
        if (f->free_in_reply) {
                redis_subscriber_free(f->subscriber);
                f->subscriber = NULL;
        }
}

static void on_lost(void *data, const char *reason)
{
        struct fixture *f = data;

        snprintf(f->lost, sizeof(f->lost), "%s", reason);
        f->subscriber = NULL;
}

static const struct redis_subscriber_events events = {on_connected, on_reply, on_lost};

static void on_deadline(struct ev_loop *loop, ev_timer *timer, int revents)
{
        (void)timer;
        (void)revents;
        ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until done(f) or the deadline; returns done(f). */
static bool run_until(struct fixture *f, bool (*done)(const struct fixture *))
{
        ev_timer deadline;

        ev_timer_init(&deadline, on_deadline, DEADLINE, 0.);
        ev_timer_start(f->loop, &deadline);
        while (!done(f) && ev_is_active(&deadline))
                ev_run(f->loop, EVRUN_ONCE);
        ev_timer_stop(f->loop, &deadline);
        return done(f);
}

static bool is_connected(const struct fixture *f)
{
        return f->connected;
}

static bool is_lost(const struct fixture *f)
{
        return f->lost[0] != '\0';
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        char reason[128];

        assert_non_null(f);
        snprintf(f->directory, sizeof(f->directory), "/tmp/echod-subscriber-XXXXXX");
        assert_non_null(mkdtemp(f->directory));
        snprintf(f->address.path, sizeof(f->address.path), "%s/redis.sock", f->directory);
        snprintf(address.sun_path, sizeof(address.sun_path), "%s", f->address.path);
        f->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->listener >= 0);
        assert_int_equal(bind(f->listener, (struct sockaddr *)&address, sizeof(address)), 0);
        assert_int_equal(listen(f->listener, 4), 0);
        f->loop = ev_loop_new(EVFLAG_AUTO);
        assert_int_equal(redis_subscriber_open(f->loop, &f->address, &events, f, &f->subscriber,
                                               reason, sizeof(reason)),
                         0);
        assert_true(run_until(f, is_connected));
        f->peer = accept(f->listener, NULL, NULL);
        assert_true(f->peer >= 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char path[128];

        redis_subscriber_free(f->subscriber);
        close(f->peer);
        close(f->listener);
        ev_loop_destroy(f->loop);
        snprintf(path, sizeof(path), "%s", f->address.path);
        unlink(path);
        rmdir(f->directory);
        free(f);
        return 0;
}

static void say(struct fixture *f, const char *bytes, size_t length)
{
        while (length) {
                ssize_t n = send(f->peer, bytes, length, MSG_NOSIGNAL);

                assert_true(n > 0);
                bytes += n;
                length -= (size_t)n;
        }
}

static bool has_two_replies(const struct fixture *f)
{
        return f->replies >= 2 || f->lost[0];
}

static void test_commands_go_out_and_whole_replies_come_back_one_by_one(void **state)
{
        struct fixture *f = *state;
        const char *subscribe[] = {"SUBSCRIBE", "echod:chat:0"};
        static const char expected[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$12\r\nechod:chat:0\r\n";
        static const char replies[] = "*3\r\n$9\r\nsubscribe\r\n$12\r\nechod:chat:0\r\n:1\r\n"
                                      "*2\r\n$4\r\npong\r\n$0\r\n\r\n";
        char got[sizeof(expected)] = "";
        size_t have = 0;

        assert_int_equal(redis_subscriber_send(f->subscriber, 2, subscribe), 0);
        while (have < sizeof(expected) - 1) {
                ssize_t n;

                ev_run(f->loop, EVRUN_NOWAIT);
                n = recv(f->peer, got + have, sizeof(expected) - 1 - have, MSG_DONTWAIT);
                if (n > 0)
                        have += (size_t)n;
        }
        assert_memory_equal(got, expected, sizeof(expected) - 1);
        /* A reply cut in two arrives once, whole. */
        say(f, replies, 10);
        ev_run(f->loop, EVRUN_NOWAIT);
        assert_int_equal(f->replies, 0);
        say(f, replies + 10, sizeof(replies) - 1 - 10);
        assert_true(run_until(f, has_two_replies));
        assert_string_equal(f->lost, "");
        assert_int_equal(f->last_type, REDIS_REPLY_ARRAY);
        assert_int_equal(f->last_elements, 2);
}

static void expect_lost(struct fixture *f, const char *bytes, size_t length, const char *reason)
{
        say(f, bytes, length);
        assert_true(run_until(f, is_lost));
        assert_null(f->subscriber);
        assert_non_null(strstr(f->lost, reason));
}

static bool has_three_replies(const struct fixture *f)
{
        return f->replies >= 3 || f->lost[0];
}

static void test_shapes_hiredis_asserts_on_reach_the_caller(void **state)
{
        struct fixture *f = *state;
        static const char odd[] = "*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n*0\r\n*2\r\n:1\r\n:2\r\n";

        say(f, odd, sizeof(odd) - 1);
        assert_true(run_until(f, has_three_replies));
        assert_int_equal(f->replies, 3);
        assert_string_equal(f->lost, "");
}

static void test_an_array_past_the_element_limit_ends_the_connection(void **state)
{
        static const char huge[] = "*100000000\r\n";

        expect_lost(*state, huge, sizeof(huge) - 1, "too many elements");
}

static void test_a_reply_past_the_length_limit_ends_the_connection(void **state)
{
        struct fixture *f = *state;
        size_t length = REDIS_SUBSCRIBER_INPUT_MAX + 4096;
        char *bulk = malloc(length);

        assert_non_null(bulk);
        memset(bulk, 'x', length);
        memcpy(bulk, "$10000000\r\n", 11);
        expect_lost(f, bulk, length, "too long");
        free(bulk);
}

static void test_bytes_that_are_not_resp_end_the_connection(void **state)
{
        static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";

        expect_lost(*state, http, sizeof(http) - 1, "Protocol error");
}

static void test_the_peer_closing_ends_the_connection(void **state)
{
        struct fixture *f = *state;

        shutdown(f->peer, SHUT_WR);
        assert_true(run_until(f, is_lost));
        assert_string_equal(f->lost, "closed by the server");
}

static bool has_reply(const struct fixture *f)
{
        return f->replies > 0;
}

static void test_freed_inside_its_reply_callback_it_reads_no_further(void **state)
{
        struct fixture *f = *state;
        static const char two[] = "+ONE\r\n+TWO\r\n";

        f->free_in_reply = true;
        say(f, two, sizeof(two) - 1);
        assert_true(run_until(f, has_reply));
        ev_run(f->loop, EVRUN_NOWAIT);
        assert_int_equal(f->replies, 1);
        assert_string_equal(f->lost, "");
}

#define SUBSCRIBER_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            SUBSCRIBER_TEST(test_commands_go_out_and_whole_replies_come_back_one_by_one),
            SUBSCRIBER_TEST(test_shapes_hiredis_asserts_on_reach_the_caller),
            SUBSCRIBER_TEST(test_an_array_past_the_element_limit_ends_the_connection),
            SUBSCRIBER_TEST(test_a_reply_past_the_length_limit_ends_the_connection),
            SUBSCRIBER_TEST(test_bytes_that_are_not_resp_end_the_connection),
            SUBSCRIBER_TEST(test_the_peer_closing_ends_the_connection),
            SUBSCRIBER_TEST(test_freed_inside_its_reply_callback_it_reads_no_further),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
