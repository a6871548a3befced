#include "redis_reply.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_backend.h"

static bool is_string(const redisReply *reply)
{
        return reply && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS);
}

static bool is_array(const redisReply *reply, size_t elements)
{
        return reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == elements;
}

/* Copy a string reply into out (size bytes): a longer value is a bad reply. */
static int copy_string(const redisReply *reply, char *out, size_t size)
{
        if (!is_string(reply) || reply->len >= size || memchr(reply->str, '\0', reply->len))
                return -EBADMSG;
        memcpy(out, reply->str, reply->len);
        out[reply->len] = '\0';
        return 0;
}

static int read_number(const redisReply *reply, uint64_t *value)
{
        if (!is_string(reply))
                return -EBADMSG;
        return redis_parse_u64(reply->str, reply->len, value);
}

static int read_status(const redisReply *reply)
{
        if (reply->type != REDIS_REPLY_INTEGER)
                return -EBADMSG;
        switch (reply->integer) {
        case 0:
                return 0;
        case 1:
                return -ENOENT;
        case 2:
                return -EEXIST;
        default:
                return -EBADMSG;
        }
}

static int read_count(const redisReply *reply)
{
        if (reply->type != REDIS_REPLY_INTEGER || reply->integer < 0)
                return -EBADMSG;
        return reply->integer > INT_MAX ? INT_MAX : (int)reply->integer;
}

static int read_user(const redisReply *reply, struct store_user *user)
{
        if (!is_array(reply, 3))
                return -EBADMSG;
        if (reply->element[0]->type == REDIS_REPLY_NIL)
                return -ENOENT;
        if (copy_string(reply->element[0], user->name, sizeof(user->name)) < 0 ||
            copy_string(reply->element[1], user->hash, sizeof(user->hash)) < 0 ||
            read_number(reply->element[2], &user->created_ms) < 0)
                return -EBADMSG;
        return 0;
}

static int read_identity(const redisReply *reply, char name[CHAT_NAME_MAX + 1])
{
        if (reply->type == REDIS_REPLY_NIL)
                return -ENOENT;
        return copy_string(reply, name, CHAT_NAME_MAX + 1);
}

static int read_session(const struct redis_reply_request *request, const redisReply *reply,
                        struct store_session *session)
{
        const redisReply *token;
        uint64_t now = request->now_ms;

        if (!is_array(reply, 5))
                return -EBADMSG;
        token = reply->element[0];
        if (token->type == REDIS_REPLY_NIL)
                return -ENOENT;
        /* Found by the hash of a random token; the final word is a constant-time comparison. */
        if (!is_string(token) || token->len != AUTH_TOKEN_HASH_TEXT_LENGTH ||
            sodium_memcmp(token->str, request->token_hash, AUTH_TOKEN_HASH_TEXT_LENGTH) != 0)
                return -ENOENT;
        if (copy_string(reply->element[1], session->name, sizeof(session->name)) < 0 ||
            read_number(reply->element[2], &session->created_ms) < 0 ||
            read_number(reply->element[3], &session->expires_ms) < 0 ||
            read_number(reply->element[4], &session->last_used_ms) < 0)
                return -EBADMSG;
        session->expired =
            now >= session->expires_ms || (request->idle_ms > 0 && now > session->last_used_ms &&
                                           now - session->last_used_ms >= request->idle_ms);
        return 0;
}

static int read_id(const redisReply *reply, uint64_t *id)
{
        struct redis_stream_id stream_id;

        if (!is_string(reply) || redis_stream_id_parse(reply->str, reply->len, &stream_id) < 0)
                return -EBADMSG;
        *id = redis_stream_id_to_u64(stream_id);
        return 0;
}

