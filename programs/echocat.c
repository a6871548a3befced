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

/*
 * On a terminal, ask for whatever the command line left out, and ask for
 * the host again while it does not resolve. Returns 0, -ENODATA when input
 * ended at a prompt, or another -errno with the reason already printed.
 */
static int ask_and_resolve(const struct cat_options *opts, bool interactive, char *host,
                           size_t host_size, char *port, size_t port_size,
                           struct addrinfo **addresses)
{
        int socktype = opts->udp ? SOCK_DGRAM : SOCK_STREAM;
        const char *reason;
        bool ask_host = interactive && !opts->host;
        int r;

        snprintf(host, host_size, "%s", opts->host ? opts->host : CAT_DEFAULT_HOST);
        snprintf(port, port_size, "%s", opts->port ? opts->port : CAT_DEFAULT_PORT);
        if (ask_host) {
                r = prompt_ask(STDIN_FILENO, STDERR_FILENO, "Host", CAT_DEFAULT_HOST,
                               prompt_check_host, host, host_size);
                if (r < 0)
                        return r;
        }
        if (interactive && !opts->port) {
                r = prompt_ask(STDIN_FILENO, STDERR_FILENO, "Port", CAT_DEFAULT_PORT,
                               prompt_check_port, port, port_size);
                if (r < 0)
                        return r;
        }
        for (;;) {
                r = resolve_addresses(host, port, opts->family, socktype, addresses, &reason);
                if (r == 0)
                        return 0;
                fprintf(stderr, "echocat: cannot resolve '%s': %s\n", host, reason);
                if (!ask_host)
                        return r;
                r = prompt_ask(STDIN_FILENO, STDERR_FILENO, "Host", CAT_DEFAULT_HOST,
                               prompt_check_host, host, host_size);
                if (r < 0)
                        return r;
        }
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

int main(int argc, char **argv)
{
        struct cat_options opts;
        struct session_config config;
        struct session_totals totals = {0};
        struct addrinfo *addresses = NULL;
        struct ev_loop *loop;
        char error[256], host[PROMPT_ANSWER_MAX], port[PROMPT_ANSWER_MAX];
        bool interactive;
        int r;

        if (fill_closed_standard_fds() < 0)
                return EXIT_FAILED;
        if (cat_args_parse(argc, argv, &opts, error, sizeof(error)) < 0) {
                return cli_usage_error("echocat", "%s", error);
        }
        if (opts.action == CAT_HELP) {
                fputs(cat_args_usage, stdout);
                return EXIT_OK;
        }
        if (opts.action == CAT_VERSION)
                return cli_print_version("echocat");
        /* A closed socket or output is an error to report, not a signal to die of. */
        signal(SIGPIPE, SIG_IGN);
        interactive = isatty(STDIN_FILENO);

        r = ask_and_resolve(&opts, interactive, host, sizeof(host), port, sizeof(port), &addresses);
        if (r == -ENODATA) {
                /* Ctrl-D at a prompt: the user left before connecting. */
                fputc('\n', stderr);
                return EXIT_OK;
        }
        if (r < 0)
                return EXIT_FAILED;

        loop = ev_default_loop(EVFLAG_AUTO);
        if (!loop) {
                fprintf(stderr, "echocat: cannot create the event loop\n");
                freeaddrinfo(addresses);
                return EXIT_FAILED;
        }
        config = (struct session_config){
            .udp = opts.udp,
            .timeout = (double)opts.timeout_ns / 1e9,
            .in_fd = STDIN_FILENO,
            .out_fd = STDOUT_FILENO,
            .observe = opts.verbose ? print_event : NULL,
            .observe_arg = opts.udp ? "udp" : "tcp",
        };
        if (interactive)
                r = session_line_run(loop, addresses, &config, &totals);
        else
                r = session_pipe_run(loop, addresses, &config, &totals);
        if (opts.verbose)
                fprintf(stderr, "echocat: %llu bytes sent, %llu bytes received\n",
                        (unsigned long long)totals.sent, (unsigned long long)totals.received);
        if (r < 0)
                report_failure(r, host, port, &totals);
        else if (totals.closed_by_peer)
                fprintf(stderr, "echocat: connection closed by the server\n");
        freeaddrinfo(addresses);
        ev_loop_destroy(loop);
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}
