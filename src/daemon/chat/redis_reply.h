#ifndef ECHOD_CHAT_REDIS_REPLY_H
#define ECHOD_CHAT_REDIS_REPLY_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "store.h"

/*
 * Reading the Redis backend's replies into a struct store_reply, for the
 * asynchronous and the synchronous calls alike. Every reader checks the
 * reply's shape and answers -EBADMSG (or -EIO for an error reply) with its
 * words in error, never trusting a length or a type.
 */

enum redis_reply_kind {
        REDIS_REPLY_FOR_STATUS,   /* a script's 0, 1 (-ENOENT) or 2 (-EEXIST) */
        REDIS_REPLY_FOR_COUNT,    /* a script's count */
        REDIS_REPLY_FOR_USER,     /* HMGET name hash created */
        REDIS_REPLY_FOR_IDENTITY, /* a name or nil */
        REDIS_REPLY_FOR_SESSION,  /* HMGET token name created expires last_used */
        REDIS_REPLY_FOR_ID,       /* a stream ID */
        REDIS_REPLY_FOR_HISTORY,  /* XREVRANGE, newest first */
};

/* What a reader needs besides the reply. */
struct redis_reply_request {
        enum redis_reply_kind kind;
        const char *what; /* for error texts: "user_get", ... */
        char token_hash[AUTH_TOKEN_HASH_TEXT_SIZE];
        uint64_t now_ms, idle_ms;
};

/*
 * Read reply into *out (status included) as request says. History messages
 * go into a new array, *messages, pointing into reply: free(*messages)
 * after the reply. Returns out->status.
 */
int redis_reply_read(const struct redis_reply_request *request, const redisReply *reply,
                     struct store_reply *out, struct store_message **messages, char *error,
                     size_t error_size);

/* Read one XRANGE entry [id, [field, value, ...]]; node and sender may be NULL. Returns 0 or
 * -EBADMSG. */
int redis_reply_read_entry(const redisReply *entry, struct store_message *message,
                           const char **node, uint64_t *sender);

#endif
