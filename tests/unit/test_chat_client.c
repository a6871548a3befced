#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat_client.h"

static enum chat_server_kind parse(const char *text, struct chat_server_line *line)
{
        return chat_server_parse(text, strlen(text), line);
}

static void display_of(const char *text, const char *expected)
{
        struct chat_server_line line;
        char out[CHAT_DISPLAY_MAX];
        size_t n;

        parse(text, &line);
        n = chat_client_display(&line, out, sizeof(out));
        assert_string_equal(out, expected);
        assert_int_equal(n, strlen(expected));
}

static void a_message_line_gives_time_name_and_text(void **state)
{
        struct chat_server_line line;

        (void)state;
        assert_int_equal(parse("MSG 2026-12-02T07:48:43.123Z bob hi all, and you", &line),
                         CHAT_SERVER_MSG);
        assert_int_equal(line.time_ms, 1796197723123ll);
        assert_int_equal(line.name_length, 3);
        assert_memory_equal(line.name, "bob", 3);
        assert_int_equal(line.text_length, strlen("hi all, and you"));
        assert_memory_equal(line.text, "hi all, and you", line.text_length);
        assert_int_equal(parse("HIST 2026-12-02T07:48:43.123Z bob \r", &line), CHAT_SERVER_HIST);
        assert_int_equal(line.text_length, 0);
}

static void every_kind_word_is_recognised(void **state)
{
        struct chat_server_line line;

        (void)state;
        assert_int_equal(parse("HELLO alice", &line), CHAT_SERVER_HELLO);
        assert_memory_equal(line.name, "alice", 5);
        assert_int_equal(parse("NAME?", &line), CHAT_SERVER_NAME_PROMPT);
        assert_int_equal(parse("PASSWORD?\r", &line), CHAT_SERVER_PASSWORD_PROMPT);
        assert_int_equal(parse("TOKEN 9f0ce1", &line), CHAT_SERVER_TOKEN);
        assert_int_equal(line.text_length, 6);
        assert_int_equal(parse("OK welcome, alice", &line), CHAT_SERVER_OK);
        assert_int_equal(parse("OK", &line), CHAT_SERVER_OK);
        assert_int_equal(line.text_length, 0);
        assert_int_equal(parse("JOIN bob", &line), CHAT_SERVER_JOIN);
        assert_int_equal(parse("LEAVE bob", &line), CHAT_SERVER_LEAVE);
        assert_int_equal(parse("WHO alice bob", &line), CHAT_SERVER_WHO);
        assert_int_equal(parse("ERR wrong password", &line), CHAT_SERVER_ERR);
        assert_memory_equal(line.text, "wrong password", line.text_length);
        assert_int_equal(parse("BYE", &line), CHAT_SERVER_BYE);
        assert_int_equal(parse("BYE logged out", &line), CHAT_SERVER_BYE);
}

