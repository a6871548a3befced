/*
 * The chat service (chat_service.h): its table for the server, its store
 * and bus, and the events of its connections. It is the top of the session
 * layer: the one file that knows every other, so that the connections'
 * I/O (chat_conn.c) tells it what happened through struct chat_conn_events
 * and it hands each event to the dialogue it concerns.
 */
#include "chat_service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat_admin.h"
#include "chat_conn.h"
#include "chat_handover.h"
#include "chat_job.h"
#include "chat_limits.h"
#include "chat_login.h"
#include "chat_relay.h"
#include "chat_revoke.h"
#include "chat_session.h"
#include "chat_state.h"
#include "chat_wait.h"
#include "log.h"
#include "store_redis.h"
#include "store_sqlite.h"

/* ---- what the connections tell (struct chat_conn_events) ---- */

/* A complete line: checked here, then the login dialogue's or the session's. */
static void on_line(struct chat_conn *conn, const struct chat_line *line)
{
        enum chat_text_result check = chat_line_check(line->text, line->length);

        if (check != CHAT_TEXT_OK) {
                chat_sendf(conn, "ERR %s\n", chat_line_error_text(check));
                if (conn->phase != CHAT_PHASE_CHAT)
                        chat_prompt(conn, conn->phase);
                return;
        }
        if (conn->phase == CHAT_PHASE_CHAT)
                chat_session_line(conn, line->text, line->length);
        else
                chat_login_line(conn, line->text, line->length);
}

static void on_too_long(struct chat_conn *conn)
{
        chat_sendf(conn, "ERR %s (at most %d bytes)\n", chat_line_error_text(CHAT_LINE_TOO_LONG),
                   CHAT_LINE_MAX);
        if (conn->phase != CHAT_PHASE_CHAT)
                chat_prompt(conn, conn->phase);
}

static void on_timer(struct chat_conn *conn)
{
        if (conn->awaiting_store)
                chat_take_over_timeout(conn);
        else
                chat_login_timer(conn);
}

/* The connection goes away: cancel what it waits for, LEAVE if it was the user's last. */
static void on_closing(struct chat_conn *conn)
{
        /* The limits first: a check whose job is still out counts as a failure. */
        chat_limits_end(conn);
        chat_job_cancel(conn);
        chat_wait_detach(conn);
        chat_relay_end(conn);
}

static void on_forgetting(struct chat_conn *conn)
{
        chat_wait_detach(conn);
        chat_relay_drop_held(conn);
}

static void on_store_available(void *context)
{
        /* The revokes first: they reach the store before any line handled now. */
        chat_revoke_store_up(context);
        chat_take_over_store_up(context);
}

static const struct chat_conn_events chat_events = {
    .line = on_line,
    .too_long = on_too_long,
    .timer = on_timer,
    .closing = on_closing,
    .forgetting = on_forgetting,
};

/* ---- the service table ---- */

static int chat_connection(void *state, int fd, const struct sockaddr *peer, socklen_t length)
{
        struct chat_service *chat = state;
        struct chat_conn *conn = chat_conn_new(chat, fd, peer, length);

        if (!conn)
                return -ENOMEM;
        chat->total++;
        chat_log(conn, LOG_INFO, LOG_ID_CONNECT, NULL, "connect");
        if (chat->pending >= chat->config->chat_max_pending) {
                chat_sendf(conn, "ERR busy: too many logins at once, try again later\n");
                chat_close_after_flush(conn, "too many connections logging in");
                return 0;
        }
        /* One address (an IPv6 /64) cannot hold every login slot and keep others out. */
        if (!chat_limits_pending_room(conn)) {
                chat_sendf(conn, "ERR busy: too many logins from this address at once, try again "
                                 "later\n");
                chat_close_after_flush(conn, "too many logins from this address");
                return 0;
        }
        conn->counted = CHAT_COUNT_PENDING;
        chat->pending++;
        ev_io_start(chat->loop, &conn->read_watcher);
        chat_login_start(conn);
        return 0;
}

/* The directory for chat.db: --state-dir, systemd's StateDirectory=, or a per-user default. */
static int state_directory(const struct config *config, char *path, size_t size)
{
        const char *dir = config->state_dir;
        const char *env = getenv("STATE_DIRECTORY");
        int n;

        if (dir && *dir)
                n = snprintf(path, size, "%s", dir);
        else if (env && *env)
                n = snprintf(path, size, "%.*s", (int)strcspn(env, ":"), env);
        else if (geteuid() == 0)
                n = snprintf(path, size, "/var/lib/echod");
        else if (getenv("XDG_STATE_HOME") && *getenv("XDG_STATE_HOME"))
                n = snprintf(path, size, "%s/echod", getenv("XDG_STATE_HOME"));
        else if (getenv("HOME") && *getenv("HOME"))
                n = snprintf(path, size, "%s/.local/state/echod", getenv("HOME"));
        else
                return -ENOENT;
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        /* Only the last component is created: its parent is the admin's to provide. */
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                int e = errno;

                log_error("chat: cannot create the state directory %s: %s", path, strerror(e));
                return -e;
        }
        return 0;
}

/* A Redis address in chat-backend: the chat spans every node on that Redis. */
static bool uses_redis(const struct config *config)
{
        return config->chat_backend && strcmp(config->chat_backend, "sqlite") != 0;
}

