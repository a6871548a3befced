/*
 * echocat: the echo client. On a terminal it asks for a missing host and
 * port, then sends each typed line and prints its echo; piped, it copies
 * standard input to the server and the echo to standard output, like nc.
 * The connection is src/client.c; what rides on it is a session
 * (src/session_*.c). This file chooses, and reports once.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cat_args.h"
#include "cli.h"
#include "prompt.h"
#include "resolve.h"
#include "session.h"
#include "session_chat.h"

static void print_event(void *arg, const struct client_event *event)
{
        char peer[ADDR_TEXT_MAX], local[ADDR_TEXT_MAX];
        const char *proto = arg;

        addr_format(event->peer, peer, sizeof(peer));
        switch (event->kind) {
        case CLIENT_EVENT_CONNECTING:
                fprintf(stderr, "echocat: connecting to %s (%s)\n", peer, proto);
                break;
        case CLIENT_EVENT_CONNECTED:
                addr_format(event->local, local, sizeof(local));
                fprintf(stderr, "echocat: connected to %s from %s\n", peer, local);
                break;
        case CLIENT_EVENT_CONNECT_FAILED:
                fprintf(stderr, "echocat: cannot connect to %s: %s\n", peer,
                        strerror(-event->error));
                break;
        case CLIENT_EVENT_SENT:
                fprintf(stderr, "echocat: sent %zu bytes\n", event->bytes);
                break;
        case CLIENT_EVENT_RECEIVED:
                fprintf(stderr, "echocat: received %zu bytes\n", event->bytes);
                break;
        case CLIENT_EVENT_HALF_CLOSED:
                fprintf(stderr, "echocat: end of input, write side shut down\n");
                break;
        case CLIENT_EVENT_CLOSED_BY_PEER:
                fprintf(stderr, "echocat: connection closed by peer\n");
                break;
        case CLIENT_EVENT_CLOSED_BY_USER:
                fprintf(stderr, "echocat: connection closed by user\n");
                break;
        }
}

/* "exit" at a prompt ends echocat, as it ends the line session. */
static bool is_exit(const char *answer)
{
        return strcmp(answer, "exit") == 0;
}

/* Ask for the host until it resolves (or the user leaves). Returns 0, -ENODATA or -ECANCELED. */
static int ask_host(const struct cat_options *opts, int socktype, const char *port, char *host,
                    size_t host_size)
{
        struct addrinfo *found = NULL;
        const char *reason;
        int r;

        for (;;) {
                r = prompt_ask(STDIN_FILENO, STDERR_FILENO, "Host", CAT_DEFAULT_HOST,
                               prompt_check_host, host, host_size);
                if (r < 0)
                        return r;
                if (is_exit(host))
                        return -ECANCELED;
                /* Resolve now, so that a bad name is reported before the port is asked. */
                r = resolve_addresses(host, port, opts->family, socktype, &found, &reason);
                if (r == 0) {
                        freeaddrinfo(found);
                        return 0;
                }
                fprintf(stderr, "echocat: cannot resolve '%s': %s\n", host, reason);
        }
}

/* The "exit" answer is no port: check the port, but let "exit" through to end echocat. */
static bool check_port_or_exit(const char *answer, char *reason, size_t reason_size)
{
        return is_exit(answer) || prompt_check_port(answer, reason, reason_size);
}

/*
 * On a terminal, ask for whatever the command line left out: the host first
 * (asked again until it resolves), then the port. Returns 0, -ENODATA when
 * input ended at a prompt, -ECANCELED for "exit" at a prompt, or another
 * -errno with the reason already printed.
 */
static int ask_and_resolve(const struct cat_options *opts, bool interactive, char *host,
                           size_t host_size, char *port, size_t port_size,
                           struct addrinfo **addresses)
{
        int socktype = opts->udp ? SOCK_DGRAM : SOCK_STREAM;
        const char *reason;
        int r;

        snprintf(host, host_size, "%s", opts->host ? opts->host : CAT_DEFAULT_HOST);
        snprintf(port, port_size, "%s", opts->port ? opts->port : CAT_DEFAULT_PORT);
        if (interactive && !opts->host) {
                r = ask_host(opts, socktype, port, host, host_size);
                if (r < 0)
                        return r;
        }
        if (interactive && !opts->port) {
                r = prompt_ask(STDIN_FILENO, STDERR_FILENO, "Port", CAT_DEFAULT_PORT,
                               check_port_or_exit, port, port_size);
                if (r < 0)
                        return r;
                if (is_exit(port))
                        return -ECANCELED;
        }
        r = resolve_addresses(host, port, opts->family, socktype, addresses, &reason);
        if (r < 0)
                fprintf(stderr, "echocat: cannot resolve '%s': %s\n", host, reason);
        return r;
}

