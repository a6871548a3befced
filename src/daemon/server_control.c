/* The control channel's view of the server (control_host.h): what echoctl can see and do. */
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

/* The control channel's view of the server (control_host.h). */

static double host_uptime(void *arg)
{
        struct server *server = arg;

        return ev_time() - server->started;
}

static size_t host_service_count(void *arg)
{
        struct server *server = arg;

        return server->service_count;
}

static void host_service_info(void *arg, size_t index, struct control_service_info *info)
{
        struct server *server = arg;
        struct server_service *service = &server->services[index];
        size_t length = 0;

        memset(info, 0, sizeof(*info));
        info->name = service->ops->name;
        info->paused = service->paused;
        service->ops->counts(service->state, &info->counts);
        service->ops->status(service->state, info->status, sizeof(info->status));
        for (size_t i = 0; i < server->listener_count && length < sizeof(info->sockets); i++) {
                const struct listen_socket *socket_info = &server->listeners[i].socket;
                char address[ADDR_TEXT_MAX];

                if (server->listeners[i].service != service)
                        continue;
                if (socket_info->address_length > 0)
                        addr_format((const struct sockaddr *)&socket_info->address, address,
                                    sizeof(address));
                else
                        snprintf(address, sizeof(address), "fd %d", socket_info->fd);
                length += (size_t)snprintf(info->sockets + length, sizeof(info->sockets) - length,
                                           "%s%s %s", length ? ", " : "",
                                           listen_protocol_name(socket_info), address);
        }
}

static int host_set_paused(void *arg, const char *name, bool paused)
{
        struct server *server = arg;

        for (size_t i = 0; i < server->service_count; i++) {
                struct server_service *service = &server->services[i];

                if (strcmp(service->ops->name, name) != 0)
                        continue;
                service->paused = paused;
                if (service->ops->pause_datagrams)
                        service->ops->pause_datagrams(service->state, paused);
                server->core->update_accepting(server);
                server->core->compose_status(server, server->status, sizeof(server->status));
                notify_status(server->status);
                return 0;
        }
        return -ENOENT;
}

static void host_shutdown(void *arg, const char *who)
{
        struct server *server = arg;

        server->core->begin_shutdown(server, who);
}

static int host_reload(void *arg, char *error, size_t size)
{
        struct server *server = arg;

        if (server->stopping) {
                snprintf(error, size, "echod is stopping");
                return -ECANCELED;
        }
        return server->core->reload(server, error, size);
}

static const struct control_chat_admin *host_chat_admin(void *arg, void **state)
{
        struct server *server = arg;

        for (size_t i = 0; i < server->service_count; i++) {
                const struct service_ops *ops = server->services[i].ops;
                const struct control_chat_admin *admin;

                if (ops->chat_admin && (admin = ops->chat_admin(server->services[i].state))) {
                        *state = server->services[i].state;
                        return admin;
                }
        }
        return NULL;
}

void server_control_host_init(struct server *server)
{
        server->control_host = (struct control_host){
            .server = server,
            .logs = &server->logs,
            .uptime = host_uptime,
            .service_count = host_service_count,
            .service_info = host_service_info,
            .set_paused = host_set_paused,
            .shutdown = host_shutdown,
            .reload = host_reload,
            .chat_admin = host_chat_admin,
        };
}
