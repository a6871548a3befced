#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "chat_line.h"

/* Lines gathered from a stream, as the daemon's read side would see them. */
struct collected {
        char lines[8][CHAT_LINE_MAX + 1];
        size_t lengths[8];
        size_t count;
        size_t too_long;
};

static void feed(struct chat_line_reader *reader, const char *data, size_t size,
                 struct collected *out)
{
        while (size > 0) {
                struct chat_line line;
                size_t used = 0;
                enum chat_line_result r = chat_line_next(reader, data, size, &used, &line);

                assert_true(used <= size);
                data += used;
                size -= used;
                if (r == CHAT_LINE_READY) {
                        assert_true(line.length <= CHAT_LINE_MAX);
                        assert_true(out->count < 8);
                        memcpy(out->lines[out->count], line.text, line.length);
                        out->lines[out->count][line.length] = '\0';
                        out->lengths[out->count] = line.length;
                        out->count++;
                } else if (r == CHAT_LINE_TOO_LONG) {
                        out->too_long++;
                } else {
                        assert_int_equal(size, 0);
                }
        }
}

static void lines_split_within_one_feed(void **state)
{
        struct chat_line_reader reader;
        struct collected got = {0};
        const char *input = "hello\nworld\n";

        (void)state;
        chat_line_reader_init(&reader);
        feed(&reader, input, strlen(input), &got);
        assert_int_equal(got.count, 2);
        assert_string_equal(got.lines[0], "hello");
        assert_string_equal(got.lines[1], "world");
}

static void line_split_across_feeds_is_joined(void **state)
{
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        chat_line_reader_init(&reader);
        feed(&reader, "hel", 3, &got);
        assert_int_equal(got.count, 0);
        feed(&reader, "lo wo", 5, &got);
        feed(&reader, "rld\nnext", 8, &got);
        assert_int_equal(got.count, 1);
        assert_string_equal(got.lines[0], "hello world");
        feed(&reader, "\n", 1, &got);
        assert_int_equal(got.count, 2);
        assert_string_equal(got.lines[1], "next");
}

static void one_byte_at_a_time_gives_the_same_lines(void **state)
{
        struct chat_line_reader reader;
        struct collected got = {0};
        const char *input = "a\r\nbc\n\ndef\r\n";

        (void)state;
        chat_line_reader_init(&reader);
        for (size_t i = 0; i < strlen(input); i++)
                feed(&reader, input + i, 1, &got);
        assert_int_equal(got.count, 4);
        assert_string_equal(got.lines[0], "a");
        assert_string_equal(got.lines[1], "bc");
        assert_int_equal(got.lengths[2], 0);
        assert_string_equal(got.lines[3], "def");
}

static void crlf_line_end_is_stripped(void **state)
{
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        chat_line_reader_init(&reader);
        feed(&reader, "nc style\r\n", 10, &got);
        assert_int_equal(got.count, 1);
        assert_string_equal(got.lines[0], "nc style");
        assert_int_equal(chat_line_check(got.lines[0], got.lengths[0]), CHAT_TEXT_OK);
}

static void bare_cr_stays_in_the_line_and_is_a_control_character(void **state)
{
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        chat_line_reader_init(&reader);
        feed(&reader, "a\rb\n", 4, &got);
        assert_int_equal(got.count, 1);
        assert_int_equal(got.lengths[0], 3);
        assert_int_equal(chat_line_check(got.lines[0], got.lengths[0]), CHAT_TEXT_CONTROL);
        /* Only the one CR right before the LF belongs to the line end. */
        feed(&reader, "x\r\r\n", 4, &got);
        assert_int_equal(got.count, 2);
        assert_int_equal(got.lengths[1], 2);
        assert_int_equal(chat_line_check(got.lines[1], got.lengths[1]), CHAT_TEXT_CONTROL);
}

static void exactly_max_bytes_is_a_line(void **state)
{
        static char input[CHAT_LINE_MAX + 2];
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        memset(input, 'x', CHAT_LINE_MAX);
        input[CHAT_LINE_MAX] = '\n';
        chat_line_reader_init(&reader);
        feed(&reader, input, CHAT_LINE_MAX + 1, &got);
        assert_int_equal(got.too_long, 0);
        assert_int_equal(got.count, 1);
        assert_int_equal(got.lengths[0], CHAT_LINE_MAX);
}

