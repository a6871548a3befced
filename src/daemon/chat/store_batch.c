#include "store_batch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One queued post: its message's bytes are in the batch's arena, at offsets. */
struct batch_item {
        struct bus_message message;
        size_t name_at, text_at;
        store_done_fn done;
        void *context;
};

/* Kept between iterations, so that a busy chat allocates nothing per message. */
struct batch_queue {
        struct batch_item *items;
        struct store_append *appends;
        size_t count, capacity;
        char *arena;
        size_t used, arena_size;
};

/*
 * Two queues: while the senders of one transaction are told (and may post
 * again, the next line of a connection that waited), new posts fill the
 * other one.
 */
struct store_batch {
        struct store *store;
        struct bus *bus;
        struct ev_loop *loop;
        ev_prepare prepare;
        struct batch_queue queues[2];
        unsigned filling; /* the queue posts go to */
        bool flushing;
};

static int reserve(struct batch_queue *batch, size_t bytes)
{
        if (batch->count == batch->capacity) {
                size_t capacity = batch->capacity ? batch->capacity * 2 : 64;
                struct batch_item *items = realloc(batch->items, capacity * sizeof(*items));
                struct store_append *appends;

                if (!items)
                        return -ENOMEM;
                batch->items = items;
                appends = realloc(batch->appends, capacity * sizeof(*appends));
                if (!appends)
                        return -ENOMEM;
                batch->appends = appends;
                batch->capacity = capacity;
        }
        if (batch->used + bytes > batch->arena_size) {
                size_t size = batch->arena_size ? batch->arena_size : 16384;
                char *arena;

                while (size < batch->used + bytes)
                        size *= 2;
                arena = realloc(batch->arena, size);
                if (!arena)
                        return -ENOMEM;
                batch->arena = arena;
                batch->arena_size = size;
        }
        return 0;
}

static void reply_to(struct batch_item *item, const struct store_reply *reply)
{
        if (item->done)
                item->done(item->context, reply);
}

/* Append the queued messages in one transaction; then relay each stored one and tell. */
static void flush(struct store_batch *own)
{
        struct batch_queue *batch = &own->queues[own->filling];
        struct store *store = own->store;
        size_t count = batch->count;
        int r;

        if (count == 0 || own->flushing)
                return;
        own->flushing = true;
        own->filling ^= 1;
        for (size_t i = 0; i < count; i++) {
                struct batch_item *item = &batch->items[i];

                item->message.name = batch->arena + item->name_at;
                item->message.text = batch->arena + item->text_at;
                batch->appends[i] = (struct store_append){
                    .time_ms = item->message.time_ms,
                    .name = item->message.name,
                    .text = item->message.text,
                    .text_length = item->message.text_length,
                };
        }
        r = store->ops->history_append_many(store->state, batch->appends, count);
        for (size_t i = 0; i < count; i++) {
                struct batch_item *item = &batch->items[i];
                struct store_append *append = &batch->appends[i];
                struct store_reply reply = {0};
                int status = r < 0 ? r : append->status;

                if (status < 0) {
                        reply.status = status;
                        reply.error = store_last_error(store);
                        reply_to(item, &reply);
                        continue;
                }
                item->message.id = append->id;
                reply.id = append->id;
                status = bus_publish(own->bus, &item->message);
                reply.status = status;
                reply.error = status < 0 ? strerror(-status) : "";
                reply_to(item, &reply);
        }
        batch->count = 0;
        batch->used = 0;
        own->flushing = false;
}

/* Before the loop waits: the iteration's messages, in one transaction. */
static void on_prepare(struct ev_loop *loop, ev_prepare *watcher, int revents)
{
        struct store_batch *batch = watcher->data;

        (void)loop;
        (void)revents;
        /*
         * A done function may queue more (the next line of a connection that
         * waited): those go in a transaction of their own, still before the
         * loop waits, or they would wait for the next event.
         */
        store_batch_flush(batch->store);
}

int store_batch_start(struct store *store, struct bus *bus, struct ev_loop *loop)
{
        struct store_batch *batch;

        if (!store->ops || !store->ops->history_append_many)
                return -EOPNOTSUPP;
        batch = calloc(1, sizeof(*batch));
        if (!batch)
                return -ENOMEM;
        batch->store = store;
        batch->bus = bus;
        batch->loop = loop;
        ev_prepare_init(&batch->prepare, on_prepare);
        batch->prepare.data = batch;
        ev_prepare_start(loop, &batch->prepare);
        /* The watcher alone must not keep the loop running. */
        ev_unref(loop);
        store->batch = batch;
        return 0;
}

void store_batch_post(struct store_batch *own, const struct bus_message *message,
                      store_done_fn done, void *context)
{
        size_t name_length = strlen(message->name) + 1;
        struct batch_queue *batch;
        struct batch_item *item;

        /* A full transaction goes now (not while one is being told: that one's flush ends first). */
        if (own->queues[own->filling].count >= STORE_BATCH_MAX)
                flush(own);
        batch = &own->queues[own->filling];
        if (reserve(batch, name_length + message->text_length + 1) < 0) {
                struct store_reply reply = {.status = -ENOMEM, .error = strerror(ENOMEM)};

                if (done)
                        done(context, &reply);
                return;
        }
        item = &batch->items[batch->count++];
        item->message = *message;
        item->message.name = NULL; /* set at the flush: the arena may move until then */
        item->message.text = NULL;
        item->name_at = batch->used;
        memcpy(batch->arena + batch->used, message->name, name_length);
        batch->used += name_length;
        item->text_at = batch->used;
        memcpy(batch->arena + batch->used, message->text, message->text_length);
        batch->arena[batch->used + message->text_length] = '\0';
        batch->used += message->text_length + 1;
        item->done = done;
        item->context = context;
}

void store_batch_flush(struct store *store)
{
        struct store_batch *batch = store->batch;

        /* Until nothing is left: a done function may post again (each time from input already read). */
        while (batch && !batch->flushing && batch->queues[batch->filling].count > 0)
                flush(batch);
}

void store_batch_stop(struct store *store)
{
        struct store_batch *batch = store->batch;

        if (!batch)
                return;
        store_batch_flush(store);
        ev_ref(batch->loop);
        ev_prepare_stop(batch->loop, &batch->prepare);
        store->batch = NULL;
        for (size_t q = 0; q < 2; q++) {
                free(batch->queues[q].items);
                free(batch->queues[q].appends);
                free(batch->queues[q].arena);
        }
        free(batch);
}
