#ifndef ECHOD_LISTEN_H
#define ECHOD_LISTEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "addr.h"

/* How many sockets echod takes, from systemd or its own flags. */
#define LISTEN_MAX      32
#define LISTEN_NAME_MAX 64
/* Standalone: how many following ports to try when the asked one is busy. */
#define LISTEN_PORT_TRIES 100

enum listen_type {
        LISTEN_UNSUPPORTED, /* a type of socket echod does not serve (logged by the caller) */
        LISTEN_STREAM,      /* a listening stream socket: accepted from */
        LISTEN_DATAGRAM,    /* a datagram socket */
        LISTEN_CONNECTED,   /* Accept=yes: one connected stream socket */
};

struct listen_socket {
        int fd;
        enum listen_type type;
        bool inherited;                  /* from systemd: never closed or reconfigured */
        char name[LISTEN_NAME_MAX];      /* FileDescriptorName=, or the service's name */
        struct sockaddr_storage address; /* local address */
        socklen_t address_length;
        bool created_path; /* an AF_UNIX socket file we made: unlinked when closed */
        dev_t path_device; /* and which file it was, so a newer one is left alone */
        ino_t path_inode;
};

/*
 * Take the sockets systemd passed (LISTEN_FDS, LISTEN_FDNAMES) with their
 * names ("unknown" when systemd gave none) and types. Takes at most max and
 * sets *count to their number (0 when not socket-activated). Returns how many
 * systemd passed, or -errno. claim (may be NULL) is asked first about each
 * socket: when it returns 1 it took the socket (a connection handed over
 * across a restart), which then is not counted here; -errno stops.
 */
int listen_from_systemd(struct listen_socket *sockets, size_t max, size_t *count,
                        int (*claim)(void *arg, int fd, const char *name), void *claim_arg);

/*
 * Bind a socket for spec, named name (the service's socket name). If the
 * port is busy and strict is false, try the next ports (up to
 * LISTEN_PORT_TRIES). Returns 0 or -errno.
 */
int listen_bind(const struct addr_spec *spec, bool strict, const char *name,
                struct listen_socket *out);

/*
 * Bind a listening AF_UNIX stream socket at path with the given mode,
 * creating its directory (mode 0750) if missing. A stale socket file (no
 * one accepts on it) is replaced; a live one is -EADDRINUSE. Returns 0 or
 * -errno.
 */
int listen_bind_unix(const char *path, mode_t mode, const char *name, struct listen_socket *out);

/* Close a socket we bound (not an inherited one), removing the socket file we created. */
void listen_close(struct listen_socket *socket_info);

/* A name for the socket's protocol: "tcp", "udp", "unix" or "connection". */
const char *listen_protocol_name(const struct listen_socket *socket_info);

#endif