static void exactly_max_bytes_with_crlf_is_a_line(void **state)
{
        static char input[CHAT_LINE_MAX + 2];
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        memset(input, 'x', CHAT_LINE_MAX);
        input[CHAT_LINE_MAX] = '\r';
        input[CHAT_LINE_MAX + 1] = '\n';
        chat_line_reader_init(&reader);
        for (size_t i = 0; i < sizeof(input); i++)
                feed(&reader, input + i, 1, &got);
        assert_int_equal(got.too_long, 0);
        assert_int_equal(got.count, 1);
        assert_int_equal(got.lengths[0], CHAT_LINE_MAX);
}

static void max_plus_one_bytes_is_too_long_once(void **state)
{
        static char input[CHAT_LINE_MAX + 2];
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        memset(input, 'x', CHAT_LINE_MAX + 1);
        input[CHAT_LINE_MAX + 1] = '\n';
        chat_line_reader_init(&reader);
        feed(&reader, input, sizeof(input), &got);
        assert_int_equal(got.too_long, 1);
        assert_int_equal(got.count, 0);
}

static void max_bytes_then_cr_then_more_text_is_too_long(void **state)
{
        static char input[CHAT_LINE_MAX + 3];
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        memset(input, 'x', CHAT_LINE_MAX);
        input[CHAT_LINE_MAX] = '\r';
        input[CHAT_LINE_MAX + 1] = 'y';
        input[CHAT_LINE_MAX + 2] = '\n';
        chat_line_reader_init(&reader);
        feed(&reader, input, sizeof(input), &got);
        assert_int_equal(got.too_long, 1);
        assert_int_equal(got.count, 0);
}

static void overlong_line_is_reported_once_then_lines_resume(void **state)
{
        static char big[5 * CHAT_LINE_MAX];
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        memset(big, 'z', sizeof(big));
        chat_line_reader_init(&reader);
        feed(&reader, "before\n", 7, &got);
        /* Arriving in pieces, as a flood would, it is still one report. */
        for (size_t i = 0; i < sizeof(big); i += 100)
                feed(&reader, big + i, sizeof(big) - i < 100 ? sizeof(big) - i : 100, &got);
        assert_int_equal(got.too_long, 1);
        feed(&reader, "tail of the long one\nafter\n", 27, &got);
        assert_int_equal(got.too_long, 1);
        assert_int_equal(got.count, 2);
        assert_string_equal(got.lines[0], "before");
        assert_string_equal(got.lines[1], "after");
}

static void nul_byte_is_kept_and_rejected_as_control(void **state)
{
        struct chat_line_reader reader;
        struct collected got = {0};

        (void)state;
        chat_line_reader_init(&reader);
        feed(&reader, "a\0b\n", 4, &got);
        assert_int_equal(got.count, 1);
        assert_int_equal(got.lengths[0], 3);
        assert_int_equal(chat_line_check(got.lines[0], got.lengths[0]), CHAT_TEXT_CONTROL);
}

static void finish_hands_out_an_unterminated_last_line(void **state)
{
        struct chat_line_reader reader;
        struct collected got = {0};
        struct chat_line line;

        (void)state;
        chat_line_reader_init(&reader);
        feed(&reader, "one\ntwo\r", 8, &got);
        assert_int_equal(chat_line_finish(&reader, &line), CHAT_LINE_READY);
        assert_int_equal(line.length, 3);
        assert_memory_equal(line.text, "two", 3);
        assert_int_equal(chat_line_finish(&reader, &line), CHAT_LINE_NEED_MORE);
}

static void finish_after_a_complete_line_has_nothing(void **state)
{
        struct chat_line_reader reader;
        struct collected got = {0};
        struct chat_line line;

        (void)state;
        chat_line_reader_init(&reader);
        feed(&reader, "one\n", 4, &got);
        assert_int_equal(chat_line_finish(&reader, &line), CHAT_LINE_NEED_MORE);
}

static void valid_utf8_passes(void **state)
{
        (void)state;
        assert_int_equal(chat_line_check("", 0), CHAT_TEXT_OK);
        assert_int_equal(chat_line_check("plain ascii ~", 13), CHAT_TEXT_OK);
        assert_int_equal(chat_line_check("caf\xc3\xa9", 5), CHAT_TEXT_OK);      /* U+00E9 */
        assert_int_equal(chat_line_check("\xc2\xa0", 2), CHAT_TEXT_OK);         /* U+00A0 */
        assert_int_equal(chat_line_check("\xe2\x82\xac", 3), CHAT_TEXT_OK);     /* U+20AC */
        assert_int_equal(chat_line_check("\xed\x9f\xbf", 3), CHAT_TEXT_OK);     /* U+D7FF */
        assert_int_equal(chat_line_check("\xee\x80\x80", 3), CHAT_TEXT_OK);     /* U+E000 */
        assert_int_equal(chat_line_check("\xf0\x9f\x98\x80", 4), CHAT_TEXT_OK); /* U+1F600 */
        assert_int_equal(chat_line_check("\xf4\x8f\xbf\xbf", 4), CHAT_TEXT_OK); /* U+10FFFF */
}

