#include "control_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "units.h"
#include "utf8.h"
#include "version.h"

/* Words in one request line at most ("users remove NAME" needs three). */
#define WORDS_MAX 8
/* Records "logs" shows without -n. */
#define LOGS_DEFAULT 50

const char control_help_text[] =
    "status                    version, uptime, services, sockets, connections\n"
    "stats                     counters since start, as key value lines\n"
    "pause [echo|chat|all]     stop accepting (open connections go on)\n"
    "resume [echo|chat|all]    accept again\n"
    "shutdown                  stop gracefully, as SIGTERM\n"
    "reload                    reread the configuration, as SIGHUP\n"
    "logs [-n N] [-f]          recent log records; -f streams new ones\n"
    "clear-logs                empty the in-memory records and the log file\n"
    "forget-identities         chat: forget every address-to-name pair\n"
    "users                     chat: list registered users\n"
    "users remove NAME         chat: remove a user and end its sessions\n"
    "kick NAME                 chat: end a user's sessions\n"
    "help                      this list\n";

struct request {
        const struct control_host *host;
        const struct control_caller *caller;
        struct control_reply *reply;
        struct control_outcome *outcome;
        char *words[WORDS_MAX];
        size_t count;
};

static void ok_message(struct request *request, const char *message)
{
        struct control_reply *reply = request->reply;

        control_reply_reset(reply);
        if (request->outcome->json) {
                control_reply_append(reply, "{\"ok\":true,\"message\":");
                control_reply_append_json(reply, message);
                control_reply_append(reply, "}");
        } else {
                control_reply_append(reply, "ok %s", message);
        }
}

static void fail(struct request *request, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct request *request, const char *format, ...)
{
        char reason[1024];
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(reason, sizeof(reason), format, ap);
        va_end(ap);
        /* A reason that did not fit ends on a whole character. */
        if (n >= (int)sizeof(reason))
                reason[utf8_truncate(reason, sizeof(reason) - 1)] = '\0';
        control_error_reply(request->outcome->json, reason, request->reply);
}

