/*
 * echoscan: an asynchronous TCP connect port scanner. This file is the
 * command line and the terminal; the scan itself is src/scan.c.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "portspec.h"
#include "probe.h"
#include "report.h"
#include "scan.h"
#include "services.h"
#include "target.h"
#include "units.h"

/* Width of the progress bar in cells, and how often it is redrawn. */
#define PROGRESS_WIDTH    30
#define PROGRESS_INTERVAL 0.1

struct options {
        const char *ports;
        unsigned concurrency;
        double timeout;
        unsigned retries;
        bool all;
        bool quiet;
        bool no_uring;
        int family;
        enum report_format format;
};

struct progress {
        ev_timer timer;
        struct scan *scan;
        ev_tstamp start;
        bool drawn;
};

static void usage(FILE *out)
{
        fprintf(
            out,
            "Usage: echoscan [OPTIONS] HOST...\n"
            "TCP connect scan of HOST (a name, an address or a CIDR block).\n"
            "\n"
            "  -p, --ports PORTS      ports to scan: 22,80,1000-2000; - for all (default 1-65535)\n"
            "  -c, --concurrency N    connects in flight at most (default: the open-file limit)\n"
            "  -t, --timeout TIME     time one attempt may take: 500ms, 2s (default 1s)\n"
            "  -r, --retries N        further attempts for ports that timed out (default 1)\n"
            "  -a, --all              report every port: open, closed and filtered\n"
            "  -o, --output FORMAT    plain (default), json or grep\n"
            "  -4, -6                 IPv4 or IPv6 addresses only\n"
            "  -q, --quiet            no progress bar and no summary on stderr\n"
            "      --no-io-uring      one connect() call at a time, even where io_uring works\n"
            "  -h, --help             show this help\n"
            "  -V, --version          show the version\n"
            "\n"
            "Exit status: 0 scan done, 1 a host seems down or the scan failed, 2 usage error.\n");
}


/* "500ms", "2s", "1.5" (seconds), from 1 ms to an hour. Returns 0 or -EINVAL. */
static int parse_duration(const char *text, double *seconds)
{
        uint64_t ns;

        if (units_parse_duration(text, &ns) < 0 || ns < 1000000 || ns > 3600 * 1000000000ull)
                return -EINVAL;
        *seconds = (double)ns / 1e9;
        return 0;
}

