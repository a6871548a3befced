#ifndef ECHOD_ECHO_TCP_H
#define ECHOD_ECHO_TCP_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buffer.h"
#include "handover.h"
#include "service.h"

/*
 * TCP echo connections (RFC 862): every byte back, in order, until the peer
 * closes. Bytes are read into a scratch buffer shared by all connections and
 * written straight back; only what the peer's socket will not take yet is
 * copied into the connection's own bounded buffer, and while that buffer is
 * full the connection is not read (backpressure).
 */

struct echo_tcp_conn;

struct echo_tcp_pool {
        struct ev_loop *loop;
        char *scratch;      /* shared read buffer, buffer_size bytes */
        size_t buffer_size; /* per connection, fixed at start */
        double idle_timeout;
        /* SO_RCVBUF and SO_SNDBUF of each new connection (the kernel doubles it); 0 = its own. */
        int socket_buffer;
        struct echo_tcp_conn *head;
        unsigned count;
        uint64_t total;
        uint64_t bytes_in;
        uint64_t bytes_out;
        bool draining;
        /* Called after a connection is freed (to resume accepting, or exit). */
        void (*on_close)(struct echo_tcp_pool *pool);
        void *owner;
};

/* Set up an empty pool. Returns 0 or -ENOMEM. */
int echo_tcp_pool_init(struct echo_tcp_pool *pool, struct ev_loop *loop, size_t buffer_size,
                       double idle_timeout);

/* Close every connection and free the pool. */
void echo_tcp_pool_fini(struct echo_tcp_pool *pool);

/*
 * Serve an accepted, non-blocking socket; the pool owns fd from here, also on
 * failure. Returns 0 or -errno.
 */
int echo_tcp_start(struct echo_tcp_pool *pool, int fd, const struct sockaddr *peer,
                   socklen_t peer_length);

/* Change the idle timeout of the pool and of every open connection (0 = none). */
void echo_tcp_pool_set_idle_timeout(struct echo_tcp_pool *pool, double idle_timeout);

/*
 * Graceful stop: read no more, flush what was read, send FIN, and close once
 * the peer has closed too (or echo_tcp_pool_close_all() cuts it short).
 */
void echo_tcp_pool_drain(struct echo_tcp_pool *pool);

/*
 * Planned restart: write every connection (peer, counters, unsent bytes) as
 * a HANDOVER_ECHO_TCP record, store its socket, and free it without a FIN.
 * Returns how many were handed over.
 */
int echo_tcp_pool_hand_over(struct echo_tcp_pool *pool, struct handover_writer *writer,
                            const struct service_handover *handover);

/* Serve a connection handed over by the previous process (owns fd). 0 or -errno. */
int echo_tcp_take_over(struct echo_tcp_pool *pool, struct handover_record *record, int fd);

/* Close every connection now, logging reason. */
void echo_tcp_pool_close_all(struct echo_tcp_pool *pool, const char *reason);

#endif
