#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "console.h"
#include "file.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "restart.h"
#include "server_internal.h"
#include "version.h"

/* Connections accepted per wake-up before other watchers get a turn. */
#define ACCEPT_BATCH 64
/* How long accepting pauses when file descriptors run out. */
#define ACCEPT_RETRY_SECONDS 0.5

static unsigned server_open_connections(struct server *server);
static void server_compose_status(struct server *server, char *status, size_t size);
static void server_on_accept(struct ev_loop *loop, ev_io *watcher, int revents);
static void server_update_accepting(struct server *server);
static void server_close_all(struct server *server, const char *reason);
static void server_begin_shutdown(struct server *server, const char *why);
static int server_reload(struct server *server, char *error, size_t error_size);
static struct server_service *server_service_for(struct server *server,
                                                 const struct service_ops *ops);

/* Connections open in every service. */
static unsigned server_open_connections(struct server *server)
{
        unsigned open = 0;

        for (size_t i = 0; i < server->service_count; i++) {
                struct service_counts counts;

                server->services[i].ops->counts(server->services[i].state, &counts);
                open += counts.open;
        }
        return open;
}

static void server_compose_status(struct server *server, char *status, size_t size)
{
        size_t length = 0;
        bool full = false;

        status[0] = '\0';
        for (size_t i = 0; i < server->service_count && length < size; i++) {
                struct server_service *service = &server->services[i];

                if (i > 0)
                        length += (size_t)snprintf(status + length, size - length, "; ");
                if (length < size)
                        service->ops->status(service->state, status + length, size - length);
                length += strlen(status + length);
                if (service->paused && length < size)
                        length += (size_t)snprintf(status + length, size - length, " (paused)");
                if (!service->ops->has_room(service->state))
                        full = true;
        }
        if (length >= size)
                return;
        if (server->stopping)
                snprintf(status + length, size - length, "; stopping");
        else if (server->fd_exhausted)
                snprintf(status + length, size - length,
                         "; not accepting: out of file descriptors");
        else if (full)
                snprintf(status + length, size - length,
                         "; not accepting: max-connections reached");
}

/* STATUS= is sent from a timer, not per connection, to keep it off the hot path. */
static void on_status_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct server *server = timer->data;
        char status[sizeof(server->status)];

        (void)loop;
        (void)revents;
        log_flush(); /* a stalled standard error may have drained */
        for (size_t i = 0; i < server->service_count; i++) {
                if (server->services[i].ops->tick)
                        server->services[i].ops->tick(server->services[i].state);
        }
        server_compose_status(server, status, sizeof(status));
        if (strcmp(status, server->status) != 0) {
                memcpy(server->status, status, sizeof(status));
                notify_status(status);
        }
}

static void on_watchdog_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        (void)loop;
        (void)timer;
        (void)revents;
        notify_watchdog();
}

static void note_fd_exhaustion(struct server *server, int error)
{
        ev_tstamp now = ev_now(server->loop);

        server->fd_exhausted = true;
        server_update_accepting(server);
        /* libev forbids ev_timer_set on an active timer. */
        ev_timer_stop(server->loop, &server->accept_retry_timer);
        ev_timer_set(&server->accept_retry_timer, ACCEPT_RETRY_SECONDS, 0);
        ev_timer_start(server->loop, &server->accept_retry_timer);
        /* One line a minute is enough to say it goes on. */
        if (now - server->last_fd_log >= 60) {
                log_warning("cannot accept: %s; pausing accepts (%u connections open)",
                            strerror(error), server_open_connections(server));
                server->last_fd_log = now;
        }
}

/*
 * True if accept() on a blocking listener will not block: a connection waits,
 * or the socket is in error or shut down (then accept fails at once).
 */
static bool connection_waiting(int fd)
{
        struct pollfd pending = {.fd = fd, .events = POLLIN};

        return poll(&pending, 1, 0) == 1 && pending.revents != 0;
}

/* An accept error that the next connection will not have. */
static bool accept_error_is_transient(int error)
{
        switch (error) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM: /* a firewall rule refused this one */
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
                return true;
        }
        return false;
}