/* The store (and with Redis, the bus), from chat-backend. */
static int open_backend(struct chat_service *chat, const struct config *config)
{
        struct store_sqlite_options options = {0};
        char directory[4096];
        int r;

        if (uses_redis(config)) {
                struct store_redis_options redis = {
                    .address = config->chat_backend,
                    .history_max = config->chat_history_max,
                    .user = config->chat_redis_user,
                    .password_file = config->chat_redis_password_file,
                };

                r = store_redis_open(&chat->store, &chat->bus, chat->loop, &redis);
                if (r < 0) {
                        log_error("chat: cannot use the store %s: %s", config->chat_backend,
                                  strerror(-r));
                        return r;
                }
                log_info("chat: store %s (redis), shared by every node on it, %u password "
                         "worker(s)",
                         config->chat_backend, config->chat_workers);
                return 0;
        }
        r = state_directory(config, directory, sizeof(directory));
        if (r < 0) {
                log_error("chat: no state directory (--state-dir): %s", strerror(-r));
                return r;
        }
        options.directory = directory;
        options.history_max = config->chat_history_max;
        r = store_sqlite_open(&chat->store, &options);
        if (r < 0) {
                log_error("chat: cannot open the store in %s: %s", directory, strerror(-r));
                return r;
        }
        r = bus_local_open(&chat->bus);
        if (r < 0) {
                store_fini(&chat->store);
                return r;
        }
        log_info("chat: store %s/%s (%s), %u password worker(s)", directory, STORE_SQLITE_FILE,
                 chat->store.ops->kind, config->chat_workers);
        return 0;
}

static int chat_init(void **state, const struct service_env *env)
{
        const struct config *config = env->config;
        struct chat_service *chat = calloc(1, sizeof(*chat));
        int r;

        if (!chat)
                return -ENOMEM;
        chat->env = *env;
        chat->loop = env->loop;
        chat->config = config;
        chat->auth = auth_params_default();
        r = chat_limits_init(chat);
        if (r < 0) {
                free(chat);
                return r;
        }
        r = auth_init();
        if (r < 0) {
                log_error("chat: cannot initialise libsodium");
                goto fail;
        }
        r = open_backend(chat, config);
        if (r < 0)
                goto fail;
        r = bus_subscribe(&chat->bus, chat_relay_deliver, chat);
        if (r < 0)
                goto fail_backend;
        r = workers_init(&chat->workers, env->loop, config->chat_workers, config->chat_queue);
        if (r < 0) {
                log_error("chat: cannot start password workers: %s", strerror(-r));
                goto fail_backend;
        }
        chat_conn_init(chat, &chat_events);
        /* Connections taken over before the store was up wait for this, not a poll. */
        store_on_available(&chat->store, on_store_available, chat);
        *state = chat;
        return 0;
fail_backend:
        bus_fini(&chat->bus);
        store_fini(&chat->store);
fail:
        chat_limits_fini(chat);
        free(chat);
        return r;
}

static bool chat_has_room(void *state)
{
        struct chat_service *chat = state;

        return chat->count < chat->config->chat_max_users + chat->config->chat_max_pending;
}

static void chat_drain(void *state)
{
        struct chat_service *chat = state;
        struct chat_conn *conn, *next;

        chat->draining = true;
        for (conn = chat->head; conn; conn = next) {
                next = conn->next;
                if (conn->phase == CHAT_PHASE_CLOSING)
                        continue;
                chat_sendf(conn, "BYE server stopping\n");
                chat_close_after_flush(conn, "shutdown");
        }
}

static void chat_close_all(void *state, const char *reason)
{
        struct chat_service *chat = state;

        while (chat->head)
                chat_close(chat->head, reason);
}

static void chat_reload(void *state, const struct config *config)
{
        struct chat_service *chat = state;

        /* Limits are read from the config as they are used; nothing to copy. */
        chat->config = config;
}

static void chat_tick(void *state)
{
        struct chat_service *chat = state;

        /* Expired sessions are purged once an hour. */
        if (++chat->ticks % 3600 == 0)
                (void)store_session_purge_expired(&chat->store, chat_now_ms(),
                                                  (uint64_t)(chat->config->chat_token_idle * 1000));
}

static void chat_counts(void *state, struct service_counts *counts)
{
        struct chat_service *chat = state;

        *counts = (struct service_counts){
            .open = chat->count,
            .total = chat->total,
            .bytes_in = chat->bytes_in,
            .bytes_out = chat->bytes_out,
        };
}

static void chat_status(void *state, char *buf, size_t size)
{
        struct chat_service *chat = state;

        snprintf(buf, size, "chat: %u user%s online, %u logging in, %" PRIu64 " messages%s",
                 chat->online, chat->online == 1 ? "" : "s", chat->pending, chat->messages,
                 store_available(&chat->store) ? "" : " (store unavailable)");
}

static void chat_fini(void *state)
{
        struct chat_service *chat = state;

        chat->env.connection_closed = NULL;
        chat_close_all(chat, "shutdown");
        /* Runs the done functions of jobs still out (cancelled): they free their args. */
        workers_fini(&chat->workers);
        chat_conn_fini(chat);
        bus_fini(&chat->bus);
        store_fini(&chat->store);
        /* After the store: a revoke still out has had its -ECANCELED. */
        chat_revoke_fini(chat);
        chat_limits_fini(chat);
        free(chat);
}

static const char *const chat_socket_names[] = {"chat", NULL};

const struct service_ops chat_service_ops = {
    .name = "chat",
    .socket_names = chat_socket_names,
    .init = chat_init,
    .connection = chat_connection,
    .has_room = chat_has_room,
    .drain = chat_drain,
    .close_all = chat_close_all,
    .reload = chat_reload,
    .tick = chat_tick,
    .counts = chat_counts,
    .status = chat_status,
    .hand_over = chat_hand_over,
    .handover_type = HANDOVER_CHAT,
    .take_over = chat_take_over,
    .chat_admin = chat_admin,
    .fini = chat_fini,
};
