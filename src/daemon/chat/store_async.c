/*
 * The asynchronous store calls: a backend's own async op when it has one
 * (Redis), else its synchronous op, with done called before returning
 * (sqlite). The chat's session code is written once, against these.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#include "bus.h"

/* Finish a synchronous call: fill in status and error and hand the reply over. */
static void finish(struct store *store, struct store_reply *reply, int status, store_done_fn done,
                   void *context)
{
        reply->status = status;
        reply->error = status < 0 ? store_last_error(store) : "";
        if (done)
                done(context, reply);
}

bool store_available(struct store *store)
{
        return !store->async || !store->async->available || store->async->available(store->state);
}

void store_on_available(struct store *store, store_available_fn fn, void *context)
{
        if (store->async && store->async->on_available)
                store->async->on_available(store->state, fn, context);
}

void store_user_get_async(struct store *store, const char *name, store_done_fn done, void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->user_get) {
                store->async->user_get(store->state, name, done, context);
                return;
        }
        finish(store, &reply, store_user_get(store, name, &reply.user), done, context);
}

void store_user_create_async(struct store *store, const char *name, const char *hash,
                             uint64_t now_ms, store_done_fn done, void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->user_create) {
                store->async->user_create(store->state, name, hash, now_ms, done, context);
                return;
        }
        finish(store, &reply, store_user_create(store, name, hash, now_ms), done, context);
}

void store_user_set_hash_async(struct store *store, const char *name, const char *hash,
                               store_done_fn done, void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->user_set_hash) {
                store->async->user_set_hash(store->state, name, hash, done, context);
                return;
        }
        finish(store, &reply, store_user_set_hash(store, name, hash), done, context);
}

void store_identity_get_async(struct store *store, const char *address, store_done_fn done,
                              void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->identity_get) {
                store->async->identity_get(store->state, address, done, context);
                return;
        }
        finish(store, &reply, store_identity_get(store, address, reply.name), done, context);
}

void store_identity_set_async(struct store *store, const char *address, const char *name,
                              store_done_fn done, void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->identity_set) {
                store->async->identity_set(store->state, address, name, done, context);
                return;
        }
        finish(store, &reply, store_identity_set(store, address, name), done, context);
}

void store_session_create_async(struct store *store, const char *token_hash, const char *name,
                                uint64_t created_ms, uint64_t expires_ms, store_done_fn done,
                                void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->session_create) {
                store->async->session_create(store->state, token_hash, name, created_ms, expires_ms,
                                             done, context);
                return;
        }
        finish(store, &reply, store_session_create(store, token_hash, name, created_ms, expires_ms),
               done, context);
}

void store_session_lookup_async(struct store *store, const char *token_hash, uint64_t now_ms,
                                uint64_t idle_ms, store_done_fn done, void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->session_lookup) {
                store->async->session_lookup(store->state, token_hash, now_ms, idle_ms, done,
                                             context);
                return;
        }
        finish(store, &reply,
               store_session_lookup(store, token_hash, now_ms, idle_ms, &reply.session), done,
               context);
}

void store_session_touch_async(struct store *store, const char *token_hash, uint64_t now_ms,
                               store_done_fn done, void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->session_touch) {
                store->async->session_touch(store->state, token_hash, now_ms, done, context);
                return;
        }
        finish(store, &reply, store_session_touch(store, token_hash, now_ms), done, context);
}

void store_session_revoke_async(struct store *store, const char *token_hash, store_done_fn done,
                                void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->session_revoke) {
                store->async->session_revoke(store->state, token_hash, done, context);
                return;
        }
        finish(store, &reply, store_session_revoke(store, token_hash), done, context);
}

void store_session_revoke_user_async(struct store *store, const char *name, store_done_fn done,
                                     void *context)
{
        struct store_reply reply = {0};

        if (store->async && store->async->session_revoke_user) {
                store->async->session_revoke_user(store->state, name, done, context);
                return;
        }
        finish(store, &reply, store_session_revoke_user(store, name), done, context);
}

/* Messages read synchronously, copied so that they outlive the backend's row. */
struct collected {
        struct store_message *messages;
        size_t count, capacity;
};

static int collect_message(void *context, const struct store_message *message)
{
        struct collected *all = context;
        struct store_message *copy;
        char *name, *text;

        if (all->count == all->capacity)
                return -ENOBUFS;
        name = strdup(message->name);
        text = malloc(message->text_length + 1);
        if (!name || !text) {
                free(name);
                free(text);
                return -ENOMEM;
        }
        memcpy(text, message->text, message->text_length);
        text[message->text_length] = '\0';
        copy = &all->messages[all->count++];
        *copy = *message;
        copy->name = name;
        copy->text = text;
        return 0;
}

void store_history_last_async(struct store *store, size_t count, store_done_fn done, void *context)
{
        struct store_reply reply = {0};
        struct collected all = {.capacity = count};
        int r;

        if (store->async && store->async->history_last) {
                store->async->history_last(store->state, count, done, context);
                return;
        }
        all.messages = calloc(count ? count : 1, sizeof(*all.messages));
        if (!all.messages) {
                reply.status = -ENOMEM;
                reply.error = strerror(ENOMEM);
                if (done)
                        done(context, &reply);
                return;
        }
        r = store_history_last(store, count, collect_message, &all);
        reply.messages = all.messages;
        reply.count = all.count;
        finish(store, &reply, r < 0 ? r : (int)all.count, done, context);
        for (size_t i = 0; i < all.count; i++) {
                free((char *)all.messages[i].name);
                free((char *)all.messages[i].text);
        }
        free(all.messages);
}

void store_post_async(struct store *store, struct bus *bus, const struct bus_message *message,
                      store_done_fn done, void *context)
{
        struct store_reply reply = {0};
        struct bus_message stored = *message;
        int r;

        if (store->async && store->async->post) {
                store->async->post(store->state, message, done, context);
                return;
        }
        r = store_history_append(store, message->time_ms, message->name, message->text,
                                 message->text_length, &stored.id);
        if (r < 0) {
                finish(store, &reply, r, done, context);
                return;
        }
        reply.id = stored.id;
        r = bus_publish(bus, &stored);
        reply.status = r;
        reply.error = r < 0 ? strerror(-r) : "";
        if (done)
                done(context, &reply);
}
