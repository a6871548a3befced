#include "bench_args.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "cli.h"
#include "units.h"

const char bench_args_usage[] =
    "Usage: echobench [OPTIONS] HOST PORT\n"
    "Load generator for RFC 862 echo servers: closed loop by default, open loop with --rate.\n"
    "\n"
    "  -c, --connections N   connections to keep busy (default 10)\n"
    "  -s, --size BYTES      message size, e.g. 64, 1k, 64KiB (default 1k)\n"
    "  -d, --duration TIME   how long to measure, e.g. 10, 10s, 500ms (default 10s)\n"
    "  -R, --rate R          open loop: R requests per second over all connections, latency\n"
    "                        from each request's intended send time (as wrk2)\n"
    "      --pipeline N      messages in flight per connection at most (default 1)\n"
    "  -t, --threads N       threads, each with its own event loop (default 1)\n"
    "  -u, --udp             send datagrams instead of a TCP stream\n"
    "  -4, -6                use IPv4 or IPv6 only\n"
    "      --timeout TIME    connect timeout; UDP datagrams unanswered this long are lost\n"
    "                        (default 5s)\n"
    "      --latency         print the latency distribution (p50 to p99.999, mean, stdev)\n"
    "      --json            print the results as one JSON object (everything)\n"
    "  -h, --help            show this help\n"
    "  -V, --version         show the version\n"
    "\n"
    "On a terminal a progress line is updated once a second on stderr. Ctrl-C ends the\n"
    "run early: the report covers what ran, and the exit status is 130.\n"
    "\n" CLI_EXIT_STATUS_HELP;

static int parse_count(const char *text, const char *what, unsigned long max, unsigned *out,
                       char *error, size_t error_size)
{
        unsigned long value;

        if (units_parse_uint(text, 1, max, &value) < 0)
                return cli_error(error, error_size,
                                 "%s must be a whole number from 1 to %lu, not '%s'", what, max,
                                 text);
        *out = (unsigned)value;
        return 0;
}

int bench_args_parse(int argc, char **argv, struct bench_options *opts, char *error,
                     size_t error_size)
{
        enum { OPT_JSON = 256, OPT_TIMEOUT, OPT_PIPELINE, OPT_LATENCY };
        static const struct option longopts[] = {
            {"connections", required_argument, NULL, 'c'},
            {"size", required_argument, NULL, 's'},
            {"duration", required_argument, NULL, 'd'},
            {"pipeline", required_argument, NULL, OPT_PIPELINE},
            {"rate", required_argument, NULL, 'R'},
            {"latency", no_argument, NULL, OPT_LATENCY},
            {"threads", required_argument, NULL, 't'},
            {"udp", no_argument, NULL, 'u'},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {"json", no_argument, NULL, OPT_JSON},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {NULL, 0, NULL, 0},
        };
        uint64_t size;
        uint16_t port;
        int c, r;

        memset(opts, 0, sizeof(*opts));
        opts->action = CLI_RUN;
        opts->connections = 10;
        opts->message_size = 1024;
        opts->duration_ns = 10000000000ull;
        opts->pipeline = 1;
        opts->threads = 1;
        opts->timeout_ns = 5000000000ull;
        opts->family = AF_UNSPEC;

        /* getopt keeps state between calls; 0 makes glibc start afresh. */
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:s:d:R:t:u46hV", longopts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        r = parse_count(optarg, "connections", BENCH_MAX_CONNECTIONS,
                                        &opts->connections, error, error_size);
                        if (r < 0)
                                return r;
                        break;
                case 's':
                        if (units_parse_size(optarg, &size) < 0 || size == 0 ||
                            size > BENCH_MAX_SIZE)
                                return cli_error(
                                    error, error_size,
                                    "message size must be from 1 byte to 16MiB, not '%s'", optarg);
                        opts->message_size = (size_t)size;
                        break;
                case 'd':
                        if (units_parse_duration(optarg, &opts->duration_ns) < 0 ||
                            opts->duration_ns == 0)
                                return cli_error(error, error_size,
                                                 "duration must be a positive time such as 10s or "
                                                 "500ms, not '%s'",
                                                 optarg);
                        break;
                case 'R':
                        if (units_parse_double(optarg, 0, BENCH_MAX_RATE, &opts->rate) < 0 ||
                            opts->rate <= 0)
                                return cli_error(
                                    error, error_size,
                                    "rate must be requests per second above 0, not '%s'", optarg);
                        break;
                case OPT_LATENCY:
                        opts->latency = true;
                        break;
                case OPT_PIPELINE:
                        r = parse_count(optarg, "pipeline", BENCH_MAX_PIPELINE, &opts->pipeline,
                                        error, error_size);
                        if (r < 0)
                                return r;
                        break;
                case 't':
                        r = parse_count(optarg, "threads", BENCH_MAX_THREADS, &opts->threads, error,
                                        error_size);
                        if (r < 0)
                                return r;
                        break;
                case 'u':
                        opts->udp = true;
                        break;
                case OPT_TIMEOUT:
                        if (units_parse_duration(optarg, &opts->timeout_ns) < 0 ||
                            opts->timeout_ns == 0)
                                return cli_error(error, error_size,
                                                 "timeout must be a positive time, not '%s'",
                                                 optarg);
                        break;
                case OPT_JSON:
                        opts->json = true;
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
        if (argc - optind != 2)
                return cli_error(error, error_size, "expected HOST and PORT, got %d argument%s",
                                 argc - optind, argc - optind == 1 ? "" : "s");
        opts->host = argv[optind];
        opts->port = argv[optind + 1];
        if (addr_parse_port(opts->port, &port) < 0 || port == 0)
                return cli_error(error, error_size,
                                 "port must be a number from 1 to 65535, not '%s'", opts->port);
        if (opts->udp &&
            (opts->message_size < BENCH_MIN_UDP_SIZE || opts->message_size > BENCH_MAX_UDP_SIZE))
                return cli_error(error, error_size, "UDP message size must be from %u to %u bytes",
                                 BENCH_MIN_UDP_SIZE, BENCH_MAX_UDP_SIZE);
        if (opts->udp && opts->rate > 0)
                return cli_error(error, error_size, "--rate works over TCP only (for now)");
        if (opts->threads > opts->connections)
                opts->threads = opts->connections;
        return 0;
}
