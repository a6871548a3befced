#ifndef ECHOD_CHAT_SERVICE_H
#define ECHOD_CHAT_SERVICE_H

#include "service.h"

/*
 * The chat service (docs/chat.md): identified, authenticated, multi-user
 * chat on the sockets named "chat". Users, identities, sessions and history
 * live in the store (chat/store.h, SQLite); messages go out through the bus
 * (chat/bus.h, in-process); password hashing runs on a worker pool
 * (chat/workers.h) so the loop never waits for it.
 */
extern const struct service_ops chat_service_ops;

#endif
