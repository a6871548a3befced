#ifndef ECHOD_BENCH_REPORT_H
#define ECHOD_BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

/* The percentiles every report shows, in this order (max is reported apart). */
#define BENCH_REPORT_PERCENTILES 4
extern const double bench_report_percentiles[BENCH_REPORT_PERCENTILES];

/* Write the results for people: a few aligned lines. target is "host:port". */
void bench_report_text(FILE *out, const struct bench_options *opts, const char *target,
                       const struct bench_stats *stats);

/* Write the results as one JSON object on one line, for scripts. */
void bench_report_json(FILE *out, const struct bench_options *opts, const char *target,
                       const struct bench_stats *stats);

#endif
