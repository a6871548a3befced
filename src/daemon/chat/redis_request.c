#include "redis_request.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "redis_scripts.h"

bool redis_request_name_ok(const char *name)
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

void redis_request_add(struct redis_request *request, const char *data, size_t length)
{
        if (request->argc == REDIS_REQUEST_ARGS_MAX)
                return; /* the builders stay well below; a test would see the command refused */
        request->argv[request->argc] = data;
        request->lengths[request->argc] = length;
        request->argc++;
}

static void redis_request_add_text(struct redis_request *request, const char *text)
{
        redis_request_add(request, text, strlen(text));
}

static void redis_request_add_number(struct redis_request *request, uint64_t value)
{
        char *text = request->numbers[request->number_count++];

        snprintf(text, sizeof(request->numbers[0]), "%" PRIu64, value);
        redis_request_add_text(request, text);
}

static void redis_request_add_lower(struct redis_request *request, const char *name)
{
        redis_name_lower(name, request->lower);
        redis_request_add_text(request, request->lower);
}

static void redis_request_start_script(struct redis_request *request, const char *what,
                                       enum redis_reply_kind kind, const char *script)
{
        request->reply.what = what;
        request->reply.kind = kind;
        redis_request_add_text(request, "EVAL");
        redis_request_add_text(request, script);
        redis_request_add_text(request, "0");
}

static void redis_request_start_command(struct redis_request *request, const char *what,
                                        enum redis_reply_kind kind, const char *command)
{
        request->reply.what = what;
        request->reply.kind = kind;
        redis_request_add_text(request, command);
}

/* Each request_* builds one operation and returns 0, or the -errno its arguments deserve. */

int redis_request_user_get(struct redis_request *request, const char *name)
{
        if (!redis_request_name_ok(name))
                return -ENOENT;
        redis_request_start_command(request, "user_get", REDIS_REPLY_FOR_USER, "HMGET");
        redis_name_lower(name, request->lower);
        snprintf(request->key, sizeof(request->key), "echod:user:%s", request->lower);
        redis_request_add_text(request, request->key);
        redis_request_add_text(request, "name");
        redis_request_add_text(request, "hash");
        redis_request_add_text(request, "created");
        return 0;
}

int redis_request_user_create(struct redis_request *request, const char *name, const char *hash,
                              uint64_t now_ms)
{
        if (!redis_request_name_ok(name) || !hash_ok(hash))
                return -EINVAL;
        redis_request_start_script(request, "user_create", REDIS_REPLY_FOR_STATUS,
                                   redis_script_user_create);
        redis_request_add_lower(request, name);
        redis_request_add_text(request, name);
        redis_request_add_text(request, hash);
        redis_request_add_number(request, now_ms);
        return 0;
}

int redis_request_user_set_hash(struct redis_request *request, const char *name, const char *hash)
{
        if (!hash_ok(hash))
                return -EINVAL;
        if (!redis_request_name_ok(name))
                return -ENOENT;
        redis_request_start_script(request, "user_set_hash", REDIS_REPLY_FOR_STATUS,
                                   redis_script_user_set_hash);
        redis_request_add_lower(request, name);
        redis_request_add_text(request, hash);
        return 0;
}

int redis_request_user_remove(struct redis_request *request, const char *name)
{
        if (!redis_request_name_ok(name))
                return -ENOENT;
        redis_request_start_script(request, "user_remove", REDIS_REPLY_FOR_STATUS,
                                   redis_script_user_remove);
        redis_request_add_lower(request, name);
        return 0;
}

int redis_request_identity_get(struct redis_request *request, const char *address)
{
        if (!address_ok(address))
                return -ENOENT;
        redis_request_start_script(request, "identity_get", REDIS_REPLY_FOR_IDENTITY,
                                   redis_script_identity_get);
        redis_request_add_text(request, address);
        return 0;
}

int redis_request_identity_set(struct redis_request *request, const char *address, const char *name)
{
        if (!address_ok(address))
                return -EINVAL;
        if (!redis_request_name_ok(name))
                return -ENOENT;
        redis_request_start_script(request, "identity_set", REDIS_REPLY_FOR_STATUS,
                                   redis_script_identity_set);
        redis_request_add_text(request, address);
        redis_request_add_lower(request, name);
        return 0;
}

/*
 * A session's key outlives its absolute expiry by a grace period, so that a
 * token past its lifetime is still found and answered "expired" (as SQLite
 * answers until its hourly purge) rather than "unknown".
 */
#define REDIS_SESSION_GRACE_MS (3600ull * 1000)

int redis_request_session_create(struct redis_request *request, const char *token_hash,
                                 const char *name, uint64_t created_ms, uint64_t expires_ms)
{
        if (!token_hash_ok(token_hash))
                return -EINVAL;
        if (!redis_request_name_ok(name))
                return -ENOENT;
        redis_request_start_script(request, "session_create", REDIS_REPLY_FOR_STATUS,
                                   redis_script_session_create);
        redis_request_add_text(request, token_hash);
        redis_request_add_lower(request, name);
        redis_request_add_number(request, created_ms);
        redis_request_add_number(request, expires_ms);
        redis_request_add_number(request, expires_ms + REDIS_SESSION_GRACE_MS);
        return 0;
}

