#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void pattern_windows_wrap_around(void **state)
{
        unsigned char *pattern = bench_pattern_new(4096);

        (void)state;
        assert_non_null(pattern);
        /* The tail repeats the start, so a window across the period end is contiguous. */
        assert_memory_equal(pattern + BENCH_PATTERN_PERIOD, pattern, 4096);
        free(pattern);
}

static void consecutive_messages_differ(void **state)
{
        static const size_t sizes[] = {1, 64, 1024, 65536};
        unsigned char *pattern = bench_pattern_new(65536);

        (void)state;
        assert_non_null(pattern);
        /*
         * A server that repeats or skips a whole message must be caught: the
         * window of message k never equals that of message k + 1.
         */
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                size_t size = sizes[i];

                for (uint64_t k = 0; k < 200; k++) {
                        size_t a = (size_t)((k * size) % BENCH_PATTERN_PERIOD);
                        size_t b = (size_t)(((k + 1) * size) % BENCH_PATTERN_PERIOD);

                        if (size > 1 && memcmp(pattern + a, pattern + b, size) == 0)
                                fail_msg("messages %llu and %llu of %zu bytes are equal",
                                         (unsigned long long)k, (unsigned long long)k + 1, size);
                }
        }
        free(pattern);
}

static void pattern_uses_every_byte_value(void **state)
{
        unsigned char *pattern = bench_pattern_new(1);
        unsigned seen[256] = {0};

        (void)state;
        assert_non_null(pattern);
        for (size_t i = 0; i < BENCH_PATTERN_PERIOD; i++)
                seen[pattern[i]]++;
        for (unsigned v = 0; v < 256; v++)
                assert_true(seen[v] > 0);
        free(pattern);
}

static void merged_stats_add_up(void **state)
{
        struct bench_stats *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

        (void)state;
        assert_non_null(a);
        assert_non_null(b);
        bench_stats_init(a);
        bench_stats_init(b);
        a->requests = 10;
        a->elapsed_ns = 5;
        histogram_record(&a->latency, 100);
        b->requests = 5;
        b->mismatches = 2;
        b->errors = 1;
        b->elapsed_ns = 7;
        histogram_record(&b->latency, 300);
        strcpy(b->first_error, "recv: Connection reset by peer");
        bench_stats_merge(a, b);
        assert_int_equal(a->requests, 15);
        assert_int_equal(a->mismatches, 2);
        assert_int_equal(a->errors, 1);
        assert_int_equal(a->elapsed_ns, 7);
        assert_int_equal(a->latency.count, 2);
        assert_int_equal(a->latency.max, 300);
        assert_string_equal(a->first_error, "recv: Connection reset by peer");
        free(a);
        free(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(pattern_windows_wrap_around),
            cmocka_unit_test(consecutive_messages_differ),
            cmocka_unit_test(pattern_uses_every_byte_value),
            cmocka_unit_test(merged_stats_add_up),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
