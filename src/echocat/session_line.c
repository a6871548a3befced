#include "session.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "line.h"

struct line_session {
        struct client client;
        struct ev_loop *loop;
        const struct session_config *config;
        ev_io stdin_watcher;
        ev_timer echo_timer;
        /* Typed bytes not sent yet: at most one line, plus what was typed ahead. */
        struct line_splitter splitter;
        /* Bytes of the last line still to come back. */
        size_t awaiting;
        /* End of input was read: send what is left, then finish. */
        bool input_done;
        bool closed_by_peer;
        /* The last byte written to the output, to end a partial line with a newline at the end. */
        char last_output;
        struct session_end end;
};

static void finish(struct line_session *s, int result)
{
        if (!session_end(&s->end, result))
                return;
        session_stop(s->loop, &s->stdin_watcher, &s->echo_timer, &s->client);
}

/* Send the next complete line, if one was typed; else wait for more input. */
static void next_line(struct line_session *s)
{
        /* At end of input a partial last line goes too, and its echo is awaited. */
        size_t len = line_splitter_next(&s->splitter, s->input_done);
        ssize_t n;

        if (len == 0) {
                /*
                 * Ctrl-D after a partial line: its echo has no newline either,
                 * and the shell's prompt would follow it on the same line.
                 */
                if (s->input_done && s->last_output && s->last_output != '\n' &&
                    session_write_all(s->config->out_fd, "\n", 1) == 0)
                        s->last_output = '\n';
                if (s->input_done)
                        finish(s, 0);
                else
                        ev_io_start(s->loop, &s->stdin_watcher);
                return;
        }
        ev_io_stop(s->loop, &s->stdin_watcher);
        if (line_is_exit(s->splitter.data, len)) {
                finish(s, 0);
                return;
        }
        n = client_send(&s->client, s->splitter.data, len);
        if (n < 0) {
                finish(s, (int)n);
                return;
        }
        s->awaiting = (size_t)n;
        line_splitter_consume(&s->splitter, (size_t)n);
        if (s->config->timeout > 0)
                ev_timer_again(s->loop, &s->echo_timer);
}

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
        struct line_session *s = w->data;
        size_t room;
        char *space = line_splitter_space(&s->splitter, &room);
        ssize_t n;

        (void)loop;
        (void)revents;
        n = read(s->config->in_fd, space, room);
        if (n < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
                        s->end.input_failed = true;
                        finish(s, -errno);
                }
                return;
        }
        if (n == 0) {
                /*
                 * End of input (Ctrl-D) ends the session like "exit", once a
                 * partial line typed before it was sent and came back.
                 */
                s->input_done = true;
                ev_io_stop(loop, w);
                next_line(s);
                return;
        }
        line_splitter_commit(&s->splitter, (size_t)n);
        next_line(s);
}

static void on_connected(struct client *client)
{
        struct line_session *s = client->session;

        ev_io_start(s->loop, &s->stdin_watcher);
}

static void on_received(struct client *client, const char *data, size_t len)
{
        struct line_session *s = client->session;
        int r;

        r = session_write_all(s->config->out_fd, data, len);
        if (r < 0) {
                s->end.output_failed = true;
                finish(s, r);
                return;
        }
        if (len > 0)
                s->last_output = data[len - 1];
        s->awaiting = len < s->awaiting ? s->awaiting - len : 0;
        if (s->awaiting > 0) {
                if (s->config->timeout > 0)
                        ev_timer_again(s->loop, &s->echo_timer);
                return;
        }
        ev_timer_stop(s->loop, &s->echo_timer);
        next_line(s);
}

static void on_writable(struct client *client)
{
        (void)client;
}

static void on_closed(struct client *client, int error)
{
        struct line_session *s = client->session;

        /*
         * The server may close a connection that is idle (echod's idle
         * timeout): with no echo due that is a normal end, not a failure.
         */
        if (error == 0 && s->awaiting == 0) {
                s->closed_by_peer = true;
                finish(s, 0);
                return;
        }
        finish(s, error ? error : -ECONNABORTED);
}

static const struct client_ops line_ops = {
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

int session_line_run(struct ev_loop *loop, const struct addrinfo *addresses,
                     const struct session_config *config, struct session_totals *totals)
{
        struct line_session s = {.loop = loop, .config = config};
        int r;

        ev_io_init(&s.stdin_watcher, on_stdin, config->in_fd, EV_READ);
        s.stdin_watcher.data = &s;
        ev_init(&s.echo_timer, on_echo_timeout);
        s.echo_timer.repeat = config->timeout;
        s.echo_timer.data = &s;
        session_client_configure(&s.client, config);
        r = session_client_run(&s.client, loop, addresses, config, &line_ops, &s, &s.end);
        session_totals_from_client(totals, &s.client, &s.end);
        totals->closed_by_peer = s.closed_by_peer;
        client_fini(&s.client);
        return r;
}
