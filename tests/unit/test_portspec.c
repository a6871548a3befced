#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "portspec.h"

static struct portspec spec;

static void list_and_range_are_merged_in_order(void **state)
{
        uint16_t ports[8];

        (void)state;
        assert_int_equal(portspec_parse(&spec, "80,22,1000-1002", NULL), 0);
        assert_int_equal(spec.count, 5);
        assert_int_equal(portspec_list(&spec, ports), 5);
        assert_int_equal(ports[0], 22);
        assert_int_equal(ports[1], 80);
        assert_int_equal(ports[2], 1000);
        assert_int_equal(ports[4], 1002);
}

static void duplicates_and_overlaps_count_once(void **state)
{
        (void)state;
        assert_int_equal(portspec_parse(&spec, "22,22,20-25,24", NULL), 0);
        assert_int_equal(spec.count, 6);
        assert_true(portspec_has(&spec, 20));
        assert_true(portspec_has(&spec, 25));
        assert_false(portspec_has(&spec, 26));
}

static void dash_alone_means_every_port(void **state)
{
        uint16_t *ports = NULL;

        (void)state;
        assert_int_equal(portspec_parse(&spec, "-", NULL), 0);
        assert_int_equal(spec.count, 65535);
        assert_false(portspec_has(&spec, 0));
        assert_true(portspec_has(&spec, 1));
        assert_true(portspec_has(&spec, 65535));
        ports = test_malloc(65535 * sizeof(*ports));
        assert_int_equal(portspec_list(&spec, ports), 65535);
        assert_int_equal(ports[0], 1);
        assert_int_equal(ports[65534], 65535);
        test_free(ports);
}

static void open_ended_ranges(void **state)
{
        (void)state;
        assert_int_equal(portspec_parse(&spec, "-10", NULL), 0);
        assert_int_equal(spec.count, 10);
        assert_true(portspec_has(&spec, 1));
        assert_int_equal(portspec_parse(&spec, "65530-", NULL), 0);
        assert_int_equal(spec.count, 6);
        assert_true(portspec_has(&spec, 65535));
}

static void blanks_around_items_are_allowed(void **state)
{
        (void)state;
        assert_int_equal(portspec_parse(&spec, " 22 ,\t80 , 100-101 ", NULL), 0);
        assert_int_equal(spec.count, 4);
        assert_true(portspec_has(&spec, 80));
}

static void blank_inside_a_number_is_rejected(void **state)
{
        (void)state;
        assert_int_equal(portspec_parse(&spec, "2 2", NULL), -EINVAL);
        assert_int_equal(portspec_parse(&spec, "10 -20", NULL), -EINVAL);
}

static void port_zero_is_out_of_range(void **state)
{
        struct portspec_error err;

        (void)state;
        assert_int_equal(portspec_parse(&spec, "22,0", &err), -ERANGE);
        assert_int_equal(err.offset, 3);
        assert_int_equal(err.length, 1);
        assert_non_null(strstr(err.reason, "range"));
        assert_int_equal(spec.count, 0);
        assert_int_equal(portspec_parse(&spec, "0-10", NULL), -ERANGE);
}

static void port_65536_is_out_of_range(void **state)
{
        (void)state;
        assert_int_equal(portspec_parse(&spec, "65536", NULL), -ERANGE);
        assert_int_equal(portspec_parse(&spec, "1-65536", NULL), -ERANGE);
        assert_int_equal(portspec_parse(&spec, "99999999999999999999", NULL), -ERANGE);
        assert_int_equal(portspec_parse(&spec, "65535", NULL), 0);
}

static void reversed_range_is_rejected(void **state)
{
        struct portspec_error err;

        (void)state;
        assert_int_equal(portspec_parse(&spec, "80,2000-1000", &err), -EINVAL);
        assert_int_equal(err.offset, 3);
        assert_int_equal(err.length, 9);
        assert_non_null(strstr(err.reason, "after"));
        assert_int_equal(portspec_parse(&spec, "5-5", NULL), 0);
        assert_int_equal(spec.count, 1);
}

static void garbage_is_rejected(void **state)
{
        static const char *const bad[] = {"",   "abc",  "22,", ",22", "22,,80", "1-2-3",
                                          "+5", "0x50", "22a", "--",  "1-b",    " "};
        struct portspec_error err;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err.reason = NULL;
                assert_int_equal(portspec_parse(&spec, bad[i], &err), -EINVAL);
                assert_non_null(err.reason);
        }
        assert_int_equal(portspec_parse(&spec, NULL, NULL), -EINVAL);
}

static void leading_zeros_are_decimal(void **state)
{
        (void)state;
        assert_int_equal(portspec_parse(&spec, "0080", NULL), 0);
        assert_true(portspec_has(&spec, 80));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(list_and_range_are_merged_in_order),
            cmocka_unit_test(duplicates_and_overlaps_count_once),
            cmocka_unit_test(dash_alone_means_every_port),
            cmocka_unit_test(open_ended_ranges),
            cmocka_unit_test(blanks_around_items_are_allowed),
            cmocka_unit_test(blank_inside_a_number_is_rejected),
            cmocka_unit_test(port_zero_is_out_of_range),
            cmocka_unit_test(port_65536_is_out_of_range),
            cmocka_unit_test(reversed_range_is_rejected),
            cmocka_unit_test(garbage_is_rejected),
            cmocka_unit_test(leading_zeros_are_decimal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
