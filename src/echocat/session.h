#ifndef ECHOD_SESSION_H
#define ECHOD_SESSION_H

#include <ev.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"

/*
 * The sessions echocat runs over one client connection. Each is a module of
 * its own (session_pipe.c, session_line.c; the chat client will be
 * session_chat.c) that implements struct client_ops and is started the same
 * way, so echocat's main only chooses which one to run.
 */

/* The most a piped UDP session puts in one datagram: kept under common MTU reassembly limits. */
#define SESSION_DATAGRAM_MAX 8192

struct session_config {
        bool udp;
        /* Seconds to connect, and the longest wait for an echo that is due (0: no limit). */
        double timeout;
        int in_fd;
        int out_fd;
        /* Optional: told every connection event (echocat -v). */
        void (*observe)(void *arg, const struct client_event *event);
        void *observe_arg;
        /* Optional: connect from these addresses and this port (-s, -p). */
        const struct addrinfo *sources;
        uint16_t source_port;
        /* Piped: after end of input, quit at the latest this many seconds later (-q); < 0: never.
         */
        double quit_after_eof;
};

/* What happened, for the caller's one message and exit status. */
struct session_totals {
        bool connected;
        /* The error came from reading in_fd or writing out_fd, not from the connection. */
        bool input_failed;
        bool output_failed;
        /* Line session: the server closed with no echo due (a normal end, result 0). */
        bool closed_by_peer;
        /* Piped: -q ended the session before every byte came back. */
        bool quit_early;
        uint64_t sent;
        uint64_t received;
};

/*
 * Piped: copy in_fd to the server and the server to out_fd, full duplex with
 * bounded buffers, half-close at end of input. Returns 0 once input ended and
 * every byte sent came back; -ECONNABORTED if the peer closed first,
 * -ETIMEDOUT, or the -errno that broke the connection or the files.
 */
int session_pipe_run(struct ev_loop *loop, const struct addrinfo *addresses,
                     const struct session_config *config, struct session_totals *totals);

/*
 * -z: connect and close at once, sending nothing. Returns 0 when a
 * connection was made, else the -errno of the last attempt.
 */
int session_zero_run(struct ev_loop *loop, const struct addrinfo *addresses,
                     const struct session_config *config, struct session_totals *totals);

/*
 * Interactive: send each line read from in_fd, print its echo, then read the
 * next, until "exit" or end of input (a partial last line is sent and its
 * echo awaited first) or the server closing while no echo is due (all return
 * 0; the last sets totals->closed_by_peer). Errors as for session_pipe_run().
 */
int session_line_run(struct ev_loop *loop, const struct addrinfo *addresses,
                     const struct session_config *config, struct session_totals *totals);

/* How a session ended: set once, by the session's finish(). */
struct session_end {
        bool finished;
        /* The error came from reading in_fd or writing out_fd, not from the connection. */
        bool input_failed;
        bool output_failed;
        int result;
};

/*
 * The parts every session shares (session.c). Called by the session_*.c
 * files; calls client.c.
 */

/* Record that the session ended with result; false if it had ended already. */
bool session_end(struct session_end *end, int result);

/*
 * What every session's end does once session_end() said it is the first:
 * stop reading standard input and the session's timer, close the
 * connection, leave the loop. A session stops its own other watchers first.
 */
void session_stop(struct ev_loop *loop, ev_io *input, ev_timer *timer, struct client *client);

/* Observe and bind the client as config says (-v, -s, -p). */
void session_client_configure(struct client *client, const struct session_config *config);

/*
 * Start client with the session's ops and run loop until the session has
 * ended (end, set by the session's callbacks). Returns end->result, or
 * the -errno of client_start().
 */
int session_client_run(struct client *client, struct ev_loop *loop,
                       const struct addrinfo *addresses, const struct session_config *config,
                       const struct client_ops *ops, void *session, const struct session_end *end);

/* Set totals->connected, sent, received and the failed flags from the client and end. */
void session_totals_from_client(struct session_totals *totals, const struct client *client,
                                const struct session_end *end);

/* Write all of data to a file descriptor, waiting if it is non-blocking. 0 or -errno. */
int session_write_all(int fd, const char *data, size_t len);

#endif
