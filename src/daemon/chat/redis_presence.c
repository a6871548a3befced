#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis_backend.h"
#include "redis_scripts.h"

/*
 * Presence across nodes. This node keeps its own logged-in names (a sorted
 * array, as many as the chat has users) and mirrors them into Redis: a hash
 * per node (lowercased name to spelling) and the registry of live nodes
 * (echod:nodes, each with a deadline), renewed every third of the TTL and
 * rewritten whole after a reconnection. The scripts publish JOIN and LEAVE
 * themselves, once across nodes; a node that stops renewing is pruned by
 * the first other node to notice, with a LEAVE for its names.
 */

struct who_call {
        struct redis_backend *backend;
        bus_who_fn done;
        void *context;
};

static double refresh_interval(const struct redis_backend *backend)
{
        return backend->presence_ttl / 3;
}

static char *ttl_text(const struct redis_backend *backend, char *text, size_t size)
{
        snprintf(text, size, "%llu", (unsigned long long)(backend->presence_ttl * 1000));
        return text;
}

/* Index of lower in the sorted names, or where it would go (*found false). */
static size_t find(const struct redis_presence *presence, const char *lower, bool *found)
{
        size_t low = 0, high = presence->count;

        while (low < high) {
                size_t middle = low + (high - low) / 2;
                int order = strcmp(presence->names[middle].lower, lower);

                if (order == 0) {
                        *found = true;
                        return middle;
                }
                if (order < 0)
                        low = middle + 1;
                else
                        high = middle;
        }
        *found = false;
        return low;
}

static int add_name(struct redis_presence *presence, const char *lower, const char *name)
{
        bool found;
        size_t at = find(presence, lower, &found);

        if (found)
                return 0;
        if (presence->count == presence->capacity) {
                size_t capacity = presence->capacity ? 2 * presence->capacity : 16;
                struct redis_presence_name *names;

                if (capacity > REDIS_PRESENCE_MAX)
                        return -ENOBUFS;
                names = realloc(presence->names, capacity * sizeof(*names));
                if (!names)
                        return -ENOMEM;
                presence->names = names;
                presence->capacity = capacity;
        }
        memmove(&presence->names[at + 1], &presence->names[at],
                (presence->count - at) * sizeof(*presence->names));
        snprintf(presence->names[at].lower, sizeof(presence->names[at].lower), "%s", lower);
        snprintf(presence->names[at].name, sizeof(presence->names[at].name), "%s", name);
        presence->names[at].known = false;
        presence->count++;
        return 0;
}

static void remove_name(struct redis_presence *presence, const char *lower)
{
        bool found;
        size_t at = find(presence, lower, &found);

        if (!found)
                return;
        presence->count--;
        memmove(&presence->names[at], &presence->names[at + 1],
                (presence->count - at) * sizeof(*presence->names));
}

/* The refresh's answer: Redis's epoch, which changes only when Redis lost its data. */
static void refresh_replied(redisAsyncContext *context, void *reply_opaque, void *privdata)
{
        struct redis_backend *backend = privdata;
        const redisReply *reply = reply_opaque;

        (void)context;
        if (!reply || backend->freeing || reply->type != REDIS_REPLY_STRING ||
            reply->len > REDIS_EPOCH_MAX)
                return; /* the next refresh asks again */
        memcpy(backend->presence.epoch, reply->str, reply->len);
        backend->presence.epoch[reply->len] = '\0';
}

/* Write this node's whole set to Redis (the script says what changed). */
static void refresh(struct redis_backend *backend)
{
        struct redis_presence *presence = &backend->presence;
        size_t argc = 8 + 3 * presence->count;
        const char **argv = calloc(argc, sizeof(*argv));
        char ttl[32], proposed[REDIS_NODE_ID_LENGTH + 24];

        if (!argv)
                return; /* the next round tries again */
        snprintf(proposed, sizeof(proposed), "%s.%llu", backend->node,
                 (unsigned long long)++presence->refreshes);
        argv[0] = "EVAL";
        argv[1] = redis_script_presence_refresh;
        argv[2] = "0";
        argv[3] = backend->node;
        argv[4] = ttl_text(backend, ttl, sizeof(ttl));
        argv[5] = backend->channel;
        argv[6] = proposed;
        argv[7] = presence->epoch;
        for (size_t i = 0; i < presence->count; i++) {
                argv[8 + 3 * i] = presence->names[i].lower;
                argv[9 + 3 * i] = presence->names[i].name;
                argv[10 + 3 * i] = presence->names[i].known ? "1" : "0";
        }
        if (redis_backend_command(backend, refresh_replied, backend, (int)argc, argv, NULL) == 0)
                for (size_t i = 0; i < presence->count; i++)
                        presence->names[i].known = true;
        free(argv);
}

