#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_server.h"
#include "store_redis.h"

/*
 * The Redis backend against a real redis-server that each test starts on a
 * free port of its own (and kills). Two backends on the same server are
 * two nodes; each has its own loop, so that a test can leave one node
 * unattended while the other works. Waiting is always for a condition,
 * with a generous deadline as the only use of time.
 */

#define HASH_A  "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
#define HASH_B  "$argon2id$v=19$m=19456,t=3,p=1$c2FsdHNhbHRzYWx0$b3RoZXJoYXNob3RoZXJoYQ"
#define TOKEN_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define TOKEN_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define TOKEN_3 "3333333333333333333333333333333333333333333333333333333333333333"

#define HOUR_MS     (3600ull * 1000)
#define DEADLINE    30.0 /* seconds: an upper bound for any wait, never a pace */
#define INBOX_MAX   1200
#define HISTORY_MAX 16
#define NODE_A      1
#define NODE_B      2
#define NODES_BOTH  (NODE_A | NODE_B)
#define TEXT_KEEP   64

struct delivery {
        enum bus_kind kind;
        uint64_t id, sender;
        char name[CHAT_NAME_MAX + 1];
        char text[TEXT_KEEP];
};

struct inbox {
        int count;
        struct delivery items[INBOX_MAX];
};

/* One async call's outcome, copied out of its reply. */
struct result {
        int calls;
        int status;
        char error[256];
        struct store_user user;
        struct store_session session;
        char name[CHAT_NAME_MAX + 1];
        uint64_t id;
        size_t count;
        uint64_t ids[HISTORY_MAX];
        char texts[HISTORY_MAX][CHAT_LINE_MAX + 1];
        uint64_t times[HISTORY_MAX];
};

struct who_result {
        int calls;
        int status;
        size_t count;
        char names[8][CHAT_NAME_MAX + 1];
};

struct node {
        struct ev_loop *loop;
        ev_timer tick; /* wakes the loop now and then, so that a wait can check its deadline */
        struct store store;
        struct bus bus;
        struct inbox inbox;
        bool open;
};

struct fixture {
        struct redis_server redis;
        struct node a, b;
        struct result r;
};

/* --- nodes and the loop --- */

static void deliver(void *context, const struct bus_message *message)
{
        struct inbox *inbox = context;
        struct delivery *item;
        size_t keep = message->text_length < TEXT_KEEP - 1 ? message->text_length : TEXT_KEEP - 1;

        assert_true(inbox->count < INBOX_MAX);
        item = &inbox->items[inbox->count++];
        item->kind = message->kind;
        item->id = message->id;
        item->sender = message->sender;
        snprintf(item->name, sizeof(item->name), "%s", message->name);
        memcpy(item->text, message->text, keep);
        item->text[keep] = '\0';
}

static void open_node_at(struct node *node, const char *address, unsigned history_max)
{
        struct store_redis_options options = {.address = address, .history_max = history_max};

        if (!node->loop) {
                node->loop = ev_loop_new(EVFLAG_AUTO);
                ev_timer_init(&node->tick, test_loop_tick, 0.01, 0.01);
                ev_timer_start(node->loop, &node->tick);
        }
        assert_int_equal(store_redis_open(&node->store, &node->bus, node->loop, &options), 0);
        assert_int_equal(bus_subscribe(&node->bus, deliver, &node->inbox), 0);
        node->open = true;
}

static void open_node(struct fixture *f, struct node *node, unsigned history_max)
{
        char address[64];

        snprintf(address, sizeof(address), "redis://127.0.0.1:%d", f->redis.port);
        open_node_at(node, address, history_max);
}

static void close_node(struct node *node)
{
        if (node->open) {
                bus_fini(&node->bus);
                store_fini(&node->store);
                node->open = false;
        }
        if (node->loop) {
                ev_timer_stop(node->loop, &node->tick);
                ev_loop_destroy(node->loop);
                node->loop = NULL;
        }
}

typedef bool (*condition_fn)(struct fixture *f, void *arg);

/* Run the chosen nodes' loops until condition holds. */
static void run_until(struct fixture *f, int nodes, condition_fn condition, void *arg)
{
        double deadline = test_clock_seconds() + DEADLINE;

        while (!condition(f, arg)) {
                if (test_clock_seconds() > deadline)
                        fail_msg("condition not met within %.0f s", DEADLINE);
                if ((nodes & NODE_A) && f->a.loop)
                        ev_run(f->a.loop, EVRUN_ONCE);
                if ((nodes & NODE_B) && f->b.loop)
                        ev_run(f->b.loop, EVRUN_ONCE);
        }
}

static bool result_arrived(struct fixture *f, void *arg)
{
        (void)f;
        return ((struct result *)arg)->calls > 0;
}

static bool both_available(struct fixture *f, void *arg)
{
        (void)arg;
        return store_available(&f->a.store) && (!f->b.open || store_available(&f->b.store));
}

