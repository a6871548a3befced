/*
 * What a chat connection says after login: messages, /me, /who, /history,
 * /password, /logout, /quit, /help. The login dialogue is in chat_login.c, the
 * delivery of relayed lines in chat_relay.c. docs/chat.md describes the
 * protocol for users.
 */
#include "chat_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat_conn.h"
#include "chat_password.h"
#include "chat_relay.h"
#include "chat_wait.h"
#include "log.h"

/* The answer to /help, and the hint after an unknown command. */
#define CHAT_SESSION_HELP                                                                          \
        "commands: /who, /history [N], /me TEXT, /password NEW, /logout, /quit, /help; "           \
        "// starts a message with /"

/* Messages /history shows at most. */
#define CHAT_HISTORY_REQUEST_MAX 1000

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
        n = chat_relay_queue_history(conn, reply);
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

/* /me TEXT: the message "/me TEXT", one space after the command whatever was typed. */
static void send_action(struct chat_conn *conn, const char *text, size_t length)
{
        char *line = malloc(length + 4);

        if (!line) {
                chat_sendf(conn, "ERR not sent: out of memory\n");
                return;
        }
        memcpy(line, "/me ", 4);
        memcpy(line + 4, text, length);
        send_message(conn, line, length + 4);
        free(line);
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
                chat_relay_end_sessions(conn, conn->token_hash);
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

void chat_session_line(struct chat_conn *conn, const char *text, size_t length)
{
        struct chat_command command;

        if (chat_command_split(text, length, &command) == 0) {
                send_message(conn, command.argument, command.argument_length);
                return;
        }
        if (chat_command_is(&command, "who")) {
                send_who(conn);
        } else if (chat_command_is(&command, "help")) {
                chat_sendf(conn, "OK %s\n", CHAT_SESSION_HELP);
        } else if (chat_command_is(&command, "me")) {
                /* An action is the message "/me TEXT", so clients show it as one. */
                if (command.argument_length == 0) {
                        chat_sendf(conn, "ERR usage: /me TEXT\n");
                        return;
                }
                send_action(conn, command.argument, command.argument_length);
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
                chat_password_change(conn, command.argument, command.argument_length);
        } else if (chat_command_is(&command, "token") || chat_command_is(&command, "name")) {
                chat_sendf(conn, "ERR already logged in\n");
        } else {
                chat_sendf(conn, "ERR unknown command /%.*s (%s)\n",
                           (int)(command.name_length > 32 ? 32 : command.name_length), command.name,
                           CHAT_SESSION_HELP);
        }
}
