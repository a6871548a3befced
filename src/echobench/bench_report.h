#ifndef ECHOD_BENCH_REPORT_H
#define ECHOD_BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

/* The percentiles every report shows, in this order (max is reported apart). */
#define BENCH_REPORT_PERCENTILES 4
extern const double bench_report_percentiles[BENCH_REPORT_PERCENTILES];

/* The percentiles of the distribution (--latency, and always in the JSON). */
#define BENCH_REPORT_DISTRIBUTION 8
extern const double bench_report_distribution[BENCH_REPORT_DISTRIBUTION];

/*
 * Write the results for people: a few aligned lines, and with opts->latency
 * the latency distribution. target is "host:port"; interrupted says the run
 * was cut short by a signal.
 */
void bench_report_text(FILE *out, const struct bench_options *opts, const char *target,
                       const struct bench_stats *stats, bool interrupted);

/* Write the results as one JSON object on one line, for scripts: everything the text has. */
void bench_report_json(FILE *out, const struct bench_options *opts, const char *target,
                       const struct bench_stats *stats, bool interrupted);

#endif