static bool both_unavailable(struct fixture *f, void *arg)
{
        (void)arg;
        return !store_available(&f->a.store) && (!f->b.open || !store_available(&f->b.store));
}

struct wanted {
        const struct inbox *inbox;
        int count;
};

static bool inbox_has(struct fixture *f, void *arg)
{
        const struct wanted *wanted = arg;

        (void)f;
        return wanted->inbox->count >= wanted->count;
}

/* Wait until inbox holds at least count deliveries. */
static void expect(struct fixture *f, int nodes, const struct inbox *inbox, int count)
{
        struct wanted wanted = {inbox, count};

        run_until(f, nodes, inbox_has, &wanted);
}

static void capture(void *context, const struct store_reply *reply)
{
        struct result *r = context;

        r->calls++;
        r->status = reply->status;
        snprintf(r->error, sizeof(r->error), "%s", reply->error ? reply->error : "(null)");
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
                r->times[i] = message->time_ms;
                memcpy(r->texts[i], message->text, message->text_length + 1);
        }
}

/* Start an async call with capture and f->r, and wait for its one reply. */
#define AWAIT(f, nodes, call)                                                                      \
        (memset(&(f)->r, 0, sizeof((f)->r)), (call),                                               \
         run_until((f), (nodes), result_arrived, &(f)->r), (f)->r.status)
#define ON_A(f, call) AWAIT(f, NODE_A, call)

static void post(struct fixture *f, struct node *node, int nodes, const char *text, uint64_t sender)
{
        struct bus_message message = {BUS_MESSAGE, 0,    test_clock_wall_ms(), sender,
                                      "ann",       text, strlen(text)};

        memset(&f->r, 0, sizeof(f->r));
        node->store.async->post(node->store.state, &message, capture, &f->r);
        run_until(f, nodes, result_arrived, &f->r);
        assert_int_equal(f->r.status, 0);
        assert_int_equal(f->r.calls, 1);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f || redis_server_prepare(&f->redis) < 0)
                return -1;
        redis_server_start(&f->redis);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        close_node(&f->b);
        close_node(&f->a);
        redis_server_cleanup(&f->redis);
        free(f);
        return 0;
}

/* Node A, connected. */
static void open_a(struct fixture *f, unsigned history_max)
{
        open_node(f, &f->a, history_max);
        run_until(f, NODE_A, both_available, NULL);
}

/*
 * The store's contract is test_chat_store_contract.c, run against Redis
 * too; here only what is Redis's own.
 */

/* The operator's blocking connection (store_redis_sync.c) sees what the loop's wrote, and back. */
static void synchronous_operations_see_the_asynchronous_ones(void **state)
{
        struct fixture *f = *state;
        struct store_user user;
        struct store_session session;
        char name[CHAT_NAME_MAX + 1];
        uint64_t now = test_clock_wall_ms();

        open_a(f, 0);
        assert_string_equal(f->a.store.ops->kind, "redis");
        assert_int_equal(
            ON_A(f, store_user_create_async(&f->a.store, "Ann", HASH_A, 1000, capture, &f->r)), 0);
        assert_int_equal(store_user_create(&f->a.store, "ANN", HASH_B, 2), -EEXIST);
        assert_non_null(store_last_error(&f->a.store));
        assert_int_equal(store_user_get(&f->a.store, "aNN", &user), 0);
        assert_string_equal(user.name, "Ann");
        assert_string_equal(user.hash, HASH_A);
        assert_int_equal(store_user_set_hash(&f->a.store, "ann", HASH_B), 0);
        assert_int_equal(ON_A(f, store_user_get_async(&f->a.store, "ann", capture, &f->r)), 0);
        assert_string_equal(f->r.user.hash, HASH_B);
        assert_int_equal(store_identity_set(&f->a.store, "127.0.0.2", "ann"), 0);
        assert_int_equal(
            ON_A(f, store_identity_get_async(&f->a.store, "127.0.0.2", capture, &f->r)), 0);
        assert_string_equal(f->r.name, "Ann");
        assert_int_equal(store_identity_get(&f->a.store, "127.0.0.2", name), 0);
        assert_string_equal(name, "Ann");
        assert_int_equal(store_identity_set(&f->a.store, "", "ann"), -EINVAL);
        assert_int_equal(store_session_create(&f->a.store, TOKEN_1, "ann", now, now + HOUR_MS), 0);
        assert_int_equal(store_session_touch(&f->a.store, TOKEN_1, now + 10), 0);
        assert_int_equal(store_session_lookup(&f->a.store, TOKEN_1, now + 20, 0, &session), 0);
        assert_int_equal(session.last_used_ms, now + 10);
        assert_int_equal(store_session_revoke(&f->a.store, TOKEN_1), 0);
        assert_int_equal(store_session_revoke_user(&f->a.store, "ann"), 0);
}

/*
 * Redis deletes a session itself, a grace period (an hour) after its
 * absolute expiry, so that until then a token past its lifetime is
 * answered "expired" (the contract) and purging has nothing to do.
 */