static int parse_count(const char *text, unsigned max, unsigned *out)
{
        unsigned long value;

        if (units_parse_uint(text, 0, max, &value) < 0)
                return -EINVAL;
        *out = (unsigned)value;
        return 0;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
        static const struct option longopts[] = {
            {"ports", required_argument, NULL, 'p'},
            {"concurrency", required_argument, NULL, 'c'},
            {"timeout", required_argument, NULL, 't'},
            {"retries", required_argument, NULL, 'r'},
            {"all", no_argument, NULL, 'a'},
            {"output", required_argument, NULL, 'o'},
            {"quiet", no_argument, NULL, 'q'},
            {"no-io-uring", no_argument, NULL, 'U'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {NULL, 0, NULL, 0},
        };
        int c;

        while ((c = getopt_long(argc, argv, "p:c:t:r:ao:q46hV", longopts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        opt->ports = optarg;
                        break;
                case 'c':
                        if (parse_count(optarg, 1u << 20, &opt->concurrency) < 0 ||
                            opt->concurrency == 0)
                                return cli_usage_error("echoscan", "bad concurrency '%s': want 1-1048576", optarg);
                        break;
                case 't':
                        if (parse_duration(optarg, &opt->timeout) < 0)
                                return cli_usage_error("echoscan", "bad timeout '%s': want e.g. 500ms or 2s",
                                                   optarg);
                        break;
                case 'r':
                        if (parse_count(optarg, SCAN_MAX_RETRIES, &opt->retries) < 0)
                                return cli_usage_error("echoscan", "bad retries '%s': want 0-15", optarg);
                        break;
                case 'a':
                        opt->all = true;
                        break;
                case 'o':
                        if (report_format_parse(optarg, &opt->format) < 0)
                                return cli_usage_error("echoscan", "bad output format '%s': want plain, json "
                                                   "or grep",
                                                   optarg);
                        break;
                case 'q':
                        opt->quiet = true;
                        break;
                case 'U':
                        opt->no_uring = true;
                        break;
                case '4':
                        opt->family = AF_INET;
                        break;
                case '6':
                        opt->family = AF_INET6;
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_OK);
                case 'V':
                        exit(cli_print_version("echoscan"));
                default:
                        fprintf(stderr, "Try 'echoscan --help'.\n");
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc)
                return cli_usage_error("echoscan", "%s", "no host given");
        return 0;
}

static int parse_ports(const char *text, struct portspec *spec)
{
        struct portspec_error err;

        if (portspec_parse(spec, text, &err) == 0)
                return 0;
        fprintf(stderr, "echoscan: bad port list '%s': %s", text, err.reason);
        if (err.length > 0)
                fprintf(stderr, " ('%.*s')", (int)err.length, text + err.offset);
        fprintf(stderr, "\nTry 'echoscan --help'.\n");
        return EXIT_USAGE;
}

static int add_targets(struct target_list *list, char **hosts, int count, int family)
{
        for (int i = 0; i < count; i++) {
                int r = target_add(list, hosts[i], family);

                if (r == 0)
                        continue;
                if (r == -ENOENT)
                        fprintf(stderr, "echoscan: %s: no such host%s\n", hosts[i],
                                family == AF_INET    ? " (IPv4)"
                                : family == AF_INET6 ? " (IPv6)"
                                                     : "");
                else if (r == -EAGAIN)
                        fprintf(stderr, "echoscan: %s: temporary resolver failure\n", hosts[i]);
                else if (r == -E2BIG)
                        fprintf(stderr,
                                "echoscan: %s: block too large (at most /16 for IPv4, /112 for "
                                "IPv6)\n",
                                hosts[i]);
                else if (r == -EAFNOSUPPORT)
                        fprintf(stderr, "echoscan: %s: not an %s block, as %s asks\n", hosts[i],
                                family == AF_INET ? "IPv4" : "IPv6",
                                family == AF_INET ? "-4" : "-6");
                else if (r == -EDESTADDRREQ)
                        fprintf(stderr,
                                "echoscan: %s: a link-local address needs a zone, as in "
                                "fe80::1%%eth0\n",
                                hosts[i]);
                else if (r == -ENODEV)
                        fprintf(stderr, "echoscan: %s: no such interface\n", hosts[i]);
                else if (r == -EINVAL)
                        fprintf(stderr, "echoscan: %s: not a host or a CIDR block\n", hosts[i]);
                else
                        fprintf(stderr, "echoscan: %s: %s\n", hosts[i], strerror(-r));
                return r == -EAGAIN || r == -ENOMEM || r == -EIO ? EXIT_FAILED : EXIT_USAGE;
        }
        return 0;
}

static void progress_clear(struct progress *p)
{
        if (p->drawn)
                fputs("\r\033[K", stderr);
        p->drawn = false;
}

static void on_progress(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct progress *p = (struct progress *)w;
        char line[128];
        uint64_t done, total;

        (void)revents;
        ev_now_update(loop);
        scan_progress(p->scan, &done, &total);
        if (report_progress(line, sizeof(line), done, total, ev_now(loop) - p->start,
                            PROGRESS_WIDTH) > 0) {
                fprintf(stderr, "\r%s\033[K", line);
                p->drawn = true;
        }
}

static struct progress *interrupted_progress;

static void on_interrupt(struct ev_loop *loop, ev_signal *w, int revents)
{
        (void)loop;
        (void)revents;
        /* Leave the terminal clean, then die of the signal as expected. */
        if (interrupted_progress)
                progress_clear(interrupted_progress);
        signal(w->signum, SIG_DFL);
        raise(w->signum);
}

/* Run the scan; returns 0 or the -errno that stopped it. */
static int run(struct ev_loop *loop, struct scan *scan, bool show_progress, double *elapsed)
{
        struct progress progress = {.scan = scan, .start = ev_time()};
        ev_signal sigint;
        int r;

        ev_timer_init(&progress.timer, on_progress, PROGRESS_INTERVAL, PROGRESS_INTERVAL);
        ev_signal_init(&sigint, on_interrupt, SIGINT);
        interrupted_progress = &progress;
        ev_signal_start(loop, &sigint);
        /* Neither watcher keeps the loop alive: it ends with the scan. */
        ev_unref(loop);
        if (show_progress) {
                ev_timer_start(loop, &progress.timer);
                ev_unref(loop);
        }
        scan_start(scan);
        ev_run(loop, 0);
        r = scan_error(scan);
        if (show_progress) {
                ev_ref(loop);
                ev_timer_stop(loop, &progress.timer);
        }
        ev_ref(loop);
        ev_signal_stop(loop, &sigint);
        interrupted_progress = NULL;
        progress_clear(&progress);
        *elapsed = ev_time() - progress.start;
        return r;
}

int main(int argc, char **argv)
{
        struct options opt = {.ports = "1-65535", .timeout = 1.0, .retries = 1};
        struct target_list targets = {0};
        struct services db = {0};
        struct report_host *hosts = NULL;
        struct report_counts counts = {0};
        struct portspec *spec = NULL;
        struct scan *scan = NULL;
        struct ev_loop *loop;
        uint16_t *ports = NULL;
        unsigned budget = 1;
        char(*addresses)[ADDR_HOST_MAX] = NULL;
        double elapsed = 0;
        int status, r;
        bool any_down = false;

        status = parse_options(argc, argv, &opt);
        if (status)
                return status;
        spec = malloc(sizeof(*spec));
        if (!spec) {
                fprintf(stderr, "echoscan: out of memory\n");
                return EXIT_FAILED;
        }
        status = parse_ports(opt.ports, spec);
        if (status)
                goto out;
        status = add_targets(&targets, argv + optind, argc - optind, opt.family);
        if (status)
                goto out;
        status = EXIT_FAILED;
        ports = calloc(spec->count, sizeof(*ports));
        hosts = calloc(targets.count, sizeof(*hosts));
        addresses = calloc(targets.count, sizeof(*addresses));
        if (!ports || !hosts || !addresses) {
                fprintf(stderr, "echoscan: out of memory\n");
                goto out;
        }
        portspec_list(spec, ports);

        /* Without a services file every port is "unknown", which is no reason to stop. */
        (void)services_load(&db, SERVICES_PATH);
        if (probe_fd_budget(&budget) < 0)
                budget = 256;
        if (opt.concurrency == 0) {
                opt.concurrency = budget;
        } else if (opt.concurrency > budget) {
                fprintf(stderr,
                        "echoscan: -c %u is above the open-file limit; %u connects at most\n",
                        opt.concurrency, budget);
                opt.concurrency = budget;
        }

        loop = ev_default_loop(EVFLAG_AUTO);
        if (!loop) {
                fprintf(stderr, "echoscan: cannot create the event loop\n");
                goto out;
        }
        r = scan_new(&scan, loop, targets.items, targets.count, ports, spec->count,
                     &(struct scan_options){.concurrency = opt.concurrency,
                                            .timeout = opt.timeout,
                                            .retries = opt.retries,
                                            .no_uring = opt.no_uring});
        if (r < 0) {
                fprintf(stderr, "echoscan: %s\n",
                        r == -E2BIG ? "too many host and port pairs" : strerror(-r));
                status = r == -E2BIG ? EXIT_USAGE : EXIT_FAILED;
                goto out;
        }
        r = run(loop, scan, !opt.quiet && isatty(STDERR_FILENO), &elapsed);
        if (r < 0) {
                fprintf(stderr, "echoscan: scan failed: %s\n", strerror(-r));
                goto out;
        }

        for (size_t h = 0; h < targets.count; h++) {
                struct report_counts host_counts = {0};

                addr_host((struct sockaddr *)&targets.items[h].sa, addresses[h],
                          sizeof(addresses[h]));
                hosts[h] = (struct report_host){.name = targets.items[h].name,
                                                .address = addresses[h],
                                                .ports = ports,
                                                .states = scan_states(scan, h),
                                                .nports = spec->count};
                report_count(&hosts[h], &host_counts);
                if (report_host_down(&host_counts)) {
                        fprintf(stderr,
                                "echoscan: %s (%s): host seems down: no answer on any of %zu "
                                "port%s\n",
                                hosts[h].name, addresses[h], hosts[h].nports,
                                hosts[h].nports == 1 ? "" : "s");
                        any_down = true;
                }
                counts.open += host_counts.open;
                counts.closed += host_counts.closed;
                counts.filtered += host_counts.filtered;
        }
        if (report_write(stdout, opt.format, hosts, targets.count, opt.all, &db) < 0) {
                fprintf(stderr, "echoscan: writing the results failed\n");
                goto out;
        }
        if (!opt.quiet) {
                char line[256];

                if (report_summary(line, sizeof(line), &counts, targets.count,
                                   (uint64_t)targets.count * spec->count, elapsed) > 0)
                        fprintf(stderr, "echoscan: %s\n", line);
        }
        status = any_down ? EXIT_FAILED : EXIT_OK;
out:
        scan_free(scan);
        services_fini(&db);
        target_list_fini(&targets);
        free(addresses);
        free(hosts);
        free(ports);
        free(spec);
        return status;
}
