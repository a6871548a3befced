#include "session_chat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chat_client.h"
#include "chat_editor.h"
#include "chat_line.h"
#include "chat_screen.h"
#include "chat_token.h"
#include "line.h"

/* Bytes of typed input read at once on a terminal. */
#define CHAT_KEYS_MAX 256

/*
 * Where the login is. Piped input waits for the first prompt, and while the
 * stored token is being tried, so that its lines answer the prompts they
 * were written for.
 */
enum chat_gate {
        GATE_BEFORE_PROMPT,
        GATE_TOKEN_SENT,
        GATE_OPEN,
};

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define STOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

struct chat_session {
        struct client client;
        struct ev_loop *loop;
        const struct session_config *config;
        const struct session_chat_options *options;
        ev_io stdin_watcher;
        /* The server must answer: the first prompt, the token, the close after end of input. */
        ev_timer wait_timer;
        ev_signal stop_watchers[STOP_SIGNALS];
        ev_signal suspend_watcher;

        /* What the server sends, split into lines. */
        struct line_splitter incoming;
        /* The last piece had no LF (a line longer than the splitter): the next is its rest. */
        bool incoming_continues;
        /* Piped: standard input, sent a line at a time. */
        struct line_splitter input;
        /* On a terminal: the line being typed, and the screen it is drawn on. */
        struct chat_editor editor;
        struct chat_screen screen;
        /* The line being typed reached the server's limit and the user was told so. */
        bool told_full;
        /* HIST rows were shown and no live line since: the next one gets a separator. */
        bool after_history;

        struct chat_token_store tokens;
        bool tokens_usable;
        char token[CHAT_TOKEN_MAX + 1];
        size_t token_length;

        enum chat_gate gate;
        bool input_done;
        bool write_shut;
        bool bye_seen;
        struct session_end end;
};

static void finish(struct chat_session *s, int result)
{
        if (!session_end(&s->end, result))
                return;
        for (size_t i = 0; i < STOP_SIGNALS; i++)
                ev_signal_stop(s->loop, &s->stop_watchers[i]);
        ev_signal_stop(s->loop, &s->suspend_watcher);
        session_stop(s->loop, &s->stdin_watcher, &s->wait_timer, &s->client);
        chat_screen_leave(&s->screen);
}

static void output_failed(struct chat_session *s, int error)
{
        s->end.output_failed = true;
        finish(s, error);
}

/* Tell the user something about the session: above the prompt line, or on stderr when piped. */
static void notice(struct chat_session *s, const char *text)
{
        char line[256];
        int n;

        if (!s->options->interactive) {
                fprintf(stderr, "echocat: %s\n", text);
                return;
        }
        n = snprintf(line, sizeof(line), "* %s", text);
        if (n > 0 && chat_screen_print(&s->screen, line, strlen(line), &s->editor) < 0)
                output_failed(s, -EIO);
}

static void wait_for_server(struct chat_session *s)
{
        if (s->config->timeout > 0) {
                s->wait_timer.repeat = s->config->timeout;
                ev_timer_again(s->loop, &s->wait_timer);
        }
}

static void forget_token(struct chat_session *s)
{
        s->token_length = 0;
        if (s->tokens_usable && chat_token_remove(&s->tokens) < 0)
                notice(s, "cannot remove the stored token");
}

/* Read standard input while the login lets it through and there is room for it. */
static void update_stdin(struct chat_session *s)
{
        size_t room;
        bool flow;

        if (s->end.finished)
                return;
        if (s->options->interactive) {
                flow = !s->input_done && s->client.connected;
        } else {
                line_splitter_space(&s->input, &room);
                flow = s->gate == GATE_OPEN && !s->input_done && room > 0;
        }
        if (flow)
                ev_io_start(s->loop, &s->stdin_watcher);
        else
                ev_io_stop(s->loop, &s->stdin_watcher);
}

/* A line the user sends: /logout forgets the stored token as well. */
static void user_line_sent(struct chat_session *s, const char *text, size_t length)
{
        struct chat_command command;

        while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == '\r'))
                length--;
        if (chat_command_split(text, length, &command) == 1 && chat_command_is(&command, "logout"))
                forget_token(s);
}

/* End of input: half-close, and wait for the server to answer what was sent and close. */
static void end_input(struct chat_session *s)
{
        s->input_done = true;
        ev_io_stop(s->loop, &s->stdin_watcher);
        if (!s->write_shut) {
                s->write_shut = true;
                client_shutdown_write(&s->client);
                wait_for_server(s);
        }
}