int redis_request_session_lookup(struct redis_request *request, const char *token_hash,
                                 uint64_t now_ms, uint64_t idle_ms)
{
        if (!token_hash_ok(token_hash))
                return -ENOENT;
        redis_request_start_command(request, "session_lookup", REDIS_REPLY_FOR_SESSION, "HMGET");
        snprintf(request->key, sizeof(request->key), "echod:session:%s", token_hash);
        redis_request_add_text(request, request->key);
        redis_request_add_text(request, "token");
        redis_request_add_text(request, "name");
        redis_request_add_text(request, "created");
        redis_request_add_text(request, "expires");
        redis_request_add_text(request, "last_used");
        memcpy(request->reply.token_hash, token_hash, AUTH_TOKEN_HASH_TEXT_SIZE);
        request->reply.now_ms = now_ms;
        request->reply.idle_ms = idle_ms;
        return 0;
}

int redis_request_session_touch(struct redis_request *request, const char *token_hash,
                                uint64_t now_ms)
{
        if (!token_hash_ok(token_hash))
                return -ENOENT;
        redis_request_start_script(request, "session_touch", REDIS_REPLY_FOR_STATUS,
                                   redis_script_session_touch);
        redis_request_add_text(request, token_hash);
        redis_request_add_number(request, now_ms);
        return 0;
}

int redis_request_session_revoke(struct redis_request *request, const char *token_hash)
{
        if (!token_hash_ok(token_hash))
                return -ENOENT;
        redis_request_start_script(request, "session_revoke", REDIS_REPLY_FOR_STATUS,
                                   redis_script_session_revoke);
        redis_request_add_text(request, token_hash);
        return 0;
}

/* A name that cannot exist has no session: 0 removed, as with SQLite (positive: done at once). */
int redis_request_session_revoke_user(struct redis_request *request, const char *name)
{
        if (!redis_request_name_ok(name))
                return 1;
        redis_request_start_script(request, "session_revoke_user", REDIS_REPLY_FOR_COUNT,
                                   redis_script_session_revoke_user);
        redis_request_add_lower(request, name);
        return 0;
}

int redis_request_history_last(struct redis_request *request, const struct redis_backend *backend,
                               size_t count)
{
        if (count > backend->history_max)
                count = backend->history_max;
        if (count > REDIS_HISTORY_READ_MAX)
                count = REDIS_HISTORY_READ_MAX;
        redis_request_start_command(request, "history_last", REDIS_REPLY_FOR_HISTORY, "XREVRANGE");
        redis_request_add_text(request, "echod:history");
        redis_request_add_text(request, "+");
        redis_request_add_text(request, "-");
        redis_request_add_text(request, "COUNT");
        redis_request_add_number(request, count);
        return count == 0 ? 1 : 0;
}

int redis_request_post(struct redis_request *request, const struct redis_backend *backend,
                       const struct bus_message *message, uint64_t deadline_ms)
{
        if (message->kind != BUS_MESSAGE || !redis_request_name_ok(message->name) ||
            message->text_length > CHAT_LINE_MAX || (message->text_length && !message->text))
                return -EINVAL;
        redis_request_start_script(request, "post", REDIS_REPLY_FOR_ID, redis_script_post);
        redis_request_add_number(request, backend->history_max);
        redis_request_add_number(request, message->time_ms);
        redis_request_add_text(request, message->name);
        redis_request_add(request, message->text_length ? message->text : "", message->text_length);
        redis_request_add_text(request, backend->channel);
        redis_request_add_text(request, backend->node);
        redis_request_add_number(request, message->sender);
        redis_request_add_number(request, deadline_ms);
        return 0;
}

int redis_request_user_list(struct redis_request *request)
{
        redis_request_start_script(request, "user_list", REDIS_REPLY_FOR_COUNT,
                                   redis_script_user_list);
        return 0;
}

int redis_request_identity_forget_all(struct redis_request *request)
{
        redis_request_start_script(request, "identity_forget_all", REDIS_REPLY_FOR_COUNT,
                                   redis_script_identity_forget_all);
        return 0;
}

/* Only into the history: whoever appends this way relays with bus_publish. */
int redis_request_history_append(struct redis_request *request, const struct redis_backend *backend,
                                 uint64_t time_ms, const char *name, const char *text,
                                 size_t text_length)
{
        if (!redis_request_name_ok(name) || text_length > CHAT_LINE_MAX || (text_length && !text))
                return -EINVAL;
        redis_request_start_command(request, "history_append", REDIS_REPLY_FOR_ID, "XADD");
        redis_request_add_text(request, "echod:history");
        redis_request_add_text(request, "MAXLEN");
        redis_request_add_text(request, "~");
        redis_request_add_number(request, backend->history_max);
        redis_request_add_text(request, "*");
        redis_request_add_text(request, "t");
        redis_request_add_number(request, time_ms);
        redis_request_add_text(request, "n");
        redis_request_add_text(request, name);
        redis_request_add_text(request, "x");
        redis_request_add(request, text_length ? text : "", text_length);
        return 0;
}
