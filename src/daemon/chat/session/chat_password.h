#ifndef ECHOD_CHAT_PASSWORD_H
#define ECHOD_CHAT_PASSWORD_H

#include <stddef.h>

#include "chat_state.h"

/*
 * /password NEW after login: hash it on the worker pool, store it, end every
 * session of the user (here and on every node) and give this connection a
 * new one.
 *
 * Called by: chat_session.c; calls: chat_login.c, chat_job.c, chat_relay.c,
 * chat_revoke.c, chat_wait.c, chat_conn.c.
 */

/* Change conn's password to the length bytes of password (checked already). */
void chat_password_change(struct chat_conn *conn, const char *password, size_t length);

#endif
