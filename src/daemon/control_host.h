#ifndef ECHOD_CONTROL_HOST_H
#define ECHOD_CONTROL_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "log_ring.h"
#include "service.h"

/*
 * What the control channel (control_service.c, console.c and the commands
 * in control_commands.c) may ask of the rest of echod. The server fills in
 * one table; the control code never sees struct server.
 */

/* The chat's admin operations; the chat service hands them out (service_ops.chat_admin). */
struct control_chat_admin {
        /* Forget every address-to-name pair. Returns how many were forgotten, or -errno. */
        int (*forget_identities)(void *state);
        /* Call each(arg, name, sessions) for every registered user. 0 or -errno. */
        int (*list_users)(void *state, void (*each)(void *arg, const char *name, unsigned sessions),
                          void *arg);
        /* Remove a user and end its sessions. 0, -ENOENT (no such user) or -errno. */
        int (*remove_user)(void *state, const char *name);
        /* End every session of a user. Returns how many ended, -ENOENT or -errno. */
        int (*kick)(void *state, const char *name);
        /* Users logged in now. */
        unsigned (*logged_in)(void *state);
};

/* One running service as "echoctl status" and "stats" show it. */
struct control_service_info {
        const char *name;
        bool paused;
        struct service_counts counts;
        char sockets[512]; /* "tcp 127.0.0.1:7007, udp [::]:7007" */
        char status[256];  /* its STATUS= part */
};

struct control_host {
        void *server;
        /* The in-memory log records (never NULL). */
        struct log_ring *logs;
        /* Seconds since echod started. */
        double (*uptime)(void *server);
        /* Running services, and one of them by index. */
        size_t (*service_count)(void *server);
        void (*service_info)(void *server, size_t index, struct control_service_info *info);
        /* Pause or resume accepting for the service named name. 0 or -ENOENT. */
        int (*set_paused)(void *server, const char *name, bool paused);
        /* Stop gracefully, as SIGTERM does; who is logged. */
        void (*shutdown)(void *server, const char *who);
        /* Reload as SIGHUP does. 0, or -errno with a one-line reason (FILE:LINE: ...) in error. */
        int (*reload)(void *server, char *error, size_t size);
        /* The chat's admin operations and their state, or NULL while no chat runs. */
        const struct control_chat_admin *(*chat_admin)(void *server, void **state);
};

#endif
