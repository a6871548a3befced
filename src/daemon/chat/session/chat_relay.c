/*
 * Who is here and what they are sent: a user's JOIN and LEAVE (through the
 * bus, which may span nodes), the history queued at login with the relayed
 * lines held until it is out, the delivery of relayed lines to the local
 * users, and the end of sessions on every connection that has them.
 */
#include "chat_relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat_conn.h"
#include "log.h"

static int format_history_line(const struct store_message *message, char *line, size_t size)
{
        return chat_line_format_message(line, size, "HIST", message->time_ms, message->name,
                                        message->text, message->text_length);
}

/*
 * Queue the messages of a history reply as HIST lines. They are queued at
 * once, before the peer can read any, so they take at most half of the
 * output queue that is free (the rest is for messages relayed meanwhile):
 * else a long history would close the connection as a slow reader. The
 * oldest are left out.
 */
int chat_relay_queue_history(struct chat_conn *conn, const struct store_reply *reply)
{
        size_t half = conn->chat->config->chat_output_max / 2;
        size_t queued = conn->output_end - conn->output_start;
        size_t budget = half > queued ? half - queued : 0, used = 0, first = reply->count;
        char line[CHAT_SERVER_LINE_MAX];
        int n;

        /* The newest that fit, counted from the end. */
        while (first > 0) {
                n = format_history_line(&reply->messages[first - 1], line, sizeof(line));
                if (n <= 0 || used + (size_t)n > budget)
                        break;
                used += (size_t)n;
                first--;
        }
        for (size_t i = first; i < reply->count; i++) {
                n = format_history_line(&reply->messages[i], line, sizeof(line));
                if (n > 0)
                        chat_send(conn, line, (size_t)n);
        }
        return (int)(reply->count - first);
}

static void publish_presence(struct chat_conn *conn, enum bus_kind kind)
{
        struct bus_message message = {
            .kind = kind,
            .time_ms = chat_now_ms(),
            .sender = conn->id,
            .name = conn->name,
            .text = "",
        };

        (void)bus_publish(&conn->chat->bus, &message);
}

/* conn's user is online here from now on, or (!online) no longer. */
static void announce(struct chat_conn *conn, bool online)
{
        struct bus *bus = &conn->chat->bus;

        /* A bus across nodes knows who is online elsewhere and announces once for all. */
        if (bus->ops->presence)
                bus->ops->presence(bus->state, conn->name, online, conn->id);
        else
                publish_presence(conn, online ? BUS_JOIN : BUS_LEAVE);
}

void chat_relay_online(struct chat_conn *conn, bool announce_it)
{
        /* A user logged in twice joins once. */
        if (chat_online_count(conn->chat, conn->name, conn) > 0)
                return;
        if (announce_it || conn->chat->bus.ops->presence)
                announce(conn, true);
}

/*
 * Close the connections of name here that are logged in with the session
 * token_hash (NULL: with any session), except the connection keep. Used
 * when a session ends by /logout (the same token may be logged in on
 * several connections) and when /password ends every session of the user.
 */
static void end_local_sessions(struct chat_service *chat, const char *name, const char *token_hash,
                               uint64_t keep)
{
        for (struct chat_conn *conn = chat->head; conn; conn = conn->next) {
                if (conn->phase != CHAT_PHASE_CHAT || conn->id == keep ||
                    strcasecmp(conn->name, name) != 0)
                        continue;
                if (token_hash && strcmp(conn->token_hash, token_hash) != 0)
                        continue;
                conn->token_hash[0] = '\0';
                chat_sendf(conn, "BYE session ended: %s\n",
                           token_hash ? "logged out on another connection"
                                      : "the password was changed");
                chat_close_after_flush(conn, "session ended");
        }
}

