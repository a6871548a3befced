#ifndef ECHOD_CHAT_RELAY_H
#define ECHOD_CHAT_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "chat_state.h"

/*
 * Who is here and what they are sent: JOIN and LEAVE, the login history and
 * the relayed lines held until it is out, the delivery of relayed lines, and
 * the end of sessions on the connections that have them.
 *
 * Called by: chat_login.c, chat_password.c, chat_session.c,
 * chat_handover.c, chat_service.c; calls: chat_conn.c.
 */

/* The user of conn is now online here: JOIN (or the bus's presence) if it is its first. */
void chat_relay_online(struct chat_conn *conn, bool announce);

/* The connection goes away: out of the counters, and LEAVE if it was the user's last. */
void chat_relay_end(struct chat_conn *conn);

/* Queue the HIST lines of a history reply; returns the number queued. */
int chat_relay_queue_history(struct chat_conn *conn, const struct store_reply *reply);

/*
 * The login history is out (newest: the id of its newest message, 0 if
 * none or it failed): the lines held meanwhile follow it, less the messages
 * it already showed.
 */
void chat_relay_history_done(struct chat_conn *conn, uint64_t newest);

/* Free the lines held for a connection. */
void chat_relay_drop_held(struct chat_conn *conn);

/* Deliver a relayed message to the local users (the bus's subscriber; context: the service). */
void chat_relay_deliver(void *context, const struct bus_message *message);

/*
 * A session of conn's user ended: close the user's other connections logged
 * in with token_hash (NULL: every session of the user), here and, through
 * the bus, on every node. conn itself stays.
 */
void chat_relay_end_sessions(struct chat_conn *conn, const char *token_hash);

#endif
