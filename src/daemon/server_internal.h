#ifndef ECHOD_SERVER_INTERNAL_H
#define ECHOD_SERVER_INTERNAL_H

#include "server.h"

/*
 * Shared by the server's files only: server.c (the loop, signals, sd_notify,
 * accepting), server_sockets.c (binding and starting the sockets),
 * server_restart.c (the hand-over) and server_control.c (echoctl's view).
 *
 * Calls go one way. server.c is on top: it calls the functions declared at
 * the end of this header. server_sockets.c, server_restart.c and
 * server_control.c are called by server.c and call server.c only through
 * struct server_core_ops (server->core); they do not call each other.
 */

/*
 * What the lower files need of server.c, as calls: server.c fills in one
 * table (server->core) before it calls any of them, and they never name a
 * function of server.c, so no file of the server calls back up by name.
 */
struct server_core_ops {
        /* Connections open in every service. */
        unsigned (*open_connections)(struct server *server);
        /* Start or stop each listener's accept watcher as its service's state says. */
        void (*update_accepting)(struct server *server);
        /* The STATUS= text. */
        void (*compose_status)(struct server *server, char *status, size_t size);
        /* Stop gracefully (or hand over, on a planned restart); why names the cause. */
        void (*begin_shutdown)(struct server *server, const char *why);
        /* Re-read the configuration. 0, or -errno with the reason in error. */
        int (*reload)(struct server *server, char *error, size_t error_size);
        /* The running service for ops, started on first use; NULL if it cannot start (logged). */
        struct server_service *(*service_for)(struct server *server, const struct service_ops *ops);
        /* libev callback of a listener's accept watcher. */
        void (*on_accept)(struct ev_loop *loop, ev_io *watcher, int revents);
};

/* server_sockets.c (called by server.c; calls server->core): bind the standalone sockets, then give
 * every socket to its service; -ENOEXEC if a service cannot start (echod then exits 1). */
int server_bind_standalone(struct server *server);
int server_start_sockets(struct server *server);

/* server_restart.c (called by server.c; calls server->core): the hand-over (restart.h). */
void server_hand_over(struct server *server, const char *why);
int server_claim_inherited(void *arg, int fd, const char *name);
void server_take_over(struct server *server);

/* server_control.c (called by server.c; calls server->core): fill in server->control_host. */
void server_control_host_init(struct server *server);

#endif
