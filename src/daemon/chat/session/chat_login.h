#ifndef ECHOD_CHAT_LOGIN_H
#define ECHOD_CHAT_LOGIN_H

#include <stddef.h>

#include "chat_state.h"
#include "chat_wait.h"

/*
 * The login dialogue: HELLO/NAME?, PASSWORD?, /name, /token, the password
 * jobs of a login, and the new session.
 *
 * Called by: chat_service.c, chat_password.c (a new session);
 * calls: chat_relay.c, chat_limits.c, chat_job.c, chat_wait.c, chat_conn.c.
 */

/* Greet a new connection: HELLO and PASSWORD?, or NAME?. */
void chat_login_start(struct chat_conn *conn);

/* Handle a line (checked already) before login (NAME?, PASSWORD?, /token, /name, /quit). */
void chat_login_line(struct chat_conn *conn, const char *text, size_t length);

/* Give the prompt of phase again (NAME? or PASSWORD?). */
void chat_prompt(struct chat_conn *conn, enum chat_phase phase);

/* The login timer or the pause after a failure ran out. */
void chat_login_timer(struct chat_conn *conn);

/*
 * A new session for the connection's user: its hash goes to the store, and
 * the token, kept in the wait, is sent once the store has it (then next,
 * with reply->status < 0 if it could not be stored).
 */
void chat_login_new_session(struct chat_conn *conn, chat_next_fn next, const char *method);

#endif