static void malformed_known_kinds_are_other_lines_shown_as_they_came(void **state)
{
        struct chat_server_line line;

        (void)state;
        assert_int_equal(parse("MSG yesterday bob hi", &line), CHAT_SERVER_OTHER);
        assert_int_equal(line.text_length, strlen("MSG yesterday bob hi"));
        assert_int_equal(parse("MSG 2026-12-02T07:48:43.123Z b@d hi", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("TOKEN", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("TOKEN a b", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("TOKEN ../../etc", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("NAME? please", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("HELLO", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("JOIN a b", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("hello there", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("", &line), CHAT_SERVER_OTHER);
        assert_int_equal(parse("msg lower case", &line), CHAT_SERVER_OTHER);
}

static void times_outside_the_format_are_refused(void **state)
{
        int64_t ms;

        (void)state;
        assert_int_equal(chat_time_parse("1970-01-01T00:00:00.000Z", 24, &ms), 0);
        assert_int_equal(ms, 0);
        assert_int_equal(chat_time_parse("2026-13-02T07:48:43.123Z", 24, &ms), -EINVAL);
        assert_int_equal(chat_time_parse("2026-12-02 07:48:43.123Z", 24, &ms), -EINVAL);
        assert_int_equal(chat_time_parse("2026-12-02T07:48:43.12Z", 23, &ms), -EINVAL);
        assert_int_equal(chat_time_parse("2026-12-02T07:48:43.1a3Z", 24, &ms), -EINVAL);
}

static void lines_are_shown_readably(void **state)
{
        (void)state;
        display_of("MSG 2026-12-02T07:48:43.123Z bob hi all", "[2026-12-02 07:48] bob: hi all");
        display_of("HIST 2026-12-02T23:05:00.000Z alice old news",
                   "[2026-12-02 23:05] alice: old news");
        display_of("MSG 2026-12-02T07:48:43.123Z bob /me waves", "[2026-12-02 07:48] * bob waves");
        display_of("HIST 2026-12-02T07:48:43.123Z bob /me", "[2026-12-02 07:48] bob: /me");
        display_of("MSG 2026-12-02T07:48:43.123Z bob /meh", "[2026-12-02 07:48] bob: /meh");
        display_of("JOIN bob", "* bob joined");
        display_of("LEAVE bob", "* bob left");
        display_of("WHO alice bob", "* online: alice bob");
        display_of("OK welcome, alice", "* welcome, alice");
        display_of("HELLO alice", "* hello, alice");
        display_of("ERR wrong password", "! wrong password");
        display_of("BYE", "* bye");
        display_of("BYE logged out", "* bye: logged out");
        display_of("SOMETHING new", "SOMETHING new");
        display_of("TOKEN abc", "");
        display_of("PASSWORD?", "");
        display_of("NAME?", "");
}

/* Rows of today show only the time; other days carry their date. */
static void rows_of_other_days_carry_a_day_marker(void **state)
{
        struct chat_server_line line;
        char text[128], out[CHAT_DISPLAY_MAX];
        time_t now = time(NULL);
        struct tm tm;

        (void)state;
        /* Noon today (UTC here), so the test cannot straddle midnight by a few seconds. */
        gmtime_r(&now, &tm);
        snprintf(text, sizeof(text), "HIST %04d-%02d-%02dT12:00:00.000Z bob today",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        parse(text, &line);
        chat_client_display(&line, out, sizeof(out));
        assert_string_equal(out, "[12:00] bob: today");
        display_of("HIST 2025-01-31T08:00:00.000Z bob last year",
                   "[2025-01-31 08:00] bob: last year");
}

static void control_characters_never_reach_the_terminal(void **state)
{
        (void)state;
        display_of("MSG 2026-12-02T07:48:43.123Z bob \x1b[2Jgotcha\x7f",
                   "[2026-12-02 07:48] bob: ?[2Jgotcha?");
        display_of("\x1b]0;title\x07", "?]0;title?");
}

static void display_is_cut_to_the_buffer(void **state)
{
        struct chat_server_line line;
        char out[8];

        (void)state;
        parse("OK a long greeting", &line);
        assert_int_equal(chat_client_display(&line, out, sizeof(out)), 7);
        assert_string_equal(out, "* a lon");
}

static void tokens_are_word_characters_only(void **state)
{
        char long_token[CHAT_TOKEN_MAX + 2];

        (void)state;
        assert_true(chat_token_valid("9f0c", 4));
        assert_true(chat_token_valid("Ab-_9", 5));
        assert_false(chat_token_valid("", 0));
        assert_false(chat_token_valid("a b", 3));
        assert_false(chat_token_valid("a/b", 3));
        assert_false(chat_token_valid("a\n", 2));
        memset(long_token, 'a', sizeof(long_token));
        assert_true(chat_token_valid(long_token, CHAT_TOKEN_MAX));
        assert_false(chat_token_valid(long_token, CHAT_TOKEN_MAX + 1));
}

static void token_refusals_are_told_from_other_errors(void **state)
{
        (void)state;
        assert_true(chat_error_is_token_refused("unknown token", 13));
        assert_true(chat_error_is_token_refused("expired token", 13));
        assert_true(chat_error_is_token_refused("invalid token", 13));
        assert_false(chat_error_is_token_refused("wrong password", 14));
        assert_false(chat_error_is_token_refused("server full: 3 users online", 27));
        assert_false(chat_error_is_token_refused("tokens", 6));
}

static void token_file_names_are_plain_and_sanitised(void **state)
{
        char name[64];

        (void)state;
        assert_int_equal(chat_token_file_name("LocalHost", "7070", name, sizeof(name)),
                         strlen("localhost-7070.token"));
        assert_string_equal(name, "localhost-7070.token");
        chat_token_file_name("::1", "7070", name, sizeof(name));
        assert_string_equal(name, "__1-7070.token");
        chat_token_file_name("../etc/x", "1", name, sizeof(name));
        assert_string_equal(name, "_._etc_x-1.token");
        chat_token_file_name("fe80::1%eth0", "7070", name, sizeof(name));
        assert_string_equal(name, "fe80__1_eth0-7070.token");
        assert_int_equal(chat_token_file_name("a-very-long-host-name-indeed", "7070", name, 16),
                         -ENAMETOOLONG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_message_line_gives_time_name_and_text),
            cmocka_unit_test(every_kind_word_is_recognised),
            cmocka_unit_test(malformed_known_kinds_are_other_lines_shown_as_they_came),
            cmocka_unit_test(times_outside_the_format_are_refused),
            cmocka_unit_test(lines_are_shown_readably),
            cmocka_unit_test(rows_of_other_days_carry_a_day_marker),
            cmocka_unit_test(control_characters_never_reach_the_terminal),
            cmocka_unit_test(display_is_cut_to_the_buffer),
            cmocka_unit_test(tokens_are_word_characters_only),
            cmocka_unit_test(token_refusals_are_told_from_other_errors),
            cmocka_unit_test(token_file_names_are_plain_and_sanitised),
        };

        /* Shown times are local: make local UTC. */
        setenv("TZ", "UTC", 1);
        tzset();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
