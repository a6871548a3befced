#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "redis_server.h"
#include "store_redis.h"
#include "store_sqlite.h"

/*
 * The store's contract (store.h), one set of tests for every backend: the
 * program takes the backend as its argument, "sqlite" (a chat.db in a temp
 * directory) or "redis" (a real redis-server each test starts on a free
 * port of its own). Calls go through the asynchronous wrappers the chat
 * uses, so that both backends are driven the same way; the few operations
 * with no asynchronous form (listing, removal, purge: the operator's) are
 * called synchronously. What only one backend does is tested in
 * test_chat_store.c (SQLite) and test_chat_store_redis.c (Redis).
 *
 * Times are near the wall clock, because Redis expires keys in real time.
 */

#define HASH_A  "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
#define HASH_B  "$argon2id$v=19$m=19456,t=3,p=1$c2FsdHNhbHRzYWx0$b3RoZXJoYXNob3RoZXJoYQ"
#define TOKEN_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define TOKEN_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define TOKEN_3 "3333333333333333333333333333333333333333333333333333333333333333"

#define HOUR_MS     (3600ull * 1000)
#define DEADLINE    30.0 /* seconds: an upper bound for any wait, never a pace */
#define HISTORY_MAX 16

enum backend { BACKEND_SQLITE, BACKEND_REDIS };

static enum backend backend;

/* One async call's outcome, copied out of its reply. */
struct result {
        int calls;
        int status;
        struct store_user user;
        struct store_session session;
        char name[CHAT_NAME_MAX + 1];
        uint64_t id;
        size_t count;
        uint64_t ids[HISTORY_MAX];
        char texts[HISTORY_MAX][CHAT_LINE_MAX + 1];
};

struct fixture {
        struct redis_server redis;
        char directory[64];
        struct ev_loop *loop;
        ev_timer tick; /* wakes the loop now and then, so that a wait can check its deadline */
        struct store store;
        struct bus bus;
        struct result r;
};

static void deliver_nowhere(void *context, const struct bus_message *message)
{
        (void)context;
        (void)message;
}

static void open_store(struct fixture *f)
{
        if (backend == BACKEND_SQLITE) {
                struct store_sqlite_options options = {f->directory, 0, 0};

                assert_int_equal(store_sqlite_open(&f->store, &options), 0);
                assert_int_equal(bus_local_open(&f->bus), 0);
        } else {
                char address[64];
                struct store_redis_options options = {.address = address};

                snprintf(address, sizeof(address), "redis://127.0.0.1:%d", f->redis.port);
                assert_int_equal(store_redis_open(&f->store, &f->bus, f->loop, &options), 0);
        }
        assert_int_equal(bus_subscribe(&f->bus, deliver_nowhere, NULL), 0);
}

static void close_store(struct fixture *f)
{
        bus_fini(&f->bus);
        store_fini(&f->store);
}

/* Run the loop until the call started last has had its reply. */
static void wait_for_reply(struct fixture *f)
{
        double deadline = test_clock_seconds() + DEADLINE;

        while (f->r.calls == 0) {
                if (test_clock_seconds() > deadline)
                        fail_msg("no reply within %.0f s", DEADLINE);
                ev_run(f->loop, EVRUN_ONCE);
        }
        assert_int_equal(f->r.calls, 1);
}

static void wait_until_available(struct fixture *f)
{
        double deadline = test_clock_seconds() + DEADLINE;

        while (!store_available(&f->store)) {
                if (test_clock_seconds() > deadline)
                        fail_msg("store not available within %.0f s", DEADLINE);
                ev_run(f->loop, EVRUN_ONCE);
        }
}

static void capture(void *context, const struct store_reply *reply)
{
        struct result *r = context;

        r->calls++;
        r->status = reply->status;
        if (reply->status < 0)
                assert_non_null(reply->error);
        r->user = reply->user;
        r->session = reply->session;
        memcpy(r->name, reply->name, sizeof(r->name));
        r->id = reply->id;
        r->count = reply->count;
        assert_true(reply->count <= HISTORY_MAX);
        for (size_t i = 0; i < reply->count; i++) {
                const struct store_message *message = &reply->messages[i];

                assert_int_equal(message->text[message->text_length], '\0');
                r->ids[i] = message->id;
                memcpy(r->texts[i], message->text, message->text_length + 1);
        }
}

