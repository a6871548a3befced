#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "units.h"

static void sizes_take_binary_suffixes(void **state)
{
        uint64_t v;

        (void)state;
        assert_int_equal(units_parse_size("64", &v), 0);
        assert_int_equal(v, 64);
        assert_int_equal(units_parse_size("1k", &v), 0);
        assert_int_equal(v, 1024);
        assert_int_equal(units_parse_size("64KiB", &v), 0);
        assert_int_equal(v, 65536);
        assert_int_equal(units_parse_size("2M", &v), 0);
        assert_int_equal(v, 2u << 20);
        assert_int_equal(units_parse_size("1g", &v), 0);
        assert_int_equal(v, 1u << 30);
}

static void sizes_reject_bad_text(void **state)
{
        static const char *const bad[] = {"", "k", "-1", "1x", "1 k", "1.5k", " 1"};
        uint64_t v;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (units_parse_size(bad[i], &v) != -EINVAL)
                        fail_msg("accepted bad size '%s'", bad[i]);
        }
        assert_int_equal(units_parse_size("99999999999999999999", &v), -ERANGE);
        assert_int_equal(units_parse_size("17179869184G", &v), -ERANGE);
}

static void durations_default_to_seconds(void **state)
{
        uint64_t ns;

        (void)state;
        assert_int_equal(units_parse_duration("10", &ns), 0);
        assert_int_equal(ns, 10000000000ull);
        assert_int_equal(units_parse_duration("1.5s", &ns), 0);
        assert_int_equal(ns, 1500000000ull);
        assert_int_equal(units_parse_duration("250ms", &ns), 0);
        assert_int_equal(ns, 250000000ull);
        assert_int_equal(units_parse_duration("2m", &ns), 0);
        assert_int_equal(ns, 120000000000ull);
        assert_int_equal(units_parse_duration("0", &ns), 0);
        assert_int_equal(ns, 0);
        assert_int_equal(units_parse_duration("1x", &ns), -EINVAL);
        assert_int_equal(units_parse_duration("-1", &ns), -EINVAL);
        assert_int_equal(units_parse_duration("", &ns), -EINVAL);
        assert_int_equal(units_parse_duration("nan", &ns), -EINVAL);
        assert_int_equal(units_parse_duration("1e30", &ns), -EINVAL);
}

static void uint_checks_its_range(void **state)
{
        unsigned long v;

        (void)state;
        assert_int_equal(units_parse_uint("5", 1, 10, &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(units_parse_uint("0", 1, 10, &v), -ERANGE);
        assert_int_equal(units_parse_uint("11", 1, 10, &v), -ERANGE);
        assert_int_equal(units_parse_uint("5a", 1, 10, &v), -EINVAL);
        assert_int_equal(units_parse_uint("+5", 1, 10, &v), -EINVAL);
}

static void durations_format_with_a_readable_unit(void **state)
{
        char text[32];

        (void)state;
        units_format_duration(850, text, sizeof(text));
        assert_string_equal(text, "850ns");
        units_format_duration(81200, text, sizeof(text));
        assert_string_equal(text, "81.2us");
        units_format_duration(12345678, text, sizeof(text));
        assert_string_equal(text, "12.35ms");
        units_format_duration(1500000000, text, sizeof(text));
        assert_string_equal(text, "1.50s");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(sizes_take_binary_suffixes),
            cmocka_unit_test(sizes_reject_bad_text),
            cmocka_unit_test(durations_default_to_seconds),
            cmocka_unit_test(uint_checks_its_range),
            cmocka_unit_test(durations_format_with_a_readable_unit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