/* Piped: send the complete lines of input, as many as the connection takes. */
static void pump_input(struct chat_session *s)
{
        size_t length;

        while (s->gate == GATE_OPEN && !s->end.finished &&
               (length = line_splitter_next(&s->input, s->input_done)) > 0) {
                bool ended = s->input.data[length - 1] == '\n';

                /* A last line without LF gets one: the server takes lines. */
                if (client_send_room(&s->client) < length + (ended ? 0 : 1))
                        break;
                user_line_sent(s, s->input.data, length);
                client_send(&s->client, s->input.data, length);
                if (!ended)
                        client_send(&s->client, "\n", 1);
                line_splitter_consume(&s->input, length);
        }
        if (s->input_done && s->input.length == 0 && !s->end.finished)
                end_input(s);
        update_stdin(s);
}

static void open_gate(struct chat_session *s)
{
        if (s->gate == GATE_OPEN)
                return;
        s->gate = GATE_OPEN;
        ev_timer_stop(s->loop, &s->wait_timer);
        if (!s->options->interactive)
                pump_input(s);
}

/* A prompt from the server: answer it with the stored token the first time, else let the user. */
static void server_prompt(struct chat_session *s, enum chat_server_kind kind)
{
        if (s->gate == GATE_BEFORE_PROMPT && s->token_length > 0) {
                char line[CHAT_TOKEN_MAX + 16];
                int n = snprintf(line, sizeof(line), "/token %s\n", s->token);

                s->gate = GATE_TOKEN_SENT;
                client_send(&s->client, line, (size_t)n);
                if (s->options->interactive)
                        notice(s, "logging in with the stored token");
                wait_for_server(s);
                return;
        }
        if (s->gate == GATE_TOKEN_SENT)
                return;
        open_gate(s);
        if (s->options->interactive && !s->end.finished) {
                bool password = kind == CHAT_SERVER_PASSWORD_PROMPT;

                if (chat_screen_set_prompt(&s->screen, password ? "password: " : "name: ", password,
                                           &s->editor) < 0)
                        output_failed(s, -EIO);
        }
}

static void server_token(struct chat_session *s, const struct chat_server_line *line)
{
        if (s->tokens_usable) {
                int r = chat_token_save(&s->tokens, line->text, line->text_length);

                if (r < 0) {
                        char text[PATH_MAX + 64];

                        snprintf(text, sizeof(text), "cannot store the token in %s: %s",
                                 s->tokens.path, strerror(-r));
                        notice(s, text);
                }
        }
        memcpy(s->token, line->text, line->text_length);
        s->token[line->text_length] = '\0';
        s->token_length = line->text_length;
        open_gate(s);
        if (s->options->interactive && !s->end.finished &&
            chat_screen_set_prompt(&s->screen, "> ", false, &s->editor) < 0)
                output_failed(s, -EIO);
}

static void server_error(struct chat_session *s, const struct chat_server_line *line)
{
        if (s->gate != GATE_TOKEN_SENT)
                return;
        /* The answer to /token: a refused token is forgotten, and the user logs in. */
        if (chat_error_is_token_refused(line->text, line->text_length)) {
                forget_token(s);
                notice(s, "the stored token was refused and is removed; log in with your "
                          "password");
        }
        open_gate(s);
}

/* One line from the server (without its LF); continued: the rest of an overlong line. */
static void server_line(struct chat_session *s, const char *text, size_t length, bool continued)
{
        struct chat_server_line line;
        char shown[CHAT_DISPLAY_MAX];
        size_t n;

        if (continued) {
                memset(&line, 0, sizeof(line));
                line.kind = CHAT_SERVER_OTHER;
                line.text = text;
                line.text_length = length;
        } else {
                chat_server_parse(text, length, &line);
        }
        if (s->options->interactive) {
                if (s->after_history &&
                    (line.kind == CHAT_SERVER_MSG || line.kind == CHAT_SERVER_JOIN ||
                     line.kind == CHAT_SERVER_LEAVE)) {
                        static const char separator[] = "-- history above, live below --";

                        s->after_history = false;
                        if (chat_screen_print(&s->screen, separator, sizeof(separator) - 1,
                                              &s->editor) < 0) {
                                output_failed(s, -EIO);
                                return;
                        }
                }
                if (line.kind == CHAT_SERVER_HIST)
                        s->after_history = true;
                n = chat_client_display(&line, shown, sizeof(shown));
                if (n > 0 && chat_screen_print(&s->screen, shown, n, &s->editor) < 0) {
                        output_failed(s, -EIO);
                        return;
                }
        }
        switch (line.kind) {
        case CHAT_SERVER_NAME_PROMPT:
        case CHAT_SERVER_PASSWORD_PROMPT:
                server_prompt(s, line.kind);
                break;
        case CHAT_SERVER_TOKEN:
                server_token(s, &line);
                break;
        case CHAT_SERVER_ERR:
                server_error(s, &line);
                break;
        case CHAT_SERVER_BYE:
                s->bye_seen = true;
                break;
        default:
                break;
        }
}