int redis_reply_read_entry(const redisReply *entry, struct store_message *message,
                           const char **node, uint64_t *sender)
{
        const redisReply *fields;
        bool have_time = false;

        message->name = NULL;
        message->text = NULL;
        if (!is_array(entry, 2) || read_id(entry->element[0], &message->id) < 0)
                return -EBADMSG;
        fields = entry->element[1];
        if (!fields || fields->type != REDIS_REPLY_ARRAY || fields->elements % 2)
                return -EBADMSG;
        for (size_t i = 0; i < fields->elements; i += 2) {
                const redisReply *key = fields->element[i], *value = fields->element[i + 1];

                if (!is_string(key) || key->len != 1 || !is_string(value))
                        return -EBADMSG;
                switch (key->str[0]) {
                case 't':
                        have_time = read_number(value, &message->time_ms) == 0;
                        break;
                case 'n':
                        if (value->len == 0 || value->len > CHAT_NAME_MAX)
                                return -EBADMSG;
                        message->name = value->str;
                        break;
                case 'x':
                        if (value->len > CHAT_LINE_MAX)
                                return -EBADMSG;
                        message->text = value->str;
                        message->text_length = value->len;
                        break;
                case 'o':
                        if (node)
                                *node = value->str;
                        break;
                case 's':
                        if (sender && read_number(value, sender) < 0)
                                return -EBADMSG;
                        break;
                default:
                        break;
                }
        }
        return have_time && message->name && message->text ? 0 : -EBADMSG;
}

/* XREVRANGE gives the newest first; the caller wants the oldest first. */
static int read_history(const redisReply *reply, struct store_reply *out,
                        struct store_message **messages)
{
        size_t count;

        if (reply->type != REDIS_REPLY_ARRAY)
                return -EBADMSG;
        count = reply->elements;
        *messages = calloc(count ? count : 1, sizeof(**messages));
        if (!*messages)
                return -ENOMEM;
        for (size_t i = 0; i < count; i++)
                if (redis_reply_read_entry(reply->element[count - 1 - i], &(*messages)[i], NULL,
                                           NULL) < 0)
                        return -EBADMSG;
        out->messages = *messages;
        out->count = count;
        return count > INT_MAX ? INT_MAX : (int)count;
}

static int read_by_kind(const struct redis_reply_request *request, const redisReply *reply,
                        struct store_reply *out, struct store_message **messages)
{
        switch (request->kind) {
        case REDIS_REPLY_FOR_STATUS:
                return read_status(reply);
        case REDIS_REPLY_FOR_COUNT:
                return read_count(reply);
        case REDIS_REPLY_FOR_USER:
                return read_user(reply, &out->user);
        case REDIS_REPLY_FOR_IDENTITY:
                return read_identity(reply, out->name);
        case REDIS_REPLY_FOR_SESSION:
                return read_session(request, reply, &out->session);
        case REDIS_REPLY_FOR_ID:
                return read_id(reply, &out->id);
        case REDIS_REPLY_FOR_HISTORY:
                return read_history(reply, out, messages);
        }
        return -EBADMSG;
}

int redis_reply_read(const struct redis_reply_request *request, const redisReply *reply,
                     struct store_reply *out, struct store_message **messages, char *error,
                     size_t error_size)
{
        int r;

        *messages = NULL;
        if (reply->type == REDIS_REPLY_ERROR) {
                r = redis_backend_note_bad_reply(error, error_size, request->what, reply);
        } else {
                r = read_by_kind(request, reply, out, messages);
                if (r == -EBADMSG)
                        redis_backend_note_bad_reply(error, error_size, request->what, reply);
                else if (r == -ENOENT)
                        snprintf(error, error_size, "%s: not found", request->what);
                else if (r == -EEXIST)
                        snprintf(error, error_size, "%s: already exists", request->what);
                else if (r == -ENOMEM)
                        snprintf(error, error_size, "%s: out of memory", request->what);
        }
        if (r < 0) {
                out->messages = NULL;
                out->count = 0;
        }
        out->status = r;
        out->error = r < 0 ? error : "";
        return r;
}
