#ifndef ECHOD_CHAT_REVOKE_H
#define ECHOD_CHAT_REVOKE_H

#include "chat_state.h"

/*
 * Ending every session of a user (a password change) until the store has
 * done it: a failed revoke is tried again, 0.1 s later doubling to 5 s, and
 * at once when the store becomes available again, for as long as echod
 * runs, whether or not the connection that asked is still there.
 *
 * Called by: chat_password.c, chat_service.c; calls: nothing of the session
 * layer (the store, and the log).
 */

/*
 * End every session of name, trying again until the store has. A revoke of
 * the same name still pending absorbs this one. 0, or -ENOMEM (nothing was
 * started).
 */
int chat_revoke_user(struct chat_service *chat, const char *name);

/* The store is available again: the revokes waiting to be tried again go now. */
void chat_revoke_store_up(struct chat_service *chat);

/* Give up every pending revoke and free them (chat_fini(), after store_fini()). */
void chat_revoke_fini(struct chat_service *chat);

#endif
