/*
 * What a chat connection says after login: messages, /who, /history,
 * /password, /logout, /quit; and the delivery of relayed messages to the
 * local users. The login dialogue is in chat_login.c. docs/chat.md
 * describes the protocol for users.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat_internal.h"
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
int chat_session_queue_history(struct chat_conn *conn, const struct store_reply *reply)
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

void chat_session_online(struct chat_conn *conn, bool announce_it)
{
        /* A user logged in twice joins once. */
        if (chat_online_count(conn->chat, conn->name, conn) > 0)
                return;
        if (announce_it || conn->chat->bus.ops->presence)
                announce(conn, true);
}

static void send_names(struct chat_conn *conn, const char *const *names, size_t count)
{
        size_t size = 8, length;
        char *line;

        for (size_t i = 0; i < count; i++)
                size += strlen(names[i]) + 1;
        line = malloc(size);
        if (!line) {
                chat_sendf(conn, "ERR out of memory\n");
                return;
        }
        length = (size_t)snprintf(line, size, "WHO");
        for (size_t i = 0; i < count; i++)
                length += (size_t)snprintf(line + length, size - length, " %s", names[i]);
        line[length++] = '\n';
        chat_send(conn, line, length);
        free(line);
}

/* The names logged in here, each once. */
static void send_local_who(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        const char **names = calloc(chat->online + 1, sizeof(*names));
        size_t count = 0;

        if (!names) {
                chat_sendf(conn, "ERR out of memory\n");
                return;
        }
        for (struct chat_conn *c = chat->head; c && count < chat->online; c = c->next) {
                bool seen = false;

                if (c->phase != CHAT_PHASE_CHAT)
                        continue;
                for (size_t i = 0; i < count && !seen; i++)
                        seen = strcasecmp(names[i], c->name) == 0;
                if (!seen)
                        names[count++] = c->name;
        }
        send_names(conn, names, count);
        free(names);
}

static void on_who(void *context, int status, const char *const *names, size_t count)
{
        struct chat_wait *wait = context;
        struct store_reply reply = {.status = status, .error = strerror(status < 0 ? -status : 0)};
        struct chat_conn *conn = wait->conn;

        /* The names live only during this call: send them now, then finish the wait. */
        if (conn && conn->phase == CHAT_PHASE_CHAT && status >= 0)
                send_names(conn, names, count);
        chat_wait_done(wait, &reply);
}

static void who_answered(struct chat_conn *conn, struct chat_wait *wait,
                         const struct store_reply *reply)
{
        (void)wait;
        if (reply->status < 0)
                chat_sendf(conn, "ERR unavailable: cannot list the users of every node\n");
}

/* /who: the names logged in, each once; on every node when the bus spans several. */
static void send_who(struct chat_conn *conn)
{
        struct bus *bus = &conn->chat->bus;
        struct chat_wait *wait;

        if (!bus->ops->who) {
                send_local_who(conn);
                return;
        }
        wait = chat_wait_new(conn, who_answered);
        if (!wait) {
                chat_sendf(conn, "ERR out of memory\n");
                return;
        }
        wait->carried = true;
        snprintf(wait->redo, sizeof(wait->redo), "/who");
        bus->ops->who(bus->state, on_who, wait);
        chat_wait_called(wait);
}

static void history_read(struct chat_conn *conn, struct chat_wait *wait,
                         const struct store_reply *reply)
{
        int n;

        (void)wait;
        if (reply->status < 0) {
                log_error("chat: store: cannot read the history: %s", reply->error);
                chat_sendf(conn, "ERR unavailable: the store failed\n");
                return;
        }
        n = chat_session_queue_history(conn, reply);
        chat_sendf(conn, "OK %d message%s\n", n, n == 1 ? "" : "s");
}