/* -s ADDR: the local addresses to connect from. Returns 0 or -errno with the reason printed. */
static int resolve_source(const struct cat_options *opts, struct addrinfo **sources)
{
        const char *reason;
        int r;

        *sources = NULL;
        if (!opts->source_host)
                return 0;
        r = resolve_addresses(opts->source_host, "0", opts->family,
                              opts->udp ? SOCK_DGRAM : SOCK_STREAM, sources, &reason);
        if (r < 0)
                fprintf(stderr, "echocat: cannot resolve source '%s': %s\n", opts->source_host,
                        reason);
        return r;
}

/*
 * Started with standard input, output or error closed, the event loop or the
 * socket would take fd 0, 1 or 2 and input would be read from it or echoes
 * written into it. Open /dev/null in their place: a closed input is empty,
 * a closed output discards the echo. Returns 0 or -errno.
 */
static int fill_closed_standard_fds(void)
{
        for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
                int opened;

                if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
                        continue;
                /* The lowest free descriptor is this one: the ones below are open. */
                opened = open("/dev/null", O_RDWR);
                if (opened < 0)
                        return -errno;
                if (opened != fd) {
                        close(opened);
                        return -EBADF;
                }
        }
        return 0;
}

static void report_failure(int r, const char *host, const char *port,
                           const struct session_totals *totals)
{
        if (totals->input_failed) {
                fprintf(stderr, "echocat: cannot read standard input: %s\n", strerror(-r));
        } else if (totals->output_failed) {
                fprintf(stderr, "echocat: cannot write standard output: %s\n", strerror(-r));
        } else if (!totals->connected) {
                fprintf(stderr, "echocat: cannot connect to %s port %s: %s\n", host, port,
                        strerror(-r));
        } else if (r == -ECONNABORTED && totals->received > totals->sent) {
                fprintf(stderr,
                        "echocat: connection closed by peer; it sent %llu bytes more than it "
                        "was sent\n",
                        (unsigned long long)(totals->received - totals->sent));
        } else if (r == -ECONNABORTED) {
                fprintf(stderr,
                        "echocat: connection closed by peer after %llu of %llu bytes came back\n",
                        (unsigned long long)totals->received, (unsigned long long)totals->sent);
        } else if (r == -ETIMEDOUT) {
                fprintf(stderr,
                        "echocat: timed out waiting for the echo (%llu of %llu bytes "
                        "came back)\n",
                        (unsigned long long)totals->received, (unsigned long long)totals->sent);
        } else {
                fprintf(stderr, "echocat: connection to %s port %s broke: %s\n", host, port,
                        strerror(-r));
        }
}

/*
 * echocat --chat: run the chat session and report its end once. Returns the
 * exit status.
 */
static int run_chat(struct ev_loop *loop, const struct addrinfo *addresses,
                    const struct session_config *config, const struct cat_options *opts,
                    bool interactive, const char *host, const char *port)
{
        struct session_chat_options chat = {
            .host = host,
            .port = port,
            .use_token = !opts->no_token,
            /* The prompt line is drawn on standard output: both ends must be the terminal. */
            .interactive = interactive && isatty(STDOUT_FILENO),
        };
        struct session_totals totals = {0};
        int r = session_chat_run(loop, addresses, config, &chat, &totals);

        if (r == -EINTR)
                return EXIT_INTERRUPTED;
        if (r == -ECONNABORTED)
                fprintf(stderr, "echocat: connection closed by the server\n");
        else if (r == -ETIMEDOUT && totals.connected)
                fprintf(stderr, "echocat: timed out waiting for the server\n");
        else if (r < 0)
                report_failure(r, host, port, &totals);
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}

/* The signal that stopped the session (SIGINT, SIGTERM), or 0. */
static int interrupted_by;

