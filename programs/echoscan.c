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
#include "report_nmap.h"
#include "scan_args.h"
#include "scan.h"
#include "services.h"
#include "target.h"
#include "units.h"
#include "version.h"

/* Width of the progress bar in cells, and how often it is redrawn. */
#define PROGRESS_WIDTH    30
#define PROGRESS_INTERVAL 0.1

struct progress {
        ev_timer timer;
        struct scan *scan;
        ev_tstamp start;
        bool drawn;
};

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

/* Add (or with exclude, take out) the targets host names; print the one error line. */
static int add_target(struct target_list *list, const char *host, int family, bool exclude)
{
        int r = exclude ? target_exclude(list, host, family) : target_add(list, host, family);

        if (r >= 0)
                return 0;
        if (r == -ENOENT)
                fprintf(stderr, "echoscan: %s: no such host%s\n", host,
                        family == AF_INET    ? " (IPv4)"
                        : family == AF_INET6 ? " (IPv6)"
                                             : "");
        else if (r == -EAGAIN)
                fprintf(stderr, "echoscan: %s: temporary resolver failure\n", host);
        else if (r == -E2BIG)
                fprintf(stderr,
                        "echoscan: %s: block too large (at most /16 for IPv4, /112 for IPv6)\n",
                        host);
        else if (r == -EAFNOSUPPORT)
                fprintf(stderr, "echoscan: %s: not an %s block, as %s asks\n", host,
                        family == AF_INET ? "IPv4" : "IPv6", family == AF_INET ? "-4" : "-6");
        else if (r == -EDESTADDRREQ)
                fprintf(stderr,
                        "echoscan: %s: a link-local address needs a zone, as in fe80::1%%eth0\n",
                        host);
        else if (r == -ENODEV)
                fprintf(stderr, "echoscan: %s: no such interface\n", host);
        else if (r == -EINVAL)
                fprintf(stderr, "echoscan: %s: not a host or a CIDR block\n", host);
        else
                fprintf(stderr, "echoscan: %s: %s\n", host, strerror(-r));
        return r == -EAGAIN || r == -ENOMEM || r == -EIO ? EXIT_FAILED : EXIT_USAGE;
}

/* Add the hosts of an -iL file: words separated by blanks, "#" to the end of a line is a comment.
 */
static int add_input_list(struct target_list *list, const char *path, int family)
{
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
        char line[1024];
        int status = 0;

        if (!f) {
                fprintf(stderr, "echoscan: -iL %s: %s\n", path, strerror(errno));
                return EXIT_USAGE;
        }
        while (status == 0 && fgets(line, sizeof(line), f)) {
                char *save = NULL;

                line[strcspn(line, "#")] = '\0';
                for (char *word = strtok_r(line, " \t\r\n", &save); word && status == 0;
                     word = strtok_r(NULL, " \t\r\n", &save))
                        status = add_target(list, word, family, false);
        }
        if (f != stdin)
                fclose(f);
        return status;
}