void chat_relay_end_sessions(struct chat_conn *conn, const char *token_hash)
{
        struct bus_message message = {
            .kind = BUS_END,
            .time_ms = chat_now_ms(),
            .sender = conn->id,
            .name = conn->name,
            .text = token_hash ? token_hash : "",
            .text_length = token_hash ? strlen(token_hash) : 0,
        };

        end_local_sessions(conn->chat, conn->name, token_hash, conn->id);
        /*
         * The other nodes close theirs when the message reaches them, a
         * relay's delay later. It can only fail to go out if Redis went down
         * right after the store ended the session: their connections then
         * stay until they close (their messages are still relayed), but no
         * new login can use the ended session.
         */
        (void)bus_publish(&conn->chat->bus, &message);
}

void chat_relay_end(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;

        if (conn->counted == CHAT_COUNT_PENDING)
                chat->pending--;
        if (conn->counted == CHAT_COUNT_ONLINE) {
                chat->online--;
                chat_log(conn, LOG_INFO, LOG_ID_CHAT_LOGOUT, NULL, "%s left", conn->name);
                conn->phase = CHAT_PHASE_CLOSING;
                if (chat_online_count(chat, conn->name, conn) == 0)
                        announce(conn, false);
        }
        conn->counted = CHAT_COUNT_NONE;
}

/* Hold a relayed line for conn; past the output limit it is a slow reader. */
static void hold_line(struct chat_conn *conn, uint64_t id, const char *line, size_t length)
{
        struct chat_held_line *held;

        if (conn->overflowed)
                return;
        if (conn->held_bytes + length > conn->chat->config->chat_output_max ||
            !(held = malloc(sizeof(*held) + length))) {
                chat_overflow(conn);
                return;
        }
        held->next = NULL;
        held->id = id;
        held->length = length;
        memcpy(held->line, line, length);
        if (!conn->held_head)
                conn->held_tail = &conn->held_head;
        *conn->held_tail = held;
        conn->held_tail = &held->next;
        conn->held_bytes += length;
}

void chat_relay_drop_held(struct chat_conn *conn)
{
        while (conn->held_head) {
                struct chat_held_line *held = conn->held_head;

                conn->held_head = held->next;
                free(held);
        }
        conn->held_tail = &conn->held_head;
        conn->held_bytes = 0;
}

void chat_relay_history_done(struct chat_conn *conn, uint64_t newest)
{
        conn->history_pending = false;
        conn->history_newest = newest;
        for (struct chat_held_line *held = conn->held_head; held; held = held->next) {
                /* Relayed while the history was read, and in it already: shown once. */
                if (held->id && held->id <= newest)
                        continue;
                chat_send(conn, held->line, held->length);
        }
        chat_relay_drop_held(conn);
}

void chat_relay_deliver(void *context, const struct bus_message *message)
{
        struct chat_service *chat = context;
        char line[CHAT_SERVER_LINE_MAX];
        int n;

        switch (message->kind) {
        case BUS_MESSAGE:
                n = chat_line_format_message(line, sizeof(line), "MSG", message->time_ms,
                                             message->name, message->text, message->text_length);
                break;
        case BUS_JOIN:
                n = snprintf(line, sizeof(line), "JOIN %s\n", message->name);
                break;
        case BUS_LEAVE:
                n = snprintf(line, sizeof(line), "LEAVE %s\n", message->name);
                break;
        case BUS_END:
                /* A sender here means it came from this node, which closed its own already. */
                if (message->sender == 0)
                        end_local_sessions(chat, message->name,
                                           message->text_length ? message->text : NULL, 0);
                return;
        default:
                return;
        }
        if (n <= 0 || (size_t)n >= sizeof(line))
                return;
        /* One formatted line, queued for each reader; each queue is flushed once this turn. */
        for (struct chat_conn *conn = chat->head; conn; conn = conn->next) {
                if (conn->phase != CHAT_PHASE_CHAT || conn->id == message->sender)
                        continue;
                /*
                 * Stored before the login history was read, relayed after it
                 * (the relay and the read do not share a connection to Redis):
                 * the history showed it already.
                 */
                if (message->kind == BUS_MESSAGE && message->id &&
                    message->id <= conn->history_newest)
                        continue;
                if (conn->history_pending)
                        hold_line(conn, message->kind == BUS_MESSAGE ? message->id : 0, line,
                                  (size_t)n);
                else
                        chat_send(conn, line, (size_t)n);
        }
}
