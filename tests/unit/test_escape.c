#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "escape.h"

static void plain_text_is_copied_unchanged(void **state)
{
        char buf[ESCAPE_SIZE(32)];

        (void)state;
        assert_string_equal(escape_control("info", buf, sizeof(buf)), "info");
        assert_string_equal(escape_control("", buf, sizeof(buf)), "");
        /* UTF-8 and backslashes are not control characters. */
        assert_string_equal(escape_control("caf\xc3\xa9 a\\nb", buf, sizeof(buf)),
                            "caf\xc3\xa9 a\\nb");
        assert_false(escape_needed("caf\xc3\xa9 a\\nb"));
}

static void newline_tab_and_return_get_letters(void **state)
{
        char buf[ESCAPE_SIZE(32)];

        (void)state;
        assert_true(escape_needed("a\nb"));
        assert_string_equal(escape_control("a\nb", buf, sizeof(buf)), "a\\nb");
        assert_string_equal(escape_control("\r\t", buf, sizeof(buf)), "\\r\\t");
}

static void other_control_bytes_get_hex(void **state)
{
        char buf[ESCAPE_SIZE(32)];

        (void)state;
        assert_string_equal(escape_control("\x1b[31mred\x7f\x01", buf, sizeof(buf)),
                            "\\x1b[31mred\\x7f\\x01");
}

static void escaping_twice_changes_nothing(void **state)
{
        char once[ESCAPE_SIZE(32)], twice[ESCAPE_SIZE(ESCAPE_SIZE(32))];

        (void)state;
        escape_control("x\n\x1by", once, sizeof(once));
        assert_false(escape_needed(once));
        assert_string_equal(escape_control(once, twice, sizeof(twice)), once);
}

static void output_is_cut_at_a_whole_escape(void **state)
{
        char buf[6];

        (void)state;
        /* "ab\x01" needs 7 bytes with the NUL: the escape does not fit, and is not cut. */
        assert_string_equal(escape_control("ab\x01", buf, sizeof(buf)), "ab");
        assert_string_equal(escape_control("abcdefgh", buf, sizeof(buf)), "abcde");
        assert_string_equal(escape_control("\n\n\n", buf, sizeof(buf)), "\\n\\n");
        assert_string_equal(escape_control("x", buf, 1), "");
}

static void worst_case_fits_escape_size(void **state)
{
        char text[17], buf[ESCAPE_SIZE(16)];

        (void)state;
        memset(text, 0x01, 16);
        text[16] = '\0';
        escape_control(text, buf, sizeof(buf));
        assert_int_equal(strlen(buf), 64);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(plain_text_is_copied_unchanged),
            cmocka_unit_test(newline_tab_and_return_get_letters),
            cmocka_unit_test(other_control_bytes_get_hex),
            cmocka_unit_test(escaping_twice_changes_nothing),
            cmocka_unit_test(output_is_cut_at_a_whole_escape),
            cmocka_unit_test(worst_case_fits_escape_size),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
