#include "histogram.h"

#include <math.h>
#include <string.h>

void histogram_init(struct histogram *h)
{
        memset(h, 0, sizeof(*h));
        h->min = UINT64_MAX;
}

unsigned histogram_bucket_index(uint64_t value)
{
        unsigned msb, shift;

        if (value < 2 * HISTOGRAM_SUB)
                return (unsigned)value;
        /*
         * Keep the SUB_BITS + 1 top bits: the mantissa lies in [SUB, 2 SUB)
         * and each shift adds one row of SUB buckets after the exact ones.
         */
        msb = 63u - (unsigned)__builtin_clzll(value);
        shift = msb - HISTOGRAM_SUB_BITS;
        return shift * HISTOGRAM_SUB + (unsigned)(value >> shift);
}

uint64_t histogram_bucket_highest(unsigned index)
{
        unsigned shift, mantissa;

        if (index < 2 * HISTOGRAM_SUB)
                return index;
        shift = index / HISTOGRAM_SUB - 1;
        mantissa = index % HISTOGRAM_SUB + HISTOGRAM_SUB;
        /* The last bucket ends at UINT64_MAX; computing it would overflow. */
        if (shift == 64 - HISTOGRAM_SUB_BITS - 1 && mantissa == 2 * HISTOGRAM_SUB - 1)
                return UINT64_MAX;
        return (((uint64_t)mantissa + 1) << shift) - 1;
}

void histogram_record(struct histogram *h, uint64_t value)
{
        h->buckets[histogram_bucket_index(value)]++;
        h->count++;
        if (value < h->min)
                h->min = value;
        if (value > h->max)
                h->max = value;
        h->sum = h->sum + value < h->sum ? UINT64_MAX : h->sum + value;
}

void histogram_merge(struct histogram *into, const struct histogram *from)
{
        for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
                into->buckets[i] += from->buckets[i];
        into->count += from->count;
        if (from->min < into->min)
                into->min = from->min;
        if (from->max > into->max)
                into->max = from->max;
        into->sum = into->sum + from->sum < into->sum ? UINT64_MAX : into->sum + from->sum;
}

uint64_t histogram_percentile(const struct histogram *h, double percentile)
{
        uint64_t rank, seen = 0;

        if (h->count == 0)
                return 0;
        if (percentile <= 0)
                return h->min;
        if (percentile >= 100)
                return h->max;
        /*
         * The rank of the value asked for, counting from 1, rounded up. 99.9 has
         * no exact binary form; the tiny slack keeps 99.9 % of 1000 at 999.
         */
        rank = (uint64_t)ceil(percentile / 100.0 * (double)h->count * (1.0 - 1e-12));
        if (rank == 0)
                rank = 1;
        for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
                seen += h->buckets[i];
                if (seen >= rank) {
                        uint64_t high = histogram_bucket_highest(i);

                        return high < h->max ? high : h->max;
                }
        }
        return h->max;
}

double histogram_mean(const struct histogram *h)
{
        return h->count ? (double)h->sum / (double)h->count : 0.0;
}

double histogram_stdev(const struct histogram *h)
{
        double mean = histogram_mean(h), sum = 0;

        if (h->count == 0)
                return 0.0;
        for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
                double value, d;

                if (!h->buckets[i])
                        continue;
                value = (double)histogram_bucket_highest(i);
                if (value > (double)h->max)
                        value = (double)h->max;
                d = value - mean;
                sum += d * d * (double)h->buckets[i];
        }
        return sqrt(sum / (double)h->count);
}
