#ifndef ECHOD_SERVICE_H
#define ECHOD_SERVICE_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "handover.h"

/*
 * What every service echod offers (TCP and UDP echo today; chat and control
 * next) implements: one operations table. The server owns the loop, the
 * listening sockets and their accept watchers, signals and sd_notify; it
 * calls a service only through this table and never asks which one it is.
 * Adding a service is a new file with its table plus one line in
 * service_table.c.
 */

/* What the server gives each service it starts. */
struct service_env {
        struct ev_loop *loop;
        const struct config *config;
        /* Call after a connection ended: the server may resume accepting or end a drain. */
        void (*connection_closed)(void *server);
        void *server;
};

/* Where a service hands its connections' sockets on a planned restart. */
struct service_handover {
        /* Store fd in systemd's fd store; sets *token, the number its record names. 0 or -errno. */
        int (*store_fd)(void *server, int fd, uint64_t *token);
        void *server;
};

/* Counters for STATUS=, the stop record and (later) echoctl status. */
struct service_counts {
        unsigned open;        /* connections open now */
        uint64_t total;       /* connections served since start */
        uint64_t bytes_in;
        uint64_t bytes_out;
        uint64_t datagrams;   /* datagrams answered */
        uint64_t dropped;     /* datagrams dropped by guards or limits */
};

struct service_ops {
        /* The SERVICE= field of its log records, and its name in STATUS= and commands. */
        const char *name;
        /* The FileDescriptorName= values it serves; NULL-terminated. */
        const char *const *socket_names;

        /* Set up the state; called once, when the first socket for it is found. 0 or -errno. */
        int (*init)(void **state, const struct service_env *env);
        /*
         * Serve an accepted connection (or an Accept=yes one). The service owns fd
         * from here, also on failure. 0 or -errno. NULL: it takes no stream sockets.
         */
        int (*connection)(void *state, int fd, const struct sockaddr *peer, socklen_t length);
        /* Serve a datagram socket (never closed by the service). NULL: it takes none. */
        int (*datagram)(void *state, int fd);
        /* True while it takes more connections (below its limit). */
        bool (*has_room)(void *state);
        /* Stop or start reading its datagram sockets (pause and resume; may be NULL). */
        void (*pause_datagrams)(void *state, bool paused);
        /* Graceful stop: take nothing new, finish what is open, then close. */
        void (*drain)(void *state);
        /* Close every connection now, with reason in the log. */
        void (*close_all)(void *state, const char *reason);
        /* Take the reloadable settings of a reloaded configuration. */
        void (*reload)(void *state, const struct config *config);
        /* Housekeeping once a second (summary log lines, for example; may be NULL). */
        void (*tick)(void *state);
        /* Its counters. */
        void (*counts)(void *state, struct service_counts *counts);
        /* Its part of STATUS=, for example "echo: 3 connections (...)". */
        void (*status)(void *state, char *buf, size_t size);
        /*
         * Planned restart: stop serving each open connection, write it as a
         * record of type handover_type that starts with the token store_fd
         * gave (u64; the server reads it back) and store its socket; a connection
         * that cannot be handed over is closed cleanly. The connections are
         * gone from the service afterwards (without a FIN: systemd holds the
         * sockets). Returns how many were handed over. NULL: none are.
         */
        int (*hand_over)(void *state, struct handover_writer *writer,
                         const struct service_handover *handover);
        /* The record type hand_over writes and take_over reads. */
        uint16_t handover_type;
        /* Serve a connection of the previous process (it owns fd from here). 0 or -errno. */
        int (*take_over)(void *state, struct handover_record *record, int fd);
        /* Free the state; inherited sockets stay open. */
        void (*fini)(void *state);
};

/* Every service echod knows, NULL-terminated (service_table.c). */
extern const struct service_ops *const service_table[];

/* The service that serves sockets named name, or NULL. */
const struct service_ops *service_find(const char *socket_name);

#endif
