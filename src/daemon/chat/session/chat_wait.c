/*
 * A connection waiting for the store: the call's reply may come at once (a
 * local backend) or on a later loop iteration (a backend across the
 * network). Either way the connection takes no line until it has come, so
 * that each user's lines are handled in order, and a connection that goes
 * away meanwhile has its reply dropped.
 */
#include "chat_wait.h"

#include <errno.h>
#include <stdlib.h>

#include <sodium.h>

#include "chat_conn.h"
#include "log.h"

struct chat_wait *chat_wait_new(struct chat_conn *conn, chat_next_fn next)
{
        struct chat_wait *wait = calloc(1, sizeof(*wait));

        if (!wait)
                return NULL;
        wait->conn = conn;
        wait->next = next;
        wait->calling = true;
        wait->again = conn->phase;
        conn->wait = wait;
        return wait;
}

static void wait_free(struct chat_wait *wait)
{
        sodium_memzero(wait, sizeof(*wait));
        free(wait);
}

void chat_wait_done(void *context, const struct store_reply *reply)
{
        struct chat_wait *wait = context;
        struct chat_conn *conn = wait->conn;
        bool later = !wait->calling;

        if (conn) {
                conn->wait = NULL;
                if (conn->phase != CHAT_PHASE_CLOSING) {
                        wait->next(conn, wait, reply);
                        /* Input was paused for the reply: go on with it. */
                        if (later)
                                chat_resume_input(conn);
                }
        }
        if (later)
                wait_free(wait);
        else
                wait->finished = true;
}

void chat_wait_called(struct chat_wait *wait)
{
        if (wait->finished) {
                wait_free(wait);
                return;
        }
        wait->calling = false;
        if (wait->conn)
                chat_pause_input(wait->conn, true);
}

void chat_wait_detach(struct chat_conn *conn)
{
        if (conn->wait)
                conn->wait->conn = NULL;
        conn->wait = NULL;
}

void chat_store_logged(void *context, const struct store_reply *reply)
{
        /* -ECANCELED: the chat is stopping and closed the store; nothing was lost by it. */
        if (reply->status < 0 && reply->status != -ECANCELED)
                log_warning("chat: store: cannot %s: %s", (const char *)context, reply->error);
}
