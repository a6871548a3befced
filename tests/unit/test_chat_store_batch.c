#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The messages of one loop iteration in one SQLite transaction
 * (store_batch.h), with a real chat.db and a real libev loop: nothing is
 * relayed or answered before its transaction commits, nothing queued is
 * lost (also what a done function posts, and what is queued at stop), and
 * the history holds every message once, in order.
 */

#include "bus.h"
#include "store_batch.h"
#include "store_sqlite.h"

#define MESSAGES 300 /* more than one round of the loop's writes, fewer than STORE_BATCH_MAX */

struct fixture {
        char directory[64];
        struct ev_loop *loop;
        struct store store;
        struct bus bus;
        unsigned delivered, answered, failed;
        uint64_t last_id;
        bool ids_in_order;
        unsigned repost; /* done functions that post once more */
};


static void deliver(void *context, const struct bus_message *message)
{
        struct fixture *f = context;

        f->delivered++;
        if (message->id <= f->last_id)
                f->ids_in_order = false;
        f->last_id = message->id;
}

static void post(struct fixture *f, const char *text, store_done_fn done);

static void answered(void *context, const struct store_reply *reply)
{
        struct fixture *f = context;

        if (reply->status < 0) {
                f->failed++;
                return;
        }
        /* Relayed before its sender hears: the delivery came first. */
        assert_true(f->delivered > f->answered);
        f->answered++;
        if (f->repost > 0) {
                f->repost--;
                post(f, "posted from a done function", answered);
        }
}

static void post(struct fixture *f, const char *text, store_done_fn done)
{
        struct bus_message message = {
            .kind = BUS_MESSAGE,
            .time_ms = 1700000000000ull,
            .sender = 1,
            .name = "alice",
            .text = text,
            .text_length = strlen(text),
        };

        store_post_async(&f->store, &f->bus, &message, done, f);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct store_sqlite_options options = {0};

        assert_non_null(f);
        strcpy(f->directory, "/tmp/test_chat_store_batch.XXXXXX");
        assert_non_null(mkdtemp(f->directory));
        options.directory = f->directory;
        assert_int_equal(store_sqlite_open(&f->store, &options), 0);
        assert_int_equal(bus_local_open(&f->bus), 0);
        assert_int_equal(bus_subscribe(&f->bus, deliver, f), 0);
        f->loop = ev_loop_new(EVFLAG_AUTO);
        assert_non_null(f->loop);
        assert_int_equal(store_batch_start(&f->store, &f->bus, f->loop), 0);
        f->ids_in_order = true;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char command[128];

        store_batch_stop(&f->store);
        bus_fini(&f->bus);
        store_fini(&f->store);
        ev_loop_destroy(f->loop);
        snprintf(command, sizeof(command), "rm -rf '%s'", f->directory);
        assert_int_equal(system(command), 0);
        free(f);
        return 0;
}

static int count_message(void *context, const struct store_message *message)
{
        unsigned *count = context;

        (void)message;
        (*count)++;
        return 0;
}

static unsigned history_count(struct fixture *f)
{
        unsigned count = 0;

        assert_true(store_history_last(&f->store, 100000, count_message, &count) >= 0);
        return count;
}

/* Queued posts wait for the loop's prepare; then all are stored, relayed and answered. */
static void test_one_iteration_one_transaction(void **state)
{
        struct fixture *f = *state;
        char text[32];

        for (unsigned i = 0; i < MESSAGES; i++) {
                snprintf(text, sizeof(text), "message %u", i);
                post(f, text, answered);
        }
        /* Nothing yet: not stored, not relayed, not answered. */
        assert_int_equal(f->answered, 0);
        assert_int_equal(f->delivered, 0);
        assert_int_equal(history_count(f), 0);
        /* One iteration that does not block (the prepare watcher runs before the poll). */
        ev_run(f->loop, EVRUN_NOWAIT);
        assert_int_equal(f->answered, MESSAGES);
        assert_int_equal(f->delivered, MESSAGES);
        assert_int_equal(f->failed, 0);
        assert_true(f->ids_in_order);
        assert_int_equal(history_count(f), MESSAGES);
}

/* What a done function posts goes out in the same prepare, not at the next event. */
static void test_posts_from_done_functions_are_not_left_waiting(void **state)
{
        struct fixture *f = *state;

        f->repost = 5;
        post(f, "first", answered);
        ev_run(f->loop, EVRUN_NOWAIT);
        assert_int_equal(f->answered, 6);
        assert_int_equal(history_count(f), 6);
}

/* A stop (shutdown) and a flush (hand-over) store what is queued. */
static void test_stop_and_flush_store_what_is_queued(void **state)
{
        struct fixture *f = *state;

        post(f, "before a hand-over", answered);
        store_batch_flush(&f->store);
        assert_int_equal(f->answered, 1);
        post(f, "before a shutdown", answered);
        store_batch_stop(&f->store);
        assert_int_equal(f->answered, 2);
        assert_int_equal(history_count(f), 2);
        /* Stopped: a post is its own transaction again, answered at once. */
        post(f, "unbatched", answered);
        assert_int_equal(f->answered, 3);
}

/* A bad message is left out of its transaction; the others are stored. */
static void test_a_bad_message_fails_alone(void **state)
{
        struct fixture *f = *state;
        struct bus_message bad = {
            .kind = BUS_MESSAGE, .time_ms = 1, .sender = 1, .name = "no spaces", .text = "x",
            .text_length = 1};

        post(f, "good 1", answered);
        store_post_async(&f->store, &f->bus, &bad, answered, f);
        post(f, "good 2", answered);
        ev_run(f->loop, EVRUN_NOWAIT);
        assert_int_equal(f->answered, 2);
        assert_int_equal(f->failed, 1);
        assert_int_equal(history_count(f), 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_one_iteration_one_transaction, setup, teardown),
            cmocka_unit_test_setup_teardown(test_posts_from_done_functions_are_not_left_waiting,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_stop_and_flush_store_what_is_queued, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_a_bad_message_fails_alone, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
