#include "echo_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

struct echo_tcp_conn {
        struct echo_tcp_pool *pool;
        struct echo_tcp_conn *prev, *next;
        int fd;
        ev_io read_watcher;
        ev_io write_watcher;
        ev_timer idle_timer;
        struct buffer pending; /* read but not yet written back */
        ev_tstamp started;
        ev_tstamp last_activity;
        uint64_t bytes_in;
        uint64_t bytes_out;
        bool peer_closed; /* the peer sent FIN: flush, then close */
        bool write_shut;  /* we sent FIN while draining */
        char host[ADDR_HOST_MAX];
        char port[8];
};

int echo_tcp_pool_init(struct echo_tcp_pool *pool, struct ev_loop *loop, size_t buffer_size,
                       double idle_timeout)
{
        memset(pool, 0, sizeof(*pool));
        pool->scratch = malloc(buffer_size);
        if (!pool->scratch)
                return -ENOMEM;
        pool->loop = loop;
        pool->buffer_size = buffer_size;
        pool->idle_timeout = idle_timeout;
        return 0;
}

void echo_tcp_pool_fini(struct echo_tcp_pool *pool)
{
        echo_tcp_pool_close_all(pool, "shutdown");
        free(pool->scratch);
        pool->scratch = NULL;
}

static void log_connect(const struct echo_tcp_conn *conn)
{
        char host_field[ADDR_HOST_MAX + 16], port_field[32];
        const char *fields[] = {"SERVICE=echo", host_field, port_field, NULL};

        snprintf(host_field, sizeof(host_field), "REMOTE_ADDR=%s", conn->host);
        snprintf(port_field, sizeof(port_field), "REMOTE_PORT=%s", conn->port);
        log_record(LOG_INFO, LOG_ID_CONNECT, fields, "echo: connect from %s port %s", conn->host,
                   conn->port);
}

static void log_disconnect(const struct echo_tcp_conn *conn, const char *reason)
{
        struct echo_tcp_pool *pool = conn->pool;
        ev_tstamp seconds = ev_now(pool->loop) - conn->started;
        /* ev_now() follows the wall clock; a step back must not wrap the count. */
        uint64_t usec = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;
        char host_field[ADDR_HOST_MAX + 16], port_field[32], in_field[40], out_field[40],
            usec_field[48], reason_field[96];
        const char *fields[] = {"SERVICE=echo", host_field, port_field,   in_field,
                                out_field,      usec_field, reason_field, NULL};

        snprintf(host_field, sizeof(host_field), "REMOTE_ADDR=%s", conn->host);
        snprintf(port_field, sizeof(port_field), "REMOTE_PORT=%s", conn->port);
        snprintf(in_field, sizeof(in_field), "BYTES_IN=%" PRIu64, conn->bytes_in);
        snprintf(out_field, sizeof(out_field), "BYTES_OUT=%" PRIu64, conn->bytes_out);
        snprintf(usec_field, sizeof(usec_field), "DURATION_USEC=%" PRIu64, usec);
        snprintf(reason_field, sizeof(reason_field), "REASON=%s", reason);
        log_record(LOG_INFO, LOG_ID_DISCONNECT, fields,
                   "echo: disconnect from %s port %s (%s): %" PRIu64 " bytes in, %" PRIu64
                   " bytes out, %.3f s",
                   conn->host, conn->port, reason, conn->bytes_in, conn->bytes_out,
                   (double)usec / 1e6);
}

/*
 * Take conn out of the pool and free it, closing its fd (after a hand-over
 * systemd holds the socket, so that sends no FIN).
 */
static void conn_forget(struct echo_tcp_conn *conn)
{
        struct echo_tcp_pool *pool = conn->pool;

        ev_io_stop(pool->loop, &conn->read_watcher);
        ev_io_stop(pool->loop, &conn->write_watcher);
        ev_timer_stop(pool->loop, &conn->idle_timer);
        close(conn->fd);
        buffer_fini(&conn->pending);
        if (conn->prev)
                conn->prev->next = conn->next;
        else
                pool->head = conn->next;
        if (conn->next)
                conn->next->prev = conn->prev;
        pool->count--;
        free(conn);
}

static void echo_tcp_close(struct echo_tcp_conn *conn, const char *reason)
{
        struct echo_tcp_pool *pool = conn->pool;

        log_disconnect(conn, reason);
        conn_forget(conn);
        if (pool->on_close)
                pool->on_close(pool);
}