/* Start an async call with capture and f->r, wait for its one reply, and give its status. */
#define AWAIT(f, call)                                                                             \
        (memset(&(f)->r, 0, sizeof((f)->r)), (call), wait_for_reply(f), (f)->r.status)
#define R capture, &f->r

static void post(struct fixture *f, const char *text, size_t length)
{
        struct bus_message message = {BUS_MESSAGE, 0, test_clock_wall_ms(), 0, "ann", text, length};

        assert_int_equal(AWAIT(f, store_post_async(&f->store, &f->bus, &message, R)), 0);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->loop = ev_loop_new(EVFLAG_AUTO);
        ev_timer_init(&f->tick, test_loop_tick, 0.01, 0.01);
        ev_timer_start(f->loop, &f->tick);
        if (backend == BACKEND_REDIS) {
                if (redis_server_prepare(&f->redis) < 0)
                        return -1;
                redis_server_start(&f->redis);
        } else {
                strcpy(f->directory, "/tmp/test_chat_store_contract.XXXXXX");
                if (!mkdtemp(f->directory))
                        return -1;
        }
        open_store(f);
        wait_until_available(f);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        close_store(f);
        ev_timer_stop(f->loop, &f->tick);
        ev_loop_destroy(f->loop);
        if (backend == BACKEND_REDIS) {
                redis_server_cleanup(&f->redis);
        } else {
                const char *files[] = {"chat.db", "chat.db-wal", "chat.db-shm"};
                char path[128];

                for (size_t i = 0; i < 3; i++) {
                        snprintf(path, sizeof(path), "%s/%s", f->directory, files[i]);
                        unlink(path);
                }
                rmdir(f->directory);
        }
        free(f);
        return 0;
}

static void user_is_created_read_updated_and_removed(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(AWAIT(f, store_user_get_async(&f->store, "Ann", R)), -ENOENT);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "Ann", HASH_A, 1000, R)), 0);
        assert_int_equal(AWAIT(f, store_user_get_async(&f->store, "Ann", R)), 0);
        assert_string_equal(f->r.user.name, "Ann");
        assert_string_equal(f->r.user.hash, HASH_A);
        assert_int_equal(f->r.user.created_ms, 1000);
        /* Any case finds the user, and the registered spelling comes back. */
        assert_int_equal(AWAIT(f, store_user_get_async(&f->store, "aNN", R)), 0);
        assert_string_equal(f->r.user.name, "Ann");
        assert_int_equal(AWAIT(f, store_user_set_hash_async(&f->store, "ann", HASH_B, R)), 0);
        assert_int_equal(AWAIT(f, store_user_get_async(&f->store, "ANN", R)), 0);
        assert_string_equal(f->r.user.hash, HASH_B);
        assert_int_equal(store_user_remove(&f->store, "ANN"), 0);
        assert_int_equal(AWAIT(f, store_user_get_async(&f->store, "Ann", R)), -ENOENT);
        assert_int_equal(store_user_remove(&f->store, "Ann"), -ENOENT);
        assert_int_equal(AWAIT(f, store_user_set_hash_async(&f->store, "Ann", HASH_A, R)), -ENOENT);
}

static void duplicate_user_is_eexist_in_any_case(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "bob", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "bob", HASH_B, 2, R)),
                         -EEXIST);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "BOB", HASH_B, 2, R)),
                         -EEXIST);
        assert_int_equal(AWAIT(f, store_user_get_async(&f->store, "bob", R)), 0);
        assert_string_equal(f->r.user.hash, HASH_A);
        /* Bad arguments end at once, before the call returns. */
        memset(&f->r, 0, sizeof(f->r));
        store_user_create_async(&f->store, "bad name", HASH_A, 1, R);
        assert_int_equal(f->r.calls, 1);
        assert_int_equal(f->r.status, -EINVAL);
}

struct listing {
        char names[8][CHAT_NAME_MAX + 1];
        int count;
        int stop_after;
};

static int collect_user(void *context, const struct store_user *user)
{
        struct listing *listing = context;

        if (listing->stop_after && listing->count == listing->stop_after)
                return -ECANCELED;
        assert_true(listing->count < 8);
        assert_string_equal(user->hash, "");
        strcpy(listing->names[listing->count++], user->name);
        return 0;
}

