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

const char cat_args_usage[] =
    "Usage: echocat [OPTIONS] [HOST [PORT]]\n"
    "Send lines (on a terminal) or standard input (piped) to an echo server and\n"
    "print what comes back. On a terminal, a missing HOST or PORT is asked for.\n"
    "\n"
    "  -u, --udp            use UDP datagrams instead of TCP\n"
    "  -4, -6               use IPv4 or IPv6 only\n"
    "  -w, --timeout TIME   connect timeout, and the longest wait for an echo\n"
    "                       (default 10s; 0 waits for ever)\n"
    "  -v, --verbose        print every event on standard error\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "\n"
    "Defaults: host " CAT_DEFAULT_HOST ", port " CAT_DEFAULT_PORT ".\n"
    "\n" CLI_EXIT_STATUS_HELP;

int cat_args_parse(int argc, char **argv, struct cat_options *opts, char *error, size_t error_size)
{
        static const struct option longopts[] = {
            {"udp", no_argument, NULL, 'u'},     {"timeout", required_argument, NULL, 'w'},
            {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
        };
        uint16_t port;
        int c;

        memset(opts, 0, sizeof(*opts));
        opts->action = CAT_RUN;
        opts->family = AF_UNSPEC;
        opts->timeout_ns = CAT_DEFAULT_TIMEOUT_NS;

        /* getopt keeps state between calls; 0 makes glibc start afresh. */
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":uw:v46hV", longopts, NULL)) != -1) {
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
                case '4':
                        opts->family = AF_INET;
                        break;
                case '6':
                        opts->family = AF_INET6;
                        break;
                case 'h':
                        opts->action = CAT_HELP;
                        return 0;
                case 'V':
                        opts->action = CAT_VERSION;
                        return 0;
                case ':':
                        snprintf(error, error_size, "option '%s' needs a value", argv[optind - 1]);
                        return -EINVAL;
                default:
                        if (optopt)
                                snprintf(error, error_size, "unknown option '-%c'", optopt);
                        else
                                snprintf(error, error_size, "unknown option '%s'",
                                         argv[optind - 1]);
                        return -EINVAL;
                }
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
