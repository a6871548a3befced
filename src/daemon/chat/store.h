#ifndef ECHOD_CHAT_STORE_H
#define ECHOD_CHAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "chat_line.h"

/*
 * The chat's store: users, identities (client address to name), sessions
 * and history, behind a table of operations so that the chat never knows
 * which backend holds them (as redis's ConnectionType hides TCP from TLS).
 * An implementation is one new file with its own constructor that fills a
 * struct store; callers use the store_* wrappers below and nothing else.
 *
 * Calls are synchronous and return 0 (or a count) or -errno; -EBUSY means
 * the backend was busy past its timeout, and store_last_error() then holds
 * the backend's words for the caller's log line. A store is used from one
 * thread, the loop thread.
 *
 * Names are compared without regard to ASCII case, so "Bob" cannot register
 * beside "bob"; the spelling given at registration is the one handed back.
 * Times are milliseconds since the epoch. Token hashes are the lowercase hex
 * text of auth_token_hash_format().
 */

/* An address as text, e.g. "2001:db8::1" or "192.0.2.7", without its NUL. */
#define STORE_ADDRESS_MAX 64

struct store_user {
        char name[CHAT_NAME_MAX + 1];
        char hash[AUTH_HASH_SIZE]; /* empty in store_user_list() */
        uint64_t created_ms;
};

struct store_session {
        char name[CHAT_NAME_MAX + 1];
        uint64_t created_ms;
        uint64_t expires_ms;   /* absolute expiry */
        uint64_t last_used_ms; /* set at creation and by store_session_touch() */
        bool expired;          /* past expires_ms, or idle for idle_ms or more */
};

struct store_message {
        uint64_t id; /* grows with every message */
        uint64_t time_ms;
        const char *name; /* NUL-terminated */
        const char *text; /* text_length bytes, NUL-terminated */
        size_t text_length;
};

/* Called for each user listed; return 0 to go on or -errno to stop with that error. */
typedef int (*store_user_fn)(void *context, const struct store_user *user);

/* Called for each message read; return 0 to go on or -errno to stop with that error. */
typedef int (*store_message_fn)(void *context, const struct store_message *message);

/* The operations an implementation provides; each takes its own state first. */
struct store_ops {
        const char *kind; /* "sqlite", ... for logs */
        void (*free)(void *state);
        const char *(*last_error)(void *state);

        int (*user_get)(void *state, const char *name, struct store_user *user);
        int (*user_create)(void *state, const char *name, const char *hash, uint64_t now_ms);
        int (*user_set_hash)(void *state, const char *name, const char *hash);
        int (*user_remove)(void *state, const char *name);
        int (*user_list)(void *state, store_user_fn each, void *context);

        int (*identity_get)(void *state, const char *address, char name[CHAT_NAME_MAX + 1]);
        int (*identity_set)(void *state, const char *address, const char *name);
        int (*identity_forget_all)(void *state);

        int (*session_create)(void *state, const char *token_hash, const char *name,
                              uint64_t created_ms, uint64_t expires_ms);
        int (*session_lookup)(void *state, const char *token_hash, uint64_t now_ms,
                              uint64_t idle_ms, struct store_session *session);
        int (*session_touch)(void *state, const char *token_hash, uint64_t now_ms);
        int (*session_revoke)(void *state, const char *token_hash);
        int (*session_revoke_user)(void *state, const char *name);
        int (*session_purge_expired)(void *state, uint64_t now_ms, uint64_t idle_ms);

        int (*history_append)(void *state, uint64_t time_ms, const char *name, const char *text,
                              size_t text_length, uint64_t *id);
        int (*history_last)(void *state, size_t count, store_message_fn each, void *context);
};

/*
 * Asynchronous calls, for a backend across the network (Redis), so that the
 * loop never waits on it. Every call ends in exactly one call of done, with
 * the result in a struct store_reply that lives only during that call; done
 * may run before the call returns (a local backend, or an error found at
 * once, such as -EAGAIN while the backend is unreachable). A backend without
 * them (sqlite) is called through its synchronous operations instead: the
 * store_*_async wrappers in store_async.c hide the difference.
 */
struct store_reply {
        int status;                           /* 0, a count, or -errno */
        const char *error;                    /* the backend's words when status < 0 */
        struct store_user user;               /* user_get */
        struct store_session session;         /* session_lookup */
        char name[CHAT_NAME_MAX + 1];         /* identity_get */
        uint64_t id;                          /* history_append */
        const struct store_message *messages; /* history_last, oldest first */
        size_t count;                         /* ... and how many */
};

