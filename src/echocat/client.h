#ifndef ECHOD_CLIENT_H
#define ECHOD_CLIENT_H

#include <ev.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * One client connection (TCP stream or connected UDP socket) on a libev loop:
 * connecting (each resolved address in turn, with a timeout), a bounded send
 * buffer with backpressure, half-close, and events for a -v observer.
 *
 * What rides on the connection is a session: echocat's pipe and line modes
 * (and, later, the chat client) each implement struct client_ops and drive
 * the client with client_send(), client_shutdown_write() and
 * client_pause_reading(). The client never prints.
 */

/* Bytes the send buffer holds at most; client_send() takes no more. */
#define CLIENT_SEND_MAX (64u * 1024u)
/* Bytes read from the socket at once. */
#define CLIENT_READ_MAX (64u * 1024u)
/* The largest UDP datagram over IPv4. */
#define CLIENT_DATAGRAM_MAX 65507u

struct client;

enum client_event_kind {
        CLIENT_EVENT_CONNECTING,
        CLIENT_EVENT_CONNECTED,
        /* One attempt failed; the next address (if any) is tried. */
        CLIENT_EVENT_CONNECT_FAILED,
        CLIENT_EVENT_SENT,
        CLIENT_EVENT_RECEIVED,
        CLIENT_EVENT_HALF_CLOSED,
        CLIENT_EVENT_CLOSED_BY_PEER,
        CLIENT_EVENT_CLOSED_BY_USER,
};

/* What the observer is told: the kind, an address or a byte count, an error. */
struct client_event {
        enum client_event_kind kind;
        /* CONNECTING, CONNECTED, CONNECT_FAILED: the peer; CONNECTED: also the local end. */
        const struct sockaddr *peer;
        const struct sockaddr *local;
        size_t bytes;
        int error;
};

struct client_ops {
        /* The connection is up; the session may send. */
        void (*connected)(struct client *client);
        /* Bytes arrived from the peer (for UDP, one datagram). */
        void (*received)(struct client *client, const char *data, size_t len);
        /* The send buffer has room again after client_send() took less than offered. */
        void (*writable)(struct client *client);
        /*
         * The connection is over: 0 when the peer closed (end of file), else
         * -errno (connect failed on every address, reset, timed out). The
         * session must not touch the socket afterwards; the client is closed.
         */
        void (*closed)(struct client *client, int error);
};

struct client {
        struct ev_loop *loop;
        const struct client_ops *ops;
        /* The session's own state. */
        void *session;
        /* Optional: told every event, for echocat -v. */
        void (*observe)(void *arg, const struct client_event *event);
        void *observe_arg;
        /*
         * Optional, set before client_start(): the local addresses to connect
         * from (-s; the first of the peer's family is used) and the local
         * port (-p; 0 for any).
         */
        const struct addrinfo *sources;
        uint16_t source_port;

        int fd;
        bool udp;
        bool connected;
        bool reading_paused;
        /* Shut down the write side once the send buffer is empty. */
        bool shutdown_pending;
        bool write_shut;
        double timeout;
        ev_io read_watcher;
        ev_io write_watcher;
        ev_timer connect_timer;
        const struct addrinfo *next_address;
        int last_error;
        struct sockaddr_storage peer;
        struct sockaddr_storage local;

        /* Unsent bytes; for UDP one whole datagram that the socket refused for now. */
        char *send_buffer;
        size_t send_start;
        size_t send_len;
        char *read_buffer;

        uint64_t bytes_sent;
        uint64_t bytes_received;
};

/*
 * Start connecting to the addresses in order (a list from getaddrinfo that
 * must outlive the attempt), giving each timeout seconds (0: no limit).
 * Returns 0 (the outcome comes through ops) or -ENOMEM.
 */
int client_start(struct client *client, struct ev_loop *loop, const struct addrinfo *addresses,
                 bool udp, double timeout, const struct client_ops *ops, void *session);

/* How many bytes client_send() would take now (for UDP, the largest datagram, or 0). */
size_t client_send_room(const struct client *client);

/*
 * Queue data to send (for UDP, as one datagram). Returns the number of bytes
 * taken, which is less than len when the buffer is full (ops->writable says
 * when to offer the rest), or -errno.
 */
ssize_t client_send(struct client *client, const void *data, size_t len);

/* Half-close: shut down the write side once everything queued is sent (TCP only). */
void client_shutdown_write(struct client *client);

/* Stop or resume reading from the peer (backpressure towards the server). */
void client_pause_reading(struct client *client, bool paused);

/* Close the connection now, telling the observer it was closed by the user. */
void client_close(struct client *client);

/* Release the buffers; the client must be closed. */
void client_fini(struct client *client);

#endif