static void close_with_error(struct echo_tcp_conn *conn, const char *what, int error)
{
        char reason[80];

        snprintf(reason, sizeof(reason), "%s: %s", what, strerror(error));
        echo_tcp_close(conn, reason);
}

/* Count bytes written back (and say so at debug level). */
static void count_out(struct echo_tcp_conn *conn, size_t n)
{
        conn->bytes_out += n;
        conn->pool->bytes_out += n;
        if (n > 0 && log_enabled(LOG_DEBUG))
                log_debug("echo: %zu bytes to %s port %s", n, conn->host, conn->port);
}

/* Send FIN after the last echoed byte; close once the peer is done too. */
static void finish_output(struct echo_tcp_conn *conn)
{
        if (conn->peer_closed) {
                echo_tcp_close(conn, conn->pool->draining ? "shutdown" : "peer closed");
                return;
        }
        if (conn->pool->draining && !conn->write_shut) {
                shutdown(conn->fd, SHUT_WR);
                conn->write_shut = true;
                /* Read (and drop) until the peer's FIN, so no RST cuts our data off. */
                ev_io_start(conn->pool->loop, &conn->read_watcher);
        }
}

/* Write what is pending. Returns 0, or -1 if the connection was closed. */
static int flush_pending(struct echo_tcp_conn *conn)
{
        size_t length;
        const char *head = buffer_head(&conn->pending, &length);

        while (length > 0) {
                ssize_t n = send(conn->fd, head, length, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        close_with_error(conn, "write", errno);
                        return -1;
                }
                buffer_consume(&conn->pending, (size_t)n);
                count_out(conn, (size_t)n);
                head = buffer_head(&conn->pending, &length);
        }
        return 0;
}

static void on_writable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct echo_tcp_conn *conn = watcher->data;

        (void)revents;
        conn->last_activity = ev_now(loop);
        if (flush_pending(conn) < 0)
                return;
        if (!buffer_empty(&conn->pending))
                return;
        ev_io_stop(loop, &conn->write_watcher);
        if (conn->peer_closed || conn->pool->draining) {
                finish_output(conn);
                return;
        }
        /* Room again: take input (it may have stopped when the buffer filled). */
        ev_io_start(loop, &conn->read_watcher);
}

/* Echo n bytes that were read into the scratch buffer. */
static void echo_scratch(struct echo_tcp_conn *conn, const char *data, size_t n)
{
        ssize_t written;

        do
                written = send(conn->fd, data, n, MSG_NOSIGNAL);
        while (written < 0 && errno == EINTR);
        if (written < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                        close_with_error(conn, "write", errno);
                        return;
                }
                written = 0;
        }
        count_out(conn, (size_t)written);
        if ((size_t)written == n)
                return;
        /* The peer is slow: keep the rest (it fits, the buffers are one size). */
        if (buffer_append(&conn->pending, data + written, n - (size_t)written) < 0) {
                close_with_error(conn, "buffer", ENOMEM);
                return;
        }
        ev_io_start(conn->pool->loop, &conn->write_watcher);
}

static void on_readable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct echo_tcp_conn *conn = watcher->data;
        struct echo_tcp_pool *pool = conn->pool;
        bool direct = buffer_empty(&conn->pending);
        char *target;
        size_t space;
        ssize_t n;

        (void)revents;
        if (conn->write_shut) {
                target = pool->scratch; /* draining: the peer's bytes are dropped */
                space = pool->buffer_size;
        } else if (direct) {
                target = pool->scratch;
                space = pool->buffer_size;
        } else {
                if (buffer_reserve(&conn->pending, &target, &space) < 0) {
                        close_with_error(conn, "buffer", ENOMEM);
                        return;
                }
                if (space == 0) {
                        ev_io_stop(loop, &conn->read_watcher);
                        return;
                }
        }
        n = recv(conn->fd, target, space, 0);
        if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                        return;
                close_with_error(conn, "read", errno);
                return;
        }
        conn->last_activity = ev_now(loop);
        if (n == 0) {
                conn->peer_closed = true;
                ev_io_stop(loop, &conn->read_watcher);
                if (buffer_empty(&conn->pending))
                        finish_output(conn);
                return;
        }
        if (conn->write_shut)
                return;
        conn->bytes_in += (uint64_t)n;
        pool->bytes_in += (uint64_t)n;
        if (log_enabled(LOG_DEBUG))
                log_debug("echo: %zd bytes from %s port %s", n, conn->host, conn->port);
        if (direct) {
                echo_scratch(conn, target, (size_t)n);
                return;
        }
        buffer_produce(&conn->pending, (size_t)n);
        if (buffer_reserve(&conn->pending, &target, &space) == 0 && space == 0)
                ev_io_stop(loop, &conn->read_watcher); /* backpressure */
}