typedef void (*store_done_fn)(void *context, const struct store_reply *reply);

/* The backend has become available (store_on_available()). */
typedef void (*store_available_fn)(void *context);

struct bus_message;

struct store_async_ops {
        /* False while the backend cannot be reached: calls then end with -EAGAIN. */
        bool (*available)(void *state);
        /*
         * Optional, with available: call fn(context) each time the backend
         * becomes available, after it was not (fn NULL: no longer).
         */
        void (*on_available)(void *state, store_available_fn fn, void *context);
        void (*user_get)(void *state, const char *name, store_done_fn done, void *context);
        void (*user_create)(void *state, const char *name, const char *hash, uint64_t now_ms,
                            store_done_fn done, void *context);
        void (*user_set_hash)(void *state, const char *name, const char *hash, store_done_fn done,
                              void *context);
        void (*identity_get)(void *state, const char *address, store_done_fn done, void *context);
        void (*identity_set)(void *state, const char *address, const char *name, store_done_fn done,
                             void *context);
        void (*session_create)(void *state, const char *token_hash, const char *name,
                               uint64_t created_ms, uint64_t expires_ms, store_done_fn done,
                               void *context);
        void (*session_lookup)(void *state, const char *token_hash, uint64_t now_ms,
                               uint64_t idle_ms, store_done_fn done, void *context);
        void (*session_touch)(void *state, const char *token_hash, uint64_t now_ms,
                              store_done_fn done, void *context);
        void (*session_revoke)(void *state, const char *token_hash, store_done_fn done,
                               void *context);
        void (*session_revoke_user)(void *state, const char *name, store_done_fn done,
                                    void *context);
        void (*history_last)(void *state, size_t count, store_done_fn done, void *context);
        /*
         * Store a BUS_MESSAGE in the history and relay it to every node, as
         * one step (reply.id: its history id); the message's id field is
         * ignored. A backend with this op is also the chat's bus.
         */
        void (*post)(void *state, const struct bus_message *message, store_done_fn done,
                     void *context);
};

struct store {
        const struct store_ops *ops;
        const struct store_async_ops *async; /* NULL: the synchronous ops serve every call */
        void *state;
};

/* Close the backend and free its state; the struct store itself is the caller's. */
static inline void store_fini(struct store *store)
{
        if (store->ops)
                store->ops->free(store->state);
        store->ops = NULL;
        store->async = NULL;
        store->state = NULL;
}

/* The backend's description of its last error, for a log line; never NULL. */
static inline const char *store_last_error(struct store *store)
{
        return store->ops->last_error(store->state);
}

/* Read a user by name (any case). Returns 0, or -ENOENT if there is none. */
static inline int store_user_get(struct store *store, const char *name, struct store_user *user)
{
        return store->ops->user_get(store->state, name, user);
}

/* Register a user with a password hash. Returns 0, or -EEXIST if the name (any case) is taken. */
static inline int store_user_create(struct store *store, const char *name, const char *hash,
                                    uint64_t now_ms)
{
        return store->ops->user_create(store->state, name, hash, now_ms);
}

/* Replace a user's password hash. Returns 0, or -ENOENT if there is no such user. */
static inline int store_user_set_hash(struct store *store, const char *name, const char *hash)
{
        return store->ops->user_set_hash(store->state, name, hash);
}

/*
 * Remove a user with its sessions and the identities that name it (its
 * messages stay in the history). Returns 0, or -ENOENT if there is none.
 */
static inline int store_user_remove(struct store *store, const char *name)
{
        return store->ops->user_remove(store->state, name);
}

/* Call each for every user, by name. Returns the number of users or the first -errno. */
static inline int store_user_list(struct store *store, store_user_fn each, void *context)
{
        return store->ops->user_list(store->state, each, context);
}

/* The name remembered for an address. Returns 0, or -ENOENT if the address is unknown. */
static inline int store_identity_get(struct store *store, const char *address,
                                     char name[CHAT_NAME_MAX + 1])
{
        return store->ops->identity_get(store->state, address, name);
}

/* Remember a name for an address, replacing any other. Returns 0, or -ENOENT for no such user. */
static inline int store_identity_set(struct store *store, const char *address, const char *name)
{
        return store->ops->identity_set(store->state, address, name);
}

/* Forget every address. Returns the number forgotten or -errno. */
static inline int store_identity_forget_all(struct store *store)
{
        return store->ops->identity_forget_all(store->state);
}

