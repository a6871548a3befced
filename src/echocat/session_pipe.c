#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * Piped UDP has no flow control of its own: stop reading input while this
 * much (bytes or datagrams) is unanswered, or the sockets' queues overflow
 * and most datagrams are lost.
 */
#define PIPE_UDP_BYTES_IN_FLIGHT     (64u * 1024u)
#define PIPE_UDP_DATAGRAMS_IN_FLIGHT 32u

struct pipe_session {
        struct client client;
        struct ev_loop *loop;
        const struct session_config *config;
        ev_io stdin_watcher;
        ev_timer echo_timer;
        /* -q: started at end of input; when it fires the session ends once the buffer is sent. */
        ev_timer quit_timer;
        bool quit_due;
        bool quit_early;
        char *input;
        size_t input_max;
        bool input_done;
        struct session_end end;
        /* UDP: datagrams sent and answered, for the pacing above. */
        uint64_t datagrams_sent;
        uint64_t datagrams_received;
};

int session_write_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, data, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK) {
                                /*
                                 * Someone made the file non-blocking. Waiting here
                                 * is the backpressure: the socket is not read
                                 * while the output does not keep up.
                                 */
                                struct pollfd pfd = {.fd = fd, .events = POLLOUT};

                                if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                                        return -errno;
                                continue;
                        }
                        return -errno;
                }
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

static void finish(struct pipe_session *s, int result)
{
        if (!session_end(&s->end, result))
                return;
        ev_timer_stop(s->loop, &s->quit_timer);
        session_stop(s->loop, &s->stdin_watcher, &s->echo_timer, &s->client);
}

static bool all_echoed(const struct pipe_session *s)
{
        return s->input_done && s->client.send_len == 0 &&
               s->client.bytes_received >= s->client.bytes_sent;
}

/* Bytes sent or queued that have not come back yet. */
static uint64_t unanswered_bytes(const struct pipe_session *s)
{
        uint64_t due = s->client.bytes_sent + s->client.send_len;

        return due > s->client.bytes_received ? due - s->client.bytes_received : 0;
}

/*
 * The echo timer runs while bytes are due back. Sending starts it when it is
 * not running; only bytes coming back restart it, so input that keeps
 * flowing does not hold off the timeout of an echo that never comes.
 */
static void echo_timer_after_send(struct pipe_session *s)
{
        if (s->config->timeout > 0 && unanswered_bytes(s) > 0 && !ev_is_active(&s->echo_timer))
                ev_timer_again(s->loop, &s->echo_timer);
}

static void echo_timer_after_receive(struct pipe_session *s)
{
        if (s->config->timeout <= 0)
                return;
        if (unanswered_bytes(s) > 0)
                ev_timer_again(s->loop, &s->echo_timer);
        else
                ev_timer_stop(s->loop, &s->echo_timer);
}

/* Whether to read more input now: the client has room and, for UDP, few answers are due. */
static bool input_may_flow(const struct pipe_session *s)
{
        if (s->input_done || client_send_room(&s->client) == 0)
                return false;
        if (!s->config->udp)
                return true;
        return unanswered_bytes(s) < PIPE_UDP_BYTES_IN_FLIGHT &&
               s->datagrams_sent - s->datagrams_received < PIPE_UDP_DATAGRAMS_IN_FLIGHT;
}

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
        struct pipe_session *s = w->data;
        size_t room = client_send_room(&s->client);
        ssize_t n;

        (void)revents;
        if (!input_may_flow(s)) {
                /* Backpressure: read no more input until the server takes or answers more. */
                ev_io_stop(loop, w);
                return;
        }
        if (room > s->input_max)
                room = s->input_max;
        n = read(s->config->in_fd, s->input, room);
        if (n < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
                        s->end.input_failed = true;
                        finish(s, -errno);
                }
                return;
        }
        if (n == 0) {
                s->input_done = true;
                ev_io_stop(loop, w);
                client_shutdown_write(&s->client);
                if (all_echoed(s)) {
                        finish(s, 0);
                        return;
                }
                if (s->config->quit_after_eof >= 0) {
                        ev_timer_set(&s->quit_timer, s->config->quit_after_eof, 0.0);
                        ev_timer_start(loop, &s->quit_timer);
                }
                return;
        }
        /* room was checked, so the client takes it all. */
        client_send(&s->client, s->input, (size_t)n);
        s->datagrams_sent++;
        echo_timer_after_send(s);
        if (!input_may_flow(s))
                ev_io_stop(loop, w);
}

static void on_connected(struct client *client)
{
        struct pipe_session *s = client->session;

        ev_io_start(s->loop, &s->stdin_watcher);
}

static void on_received(struct client *client, const char *data, size_t len)
{
        struct pipe_session *s = client->session;
        int r;

        /* A blocking write: while the output is slow the socket is not read. */
        r = session_write_all(s->config->out_fd, data, len);
        if (r < 0) {
                s->end.output_failed = true;
                finish(s, r);
                return;
        }
        s->datagrams_received++;
        echo_timer_after_receive(s);
        if (all_echoed(s))
                finish(s, 0);
        else if (input_may_flow(s))
                ev_io_start(s->loop, &s->stdin_watcher);
}

/* -q: the wait after end of input is over; quit once what is queued went out. */
static void quit_if_sent(struct pipe_session *s)
{
        if (!s->quit_due || s->client.send_len > 0)
                return;
        s->quit_early = !all_echoed(s);
        finish(s, 0);
}

static void on_quit_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct pipe_session *s = w->data;

        (void)loop;
        (void)revents;
        s->quit_due = true;
        quit_if_sent(s);
}

static void on_writable(struct client *client)
{
        struct pipe_session *s = client->session;

        quit_if_sent(s);
        if (s->end.finished)
                return;

        if (input_may_flow(s))
                ev_io_start(s->loop, &s->stdin_watcher);
        if (all_echoed(s))
                finish(s, 0);
}

static void on_closed(struct client *client, int error)
{
        struct pipe_session *s = client->session;

        if (error == 0)
                error = all_echoed(s) ? 0 : -ECONNABORTED;
        finish(s, error);
}

static const struct client_ops pipe_ops = {
    .connected = on_connected,
    .received = on_received,
    .writable = on_writable,
    .closed = on_closed,
};

static void on_echo_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        finish(w->data, -ETIMEDOUT);
}

int session_pipe_run(struct ev_loop *loop, const struct addrinfo *addresses,
                     const struct session_config *config, struct session_totals *totals)
{
        struct pipe_session s = {.loop = loop, .config = config};
        int r;

        s.input_max = config->udp ? SESSION_DATAGRAM_MAX : CLIENT_SEND_MAX;
        s.input = malloc(s.input_max);
        if (!s.input)
                return -ENOMEM;
        ev_io_init(&s.stdin_watcher, on_stdin, config->in_fd, EV_READ);
        s.stdin_watcher.data = &s;
        ev_init(&s.echo_timer, on_echo_timeout);
        s.echo_timer.repeat = config->timeout;
        s.echo_timer.data = &s;
        ev_init(&s.quit_timer, on_quit_timer);
        s.quit_timer.data = &s;
        session_client_configure(&s.client, config);
        r = session_client_run(&s.client, loop, addresses, config, &pipe_ops, &s, &s.end);
        session_totals_from_client(totals, &s.client, &s.end);
        totals->quit_early = s.quit_early;
        client_fini(&s.client);
        free(s.input);
        return r;
}
