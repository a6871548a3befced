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
#include "log.h"
#include "notify.h"
#include "version.h"

/* Connections accepted per wake-up before other watchers get a turn. */
#define ACCEPT_BATCH 64
/* How long accepting pauses when file descriptors run out. */
#define ACCEPT_RETRY_SECONDS 0.5
/* Source slots of the UDP rate limiter. */
#define RATELIMIT_SOURCES 8192

static void update_accepting(struct server *server);

static void compose_status(struct server *server, char *status, size_t size)
{
        const char *paused = "";

        if (server->stopping)
                paused = "; stopping";
        else if (server->fd_exhausted)
                paused = "; not accepting: out of file descriptors";
        else if (server->pool.count >= server->config.max_connections)
                paused = "; not accepting: max-connections reached";
        char udp[96] = "";
        bool has_udp = false;

        /* UDP counts only when there is a UDP socket: "udp: 0 echoed" reads as if there were one. */
        for (size_t i = 0; i < server->socket_count; i++)
                has_udp = has_udp || server->sockets[i].kind == LISTEN_ECHO_UDP;
        if (has_udp)
                snprintf(udp, sizeof(udp), "; udp: %" PRIu64 " echoed, %" PRIu64 " dropped",
                         server->udp_stats.answered,
                         server->udp_stats.dropped_guard + server->udp_stats.dropped_rate);
        snprintf(status, size, "echo: %u connection%s (%" PRIu64 " total, %" PRIu64 " bytes echoed)%s%s",
                 server->pool.count, server->pool.count == 1 ? "" : "s", server->pool.total,
                 server->pool.bytes_out, udp, paused);
}

/* STATUS= is sent from a timer, not per connection, to keep it off the hot path. */
static void on_status_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct server *server = timer->data;
        char status[sizeof(server->status)];

        (void)loop;
        (void)revents;
        for (size_t i = 0; i < server->socket_count; i++) {
                if (server->sockets[i].kind == LISTEN_ECHO_UDP)
                        udp_echo_flush_drops(&server->udp[i], false);
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
                log_warning("echo: cannot accept: %s; pausing accepts (%u connections open)",
                            strerror(error), server->pool.count);
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
        struct server *server = watcher->data;
        size_t index = (size_t)(watcher - server->accept_watchers);
        bool nonblocking = server->accept_nonblocking[index];

        (void)loop;
        (void)revents;
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                struct sockaddr_storage peer = {0};
                socklen_t length = sizeof(peer);
                int fd;

                if (server->pool.count >= server->config.max_connections) {
                        update_accepting(server);
                        return;
                }
                /* A blocking listener (as some launchers pass them) must not stall the loop. */
                if (!nonblocking && !connection_waiting(watcher->fd))
                        return;
                fd = accept4(watcher->fd, (struct sockaddr *)&peer, &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0) {
                        if (conn_start(&server->pool, fd, (struct sockaddr *)&peer, length) < 0)
                                log_error("echo: cannot serve a connection: out of memory");
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
                log_error("echo: cannot accept on fd %d: %s; no longer serving it", watcher->fd,
                          strerror(errno));
                server->accept_dead[index] = true;
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
        bool want = !server->stopping && !server->fd_exhausted &&
                    server->pool.count < server->config.max_connections;

        if (want == server->accepting)
                return;
        for (size_t i = 0; i < server->socket_count; i++) {
                if (server->sockets[i].kind != LISTEN_ECHO_TCP || server->accept_dead[i])
                        continue;
                if (want)
                        ev_io_start(server->loop, &server->accept_watchers[i]);
                else
                        ev_io_stop(server->loop, &server->accept_watchers[i]);
        }
        server->accepting = want;
}

static void on_conn_closed(struct conn_pool *pool)
{
        struct server *server = pool->owner;

        if (pool->count == 0 && (server->inetd || server->stopping)) {
                ev_break(server->loop, EVBREAK_ALL);
                return;
        }
        if (!server->accepting)
                update_accepting(server);
}

static void on_shutdown_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct server *server = timer->data;

        (void)revents;
        log_warning("echo: shutdown timeout: closing %u connection(s) still open",
                    server->pool.count);
        conn_pool_close_all(&server->pool, "shutdown timeout");
        ev_break(loop, EVBREAK_ALL);
}

