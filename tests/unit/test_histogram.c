#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "histogram.h"

static struct histogram *new_histogram(void)
{
        struct histogram *h = malloc(sizeof(*h));

        assert_non_null(h);
        histogram_init(h);
        return h;
}

static void empty_histogram_reports_zero(void **state)
{
        struct histogram *h = new_histogram();

        (void)state;
        assert_int_equal(histogram_percentile(h, 50), 0);
        assert_int_equal(histogram_percentile(h, 100), 0);
        assert_true(histogram_mean(h) == 0.0);
        free(h);
}

static void small_values_are_exact(void **state)
{
        struct histogram *h = new_histogram();

        (void)state;
        /* 1..100 once each: the p-th percentile is p itself. */
        for (uint64_t v = 1; v <= 100; v++)
                histogram_record(h, v);
        assert_int_equal(histogram_percentile(h, 50), 50);
        assert_int_equal(histogram_percentile(h, 90), 90);
        assert_int_equal(histogram_percentile(h, 99), 99);
        assert_int_equal(histogram_percentile(h, 99.9), 100);
        assert_int_equal(histogram_percentile(h, 100), 100);
        assert_int_equal(histogram_percentile(h, 0), 1);
        assert_true(histogram_mean(h) == 50.5);
        free(h);
}

static void buckets_are_contiguous_and_ordered(void **state)
{
        (void)state;
        /* Every bucket starts one past where the previous one ends. */
        for (unsigned i = 1; i < HISTOGRAM_BUCKETS; i++) {
                uint64_t low = histogram_bucket_highest(i - 1) + 1;

                assert_int_equal(histogram_bucket_index(low), i);
                assert_int_equal(histogram_bucket_index(histogram_bucket_highest(i)), i);
        }
        assert_int_equal(histogram_bucket_index(UINT64_MAX), HISTOGRAM_BUCKETS - 1);
        assert_true(histogram_bucket_highest(HISTOGRAM_BUCKETS - 1) == UINT64_MAX);
}

static void large_values_within_one_percent(void **state)
{
        static const uint64_t values[] = {
            257, 1000, 12345, 999999, 123456789, 1ull << 40, (1ull << 62) + 12345};

        (void)state;
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                struct histogram *h = new_histogram();
                uint64_t got;

                /* Record the value and a bigger one, so p50 is not clamped to max. */
                histogram_record(h, values[i]);
                histogram_record(h, values[i] * 2);
                got = histogram_percentile(h, 50);
                assert_true(got >= values[i]);
                assert_true((double)(got - values[i]) <= (double)values[i] / HISTOGRAM_SUB);
                free(h);
        }
}

static void percentiles_of_a_skewed_distribution(void **state)
{
        struct histogram *h = new_histogram();
        uint64_t p99, p999;

        (void)state;
        /* 990 fast requests at 100us, 9 at 10ms, 1 at 1s. */
        for (int i = 0; i < 990; i++)
                histogram_record(h, 100000);
        for (int i = 0; i < 9; i++)
                histogram_record(h, 10000000);
        histogram_record(h, 1000000000);
        assert_true(histogram_percentile(h, 50) >= 100000);
        assert_true(histogram_percentile(h, 50) < 101000);
        assert_true(histogram_percentile(h, 99) < 101000);
        p99 = histogram_percentile(h, 99.5);
        assert_true(p99 >= 10000000 && p99 < 10100000);
        p999 = histogram_percentile(h, 99.9);
        assert_true(p999 >= 10000000 && p999 < 10100000);
        assert_int_equal(histogram_percentile(h, 99.99), 1000000000);
        assert_int_equal(histogram_percentile(h, 100), 1000000000);
        free(h);
}

static void merge_adds_counts_and_extremes(void **state)
{
        struct histogram *a = new_histogram();
        struct histogram *b = new_histogram();

        (void)state;
        histogram_record(a, 10);
        histogram_record(a, 20);
        histogram_record(b, 5);
        histogram_record(b, 4000);
        histogram_merge(a, b);
        assert_int_equal(a->count, 4);
        assert_int_equal(a->min, 5);
        assert_int_equal(a->max, 4000);
        assert_int_equal(histogram_percentile(a, 50), 10);
        assert_int_equal(histogram_percentile(a, 75), 20);
        assert_int_equal(histogram_percentile(a, 100), 4000);
        free(a);
        free(b);
}

static void stdev_of_exact_values(void **state)
{
        struct histogram *h = new_histogram();

        (void)state;
        /* Below 256 every value has a bucket of its own: 1..100 has stdev sqrt(833.25). */
        for (uint64_t v = 1; v <= 100; v++)
                histogram_record(h, v);
        assert_true(fabs(histogram_stdev(h) - 28.866) < 0.01);
        histogram_init(h);
        assert_true(histogram_stdev(h) == 0.0);
        histogram_record(h, 5000);
        assert_true(histogram_stdev(h) == 0.0);
        free(h);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(empty_histogram_reports_zero),
            cmocka_unit_test(small_values_are_exact),
            cmocka_unit_test(buckets_are_contiguous_and_ordered),
            cmocka_unit_test(large_values_within_one_percent),
            cmocka_unit_test(percentiles_of_a_skewed_distribution),
            cmocka_unit_test(merge_adds_counts_and_extremes),
            cmocka_unit_test(stdev_of_exact_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
