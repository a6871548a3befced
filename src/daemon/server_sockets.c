/* The server's sockets: binding them standalone and giving each to its service. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "restart.h"
#include "server_internal.h"

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

/* The standalone control socket: --control PATH, or the per-user or system default. */
static int bind_control(struct server *server)
{
        const char *path = server->config.control_path;
        struct listen_socket *socket_info = &server->listeners[server->listener_count].socket;
        char fallback[sizeof(((struct sockaddr_un *)0)->sun_path)];
        int r;

        if (path && strcmp(path, "none") == 0)
                return 0;
        if (!path) {
                const char *runtime = getenv("XDG_RUNTIME_DIR");

                if (geteuid() == 0)
                        snprintf(fallback, sizeof(fallback), "/run/echod/control");
                else if (runtime && runtime[0] == '/')
                        snprintf(fallback, sizeof(fallback), "%s/echod/control", runtime);
                else {
                        log_notice(
                            "control: no XDG_RUNTIME_DIR; no control socket (see --control)");
                        return 0;
                }
        }
        if (server->listener_count == LISTEN_MAX)
                return -EMFILE;
        r = listen_bind_unix(path ? path : fallback, 0660, "control", socket_info);
        if (r < 0) {
                /* Only a path asked for is a reason not to start. */
                log_record(path ? LOG_ERR : LOG_WARNING, NULL,
                           (const char *const[]){"SERVICE=control", NULL},
                           "control: cannot listen on %s: %s%s", path ? path : fallback,
                           strerror(-r), r == -EADDRINUSE ? " (another echod answers there)" : "");
                return path ? r : 0;
        }
        server->listener_count++;
        return 0;
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

int server_bind_standalone(struct server *server)
{
        const struct config *config = &server->config;
        int r;

        r = bind_service(server, "echo", config->echo, config->echo_count);
        if (r == 0)
                r = bind_service(server, "chat", config->chat, config->chat_count);
        if (r == 0)
                r = bind_control(server);
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
        listener->service = server->core->service_for(server, ops);
        if (!listener->service)
                return -ENOEXEC; /* the service itself cannot run (logged): echod must not start */
        switch (socket_info->type) {
        case LISTEN_CONNECTED:
                return serve_connected(server, listener);
        case LISTEN_STREAM:
                /* A blocking listener (as some launchers pass them) is accepted from
                 * once per wake-up; echod leaves an inherited socket's flags alone. */
                flags = fcntl(socket_info->fd, F_GETFL);
                listener->nonblocking = flags >= 0 && (flags & O_NONBLOCK);
                ev_io_init(&listener->accept_watcher, server->core->on_accept, socket_info->fd,
                           EV_READ);
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

int server_start_sockets(struct server *server)
{
        size_t served = 0;

        for (size_t i = 0; i < server->listener_count; i++) {
                int r = start_listener(server, &server->listeners[i]);

                if (r == -ENOEXEC)
                        return r;
                if (r == 0)
                        served++;
        }
        return served > 0 ? 0 : -ENOENT;
}