static void users_are_listed_by_name(void **state)
{
        struct fixture *f = *state;
        struct listing listing = {0};
        struct listing stopped = {.stop_after = 1};

        assert_int_equal(store_user_list(&f->store, collect_user, &listing), 0);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "cid", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "abe", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "Bea", HASH_A, 1, R)), 0);
        assert_int_equal(store_user_list(&f->store, collect_user, &listing), 3);
        assert_string_equal(listing.names[0], "abe");
        assert_string_equal(listing.names[1], "Bea");
        assert_string_equal(listing.names[2], "cid");
        assert_int_equal(store_user_list(&f->store, collect_user, &stopped), -ECANCELED);
        /* The store still works after a stopped listing. */
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "dee", HASH_A, 1, R)), 0);
}

static void identity_maps_an_address_to_a_user(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(AWAIT(f, store_identity_get_async(&f->store, "127.0.0.2", R)), -ENOENT);
        assert_int_equal(AWAIT(f, store_identity_set_async(&f->store, "127.0.0.2", "ann", R)),
                         -ENOENT);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "Ann", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "bob", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_identity_set_async(&f->store, "127.0.0.2", "ann", R)), 0);
        assert_int_equal(AWAIT(f, store_identity_get_async(&f->store, "127.0.0.2", R)), 0);
        assert_string_equal(f->r.name, "Ann");
        /* One name per address: the last login from it wins. */
        assert_int_equal(AWAIT(f, store_identity_set_async(&f->store, "127.0.0.2", "bob", R)), 0);
        assert_int_equal(AWAIT(f, store_identity_get_async(&f->store, "127.0.0.2", R)), 0);
        assert_string_equal(f->r.name, "bob");
        assert_int_equal(AWAIT(f, store_identity_set_async(&f->store, "::1", "ann", R)), 0);
        assert_int_equal(store_identity_forget_all(&f->store), 2);
        assert_int_equal(AWAIT(f, store_identity_get_async(&f->store, "::1", R)), -ENOENT);
}

static void removing_a_user_removes_its_identities_and_sessions(void **state)
{
        struct fixture *f = *state;
        uint64_t now = test_clock_wall_ms();

        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "ann", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "bob", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_identity_set_async(&f->store, "127.0.0.2", "ann", R)), 0);
        assert_int_equal(AWAIT(f, store_identity_set_async(&f->store, "127.0.0.3", "bob", R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_create_async(&f->store, TOKEN_1, "ann", now, now + HOUR_MS, R)),
            0);
        post(f, "kept", 4);
        assert_int_equal(store_user_remove(&f->store, "ann"), 0);
        assert_int_equal(AWAIT(f, store_identity_get_async(&f->store, "127.0.0.2", R)), -ENOENT);
        assert_int_equal(AWAIT(f, store_identity_get_async(&f->store, "127.0.0.3", R)), 0);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now, 0, R)),
                         -ENOENT);
        /* Its messages stay in the history. */
        assert_int_equal(AWAIT(f, store_history_last_async(&f->store, 5, R)), 1);
        assert_string_equal(f->r.texts[0], "kept");
        /* A new user of the same name does not inherit them. */
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "ann", HASH_B, 2, R)), 0);
        assert_int_equal(AWAIT(f, store_identity_get_async(&f->store, "127.0.0.2", R)), -ENOENT);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now, 0, R)),
                         -ENOENT);
}

static void session_is_found_until_its_absolute_expiry(void **state)
{
        struct fixture *f = *state;
        uint64_t now = test_clock_wall_ms(), expires = now + HOUR_MS;

        assert_int_equal(
            AWAIT(f, store_session_create_async(&f->store, TOKEN_1, "ann", now, expires, R)),
            -ENOENT);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "Ann", HASH_A, 1, R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_create_async(&f->store, TOKEN_1, "ann", now, expires, R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_create_async(&f->store, TOKEN_1, "ann", now, expires, R)),
            -EEXIST);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now + 1000, 0, R)),
                         0);
        assert_string_equal(f->r.session.name, "Ann");
        assert_int_equal(f->r.session.created_ms, now);
        assert_int_equal(f->r.session.expires_ms, expires);
        assert_int_equal(f->r.session.last_used_ms, now);
        assert_false(f->r.session.expired);
        assert_int_equal(
            AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, expires - 1, 0, R)), 0);
        assert_false(f->r.session.expired);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, expires, 0, R)),
                         0);
        assert_true(f->r.session.expired);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_2, now, 0, R)),
                         -ENOENT);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, "short", now, 0, R)),
                         -ENOENT);
}

