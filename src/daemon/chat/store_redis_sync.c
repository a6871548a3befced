#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_request.h"

/*
 * The Redis store's synchronous operations, on the backend's blocking
 * connection (1 s timeout, connected on first use, dropped on error): only
 * the operator's rare commands (echoctl) come this way, never the chat's
 * dialogue, which uses the asynchronous ones.
 */

/*
 * Run a built request (r: what building it said) and read its reply into
 * *out; the caller frees *reply (freeReplyObject) and *messages (free).
 * Returns the status.
 */
static int run_sync(struct redis_backend *backend, const struct redis_request *request, int r,
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
static int run_sync_simple(struct redis_backend *backend, const struct redis_request *request,
                           int r, struct store_reply *out)
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
        struct redis_request request = {0};
        struct store_reply out = {0};
        int r = run_sync_simple(state, &request, redis_request_user_get(&request, name), &out);

        if (r == 0)
                *user = out.user;
        return r;
}

static int sync_user_create(void *state, const char *name, const char *hash, uint64_t now_ms)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request,
                               redis_request_user_create(&request, name, hash, now_ms), &out);
}

static int sync_user_set_hash(void *state, const char *name, const char *hash)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, redis_request_user_set_hash(&request, name, hash),
                               &out);
}

static int sync_user_remove(void *state, const char *name)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, redis_request_user_remove(&request, name), &out);
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
        struct redis_request request = {0};
        redisReply *reply;
        int r;

        redis_request_user_list(&request);
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
        struct redis_request request = {0};
        struct store_reply out = {0};
        int r =
            run_sync_simple(state, &request, redis_request_identity_get(&request, address), &out);

        if (r == 0)
                memcpy(name, out.name, sizeof(out.name));
        return r;
}

static int sync_identity_set(void *state, const char *address, const char *name)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, redis_request_identity_set(&request, address, name),
                               &out);
}

static int sync_identity_forget_all(void *state)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, redis_request_identity_forget_all(&request), &out);
}

static int sync_session_create(void *state, const char *token_hash, const char *name,
                               uint64_t created_ms, uint64_t expires_ms)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(
            state, &request,
            redis_request_session_create(&request, token_hash, name, created_ms, expires_ms), &out);
}

static int sync_session_lookup(void *state, const char *token_hash, uint64_t now_ms,
                               uint64_t idle_ms, struct store_session *session)
{
        struct redis_request request = {0};
        struct store_reply out = {0};
        int r = run_sync_simple(state, &request,
                                redis_request_session_lookup(&request, token_hash, now_ms, idle_ms),
                                &out);

        if (r == 0)
                *session = out.session;
        return r;
}

static int sync_session_touch(void *state, const char *token_hash, uint64_t now_ms)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request,
                               redis_request_session_touch(&request, token_hash, now_ms), &out);
}

static int sync_session_revoke(void *state, const char *token_hash)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, redis_request_session_revoke(&request, token_hash),
                               &out);
}

static int sync_session_revoke_user(void *state, const char *name)
{
        struct redis_request request = {0};
        struct store_reply out;

        return run_sync_simple(state, &request, redis_request_session_revoke_user(&request, name),
                               &out);
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
        struct redis_request request = {0};
        struct store_reply out = {0};
        int r = redis_request_history_append(&request, state, time_ms, name, text, text_length);

        r = run_sync_simple(state, &request, r, &out);
        if (r == 0 && id)
                *id = out.id;
        return r;
}

static int sync_history_last(void *state, size_t count, store_message_fn each, void *context)
{
        struct redis_request request = {0};
        struct store_reply out = {0};
        struct store_message *messages;
        redisReply *reply;
        int r = run_sync(state, &request, redis_request_history_last(&request, state, count), &out,
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

const struct store_ops redis_store_sync_ops = {
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
