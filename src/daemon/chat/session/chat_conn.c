/*
 * A chat connection's I/O (chat_conn.h): the bounded output queue flushed
 * once per loop iteration, reading and splitting lines, pausing, the timer
 * and closing. What the session makes of a line, a timer or a close is told
 * through chat->events, so that nothing here calls up into the dialogue.
 */
#include "chat_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* The first allocation of an output queue; it doubles up to chat_output_max. */
#define CHAT_OUTPUT_INITIAL 4096
/* Seconds a closing connection has to read its last lines before it is closed anyway. */
#define CHAT_CLOSE_LINGER 5.0

uint64_t chat_now_ms(void)
{
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now);
        return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

void chat_log(struct chat_conn *conn, int priority, const char *message_id, const char *extra,
              const char *format, ...)
{
        char message[512], host_field[ADDR_HOST_MAX + 16], port_field[32],
            user_field[CHAT_NAME_MAX + 8];
        const char *fields[6] = {"SERVICE=chat", host_field, port_field};
        size_t n = 3;
        va_list ap;

        if (!log_enabled(priority))
                return;
        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        snprintf(host_field, sizeof(host_field), "REMOTE_ADDR=%s", conn->address);
        snprintf(port_field, sizeof(port_field), "REMOTE_PORT=%s", conn->port);
        if (conn->name[0]) {
                snprintf(user_field, sizeof(user_field), "USER=%s", conn->name);
                fields[n++] = user_field;
        }
        if (extra)
                fields[n++] = extra;
        fields[n] = NULL;
        log_record(priority, message_id, fields, "chat: %s (%s port %s)", message, conn->address,
                   conn->port);
}

unsigned chat_online_count(struct chat_service *chat, const char *name,
                           const struct chat_conn *except)
{
        unsigned count = 0;

        /*
         * Counted, not in the CHAT phase: a connection lingering while it
         * closes has had its JOIN and gets its LEAVE only when it goes.
         */
        for (struct chat_conn *conn = chat->head; conn; conn = conn->next) {
                if (conn != except && conn->counted == CHAT_COUNT_ONLINE &&
                    strcasecmp(conn->name, name) == 0)
                        count++;
        }
        return count;
}

/* ---- output: one bounded queue per connection, flushed once per loop iteration ---- */

static void mark_dirty(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;

        if (conn->dirty)
                return;
        conn->dirty = true;
        conn->dirty_next = chat->dirty_head;
        chat->dirty_head = conn;
        ev_prepare_start(chat->loop, &chat->flush_watcher);
}

void chat_overflow(struct chat_conn *conn)
{
        conn->overflowed = true;
        mark_dirty(conn);
}

void chat_send(struct chat_conn *conn, const char *line, size_t length)
{
        size_t max = conn->chat->config->chat_output_max;
        size_t queued = conn->output_end - conn->output_start;

        if (conn->overflowed || conn->fd < 0)
                return;
        if (queued + length > max) {
                /* A slow reader: drop it rather than grow without bound or stall others. */
                conn->overflowed = true;
                mark_dirty(conn);
                return;
        }
        if (conn->output_end + length > conn->output_capacity) {
                size_t capacity =
                    conn->output_capacity ? conn->output_capacity : CHAT_OUTPUT_INITIAL;
                char *bigger;

                if (conn->output_start > 0) {
                        memmove(conn->output, conn->output + conn->output_start, queued);
                        conn->output_start = 0;
                        conn->output_end = queued;
                }
                while (capacity < queued + length)
                        capacity *= 2;
                if (capacity > conn->output_capacity) {
                        bigger = realloc(conn->output, capacity);
                        if (!bigger) {
                                conn->overflowed = true;
                                mark_dirty(conn);
                                return;
                        }
                        conn->output = bigger;
                        conn->output_capacity = capacity;
                }
        }
        memcpy(conn->output + conn->output_end, line, length);
        conn->output_end += length;
        mark_dirty(conn);
}

void chat_sendf(struct chat_conn *conn, const char *format, ...)
{
        char line[CHAT_SERVER_LINE_MAX + 64];
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(line, sizeof(line), format, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n >= sizeof(line)) {
                n = (int)sizeof(line) - 1;
                line[n - 1] = '\n';
        }
        chat_send(conn, line, (size_t)n);
}