static void begin_shutdown(struct server *server, int signal_number)
{
        char status[96];

        if (server->stopping) {
                /* A second signal: stop waiting for peers. */
                conn_pool_close_all(&server->pool, "shutdown");
                ev_break(server->loop, EVBREAK_ALL);
                return;
        }
        server->stopping = true;
        snprintf(status, sizeof(status), "Stopping: draining %u connection(s)", server->pool.count);
        notify_stopping(status);
        log_notice("received %s: stopping; draining %u connection(s), at most %g s",
                   strsignal(signal_number), server->pool.count, server->config.shutdown_timeout);
        update_accepting(server);
        for (size_t i = 0; i < server->socket_count; i++) {
                if (server->sockets[i].kind == LISTEN_ECHO_UDP)
                        udp_echo_stop(&server->udp[i]);
        }
        conn_pool_drain(&server->pool);
        if (server->pool.count == 0) {
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
        if (config->idle_timeout != fresh->idle_timeout)
                conn_pool_set_idle_timeout(&server->pool, fresh->idle_timeout);
        config->idle_timeout = fresh->idle_timeout;
        config->shutdown_timeout = fresh->shutdown_timeout;
        config->udp_rate = fresh->udp_rate;
        config->udp_burst = fresh->udp_burst;
        ratelimit_configure(&server->limit, fresh->udp_rate, fresh->udp_burst);
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
                                          strerror(-r));
                        } else {
                                free(server->config.log_file);
                                server->config.log_file = fresh.log_file;
                                fresh.log_file = NULL;
                        }
                } else if ((r = log_reopen()) < 0) {
                        log_error("reload: cannot reopen log file %s: %s", new_file, strerror(-r));
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

static void log_listening(const struct listen_socket *socket_info, bool print)
{
        char address[ADDR_TEXT_MAX], address_field[ADDR_TEXT_MAX + 16], protocol_field[32];
        const char *fields[] = {"SERVICE=echo", address_field, protocol_field, NULL};
        const char *protocol = listen_kind_name(socket_info->kind);

        if (socket_info->address_length > 0)
                addr_format((const struct sockaddr *)&socket_info->address, address,
                            sizeof(address));
        else
                snprintf(address, sizeof(address), "fd %d", socket_info->fd);
        snprintf(address_field, sizeof(address_field), "LISTEN_ADDR=%s", address);
        snprintf(protocol_field, sizeof(protocol_field), "PROTOCOL=%s", protocol);
        log_record(LOG_INFO, LOG_ID_LISTENING, fields, "echo: listening on %s (%s%s)", address,
                   protocol, socket_info->inherited ? ", from systemd" : "");
        /* Standalone, say on stdout where we are: the port may not be the one asked for. */
        if (print) {
                printf("listening echo/%s %s\n", protocol, address);
                fflush(stdout);
        }
}

static int bind_standalone(struct server *server)
{
        const struct config *config = &server->config;

        for (size_t i = 0; i < config->echo_count; i++) {
                const struct addr_spec *spec = &config->echo[i];
                struct listen_socket *socket_info = &server->sockets[server->socket_count];
                char wanted[ADDR_TEXT_MAX];
                int r;

                addr_format((const struct sockaddr *)&spec->sa, wanted, sizeof(wanted));
                r = listen_bind(spec, config->strict_port, socket_info);
                if (r < 0) {
                        log_error("echo: cannot listen on %s (%s): %s%s", wanted,
                                  spec->proto == ADDR_UDP ? "udp" : "tcp", strerror(-r),
                                  r == -EADDRINUSE && !config->strict_port ? " (and the next ports)"
                                                                           : "");
                        return r;
                }
                server->socket_count++;
                if (addr_port((struct sockaddr *)&socket_info->address) !=
                        addr_port((const struct sockaddr *)&spec->sa) &&
                    addr_port((const struct sockaddr *)&spec->sa) != 0)
                        log_notice("echo: port %u is busy; took %u instead",
                                   addr_port((const struct sockaddr *)&spec->sa),
                                   addr_port((struct sockaddr *)&socket_info->address));
        }
        return 0;
}

static int start_sockets(struct server *server)
{
        size_t served = 0;

        for (size_t i = 0; i < server->socket_count; i++) {
                struct listen_socket *socket_info = &server->sockets[i];
                int r;

                switch (socket_info->kind) {
                case LISTEN_IGNORED:
                        log_warning(
                            "ignoring socket fd %d named '%s': not a name or type echod serves",
                            socket_info->fd, socket_info->name);
                        continue;
                case LISTEN_ECHO_TCP: {
                        int flags = fcntl(socket_info->fd, F_GETFL);

                        /* A blocking listener (as some launchers pass them) is accepted from
                         * once per wake-up; echod leaves an inherited socket's flags alone. */
                        server->accept_nonblocking[i] = flags >= 0 && (flags & O_NONBLOCK);
                        ev_io_init(&server->accept_watchers[i], on_accept, socket_info->fd,
                                   EV_READ);
                        server->accept_watchers[i].data = server;
                        break;
                }
                case LISTEN_ECHO_UDP:
                        /*
                         * Under the shipped unit (PrivateNetwork=, no AF_NETLINK) this fails or
                         * sees only lo; the other guards still apply. See docs/hardening.md.
                         */
                        if (server->guard.broadcast_count == 0 &&
                            (r = udpguard_load_interfaces(&server->guard)) < 0)
                                log_debug("udp: cannot list interfaces (%s); subnet broadcast "
                                          "sources are not recognised",
                                          strerror(-r));
                        r = udp_echo_start(&server->udp[i], server->loop, socket_info->fd,
                                           &server->guard, &server->limit, &server->udp_stats);
                        if (r < 0) {
                                log_error("echo: cannot serve UDP socket fd %d: %s",
                                          socket_info->fd, strerror(-r));
                                continue;
                        }
                        break;
                case LISTEN_CONNECTION: {
                        /* Accept=yes: this process serves one connection. */
                        struct sockaddr_storage peer = {0};
                        socklen_t length = sizeof(peer);
                        int fd = socket_info->fd;

                        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
                            getpeername(fd, (struct sockaddr *)&peer, &length) < 0) {
                                log_error("echo: cannot serve connection fd %d: %s", fd,
                                          strerror(errno));
                                continue;
                        }
                        /* The connection is the pool's now; it closes it when done. */
                        socket_info->inherited = false;
                        socket_info->fd = -1;
                        server->inetd = true;
                        if (conn_start(&server->pool, fd, (struct sockaddr *)&peer, length) < 0)
                                continue;
                        served++;
                        continue;
                }
                }
                log_listening(socket_info, !server->socket_activated);
                served++;
        }
        return served > 0 ? 0 : -ENOENT;
}

