#ifndef ECHOD_CHAT_REDIS_REQUEST_H
#define ECHOD_CHAT_REDIS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "redis_backend.h"
#include "redis_reply.h"
#include "store.h"

/*
 * The Redis store's commands, built once for the asynchronous calls
 * (store_redis.c) and the synchronous ones (store_redis_sync.c) alike: an
 * argument vector for hiredis plus how to read the reply. Each builder
 * returns 0, a positive number when the answer is known without asking
 * Redis (status 0: nothing to find), or the -errno its arguments deserve
 * (the same as SQLite's for the same arguments).
 */

#define REDIS_REQUEST_ARGS_MAX    16
#define REDIS_REQUEST_NUMBERS_MAX 4
#define REDIS_REQUEST_KEY_MAX     (sizeof("echod:session:") + AUTH_TOKEN_HASH_TEXT_LENGTH)

struct redis_request {
        struct redis_reply_request reply;
        int argc;
        const char *argv[REDIS_REQUEST_ARGS_MAX];
        size_t lengths[REDIS_REQUEST_ARGS_MAX];
        char numbers[REDIS_REQUEST_NUMBERS_MAX][24];
        int number_count;
        char lower[CHAT_NAME_MAX + 1];
        char key[REDIS_REQUEST_KEY_MAX];
};

/* True for a valid chat name. */
bool redis_request_name_ok(const char *name);

/* Append one argument (not copied: it must outlive the send). */
void redis_request_add(struct redis_request *request, const char *data, size_t length);

int redis_request_user_get(struct redis_request *request, const char *name);
int redis_request_user_create(struct redis_request *request, const char *name, const char *hash,
                              uint64_t now_ms);
int redis_request_user_set_hash(struct redis_request *request, const char *name, const char *hash);
int redis_request_user_remove(struct redis_request *request, const char *name);
int redis_request_user_list(struct redis_request *request);
int redis_request_identity_get(struct redis_request *request, const char *address);
int redis_request_identity_set(struct redis_request *request, const char *address,
                               const char *name);
int redis_request_identity_forget_all(struct redis_request *request);
int redis_request_session_create(struct redis_request *request, const char *token_hash,
                                 const char *name, uint64_t created_ms, uint64_t expires_ms);
int redis_request_session_lookup(struct redis_request *request, const char *token_hash,
                                 uint64_t now_ms, uint64_t idle_ms);
int redis_request_session_touch(struct redis_request *request, const char *token_hash,
                                uint64_t now_ms);
int redis_request_session_revoke(struct redis_request *request, const char *token_hash);
int redis_request_session_revoke_user(struct redis_request *request, const char *name);
int redis_request_history_append(struct redis_request *request, const struct redis_backend *backend,
                                 uint64_t time_ms, const char *name, const char *text,
                                 size_t text_length);
int redis_request_history_last(struct redis_request *request, const struct redis_backend *backend,
                               size_t count);
/* deadline_ms: Redis's time (ms) past which the script stores and relays nothing. */
int redis_request_post(struct redis_request *request, const struct redis_backend *backend,
                       const struct bus_message *message, uint64_t deadline_ms);

/* The synchronous operations (store_redis_sync.c), for the operator's commands. */
extern const struct store_ops redis_store_sync_ops;

#endif