/* Write what is queued. Returns false if the connection was closed. */
static bool flush(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;

        if (conn->overflowed) {
                chat_close(conn, "slow reader: output queue full");
                return false;
        }
        while (conn->output_end > conn->output_start) {
                ssize_t n = send(conn->fd, conn->output + conn->output_start,
                                 conn->output_end - conn->output_start, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        ev_io_start(chat->loop, &conn->write_watcher);
                        return true;
                }
                if (n < 0) {
                        char reason[80];

                        snprintf(reason, sizeof(reason), "send: %s", strerror(errno));
                        chat_close(conn, reason);
                        return false;
                }
                conn->output_start += (size_t)n;
                conn->bytes_out += (uint64_t)n;
                chat->bytes_out += (uint64_t)n;
        }
        conn->output_start = conn->output_end = 0;
        ev_io_stop(chat->loop, &conn->write_watcher);
        if (conn->phase == CHAT_PHASE_CLOSING) {
                chat_close(conn, conn->close_reason);
                return false;
        }
        return true;
}

static void on_flush(struct ev_loop *loop, ev_prepare *watcher, int revents)
{
        struct chat_service *chat = watcher->data;

        (void)revents;
        while (chat->dirty_head) {
                struct chat_conn *conn = chat->dirty_head;

                chat->dirty_head = conn->dirty_next;
                conn->dirty = false;
                conn->dirty_next = NULL;
                flush(conn);
        }
        ev_prepare_stop(loop, watcher);
}

static void on_writable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        (void)loop;
        (void)revents;
        flush(watcher->data);
}

void chat_close_after_flush(struct chat_conn *conn, const char *reason)
{
        conn->close_reason = reason;
        conn->phase = CHAT_PHASE_CLOSING;
        conn->pausing = false;
        chat_pause_input(conn, true);
        /*
         * A peer that does not read could keep its last lines, and with them
         * its login slot or its place online, forever: it gets a while.
         */
        chat_conn_timer(conn, CHAT_CLOSE_LINGER);
        mark_dirty(conn);
}

void chat_conn_timer(struct chat_conn *conn, ev_tstamp seconds)
{
        struct ev_loop *loop = conn->chat->loop;

        ev_timer_stop(loop, &conn->timer);
        ev_timer_set(&conn->timer, seconds, 0);
        ev_timer_start(loop, &conn->timer);
}

/* ---- input ---- */

void chat_pause_input(struct chat_conn *conn, bool paused)
{
        if (paused || conn->peer_closed || conn->chat->draining)
                ev_io_stop(conn->chat->loop, &conn->read_watcher);
        else
                ev_io_start(conn->chat->loop, &conn->read_watcher);
}

/* Lines are taken in these phases with no job out; otherwise they wait in the input buffer. */
static bool taking_lines(const struct chat_conn *conn)
{
        return !conn->job && !conn->wait && !conn->awaiting_store &&
               (conn->phase == CHAT_PHASE_NAME || conn->phase == CHAT_PHASE_PASSWORD ||
                conn->phase == CHAT_PHASE_CHAT);
}

/* Split what was read into lines and handle them while the phase takes lines. */
static void process_input(struct chat_conn *conn)
{
        /*
         * The session never frees a connection while it handles a line: it
         * closes with chat_close_after_flush(), which only changes the phase.
         */
        while (conn->input_start < conn->input_end && taking_lines(conn)) {
                struct chat_line line;
                size_t used = 0;
                enum chat_line_result result =
                    chat_line_next(&conn->reader, conn->input + conn->input_start,
                                   conn->input_end - conn->input_start, &used, &line);

                conn->input_start += used;
                if (result == CHAT_LINE_READY)
                        conn->chat->events->line(conn, &line);
                else if (result == CHAT_LINE_TOO_LONG)
                        conn->chat->events->too_long(conn);
        }
        if (conn->input_start == conn->input_end)
                conn->input_start = conn->input_end = 0;
}

void chat_resume_input(struct chat_conn *conn)
{
        process_input(conn);
        if (conn->peer_closed && conn->input_start == conn->input_end && taking_lines(conn)) {
                struct chat_line line;

                if (chat_line_finish(&conn->reader, &line) == CHAT_LINE_READY)
                        conn->chat->events->line(conn, &line);
                if (taking_lines(conn))
                        chat_close_after_flush(conn, "peer closed");
                return;
        }
        if (taking_lines(conn) && conn->input_end < sizeof(conn->input))
                chat_pause_input(conn, false);
}

static void on_readable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct chat_conn *conn = watcher->data;
        struct chat_service *chat = conn->chat;
        ssize_t n;

        (void)loop;
        (void)revents;
        if (conn->input_start > 0) {
                memmove(conn->input, conn->input + conn->input_start,
                        conn->input_end - conn->input_start);
                conn->input_end -= conn->input_start;
                conn->input_start = 0;
        }
        n = recv(conn->fd, conn->input + conn->input_end, sizeof(conn->input) - conn->input_end, 0);
        if (n < 0) {
                char reason[80];

                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                        return;
                snprintf(reason, sizeof(reason), "recv: %s", strerror(errno));
                chat_close(conn, reason);
                return;
        }
        if (n == 0) {
                conn->peer_closed = true;
                ev_io_stop(chat->loop, &conn->read_watcher);
        }
        conn->input_end += (size_t)n;
        conn->bytes_in += (uint64_t)n;
        chat->bytes_in += (uint64_t)n;
        chat_resume_input(conn);
}

