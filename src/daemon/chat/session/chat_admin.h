#ifndef ECHOD_CHAT_ADMIN_H
#define ECHOD_CHAT_ADMIN_H

/*
 * The chat's admin operations for echoctl: forget-identities, users, users
 * remove, kick.
 *
 * Called by: chat_service.c (its service table); calls: chat_conn.c.
 */

struct control_chat_admin;

/* The chat's admin table (control_host.h); state is the service's. */
const struct control_chat_admin *chat_admin(void *state);

#endif
