/*
 * echobench: a closed-loop load generator for RFC 862 echo servers. The work
 * is in src/bench.c; this file parses the command line, splits connections
 * over threads (each with its own event loop), and reports.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "addr.h"
#include "bench.h"
#include "bench_args.h"
#include "bench_report.h"
#include "cli.h"
#include "resolve.h"

struct thread_job {
        pthread_t thread;
        struct bench_worker_config config;
        struct bench_stats stats;
        int result;
};

static pthread_barrier_t start_barrier;
/* Set by the first SIGINT or SIGTERM: the workers stop and the report is printed. */
static atomic_int stop_requested;
/* Requests completed so far over every worker, for the progress line. */
static atomic_ullong requests_so_far;

static void on_stop_signal(int sig)
{
        (void)sig;
        atomic_store(&stop_requested, 1);
}

static void wait_for_everyone(void *arg)
{
        (void)arg;
        pthread_barrier_wait(&start_barrier);
}

static void *thread_main(void *arg)
{
        struct thread_job *job = arg;

        job->result = bench_worker_run(&job->config, &job->stats);
        return NULL;
}

/* The first Ctrl-C (or SIGTERM) ends the run early and still reports; a second one kills. */
static void catch_stop_signals(void)
{
        struct sigaction action = {.sa_handler = on_stop_signal,
                                   .sa_flags = SA_RESETHAND | SA_RESTART};

        sigemptyset(&action.sa_mask);
        sigaction(SIGINT, &action, NULL);
        sigaction(SIGTERM, &action, NULL);
}

/* Thousands of connections need as many descriptors: take the hard limit if the soft one is short.
 */
static void raise_file_limit(unsigned connections)
{
        struct rlimit limit;

        if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < connections + 64u) {
                limit.rlim_cur = limit.rlim_max;
                setrlimit(RLIMIT_NOFILE, &limit);
        }
}

int main(int argc, char **argv)
{
        struct bench_options opts;
        struct bench_stats total;
        struct thread_job *jobs = NULL;
        struct addrinfo *addresses = NULL;
        unsigned char *pattern = NULL;
        char error[256], target[ADDR_TEXT_MAX];
        const char *reason;
        unsigned next = 0, started = 0;
        bool failed = false, interrupted;
        int r, status = EXIT_FAILED;

        if (bench_args_parse(argc, argv, &opts, error, sizeof(error)) < 0) {
                return cli_usage_error("echobench", "%s", error);
        }
        if (opts.action == CLI_HELP) {
                fputs(bench_args_usage, stdout);
                return EXIT_OK;
        }
        if (opts.action == CLI_VERSION)
                return cli_print_version("echobench");
        signal(SIGPIPE, SIG_IGN);
        catch_stop_signals();
        raise_file_limit(opts.connections);

        r = resolve_addresses(opts.host, opts.port, opts.family,
                              opts.udp ? SOCK_DGRAM : SOCK_STREAM, &addresses, &reason);
        if (r < 0) {
                fprintf(stderr, "echobench: cannot resolve %s port %s: %s\n", opts.host, opts.port,
                        reason);
                return EXIT_FAILED;
        }
        addr_format(addresses->ai_addr, target, sizeof(target));
        pattern = bench_pattern_new(opts.message_size);
        jobs = calloc(opts.threads, sizeof(*jobs));
        if (!pattern || !jobs) {
                fprintf(stderr, "echobench: out of memory\n");
                goto out;
        }
        pthread_barrier_init(&start_barrier, NULL, opts.threads);
        for (unsigned i = 0; i < opts.threads; i++) {
                struct thread_job *job = &jobs[i];
                /* Spread the connections evenly; the first threads take the remainder. */
                unsigned share =
                    opts.connections / opts.threads + (i < opts.connections % opts.threads ? 1 : 0);

                bench_stats_init(&job->stats);
                job->config = (struct bench_worker_config){
                    .opts = &opts,
                    .addr = addresses->ai_addr,
                    .addr_len = addresses->ai_addrlen,
                    .first_connection = next,
                    .connections = share,
                    .pattern = pattern,
                    .connected = wait_for_everyone,
                    .stop = &stop_requested,
                    .requests_so_far = &requests_so_far,
                    /* The first worker draws the progress line, on a terminal only. */
                    .progress = i == 0 && isatty(STDERR_FILENO),
                };
                next += share;
        }
        for (started = 0; started < opts.threads; started++) {
                r = pthread_create(&jobs[started].thread, NULL, thread_main, &jobs[started]);
                if (r != 0) {
                        /* The barrier counts every thread; without them all none can start. */
                        fprintf(stderr, "echobench: cannot start thread: %s\n", strerror(r));
                        exit(EXIT_FAILED);
                }
        }
        bench_stats_init(&total);
        /*
         * Join every thread before looking at any result: the others still use
         * the pattern and the addresses, which are freed on the way out.
         */
        for (unsigned i = 0; i < started; i++)
                pthread_join(jobs[i].thread, NULL);
        pthread_barrier_destroy(&start_barrier);
        for (unsigned i = 0; i < started; i++) {
                if (jobs[i].result < 0) {
                        fprintf(stderr, "echobench: worker %u: %s\n", i, strerror(-jobs[i].result));
                        failed = true;
                        continue;
                }
                bench_stats_merge(&total, &jobs[i].stats);
        }
        if (failed)
                goto out;

        interrupted = atomic_load(&stop_requested) != 0;
        if (opts.json)
                bench_report_json(stdout, &opts, target, &total, interrupted);
        else
                bench_report_text(stdout, &opts, target, &total, interrupted);
        fflush(stdout);
        if (total.mismatches > 0)
                fprintf(stderr, "echobench: %llu messages came back different from what was sent\n",
                        (unsigned long long)total.mismatches);
        if (total.errors > 0)
                fprintf(stderr, "echobench: %llu connection errors, first: %s\n",
                        (unsigned long long)total.errors, total.first_error);
        if (total.requests == 0 && total.mismatches == 0 && total.errors == 0)
                fprintf(stderr, "echobench: no message was echoed\n");
        status = total.mismatches || total.errors || total.requests == 0 ? EXIT_FAILED : EXIT_OK;
        if (interrupted && status == EXIT_OK)
                status = EXIT_INTERRUPTED;
out:
        free(jobs);
        free(pattern);
        freeaddrinfo(addresses);
        return status;
}