/* libev's recommended idle timer: re-armed lazily from last_activity. */
static void on_idle_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct echo_tcp_conn *conn = timer->data;
        ev_tstamp after = conn->last_activity + conn->pool->idle_timeout - ev_now(loop);

        (void)revents;
        if (conn->pool->idle_timeout <= 0) {
                ev_timer_stop(loop, timer); /* turned off by a reload */
                return;
        }
        if (after > 0) {
                timer->repeat = after;
                ev_timer_again(loop, timer);
                return;
        }
        echo_tcp_close(conn, "idle timeout");
}

/* A new connection in the pool, not yet watched. NULL (fd closed) when out of memory. */
static struct echo_tcp_conn *conn_new(struct echo_tcp_pool *pool, int fd,
                                      const struct sockaddr *peer, socklen_t peer_length)
{
        struct echo_tcp_conn *conn = calloc(1, sizeof(*conn));
        int one = 1;

        if (!conn) {
                close(fd);
                return NULL;
        }
        conn->pool = pool;
        conn->fd = fd;
        buffer_init(&conn->pending, pool->buffer_size);
        conn->started = conn->last_activity = ev_now(pool->loop);
        addr_host_length(peer, peer_length, conn->host, sizeof(conn->host));
        snprintf(conn->port, sizeof(conn->port), "%u", addr_port(peer));
        /* Echoes go out at once: Nagle would hold small ones back. */
        if (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /*
         * Bound the kernel memory a peer can pin: left alone, autotuning lets a
         * client that sends and never reads hold megabytes of socket buffers.
         * A fixed size also turns autotuning off, so it is set on both.
         */
        if (pool->socket_buffer > 0) {
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &pool->socket_buffer,
                           sizeof(pool->socket_buffer));
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &pool->socket_buffer,
                           sizeof(pool->socket_buffer));
        }

        ev_io_init(&conn->read_watcher, on_readable, fd, EV_READ);
        ev_io_init(&conn->write_watcher, on_writable, fd, EV_WRITE);
        conn->read_watcher.data = conn;
        conn->write_watcher.data = conn;
        ev_init(&conn->idle_timer, on_idle_timer);
        conn->idle_timer.data = conn;

        conn->next = pool->head;
        if (pool->head)
                pool->head->prev = conn;
        pool->head = conn;
        pool->count++;
        return conn;
}

static void start_idle_timer(struct echo_tcp_conn *conn)
{
        struct echo_tcp_pool *pool = conn->pool;

        if (pool->idle_timeout > 0) {
                conn->idle_timer.repeat = pool->idle_timeout;
                ev_timer_again(pool->loop, &conn->idle_timer);
        }
}

int echo_tcp_start(struct echo_tcp_pool *pool, int fd, const struct sockaddr *peer,
                   socklen_t peer_length)
{
        struct echo_tcp_conn *conn = conn_new(pool, fd, peer, peer_length);

        if (!conn)
                return -ENOMEM;
        pool->total++;
        log_connect(conn);
        ev_io_start(pool->loop, &conn->read_watcher);
        start_idle_timer(conn);
        return 0;
}

#define HANDOVER_PEER_CLOSED 0x1
#define HANDOVER_WRITE_SHUT  0x2

