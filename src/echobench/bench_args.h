#ifndef ECHOD_BENCH_ARGS_H
#define ECHOD_BENCH_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* Limits a peer cannot push us past; they also keep the memory use bounded. */
#define BENCH_MAX_CONNECTIONS 100000
#define BENCH_MAX_SIZE        (16u << 20)
#define BENCH_MAX_UDP_SIZE    65507u
/* A UDP message carries its 8-byte sequence number, so it is never shorter. */
#define BENCH_MIN_UDP_SIZE 8u
#define BENCH_MAX_PIPELINE 1024
#define BENCH_MAX_THREADS  256

struct bench_options {
        enum cli_action action;
        const char *host;
        const char *port;
        unsigned connections;
        size_t message_size;
        uint64_t duration_ns;
        unsigned pipeline;
        unsigned threads;
        /* Connect timeout, and how long a UDP datagram may stay unanswered. */
        uint64_t timeout_ns;
        /* AF_UNSPEC, AF_INET (-4) or AF_INET6 (-6). */
        int family;
        bool udp;
        bool json;
        /* Open loop: requests per second over all connections; 0 for the closed loop. */
        double rate;
        /* Print the latency distribution (percentiles to p99.999, mean, stdev). */
        bool latency;
};

/* The most --rate takes: beyond what any one machine's loopback echoes. */
#define BENCH_MAX_RATE 1e8

/*
 * Parse echobench's command line into opts (defaults filled in). Returns 0,
 * or -EINVAL with a one-line reason in error.
 */
int bench_args_parse(int argc, char **argv, struct bench_options *opts, char *error,
                     size_t error_size);

/* The --help text. */
extern const char bench_args_usage[];

#endif