static void on_timer(struct ev_loop *loop, ev_timer *timer, int revents)
{
        struct chat_conn *conn = timer->data;

        (void)loop;
        (void)revents;
        if (conn->phase == CHAT_PHASE_CLOSING) {
                chat_close(conn, conn->close_reason);
                return;
        }
        conn->chat->events->timer(conn);
}

/* ---- connections ---- */

void chat_close(struct chat_conn *conn, const char *reason)
{
        struct chat_service *chat = conn->chat;
        ev_tstamp seconds = ev_now(chat->loop) - conn->started;
        char extra[160];

        chat->events->closing(conn);
        snprintf(extra, sizeof(extra), "REASON=%s", reason ? reason : "closed");
        chat_log(conn, LOG_INFO, LOG_ID_DISCONNECT, extra,
                 "disconnect (%s): %" PRIu64 " bytes in, %" PRIu64 " bytes out, %" PRIu64
                 " messages, %.3f s",
                 reason ? reason : "closed", conn->bytes_in, conn->bytes_out, conn->messages,
                 seconds > 0 ? seconds : 0.0);
        chat_conn_forget(conn);
        if (chat->env.connection_closed)
                chat->env.connection_closed(chat->env.server);
}

void chat_conn_forget(struct chat_conn *conn)
{
        struct chat_service *chat = conn->chat;

        chat->events->forgetting(conn);
        ev_io_stop(chat->loop, &conn->read_watcher);
        ev_io_stop(chat->loop, &conn->write_watcher);
        ev_timer_stop(chat->loop, &conn->timer);
        close(conn->fd);
        conn->fd = -1;
        if (conn->dirty) {
                struct chat_conn **link = &chat->dirty_head;

                while (*link != conn)
                        link = &(*link)->dirty_next;
                *link = conn->dirty_next;
        }
        if (conn->prev)
                conn->prev->next = conn->next;
        else
                chat->head = conn->next;
        if (conn->next)
                conn->next->prev = conn->prev;
        chat->count--;
        free(conn->output);
        free(conn);
}

struct chat_conn *chat_conn_new(struct chat_service *chat, int fd, const struct sockaddr *peer,
                                socklen_t length)
{
        struct chat_conn *conn = calloc(1, sizeof(*conn));
        char host_group[ADDR_HOST_MAX + 4];
        int one = 1;

        if (!conn) {
                close(fd);
                return NULL;
        }
        conn->chat = chat;
        conn->fd = fd;
        conn->id = ++chat->next_id;
        conn->started = conn->flood_at = ev_now(chat->loop);
        conn->flood_tokens = chat->config->chat_burst;
        addr_host_length(peer, length, conn->address, sizeof(conn->address));
        addr_host_group(peer, length, host_group, sizeof(host_group));
        lockout_address_key(conn->address_key, host_group);
        snprintf(conn->port, sizeof(conn->port), "%u", addr_port(peer));
        /* Lines go out at once: Nagle and delayed ACK would stall a chat. */
        if (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /*
         * The kernel's queues are bounded as echo's are (socket-buffer): else
         * a client that does not read holds megabytes of send queue before
         * chat-output-max counts a byte, and keeps them after it is dropped.
         */
        if (chat->config->socket_buffer > 0) {
                int size = (int)chat->config->socket_buffer;

                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        }
        chat_line_reader_init(&conn->reader);
        ev_io_init(&conn->read_watcher, on_readable, fd, EV_READ);
        ev_io_init(&conn->write_watcher, on_writable, fd, EV_WRITE);
        ev_init(&conn->timer, on_timer);
        conn->read_watcher.data = conn->write_watcher.data = conn->timer.data = conn;
        conn->next = chat->head;
        if (chat->head)
                chat->head->prev = conn;
        chat->head = conn;
        chat->count++;
        return conn;
}

void chat_conn_init(struct chat_service *chat, const struct chat_conn_events *events)
{
        chat->events = events;
        ev_prepare_init(&chat->flush_watcher, on_flush);
        chat->flush_watcher.data = chat;
}

void chat_conn_fini(struct chat_service *chat)
{
        ev_prepare_stop(chat->loop, &chat->flush_watcher);
}
