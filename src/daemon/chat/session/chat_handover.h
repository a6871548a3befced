#ifndef ECHOD_CHAT_HANDOVER_H
#define ECHOD_CHAT_HANDOVER_H

#include "chat_state.h"
#include "handover.h"

/*
 * The chat's part of a planned restart: every logged-in connection is
 * carried to the next process, which takes it over.
 *
 * Called by: chat_service.c (its service table, and the timer event);
 * calls: chat_relay.c, chat_conn.c (and reads a struct chat_wait still out).
 */

/* Write a record for every logged-in connection and forget it; close the others. The count. */
int chat_hand_over(void *state, struct handover_writer *writer,
                   const struct service_handover *handover);

/* Serve the connection of a record on fd. 0, or -EBADMSG / -errno (fd closed). */
int chat_take_over(void *state, struct handover_record *record, int fd);

/* The store is up (store_on_available()): the connections taken over meanwhile go on. */
void chat_take_over_store_up(struct chat_service *chat);

/* A connection taken over waited CHAT_STORE_WAIT for the store: its lines go on without it. */
void chat_take_over_timeout(struct chat_conn *conn);

#endif