/* Hand out the complete lines received (at_end: also what is left without LF). */
static void take_server_lines(struct chat_session *s, bool at_end)
{
        size_t length;

        while (!s->end.finished && (length = line_splitter_next(&s->incoming, at_end)) > 0) {
                bool ended = s->incoming.data[length - 1] == '\n';
                bool continued = s->incoming_continues;

                s->incoming_continues = !ended;
                server_line(s, s->incoming.data, ended ? length - 1 : length, continued);
                line_splitter_consume(&s->incoming, length);
        }
}

static void on_received(struct client *client, const char *data, size_t len)
{
        struct chat_session *s = client->session;

        /* Piped, the protocol lines go out exactly as they came. */
        if (!s->options->interactive) {
                int r = session_write_all(s->config->out_fd, data, len);

                if (r < 0) {
                        output_failed(s, r);
                        return;
                }
        }
        while (len > 0 && !s->end.finished) {
                size_t room;
                char *space = line_splitter_space(&s->incoming, &room);
                size_t n = len < room ? len : room;

                memcpy(space, data, n);
                line_splitter_commit(&s->incoming, n);
                data += n;
                len -= n;
                take_server_lines(s, false);
        }
}

static void on_closed(struct client *client, int error)
{
        struct chat_session *s = client->session;

        take_server_lines(s, true);
        if (error == 0 && !s->bye_seen && !s->input_done)
                error = -ECONNABORTED;
        finish(s, error);
}

static void on_connected(struct client *client)
{
        struct chat_session *s = client->session;

        /* A server that never prompts does not keep a piped run waiting for ever. */
        if (!s->options->interactive)
                wait_for_server(s);
        update_stdin(s);
}

static void on_writable(struct client *client)
{
        struct chat_session *s = client->session;

        if (!s->options->interactive)
                pump_input(s);
}

static const struct client_ops chat_ops = {
    .connected = on_connected,
    .received = on_received,
    .writable = on_writable,
    .closed = on_closed,
};

/* On a terminal: Enter sends the typed line. */
static void submit(struct chat_session *s)
{
        size_t length = s->editor.length;

        if (length == 0) {
                if (chat_screen_redraw(&s->screen, &s->editor) < 0)
                        output_failed(s, -EIO);
                return;
        }
        /* The token is on its way: what is typed now would answer the wrong question. */
        if (s->gate == GATE_TOKEN_SENT || client_send_room(&s->client) < length + 1) {
                chat_screen_bell(&s->screen);
                return;
        }
        user_line_sent(s, s->editor.text, length);
        s->editor.text[length] = '\n';
        client_send(&s->client, s->editor.text, length + 1);
        /* A password does not stay behind in the editor's buffer. */
        if (s->screen.secret)
                explicit_bzero(s->editor.text, sizeof(s->editor.text));
        chat_editor_clear(&s->editor);
        if (chat_screen_submitted(&s->screen) < 0)
                output_failed(s, -EIO);
}

/* Once per full line: what was typed past the server's limit was not kept. */
static void tell_full(struct chat_session *s)
{
        char text[128];
        int n = snprintf(text, sizeof(text),
                         "! line full: the server takes at most %d bytes; the rest was not kept "
                         "(Enter sends what is shown)",
                         CHAT_EDITOR_MAX);

        s->told_full = true;
        if (n > 0 && chat_screen_print(&s->screen, text, (size_t)n, &s->editor) < 0)
                output_failed(s, -EIO);
}