static void invalid_utf8_is_rejected(void **state)
{
        (void)state;
        /* Overlong forms of '/', NUL and U+FFFF. */
        assert_int_equal(chat_line_check("\xc0\xaf", 2), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xc1\xbf", 2), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xe0\x80\x80", 3), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xe0\x9f\xbf", 3), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xf0\x8f\xbf\xbf", 4), CHAT_TEXT_INVALID_UTF8);
        /* Surrogates. */
        assert_int_equal(chat_line_check("\xed\xa0\x80", 3), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xed\xbf\xbf", 3), CHAT_TEXT_INVALID_UTF8);
        /* Past U+10FFFF. */
        assert_int_equal(chat_line_check("\xf4\x90\x80\x80", 4), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xf5\x80\x80\x80", 4), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xff", 1), CHAT_TEXT_INVALID_UTF8);
        /* Truncated sequences, at the end and in the middle. */
        assert_int_equal(chat_line_check("ab\xe2\x82", 4), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xf0\x9f\x98", 3), CHAT_TEXT_INVALID_UTF8);
        assert_int_equal(chat_line_check("\xe2\x82z", 3), CHAT_TEXT_INVALID_UTF8);
        /* A lone continuation byte. */
        assert_int_equal(chat_line_check("a\x80", 2), CHAT_TEXT_INVALID_UTF8);
}

static void control_characters_are_rejected(void **state)
{
        (void)state;
        assert_int_equal(chat_line_check("\t", 1), CHAT_TEXT_CONTROL);
        assert_int_equal(chat_line_check("bell\x07", 5), CHAT_TEXT_CONTROL);
        assert_int_equal(chat_line_check("\x1b[2J", 4), CHAT_TEXT_CONTROL);
        assert_int_equal(chat_line_check("del\x7f", 4), CHAT_TEXT_CONTROL);
        assert_int_equal(chat_line_check("\xc2\x80", 2), CHAT_TEXT_CONTROL); /* U+0080 */
        assert_int_equal(chat_line_check("\xc2\x9b", 2), CHAT_TEXT_CONTROL); /* CSI */
        assert_int_equal(chat_line_check("\xc2\x9f", 2), CHAT_TEXT_CONTROL); /* U+009F */
}

static void error_texts_name_each_problem(void **state)
{
        (void)state;
        assert_string_equal(chat_line_error_text(CHAT_LINE_TOO_LONG), "line too long");
        assert_string_equal(chat_line_error_text(CHAT_TEXT_INVALID_UTF8), "invalid utf-8");
        assert_string_equal(chat_line_error_text(CHAT_TEXT_CONTROL), "control character");
        assert_string_equal(chat_line_error_text(CHAT_TEXT_FORMAT),
                            "invisible formatting character (bidi control, line separator or "
                            "byte order mark)");
}

static void messages_refuse_bidi_controls_separators_and_the_bom(void **state)
{
        static const char *const refused[] = {
            "\xd8\x9c",     /* U+061C ARABIC LETTER MARK */
            "\xe2\x80\x8e", /* U+200E LEFT-TO-RIGHT MARK */
            "\xe2\x80\x8f", /* U+200F RIGHT-TO-LEFT MARK */
            "\xe2\x80\xaa", /* U+202A LEFT-TO-RIGHT EMBEDDING */
            "\xe2\x80\xae", /* U+202E RIGHT-TO-LEFT OVERRIDE */
            "\xe2\x81\xa6", /* U+2066 LEFT-TO-RIGHT ISOLATE */
            "\xe2\x81\xa9", /* U+2069 POP DIRECTIONAL ISOLATE */
            "\xe2\x80\xa8", /* U+2028 LINE SEPARATOR */
            "\xe2\x80\xa9", /* U+2029 PARAGRAPH SEPARATOR */
            "\xef\xbb\xbf", /* U+FEFF BYTE ORDER MARK */
        };
        char text[32];

        (void)state;
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                int n = snprintf(text, sizeof(text), "abc %s def", refused[i]);

                assert_int_equal(chat_line_check(text, (size_t)n), CHAT_TEXT_OK);
                assert_int_equal(chat_text_check_message(text, (size_t)n), CHAT_TEXT_FORMAT);
        }
        /* Neighbours pass: U+202F, U+2065 (unassigned), U+206A, Hebrew, an emoji. */
        assert_int_equal(chat_text_check_message("\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa", 9),
                         CHAT_TEXT_OK);
        assert_int_equal(
            chat_text_check_message("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x98\x80", 13),
            CHAT_TEXT_OK);
        assert_int_equal(chat_text_check_message("\xff", 1), CHAT_TEXT_INVALID_UTF8);
}

