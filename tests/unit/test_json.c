#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

static void expect(const char *input, size_t length, const char *want)
{
        char out[512];
        size_t n = json_format_string(out, sizeof(out), input, length);

        assert_int_equal(n, strlen(want));
        assert_string_equal(out, want);
}

static void quotes_backslashes_and_controls_are_escaped(void **state)
{
        (void)state;
        expect("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
        expect("\n\t\x01\x1f\x7f", 5, "\"\\u000a\\u0009\\u0001\\u001f\\u007f\"");
        expect("a\0b", 3, "\"a\\u0000b\"");
}

static void valid_utf8_passes_through(void **state)
{
        (void)state;
        expect("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12,
               "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void invalid_utf8_becomes_replacement_characters(void **state)
{
        (void)state;
        /* A lone continuation byte, a truncated sequence, an overlong slash, a surrogate. */
        expect("\x80", 1, "\"\xef\xbf\xbd\"");
        expect("a\xe2\x82", 3, "\"a\xef\xbf\xbd\xef\xbf\xbd\"");
        expect("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
        expect("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void every_byte_gives_valid_utf8_without_raw_controls(void **state)
{
        char input[256], out[256 * 6 + 3];

        (void)state;
        for (int i = 0; i < 256; i++)
                input[i] = (char)i;
        json_format_string(out, sizeof(out), input, sizeof(input));
        assert_int_equal(utf8_validate(out, strlen(out)), 0);
        for (const char *p = out; *p; p++)
                assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void a_short_buffer_is_cut_and_terminated(void **state)
{
        char out[4];

        (void)state;
        assert_int_equal(json_format_string(out, sizeof(out), "abcdef", 6), 8);
        assert_string_equal(out, "\"ab");
}

static void long_strings_on_a_stream_match_the_buffer_form(void **state)
{
        char input[3000], want[3000 * 6 + 3], *got = NULL;
        size_t got_length = 0;
        FILE *stream = open_memstream(&got, &got_length);

        (void)state;
        for (size_t i = 0; i < sizeof(input) - 1; i++)
                input[i] = "a\"\xc3\xa9\n\x80"[i % 6];
        input[sizeof(input) - 1] = '\0';
        json_format_string(want, sizeof(want), input, strlen(input));
        json_write_string(stream, input);
        fclose(stream);
        assert_string_equal(got, want);
        free(got);
}

static void utf8_decoder_rejects_what_rfc3629_forbids(void **state)
{
        uint32_t cp;

        (void)state;
        assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp), 4);
        assert_int_equal(cp, 0x10ffff);
        assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), -EILSEQ);
        assert_int_equal(utf8_decode((const unsigned char *)"\xe0\x80\xaf", 3, &cp), -EILSEQ);
        assert_int_equal(utf8_decode((const unsigned char *)"\xc3", 1, &cp), -EILSEQ);
        assert_int_equal(utf8_decode((const unsigned char *)"\xff", 1, &cp), -EILSEQ);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(quotes_backslashes_and_controls_are_escaped),
            cmocka_unit_test(valid_utf8_passes_through),
            cmocka_unit_test(invalid_utf8_becomes_replacement_characters),
            cmocka_unit_test(every_byte_gives_valid_utf8_without_raw_controls),
            cmocka_unit_test(a_short_buffer_is_cut_and_terminated),
            cmocka_unit_test(long_strings_on_a_stream_match_the_buffer_form),
            cmocka_unit_test(utf8_decoder_rejects_what_rfc3629_forbids),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
