#ifndef ECHOD_NET_H
#define ECHOD_NET_H

#include <sys/socket.h>

/*
 * Non-blocking connect, the one way the tools open a connection: start it,
 * wait for the socket to be writable (in the caller's loop), then ask for
 * the result.
 */

/*
 * Open a non-blocking, close-on-exec socket of type (SOCK_STREAM or
 * SOCK_DGRAM) and connect it to address. Returns 0 when connected at once,
 * -EINPROGRESS while a stream connect goes on (wait for EV_WRITE, then call
 * net_connect_result()), or -errno; *fd is set whenever a socket was opened
 * (also on failure: the caller closes it), else -1.
 */
int net_connect_start(const struct sockaddr *address, socklen_t length, int type, int *fd);

/*
 * The same, from a chosen local address and port (source, or NULL for the
 * kernel's choice): the socket is bound there first, with SO_REUSEADDR so
 * that a fixed source port can be used again while an old connection from it
 * is in TIME_WAIT. Returns as net_connect_start(); a failed bind is its -errno.
 */
int net_connect_start_from(const struct sockaddr *address, socklen_t length, int type,
                           const struct sockaddr *source, socklen_t source_length, int *fd);

/*
 * Turn TCP keepalive on for a stream socket: the first probe after idle
 * seconds without traffic, then one every interval seconds, the connection
 * dropped after count unanswered ones. Returns 0 or -errno.
 */
int net_keepalive(int fd, int idle, int interval, int count);

/* The outcome of a connect that was in progress: 0 or -errno (SO_ERROR). */
int net_connect_result(int fd);

#endif
