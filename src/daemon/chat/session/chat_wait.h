#ifndef ECHOD_CHAT_WAIT_H
#define ECHOD_CHAT_WAIT_H

#include <stdbool.h>
#include <stddef.h>

#include "chat_state.h"

/*
 * A connection waiting for the store (or the bus): the connection takes no
 * line until the reply, which goes to the next step named at the start.
 *
 * Called by: chat_login.c, chat_password.c, chat_session.c, chat_service.c
 * (detach); calls: chat_conn.c.
 */

/* The next step, given the store's reply; conn is still open and not closing. */
typedef void (*chat_next_fn)(struct chat_conn *conn, struct chat_wait *wait,
                             const struct store_reply *reply);

/* What a store call carries for its next step, besides the connection. */
struct chat_wait {
        struct chat_conn *conn; /* NULL once the connection has gone: the reply is dropped */
        chat_next_fn next;
        bool calling;          /* the call has not returned yet */
        bool finished;         /* done ran (before the call returned) */
        enum chat_phase again; /* the prompt to give again if it fails */
        /*
         * A restart may hand the connection over while the reply is out: the
         * reply is then dropped, and redo (if set) is the line the next
         * process handles in its place.
         */
        bool carried;
        char redo[24];
        char name[CHAT_NAME_MAX + 1];
        char token_text[AUTH_TOKEN_TEXT_SIZE];
        char token_hash[AUTH_TOKEN_HASH_TEXT_SIZE];
        char password[AUTH_PASSWORD_MAX + 1];
        size_t password_length;
        const char *method;
};

/*
 * Start waiting: the connection takes no line until the reply, which goes to
 * next. Call the store with chat_wait_done and the wait as context, then
 * chat_wait_called(). NULL without memory.
 */
struct chat_wait *chat_wait_new(struct chat_conn *conn, chat_next_fn next);

/* The store_done_fn of every call made with a chat_wait. */
void chat_wait_done(void *context, const struct store_reply *reply);

/* The call returned: a reply still to come pauses the connection's input until then. */
void chat_wait_called(struct chat_wait *wait);

/* The connection goes away: a reply still to come is dropped. */
void chat_wait_detach(struct chat_conn *conn);

/* A store_done_fn for calls whose result only matters if it fails: context names the call. */
void chat_store_logged(void *context, const struct store_reply *reply);

#endif