static void server_on_accept(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct listener *listener = watcher->data;
        struct server *server = listener->server;
        struct server_service *service = listener->service;

        (void)revents;
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                struct sockaddr_storage peer = {0};
                socklen_t length = sizeof(peer);
                int fd, r;

                if (!service->ops->has_room(service->state)) {
                        server_update_accepting(server);
                        return;
                }
                /* A blocking listener (as some launchers pass them) must not stall the loop. */
                if (!listener->nonblocking && !connection_waiting(watcher->fd))
                        return;
                fd = accept4(watcher->fd, (struct sockaddr *)&peer, &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0) {
                        r = service->ops->connection(service->state, fd, (struct sockaddr *)&peer,
                                                     length);
                        if (r < 0)
                                log_error("%s: cannot serve a connection: %s", service->ops->name,
                                          strerror(-r));
                        continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        return;
                if (accept_error_is_transient(errno))
                        continue;
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        note_fd_exhaustion(server, errno);
                        return;
                }
                /* EINVAL (shut down), ENOTSOCK, EBADF: it will not get better; stop watching it. */
                log_error("%s: cannot accept on fd %d: %s; no longer serving it",
                          service->ops->name, watcher->fd, strerror(errno));
                listener->dead = true;
                ev_io_stop(loop, watcher);
                return;
        }
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct server *server = timer->data;

        (void)loop;
        (void)revents;
        server->fd_exhausted = false;
        server_update_accepting(server);
}

static void server_update_accepting(struct server *server)
{
        for (size_t i = 0; i < server->listener_count; i++) {
                struct listener *listener = &server->listeners[i];
                struct server_service *service = listener->service;
                bool want;

                if (!service || listener->socket.type != LISTEN_STREAM || listener->dead)
                        continue;
                want = !server->stopping && !server->fd_exhausted && !service->paused &&
                       service->ops->has_room(service->state);
                /* libev makes starting an active watcher, or stopping an idle one, a no-op. */
                if (want)
                        ev_io_start(server->loop, &listener->accept_watcher);
                else
                        ev_io_stop(server->loop, &listener->accept_watcher);
        }
}

static void on_connection_closed(void *arg)
{
        struct server *server = arg;

        if ((server->inetd || server->stopping) && server_open_connections(server) == 0) {
                ev_break(server->loop, EVBREAK_ALL);
                return;
        }
        server_update_accepting(server);
}

static void server_close_all(struct server *server, const char *reason)
{
        for (size_t i = 0; i < server->service_count; i++)
                server->services[i].ops->close_all(server->services[i].state, reason);
}

static void on_shutdown_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct server *server = timer->data;

        (void)revents;
        log_warning("shutdown timeout: closing %u connection(s) still open",
                    server_open_connections(server));
        server_close_all(server, "shutdown timeout");
        ev_break(loop, EVBREAK_ALL);
}

/* hint: appended to the drain line, how to cut the drain short ("" for none). */
static void server_begin_shutdown_hint(struct server *server, const char *why, const char *hint)
{
        char status[96];
        unsigned open = server_open_connections(server);

        if (server->stopping) {
                /* A second signal: stop waiting for peers. */
                server_close_all(server, "shutdown");
                ev_break(server->loop, EVBREAK_ALL);
                return;
        }
        if (restart_requested()) {
                server_hand_over(server, why);
                return;
        }
        server->stopping = true;
        snprintf(status, sizeof(status), "Stopping: draining %u connection(s)", open);
        notify_stopping(status);
        log_notice("%s: stopping; draining %u connection(s), at most %g s%s", why, open,
                   server->config.shutdown_timeout, hint);
        server_update_accepting(server);
        for (size_t i = 0; i < server->service_count; i++)
                server->services[i].ops->drain(server->services[i].state);
        if (server_open_connections(server) == 0) {
                ev_break(server->loop, EVBREAK_ALL);
                return;
        }
        ev_timer_set(&server->shutdown_timer, server->config.shutdown_timeout, 0);
        ev_timer_start(server->loop, &server->shutdown_timer);
}

static void server_begin_shutdown(struct server *server, const char *why)
{
        server_begin_shutdown_hint(server, why, "");
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *watcher, int revents)
{
        char why[64];

        (void)loop;
        (void)revents;
        snprintf(why, sizeof(why), "received %s", strsignal(watcher->signum));
        /* Ctrl-C in the foreground: a second one stops at once (issue 24). */
        server_begin_shutdown_hint(watcher->data, why,
                                   watcher->signum == SIGINT ? " (Ctrl-C again to stop now)" : "");
}

