#ifndef ECHOD_CHAT_LIMITS_H
#define ECHOD_CHAT_LIMITS_H

#include <stdbool.h>

#include "chat_state.h"

/*
 * What a peer may try while logging in: logins pending per address group,
 * and the failed-login limit with its pauses.
 *
 * Called by: chat_login.c, chat_service.c; calls: chat_conn.c.
 */

/* Password checks and failures (per address group and per name) before the door closes. */
#define CHAT_FAILURES_MAX 5
/* Failures are forgotten after this long without a new one. */
#define CHAT_FAILURE_MEMORY 900.0
/* The pause after a wrong password: this, doubled for each failure before it. */
#define CHAT_FAILURE_DELAY 0.25
/* Keys in each failure table (address groups, and names). */
#define CHAT_FAILURE_SLOTS 4096

/* Set up the failure tables. 0 or -ENOMEM. */
int chat_limits_init(struct chat_service *chat);

/* Free the failure tables. */
void chat_limits_fini(struct chat_service *chat);

/* True if conn's address may start one more login (chat-max-pending-per-address). */
bool chat_limits_pending_room(struct chat_conn *conn);

/* True if conn's address group, or its name once known and registered, is locked. */
bool chat_limits_locked(struct chat_conn *conn);

/*
 * Reserve a password check for conn's address group and name before it
 * starts. 0; -EDQUOT when either is at the limit; -ENOSPC when the table of
 * names is full of live counts.
 */
int chat_limits_reserve(struct chat_conn *conn);

/* The reserved check did not run (busy, the store failed, the user went): forget it. */
void chat_limits_release(struct chat_conn *conn);

/* The connection goes away: a check on the workers counts as failed, one not started is released.
 */
void chat_limits_end(struct chat_conn *conn);

/* Logged in: forget the failures of its address group and name. */
void chat_limits_logged_in(struct chat_conn *conn);

/* Close conn for too many failed logins (or a full table: reason). */
void chat_lock_out(struct chat_conn *conn, const char *reason);

/*
 * A wrong password (its check reserved) or a wrong token (counted for the
 * address alone): count it, log it, say reason, and pause before the prompt
 * of again (the connection's timer ends the pause), or lock out at the limit.
 */
void chat_login_failed(struct chat_conn *conn, const char *reason, enum chat_phase again);

#endif