int echo_tcp_pool_hand_over(struct echo_tcp_pool *pool, struct handover_writer *writer,
                            const struct service_handover *handover)
{
        void (*on_close)(struct echo_tcp_pool * pool) = pool->on_close;
        int handed = 0;

        /* Nobody is told about these ends: the connections live on in the next process. */
        pool->on_close = NULL;
        while (pool->head) {
                struct echo_tcp_conn *conn = pool->head;
                size_t length;
                const char *pending = buffer_head(&conn->pending, &length);
                ev_tstamp started = conn->started > 0 ? conn->started : 0;
                uint64_t token;

                ev_io_stop(pool->loop, &conn->read_watcher);
                ev_io_stop(pool->loop, &conn->write_watcher);
                if (handover->store_fd(handover->server, conn->fd, &token) < 0) {
                        echo_tcp_close(conn, "restart: cannot hand the connection over");
                        continue;
                }
                handover_record_begin(writer, HANDOVER_ECHO_TCP);
                handover_put_u64(writer, token);
                handover_put_u8(writer, (uint8_t)((conn->peer_closed ? HANDOVER_PEER_CLOSED : 0) |
                                                  (conn->write_shut ? HANDOVER_WRITE_SHUT : 0)));
                handover_put_u64(writer, conn->bytes_in);
                handover_put_u64(writer, conn->bytes_out);
                handover_put_u64(writer, (uint64_t)(started * 1e6));
                handover_put_bytes(writer, pending, length);
                handover_record_end(writer);
                conn_forget(conn);
                handed++;
        }
        pool->on_close = on_close;
        return handed;
}

int echo_tcp_take_over(struct echo_tcp_pool *pool, struct handover_record *record, int fd)
{
        struct sockaddr_storage peer = {0};
        socklen_t length = sizeof(peer);
        const unsigned char *pending;
        size_t pending_length;
        uint64_t bytes_in, bytes_out, started_us;
        struct echo_tcp_conn *conn;
        uint8_t flags;
        int flags_fd;

        /* The server has read the token that starts every record. */
        if (handover_get_u8(record, &flags) < 0 || handover_get_u64(record, &bytes_in) < 0 ||
            handover_get_u64(record, &bytes_out) < 0 || handover_get_u64(record, &started_us) < 0 ||
            handover_get_bytes(record, &pending, &pending_length) < 0 ||
            pending_length > pool->buffer_size) {
                close(fd);
                return -EBADMSG;
        }
        flags_fd = fcntl(fd, F_GETFL);
        if (getpeername(fd, (struct sockaddr *)&peer, &length) < 0 || flags_fd < 0 ||
            fcntl(fd, F_SETFL, flags_fd | O_NONBLOCK) < 0) {
                int error = -errno;

                close(fd);
                return error;
        }
        conn = conn_new(pool, fd, (struct sockaddr *)&peer, length);
        if (!conn)
                return -ENOMEM;
        conn->bytes_in = bytes_in;
        conn->bytes_out = bytes_out;
        conn->started = (ev_tstamp)started_us / 1e6;
        conn->peer_closed = flags & HANDOVER_PEER_CLOSED;
        conn->write_shut = flags & HANDOVER_WRITE_SHUT;
        if (pending_length > 0 &&
            buffer_append(&conn->pending, pending, pending_length) != (long)pending_length) {
                echo_tcp_close(conn, "restart: out of memory");
                return -ENOMEM;
        }
        /* Unsent bytes first; reading resumes once they are out, as after backpressure. */
        start_idle_timer(conn);
        if (!buffer_empty(&conn->pending))
                ev_io_start(pool->loop, &conn->write_watcher);
        else if (conn->peer_closed)
                finish_output(conn); /* may free conn */
        else
                ev_io_start(pool->loop, &conn->read_watcher);
        return 0;
}

void echo_tcp_pool_set_idle_timeout(struct echo_tcp_pool *pool, double idle_timeout)
{
        struct echo_tcp_conn *conn;

        pool->idle_timeout = idle_timeout;
        for (conn = pool->head; conn; conn = conn->next) {
                ev_tstamp left = conn->last_activity + idle_timeout - ev_now(pool->loop);

                if (idle_timeout <= 0) {
                        ev_timer_stop(pool->loop, &conn->idle_timer);
                        continue;
                }
                /* Time already idle counts: a connection idle longer goes at once. */
                conn->idle_timer.repeat = left > 0 ? left : 1e-3;
                ev_timer_again(pool->loop, &conn->idle_timer);
        }
}

void echo_tcp_pool_drain(struct echo_tcp_pool *pool)
{
        struct echo_tcp_conn *conn, *next;

        pool->draining = true;
        for (conn = pool->head; conn; conn = next) {
                next = conn->next;
                ev_io_stop(pool->loop, &conn->read_watcher);
                if (buffer_empty(&conn->pending))
                        finish_output(conn);
        }
}

void echo_tcp_pool_close_all(struct echo_tcp_pool *pool, const char *reason)
{
        while (pool->head)
                echo_tcp_close(pool->head, reason);
}
