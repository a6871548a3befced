#ifndef ECHOD_CHAT_STORE_BATCH_H
#define ECHOD_CHAT_STORE_BATCH_H

#include <ev.h>

#include "bus.h"
#include "store.h"

/*
 * The chat's messages of one loop iteration stored in one transaction, for
 * a store whose operations are synchronous (SQLite): store_post_async()
 * queues each message here instead of committing it alone; before the loop
 * next waits (an ev_prepare watcher), every message queued is appended in
 * one transaction, and only once that transaction has committed is each
 * relayed on the bus and its sender's done called. The promise of
 * docs/chat.md holds: nothing is relayed that is not in the history, and a
 * failed transaction fails each of its messages (ERR not sent).
 *
 * Called by: store_async.c (store_batch_post), chat_service.c (new, flush,
 * free); calls: the store's synchronous ops (store.h) and bus_publish().
 */

#define STORE_BATCH_MAX 1024 /* messages in one transaction at most; more start another */

struct store_batch;

/* Start batching the posts of store (which must have history_append_many). 0 or -errno. */
int store_batch_start(struct store *store, struct bus *bus, struct ev_loop *loop);

/*
 * Queue one message (copied) for the iteration's transaction; done runs
 * after it (not before this returns). On -ENOMEM done runs at once.
 */
void store_batch_post(struct store_batch *batch, const struct bus_message *message,
                      store_done_fn done, void *context);

/* Store and relay what is queued now (before a hand-over writes the connections out). */
void store_batch_flush(struct store *store);

/* Flush, then stop batching (before bus_fini() and store_fini()). */
void store_batch_stop(struct store *store);

#endif