static void session_key_outlives_its_expiry_by_a_grace_period(void **state)
{
        struct fixture *f = *state;
        uint64_t now = test_clock_wall_ms();
        long long ttl;

        open_a(f, 0);
        assert_int_equal(store_user_create(&f->a.store, "ann", HASH_A, 1), 0);
        assert_int_equal(store_session_create(&f->a.store, TOKEN_1, "ann", now, now + HOUR_MS), 0);
        ttl = redis_server_integer(f->redis.port, "PTTL echod:session:" TOKEN_1);
        /* Between the lifetime and the lifetime plus the grace, whatever time the calls took. */
        assert_true(ttl > (long long)HOUR_MS);
        assert_true(ttl <= (long long)(2 * HOUR_MS));
        assert_int_equal(store_session_purge_expired(&f->a.store, now + 3 * HOUR_MS, 1), 0);
}

struct history {
        char texts[16][CHAT_LINE_MAX + 1];
        uint64_t ids[16];
        int count;
};

static int collect_message(void *context, const struct store_message *message)
{
        struct history *history = context;

        assert_true(history->count < 16);
        history->ids[history->count] = message->id;
        memcpy(history->texts[history->count], message->text, message->text_length + 1);
        history->count++;
        return 0;
}

static void history_keeps_text_bytes_and_refuses_overlong_text(void **state)
{
        struct fixture *f = *state;
        static char longest[CHAT_LINE_MAX + 1];
        struct history history = {0};
        struct bus_message message = {BUS_MESSAGE, 0, 5, 0, "ann", longest, CHAT_LINE_MAX + 1};
        const char *odd = "caf\xc3\xa9 'quoted' -- ; M 1-1 x \r \x01 end";
        uint64_t id;

        open_a(f, 0);
        memset(longest, 'x', sizeof(longest));
        post(f, &f->a, NODE_A, odd, 0);
        post(f, &f->a, NODE_A, "", 0);
        assert_int_equal(store_history_append(&f->a.store, 7, "ann", longest, CHAT_LINE_MAX, &id),
                         0);
        assert_int_equal(
            store_history_append(&f->a.store, 8, "ann", longest, CHAT_LINE_MAX + 1, NULL), -EINVAL);
        memset(&f->r, 0, sizeof(f->r));
        f->a.store.async->post(f->a.store.state, &message, capture, &f->r);
        assert_int_equal(f->r.calls, 1);
        assert_int_equal(f->r.status, -EINVAL);
        assert_int_equal(store_history_last(&f->a.store, 10, collect_message, &history), 3);
        assert_string_equal(history.texts[0], odd);
        assert_string_equal(history.texts[1], "");
        assert_int_equal(strlen(history.texts[2]), CHAT_LINE_MAX);
        assert_int_equal(history.ids[2], id);
        assert_int_equal(ON_A(f, store_history_last_async(&f->a.store, 10, capture, &f->r)), 3);
        assert_string_equal(f->r.texts[0], odd);
        assert_int_equal(f->r.times[2], 7);
        /* The relay carried the odd bytes unchanged. */
        expect(f, NODE_A, &f->a.inbox, 2);
        assert_string_equal(f->a.inbox.items[0].text, "caf\xc3\xa9 'quoted' -- ; M 1-1 x \r \x01 "
                                                      "end");
}

static void history_is_capped_near_its_maximum(void **state)
{
        struct fixture *f = *state;
        char text[8];

        open_a(f, 3);
        for (int i = 0; i < 40; i++) {
                snprintf(text, sizeof(text), "m%d", i);
                post(f, &f->a, NODE_A, text, 0);
        }
        /* MAXLEN ~ trims whole stream nodes (4 entries each here), so a few more may stay. */
        assert_true(redis_server_integer(f->redis.port, "XLEN echod:history") < 12);
        assert_int_equal(ON_A(f, store_history_last_async(&f->a.store, 100, capture, &f->r)), 3);
        assert_string_equal(f->r.texts[0], "m37");
        assert_string_equal(f->r.texts[2], "m39");
}

static void post_is_delivered_once_to_every_node_with_the_sender_only_on_its_own(void **state)
{
        struct fixture *f = *state;

        open_a(f, 0);
        open_node(f, &f->b, 0);
        run_until(f, NODES_BOTH, both_available, NULL);
        post(f, &f->a, NODES_BOTH, "hello", 42);
        expect(f, NODES_BOTH, &f->a.inbox, 1);
        expect(f, NODES_BOTH, &f->b.inbox, 1);
        assert_int_equal(f->a.inbox.items[0].kind, BUS_MESSAGE);
        assert_int_equal(f->a.inbox.items[0].sender, 42);
        assert_int_equal(f->b.inbox.items[0].sender, 0);
        assert_int_equal(f->a.inbox.items[0].id, f->r.id);
        assert_int_equal(f->b.inbox.items[0].id, f->r.id);
        assert_string_equal(f->b.inbox.items[0].name, "ann");
        assert_string_equal(f->b.inbox.items[0].text, "hello");
        /* A marker from B comes after, and nothing came twice. */
        post(f, &f->b, NODES_BOTH, "marker", 7);
        expect(f, NODES_BOTH, &f->a.inbox, 2);
        expect(f, NODES_BOTH, &f->b.inbox, 2);
        assert_int_equal(f->a.inbox.count, 2);
        assert_int_equal(f->b.inbox.count, 2);
        assert_int_equal(f->a.inbox.items[1].sender, 0);
        assert_int_equal(f->b.inbox.items[1].sender, 7);
}