static int build_targets(struct target_list *list, const struct scan_args *args)
{
        int status = 0;

        for (size_t i = 0; i < args->nhosts && status == 0; i++)
                status = add_target(list, args->hosts[i], args->family, false);
        for (size_t i = 0; i < args->ninput_lists && status == 0; i++)
                status = add_input_list(list, args->input_lists[i], args->family);
        for (size_t i = 0; i < args->nexcludes && status == 0; i++) {
                char *copy = strdup(args->excludes[i]), *save = NULL;

                if (!copy)
                        return EXIT_FAILED;
                for (char *item = strtok_r(copy, ",", &save); item && status == 0;
                     item = strtok_r(NULL, ",", &save))
                        status = add_target(list, item, args->family, true);
                free(copy);
        }
        if (status == 0 && list->count == 0)
                return cli_usage_error("echoscan", "%s", "no host left to scan");
        return status;
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

/* What the signal and open-port callbacks need: the scan, the bar to erase, the targets. */
struct run_state {
        struct progress progress;
        struct scan *scan;
        const struct target_list *targets;
        int signal; /* the signal that interrupted the scan, or 0 */
};

static void on_interrupt(struct ev_loop *loop, ev_signal *w, int revents)
{
        struct run_state *state = w->data;

        (void)loop;
        (void)revents;
        /* Stop; the results so far are reported. A second signal kills as usual. */
        state->signal = w->signum;
        signal(w->signum, SIG_DFL);
        scan_interrupt(state->scan);
}

/* -v: each open port as it is found, on stderr (standard output stays the results). */
static void on_open(void *data, size_t host, uint16_t port)
{
        struct run_state *state = data;
        char address[ADDR_HOST_MAX];

        progress_clear(&state->progress);
        addr_host((const struct sockaddr *)&state->targets->items[host].sa, address,
                  sizeof(address));
        fprintf(stderr, "Discovered open port %u/tcp on %s\n", port, address);
}

/* Run the scan; returns 0 or the -errno that stopped it. */
static int run(struct ev_loop *loop, struct run_state *state, bool show_progress, double *elapsed)
{
        struct progress *progress = &state->progress;
        ev_signal sigint, sigterm;
        int r;

        progress->scan = state->scan;
        progress->start = ev_time();
        ev_timer_init(&progress->timer, on_progress, PROGRESS_INTERVAL, PROGRESS_INTERVAL);
        ev_signal_init(&sigint, on_interrupt, SIGINT);
        ev_signal_init(&sigterm, on_interrupt, SIGTERM);
        sigint.data = sigterm.data = state;
        ev_signal_start(loop, &sigint);
        ev_signal_start(loop, &sigterm);
        /* Neither watcher keeps the loop alive: it ends with the scan. */
        ev_unref(loop);
        ev_unref(loop);
        if (show_progress) {
                ev_timer_start(loop, &progress->timer);
                ev_unref(loop);
        }
        scan_start(state->scan);
        ev_run(loop, 0);
        r = scan_error(state->scan);
        if (show_progress) {
                ev_ref(loop);
                ev_timer_stop(loop, &progress->timer);
        }
        ev_ref(loop);
        ev_ref(loop);
        ev_signal_stop(loop, &sigint);
        ev_signal_stop(loop, &sigterm);
        progress_clear(progress);
        *elapsed = ev_time() - progress->start;
        return r;
}

/* The command line as nmap records it: the words joined by blanks, the program named echoscan. */
static char *join_args(int argc, char **argv)
{
        size_t size = strlen("echoscan") + 1;
        char *text;

        for (int i = 1; i < argc; i++)
                size += strlen(argv[i]) + 1;
        text = malloc(size);
        if (!text)
                return NULL;
        strcpy(text, "echoscan");
        for (int i = 1; i < argc; i++) {
                strcat(text, " ");
                strcat(text, argv[i]);
        }
        return text;
}

/* The port list: -p, --top-ports, or all. Returns 0 or an exit status. */
static int choose_ports(const struct scan_args *args, const struct services *db,
                        struct portspec *spec)
{
        if (args->top_ports) {
                uint16_t *top = calloc(args->top_ports, sizeof(*top));
                size_t n;

                if (!top) {
                        fprintf(stderr, "echoscan: out of memory\n");
                        return EXIT_FAILED;
                }
                memset(spec, 0, sizeof(*spec));
                n = services_top_ports(db, args->top_ports, top);
                for (size_t i = 0; i < n; i++)
                        portspec_add_range(spec, top[i], top[i]);
                free(top);
                return 0;
        }
        return parse_ports(args->ports ? args->ports : "1-65535", spec);
}

/* Write every -oN/-oX/-oG file. Returns 0 or EXIT_FAILED. */
static int write_files(const struct scan_args *args, const struct report_run *run,
                       const struct report_host *hosts, size_t nhosts, const struct services *db)
{
        int status = 0;

        for (size_t i = 0; i < args->nfiles; i++) {
                const char *path = args->files[i].path;
                bool to_stdout = strcmp(path, "-") == 0;
                FILE *f = to_stdout ? stdout : fopen(path, "we");

                if (!f) {
                        fprintf(stderr, "echoscan: cannot write %s: %s\n", path, strerror(errno));
                        status = EXIT_FAILED;
                        continue;
                }
                if (report_nmap_write(f, args->files[i].format, run, hosts, nhosts, db) < 0 ||
                    (!to_stdout && fclose(f) != 0)) {
                        fprintf(stderr, "echoscan: writing %s failed\n", path);
                        status = EXIT_FAILED;
                }
        }
        return status;
}

static bool file_to_stdout(const struct scan_args *args)
{
        for (size_t i = 0; i < args->nfiles; i++) {
                if (strcmp(args->files[i].path, "-") == 0)
                        return true;
        }
        return false;
}

int main(int argc, char **argv)
{
        struct scan_args args;
        struct target_list targets = {0};
        struct services db = {0};
        struct report_host *hosts = NULL;
        struct report_counts counts = {0};
        struct report_run report_run = {.version = ECHOD_VERSION};
        struct run_state state = {0};
        struct portspec *spec = NULL;
        struct scan *scan = NULL;
        struct ev_loop *loop;
        uint16_t *ports = NULL;
        unsigned budget = 1;
        char(*addresses)[ADDR_HOST_MAX] = NULL;
        char *joined = join_args(argc, argv);
        char error[256];
        double elapsed = 0;
        int status, r;
        bool any_down = false;

        if (scan_args_parse(argc, argv, &args, error, sizeof(error)) < 0) {
                free(joined);
                return cli_usage_error("echoscan", "%s", error);
        }
        if (args.action == SCAN_ACTION_HELP) {
                fputs(scan_args_usage, stdout);
                status = EXIT_OK;
                goto out;
        }
        if (args.action == SCAN_ACTION_VERSION) {
                status = cli_print_version("echoscan");
                goto out;
        }
        status = EXIT_FAILED;
        spec = malloc(sizeof(*spec));
        if (!spec || !joined) {
                fprintf(stderr, "echoscan: out of memory\n");
                goto out;
        }
        /* Without a services file every port is "unknown", which is no reason to stop. */
        (void)services_load_default(&db);
        status = choose_ports(&args, &db, spec);
        if (status)
                goto out;
        status = build_targets(&targets, &args);
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

        if (probe_fd_budget(&budget) < 0)
                budget = 256;
        if (args.concurrency == 0) {
                args.concurrency = budget;
        } else if (args.concurrency > budget) {
                fprintf(stderr,
                        "echoscan: -c %u is above the open-file limit; %u connects at most\n",
                        args.concurrency, budget);
                args.concurrency = budget;
        }
        if (args.min_rate > 0) {
                /* Enough in flight for the rate even if every attempt runs into its timeout. */
                double needed = ceil(args.min_rate * args.timeout);

                if (needed > budget)
                        fprintf(
                            stderr,
                            "echoscan: --min-rate %g needs %.0f connects in flight; the open-file "
                            "limit allows %u\n",
                            args.min_rate, needed, budget);
                if (needed > args.concurrency)
                        args.concurrency = needed > budget ? budget : (unsigned)needed;
        }

        loop = ev_default_loop(EVFLAG_AUTO);
        if (!loop) {
                fprintf(stderr, "echoscan: cannot create the event loop\n");
                goto out;
        }
        state.targets = &targets;
        r = scan_new(&scan, loop, targets.items, targets.count, ports, spec->count,
                     &(struct scan_options){.concurrency = args.concurrency,
                                            .timeout = args.timeout,
                                            .retries = args.retries,
                                            .no_uring = args.no_uring,
                                            .max_rate = args.max_rate,
                                            .on_open = args.verbose ? on_open : NULL,
                                            .data = &state});
        if (r < 0) {
                fprintf(stderr, "echoscan: %s\n",
                        r == -E2BIG ? "too many host and port pairs" : strerror(-r));
                status = r == -E2BIG ? EXIT_USAGE : EXIT_FAILED;
                goto out;
        }
        state.scan = scan;
        report_run.start = ev_time();
        r = run(loop, &state, !args.quiet && isatty(STDERR_FILENO), &elapsed);
        report_run.end = ev_time();
        if (r < 0) {
                fprintf(stderr, "echoscan: scan failed: %s\n", strerror(-r));
                goto out;
        }
        report_run.args = joined;
        report_run.interrupted = state.signal != 0;
        report_run.verbose = args.verbose;
        report_run.open_only = args.open_only;
        report_run.all = args.all && !args.open_only;

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
                if (report_host_down(&host_counts) && !report_run.interrupted) {
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
        status = write_files(&args, &report_run, hosts, targets.count, &db);
        if (!file_to_stdout(&args) && report_write(stdout, args.format, hosts, targets.count,
                                                   report_run.all, &db, &report_run) < 0) {
                fprintf(stderr, "echoscan: writing the results failed\n");
                status = EXIT_FAILED;
                goto out;
        }
        if (!args.quiet) {
                char line[256];
                uint64_t scanned = counts.open + counts.closed + counts.filtered;

                if (report_summary(line, sizeof(line), &counts, targets.count, scanned, elapsed) >
                    0)
                        fprintf(stderr, "echoscan: %s%s\n", line,
                                report_run.interrupted ? " (interrupted)" : "");
        }
        if (report_run.interrupted)
                status = EXIT_INTERRUPTED;
        else if (status == 0)
                status = any_down ? EXIT_FAILED : EXIT_OK;
out:
        scan_free(scan);
        services_fini(&db);
        target_list_fini(&targets);
        scan_args_fini(&args);
        free(joined);
        free(addresses);
        free(hosts);
        free(ports);
        free(spec);
        return status;
}