int server_init(struct server *server, struct config *config, int argc, char **argv)
{
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

        r = conn_pool_init(&server->pool, server->loop, server->config.buffer_size,
                           server->config.idle_timeout);
        if (r < 0)
                goto out_of_memory;
        server->pool.owner = server;
        server->pool.on_close = on_conn_closed;
        r = ratelimit_init(&server->limit, RATELIMIT_SOURCES, server->config.udp_rate,
                           server->config.udp_burst);
        if (r < 0)
                goto out_of_memory;
        udpguard_init(&server->guard);

        log_record(LOG_INFO, LOG_ID_START,
                   (const char *const[]){"ECHOD_VERSION=" ECHOD_VERSION, NULL}, "echod %s starting",
                   ECHOD_VERSION);
        r = listen_from_systemd(server->sockets, LISTEN_MAX, &server->socket_count);
        if (r < 0) {
                log_error("cannot take sockets from systemd: %s", strerror(-r));
                return r;
        }
        if ((size_t)r > server->socket_count)
                log_warning("systemd passed %d sockets; serving the first %zu, ignoring the rest",
                            r, server->socket_count);
        server->socket_activated = server->socket_count > 0;
        if (!server->socket_activated) {
                r = bind_standalone(server);
                if (r < 0)
                        return r;
        }
        r = start_sockets(server);
        if (r < 0) {
                log_error("no socket to serve: %s",
                          server->socket_activated
                              ? "systemd passed none named 'echo' or 'connection'"
                              : "no listening address configured");
                return r;
        }
        return 0;

out_of_memory:
        log_error("cannot start: out of memory");
        return r;
}

int server_run(struct server *server)
{
        struct ev_loop *loop = server->loop;
        uint64_t watchdog_usec = notify_watchdog_usec();

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

        if (server->pool.count > 0)
                conn_pool_close_all(&server->pool, "shutdown");
        log_record(LOG_INFO, LOG_ID_STOP, NULL,
                   "echod stopped: %" PRIu64 " connection%s served, %" PRIu64
                   " UDP datagram%s echoed",
                   server->pool.total, server->pool.total == 1 ? "" : "s",
                   server->udp_stats.answered, server->udp_stats.answered == 1 ? "" : "s");
        return 0;
}

void server_fini(struct server *server)
{
        for (size_t i = 0; i < server->socket_count; i++) {
                if (server->sockets[i].kind == LISTEN_ECHO_UDP)
                        udp_echo_stop(&server->udp[i]);
                /* Sockets we bound ourselves are ours to close; inherited ones are not. */
                if (!server->sockets[i].inherited && server->sockets[i].fd >= 0)
                        close(server->sockets[i].fd);
        }
        server->pool.on_close = NULL;
        conn_pool_fini(&server->pool);
        ratelimit_fini(&server->limit);
        config_fini(&server->config);
        notify_fini();
        if (server->loop)
                ev_loop_destroy(server->loop);
        server->loop = NULL;
}