struct counter {
        int done;
        int failed;
};

static void count_done(void *context, const struct store_reply *reply)
{
        struct counter *counter = context;

        counter->done++;
        if (reply->status < 0)
                counter->failed++;
}

static bool counter_reached(struct fixture *f, void *arg)
{
        (void)f;
        return ((struct counter *)arg)->done == 1000;
}

static void thousand_posts_arrive_in_order(void **state)
{
        struct fixture *f = *state;
        struct counter counter = {0};
        char texts[1000][8];

        open_a(f, 0);
        open_node(f, &f->b, 0);
        run_until(f, NODES_BOTH, both_available, NULL);
        for (int i = 0; i < 1000; i++) {
                struct bus_message message = {BUS_MESSAGE, 0, test_clock_wall_ms(), 1, "ann",
                                              texts[i],    0};

                message.text_length = (size_t)snprintf(texts[i], sizeof(texts[i]), "%d", i);
                f->a.store.async->post(f->a.store.state, &message, count_done, &counter);
        }
        run_until(f, NODES_BOTH, counter_reached, &counter);
        assert_int_equal(counter.failed, 0);
        expect(f, NODES_BOTH, &f->a.inbox, 1000);
        expect(f, NODES_BOTH, &f->b.inbox, 1000);
        for (int i = 0; i < 1000; i++) {
                char expected[8];

                snprintf(expected, sizeof(expected), "%d", i);
                assert_string_equal(f->b.inbox.items[i].text, expected);
                assert_string_equal(f->a.inbox.items[i].text, expected);
                if (i > 0)
                        assert_true(f->b.inbox.items[i].id > f->b.inbox.items[i - 1].id);
        }
}

/* --- presence --- */

static void who_capture(void *context, int status, const char *const *names, size_t count)
{
        struct who_result *who = context;

        who->calls++;
        who->status = status;
        who->count = count;
        assert_true(count <= 8);
        for (size_t i = 0; i < count; i++)
                snprintf(who->names[i], sizeof(who->names[i]), "%s", names[i]);
}

static bool who_arrived(struct fixture *f, void *arg)
{
        (void)f;
        return ((struct who_result *)arg)->calls > 0;
}

static struct who_result who(struct fixture *f, struct node *node)
{
        struct who_result result = {0};

        node->bus.ops->who(node->bus.state, who_capture, &result);
        run_until(f, NODES_BOTH, who_arrived, &result);
        assert_int_equal(result.calls, 1);
        return result;
}

static int count_kind(const struct inbox *inbox, enum bus_kind kind, const char *name)
{
        int count = 0;

        for (int i = 0; i < inbox->count; i++)
                if (inbox->items[i].kind == kind && strcmp(inbox->items[i].name, name) == 0)
                        count++;
        return count;
}

/* Post a marker from node and wait until both nodes have it: what was published before has come. */
static void settle(struct fixture *f, struct node *node)
{
        int a = f->a.inbox.count, b = f->b.inbox.count;

        post(f, node, NODES_BOTH, "marker", 0);
        expect(f, NODES_BOTH, &f->a.inbox, a + 1);
        expect(f, NODES_BOTH, &f->b.inbox, b + 1);
}

static void presence_joins_once_and_leaves_once_across_nodes(void **state)
{
        struct fixture *f = *state;
        struct who_result listed;

        open_a(f, 0);
        open_node(f, &f->b, 0);
        run_until(f, NODES_BOTH, both_available, NULL);
        f->a.bus.ops->presence(f->a.bus.state, "Ann", true, 9);
        settle(f, &f->a);
        assert_int_equal(count_kind(&f->a.inbox, BUS_JOIN, "Ann"), 1);
        assert_int_equal(count_kind(&f->b.inbox, BUS_JOIN, "Ann"), 1);
        assert_int_equal(f->a.inbox.items[0].sender, 9);
        assert_int_equal(f->b.inbox.items[0].sender, 0);
        /* The same user on the other node, in another case: no second JOIN. */
        f->b.bus.ops->presence(f->b.bus.state, "ann", true, 3);
        f->b.bus.ops->presence(f->b.bus.state, "bob", true, 4);
        settle(f, &f->b);
        assert_int_equal(count_kind(&f->a.inbox, BUS_JOIN, "ann"), 0);
        assert_int_equal(count_kind(&f->a.inbox, BUS_JOIN, "bob"), 1);
        listed = who(f, &f->a);
        assert_int_equal(listed.status, 0);
        assert_int_equal(listed.count, 2);
        assert_true(strcasecmp(listed.names[0], "ann") == 0);
        assert_string_equal(listed.names[1], "bob");
        listed = who(f, &f->b);
        assert_int_equal(listed.count, 2);
        /* Leaving one node while on the other: no LEAVE; leaving the last: one. */
        f->a.bus.ops->presence(f->a.bus.state, "Ann", false, 9);
        settle(f, &f->a);
        assert_int_equal(count_kind(&f->a.inbox, BUS_LEAVE, "Ann"), 0);
        assert_int_equal(count_kind(&f->b.inbox, BUS_LEAVE, "ann"), 0);
        f->b.bus.ops->presence(f->b.bus.state, "ann", false, 3);
        settle(f, &f->b);
        assert_int_equal(count_kind(&f->a.inbox, BUS_LEAVE, "ann"), 1);
        assert_int_equal(count_kind(&f->b.inbox, BUS_LEAVE, "ann"), 1);
        listed = who(f, &f->a);
        assert_int_equal(listed.count, 1);
        assert_string_equal(listed.names[0], "bob");
}