/*
 * The one contract where the backends used to differ: a token whose
 * absolute lifetime has really passed (on the wall clock, so Redis's own
 * expiry has had its chance) is "expired", not "unknown".
 */
static void session_past_its_lifetime_is_expired_not_unknown(void **state)
{
        struct fixture *f = *state;
        uint64_t now = test_clock_wall_ms();

        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "ann", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_session_create_async(&f->store, TOKEN_1, "ann",
                                                             now - 2 * HOUR_MS, now - 1000, R)),
                         0);
        assert_int_equal(
            AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, test_clock_wall_ms(), 0, R)),
            0);
        assert_true(f->r.session.expired);
        assert_string_equal(f->r.session.name, "ann");
        assert_int_equal(f->r.session.expires_ms, now - 1000);
        /* Revoking it still works, and then it is unknown. */
        assert_int_equal(AWAIT(f, store_session_revoke_async(&f->store, TOKEN_1, R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, test_clock_wall_ms(), 0, R)),
            -ENOENT);
}

static void idle_session_expires_and_touch_keeps_it_alive(void **state)
{
        struct fixture *f = *state;
        const uint64_t idle = 10 * 60 * 1000;
        uint64_t now = test_clock_wall_ms();

        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "ann", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_session_create_async(&f->store, TOKEN_1, "ann", now,
                                                             now + 24 * HOUR_MS, R)),
                         0);
        assert_int_equal(
            AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now + idle - 1, idle, R)), 0);
        assert_false(f->r.session.expired);
        assert_int_equal(
            AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now + idle, idle, R)), 0);
        assert_true(f->r.session.expired);
        assert_int_equal(AWAIT(f, store_session_touch_async(&f->store, TOKEN_1, now + idle - 1, R)),
                         0);
        assert_int_equal(
            AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now + idle, idle, R)), 0);
        assert_false(f->r.session.expired);
        assert_int_equal(f->r.session.last_used_ms, now + idle - 1);
        /* A clock stepping back does not move last use back. */
        assert_int_equal(AWAIT(f, store_session_touch_async(&f->store, TOKEN_1, now + 5, R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now + idle, idle, R)), 0);
        assert_int_equal(f->r.session.last_used_ms, now + idle - 1);
        assert_int_equal(AWAIT(f, store_session_touch_async(&f->store, TOKEN_2, now, R)), -ENOENT);
}

static void revoked_sessions_are_gone(void **state)
{
        struct fixture *f = *state;
        uint64_t now = test_clock_wall_ms(), expires = now + HOUR_MS;

        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "ann", HASH_A, 1, R)), 0);
        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "bob", HASH_A, 1, R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_create_async(&f->store, TOKEN_1, "ann", now, expires, R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_create_async(&f->store, TOKEN_2, "ann", now, expires, R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_create_async(&f->store, TOKEN_3, "bob", now, expires, R)), 0);
        assert_int_equal(AWAIT(f, store_session_revoke_async(&f->store, TOKEN_1, R)), 0);
        assert_int_equal(AWAIT(f, store_session_revoke_async(&f->store, TOKEN_1, R)), -ENOENT);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now, 0, R)),
                         -ENOENT);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_2, now, 0, R)), 0);
        assert_int_equal(AWAIT(f, store_session_revoke_user_async(&f->store, "ANN", R)), 1);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_2, now, 0, R)),
                         -ENOENT);
        assert_int_equal(AWAIT(f, store_session_lookup_async(&f->store, TOKEN_3, now, 0, R)), 0);
        assert_int_equal(AWAIT(f, store_session_revoke_user_async(&f->store, "bob", R)), 1);
        assert_int_equal(AWAIT(f, store_session_revoke_user_async(&f->store, "bob", R)), 0);
}

