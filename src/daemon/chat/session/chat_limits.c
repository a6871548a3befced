/*
 * What a peer may try while logging in: logins pending per address group,
 * and the failed-login limit. A password check is counted (reserved) in the
 * failure tables before its hash job starts and stays counted until it ends,
 * so however many connections race for one name, at most CHAT_FAILURES_MAX
 * checks are out or failed per address group and per name within the
 * memory time (src/daemon/chat/lockout.h). docs/chat.md says it for users.
 */
#include "chat_limits.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chat_conn.h"
#include "log.h"

int chat_limits_init(struct chat_service *chat)
{
        /*
         * Addresses are cheap for an attacker (a /64 per site, each an IPv4
         * botnet host), so the table of addresses may forget its least count
         * when full; names are what protect a victim, and a name gets an
         * entry only when a password is checked for a registered user, so
         * that table never forgets a live count for a newcomer.
         */
        struct lockout_options addresses = {
            .size = CHAT_FAILURE_SLOTS,
            .max = CHAT_FAILURES_MAX,
            .memory = CHAT_FAILURE_MEMORY,
            .keep_live = false,
        };
        struct lockout_options names = addresses;
        int r;

        names.keep_live = true;
        r = lockout_init(&chat->failed_addresses, &addresses);
        if (r < 0)
                return r;
        r = lockout_init(&chat->failed_names, &names);
        if (r < 0)
                lockout_fini(&chat->failed_addresses);
        return r;
}

void chat_limits_fini(struct chat_service *chat)
{
        lockout_fini(&chat->failed_addresses);
        lockout_fini(&chat->failed_names);
}

bool chat_limits_pending_room(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        unsigned pending = 0;

        for (struct chat_conn *other = chat->head; other; other = other->next) {
                if (other != conn && other->counted == CHAT_COUNT_PENDING &&
                    strcmp(other->address_key, conn->address_key) == 0)
                        pending++;
        }
        return pending < chat->config->chat_max_pending_per_address;
}

/* The name's key, if failures count for it: a registered user's name, once known. */
static bool name_key(struct chat_conn *conn, char *key)
{
        if (!conn->name[0] || conn->registering)
                return false;
        lockout_name_key(key, conn->name);
        return true;
}

bool chat_limits_locked(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        ev_tstamp now = ev_now(chat->loop);
        char key[LOCKOUT_KEY_MAX];

        if (lockout_locked(&chat->failed_addresses, conn->address_key, now))
                return true;
        return name_key(conn, key) && lockout_locked(&chat->failed_names, key, now);
}

int chat_limits_reserve(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        ev_tstamp now = ev_now(chat->loop);
        char key[LOCKOUT_KEY_MAX] = "";
        int r;

        if (conn->check_reserved)
                return -EALREADY;
        (void)name_key(conn, key);
        /* Both or neither: a refused name gives the address its place back. */
        r = lockout_reserve(&chat->failed_addresses, conn->address_key, now);
        if (r < 0)
                return r;
        if (key[0]) {
                r = lockout_reserve(&chat->failed_names, key, now);
                if (r < 0) {
                        lockout_release(&chat->failed_addresses, conn->address_key);
                        return r;
                }
        }
        conn->check_reserved = true;
        memcpy(conn->check_name_key, key, sizeof(key));
        return 0;
}

void chat_limits_release(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;

        if (!conn->check_reserved)
                return;
        lockout_release(&chat->failed_addresses, conn->address_key);
        if (conn->check_name_key[0])
                lockout_release(&chat->failed_names, conn->check_name_key);
        conn->check_reserved = false;
}

/* The reserved check failed; returns the higher of the two counts. */
static unsigned check_failed(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        ev_tstamp now = ev_now(chat->loop);
        unsigned count, by_name = 0;

        count = lockout_fail(&chat->failed_addresses, conn->address_key, now);
        if (conn->check_name_key[0])
                by_name = lockout_fail(&chat->failed_names, conn->check_name_key, now);
        conn->check_reserved = false;
        return by_name > count ? by_name : count;
}

void chat_limits_end(struct chat_conn *conn)
{
        /* Gone while its password was hashed: the guess was made, so it counts. */
        if (conn->check_reserved && conn->job)
                (void)check_failed(conn);
        chat_limits_release(conn);
}

void chat_limits_logged_in(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        char key[LOCKOUT_KEY_MAX];

        lockout_clear(&chat->failed_addresses, conn->address_key);
        lockout_name_key(key, conn->name);
        lockout_clear(&chat->failed_names, key);
}

void chat_lock_out(struct chat_conn *conn, const char *reason)
{
        if (reason) {
                chat_sendf(conn, "ERR busy: too many failed logins on this server; try again "
                                 "later\n");
                chat_close_after_flush(conn, reason);
                return;
        }
        chat_sendf(conn, "ERR too many failed logins; try again later\n");
        chat_close_after_flush(conn, "too many failed logins");
}

void chat_login_failed(struct chat_conn *conn, const char *reason, enum chat_phase again)
{
        struct chat_service *chat = conn->chat;
        char extra[96];
        unsigned count;
        double delay;

        if (conn->check_reserved) {
                count = check_failed(conn);
        } else {
                /* A token is not a guess at a name: it counts for the address alone. */
                int r = lockout_add(&chat->failed_addresses, conn->address_key, ev_now(chat->loop));

                if (r < 0) {
                        chat_lock_out(conn, "failed-login table full");
                        return;
                }
                count = (unsigned)r;
        }
        snprintf(extra, sizeof(extra), "REASON=%s", reason);
        chat_log(conn, LOG_NOTICE, LOG_ID_CHAT_LOGIN_FAILED, extra, "failed login: %s (%u)", reason,
                 count);
        if (count >= CHAT_FAILURES_MAX) {
                chat_lock_out(conn, NULL);
                return;
        }
        chat_sendf(conn, "ERR %s\n", reason);
        /* Each failure doubles the pause: 0.25 s, 0.5 s, 1 s, 2 s, then the door closes. */
        delay = CHAT_FAILURE_DELAY;
        for (unsigned i = 1; i < count; i++)
                delay *= 2;
        conn->phase = CHAT_PHASE_WAITING;
        conn->pausing = true;
        conn->resume_phase = again;
        chat_pause_input(conn, true);
        chat_conn_timer(conn, delay);
}