static bool saw_leave_of_bob(struct fixture *f, void *arg)
{
        (void)arg;
        return count_kind(&f->a.inbox, BUS_LEAVE, "bob") > 0;
}

static void a_dead_node_is_pruned_with_a_leave(void **state)
{
        struct fixture *f = *state;
        struct store_redis_options options = {.presence_ttl = 1.5};
        char address[64];
        struct who_result listed;

        snprintf(address, sizeof(address), "redis://127.0.0.1:%d", f->redis.port);
        options.address = address;
        f->a.loop = ev_loop_new(EVFLAG_AUTO);
        ev_timer_init(&f->a.tick, test_loop_tick, 0.01, 0.01);
        ev_timer_start(f->a.loop, &f->a.tick);
        assert_int_equal(store_redis_open(&f->a.store, &f->a.bus, f->a.loop, &options), 0);
        bus_subscribe(&f->a.bus, deliver, &f->a.inbox);
        f->a.open = true;
        f->b.loop = ev_loop_new(EVFLAG_AUTO);
        ev_timer_init(&f->b.tick, test_loop_tick, 0.01, 0.01);
        ev_timer_start(f->b.loop, &f->b.tick);
        assert_int_equal(store_redis_open(&f->b.store, &f->b.bus, f->b.loop, &options), 0);
        f->b.open = true;
        run_until(f, NODES_BOTH, both_available, NULL);
        f->b.bus.ops->presence(f->b.bus.state, "bob", true, 1);
        listed = who(f, &f->b);
        assert_int_equal(listed.count, 1);
        /* B stops renewing (its loop no longer runs, as if killed): A prunes it and says LEAVE. */
        run_until(f, NODE_A, saw_leave_of_bob, NULL);
        assert_int_equal(count_kind(&f->a.inbox, BUS_JOIN, "bob"), 1);
        assert_int_equal(count_kind(&f->a.inbox, BUS_LEAVE, "bob"), 1);
        memset(&listed, 0, sizeof(listed));
        f->a.bus.ops->presence(f->a.bus.state, "zed", false, 0);
        f->a.bus.ops->who(f->a.bus.state, who_capture, &listed);
        run_until(f, NODE_A, who_arrived, &listed);
        assert_int_equal(listed.count, 0);
}

/* --- Redis down --- */

static void malformed_data_is_an_error_not_a_crash(void **state)
{
        struct fixture *f = *state;
        char answer[256];
        struct store_user user;

        open_a(f, 0);
        assert_int_equal(
            redis_server_ask(f->redis.port, "SET echod:user:eve x", answer, sizeof(answer)), 0);
        assert_int_equal(ON_A(f, store_user_get_async(&f->a.store, "eve", capture, &f->r)), -EIO);
        assert_non_null(strstr(f->r.error, "WRONGTYPE"));
        assert_int_equal(store_user_get(&f->a.store, "eve", &user), -EIO);
        assert_int_equal(
            redis_server_integer(f->redis.port, "HSET echod:user:zed name zed hash h created x"),
            3);
        assert_int_equal(ON_A(f, store_user_get_async(&f->a.store, "zed", capture, &f->r)),
                         -EBADMSG);
        /* Another program's message on the channel is not delivered. */
        assert_true(redis_server_integer(f->redis.port, "PUBLISH echod:chat:0 garbage") >= 1);
        assert_true(redis_server_integer(
                        f->redis.port, "PUBLISH echod:chat:0 \"M 1-1 1 n 0 bad\\x01name x\"") >= 1);
        post(f, &f->a, NODE_A, "good", 0);
        expect(f, NODE_A, &f->a.inbox, 1);
        assert_int_equal(f->a.inbox.count, 1);
        assert_string_equal(f->a.inbox.items[0].text, "good");
        /* A history entry without its text fails the read, whole. */
        assert_int_equal(redis_server_ask(f->redis.port, "XADD echod:history * t 1 n ann", answer,
                                          sizeof(answer)),
                         0);
        assert_int_equal(ON_A(f, store_history_last_async(&f->a.store, 5, capture, &f->r)),
                         -EBADMSG);
        assert_int_equal(f->r.count, 0);
}

