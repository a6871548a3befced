#ifndef ECHOD_SERVER_INTERNAL_H
#define ECHOD_SERVER_INTERNAL_H

#include "server.h"

/*
 * Shared by the server's files only: server.c (the loop, signals, sd_notify,
 * accepting), server_sockets.c (binding and starting the sockets),
 * server_restart.c (the hand-over) and server_control.c (echoctl's view).
 */

/* Connections open in every service. */
unsigned server_open_connections(struct server *server);

/* Start or stop each listener's accept watcher as its service's state says. */
void server_update_accepting(struct server *server);

/* The STATUS= text. */
void server_compose_status(struct server *server, char *status, size_t size);

/* Close every connection of every service now. */
void server_close_all(struct server *server, const char *reason);

/* Stop gracefully (or hand over, on a planned restart); why names the cause. */
void server_begin_shutdown(struct server *server, const char *why);

/* Re-read the configuration. 0, or -errno with the reason in error. */
int server_reload(struct server *server, char *error, size_t error_size);

/* The running service for ops, started on first use; NULL if it cannot start (logged). */
struct server_service *server_service_for(struct server *server, const struct service_ops *ops);

/* libev callback of a listener's accept watcher. */
void server_on_accept(struct ev_loop *loop, ev_io *watcher, int revents);

/* server_sockets.c: bind the standalone sockets, then give every socket to its service. */
int server_bind_standalone(struct server *server);
int server_start_sockets(struct server *server);

/* server_restart.c: the hand-over (restart.h). */
void server_hand_over(struct server *server, const char *why);
int server_claim_inherited(void *arg, int fd, const char *name);
void server_take_over(struct server *server);

/* server_control.c: fill in server->control_host. */
void server_control_host_init(struct server *server);

#endif