static void send_history(struct chat_conn *conn, const char *argument, size_t length)
{
        struct chat_service *chat = conn->chat;
        unsigned long count = chat->config->chat_history ? chat->config->chat_history : 20;
        struct chat_wait *wait;
        char number[16];

        if (length > 0) {
                char *end = NULL;

                if (length >= sizeof(number)) {
                        chat_sendf(conn, "ERR /history takes a number from 1 to %d\n",
                                   CHAT_HISTORY_REQUEST_MAX);
                        return;
                }
                memcpy(number, argument, length);
                number[length] = '\0';
                count = strtoul(number, &end, 10);
                if (*end || number[0] < '0' || number[0] > '9' || count < 1 ||
                    count > CHAT_HISTORY_REQUEST_MAX) {
                        chat_sendf(conn, "ERR /history takes a number from 1 to %d\n",
                                   CHAT_HISTORY_REQUEST_MAX);
                        return;
                }
        }
        wait = chat_wait_new(conn, history_read);
        if (!wait) {
                chat_sendf(conn, "ERR out of memory\n");
                return;
        }
        wait->carried = true;
        snprintf(wait->redo, sizeof(wait->redo), "/history %lu", count);
        store_history_last_async(&chat->store, count, chat_wait_done, wait);
        chat_wait_called(wait);
}

static void message_posted(struct chat_conn *conn, struct chat_wait *wait,
                           const struct store_reply *reply)
{
        (void)wait;
        if (reply->status < 0) {
                log_error("chat: message from %s not sent: %s", conn->name, reply->error);
                if (reply->status == -EAGAIN)
                        chat_sendf(conn, "ERR not sent: the chat store cannot be reached\n");
                else
                        chat_sendf(conn, "ERR not sent: the store failed\n");
                return;
        }
        conn->messages++;
        conn->chat->messages++;
}

/* Take a token from the user's bucket: the limit is per user, not per connection. */
static bool within_rate(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;
        const struct config *config = chat->config;
        ev_tstamp now = ev_now(chat->loop);
        struct chat_conn *bucket = conn;

        /*
         * Every connection of the user draws on the bucket of its oldest
         * logged-in connection, so a second login does not double the rate.
         */
        for (struct chat_conn *other = chat->head; other; other = other->next) {
                if (other->phase == CHAT_PHASE_CHAT && other->started <= bucket->started &&
                    strcasecmp(other->name, conn->name) == 0)
                        bucket = other;
        }
        bucket->flood_tokens += (now - bucket->flood_at) * config->chat_rate;
        if (bucket->flood_tokens > config->chat_burst)
                bucket->flood_tokens = config->chat_burst;
        bucket->flood_at = now;
        if (bucket->flood_tokens < 1)
                return false;
        bucket->flood_tokens -= 1;
        return true;
}

/* A message: limited per user, stored, then relayed to everyone else. */
static void send_message(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_service *chat = conn->chat;
        struct bus_message message = {
            .kind = BUS_MESSAGE,
            .sender = conn->id,
            .name = conn->name,
            .text = text,
            .text_length = length,
        };
        struct chat_wait *wait;

        enum chat_text_result check;

        if (length == 0)
                return;
        /* Names are ASCII; a message may be any script, but not text that shows other than it
         * reads. */
        check = chat_text_check_message(text, length);
        if (check != CHAT_TEXT_OK) {
                chat_sendf(conn, "ERR %s\n", chat_line_error_text(check));
                return;
        }
        if (!within_rate(conn)) {
                chat_sendf(conn, "ERR slow down: at most %g messages per second\n",
                           chat->config->chat_rate);
                return;
        }
        wait = chat_wait_new(conn, message_posted);
        if (!wait) {
                chat_sendf(conn, "ERR not sent: out of memory\n");
                return;
        }
        /* Sent to the store already: a restart hands the connection over without its answer. */
        wait->carried = true;
        message.time_ms = chat_now_ms();
        /* Stored before it is relayed: what others saw is in the history. */
        store_post_async(&chat->store, &chat->bus, &message, chat_wait_done, wait);
        chat_wait_called(wait);
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

void chat_session_end_sessions(struct chat_conn *conn, const char *token_hash)
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
         * The other nodes close theirs when the message reaches them. If it
         * cannot be relayed now (Redis is down), their connections stay
         * until they close, but the session is revoked in the store: no new
         * login uses it, and its messages cannot be stored, hence not sent.
         */
        (void)bus_publish(&conn->chat->bus, &message);
}