static void unavailable_at_start_fails_at_once(void **state)
{
        struct fixture *f = *state;
        struct bus_message message = {BUS_MESSAGE, 0, 1, 0, "ann", "hi", 2};
        struct who_result listed = {0};
        struct store_user user;
        char address[64];

        snprintf(address, sizeof(address), "redis://127.0.0.1:%d", redis_server_free_port());
        open_node_at(&f->a, address, 0);
        assert_false(store_available(&f->a.store));
        memset(&f->r, 0, sizeof(f->r));
        store_user_get_async(&f->a.store, "ann", capture, &f->r);
        assert_int_equal(f->r.calls, 1);
        assert_int_equal(f->r.status, -EAGAIN);
        assert_non_null(strstr(f->r.error, "redis unavailable"));
        memset(&f->r, 0, sizeof(f->r));
        f->a.store.async->post(f->a.store.state, &message, capture, &f->r);
        assert_int_equal(f->r.calls, 1);
        assert_int_equal(f->r.status, -EAGAIN);
        assert_int_equal(bus_publish(&f->a.bus, &message), -EAGAIN);
        f->a.bus.ops->who(f->a.bus.state, who_capture, &listed);
        assert_int_equal(listed.calls, 1);
        assert_int_equal(listed.status, -EAGAIN);
        /* Presence while down is kept, not lost, and costs nothing now. */
        f->a.bus.ops->presence(f->a.bus.state, "ann", true, 1);
        assert_int_equal(store_user_get(&f->a.store, "ann", &user), -EAGAIN);
        assert_non_null(strstr(store_last_error(&f->a.store), "unreachable"));
        /* A few rounds of the loop: still down, still answering at once. */
        for (int i = 0; i < 5; i++)
                ev_run(f->a.loop, EVRUN_ONCE);
        assert_false(store_available(&f->a.store));
}

static void pending_calls_end_cancelled_when_the_store_is_freed(void **state)
{
        struct fixture *f = *state;
        struct result first = {0}, second = {0};
        struct who_result listed = {0};

        open_a(f, 0);
        store_user_get_async(&f->a.store, "ann", capture, &first);
        store_history_last_async(&f->a.store, 5, capture, &second);
        f->a.bus.ops->who(f->a.bus.state, who_capture, &listed);
        assert_int_equal(first.calls, 0);
        bus_fini(&f->a.bus);
        store_fini(&f->a.store);
        f->a.open = false;
        assert_int_equal(first.calls, 1);
        assert_int_equal(first.status, -ECANCELED);
        assert_int_equal(second.calls, 1);
        assert_int_equal(second.status, -ECANCELED);
        assert_int_equal(listed.calls, 1);
        assert_int_equal(listed.status, -ECANCELED);
}

struct closer {
        struct fixture *f;
        struct result result;
};

/* A done function that frees the store it was called by. */
static void capture_and_close(void *context, const struct store_reply *reply)
{
        struct closer *closer = context;

        capture(&closer->result, reply);
        bus_fini(&closer->f->a.bus);
        store_fini(&closer->f->a.store);
        closer->f->a.open = false;
}

static bool closer_done(struct fixture *f, void *arg)
{
        (void)f;
        return ((struct closer *)arg)->result.calls > 0;
}

static void store_freed_from_its_own_callback_cancels_the_rest(void **state)
{
        struct fixture *f = *state;
        struct closer closer = {.f = f};
        struct result second = {0};

        open_a(f, 0);
        store_user_get_async(&f->a.store, "ann", capture_and_close, &closer);
        store_user_get_async(&f->a.store, "bob", capture, &second);
        run_until(f, NODE_A, closer_done, &closer);
        assert_int_equal(closer.result.status, -ENOENT);
        assert_int_equal(second.calls, 1);
        assert_int_equal(second.status, -ECANCELED);
        /* The loop goes on without the backend's watchers. */
        ev_run(f->a.loop, EVRUN_NOWAIT);
}

static void restarted_redis_is_reconnected_and_delivery_goes_on(void **state)
{
        struct fixture *f = *state;
        struct store_user user;

        open_a(f, 0);
        open_node(f, &f->b, 0);
        run_until(f, NODES_BOTH, both_available, NULL);
        redis_server_kill(&f->redis);
        /* A call already on its way when the connection goes ends with an error. */
        memset(&f->r, 0, sizeof(f->r));
        store_user_get_async(&f->a.store, "ann", capture, &f->r);
        run_until(f, NODES_BOTH, result_arrived, &f->r);
        assert_true(f->r.status == -EIO || f->r.status == -EAGAIN);
        assert_int_equal(f->r.calls, 1);
        run_until(f, NODES_BOTH, both_unavailable, NULL);
        assert_int_equal(ON_A(f, store_user_get_async(&f->a.store, "ann", capture, &f->r)),
                         -EAGAIN);
        assert_int_equal(store_user_get(&f->a.store, "ann", &user), -EAGAIN);
        redis_server_start(&f->redis);
        run_until(f, NODES_BOTH, both_available, NULL);
        assert_int_equal(store_user_create(&f->a.store, "ann", HASH_A, 1), 0);
        post(f, &f->a, NODES_BOTH, "after", 5);
        expect(f, NODES_BOTH, &f->a.inbox, 1);
        expect(f, NODES_BOTH, &f->b.inbox, 1);
        assert_string_equal(f->b.inbox.items[0].text, "after");
        assert_int_equal(f->a.inbox.items[0].sender, 5);
}

