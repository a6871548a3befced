#ifndef ECHOD_HISTOGRAM_H
#define ECHOD_HISTOGRAM_H

#include <stdint.h>

/*
 * A log-linear histogram of non-negative 64-bit values (latencies in
 * nanoseconds), in the spirit of HdrHistogram: values below 2 * SUB are
 * counted exactly; above that each power of two is split into SUB equal
 * buckets, so a reported value is within 1/SUB (under 0.8 %) of the truth.
 * It is a fixed-size value: no allocation, safe to copy and merge.
 */
#define HISTOGRAM_SUB_BITS 7
#define HISTOGRAM_SUB      (1u << HISTOGRAM_SUB_BITS)
/* Buckets for every uint64_t: exponents 1..56 of SUB buckets, plus 2 * SUB exact ones. */
#define HISTOGRAM_BUCKETS ((64 - HISTOGRAM_SUB_BITS - 1) * HISTOGRAM_SUB + 2 * HISTOGRAM_SUB)

struct histogram {
        uint64_t count;
        uint64_t min;
        uint64_t max;
        /* Sum of the recorded values, for the mean; saturates instead of wrapping. */
        uint64_t sum;
        uint64_t buckets[HISTOGRAM_BUCKETS];
};

/* Empty the histogram. */
void histogram_init(struct histogram *h);

/* Count one value. */
void histogram_record(struct histogram *h, uint64_t value);

/* Add every count of from into into. */
void histogram_merge(struct histogram *into, const struct histogram *from);

/*
 * The value at or below which `percentile` percent (0..100) of the recorded
 * values lie: the highest value of the bucket that holds it, never above the
 * largest value recorded. Returns 0 for an empty histogram.
 */
uint64_t histogram_percentile(const struct histogram *h, double percentile);

/* The arithmetic mean of the recorded values (0 when empty). */
double histogram_mean(const struct histogram *h);

/* The standard deviation, from the buckets (each value taken as its bucket's highest; 0 when
 * empty). */
double histogram_stdev(const struct histogram *h);

/* The bucket index of value, and the highest value a bucket holds (exported for tests). */
unsigned histogram_bucket_index(uint64_t value);
uint64_t histogram_bucket_highest(unsigned index);

#endif