static void on_keys(struct chat_session *s)
{
        unsigned char keys[CHAT_KEYS_MAX];
        ssize_t n = read(s->config->in_fd, keys, sizeof(keys));

        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                return;
        if (n <= 0) {
                /* A terminal that hung up (EIO) ends the input like ^D. */
                chat_screen_set_prompt(&s->screen, "", false, &s->editor);
                end_input(s);
                return;
        }
        for (ssize_t i = 0; i < n && !s->end.finished && !s->input_done; i++) {
                switch (chat_editor_key(&s->editor, keys[i])) {
                case CHAT_EDIT_NONE:
                        break;
                case CHAT_EDIT_CHANGED:
                        s->told_full = false;
                        if (chat_screen_redraw(&s->screen, &s->editor) < 0)
                                output_failed(s, -EIO);
                        break;
                case CHAT_EDIT_SUBMIT:
                        submit(s);
                        break;
                case CHAT_EDIT_END:
                        chat_screen_set_prompt(&s->screen, "", false, &s->editor);
                        end_input(s);
                        break;
                case CHAT_EDIT_BELL:
                        chat_screen_bell(&s->screen);
                        if (s->editor.length >= CHAT_EDITOR_MAX && !s->told_full)
                                tell_full(s);
                        break;
                }
        }
}

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
        struct chat_session *s = w->data;
        size_t room;
        char *space;
        ssize_t n;

        (void)loop;
        (void)revents;
        if (s->options->interactive) {
                on_keys(s);
                return;
        }
        space = line_splitter_space(&s->input, &room);
        n = read(s->config->in_fd, space, room);
        if (n < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
                        s->end.input_failed = true;
                        finish(s, -errno);
                }
                return;
        }
        if (n == 0)
                s->input_done = true;
        else
                line_splitter_commit(&s->input, (size_t)n);
        pump_input(s);
}

static void on_wait_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        finish(w->data, -ETIMEDOUT);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
        (void)loop;
        (void)revents;
        finish(w->data, -EINTR);
}

/* ^Z: give the terminal back while stopped, take it again and redraw on SIGCONT. */
static void on_suspend(struct ev_loop *loop, ev_signal *w, int revents)
{
        struct chat_session *s = w->data;

        (void)loop;
        (void)revents;
        chat_screen_leave(&s->screen);
        kill(getpid(), SIGSTOP);
        /* Here again after SIGCONT. */
        if (chat_screen_enter(&s->screen, s->config->in_fd, s->config->out_fd) < 0 ||
            chat_screen_redraw(&s->screen, &s->editor) < 0)
                output_failed(s, -EIO);
}

static void setup_watchers(struct chat_session *s)
{
        ev_io_init(&s->stdin_watcher, on_stdin, s->config->in_fd, EV_READ);
        s->stdin_watcher.data = s;
        ev_init(&s->wait_timer, on_wait_timeout);
        s->wait_timer.data = s;
        if (!s->options->interactive)
                return;
        /* On a terminal these end the session through finish(), which restores the terminal. */
        for (size_t i = 0; i < STOP_SIGNALS; i++) {
                ev_signal_init(&s->stop_watchers[i], on_stop_signal, stop_signals[i]);
                s->stop_watchers[i].data = s;
                ev_signal_start(s->loop, &s->stop_watchers[i]);
        }
        ev_signal_init(&s->suspend_watcher, on_suspend, SIGTSTP);
        s->suspend_watcher.data = s;
        ev_signal_start(s->loop, &s->suspend_watcher);
}

static void load_token(struct chat_session *s)
{
        int r;

        if (!s->options->use_token)
                return;
        s->tokens_usable =
            chat_token_store_init(&s->tokens, s->options->host, s->options->port) == 0;
        if (!s->tokens_usable)
                return;
        r = chat_token_load(&s->tokens, s->token, sizeof(s->token));
        if (r > 0)
                s->token_length = (size_t)r;
        else if (r == -EINVAL)
                /* Not a token: a later TOKEN replaces the file. */
                s->token_length = 0;
}

int session_chat_run(struct ev_loop *loop, const struct addrinfo *addresses,
                     const struct session_config *config,
                     const struct session_chat_options *options, struct session_totals *totals)
{
        /* Static: the splitters and editor are several KiB; there is one session per run. */
        static struct chat_session s;
        int r;

        memset(&s, 0, sizeof(s));
        s.loop = loop;
        s.config = config;
        s.options = options;
        s.gate = GATE_BEFORE_PROMPT;
        s.screen.prompt = "";
        /* Not connected yet: finish() must not close descriptor 0. */
        s.client.fd = -1;
        load_token(&s);
        setup_watchers(&s);
        if (options->interactive) {
                r = chat_screen_enter(&s.screen, config->in_fd, config->out_fd);
                if (r < 0) {
                        s.end.input_failed = true;
                        finish(&s, r);
                }
        }
        s.client.observe = config->observe;
        s.client.observe_arg = config->observe_arg;
        r = s.end.finished
                ? 0
                : client_start(&s.client, loop, addresses, false, config->timeout, &chat_ops, &s);
        if (r == 0) {
                if (!s.end.finished)
                        ev_run(loop, 0);
                r = s.end.result;
        } else {
                finish(&s, r);
        }
        session_totals_from_client(totals, &s.client, &s.end);
        totals->closed_by_peer = s.bye_seen;
        client_fini(&s.client);
        explicit_bzero(s.token, sizeof(s.token));
        return r;
}