/* The id of the one subscribed client, or of the one not equal to other. */
static long long subscriber_id(struct fixture *f, long long other)
{
        char answer[4096], *line;
        long long id = -1;

        assert_int_equal(
            redis_server_ask(f->redis.port, "CLIENT LIST TYPE pubsub", answer, sizeof(answer)), 0);
        for (line = strstr(answer, "id="); line; line = strstr(line + 1, "\nid=")) {
                long long found = atoll(line[0] == '\n' ? line + 4 : line + 3);

                if (found != other)
                        id = found;
        }
        assert_true(id > 0);
        return id;
}

static bool b_has_two(struct fixture *f, void *arg)
{
        (void)arg;
        return f->b.inbox.count >= 2;
}

static void message_missed_while_unsubscribed_is_delivered_once_after(void **state)
{
        struct fixture *f = *state;
        char command[64];
        long long a_subscriber, b_subscriber;

        open_a(f, 0);
        a_subscriber = subscriber_id(f, -1);
        open_node(f, &f->b, 0);
        run_until(f, NODES_BOTH, both_available, NULL);
        b_subscriber = subscriber_id(f, a_subscriber);
        post(f, &f->a, NODES_BOTH, "before", 1);
        expect(f, NODES_BOTH, &f->b.inbox, 1);
        /* B's subscriber goes; B's loop waits while A posts. */
        snprintf(command, sizeof(command), "CLIENT KILL ID %lld", b_subscriber);
        assert_int_equal(redis_server_integer(f->redis.port, command), 1);
        post(f, &f->a, NODE_A, "missed", 1);
        expect(f, NODE_A, &f->a.inbox, 2);
        /* B notices, resubscribes and reads what it missed. */
        run_until(f, NODE_B, b_has_two, NULL);
        assert_string_equal(f->b.inbox.items[1].text, "missed");
        assert_int_equal(f->b.inbox.items[1].sender, 0);
        run_until(f, NODES_BOTH, both_available, NULL);
        post(f, &f->a, NODES_BOTH, "after", 1);
        expect(f, NODES_BOTH, &f->b.inbox, 3);
        assert_string_equal(f->b.inbox.items[2].text, "after");
        /* Nothing twice. */
        settle(f, &f->b);
        assert_int_equal(f->b.inbox.count, 4);
        assert_int_equal(f->a.inbox.count, 4);
}

/* The newest history entry is another program's (no text): a node starts and serves anyway. */
static void a_malformed_newest_entry_does_not_keep_a_node_down(void **state)
{
        struct fixture *f = *state;
        char answer[256];

        assert_int_equal(redis_server_ask(f->redis.port, "XADD echod:history * t 1 n ann", answer,
                                          sizeof(answer)),
                         0);
        open_a(f, 0);
        post(f, &f->a, NODE_A, "after it", 0);
        expect(f, NODE_A, &f->a.inbox, 1);
        assert_string_equal(f->a.inbox.items[0].text, "after it");
}

static bool b_has_one(struct fixture *f, void *arg)
{
        (void)arg;
        return f->b.inbox.count >= 1;
}

/* A catch-up past a batch of malformed entries goes on to the good one behind them. */
static void catch_up_passes_a_batch_of_malformed_entries(void **state)
{
        struct fixture *f = *state;
        char command[64];
        long long a_subscriber, b_subscriber;

        open_a(f, 0);
        a_subscriber = subscriber_id(f, -1);
        open_node(f, &f->b, 0);
        run_until(f, NODES_BOTH, both_available, NULL);
        b_subscriber = subscriber_id(f, a_subscriber);
        /* B's subscriber goes; meanwhile a whole catch-up batch of bad entries, then a message. */
        snprintf(command, sizeof(command), "CLIENT KILL ID %lld", b_subscriber);
        assert_int_equal(redis_server_integer(f->redis.port, command), 1);
        assert_int_equal(
            redis_server_integer(f->redis.port,
                                 "EVAL \"for i = 1, 1000 do redis.call('XADD', "
                                 "'echod:history', '*', 't', '1', 'n', 'ann') end return 1\" 0"),
            1);
        post(f, &f->a, NODE_A, "behind them", 1);
        run_until(f, NODE_B, b_has_one, NULL);
        assert_string_equal(f->b.inbox.items[0].text, "behind them");
}

