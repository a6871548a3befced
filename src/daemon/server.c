#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "file.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "restart.h"
#include "version.h"

/* Connections accepted per wake-up before other watchers get a turn. */
#define ACCEPT_BATCH 64
/* How long accepting pauses when file descriptors run out. */
#define ACCEPT_RETRY_SECONDS 0.5

static void update_accepting(struct server *server);

/* Connections open in every service. */
static unsigned open_connections(struct server *server)
{
        unsigned open = 0;

        for (size_t i = 0; i < server->service_count; i++) {
                struct service_counts counts;

                server->services[i].ops->counts(server->services[i].state, &counts);
                open += counts.open;
        }
        return open;
}

static void compose_status(struct server *server, char *status, size_t size)
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
                snprintf(status + length, size - length, "; not accepting: max-connections reached");
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
        compose_status(server, status, sizeof(status));
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
        update_accepting(server);
        /* libev forbids ev_timer_set on an active timer. */
        ev_timer_stop(server->loop, &server->accept_retry_timer);
        ev_timer_set(&server->accept_retry_timer, ACCEPT_RETRY_SECONDS, 0);
        ev_timer_start(server->loop, &server->accept_retry_timer);
        /* One line a minute is enough to say it goes on. */
        if (now - server->last_fd_log >= 60) {
                log_warning("cannot accept: %s; pausing accepts (%u connections open)",
                            strerror(error), open_connections(server));
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

static void on_accept(struct ev_loop *loop, ev_io *watcher, int revents)
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
                        update_accepting(server);
                        return;
                }
                /* A blocking listener (as some launchers pass them) must not stall the loop. */
                if (!listener->nonblocking && !connection_waiting(watcher->fd))
                        return;
                fd = accept4(watcher->fd, (struct sockaddr *)&peer, &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0) {
                        r = service->ops->connection(service->state, fd,
                                                     (struct sockaddr *)&peer, length);
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
        update_accepting(server);
}

static void update_accepting(struct server *server)
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

        if ((server->inetd || server->stopping) && open_connections(server) == 0) {
                ev_break(server->loop, EVBREAK_ALL);
                return;
        }
        update_accepting(server);
}

static void close_all(struct server *server, const char *reason)
{
        for (size_t i = 0; i < server->service_count; i++)
                server->services[i].ops->close_all(server->services[i].state, reason);
}

static void on_shutdown_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct server *server = timer->data;

        (void)revents;
        log_warning("shutdown timeout: closing %u connection(s) still open",
                    open_connections(server));
        close_all(server, "shutdown timeout");
        ev_break(loop, EVBREAK_ALL);
}

static int store_connection(void *arg, int fd, uint64_t *token)
{
        struct server *server = arg;

        *token = ++server->next_handover_token;
        return restart_store_fd(fd, *token);
}

/*
 * A planned restart: every connection's socket and state go to systemd's
 * fd store, for the next process to serve on (restart.h). Services that
 * cannot hand over close their connections cleanly.
 */
static void hand_over(struct server *server, int signal_number)
{
        struct service_handover handover = {.store_fd = store_connection, .server = server};
        struct handover_writer writer;
        const unsigned char *state;
        char status[96];
        unsigned open = open_connections(server);
        ev_tstamp started = ev_time();
        long length;
        int handed = 0, r;

        server->stopping = true;
        snprintf(status, sizeof(status), "Restarting: handing %u connection(s) over", open);
        notify_stopping(status);
        update_accepting(server);
        handover_writer_init(&writer);
        for (size_t i = 0; i < server->service_count; i++) {
                struct server_service *service = &server->services[i];

                if (service->ops->hand_over) {
                        r = service->ops->hand_over(service->state, &writer, &handover);
                        if (r > 0)
                                handed += r;
                } else {
                        service->ops->close_all(service->state, "restart");
                }
        }
        length = handover_writer_finish(&writer, &state);
        r = length < 0 ? (int)length : restart_store_state(state, (size_t)length);
        if (r < 0)
                log_error("restart: cannot store the state of %d connection(s): %s; the next "
                          "process will close them",
                          handed, strerror(-r));
        else
                log_notice("received %s: restarting; handed %d connection(s) over to the next "
                           "process (%ld bytes of state, %.1f ms)",
                           strsignal(signal_number), handed, length,
                           (ev_time() - started) * 1e3);
        handover_writer_fini(&writer);
        ev_break(server->loop, EVBREAK_ALL);
}

