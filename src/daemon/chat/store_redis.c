#include "store_redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_backend.h"
#include "redis_request.h"

/*
 * The chat store on Redis, asynchronous side: each operation is one command
 * (a script where several keys change together) built by redis_request.c,
 * sent on the loop's command connection and read by redis_reply_read();
 * done runs exactly once, at once when the arguments are bad or Redis is
 * unavailable. store_redis_sync.c has the same operations blocking, for
 * the operator's rare commands.
 */

/*
 * Seconds a message has to reach Redis: the post script does nothing past
 * this (Redis checks its own clock), so a message whose answer did not come
 * can be called "not sent" once it has passed, and not before.
 */
#define POST_DEADLINE 5.0
/* Slack for the clocks' drift between two TIMEs (a second apart). */
#define POST_DEADLINE_SLACK 0.1

/* An asynchronous call on its way: the request's reading part and whom to tell. */
struct call {
        struct redis_backend *backend;
        struct redis_reply_request reply;
        store_done_fn done;
        void *context;
        double settled_at; /* redis_clock_now() past which Redis will not run it; 0: no bound */
        struct redis_late late; /* its failure, waiting for settled_at */
};

static void end_at_once(store_done_fn done, void *context, int status, const char *error)
{
        struct store_reply reply = {.status = status, .error = status < 0 ? error : ""};

        if (done)
                done(context, &reply);
}

static void call_end(struct call *call, const redisReply *reply, bool closing)
{
        struct store_reply out = {0};
        struct store_message *messages = NULL;
        char error[REDIS_ERROR_MAX] = "";

        if (!reply) {
                snprintf(error, sizeof(error), "redis %s: %s", call->reply.what,
                         closing ? "backend closed" : "connection lost");
                out.status = closing ? -ECANCELED : -EIO;
                out.error = error;
        } else {
                redis_reply_read(&call->reply, reply, &out, &messages, error, sizeof(error));
        }
        if (call->done)
                call->done(call->context, &out);
        free(messages);
        free(call);
}

static void call_told_late(struct redis_late *late, bool cancelled)
{
        struct call *call = (struct call *)((char *)late - offsetof(struct call, late));

        call_end(call, NULL, cancelled);
}

static void call_replied(redisAsyncContext *redis, void *reply_opaque, void *privdata)
{
        struct call *call = privdata;
        struct redis_backend *backend = call->backend;

        (void)redis;
        /*
         * A connection lost with the command perhaps still in Redis's socket
         * buffer: until its deadline Redis may yet run it, so its failure
         * waits until then to be told.
         */
        if (!reply_opaque && !backend->freeing && call->settled_at > redis_clock_now()) {
                call->late.tell = call_told_late;
                redis_late_tell(backend, &call->late, call->settled_at);
                return;
        }
        call_end(call, reply_opaque, backend->freeing);
}

/* Send a built request (r: what building it said) and end in exactly one call of done. */
static void send_bounded(struct redis_backend *backend, const struct redis_request *request, int r,
                         double settled_at, store_done_fn done, void *context)
{
        char error[REDIS_ERROR_MAX + 32];
        struct call *call;

        if (r != 0) {
                end_at_once(done, context, r > 0 ? 0 : r,
                            r == -EINVAL ? "invalid argument" : "not found");
                return;
        }
        if (!backend->available) {
                snprintf(error, sizeof(error), "redis unavailable: %s", backend->down_reason);
                end_at_once(done, context, -EAGAIN, error);
                return;
        }
        call = calloc(1, sizeof(*call));
        if (!call) {
                end_at_once(done, context, -ENOMEM, "out of memory");
                return;
        }
        *call = (struct call){.backend = backend,
                              .reply = request->reply,
                              .done = done,
                              .context = context,
                              .settled_at = settled_at};
        if (redis_backend_command(backend, call_replied, call, request->argc, request->argv,
                                  request->lengths) < 0) {
                free(call);
                end_at_once(done, context, -EAGAIN, "redis unavailable: cannot send");
        }
}

/* A command with no deadline: whatever Redis does of it later, it may do. */
static void send_async(struct redis_backend *backend, const struct redis_request *request, int r,
                       store_done_fn done, void *context)
{
        send_bounded(backend, request, r, 0, done, context);
}

static bool async_available(void *state)
{
        struct redis_backend *backend = state;

        return backend->available;
}

