#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "line.h"

/* Feed text into the splitter as typed input. */
static void feed(struct line_splitter *splitter, const char *text, size_t length)
{
        size_t room;
        char *space = line_splitter_space(splitter, &room);

        assert_true(length <= room);
        memcpy(space, text, length);
        line_splitter_commit(splitter, length);
}

static void a_line_comes_out_only_once_its_newline_is_in(void **state)
{
        struct line_splitter splitter = {0};

        (void)state;
        feed(&splitter, "hel", 3);
        assert_int_equal(line_splitter_next(&splitter, false), 0);
        feed(&splitter, "lo\nwor", 6);
        assert_int_equal(line_splitter_next(&splitter, false), 6);
        assert_memory_equal(splitter.data, "hello\n", 6);
        line_splitter_consume(&splitter, 6);
        assert_int_equal(line_splitter_next(&splitter, false), 0);
        /* At end of input the partial last line goes as it is. */
        assert_int_equal(line_splitter_next(&splitter, true), 3);
        assert_memory_equal(splitter.data, "wor", 3);
}

static void one_byte_at_a_time_gives_the_same_lines(void **state)
{
        const char *text = "a\nbc\n\nd\n";
        struct line_splitter splitter = {0};
        const char *expected[] = {"a\n", "bc\n", "\n", "d\n"};
        size_t got = 0;

        (void)state;
        for (size_t i = 0; i < strlen(text); i++) {
                size_t n;

                feed(&splitter, text + i, 1);
                while ((n = line_splitter_next(&splitter, false)) > 0) {
                        assert_true(got < 4);
                        assert_int_equal(n, strlen(expected[got]));
                        assert_memory_equal(splitter.data, expected[got], n);
                        line_splitter_consume(&splitter, n);
                        got++;
                }
        }
        assert_int_equal(got, 4);
}

static void crlf_stays_part_of_the_line(void **state)
{
        struct line_splitter splitter = {0};

        (void)state;
        feed(&splitter, "hi\r\n", 4);
        assert_int_equal(line_splitter_next(&splitter, false), 4);
        assert_memory_equal(splitter.data, "hi\r\n", 4);
}

static void nul_bytes_are_data(void **state)
{
        struct line_splitter splitter = {0};

        (void)state;
        feed(&splitter, "a\0b\n", 4);
        assert_int_equal(line_splitter_next(&splitter, false), 4);
        assert_memory_equal(splitter.data, "a\0b\n", 4);
}

static void an_overlong_line_goes_in_buffer_sized_pieces(void **state)
{
        static char big[LINE_MAX_BYTES];
        struct line_splitter splitter = {0};
        size_t room;

        (void)state;
        memset(big, 'x', sizeof(big));
        feed(&splitter, big, sizeof(big));
        line_splitter_space(&splitter, &room);
        assert_int_equal(room, 0);
        assert_int_equal(line_splitter_next(&splitter, false), LINE_MAX_BYTES);
        line_splitter_consume(&splitter, LINE_MAX_BYTES);
        feed(&splitter, "yz\n", 3);
        assert_int_equal(line_splitter_next(&splitter, false), 3);
}

static void commit_never_counts_past_the_buffer(void **state)
{
        struct line_splitter splitter = {0};
        size_t room;

        (void)state;
        line_splitter_commit(&splitter, LINE_MAX_BYTES + 100);
        assert_int_equal(splitter.length, LINE_MAX_BYTES);
        line_splitter_space(&splitter, &room);
        assert_int_equal(room, 0);
}

static void exit_is_recognised_with_blanks_and_line_ends(void **state)
{
        (void)state;
        assert_true(line_is_exit("exit\n", 5));
        assert_true(line_is_exit("  exit \r\n", 9));
        assert_true(line_is_exit("exit", 4));
        assert_false(line_is_exit("exits\n", 6));
        assert_false(line_is_exit("ex it\n", 6));
        assert_false(line_is_exit("\n", 1));
        assert_false(line_is_exit("exit\0\n", 6));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_line_comes_out_only_once_its_newline_is_in),
            cmocka_unit_test(one_byte_at_a_time_gives_the_same_lines),
            cmocka_unit_test(crlf_stays_part_of_the_line),
            cmocka_unit_test(nul_bytes_are_data),
            cmocka_unit_test(an_overlong_line_goes_in_buffer_sized_pieces),
            cmocka_unit_test(commit_never_counts_past_the_buffer),
            cmocka_unit_test(exit_is_recognised_with_blanks_and_line_ends),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