static void begin_shutdown(struct server *server, int signal_number)
{
        char status[96];
        unsigned open = open_connections(server);

        if (server->stopping) {
                /* A second signal: stop waiting for peers. */
                close_all(server, "shutdown");
                ev_break(server->loop, EVBREAK_ALL);
                return;
        }
        if (restart_requested()) {
                hand_over(server, signal_number);
                return;
        }
        server->stopping = true;
        snprintf(status, sizeof(status), "Stopping: draining %u connection(s)", open);
        notify_stopping(status);
        log_notice("received %s: stopping; draining %u connection(s), at most %g s",
                   strsignal(signal_number), open, server->config.shutdown_timeout);
        update_accepting(server);
        for (size_t i = 0; i < server->service_count; i++)
                server->services[i].ops->drain(server->services[i].state);
        if (open_connections(server) == 0) {
                ev_break(server->loop, EVBREAK_ALL);
                return;
        }
        ev_timer_set(&server->shutdown_timer, server->config.shutdown_timeout, 0);
        ev_timer_start(server->loop, &server->shutdown_timer);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *watcher, int revents)
{
        (void)loop;
        (void)revents;
        begin_shutdown(watcher->data, watcher->signum);
}

/* Settings a reload may change; addresses and buffer sizes stay as started. */
static void apply_reloadable(struct server *server, struct config *fresh)
{
        struct config *config = &server->config;

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

static void reload(struct server *server)
{
        struct config fresh;
        enum config_action action;
        char error[CONFIG_ERROR_MAX];
        int r;

        notify_reloading();
        config_defaults(&fresh);
        r = config_load(&fresh, server->argc, server->argv, &action, error, sizeof(error));
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
        update_accepting(server);
        compose_status(server, server->status, sizeof(server->status));
        notify_ready(server->status);
}

static void on_reload_signal(struct ev_loop *loop, ev_signal *watcher, int revents)
{
        struct server *server = watcher->data;

        (void)loop;
        (void)revents;
        if (!server->stopping)
                reload(server);
}

static void log_listening(const struct listener *listener, bool print)
{
        const struct listen_socket *socket_info = &listener->socket;
        const char *service = listener->service->ops->name;
        char address[ADDR_TEXT_MAX], address_field[ADDR_TEXT_MAX + 16], protocol_field[32],
            service_field[48];
        const char *fields[] = {service_field, address_field, protocol_field, NULL};
        const char *protocol = listen_protocol_name(socket_info);

        if (socket_info->address_length > 0)
                addr_format((const struct sockaddr *)&socket_info->address, address,
                            sizeof(address));
        else
                snprintf(address, sizeof(address), "fd %d", socket_info->fd);
        snprintf(service_field, sizeof(service_field), "SERVICE=%s", service);
        snprintf(address_field, sizeof(address_field), "LISTEN_ADDR=%s", address);
        snprintf(protocol_field, sizeof(protocol_field), "PROTOCOL=%s", protocol);
        log_record(LOG_INFO, LOG_ID_LISTENING, fields, "%s: listening on %s (%s%s)", service,
                   address, protocol, socket_info->inherited ? ", from systemd" : "");
        /* Standalone, say on stdout where we are: the port may not be the one asked for. */
        if (print) {
                printf("listening %s/%s %s\n", service, protocol, address);
                fflush(stdout);
        }
}

/* The running service for ops, started on first use; NULL if it cannot start (logged). */
static struct server_service *service_for(struct server *server, const struct service_ops *ops)
{
        struct service_env env = {
            .loop = server->loop,
            .config = &server->config,
            .connection_closed = on_connection_closed,
            .server = server,
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

/* Bind the standalone sockets of one service, named name. */
static int bind_service(struct server *server, const char *name, const struct addr_spec *specs,
                        size_t count)
{
        bool strict = server->config.strict_port;

        for (size_t i = 0; i < count; i++) {
                const struct addr_spec *spec = &specs[i];
                struct listen_socket *socket_info;
                char wanted[ADDR_TEXT_MAX];
                int r;

                if (server->listener_count == LISTEN_MAX) {
                        log_error("%s: more than %d sockets in all", name, LISTEN_MAX);
                        return -EMFILE;
                }
                socket_info = &server->listeners[server->listener_count].socket;
                addr_format((const struct sockaddr *)&spec->sa, wanted, sizeof(wanted));
                r = listen_bind(spec, strict, name, socket_info);
                if (r < 0) {
                        log_error("%s: cannot listen on %s (%s): %s%s", name, wanted,
                                  spec->proto == ADDR_UDP ? "udp" : "tcp", strerror(-r),
                                  r == -EADDRINUSE && !strict ? " (and the next ports)" : "");
                        return r;
                }
                server->listener_count++;
                if (addr_port((struct sockaddr *)&socket_info->address) !=
                        addr_port((const struct sockaddr *)&spec->sa) &&
                    addr_port((const struct sockaddr *)&spec->sa) != 0)
                        log_notice("%s: port %u is busy; took %u instead", name,
                                   addr_port((const struct sockaddr *)&spec->sa),
                                   addr_port((struct sockaddr *)&socket_info->address));
        }
        return 0;
}

static int bind_standalone(struct server *server)
{
        const struct config *config = &server->config;
        int r;

        r = bind_service(server, "echo", config->echo, config->echo_count);
        if (r == 0)
                r = bind_service(server, "chat", config->chat, config->chat_count);
        return r;
}

/* Serve an Accept=yes connection: this process serves it, then exits. */
static int serve_connected(struct server *server, struct listener *listener)
{
        struct listen_socket *socket_info = &listener->socket;
        const struct service_ops *ops = listener->service->ops;
        struct sockaddr_storage peer = {0};
        socklen_t length = sizeof(peer);
        int fd = socket_info->fd;

        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
            getpeername(fd, (struct sockaddr *)&peer, &length) < 0) {
                log_error("%s: cannot serve connection fd %d: %s", ops->name, fd, strerror(errno));
                return -errno;
        }
        /* The connection is the service's now; it closes it when done. */
        socket_info->inherited = false;
        socket_info->fd = -1;
        server->inetd = true;
        return ops->connection(listener->service->state, fd, (struct sockaddr *)&peer, length);
}

/* Hand one socket to its service. 0 if it is served, else -errno (logged). */
static int start_listener(struct server *server, struct listener *listener)
{
        struct listen_socket *socket_info = &listener->socket;
        const struct service_ops *ops = service_find(socket_info->name);
        int flags, r = -EPROTONOSUPPORT;

        listener->server = server;
        if (!ops || socket_info->type == LISTEN_UNSUPPORTED ||
            (socket_info->type == LISTEN_DATAGRAM && !ops->datagram) ||
            (socket_info->type != LISTEN_DATAGRAM && !ops->connection)) {
                log_warning("ignoring socket fd %d named '%s': not a name or type echod serves",
                            socket_info->fd, socket_info->name);
                return -EPROTONOSUPPORT;
        }
        listener->service = service_for(server, ops);
        if (!listener->service)
                return -ENOMEM;
        switch (socket_info->type) {
        case LISTEN_CONNECTED:
                return serve_connected(server, listener);
        case LISTEN_STREAM:
                /* A blocking listener (as some launchers pass them) is accepted from
                 * once per wake-up; echod leaves an inherited socket's flags alone. */
                flags = fcntl(socket_info->fd, F_GETFL);
                listener->nonblocking = flags >= 0 && (flags & O_NONBLOCK);
                ev_io_init(&listener->accept_watcher, on_accept, socket_info->fd, EV_READ);
                listener->accept_watcher.data = listener;
                r = 0;
                break;
        case LISTEN_DATAGRAM:
                r = ops->datagram(listener->service->state, socket_info->fd);
                if (r < 0)
                        log_error("%s: cannot serve datagram socket fd %d: %s", ops->name,
                                  socket_info->fd, strerror(-r));
                break;
        case LISTEN_UNSUPPORTED:
                break;
        }
        if (r == 0)
                log_listening(listener, !server->socket_activated);
        else
                listener->service = NULL;
        return r;
}

static int start_sockets(struct server *server)
{
        size_t served = 0;

        for (size_t i = 0; i < server->listener_count; i++) {
                if (start_listener(server, &server->listeners[i]) == 0)
                        served++;
        }
        return served > 0 ? 0 : -ENOENT;
}

static int claim_inherited(void *arg, int fd, const char *name)
{
        struct server *server = arg;

        return restart_claim(&server->inherited, fd, name);
}

/* The service that reads records of type, started if need be; NULL if none. */
static struct server_service *service_for_record(struct server *server, uint16_t type)
{
        for (size_t i = 0; service_table[i]; i++) {
                if (service_table[i]->take_over && service_table[i]->handover_type == type)
                        return service_for(server, service_table[i]);
        }
        return NULL;
}

/* Serve on the connections a previous process handed over, and forget the rest cleanly. */
static void take_over(struct server *server)
{
        struct restart_inherited *inherited = &server->inherited;
        struct handover_reader reader;
        struct handover_record record;
        unsigned char *state = NULL;
        size_t length = 0, taken = 0, closed;
        int r;

        if (inherited->state_fd < 0 && inherited->conn_count == 0)
                return;
        r = restart_read_state(inherited, &state, &length);
        if (r == 0)
                r = handover_reader_init(&reader, state, length);
        if (r < 0)
                log_error("restart: the state left by the previous process is %s (%s); closing "
                          "its %zu connection(s)",
                          r == -ENOENT ? "missing" : "not understood", strerror(-r),
                          inherited->conn_count);
        while (r == 0 && (r = handover_next_record(&reader, &record)) == 1) {
                struct server_service *service = service_for_record(server, record.type);
                uint64_t token;
                int fd;

                r = 0;
                if (!service || handover_get_u64(&record, &token) < 0) {
                        log_warning("restart: skipping a record of unknown type %u", record.type);
                        continue;
                }
                fd = restart_take_fd(inherited, token);
                if (fd < 0) {
                        log_warning("restart: no socket for %s connection %" PRIu64,
                                    service->ops->name, token);
                        continue;
                }
                r = service->ops->take_over(service->state, &record, fd);
                if (r < 0)
                        log_warning("restart: cannot serve %s connection %" PRIu64 " on: %s",
                                    service->ops->name, token, strerror(-r));
                else
                        taken++;
                r = 0;
        }
        if (r < 0 && state)
                log_error("restart: the state is damaged (%s); closing what is left",
                          strerror(-r));
        free(state);
        closed = restart_finish(inherited);
        log_notice("restart: serving %zu connection(s) handed over by the previous process%s",
                   taken, closed ? "; closed the others" : "");
        if (closed)
                log_warning("restart: closed %zu connection(s) that could not be taken over",
                            closed);
}

int server_init(struct server *server, struct config *config, int argc, char **argv)
{
        struct listen_socket sockets[LISTEN_MAX];
        int r;

        memset(server, 0, sizeof(*server));
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

        log_record(LOG_INFO, LOG_ID_START,
                   (const char *const[]){"ECHOD_VERSION=" ECHOD_VERSION, NULL}, "echod %s starting",
                   ECHOD_VERSION);
        server->inherited.state_fd = -1;
        r = listen_from_systemd(sockets, LISTEN_MAX, &server->listener_count, claim_inherited,
                                server);
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
                r = bind_standalone(server);
                if (r < 0)
                        return r;
        }
        r = start_sockets(server);
        take_over(server);
        if (r < 0) {
                log_error("no socket to serve: %s",
                          server->socket_activated
                              ? "systemd passed none with a name echod serves"
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

        update_accepting(server);
        compose_status(server, server->status, sizeof(server->status));
        notify_ready(server->status);

        ev_run(loop, 0);

        close_all(server, "shutdown");
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
        for (size_t i = 0; i < server->service_count; i++)
                server->services[i].ops->fini(server->services[i].state);
        server->service_count = 0;
        for (size_t i = 0; i < server->listener_count; i++) {
                struct listen_socket *socket_info = &server->listeners[i].socket;

                /* Sockets we bound ourselves are ours to close; inherited ones are not. */
                if (!socket_info->inherited && socket_info->fd >= 0)
                        close(socket_info->fd);
        }
        config_fini(&server->config);
        notify_fini();
        if (server->loop)
                ev_loop_destroy(server->loop);
        server->loop = NULL;
}
