#ifndef ECHOD_SERVER_H
#define ECHOD_SERVER_H

#include <ev.h>
#include <stdbool.h>

#include "config.h"
#include "conn.h"
#include "listen.h"
#include "ratelimit.h"
#include "udp.h"
#include "udpguard.h"

/*
 * The daemon: one libev loop over every socket, the systemd protocol
 * (READY, STATUS, RELOADING, STOPPING, WATCHDOG) and the signals that drive
 * it (SIGTERM/SIGINT stop gracefully, SIGHUP reloads).
 */
struct server {
        struct ev_loop *loop;
        struct config config;
        int argc;
        char **argv;

        struct listen_socket sockets[LISTEN_MAX];
        size_t socket_count;
        ev_io accept_watchers[LISTEN_MAX];
        bool accept_nonblocking[LISTEN_MAX]; /* the listener is non-blocking */
        bool accept_dead[LISTEN_MAX];        /* accept() failed for good: not watched */
        struct udp_echo udp[LISTEN_MAX];
        struct conn_pool pool;
        struct udpguard guard;
        struct ratelimit limit;
        struct udp_stats udp_stats;

        ev_signal sigterm_watcher;
        ev_signal sigint_watcher;
        ev_signal sighup_watcher;
        ev_timer status_timer;
        ev_timer watchdog_timer;
        ev_timer accept_retry_timer;
        ev_timer shutdown_timer;

        bool socket_activated;
        bool inetd; /* Accept=yes: serve one connection, then exit */
        bool stopping;
        bool fd_exhausted; /* EMFILE/ENFILE: accepting waits for a timer */
        bool accepting;    /* the accept watchers run */
        ev_tstamp last_fd_log;
        char status[256];
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
