#ifndef ECHOD_CHAT_SESSION_H
#define ECHOD_CHAT_SESSION_H

#include <stddef.h>

#include "chat_state.h"

/*
 * What a logged-in connection says: messages, /who, /history, /password,
 * /logout, /quit.
 *
 * Called by: chat_service.c; calls: chat_password.c, chat_relay.c,
 * chat_wait.c, chat_conn.c.
 */

/* Handle a line (checked already) of a logged-in connection. */
void chat_session_line(struct chat_conn *conn, const char *text, size_t length);

#endif
