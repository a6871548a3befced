#include "store_redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_backend.h"
#include "redis_reply.h"
#include "redis_scripts.h"

/*
 * The chat store on Redis. Each operation is one command (a script where
 * several keys change together) built once by a request_* function and
 * read by redis_reply_read(), whether it goes out on the loop (the
 * store_async_ops, for the chat) or on the blocking connection (the
 * store_ops, for the operator's rare commands).
 */

#define REQUEST_ARGS_MAX    12
#define REQUEST_NUMBERS_MAX 4
#define KEY_MAX             (sizeof("echod:session:") + AUTH_TOKEN_HASH_TEXT_LENGTH)

struct request {
        struct redis_reply_request reply;
        int argc;
        const char *argv[REQUEST_ARGS_MAX];
        size_t lengths[REQUEST_ARGS_MAX];
        char numbers[REQUEST_NUMBERS_MAX][24];
        int number_count;
        char lower[CHAT_NAME_MAX + 1];
        char key[KEY_MAX];
};

/* An asynchronous call on its way: the request's reading part and whom to tell. */
struct call {
        struct redis_backend *backend;
        struct redis_reply_request reply;
        store_done_fn done;
        void *context;
};

static bool name_ok(const char *name)
{
        return name && chat_name_check(name, strlen(name)) == 0;
}

static bool token_hash_ok(const char *token_hash)
{
        return token_hash && strlen(token_hash) == AUTH_TOKEN_HASH_TEXT_LENGTH;
}

static bool hash_ok(const char *hash)
{
        return hash && strlen(hash) < AUTH_HASH_SIZE;
}

static bool address_ok(const char *address)
{
        return address && address[0] && strlen(address) <= STORE_ADDRESS_MAX;
}

static void add(struct request *request, const char *data, size_t length)
{
        request->argv[request->argc] = data;
        request->lengths[request->argc] = length;
        request->argc++;
}

static void add_text(struct request *request, const char *text)
{
        add(request, text, strlen(text));
}

static void add_number(struct request *request, uint64_t value)
{
        char *text = request->numbers[request->number_count++];

        snprintf(text, sizeof(request->numbers[0]), "%" PRIu64, value);
        add_text(request, text);
}

static void add_lower(struct request *request, const char *name)
{
        redis_name_lower(name, request->lower);
        add_text(request, request->lower);
}

static void start_script(struct request *request, const char *what, enum redis_reply_kind kind,
                         const char *script)
{
        request->reply.what = what;
        request->reply.kind = kind;
        add_text(request, "EVAL");
        add_text(request, script);
        add_text(request, "0");
}

static void start_command(struct request *request, const char *what, enum redis_reply_kind kind,
                          const char *command)
{
        request->reply.what = what;
        request->reply.kind = kind;
        add_text(request, command);
}

/* Each request_* builds one operation and returns 0, or the -errno its arguments deserve. */

static int request_user_get(struct request *request, const char *name)
{
        if (!name_ok(name))
                return -ENOENT;
        start_command(request, "user_get", REDIS_REPLY_FOR_USER, "HMGET");
        redis_name_lower(name, request->lower);
        snprintf(request->key, sizeof(request->key), "echod:user:%s", request->lower);
        add_text(request, request->key);
        add_text(request, "name");
        add_text(request, "hash");
        add_text(request, "created");
        return 0;
}

static int request_user_create(struct request *request, const char *name, const char *hash,
                               uint64_t now_ms)
{
        if (!name_ok(name) || !hash_ok(hash))
                return -EINVAL;
        start_script(request, "user_create", REDIS_REPLY_FOR_STATUS, redis_script_user_create);
        add_lower(request, name);
        add_text(request, name);
        add_text(request, hash);
        add_number(request, now_ms);
        return 0;
}

static int request_user_set_hash(struct request *request, const char *name, const char *hash)
{
        if (!hash_ok(hash))
                return -EINVAL;
        if (!name_ok(name))
                return -ENOENT;
        start_script(request, "user_set_hash", REDIS_REPLY_FOR_STATUS, redis_script_user_set_hash);
        add_lower(request, name);
        add_text(request, hash);
        return 0;
}