static bool a_unavailable(struct fixture *f, void *arg)
{
        (void)arg;
        return !store_available(&f->a.store);
}

static void silent_redis_fails_pending_calls_and_is_given_up(void **state)
{
        struct fixture *f = *state;

        open_a(f, 0);
        kill(f->redis.pid, SIGSTOP);
        /* No answer: the call ends with an error after a while instead of hanging. */
        assert_int_equal(ON_A(f, store_user_get_async(&f->a.store, "ann", capture, &f->r)), -EIO);
        assert_int_equal(f->r.calls, 1);
        run_until(f, NODE_A, a_unavailable, NULL);
        kill(f->redis.pid, SIGCONT);
        run_until(f, NODE_A, both_available, NULL);
        assert_int_equal(ON_A(f, store_user_get_async(&f->a.store, "ann", capture, &f->r)),
                         -ENOENT);
}

static void database_number_separates_nodes(void **state)
{
        struct fixture *f = *state;
        char address[64];

        snprintf(address, sizeof(address), "redis://127.0.0.1:%d/3", f->redis.port);
        open_node_at(&f->a, address, 0);
        open_node(f, &f->b, 0);
        run_until(f, NODES_BOTH, both_available, NULL);
        assert_int_equal(store_user_create(&f->a.store, "ann", HASH_A, 1), 0);
        assert_int_equal(
            AWAIT(f, NODES_BOTH, store_user_get_async(&f->b.store, "ann", capture, &f->r)),
            -ENOENT);
        assert_int_equal(redis_server_integer(f->redis.port, "EXISTS echod:user:ann"), 0);
        assert_int_equal(
            AWAIT(f, NODES_BOTH, store_user_get_async(&f->a.store, "ANN", capture, &f->r)), 0);
        /* Each database has its own relay too. */
        post(f, &f->a, NODES_BOTH, "in three", 0);
        post(f, &f->b, NODES_BOTH, "in zero", 0);
        expect(f, NODES_BOTH, &f->a.inbox, 1);
        expect(f, NODES_BOTH, &f->b.inbox, 1);
        assert_string_equal(f->a.inbox.items[0].text, "in three");
        assert_string_equal(f->b.inbox.items[0].text, "in zero");
        post(f, &f->a, NODES_BOTH, "marker", 0);
        expect(f, NODES_BOTH, &f->a.inbox, 2);
        post(f, &f->b, NODES_BOTH, "marker", 0);
        expect(f, NODES_BOTH, &f->b.inbox, 2);
        assert_int_equal(f->a.inbox.count, 2);
        assert_int_equal(f->b.inbox.count, 2);
}

static void unix_socket_address_works_too(void **state)
{
        struct fixture *f = *state;
        struct store_user user;
        char address[128];

        snprintf(address, sizeof(address), "unix:%s/redis.sock", f->redis.directory);
        open_node_at(&f->a, address, 0);
        run_until(f, NODE_A, both_available, NULL);
        assert_int_equal(
            ON_A(f, store_user_create_async(&f->a.store, "ann", HASH_A, 1, capture, &f->r)), 0);
        assert_int_equal(store_user_get(&f->a.store, "ANN", &user), 0);
        post(f, &f->a, NODE_A, "over unix", 0);
        expect(f, NODE_A, &f->a.inbox, 1);
}

#define REDIS_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            REDIS_TEST(synchronous_operations_see_the_asynchronous_ones),
            REDIS_TEST(session_key_outlives_its_expiry_by_a_grace_period),
            REDIS_TEST(history_keeps_text_bytes_and_refuses_overlong_text),
            REDIS_TEST(history_is_capped_near_its_maximum),
            REDIS_TEST(post_is_delivered_once_to_every_node_with_the_sender_only_on_its_own),
            REDIS_TEST(thousand_posts_arrive_in_order),
            REDIS_TEST(presence_joins_once_and_leaves_once_across_nodes),
            REDIS_TEST(a_dead_node_is_pruned_with_a_leave),
            REDIS_TEST(malformed_data_is_an_error_not_a_crash),
            REDIS_TEST(a_malformed_newest_entry_does_not_keep_a_node_down),
            REDIS_TEST(catch_up_passes_a_batch_of_malformed_entries),
            REDIS_TEST(unavailable_at_start_fails_at_once),
            REDIS_TEST(pending_calls_end_cancelled_when_the_store_is_freed),
            REDIS_TEST(store_freed_from_its_own_callback_cancels_the_rest),
            REDIS_TEST(restarted_redis_is_reconnected_and_delivery_goes_on),
            REDIS_TEST(message_missed_while_unsubscribed_is_delivered_once_after),
            REDIS_TEST(silent_redis_fails_pending_calls_and_is_given_up),
            REDIS_TEST(database_number_separates_nodes),
            REDIS_TEST(unix_socket_address_works_too),
        };

        if (!redis_server_installed()) {
                printf("MISSING: redis-server (apt-get install redis-server)\n");
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
