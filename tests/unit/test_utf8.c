#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "utf8.h"

static void truncate_never_splits_a_character(void **state)
{
        /* "a", e-acute (2 bytes), euro (3), a smiley (4). */
        const char *text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
        const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10};

        (void)state;
        for (size_t len = 0; len <= 10; len++) {
                assert_int_equal(utf8_truncate(text, len), want[len]);
                assert_int_equal(utf8_validate(text, utf8_truncate(text, len)), 0);
        }
}

static void truncate_leaves_what_it_cannot_mend(void **state)
{
        (void)state;
        /* Stray continuation bytes start no character: nothing to cut back to. */
        assert_int_equal(utf8_truncate("\x80\x80\x80\x80", 4), 4);
        assert_int_equal(utf8_truncate("ab\xff", 3), 3);
}

static void repair_replaces_each_bad_byte(void **state)
{
        char text[] = "ok \xff\xc3\xa9 \xe2\x82 \xc0\xaf \xed\xa0\x80 end";

        (void)state;
        assert_int_equal(utf8_repair(text, strlen(text)), 8);
        assert_string_equal(text, "ok ?\xc3\xa9 ?? ?? ??? end");
        assert_int_equal(utf8_validate(text, strlen(text)), 0);
        assert_int_equal(utf8_repair(text, strlen(text)), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(truncate_never_splits_a_character),
            cmocka_unit_test(truncate_leaves_what_it_cannot_mend),
            cmocka_unit_test(repair_replaces_each_bad_byte),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