static int request_user_remove(struct request *request, const char *name)
{
        if (!name_ok(name))
                return -ENOENT;
        start_script(request, "user_remove", REDIS_REPLY_FOR_STATUS, redis_script_user_remove);
        add_lower(request, name);
        return 0;
}

static int request_identity_get(struct request *request, const char *address)
{
        if (!address_ok(address))
                return -ENOENT;
        start_script(request, "identity_get", REDIS_REPLY_FOR_IDENTITY, redis_script_identity_get);
        add_text(request, address);
        return 0;
}

static int request_identity_set(struct request *request, const char *address, const char *name)
{
        if (!address_ok(address))
                return -EINVAL;
        if (!name_ok(name))
                return -ENOENT;
        start_script(request, "identity_set", REDIS_REPLY_FOR_STATUS, redis_script_identity_set);
        add_text(request, address);
        add_lower(request, name);
        return 0;
}

static int request_session_create(struct request *request, const char *token_hash, const char *name,
                                  uint64_t created_ms, uint64_t expires_ms)
{
        if (!token_hash_ok(token_hash))
                return -EINVAL;
        if (!name_ok(name))
                return -ENOENT;
        start_script(request, "session_create", REDIS_REPLY_FOR_STATUS,
                     redis_script_session_create);
        add_text(request, token_hash);
        add_lower(request, name);
        add_number(request, created_ms);
        add_number(request, expires_ms);
        return 0;
}

static int request_session_lookup(struct request *request, const char *token_hash, uint64_t now_ms,
                                  uint64_t idle_ms)
{
        if (!token_hash_ok(token_hash))
                return -ENOENT;
        start_command(request, "session_lookup", REDIS_REPLY_FOR_SESSION, "HMGET");
        snprintf(request->key, sizeof(request->key), "echod:session:%s", token_hash);
        add_text(request, request->key);
        add_text(request, "token");
        add_text(request, "name");
        add_text(request, "created");
        add_text(request, "expires");
        add_text(request, "last_used");
        memcpy(request->reply.token_hash, token_hash, AUTH_TOKEN_HASH_TEXT_SIZE);
        request->reply.now_ms = now_ms;
        request->reply.idle_ms = idle_ms;
        return 0;
}

static int request_session_touch(struct request *request, const char *token_hash, uint64_t now_ms)
{
        if (!token_hash_ok(token_hash))
                return -ENOENT;
        start_script(request, "session_touch", REDIS_REPLY_FOR_STATUS, redis_script_session_touch);
        add_text(request, token_hash);
        add_number(request, now_ms);
        return 0;
}

static int request_session_revoke(struct request *request, const char *token_hash)
{
        if (!token_hash_ok(token_hash))
                return -ENOENT;
        start_script(request, "session_revoke", REDIS_REPLY_FOR_STATUS,
                     redis_script_session_revoke);
        add_text(request, token_hash);
        return 0;
}

/* A name that cannot exist has no session: 0 removed, as with SQLite (positive: done at once). */
static int request_session_revoke_user(struct request *request, const char *name)
{
        if (!name_ok(name))
                return 1;
        start_script(request, "session_revoke_user", REDIS_REPLY_FOR_COUNT,
                     redis_script_session_revoke_user);
        add_lower(request, name);
        return 0;
}

static int request_history_last(struct request *request, const struct redis_backend *backend,
                                size_t count)
{
        if (count > backend->history_max)
                count = backend->history_max;
        start_command(request, "history_last", REDIS_REPLY_FOR_HISTORY, "XREVRANGE");
        add_text(request, "echod:history");
        add_text(request, "+");
        add_text(request, "-");
        add_text(request, "COUNT");
        add_number(request, count);
        return count == 0 ? 1 : 0;
}

static int request_post(struct request *request, const struct redis_backend *backend,
                        const struct bus_message *message)
{
        if (message->kind != BUS_MESSAGE || !name_ok(message->name) ||
            message->text_length > CHAT_LINE_MAX || (message->text_length && !message->text))
                return -EINVAL;
        start_script(request, "post", REDIS_REPLY_FOR_ID, redis_script_post);
        add_number(request, backend->history_max);
        add_number(request, message->time_ms);
        add_text(request, message->name);
        add(request, message->text_length ? message->text : "", message->text_length);
        add_text(request, backend->channel);
        add_text(request, backend->node);
        add_number(request, message->sender);
        return 0;
}

