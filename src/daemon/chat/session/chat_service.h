#ifndef ECHOD_CHAT_SERVICE_H
#define ECHOD_CHAT_SERVICE_H

#include "service.h"

/*
 * The chat service (docs/chat.md): identified, authenticated, multi-user
 * chat on the sockets named "chat". Users, identities, sessions and history
 * live in the store (chat/store.h, SQLite); messages go out through the bus
 * (chat/bus.h, in-process); password hashing runs on a worker pool
 * (chat/workers.h) so the loop never waits for it.
 *
 * Called by: service_table.c (the server, through the table); calls: every
 * other file of the session layer (chat_conn.c's events come back here).
 */
extern const struct service_ops chat_service_ops;

#endif
