/*
 * /password NEW (chat_password.h): the new hash is made on the worker pool
 * and stored, then every session of the user ends, so that a stolen token
 * stops working, and the connection that changed it gets a new one.
 */
#include "chat_password.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chat_conn.h"
#include "chat_job.h"
#include "chat_login.h"
#include "chat_relay.h"
#include "chat_revoke.h"
#include "chat_wait.h"
#include "log.h"

static void changed_session(struct chat_conn *conn, struct chat_wait *wait,
                            const struct store_reply *reply)
{
        if (reply->status < 0) {
                chat_sendf(conn, "ERR password changed, but no new session: log in again\n");
                return;
        }
        memcpy(conn->token_hash, wait->token_hash, sizeof(conn->token_hash));
        chat_sendf(conn, "TOKEN %s\n", wait->token_text);
        chat_sendf(conn, "OK password changed; other sessions ended\n");
}

static void password_stored(struct chat_conn *conn, struct chat_wait *wait,
                            const struct store_reply *reply)
{
        (void)wait;
        if (reply->status < 0) {
                log_error("chat: store: cannot store the new password of %s: %s", conn->name,
                          reply->error);
                chat_sendf(conn, "ERR password not changed\n");
                return;
        }
        chat_log(conn, LOG_NOTICE, NULL, NULL, "%s changed the password", conn->name);
        /*
         * Every session of the user ends, so a stolen token stops working; a
         * new one follows. A revoke that fails is tried again until it is
         * done, whether or not this connection stays.
         */
        if (chat_revoke_user(conn->chat, conn->name) < 0) {
                log_error("chat: cannot end the sessions of %s: out of memory", conn->name);
                store_session_revoke_user_async(&conn->chat->store, conn->name, chat_store_logged,
                                                "end the sessions of a user");
        }
        /* Its other connections, logged in with the sessions just ended, close too. */
        chat_relay_end_sessions(conn, NULL);
        chat_login_new_session(conn, changed_session, NULL);
}

static void password_hashed(struct chat_conn *conn, struct chat_job *job)
{
        struct chat_wait *wait;

        if (job->result < 0) {
                chat_sendf(conn, "ERR password not changed\n");
                return;
        }
        wait = chat_wait_new(conn, password_stored);
        if (!wait) {
                chat_sendf(conn, "ERR busy; try again\n");
                return;
        }
        store_user_set_hash_async(&conn->chat->store, conn->name, job->hash, chat_wait_done, wait);
        chat_wait_called(wait);
}

void chat_password_change(struct chat_conn *conn, const char *password, size_t length)
{
        if (chat_job_submit(conn, CHAT_JOB_CHANGE, password, length, NULL, password_hashed) < 0)
                chat_sendf(conn, "ERR busy; try again\n");
}