/* --- asynchronous calls --- */

static void end_at_once(store_done_fn done, void *context, int status, const char *error)
{
        struct store_reply reply = {.status = status, .error = status < 0 ? error : ""};

        if (done)
                done(context, &reply);
}

static void call_replied(redisAsyncContext *redis, void *reply_opaque, void *privdata)
{
        struct call *call = privdata;
        const redisReply *reply = reply_opaque;
        struct store_reply out = {0};
        struct store_message *messages = NULL;
        char error[REDIS_ERROR_MAX] = "";

        (void)redis;
        if (!reply) {
                bool closing = call->backend->freeing;

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

/* Send a built request (r: what building it said) and end in exactly one call of done. */
static void send_async(struct redis_backend *backend, const struct request *request, int r,
                       store_done_fn done, void *context)
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
        *call = (struct call){backend, request->reply, done, context};
        if (redis_backend_command(backend, call_replied, call, request->argc, request->argv,
                                  request->lengths) < 0) {
                free(call);
                end_at_once(done, context, -EAGAIN, "redis unavailable: cannot send");
        }
}

static bool async_available(void *state)
{
        struct redis_backend *backend = state;

        return backend->available;
}

static void async_user_get(void *state, const char *name, store_done_fn done, void *context)
{
        struct request request = {0};

        send_async(state, &request, request_user_get(&request, name), done, context);
}

static void async_user_create(void *state, const char *name, const char *hash, uint64_t now_ms,
                              store_done_fn done, void *context)
{
        struct request request = {0};

        send_async(state, &request, request_user_create(&request, name, hash, now_ms), done,
                   context);
}

static void async_user_set_hash(void *state, const char *name, const char *hash, store_done_fn done,
                                void *context)
{
        struct request request = {0};

        send_async(state, &request, request_user_set_hash(&request, name, hash), done, context);
}

static void async_identity_get(void *state, const char *address, store_done_fn done, void *context)
{
        struct request request = {0};

        send_async(state, &request, request_identity_get(&request, address), done, context);
}

static void async_identity_set(void *state, const char *address, const char *name,
                               store_done_fn done, void *context)
{
        struct request request = {0};

        send_async(state, &request, request_identity_set(&request, address, name), done, context);
}

static void async_session_create(void *state, const char *token_hash, const char *name,
                                 uint64_t created_ms, uint64_t expires_ms, store_done_fn done,
                                 void *context)
{
        struct request request = {0};

        send_async(state, &request,
                   request_session_create(&request, token_hash, name, created_ms, expires_ms), done,
                   context);
}

static void async_session_lookup(void *state, const char *token_hash, uint64_t now_ms,
                                 uint64_t idle_ms, store_done_fn done, void *context)
{
        struct request request = {0};

        send_async(state, &request, request_session_lookup(&request, token_hash, now_ms, idle_ms),
                   done, context);
}

static void async_session_touch(void *state, const char *token_hash, uint64_t now_ms,
                                store_done_fn done, void *context)
{
        struct request request = {0};

        send_async(state, &request, request_session_touch(&request, token_hash, now_ms), done,
                   context);
}

static void async_session_revoke(void *state, const char *token_hash, store_done_fn done,
                                 void *context)
{
        struct request request = {0};

        send_async(state, &request, request_session_revoke(&request, token_hash), done, context);
}

static void async_session_revoke_user(void *state, const char *name, store_done_fn done,
                                      void *context)
{
        struct request request = {0};

        send_async(state, &request, request_session_revoke_user(&request, name), done, context);
}

static void async_history_last(void *state, size_t count, store_done_fn done, void *context)
{
        struct request request = {0};

        send_async(state, &request, request_history_last(&request, state, count), done, context);
}

static void async_post(void *state, const struct bus_message *message, store_done_fn done,
                       void *context)
{
        struct request request = {0};

        send_async(state, &request, request_post(&request, state, message), done, context);
}

static const struct store_async_ops redis_async_ops = {
    .available = async_available,
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

/* --- synchronous calls, on the blocking connection --- */

/*
 * Run a built request (r: what building it said) and read its reply into
 * *out; the caller frees *reply (freeReplyObject) and *messages (free).
 * Returns the status.
 */
static int run_sync(struct redis_backend *backend, const struct request *request, int r,
                    struct store_reply *out, redisReply **reply, struct store_message **messages)
{
        *reply = NULL;
        *messages = NULL;
        if (r != 0) {
                snprintf(backend->sync_error, sizeof(backend->sync_error), "%s",
                         r == -EINVAL ? "invalid argument" : "not found");
                return r > 0 ? 0 : r;
        }
        r = redis_backend_command_sync(backend, request->argc, request->argv, request->lengths,
                                       reply);
        if (r < 0)
                return r;
        return redis_reply_read(&request->reply, *reply, out, messages, backend->sync_error,
                                sizeof(backend->sync_error));
}

/* Run a request whose reply is only a status or a count. */
static int run_sync_simple(struct redis_backend *backend, const struct request *request, int r,
                           struct store_reply *out)
{
        struct store_message *messages;
        redisReply *reply;

        r = run_sync(backend, request, r, out, &reply, &messages);
        freeReplyObject(reply);
        free(messages);
        return r;
}

static void sync_free(void *state)
{
        redis_backend_free(state);
}

static const char *sync_last_error(void *state)
{
        struct redis_backend *backend = state;

        return backend->sync_error;
}

static int sync_user_get(void *state, const char *name, struct store_user *user)
{
        struct request request = {0};
        struct store_reply out = {0};
        int r = run_sync_simple(state, &request, request_user_get(&request, name), &out);

        if (r == 0)
                *user = out.user;
        return r;
}

static int sync_user_create(void *state, const char *name, const char *hash, uint64_t now_ms)
{
        struct request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, request_user_create(&request, name, hash, now_ms),
                               &out);
}

static int sync_user_set_hash(void *state, const char *name, const char *hash)
{
        struct request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, request_user_set_hash(&request, name, hash), &out);
}