/* Settings a reload may change; addresses, buffer sizes and the chat's store stay as started. */
static void apply_reloadable(struct server *server, struct config *fresh)
{
        struct config *config = &server->config;
        const char *backend = config->chat_backend ? config->chat_backend : "sqlite";
        const char *wanted = fresh->chat_backend ? fresh->chat_backend : "sqlite";

        /* The chat's store is not switched under its users. */
        if (strcmp(backend, wanted) != 0)
                log_warning("reload: chat-backend %s takes effect at the next restart; the chat "
                            "keeps %s",
                            wanted, backend);
        log_set_level(fresh->log_level);
        config->log_level = fresh->log_level;
        config->max_connections = fresh->max_connections;
        config->idle_timeout = fresh->idle_timeout;
        config->shutdown_timeout = fresh->shutdown_timeout;
        config->udp_rate = fresh->udp_rate;
        config->udp_burst = fresh->udp_burst;
        config->chat_history = fresh->chat_history;
        config->chat_max_users = fresh->chat_max_users;
        config->chat_max_pending = fresh->chat_max_pending;
        config->chat_max_pending_per_address = fresh->chat_max_pending_per_address;
        config->chat_login_timeout = fresh->chat_login_timeout;
        config->chat_token_idle = fresh->chat_token_idle;
        config->chat_token_lifetime = fresh->chat_token_lifetime;
        config->chat_rate = fresh->chat_rate;
        config->chat_burst = fresh->chat_burst;
        config->chat_output_max = fresh->chat_output_max;
        config->udp_global_rate = fresh->udp_global_rate;
        config->socket_buffer = fresh->socket_buffer;
        for (size_t i = 0; i < server->service_count; i++)
                server->services[i].ops->reload(server->services[i].state, config);
}

/* Reload as SIGHUP asks. 0, or -errno with the reason in error (the running config stays). */
static int server_reload(struct server *server, char *error, size_t error_size)
{
        struct config fresh;
        enum config_action action;
        int r, status;

        notify_reloading();
        config_defaults(&fresh);
        r = config_load(&fresh, server->argc, server->argv, &action, error, error_size);
        status = r;
        if (r < 0) {
                log_error("reload: %s; keeping the running configuration", error);
        } else {
                const char *old_file = server->config.log_file ? server->config.log_file : "";
                const char *new_file = fresh.log_file ? fresh.log_file : "";

                apply_reloadable(server, &fresh);
                if (strcmp(old_file, new_file) != 0) {
                        r = log_set_file(fresh.log_file);
                        if (r < 0) {
                                log_error("reload: cannot open log file %s: %s", new_file,
                                          file_strerror(r));
                        } else {
                                free(server->config.log_file);
                                server->config.log_file = fresh.log_file;
                                fresh.log_file = NULL;
                        }
                } else if ((r = log_reopen()) < 0) {
                        log_error("reload: cannot reopen log file %s: %s", new_file,
                                  file_strerror(r));
                }
                log_record(LOG_INFO, LOG_ID_RELOAD, NULL, "reloaded configuration from %s",
                           server->config.config_path ? server->config.config_path : "(none)");
        }
        config_fini(&fresh);
        server_update_accepting(server);
        server_compose_status(server, server->status, sizeof(server->status));
        notify_ready(server->status);
        return status;
}

static void on_reload_signal(struct ev_loop *loop, ev_signal *watcher, int revents)
{
        struct server *server = watcher->data;

        char error[CONFIG_ERROR_MAX];

        (void)loop;
        (void)revents;
        if (!server->stopping)
                server_reload(server, error, sizeof(error));
}

/* The running service for ops, started on first use; NULL if it cannot start (logged). */
static struct server_service *server_service_for(struct server *server,
                                                 const struct service_ops *ops)
{
        struct service_env env = {
            .loop = server->loop,
            .config = &server->config,
            .connection_closed = on_connection_closed,
            .server = server,
            .control = &server->control_host,
        };
        struct server_service *service;
        int r;

        for (size_t i = 0; i < server->service_count; i++) {
                if (server->services[i].ops == ops)
                        return &server->services[i];
        }
        if (server->service_count == SERVER_SERVICES_MAX)
                return NULL;
        service = &server->services[server->service_count];
        r = ops->init(&service->state, &env);
        if (r < 0) {
                log_error("%s: cannot start: %s", ops->name, strerror(-r));
                return NULL;
        }
        service->ops = ops;
        server->service_count++;
        return service;
}

/* What server_sockets.c, server_restart.c and server_control.c may call of this file. */
static const struct server_core_ops core_ops = {
    .open_connections = server_open_connections,
    .update_accepting = server_update_accepting,
    .compose_status = server_compose_status,
    .begin_shutdown = server_begin_shutdown,
    .reload = server_reload,
    .service_for = server_service_for,
    .on_accept = server_on_accept,
};