/* Store a new session. Returns 0, -EEXIST for a hash in use, or -ENOENT for no such user. */
static inline int store_session_create(struct store *store, const char *token_hash,
                                       const char *name, uint64_t created_ms, uint64_t expires_ms)
{
        return store->ops->session_create(store->state, token_hash, name, created_ms, expires_ms);
}

/*
 * Look a session up by token hash and tell whether it has expired at now_ms
 * (idle_ms 0: no idle expiry). An expired session is reported, not removed.
 * Returns 0, or -ENOENT if there is none (never was, or revoked).
 */
static inline int store_session_lookup(struct store *store, const char *token_hash, uint64_t now_ms,
                                       uint64_t idle_ms, struct store_session *session)
{
        return store->ops->session_lookup(store->state, token_hash, now_ms, idle_ms, session);
}

/* Mark a session used at now_ms, restarting its idle time. Returns 0 or -ENOENT. */
static inline int store_session_touch(struct store *store, const char *token_hash, uint64_t now_ms)
{
        return store->ops->session_touch(store->state, token_hash, now_ms);
}

/* Remove one session (/logout). Returns 0 or -ENOENT. */
static inline int store_session_revoke(struct store *store, const char *token_hash)
{
        return store->ops->session_revoke(store->state, token_hash);
}

/* Remove every session of a user (password change). Returns the number removed or -errno. */
static inline int store_session_revoke_user(struct store *store, const char *name)
{
        return store->ops->session_revoke_user(store->state, name);
}

/* Remove the sessions expired at now_ms. Returns the number removed or -errno. */
static inline int store_session_purge_expired(struct store *store, uint64_t now_ms,
                                              uint64_t idle_ms)
{
        return store->ops->session_purge_expired(store->state, now_ms, idle_ms);
}

/*
 * Append a message to the history, dropping the oldest beyond the store's
 * retention, and set *id. Returns 0 or -errno: the message is not stored,
 * so the caller must not relay it.
 */
static inline int store_history_append(struct store *store, uint64_t time_ms, const char *name,
                                       const char *text, size_t text_length, uint64_t *id)
{
        return store->ops->history_append(store->state, time_ms, name, text, text_length, id);
}

/* Call each for the last count messages, oldest first. Returns the number read or -errno. */
static inline int store_history_last(struct store *store, size_t count, store_message_fn each,
                                     void *context)
{
        return store->ops->history_last(store->state, count, each, context);
}

/*
 * The asynchronous wrappers (store_async.c): the backend's async op when it
 * has one, else its synchronous op with done called before returning. done
 * may be NULL where the caller does not need the result.
 */
bool store_available(struct store *store);
/*
 * Call fn(context) on the loop each time the store becomes available after
 * it was not, instead of polling store_available() (fn NULL: no longer). A
 * store that is always available never calls it.
 */
void store_on_available(struct store *store, store_available_fn fn, void *context);
void store_user_get_async(struct store *store, const char *name, store_done_fn done, void *context);
void store_user_create_async(struct store *store, const char *name, const char *hash,
                             uint64_t now_ms, store_done_fn done, void *context);
void store_user_set_hash_async(struct store *store, const char *name, const char *hash,
                               store_done_fn done, void *context);
void store_identity_get_async(struct store *store, const char *address, store_done_fn done,
                              void *context);
void store_identity_set_async(struct store *store, const char *address, const char *name,
                              store_done_fn done, void *context);
void store_session_create_async(struct store *store, const char *token_hash, const char *name,
                                uint64_t created_ms, uint64_t expires_ms, store_done_fn done,
                                void *context);
void store_session_lookup_async(struct store *store, const char *token_hash, uint64_t now_ms,
                                uint64_t idle_ms, store_done_fn done, void *context);
void store_session_touch_async(struct store *store, const char *token_hash, uint64_t now_ms,
                               store_done_fn done, void *context);
void store_session_revoke_async(struct store *store, const char *token_hash, store_done_fn done,
                                void *context);
void store_session_revoke_user_async(struct store *store, const char *name, store_done_fn done,
                                     void *context);
void store_history_last_async(struct store *store, size_t count, store_done_fn done, void *context);

struct bus;

/*
 * Store a BUS_MESSAGE in the history, then relay it on bus (reply.id: its
 * history id): one step on a backend with a post op, else the synchronous
 * append and bus_publish(). A message that could not be stored is not relayed.
 */
void store_post_async(struct store *store, struct bus *bus, const struct bus_message *message,
                      store_done_fn done, void *context);

#endif
