#include "cat_args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "cli.h"
#include "prompt.h"
#include "units.h"

/* Long options without a letter. */
enum {
        CAT_OPTION_CHAT = 256,
        CAT_OPTION_NO_TOKEN,
};

const char cat_args_usage[] =
    "Usage: echocat [OPTIONS] [HOST [PORT]]\n"
    "Send lines (on a terminal) or standard input (piped) to an echo server and\n"
    "print what comes back. On a terminal, a missing HOST or PORT is asked for.\n"
    "\n"
    "  -u, --udp            use UDP datagrams instead of TCP\n"
    "  -4, -6               use IPv4 or IPv6 only\n"
    "  -w, --timeout TIME   connect timeout, and the longest wait for an echo\n"
    "                       (default 10s; 0 waits for ever)\n"
    "  -z                   only report whether the port is open (exit 0) or not (1)\n"
    "  -s, --source ADDR    connect from this local address\n"
    "  -p, --source-port PORT  connect from this local port\n"
    "  -q SECONDS           piped: after end of input, quit at the latest this much\n"
    "                       later, whether or not every byte came back\n"
    "  -v, --verbose        print every event on standard error, and a summary\n"
    "      --chat           be a chat client (echod's chat; default port 7070);\n"
    "                       keeps the session token under $XDG_CONFIG_HOME/echocat/\n"
    "      --no-token       with --chat: neither use nor keep a session token\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "\n"
    "Defaults: host " CAT_DEFAULT_HOST ", port " CAT_DEFAULT_PORT ".\n"
    "\n" CLI_EXIT_STATUS_HELP;

int cat_args_parse(int argc, char **argv, struct cat_options *opts, char *error, size_t error_size)
{
        static const struct option longopts[] = {
            {"udp", no_argument, NULL, 'u'},
            {"timeout", required_argument, NULL, 'w'},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {"chat", no_argument, NULL, CAT_OPTION_CHAT},
            {"no-token", no_argument, NULL, CAT_OPTION_NO_TOKEN},
            {"version", no_argument, NULL, 'V'},
            {"source", required_argument, NULL, 's'},
            {"source-port", required_argument, NULL, 'p'},
            {NULL, 0, NULL, 0},
        };
        uint16_t port;
        int c, r;

        memset(opts, 0, sizeof(*opts));
        opts->action = CLI_RUN;
        opts->family = AF_UNSPEC;
        opts->timeout_ns = CAT_DEFAULT_TIMEOUT_NS;
        opts->quit_after_eof = -1;

        /* getopt keeps state between calls; 0 makes glibc start afresh. */
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":uw:v46hVzs:p:q:", longopts, NULL)) != -1) {
                switch (c) {
                case 'u':
                        opts->udp = true;
                        break;
                case 'w':
                        if (units_parse_duration(optarg, &opts->timeout_ns) < 0) {
                                snprintf(error, error_size,
                                         "timeout must be a time such as 5, 5s or 500ms, not '%s'",
                                         optarg);
                                return -EINVAL;
                        }
                        break;
                case 'v':
                        opts->verbose = true;
                        break;
                case 'z':
                        opts->zero_io = true;
                        break;
                case 's':
                        if (optarg[0] == '\0') {
                                snprintf(error, error_size, "the source address is empty");
                                return -EINVAL;
                        }
                        opts->source_host = optarg;
                        break;
                case 'p':
                        if (addr_parse_port(optarg, &port) < 0 || port == 0) {
                                snprintf(error, error_size,
                                         "source port must be a number from 1 to 65535, not '%s'",
                                         optarg);
                                return -EINVAL;
                        }
                        opts->source_port = port;
                        break;
                case 'q':
                        /* As netcat-openbsd: seconds; a negative number waits for ever. */
                        if (units_parse_double(optarg, -1e9, 1e9, &opts->quit_after_eof) < 0) {
                                snprintf(error, error_size,
                                         "-q wants seconds, such as 0, 1 or 2.5, not '%s'", optarg);
                                return -EINVAL;
                        }
                        if (opts->quit_after_eof < 0)
                                opts->quit_after_eof = -1;
                        break;
                case CAT_OPTION_CHAT:
                        opts->chat = true;
                        break;
                case CAT_OPTION_NO_TOKEN:
                        opts->no_token = true;
                        break;
                default:
                        /* -4, -6, -h, -V, and what no tool takes. */
                        r = cli_common_option(c, argv, &opts->family, &opts->action, error,
                                              error_size);
                        if (r != 0)
                                return r < 0 ? r : 0;
                        break;
                }
        }
        if (opts->chat && opts->udp) {
                snprintf(error, error_size, "--chat runs over TCP; it cannot go with --udp");
                return -EINVAL;
        }
        if (opts->chat && (opts->zero_io || opts->quit_after_eof >= 0)) {
                snprintf(error, error_size, "--chat cannot go with -z or -q");
                return -EINVAL;
        }
        if (opts->no_token && !opts->chat) {
                snprintf(error, error_size, "--no-token goes with --chat");
                return -EINVAL;
        }
        if (argc - optind > 2) {
                snprintf(error, error_size, "too many arguments: expected [HOST [PORT]]");
                return -EINVAL;
        }
        if (optind < argc)
                opts->host = argv[optind];
        if (optind + 1 < argc)
                opts->port = argv[optind + 1];
        if (opts->host && opts->host[0] == '\0') {
                snprintf(error, error_size, "the host is empty");
                return -EINVAL;
        }
        if (opts->host && !prompt_check_host_not_number(opts->host, error, error_size))
                return -EINVAL;
        if (opts->port && (addr_parse_port(opts->port, &port) < 0 || port == 0)) {
                snprintf(error, error_size, "port must be a number from 1 to 65535, not '%s'",
                         opts->port);
                return -EINVAL;
        }
        return 0;
}