/* Whatever a backend's purge removes, it never removes a live session. */
static void purge_keeps_live_sessions(void **state)
{
        struct fixture *f = *state;
        uint64_t now = test_clock_wall_ms();

        assert_int_equal(AWAIT(f, store_user_create_async(&f->store, "ann", HASH_A, 1, R)), 0);
        assert_int_equal(
            AWAIT(f, store_session_create_async(&f->store, TOKEN_1, "ann", now, now + HOUR_MS, R)),
            0);
        assert_true(store_session_purge_expired(&f->store, now + 1000, HOUR_MS) >= 0);
        assert_int_equal(
            AWAIT(f, store_session_lookup_async(&f->store, TOKEN_1, now + 1000, HOUR_MS, R)), 0);
        assert_false(f->r.session.expired);
}

static void history_gives_the_last_n_oldest_first(void **state)
{
        struct fixture *f = *state;
        uint64_t ids[5];
        char text[8];

        for (int i = 0; i < 5; i++) {
                snprintf(text, sizeof(text), "m%d", i);
                post(f, text, strlen(text));
                ids[i] = f->r.id;
                if (i > 0)
                        assert_true(ids[i] > ids[i - 1]);
        }
        assert_int_equal(AWAIT(f, store_history_last_async(&f->store, 3, R)), 3);
        assert_int_equal(f->r.count, 3);
        assert_string_equal(f->r.texts[0], "m2");
        assert_string_equal(f->r.texts[1], "m3");
        assert_string_equal(f->r.texts[2], "m4");
        assert_int_equal(f->r.ids[2], ids[4]);
        assert_int_equal(AWAIT(f, store_history_last_async(&f->store, 0, R)), 0);
        assert_int_equal(f->r.count, 0);
}

static void history_keeps_text_bytes_and_refuses_overlong_text(void **state)
{
        struct fixture *f = *state;
        static char longest[CHAT_LINE_MAX + 1];
        const char *odd = "caf\xc3\xa9 'quoted' -- ; M 1-1 x \r \x01 end";
        struct bus_message overlong = {BUS_MESSAGE, 0, 5, 0, "ann", longest, CHAT_LINE_MAX + 1};

        memset(longest, 'x', sizeof(longest));
        post(f, odd, strlen(odd));
        post(f, longest, CHAT_LINE_MAX);
        assert_int_equal(AWAIT(f, store_post_async(&f->store, &f->bus, &overlong, R)), -EINVAL);
        assert_int_equal(AWAIT(f, store_history_last_async(&f->store, 10, R)), 2);
        assert_string_equal(f->r.texts[0], odd);
        assert_int_equal(strlen(f->r.texts[1]), CHAT_LINE_MAX);
}

#define CONTRACT_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            CONTRACT_TEST(user_is_created_read_updated_and_removed),
            CONTRACT_TEST(duplicate_user_is_eexist_in_any_case),
            CONTRACT_TEST(users_are_listed_by_name),
            CONTRACT_TEST(identity_maps_an_address_to_a_user),
            CONTRACT_TEST(removing_a_user_removes_its_identities_and_sessions),
            CONTRACT_TEST(session_is_found_until_its_absolute_expiry),
            CONTRACT_TEST(session_past_its_lifetime_is_expired_not_unknown),
            CONTRACT_TEST(idle_session_expires_and_touch_keeps_it_alive),
            CONTRACT_TEST(revoked_sessions_are_gone),
            CONTRACT_TEST(purge_keeps_live_sessions),
            CONTRACT_TEST(history_gives_the_last_n_oldest_first),
            CONTRACT_TEST(history_keeps_text_bytes_and_refuses_overlong_text),
        };

        if (argc != 2 || (strcmp(argv[1], "sqlite") != 0 && strcmp(argv[1], "redis") != 0)) {
                fprintf(stderr, "usage: %s sqlite|redis\n", argv[0]);
                return 2;
        }
        backend = strcmp(argv[1], "redis") == 0 ? BACKEND_REDIS : BACKEND_SQLITE;
        if (backend == BACKEND_REDIS && !redis_server_installed()) {
                printf("MISSING: redis-server (apt-get install redis-server)\n");
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name(argv[1], tests, NULL, NULL);
}