static void new_names_start_with_a_letter_and_keep_punctuation_apart(void **state)
{
        static const char *const good[] = {"bob", "A.b-c_9", "x", "burst0_1", "user007", "o.k"};
        static const char *const bad[] = {"-bob", ".bob", "_bob",  "9lives", "bob-",
                                          "bob.", "bob_", "b..ob", "b-_ob",  ""};

        (void)state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                assert_int_equal(chat_name_check_new(good[i], strlen(good[i])), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(chat_name_check_new(bad[i], strlen(bad[i])), -EINVAL);
                /* Names of the old rule are still names: they log in and show. */
                if (bad[i][0])
                        assert_int_equal(chat_name_check(bad[i], strlen(bad[i])), 0);
        }
        assert_int_equal(chat_name_check_new("b\xc3\xb6"
                                             "b",
                                             4),
                         -EINVAL);
}

static void names_follow_the_rule(void **state)
{
        (void)state;
        assert_int_equal(chat_name_check("bob", 3), 0);
        assert_int_equal(chat_name_check("A.b-c_9", 7), 0);
        assert_int_equal(chat_name_check("x", 1), 0);
        assert_int_equal(chat_name_check("abcdefghijklmnopqrstuvwxyz012345", 32), 0);
        assert_int_equal(chat_name_check("abcdefghijklmnopqrstuvwxyz0123456", 33), -EINVAL);
        assert_int_equal(chat_name_check("", 0), -EINVAL);
        assert_int_equal(chat_name_check("bob smith", 9), -EINVAL);
        assert_int_equal(chat_name_check("b\xc3\xb6"
                                         "b",
                                         4),
                         -EINVAL);
        assert_int_equal(chat_name_check("a/b", 3), -EINVAL);
        assert_int_equal(chat_name_check("a\0b", 3), -EINVAL);
}

static void time_is_utc_iso8601_with_milliseconds(void **state)
{
        char text[CHAT_TIME_TEXT_SIZE];

        (void)state;
        assert_int_equal(chat_time_format(0, text, sizeof(text)), 24);
        assert_string_equal(text, "1970-01-01T00:00:00.000Z");
        assert_int_equal(chat_time_format(1796197723123ull, text, sizeof(text)), 24);
        assert_string_equal(text, "2026-12-02T07:48:43.123Z");
        assert_int_equal(chat_time_format(951782400007ull, text, sizeof(text)), 24);
        assert_string_equal(text, "2000-02-29T00:00:00.007Z");
        assert_int_equal(chat_time_format(253402300799999ull, text, sizeof(text)), 24);
        assert_string_equal(text, "9999-12-31T23:59:59.999Z");
}

static void time_out_of_range_or_small_buffer_fails(void **state)
{
        char text[CHAT_TIME_TEXT_SIZE];

        (void)state;
        assert_int_equal(chat_time_format(253402300800000ull, text, sizeof(text)), -ERANGE);
        assert_int_equal(chat_time_format(UINT64_MAX, text, sizeof(text)), -ERANGE);
        assert_int_equal(chat_time_format(0, text, sizeof(text) - 1), -ENOSPC);
}

static void command_splits_name_and_argument(void **state)
{
        struct chat_command command;

        (void)state;
        assert_int_equal(chat_command_split("/history 20", 11, &command), 1);
        assert_true(chat_command_is(&command, "history"));
        assert_false(chat_command_is(&command, "hist"));
        assert_int_equal(command.argument_length, 2);
        assert_memory_equal(command.argument, "20", 2);

        assert_int_equal(chat_command_split("/token   abc def", 16, &command), 1);
        assert_true(chat_command_is(&command, "token"));
        assert_int_equal(command.argument_length, 7);
        assert_memory_equal(command.argument, "abc def", 7);

        assert_int_equal(chat_command_split("/who", 4, &command), 1);
        assert_true(chat_command_is(&command, "who"));
        assert_int_equal(command.argument_length, 0);

        assert_int_equal(chat_command_split("/", 1, &command), 1);
        assert_int_equal(command.name_length, 0);
        assert_false(chat_command_is(&command, "who"));
}