static void logged_out(struct chat_conn *conn, struct chat_wait *wait,
                       const struct store_reply *reply)
{
        (void)wait;
        /* -ENOENT: the session had ended already (expired, or revoked elsewhere). */
        if (reply && reply->status < 0 && reply->status != -ENOENT) {
                log_error("chat: store: cannot end a session of %s: %s", conn->name, reply->error);
                chat_sendf(conn, "ERR not logged out: the %s; try again\n",
                           reply->status == -EAGAIN ? "chat store cannot be reached"
                                                    : "store failed");
                return;
        }
        if (conn->token_hash[0])
                chat_session_end_sessions(conn, conn->token_hash);
        conn->token_hash[0] = '\0';
        chat_sendf(conn, "BYE logged out\n");
        chat_close_after_flush(conn, "logout");
}

/* /logout: the session ends in the store before the user is told it did. */
static void log_out(struct chat_conn *conn)
{
        struct chat_wait *wait;

        if (!conn->token_hash[0]) {
                logged_out(conn, NULL, NULL);
                return;
        }
        wait = chat_wait_new(conn, logged_out);
        if (!wait) {
                chat_sendf(conn, "ERR not logged out: out of memory\n");
                return;
        }
        store_session_revoke_async(&conn->chat->store, conn->token_hash, chat_wait_done, wait);
        chat_wait_called(wait);
}

static void chat_line(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_command command;

        if (chat_command_split(text, length, &command) == 0) {
                send_message(conn, command.argument, command.argument_length);
                return;
        }
        if (chat_command_is(&command, "who")) {
                send_who(conn);
        } else if (chat_command_is(&command, "history")) {
                send_history(conn, command.argument, command.argument_length);
        } else if (chat_command_is(&command, "quit")) {
                chat_sendf(conn, "BYE\n");
                chat_close_after_flush(conn, "quit");
        } else if (chat_command_is(&command, "logout")) {
                log_out(conn);
        } else if (chat_command_is(&command, "password")) {
                int r = auth_password_check(command.argument, command.argument_length);

                if (r < 0) {
                        chat_sendf(conn, "ERR usage: /password NEW (%d to %d bytes)\n",
                                   AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
                        return;
                }
                chat_change_password(conn, command.argument, command.argument_length);
        } else if (chat_command_is(&command, "token") || chat_command_is(&command, "name")) {
                chat_sendf(conn, "ERR already logged in\n");
        } else {
                chat_sendf(conn,
                           "ERR unknown command /%.*s (/who, /history [N], /password NEW, "
                           "/logout, /quit; // starts a message with /)\n",
                           (int)(command.name_length > 32 ? 32 : command.name_length),
                           command.name);
        }
}

void chat_session_line(struct chat_conn *conn, const struct chat_line *line)
{
        enum chat_text_result check = chat_line_check(line->text, line->length);

        if (check != CHAT_TEXT_OK) {
                chat_sendf(conn, "ERR %s\n", chat_line_error_text(check));
                if (conn->phase != CHAT_PHASE_CHAT)
                        chat_prompt(conn, conn->phase);
                return;
        }
        if (conn->phase == CHAT_PHASE_CHAT)
                chat_line(conn, line->text, line->length);
        else
                chat_login_line(conn, line->text, line->length);
}

void chat_session_too_long(struct chat_conn *conn)
{
        chat_sendf(conn, "ERR %s (at most %d bytes)\n", chat_line_error_text(CHAT_LINE_TOO_LONG),
                   CHAT_LINE_MAX);
        if (conn->phase != CHAT_PHASE_CHAT)
                chat_prompt(conn, conn->phase);
}

void chat_session_end(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;

        chat_login_end(conn);
        chat_wait_detach(conn);
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

void chat_session_drop_held(struct chat_conn *conn)
{
        while (conn->held_head) {
                struct chat_held_line *held = conn->held_head;

                conn->held_head = held->next;
                free(held);
        }
        conn->held_tail = &conn->held_head;
        conn->held_bytes = 0;
}

void chat_session_history_done(struct chat_conn *conn, uint64_t newest)
{
        conn->history_pending = false;
        conn->history_newest = newest;
        for (struct chat_held_line *held = conn->held_head; held; held = held->next) {
                /* Relayed while the history was read, and in it already: shown once. */
                if (held->id && held->id <= newest)
                        continue;
                chat_send(conn, held->line, held->length);
        }
        chat_session_drop_held(conn);
}

void chat_session_deliver(void *context, const struct bus_message *message)
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