static int sync_user_remove(void *state, const char *name)
{
        struct request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, request_user_remove(&request, name), &out);
}

/* The script's reply: name, created_ms, name, created_ms, ... */
static int each_user(struct redis_backend *backend, const redisReply *reply, store_user_fn each,
                     void *context)
{
        struct store_user user = {0};
        int count = 0, r;

        if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2)
                return redis_backend_note_bad_reply(
                    backend->sync_error, sizeof(backend->sync_error), "user_list", reply);
        for (size_t i = 0; i < reply->elements; i += 2) {
                const redisReply *name = reply->element[i], *created = reply->element[i + 1];

                if (name->type != REDIS_REPLY_STRING || name->len > CHAT_NAME_MAX ||
                    created->type != REDIS_REPLY_STRING ||
                    redis_parse_u64(created->str, created->len, &user.created_ms) < 0)
                        return redis_backend_note_bad_reply(
                            backend->sync_error, sizeof(backend->sync_error), "user_list", reply);
                memcpy(user.name, name->str, name->len);
                user.name[name->len] = '\0';
                r = each(context, &user);
                if (r < 0)
                        return r;
                count++;
        }
        return count;
}

static int sync_user_list(void *state, store_user_fn each, void *context)
{
        struct redis_backend *backend = state;
        struct request request = {0};
        redisReply *reply;
        int r;

        start_script(&request, "user_list", REDIS_REPLY_FOR_COUNT, redis_script_user_list);
        r = redis_backend_command_sync(backend, request.argc, request.argv, request.lengths,
                                       &reply);
        if (r < 0)
                return r;
        r = each_user(backend, reply, each, context);
        freeReplyObject(reply);
        return r;
}

static int sync_identity_get(void *state, const char *address, char name[CHAT_NAME_MAX + 1])
{
        struct request request = {0};
        struct store_reply out = {0};
        int r = run_sync_simple(state, &request, request_identity_get(&request, address), &out);

        if (r == 0)
                memcpy(name, out.name, sizeof(out.name));
        return r;
}

static int sync_identity_set(void *state, const char *address, const char *name)
{
        struct request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, request_identity_set(&request, address, name),
                               &out);
}

static int sync_identity_forget_all(void *state)
{
        struct request request = {0};
        struct store_reply out;

        start_script(&request, "identity_forget_all", REDIS_REPLY_FOR_COUNT,
                     redis_script_identity_forget_all);
        return run_sync_simple(state, &request, 0, &out);
}

