#ifndef ECHOD_PROBE_H
#define ECHOD_PROBE_H

#include <stdbool.h>
#include <sys/socket.h>

/* File descriptors kept back from the open-file limit for everything else. */
#define PROBE_FD_HEADROOM 64

/* What a connect error means for the port (see probe_classify()). */
enum probe_verdict {
        PROBE_OPEN,         /* connected, then reset or closed by the peer at once */
        PROBE_CLOSED,       /* refused: a TCP reset */
        PROBE_FILTERED,     /* unreachable, timed out, or blocked locally */
        PROBE_BACKPRESSURE, /* out of descriptors, buffers or ports: try again later */
        PROBE_FATAL,        /* anything else */
};

/* Classify a failed connect's -errno. */
enum probe_verdict probe_classify(int error);

/* Whether the connected socket fd is connected to itself (source == dest). */
bool probe_is_self_connect(int fd, const struct sockaddr_storage *dest, socklen_t len);

/*
 * Whether fd, reported connected, has a peer: 0 if so, else the socket's
 * pending -errno, or -EINPROGRESS when the connect is still under way.
 */
int probe_connected(int fd);

/* Close a socket that may be connected with a reset: no FIN, no TIME_WAIT. */
void probe_close_abortive(int fd);

/*
 * Bind fd, whose connect failed, to a port of its own on the wildcard address
 * so that its next connects skip the ephemeral port search. Returns 0 or -errno.
 */
int probe_bind_any(int fd);

/*
 * Raise the soft open-file limit to the hard one and return in *budget how
 * many sockets may be open at once (the limit less PROBE_FD_HEADROOM).
 * Returns 0 or -errno from getrlimit().
 */
int probe_fd_budget(unsigned *budget);

#endif
