#ifndef ECHOD_RESTART_H
#define ECHOD_RESTART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The hand-over of established connections across a planned restart
 * (docs/echod.md, "Restarts"), through systemd's file descriptor store:
 * each connection's socket is stored as "conn-N", and the state of every
 * connection (a handover.h state) as "echod-state" in a sealed memfd. The
 * next process finds them among its LISTEN_FDS, takes them over, and removes
 * them from the store so that closing a socket ends its connection.
 *
 * Restart or stop? systemd 252 does not tell a stopping service. The unit
 * runs "echod --announce-stop" with full privileges as ExecStop=+ (before
 * SIGTERM); it asks systemd over D-Bus for the type of the unit's pending
 * job and writes "restart" or "stop" into $RUNTIME_DIRECTORY/stop-mode,
 * which the daemon reads when SIGTERM comes.
 */

#define RESTART_STATE_NAME  "echod-state"
#define RESTART_CONN_PREFIX "conn-"
#define RESTART_MODE_FILE   "stop-mode"

/* The sockets and state a previous process left in the store. */
struct restart_inherited {
        int state_fd; /* -1 if none */
        struct {
                int fd;
                uint64_t token; /* N of "conn-N" */
                bool taken;     /* a service serves it now */
        } * conns;
        size_t conn_count;
        size_t conn_capacity;
};

/* For --announce-stop: ask systemd what the pending job is and write the stop mode. 0 or -errno. */
int restart_announce_stop(void);

/*
 * For --check-upgrade (the pre-flight of an upgrade in place, docs/echod.md):
 * does this binary read hand-over state of the version written in text?
 * 0 if it does, -EPROTO for another version, -EINVAL if text is no version.
 */
int restart_check_state_version(const char *text);

/* True if the stop that SIGTERM starts is a planned restart (reads and removes the mode file). */
bool restart_requested(void);

/* True if fds can be handed to systemd (NOTIFY_SOCKET is set). */
bool restart_possible(void);

/* Store a connection's socket as "conn-<token>". 0 or -errno. */
int restart_store_fd(int fd, uint64_t token);

/* Store the state in a sealed memfd as "echod-state" and wait until systemd has it. 0 or -errno. */
int restart_store_state(const unsigned char *state, size_t length);

/*
 * Take fd named name if it is part of a hand-over (state or connection) into
 * inherited. Returns 1 if taken, 0 if it is not one of ours, or -errno.
 */
int restart_claim(struct restart_inherited *inherited, int fd, const char *name);

/* Read the inherited state into *data (malloc'd, *length bytes). 0, -ENOENT or -errno. */
int restart_read_state(struct restart_inherited *inherited, unsigned char **data, size_t *length);

/*
 * Is fd what a conn-N must be: a connected TCP socket (IPv4 or IPv6), or a
 * connected AF_UNIX stream socket if unix_allowed? 0, or -ENOTSOCK,
 * -EPROTOTYPE (not a stream), -EPROTONOSUPPORT (not TCP), -EAFNOSUPPORT
 * (another family) or -ENOTCONN (a listener, or not connected).
 */
int restart_check_connection(int fd, bool unix_allowed);

/* The inherited socket for token, or -1; marks it taken. */
int restart_take_fd(struct restart_inherited *inherited, uint64_t token);

/*
 * Remove every inherited name from the store and close what no service took
 * (so those connections end with a FIN); returns how many were closed.
 */
size_t restart_finish(struct restart_inherited *inherited);

#endif