static int sync_session_create(void *state, const char *token_hash, const char *name,
                               uint64_t created_ms, uint64_t expires_ms)
{
        struct request request = {0};
        struct store_reply out;

        return run_sync_simple(
            state, &request,
            request_session_create(&request, token_hash, name, created_ms, expires_ms), &out);
}

static int sync_session_lookup(void *state, const char *token_hash, uint64_t now_ms,
                               uint64_t idle_ms, struct store_session *session)
{
        struct request request = {0};
        struct store_reply out = {0};
        int r = run_sync_simple(
            state, &request, request_session_lookup(&request, token_hash, now_ms, idle_ms), &out);

        if (r == 0)
                *session = out.session;
        return r;
}

static int sync_session_touch(void *state, const char *token_hash, uint64_t now_ms)
{
        struct request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, request_session_touch(&request, token_hash, now_ms),
                               &out);
}

static int sync_session_revoke(void *state, const char *token_hash)
{
        struct request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, request_session_revoke(&request, token_hash), &out);
}

static int sync_session_revoke_user(void *state, const char *name)
{
        struct request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, request_session_revoke_user(&request, name), &out);
}

/*
 * Redis removes a session at its absolute expiry itself (PEXPIREAT); one
 * only idle stays until then, and session_lookup reports it expired.
 */
static int sync_session_purge_expired(void *state, uint64_t now_ms, uint64_t idle_ms)
{
        (void)state;
        (void)now_ms;
        (void)idle_ms;
        return 0;
}

/* Only into the history: whoever appends this way relays with bus_publish. */
static int sync_history_append(void *state, uint64_t time_ms, const char *name, const char *text,
                               size_t text_length, uint64_t *id)
{
        struct redis_backend *backend = state;
        struct request request = {0};
        struct store_reply out = {0};
        int r = 0;

        if (!name_ok(name) || text_length > CHAT_LINE_MAX || (text_length && !text)) {
                r = -EINVAL;
        } else {
                start_command(&request, "history_append", REDIS_REPLY_FOR_ID, "XADD");
                add_text(&request, "echod:history");
                add_text(&request, "MAXLEN");
                add_text(&request, "~");
                add_number(&request, backend->history_max);
                add_text(&request, "*");
                add_text(&request, "t");
                add_number(&request, time_ms);
                add_text(&request, "n");
                add_text(&request, name);
                add_text(&request, "x");
                add(&request, text_length ? text : "", text_length);
        }
        r = run_sync_simple(backend, &request, r, &out);
        if (r == 0 && id)
                *id = out.id;
        return r;
}

static int sync_history_last(void *state, size_t count, store_message_fn each, void *context)
{
        struct request request = {0};
        struct store_reply out = {0};
        struct store_message *messages;
        redisReply *reply;
        int r = run_sync(state, &request, request_history_last(&request, state, count), &out,
                         &reply, &messages);

        for (size_t i = 0; r >= 0 && i < out.count; i++) {
                int stop = each(context, &messages[i]);

                if (stop < 0)
                        r = stop;
        }
        freeReplyObject(reply);
        free(messages);
        return r;
}

static const struct store_ops redis_ops = {
    .kind = "redis",
    .free = sync_free,
    .last_error = sync_last_error,
    .user_get = sync_user_get,
    .user_create = sync_user_create,
    .user_set_hash = sync_user_set_hash,
    .user_remove = sync_user_remove,
    .user_list = sync_user_list,
    .identity_get = sync_identity_get,
    .identity_set = sync_identity_set,
    .identity_forget_all = sync_identity_forget_all,
    .session_create = sync_session_create,
    .session_lookup = sync_session_lookup,
    .session_touch = sync_session_touch,
    .session_revoke = sync_session_revoke,
    .session_revoke_user = sync_session_revoke_user,
    .session_purge_expired = sync_session_purge_expired,
    .history_append = sync_history_append,
    .history_last = sync_history_last,
};

int store_redis_open(struct store *store, struct bus *bus, struct ev_loop *loop,
                     const struct store_redis_options *options)
{
        struct redis_backend *backend;
        int r = redis_backend_new(loop, options, &backend);

        if (r < 0)
                return r;
        store->ops = &redis_ops;
        store->async = &redis_async_ops;
        store->state = backend;
        redis_bus_fill(backend, bus);
        return 0;
}