int server_init(struct server *server, struct config *config, int argc, char **argv)
{
        struct listen_socket sockets[LISTEN_MAX];
        int r;

        memset(server, 0, sizeof(*server));
        server->core = &core_ops;
        server->config = *config;
        memset(config, 0, sizeof(*config));
        server->argc = argc;
        server->argv = argv;
        server->loop = ev_default_loop(EVFLAG_AUTO);
        if (!server->loop) {
                log_error("cannot initialise the event loop");
                return -ENOMEM;
        }
        signal(SIGPIPE, SIG_IGN);
        notify_init();
        server->started = ev_time();
        log_ring_init(&server->logs);
        log_set_sink(log_ring_sink, &server->logs);
        server_control_host_init(server);

        log_record(LOG_INFO, LOG_ID_START,
                   (const char *const[]){"ECHOD_VERSION=" ECHOD_VERSION, NULL}, "echod %s starting",
                   ECHOD_VERSION);
        server->inherited.state_fd = -1;
        r = listen_from_systemd(sockets, LISTEN_MAX, &server->listener_count,
                                server_claim_inherited, server);
        if (r < 0) {
                log_error("cannot take sockets from systemd: %s", strerror(-r));
                return r;
        }
        for (size_t i = 0; i < server->listener_count; i++)
                server->listeners[i].socket = sockets[i];
        if ((size_t)r > server->listener_count)
                log_warning("systemd passed %d sockets; serving the first %zu, ignoring the rest",
                            r, server->listener_count);
        server->socket_activated = server->listener_count > 0;
        if (!server->socket_activated) {
                r = server_bind_standalone(server);
                if (r < 0)
                        return r;
        }
        r = server_start_sockets(server);
        server_take_over(server);
        if (r == -ENOEXEC) {
                log_error("stopping: a configured service cannot start (see above)");
                return r;
        }
        if (r < 0) {
                log_error("no socket to serve: %s",
                          server->socket_activated ? "systemd passed none with a name echod serves"
                                                   : "no listening address configured");
                return r;
        }
        return 0;
}

int server_run(struct server *server)
{
        struct ev_loop *loop = server->loop;
        uint64_t watchdog_usec = notify_watchdog_usec();
        struct service_counts total = {0};

        ev_signal_init(&server->sigterm_watcher, on_stop_signal, SIGTERM);
        ev_signal_init(&server->sigint_watcher, on_stop_signal, SIGINT);
        ev_signal_init(&server->sighup_watcher, on_reload_signal, SIGHUP);
        server->sigterm_watcher.data = server->sigint_watcher.data = server->sighup_watcher.data =
            server;
        ev_signal_start(loop, &server->sigterm_watcher);
        ev_signal_start(loop, &server->sigint_watcher);
        ev_signal_start(loop, &server->sighup_watcher);

        ev_timer_init(&server->status_timer, on_status_timer, 1.0, 1.0);
        server->status_timer.data = server;
        ev_timer_start(loop, &server->status_timer);
        ev_unref(loop); /* housekeeping timers do not keep the loop alive */
        if (watchdog_usec > 0) {
                ev_timer_init(&server->watchdog_timer, on_watchdog_timer, 0,
                              (double)watchdog_usec / 2e6);
                server->watchdog_timer.data = server;
                ev_timer_again(loop, &server->watchdog_timer);
                notify_watchdog();
        }
        ev_init(&server->accept_retry_timer, on_accept_retry);
        server->accept_retry_timer.data = server;
        ev_init(&server->shutdown_timer, on_shutdown_timer);
        server->shutdown_timer.data = server;

        if (server->config.console) {
                int r = console_start(&server->console, loop, &server->control_host);

                if (r < 0)
                        log_warning("--console: %s; no console",
                                    r == -ENOTTY ? "stdin is not a terminal" : strerror(-r));
        }
        server_update_accepting(server);
        server_compose_status(server, server->status, sizeof(server->status));
        notify_ready(server->status);

        ev_run(loop, 0);

        server_close_all(server, "shutdown");
        for (size_t i = 0; i < server->service_count; i++) {
                struct service_counts counts;

                server->services[i].ops->counts(server->services[i].state, &counts);
                total.total += counts.total;
                total.datagrams += counts.datagrams;
        }
        log_record(LOG_INFO, LOG_ID_STOP, NULL,
                   "echod stopped: %" PRIu64 " connection%s served, %" PRIu64
                   " UDP datagram%s echoed",
                   total.total, total.total == 1 ? "" : "s", total.datagrams,
                   total.datagrams == 1 ? "" : "s");
        return 0;
}

void server_fini(struct server *server)
{
        console_free(server->console);
        server->console = NULL;
        for (size_t i = 0; i < server->service_count; i++)
                server->services[i].ops->fini(server->services[i].state);
        server->service_count = 0;
        /* Sockets we bound ourselves are ours to close; inherited ones are not. */
        for (size_t i = 0; i < server->listener_count; i++)
                listen_close(&server->listeners[i].socket);
        log_set_sink(NULL, NULL);
        log_ring_fini(&server->logs);
        config_fini(&server->config);
        notify_fini();
        if (server->loop)
                ev_loop_destroy(server->loop);
        server->loop = NULL;
}