static void plain_lines_and_double_slash_are_messages(void **state)
{
        struct chat_command command;

        (void)state;
        assert_int_equal(chat_command_split("hello /who", 10, &command), 0);
        assert_int_equal(command.argument_length, 10);
        assert_memory_equal(command.argument, "hello /who", 10);
        assert_false(chat_command_is(&command, "who"));

        assert_int_equal(chat_command_split("//who", 5, &command), 0);
        assert_int_equal(command.argument_length, 4);
        assert_memory_equal(command.argument, "/who", 4);

        assert_int_equal(chat_command_split("", 0, &command), 0);
        assert_int_equal(command.argument_length, 0);
}

static void message_line_is_formatted(void **state)
{
        char out[CHAT_SERVER_LINE_MAX];

        (void)state;
        assert_int_equal(chat_line_format_message(out, sizeof(out), "MSG", 1796197723123ull, "bob",
                                                  "hi there", 8),
                         (int)strlen("MSG 2026-12-02T07:48:43.123Z bob hi there\n"));
        assert_string_equal(out, "MSG 2026-12-02T07:48:43.123Z bob hi there\n");
}

static void longest_message_line_fits_the_stated_maximum(void **state)
{
        static char text[CHAT_LINE_MAX];
        char out[CHAT_SERVER_LINE_MAX];
        char name[CHAT_NAME_MAX + 1];
        int n;

        (void)state;
        memset(text, 'y', sizeof(text));
        memset(name, 'n', CHAT_NAME_MAX);
        name[CHAT_NAME_MAX] = '\0';
        n = chat_line_format_message(out, sizeof(out), "ABCDEFGH", 0, name, text, sizeof(text));
        assert_int_equal(n, CHAT_SERVER_LINE_MAX - 1);
        assert_int_equal(out[n - 1], '\n');
        assert_int_equal(
            chat_line_format_message(out, sizeof(out) - 1, "ABCDEFGH", 0, name, text, sizeof(text)),
            -ENOSPC);
        assert_int_equal(
            chat_line_format_message(out, sizeof(out), "MSG", 0, name, text, sizeof(text) + 1),
            -EINVAL);
        assert_int_equal(chat_line_format_message(out, sizeof(out), "ABCDEFGHI", 0, "a", "", 0),
                         -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(lines_split_within_one_feed),
            cmocka_unit_test(line_split_across_feeds_is_joined),
            cmocka_unit_test(one_byte_at_a_time_gives_the_same_lines),
            cmocka_unit_test(crlf_line_end_is_stripped),
            cmocka_unit_test(bare_cr_stays_in_the_line_and_is_a_control_character),
            cmocka_unit_test(exactly_max_bytes_is_a_line),
            cmocka_unit_test(exactly_max_bytes_with_crlf_is_a_line),
            cmocka_unit_test(max_plus_one_bytes_is_too_long_once),
            cmocka_unit_test(max_bytes_then_cr_then_more_text_is_too_long),
            cmocka_unit_test(overlong_line_is_reported_once_then_lines_resume),
            cmocka_unit_test(nul_byte_is_kept_and_rejected_as_control),
            cmocka_unit_test(finish_hands_out_an_unterminated_last_line),
            cmocka_unit_test(finish_after_a_complete_line_has_nothing),
            cmocka_unit_test(valid_utf8_passes),
            cmocka_unit_test(invalid_utf8_is_rejected),
            cmocka_unit_test(control_characters_are_rejected),
            cmocka_unit_test(error_texts_name_each_problem),
            cmocka_unit_test(names_follow_the_rule),
            cmocka_unit_test(new_names_start_with_a_letter_and_keep_punctuation_apart),
            cmocka_unit_test(messages_refuse_bidi_controls_separators_and_the_bom),
            cmocka_unit_test(time_is_utc_iso8601_with_milliseconds),
            cmocka_unit_test(time_out_of_range_or_small_buffer_fails),
            cmocka_unit_test(command_splits_name_and_argument),
            cmocka_unit_test(plain_lines_and_double_slash_are_messages),
            cmocka_unit_test(message_line_is_formatted),
            cmocka_unit_test(longest_message_line_fits_the_stated_maximum),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
