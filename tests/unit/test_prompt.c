#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "prompt.h"

/* A pipe holding text, as if typed; returns the read end. */
static int typed(const char *text)
{
        int fds[2];

        assert_int_equal(pipe(fds), 0);
        assert_int_equal(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
        close(fds[1]);
        return fds[0];
}

/* Everything written to the write end of a pipe so far. */
static void drain(int fd, char *buf, size_t size)
{
        ssize_t n = read(fd, buf, size - 1);

        assert_true(n >= 0);
        buf[n] = '\0';
}

static void hosts_and_ports_are_checked(void **state)
{
        char reason[160];

        (void)state;
        assert_true(prompt_check_host("localhost", reason, sizeof(reason)));
        assert_true(prompt_check_host("::1", reason, sizeof(reason)));
        assert_true(prompt_check_host("[fe80::1%eth0]", reason, sizeof(reason)));
        assert_true(prompt_check_host("192.0.2.1", reason, sizeof(reason)));
        assert_false(prompt_check_host("two words", reason, sizeof(reason)));
        assert_non_null(strstr(reason, "spaces"));
        assert_false(prompt_check_host("a/b", reason, sizeof(reason)));
        assert_non_null(strstr(reason, "'/'"));
        assert_false(prompt_check_host("-rf", reason, sizeof(reason)));
        /* A lone number is a port in the wrong place, not the address 0.0.150.239. */
        assert_false(prompt_check_host("38639", reason, sizeof(reason)));
        assert_non_null(strstr(reason, "is a number, not a host"));
        assert_true(prompt_check_host("1.2.3.4", reason, sizeof(reason)));
        assert_true(prompt_check_host("3com", reason, sizeof(reason)));
        assert_true(prompt_check_port("7007", reason, sizeof(reason)));
        assert_false(prompt_check_port("0", reason, sizeof(reason)));
        assert_false(prompt_check_port("65536", reason, sizeof(reason)));
        assert_false(prompt_check_port("http", reason, sizeof(reason)));
        assert_non_null(strstr(reason, "1 to 65535"));
}

static void read_line_stops_at_the_newline(void **state)
{
        int fd = typed("  first \nsecond\nlast");
        char buf[32];

        (void)state;
        assert_int_equal(prompt_read_line(fd, buf, sizeof(buf)), 5);
        assert_string_equal(buf, "first");
        assert_int_equal(prompt_read_line(fd, buf, sizeof(buf)), 6);
        assert_string_equal(buf, "second");
        assert_int_equal(prompt_read_line(fd, buf, sizeof(buf)), 4);
        assert_string_equal(buf, "last");
        assert_int_equal(prompt_read_line(fd, buf, sizeof(buf)), -ENODATA);
        close(fd);
}

static void read_line_refuses_long_lines(void **state)
{
        int fd = typed("0123456789abcdef\nok\n");
        char buf[8];

        (void)state;
        assert_int_equal(prompt_read_line(fd, buf, sizeof(buf)), -EMSGSIZE);
        assert_int_equal(prompt_read_line(fd, buf, sizeof(buf)), 2);
        assert_string_equal(buf, "ok");
        close(fd);
}

static void ask_takes_the_default_on_an_empty_line(void **state)
{
        int in = typed("\n");
        int out[2];
        char answer[64], shown[256];

        (void)state;
        assert_int_equal(pipe(out), 0);
        assert_int_equal(
            prompt_ask(in, out[1], "Port", "7007", prompt_check_port, answer, sizeof(answer)), 0);
        assert_string_equal(answer, "7007");
        drain(out[0], shown, sizeof(shown));
        assert_string_equal(shown, "Port [7007]: ");
        close(in);
        close(out[0]);
        close(out[1]);
}

static void ask_again_after_bad_input(void **state)
{
        int in = typed("zero\n0\n8080\n");
        int out[2];
        char answer[64], shown[512];

        (void)state;
        assert_int_equal(pipe(out), 0);
        assert_int_equal(
            prompt_ask(in, out[1], "Port", "7007", prompt_check_port, answer, sizeof(answer)), 0);
        assert_string_equal(answer, "8080");
        drain(out[0], shown, sizeof(shown));
        assert_string_equal(shown, "Port [7007]:   the port must be a number from 1 to 65535; "
                                   "try again.\nPort [7007]:   the port must be a number from "
                                   "1 to 65535; try again.\nPort [7007]: ");
        close(in);
        close(out[0]);
        close(out[1]);
}

static void ask_reports_end_of_input(void **state)
{
        int in = typed("");
        int out[2];
        char answer[64];

        (void)state;
        assert_int_equal(pipe(out), 0);
        assert_int_equal(
            prompt_ask(in, out[1], "Host", "localhost", prompt_check_host, answer, sizeof(answer)),
            -ENODATA);
        close(in);
        close(out[0]);
        close(out[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(hosts_and_ports_are_checked),
            cmocka_unit_test(read_line_stops_at_the_newline),
            cmocka_unit_test(read_line_refuses_long_lines),
            cmocka_unit_test(ask_takes_the_default_on_an_empty_line),
            cmocka_unit_test(ask_again_after_bad_input),
            cmocka_unit_test(ask_reports_end_of_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