static void on_refresh_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct redis_backend *backend = timer->data;

        (void)loop;
        (void)revents;
        if (backend->available)
                refresh(backend);
}

void redis_presence_init(struct redis_backend *backend)
{
        ev_init(&backend->presence.refresh_timer, on_refresh_timer);
        backend->presence.refresh_timer.data = backend;
}

void redis_presence_available(struct redis_backend *backend)
{
        ev_timer *timer = &backend->presence.refresh_timer;

        refresh(backend);
        ev_timer_stop(backend->loop, timer);
        ev_timer_set(timer, refresh_interval(backend), refresh_interval(backend));
        ev_timer_start(backend->loop, timer);
}

void redis_presence_fini(struct redis_backend *backend)
{
        ev_timer_stop(backend->loop, &backend->presence.refresh_timer);
        free(backend->presence.names);
        backend->presence.names = NULL;
        backend->presence.count = backend->presence.capacity = 0;
}

void redis_presence_set(void *state, const char *name, bool online, uint64_t sender)
{
        struct redis_backend *backend = state;
        char lower[CHAT_NAME_MAX + 1], ttl[32], sender_text[24];
        const char *argv[10];
        int r;

        if (!name || chat_name_check(name, strlen(name)) < 0)
                return;
        redis_name_lower(name, lower);
        if (online) {
                r = add_name(&backend->presence, lower, name);
                if (r < 0) {
                        log_warning("chat: redis presence: cannot keep %s online: %s", name,
                                    strerror(-r));
                        return;
                }
        } else {
                remove_name(&backend->presence, lower);
        }
        /* While unavailable, the rewrite after the reconnection announces the difference. */
        snprintf(sender_text, sizeof(sender_text), "%llu", (unsigned long long)sender);
        argv[0] = "EVAL";
        argv[1] = redis_script_presence_set;
        argv[2] = "0";
        argv[3] = backend->node;
        argv[4] = lower;
        argv[5] = name;
        argv[6] = online ? "1" : "0";
        argv[7] = ttl_text(backend, ttl, sizeof(ttl));
        argv[8] = backend->channel;
        argv[9] = sender_text;
        if (redis_backend_command(backend, NULL, NULL, 10, argv, NULL) == 0 && online) {
                bool found;
                size_t at = find(&backend->presence, lower, &found);

                if (found)
                        backend->presence.names[at].known = true;
        }
}

static void who_replied(redisAsyncContext *context, void *reply_opaque, void *privdata)
{
        struct who_call *call = privdata;
        const redisReply *reply = reply_opaque;
        const char **names = NULL;
        int status = 0;

        (void)context;
        if (!reply) {
                status = call->backend->freeing ? -ECANCELED : -EIO;
        } else if (reply->type != REDIS_REPLY_ARRAY) {
                status = reply->type == REDIS_REPLY_ERROR ? -EIO : -EBADMSG;
        } else if (!(names = calloc(reply->elements + 1, sizeof(*names)))) {
                status = -ENOMEM;
        } else {
                for (size_t i = 0; i < reply->elements && status == 0; i++) {
                        const redisReply *name = reply->element[i];

                        if (name->type != REDIS_REPLY_STRING ||
                            chat_name_check(name->str, name->len) < 0)
                                status = -EBADMSG;
                        else
                                names[i] = name->str;
                }
        }
        call->done(call->context, status, status == 0 ? names : NULL,
                   status == 0 ? reply->elements : 0);
        free(names);
        free(call);
}

void redis_presence_who(void *state, bus_who_fn done, void *context)
{
        struct redis_backend *backend = state;
        const char *argv[] = {"EVAL", redis_script_who, "0", backend->channel};
        struct who_call *call;

        if (!backend->available) {
                done(context, -EAGAIN, NULL, 0);
                return;
        }
        call = malloc(sizeof(*call));
        if (!call) {
                done(context, -ENOMEM, NULL, 0);
                return;
        }
        *call = (struct who_call){backend, done, context};
        if (redis_backend_command(backend, who_replied, call, 4, argv, NULL) < 0) {
                free(call);
                done(context, -EAGAIN, NULL, 0);
        }
}
