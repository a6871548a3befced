#ifndef ECHOD_BENCH_H
#define ECHOD_BENCH_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench_args.h"
#include "histogram.h"

/*
 * The bytes every connection sends are a window into one shared pattern, so
 * each echoed byte can be checked without keeping a copy of what was sent.
 * The period is prime, so consecutive messages of any common size differ and
 * a server that repeats, drops or reorders data is caught too.
 */
#define BENCH_PATTERN_PERIOD 65537u

/* Room for the text of the first error a worker met. */
#define BENCH_ERROR_MAX 160

/* What one worker measured; workers' results are summed with bench_stats_merge(). */
struct bench_stats {
        /* Messages echoed back complete and byte for byte equal. */
        uint64_t requests;
        /* Payload bytes of those messages. */
        uint64_t bytes;
        /* Messages that came back with different bytes. */
        uint64_t mismatches;
        /* Connections that failed to connect, broke or were closed by the server. */
        uint64_t errors;
        /* UDP datagrams not answered within the timeout. */
        uint64_t lost;
        /* Connections that were up when the measurement started. */
        uint64_t connected;
        /* Wall time the worker measured for, in nanoseconds. */
        uint64_t elapsed_ns;
        /* Round-trip time of each message, in nanoseconds. */
        struct histogram latency;
        char first_error[BENCH_ERROR_MAX];
};

/* One worker: a share of the connections, driven by an event loop of its own. */
struct bench_worker_config {
        const struct bench_options *opts;
        const struct sockaddr *addr;
        socklen_t addr_len;
        /* Connection numbers [first, first + count) belong to this worker. */
        unsigned first_connection;
        unsigned connections;
        /* From bench_pattern_new(); shared, read only. */
        const unsigned char *pattern;
        /*
         * Called once every connection of this worker is up (or has failed),
         * just before measuring starts: lets all workers start together.
         */
        void (*connected)(void *arg);
        void *connected_arg;
        /* Optional: set (from a signal handler, say) to end the run early. */
        const atomic_int *stop;
        /* Optional: every worker adds the requests it completed here, ten times a second. */
        atomic_ullong *requests_so_far;
        /* Draw a progress line on stderr once a second (one worker only). */
        bool progress;
};

/* A pattern buffer for messages up to message_size bytes; free() it. NULL on ENOMEM. */
unsigned char *bench_pattern_new(size_t message_size);

/* Run one worker until its duration is over. Returns 0 or -errno (setup failed). */
int bench_worker_run(const struct bench_worker_config *config, struct bench_stats *stats);

/* Empty a stats record. */
void bench_stats_init(struct bench_stats *stats);

/* Add from's counts to into (elapsed is the longest of the two). */
void bench_stats_merge(struct bench_stats *into, const struct bench_stats *from);

#endif