/* One line in the journal per action: what, and who asked (uid, pid). */
static void log_action(const struct request *request, int priority, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void log_action(const struct request *request, int priority, const char *format, ...)
{
        const struct control_caller *caller = request->caller;
        char what[512], uid_field[32], pid_field[32], channel_field[48];
        const char *fields[] = {"SERVICE=control", uid_field, pid_field, channel_field, NULL};
        va_list ap;

        if (!log_enabled(priority))
                return;
        va_start(ap, format);
        vsnprintf(what, sizeof(what), format, ap);
        va_end(ap);
        snprintf(uid_field, sizeof(uid_field), "CONTROL_UID=%u", (unsigned)caller->uid);
        snprintf(pid_field, sizeof(pid_field), "CONTROL_PID=%d", (int)caller->pid);
        snprintf(channel_field, sizeof(channel_field), "CONTROL_CHANNEL=%s", caller->channel);
        log_record(priority, NULL, fields, "control: %s (uid %u, pid %d, %s)", what,
                   (unsigned)caller->uid, (int)caller->pid, caller->channel);
}

static void command_help(struct request *request)
{
        struct control_reply *reply = request->reply;

        control_reply_reset(reply);
        if (request->outcome->json) {
                control_reply_append(reply, "{\"ok\":true,\"help\":");
                control_reply_append_json(reply, control_help_text);
                control_reply_append(reply, "}");
        } else {
                control_reply_append(reply, "ok\n%s", control_help_text);
        }
}

static void status_text(struct request *request)
{
        const struct control_host *host = request->host;
        struct control_reply *reply = request->reply;
        size_t count = host->service_count(host->server);
        const struct control_chat_admin *chat;
        void *chat_state = NULL;

        control_reply_append(reply, "ok echod %s, pid %d, up %.0f s\n", ECHOD_VERSION,
                             (int)getpid(), host->uptime(host->server));
        for (size_t i = 0; i < count; i++) {
                struct control_service_info info;

                host->service_info(host->server, i, &info);
                control_reply_append(reply,
                                     "%s: %s; %u open, %" PRIu64 " total, %" PRIu64
                                     " bytes in, %" PRIu64 " bytes out; sockets: %s\n",
                                     info.name, info.paused ? "paused" : "accepting",
                                     info.counts.open, info.counts.total, info.counts.bytes_in,
                                     info.counts.bytes_out,
                                     info.sockets[0] ? info.sockets : "none");
        }
        chat = host->chat_admin(host->server, &chat_state);
        if (chat && chat->logged_in)
                control_reply_append(reply, "chat users logged in: %u\n",
                                     chat->logged_in(chat_state));
        if (reply->length > 0 && reply->text[reply->length - 1] == '\n')
                reply->text[--reply->length] = '\0';
}

static void status_json(struct request *request)
{
        const struct control_host *host = request->host;
        struct control_reply *reply = request->reply;
        size_t count = host->service_count(host->server);
        const struct control_chat_admin *chat;
        void *chat_state = NULL;

        control_reply_append(
            reply, "{\"ok\":true,\"version\":\"%s\",\"pid\":%d,\"uptime\":%.3f,\"services\":[",
            ECHOD_VERSION, (int)getpid(), host->uptime(host->server));
        for (size_t i = 0; i < count; i++) {
                struct control_service_info info;

                host->service_info(host->server, i, &info);
                control_reply_append(reply, "%s{\"name\":", i ? "," : "");
                control_reply_append_json(reply, info.name);
                control_reply_append(reply,
                                     ",\"paused\":%s,\"connections\":%u,\"total\":%" PRIu64
                                     ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                                     ",\"datagrams\":%" PRIu64 ",\"dropped\":%" PRIu64
                                     ",\"sockets\":",
                                     info.paused ? "true" : "false", info.counts.open,
                                     info.counts.total, info.counts.bytes_in, info.counts.bytes_out,
                                     info.counts.datagrams, info.counts.dropped);
                control_reply_append_json(reply, info.sockets);
                control_reply_append(reply, ",\"status\":");
                control_reply_append_json(reply, info.status);
                control_reply_append(reply, "}");
        }
        control_reply_append(reply, "]");
        chat = host->chat_admin(host->server, &chat_state);
        if (chat && chat->logged_in)
                control_reply_append(reply, ",\"chat_users\":%u", chat->logged_in(chat_state));
        control_reply_append(reply, "}");
}

static void command_status(struct request *request)
{
        control_reply_reset(request->reply);
        log_action(request, LOG_DEBUG, "status");
        if (request->outcome->json)
                status_json(request);
        else
                status_text(request);
}

static void command_stats(struct request *request)
{
        const struct control_host *host = request->host;
        struct control_reply *reply = request->reply;
        bool json = request->outcome->json;
        size_t count = host->service_count(host->server);

        log_action(request, LOG_DEBUG, "stats");
        control_reply_reset(reply);
        control_reply_append(reply,
                             json ? "{\"ok\":true,\"uptime\":%.3f,\"log_records\":%zu"
                                  : "ok\nuptime %.3f\nlog-records %zu\n",
                             host->uptime(host->server), log_ring_count(host->logs));
        for (size_t i = 0; i < count; i++) {
                struct control_service_info info;
                const struct service_counts *c = &info.counts;

                host->service_info(host->server, i, &info);
                control_reply_append(
                    reply,
                    json ? ",\"%1$s\":{\"open\":%2$u,\"total\":%3$" PRIu64
                           ",\"bytes_in\":%4$" PRIu64 ",\"bytes_out\":%5$" PRIu64
                           ",\"datagrams\":%6$" PRIu64 ",\"dropped\":%7$" PRIu64 ",\"paused\":%8$s}"
                         : "%1$s.open %2$u\n%1$s.total %3$" PRIu64 "\n%1$s.bytes-in %4$" PRIu64
                           "\n%1$s.bytes-out %5$" PRIu64 "\n%1$s.datagrams %6$" PRIu64
                           "\n%1$s.dropped %7$" PRIu64 "\n%1$s.paused %8$s\n",
                    info.name, c->open, c->total, c->bytes_in, c->bytes_out, c->datagrams,
                    c->dropped, info.paused ? (json ? "true" : "yes") : (json ? "false" : "no"));
        }
        if (json)
                control_reply_append(reply, "}");
        else if (reply->length > 0 && reply->text[reply->length - 1] == '\n')
                reply->text[--reply->length] = '\0';
}

/* The service named, one of those running; "control" itself is never paused. */
static void command_pause(struct request *request, bool paused)
{
        const struct control_host *host = request->host;
        const char *verb = paused ? "pause" : "resume";
        const char *which = request->count > 1 ? request->words[1] : "all";
        size_t count = host->service_count(host->server);
        char done[256] = "", quoted[CONTROL_QUOTE_SIZE];
        size_t length = 0;

        if (request->count > 2) {
                fail(request, "usage: %s [echo|chat|all]", verb);
                return;
        }
        if (strcmp(which, "control") == 0) {
                fail(request, "the control service cannot be paused");
                return;
        }
        if (strcmp(which, "all") != 0 && strcmp(which, "echo") != 0 && strcmp(which, "chat") != 0) {
                fail(request, "unknown service '%s' (echo, chat or all)",
                     control_reply_quote(which, quoted));
                return;
        }
        for (size_t i = 0; i < count; i++) {
                struct control_service_info info;

                host->service_info(host->server, i, &info);
                if (strcmp(info.name, "control") == 0)
                        continue;
                if (strcmp(which, "all") != 0 && strcmp(which, info.name) != 0)
                        continue;
                if (host->set_paused(host->server, info.name, paused) < 0)
                        continue;
                length += (size_t)snprintf(done + length, sizeof(done) - length, "%s%s",
                                           length ? " " : "", info.name);
                if (length >= sizeof(done))
                        break;
        }
        if (done[0] == '\0') {
                fail(request, "%s is not running",
                     strcmp(which, "all") == 0 ? "no service" : which);
                return;
        }
        log_action(request, LOG_NOTICE, "%s %s", paused ? "paused" : "resumed", done);
        char message[300];
        snprintf(message, sizeof(message), "%s %s", paused ? "paused" : "resumed", done);
        ok_message(request, message);
}

static void command_shutdown(struct request *request)
{
        const struct control_host *host = request->host;
        char who[96];

        log_action(request, LOG_NOTICE, "shutdown requested");
        snprintf(who, sizeof(who), "control (uid %u, pid %d)", (unsigned)request->caller->uid,
                 (int)request->caller->pid);
        ok_message(request, "shutting down");
        host->shutdown(host->server, who);
}

static void command_reload(struct request *request)
{
        const struct control_host *host = request->host;
        char error[CONFIG_ERROR_MAX + 64];

        log_action(request, LOG_NOTICE, "reload requested");
        if (host->reload(host->server, error, sizeof(error)) < 0) {
                fail(request, "%s", error);
                return;
        }
        ok_message(request, "reloaded");
}

static void command_logs(struct request *request)
{
        const struct control_host *host = request->host;
        struct control_reply *reply = request->reply;
        unsigned long wanted = LOGS_DEFAULT;
        size_t count, first, budget, used = 0;
        bool json = request->outcome->json;

        for (size_t i = 1; i < request->count; i++) {
                const char *word = request->words[i];

                if (strcmp(word, "-f") == 0 || strcmp(word, "--follow") == 0) {
                        request->outcome->follow = true;
                } else if (strcmp(word, "-n") == 0 && i + 1 < request->count &&
                           units_parse_uint(request->words[i + 1], 0, LOG_RING_RECORDS, &wanted) ==
                               0) {
                        i++;
                } else {
                        request->outcome->follow = false;
                        fail(request, "usage: logs [-n N] [-f] (N from 0 to %d)", LOG_RING_RECORDS);
                        return;
                }
        }
        log_action(request, LOG_DEBUG, "logs%s", request->outcome->follow ? " -f" : "");
        count = log_ring_count(host->logs);
        first = count > wanted ? count - wanted : 0;
        /* Keep the newest records that fit in one reply (JSON escaping may double a line). */
        budget = sizeof(reply->text) - 64;
        for (size_t i = count; i > first; i--) {
                size_t cost = strlen(log_ring_get(host->logs, i - 1)) * (json ? 2 : 1) + 8;

                if (used + cost > budget) {
                        first = i;
                        break;
                }
                used += cost;
        }
        control_reply_reset(reply);
        control_reply_append(reply, json ? "{\"ok\":true,\"records\":[" : "ok");
        for (size_t i = first; i < count; i++) {
                const char *line = log_ring_get(host->logs, i);

                if (json) {
                        if (i > first)
                                control_reply_append(reply, ",");
                        control_reply_append_json(reply, line);
                } else {
                        control_reply_append(reply, "\n%s", line);
                }
        }
        if (json)
                control_reply_append(reply, "]}");
}

static void command_clear_logs(struct request *request)
{
        const struct control_host *host = request->host;
        int r;

        log_ring_clear(host->logs);
        r = log_truncate_file();
        /* Logged after clearing, so the emptied ring and file both say who emptied them. */
        log_action(request, LOG_NOTICE, "cleared the log records%s",
                   r < 0 ? " (not the file)" : "");
        if (r < 0) {
                fail(request, "cleared the records, but cannot truncate the log file: %s",
                     strerror(-r));
                return;
        }
        ok_message(request, "cleared");
}

struct user_list {
        struct control_reply *reply;
        bool json;
        size_t count;
};

static void add_user(void *arg, const char *name, unsigned sessions)
{
        struct user_list *list = arg;

        if (list->json) {
                control_reply_append(list->reply, "%s{\"name\":", list->count ? "," : "");
                control_reply_append_json(list->reply, name);
                control_reply_append(list->reply, ",\"sessions\":%u}", sessions);
        } else {
                control_reply_append(list->reply, "\n%s %u", name, sessions);
        }
        list->count++;
}

/* forget-identities, users, users remove NAME, kick NAME: the chat's, when it runs. */
static void command_chat(struct request *request)
{
        const struct control_host *host = request->host;
        const char *command = request->words[0];
        const struct control_chat_admin *chat;
        void *state = NULL;
        bool json = request->outcome->json;
        char message[256];
        int r;

        chat = host->chat_admin(host->server, &state);
        if (!chat) {
                size_t count = host->service_count(host->server);
                bool running = false;

                for (size_t i = 0; i < count && !running; i++) {
                        struct control_service_info info;

                        host->service_info(host->server, i, &info);
                        running = strcmp(info.name, "chat") == 0;
                }
                /* The chat hands out its admin table through service_ops.chat_admin. */
                fail(request,
                     running ? "the chat offers no admin operations yet" : "chat is not running");
                return;
        }
        if (strcmp(command, "forget-identities") == 0 && request->count == 1) {
                r = chat->forget_identities(state);
                if (r < 0) {
                        fail(request, "cannot forget identities: %s", strerror(-r));
                        return;
                }
                log_action(request, LOG_NOTICE, "forgot %d chat identities", r);
                snprintf(message, sizeof(message), "forgot %d identit%s", r, r == 1 ? "y" : "ies");
                ok_message(request, message);
        } else if (strcmp(command, "users") == 0 && request->count == 1) {
                struct user_list list = {.reply = request->reply, .json = json};

                log_action(request, LOG_DEBUG, "users");
                control_reply_reset(request->reply);
                control_reply_append(request->reply, json ? "{\"ok\":true,\"users\":[" : "ok");
                r = chat->list_users(state, add_user, &list);
                if (r < 0) {
                        fail(request, "cannot list users: %s", strerror(-r));
                        return;
                }
                if (json)
                        control_reply_append(request->reply, "]}");
        } else if ((strcmp(command, "users") == 0 && request->count == 3 &&
                    strcmp(request->words[1], "remove") == 0) ||
                   (strcmp(command, "kick") == 0 && request->count == 2)) {
                bool remove = strcmp(command, "users") == 0;
                const char *name = request->words[request->count - 1];
                char quoted[CONTROL_QUOTE_SIZE];

                r = remove ? chat->remove_user(state, name) : chat->kick(state, name);
                if (r == -ENOENT) {
                        fail(request, "no user '%s'", control_reply_quote(name, quoted));
                        return;
                }
                if (r < 0) {
                        fail(request, "cannot %s '%s': %s", remove ? "remove" : "kick",
                             control_reply_quote(name, quoted), strerror(-r));
                        return;
                }
                log_action(request, LOG_NOTICE, "%s chat user %s", remove ? "removed" : "kicked",
                           name);
                snprintf(message, sizeof(message), "%s %s", remove ? "removed" : "kicked", name);
                ok_message(request, message);
        } else {
                fail(request, "usage: forget-identities | users | users remove NAME | kick NAME");
        }
}

static void command_pause_on(struct request *request)
{
        command_pause(request, true);
}

static void command_resume(struct request *request)
{
        command_pause(request, false);
}

static const struct {
        const char *name;
        bool no_arguments;
        void (*run)(struct request *request);
} commands[] = {
    {"help", false, command_help},
    {"status", true, command_status},
    {"stats", true, command_stats},
    {"pause", false, command_pause_on},
    {"resume", false, command_resume},
    {"shutdown", true, command_shutdown},
    {"reload", true, command_reload},
    {"logs", false, command_logs},
    {"clear-logs", true, command_clear_logs},
    {"forget-identities", false, command_chat},
    {"users", false, command_chat},
    {"kick", false, command_chat},
};

/* Split line into words at blanks, in place. Returns the count, or -E2BIG. */
static int split_words(char *line, char **words, size_t max)
{
        size_t count = 0;
        char *save = NULL;

        for (char *word = strtok_r(line, " \t\r\n", &save); word;
             word = strtok_r(NULL, " \t\r\n", &save)) {
                if (count == max)
                        return -E2BIG;
                words[count++] = word;
        }
        return (int)count;
}

static void execute(const struct control_host *host, const struct control_caller *caller,
                    const char *line, struct control_reply *reply, struct control_outcome *outcome)
{
        char copy[1024], quoted[CONTROL_QUOTE_SIZE];
        struct request request = {
            .host = host,
            .caller = caller,
            .reply = reply,
            .outcome = outcome,
        };
        const char *command;
        int count;

        *outcome = (struct control_outcome){0};
        if (strlen(line) >= sizeof(copy)) {
                control_error_reply(false, "request too long (one command line, under 1 KiB)",
                                    reply);
                return;
        }
        strcpy(copy, line);
        count = split_words(copy, request.words, WORDS_MAX);
        if (count > 0 && strcmp(request.words[0], "--json") == 0) {
                outcome->json = true;
                memmove(request.words, request.words + 1, sizeof(char *) * (size_t)(count - 1));
                count--;
        }
        if (count < 0) {
                fail(&request, "too many words");
                return;
        }
        if (count == 0) {
                fail(&request, "empty request (try help)");
                return;
        }
        request.count = (size_t)count;
        command = request.words[0];
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(command, commands[i].name) != 0)
                        continue;
                if (commands[i].no_arguments && count > 1)
                        fail(&request, "usage: %s takes no arguments", command);
                else
                        commands[i].run(&request);
                return;
        }
        fail(&request, "unknown command '%s' (try help)", control_reply_quote(command, quoted));
}

void control_execute(const struct control_host *host, const struct control_caller *caller,
                     const char *line, struct control_reply *reply, struct control_outcome *outcome)
{
        execute(host, caller, line, reply, outcome);
        control_reply_seal(reply);
}