static void on_interrupt(struct ev_loop *loop, ev_signal *w, int revents)
{
        (void)revents;
        /* Stop the session; the summary is printed and the exit status is 130. */
        interrupted_by = w->signum;
        signal(w->signum, SIG_DFL);
        ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
        ev_signal sigint, sigterm;
        struct cat_options opts;
        struct session_config config;
        struct session_totals totals = {0};
        struct addrinfo *addresses = NULL, *sources = NULL;
        struct ev_loop *loop;
        char error[256], host[PROMPT_ANSWER_MAX], port[PROMPT_ANSWER_MAX];
        double started;
        bool interactive;
        int r;

        if (fill_closed_standard_fds() < 0)
                return EXIT_FAILED;
        if (cat_args_parse(argc, argv, &opts, error, sizeof(error)) < 0) {
                return cli_usage_error("echocat", "%s", error);
        }
        if (opts.action == CLI_HELP) {
                fputs(cat_args_usage, stdout);
                return EXIT_OK;
        }
        if (opts.action == CLI_VERSION)
                return cli_print_version("echocat");
        /* A closed socket or output is an error to report, not a signal to die of. */
        signal(SIGPIPE, SIG_IGN);
        /* -z sends nothing, so it never needs the line session's prompts and input. */
        interactive = isatty(STDIN_FILENO) && !opts.zero_io;
        if (opts.chat && !opts.port)
                opts.port = CAT_DEFAULT_CHAT_PORT;

        if (resolve_source(&opts, &sources) < 0)
                return EXIT_FAILED;
        r = ask_and_resolve(&opts, interactive, host, sizeof(host), port, sizeof(port), &addresses);
        if (r == -ENODATA || r == -ECANCELED) {
                /* Ctrl-D (or "exit") at a prompt: the user left before connecting. */
                if (r == -ENODATA)
                        fputc('\n', stderr);
                freeaddrinfo(sources);
                return EXIT_OK;
        }
        if (r < 0) {
                freeaddrinfo(sources);
                return EXIT_FAILED;
        }

        loop = ev_default_loop(EVFLAG_AUTO);
        if (!loop) {
                fprintf(stderr, "echocat: cannot create the event loop\n");
                freeaddrinfo(addresses);
                freeaddrinfo(sources);
                return EXIT_FAILED;
        }
        config = (struct session_config){
            .udp = opts.udp,
            .timeout = (double)opts.timeout_ns / 1e9,
            .in_fd = STDIN_FILENO,
            .out_fd = STDOUT_FILENO,
            .observe = opts.verbose ? print_event : NULL,
            .observe_arg = opts.udp ? "udp" : "tcp",
            .sources = sources,
            .source_port = opts.source_port,
            .quit_after_eof = opts.quit_after_eof,
        };
        if (opts.chat) {
                r = run_chat(loop, addresses, &config, &opts, interactive, host, port);
                freeaddrinfo(addresses);
                freeaddrinfo(sources);
                ev_loop_destroy(loop);
                return r;
        }
        ev_signal_init(&sigint, on_interrupt, SIGINT);
        ev_signal_init(&sigterm, on_interrupt, SIGTERM);
        ev_signal_start(loop, &sigint);
        ev_signal_start(loop, &sigterm);
        /* The session ends the loop itself; these must not keep it running. */
        ev_unref(loop);
        ev_unref(loop);
        started = ev_time();
        if (opts.zero_io)
                r = session_zero_run(loop, addresses, &config, &totals);
        else if (interactive)
                r = session_line_run(loop, addresses, &config, &totals);
        else
                r = session_pipe_run(loop, addresses, &config, &totals);
        if (opts.verbose && !opts.zero_io) {
                double elapsed = ev_time() - started;

                /* ncat's summary line, with the rate of what came back. */
                fprintf(stderr,
                        "echocat: %llu bytes sent, %llu bytes received in %.2f seconds (%.1f "
                        "bytes/s).\n",
                        (unsigned long long)totals.sent, (unsigned long long)totals.received,
                        elapsed, elapsed > 0 ? (double)totals.received / elapsed : 0.0);
        }
        if (opts.zero_io && opts.verbose && r == 0)
                fprintf(stderr, "echocat: connection to %s port %s [%s] succeeded\n", host, port,
                        opts.udp ? "udp" : "tcp");
        if (interrupted_by)
                fprintf(stderr, "echocat: interrupted\n");
        else if (r < 0)
                report_failure(r, host, port, &totals);
        else if (totals.closed_by_peer)
                fprintf(stderr, "echocat: connection closed by the server\n");
        else if (totals.quit_early && opts.verbose)
                fprintf(stderr,
                        "echocat: quit %g s after end of input (-q), %llu of %llu bytes "
                        "came back\n",
                        opts.quit_after_eof, (unsigned long long)totals.received,
                        (unsigned long long)totals.sent);
        ev_ref(loop);
        ev_ref(loop);
        ev_signal_stop(loop, &sigint);
        ev_signal_stop(loop, &sigterm);
        freeaddrinfo(addresses);
        freeaddrinfo(sources);
        ev_loop_destroy(loop);
        if (interrupted_by)
                return EXIT_INTERRUPTED;
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}
