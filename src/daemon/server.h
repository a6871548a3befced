#ifndef ECHOD_SERVER_H
#define ECHOD_SERVER_H

#include <ev.h>
#include <stdbool.h>

#include "config.h"
#include "control_host.h"
#include "listen.h"
#include "restart.h"
#include "log_ring.h"
#include "service.h"

/*
 * The daemon: one libev loop over every socket, the systemd protocol
 * (READY, STATUS, RELOADING, STOPPING, WATCHDOG) and the signals that drive
 * it (SIGTERM/SIGINT stop gracefully, SIGHUP reloads). The services behind
 * the sockets are reached only through their operations tables (service.h).
 */

/* How many services one echod can run. */
#define SERVER_SERVICES_MAX 8

struct server;

/* A service the server runs: its table, its state, and whether accepting is paused. */
struct server_service {
        const struct service_ops *ops;
        void *state;
        bool paused;
};

/* A socket the server serves, and who serves it. */
struct listener {
        struct listen_socket socket;
        struct server *server;
        struct server_service *service; /* NULL: ignored */
        ev_io accept_watcher;           /* stream listeners only */
        bool nonblocking;               /* the listener is non-blocking */
        bool dead;                      /* accept() failed for good: not watched */
};

struct server_core_ops;

struct server {
        struct ev_loop *loop;
        /* server.c's operations for its lower files (server_internal.h). */
        const struct server_core_ops *core;
        struct config config;
        int argc;
        char **argv;

        struct listener listeners[LISTEN_MAX];
        size_t listener_count;
        struct server_service services[SERVER_SERVICES_MAX];
        size_t service_count;

        ev_signal sigterm_watcher;
        ev_signal sigint_watcher;
        ev_signal sighup_watcher;
        ev_timer status_timer;
        ev_timer watchdog_timer;
        ev_timer accept_retry_timer;
        ev_timer shutdown_timer;

        /* Connections and state a previous process handed over (restart.h). */
        struct restart_inherited inherited;
        uint64_t next_handover_token;
        /* The control channel: recent log records, what commands may ask, the console. */
        struct log_ring logs;
        struct control_host control_host;
        struct console *console;
        ev_tstamp started;

        bool socket_activated;
        bool inetd; /* Accept=yes: serve one connection, then exit */
        bool stopping;
        bool fd_exhausted; /* EMFILE/ENFILE: accepting waits for a timer */
        ev_tstamp last_fd_log;
        char status[512];
};

/*
 * Take the sockets (from systemd, or bound from config) and set up the loop.
 * config is moved into the server. Returns 0 or -errno (already logged).
 */
int server_init(struct server *server, struct config *config, int argc, char **argv);

/* Serve until stopped. Returns the process exit status. */
int server_run(struct server *server);

/* Free everything; inherited sockets stay open. */
void server_fini(struct server *server);

#endif