static void async_on_available(void *state, store_available_fn fn, void *context)
{
        struct redis_backend *backend = state;

        backend->on_available = fn;
        backend->on_available_context = context;
}

static void async_user_get(void *state, const char *name, store_done_fn done, void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_user_get(&request, name), done, context);
}

static void async_user_create(void *state, const char *name, const char *hash, uint64_t now_ms,
                              store_done_fn done, void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_user_create(&request, name, hash, now_ms), done,
                   context);
}

static void async_user_set_hash(void *state, const char *name, const char *hash, store_done_fn done,
                                void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_user_set_hash(&request, name, hash), done,
                   context);
}

static void async_identity_get(void *state, const char *address, store_done_fn done, void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_identity_get(&request, address), done, context);
}

static void async_identity_set(void *state, const char *address, const char *name,
                               store_done_fn done, void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_identity_set(&request, address, name), done,
                   context);
}

static void async_session_create(void *state, const char *token_hash, const char *name,
                                 uint64_t created_ms, uint64_t expires_ms, store_done_fn done,
                                 void *context)
{
        struct redis_request request = {0};

        send_async(state, &request,
                   redis_request_session_create(&request, token_hash, name, created_ms, expires_ms),
                   done, context);
}

static void async_session_lookup(void *state, const char *token_hash, uint64_t now_ms,
                                 uint64_t idle_ms, store_done_fn done, void *context)
{
        struct redis_request request = {0};

        send_async(state, &request,
                   redis_request_session_lookup(&request, token_hash, now_ms, idle_ms), done,
                   context);
}

static void async_session_touch(void *state, const char *token_hash, uint64_t now_ms,
                                store_done_fn done, void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_session_touch(&request, token_hash, now_ms), done,
                   context);
}

static void async_session_revoke(void *state, const char *token_hash, store_done_fn done,
                                 void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_session_revoke(&request, token_hash), done,
                   context);
}

static void async_session_revoke_user(void *state, const char *name, store_done_fn done,
                                      void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_session_revoke_user(&request, name), done,
                   context);
}

static void async_history_last(void *state, size_t count, store_done_fn done, void *context)
{
        struct redis_request request = {0};

        send_async(state, &request, redis_request_history_last(&request, state, count), done,
                   context);
}

static void async_post(void *state, const struct bus_message *message, store_done_fn done,
                       void *context)
{
        struct redis_request request = {0};

        struct redis_backend *backend = state;
        uint64_t deadline = redis_clock_deadline_ms(backend, POST_DEADLINE);
        double settled_at = redis_clock_now() + POST_DEADLINE + POST_DEADLINE_SLACK;

        send_bounded(backend, &request, redis_request_post(&request, backend, message, deadline),
                     settled_at, done, context);
}

static const struct store_async_ops redis_async_ops = {
    .available = async_available,
    .on_available = async_on_available,
    .user_get = async_user_get,
    .user_create = async_user_create,
    .user_set_hash = async_user_set_hash,
    .identity_get = async_identity_get,
    .identity_set = async_identity_set,
    .session_create = async_session_create,
    .session_lookup = async_session_lookup,
    .session_touch = async_session_touch,
    .session_revoke = async_session_revoke,
    .session_revoke_user = async_session_revoke_user,
    .history_last = async_history_last,
    .post = async_post,
};

/* Both connections ready: the relay catches up, presence writes this node's names. */
static void backend_available(struct redis_backend *backend)
{
        redis_relay_available(backend);
        redis_presence_available(backend);
}

static const struct redis_backend_events backend_events = {
    .init = redis_presence_init,
    .command_ready = redis_relay_command_ready,
    .subscriber_connected = redis_relay_subscriber_connected,
    .subscriber_lost = redis_relay_subscriber_lost,
    .subscriber_reply = redis_relay_subscriber_reply,
    .available = backend_available,
    .freeing = redis_presence_fini,
    .freed = redis_relay_fini,
};

int store_redis_open(struct store *store, struct bus *bus, struct ev_loop *loop,
                     const struct store_redis_options *options)
{
        struct redis_backend *backend;
        int r = redis_backend_new(loop, options, &backend_events, &backend);

        if (r < 0)
                return r;
        store->ops = &redis_store_sync_ops;
        store->async = &redis_async_ops;
        store->state = backend;
        redis_bus_fill(backend, bus);
        return 0;
}
