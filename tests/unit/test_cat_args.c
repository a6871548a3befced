#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "cat_args.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static void host_and_port_are_optional(void **state)
{
        char *none[] = {"echocat", NULL};
        char *host[] = {"echocat", "example.org", NULL};
        char *both[] = {"echocat", "::1", "7", NULL};
        struct cat_options opts;
        char error[256];

        (void)state;
        assert_int_equal(cat_args_parse(ARGC(none), none, &opts, error, sizeof(error)), 0);
        assert_null(opts.host);
        assert_null(opts.port);
        assert_int_equal(opts.timeout_ns, CAT_DEFAULT_TIMEOUT_NS);
        assert_int_equal(cat_args_parse(ARGC(host), host, &opts, error, sizeof(error)), 0);
        assert_string_equal(opts.host, "example.org");
        assert_null(opts.port);
        assert_int_equal(cat_args_parse(ARGC(both), both, &opts, error, sizeof(error)), 0);
        assert_string_equal(opts.host, "::1");
        assert_string_equal(opts.port, "7");
}

static void options_are_read(void **state)
{
        char *argv[] = {"echocat", "-v", "--udp", "-4", "-w", "250ms", "h", "9", NULL};
        struct cat_options opts;
        char error[256];

        (void)state;
        assert_int_equal(cat_args_parse(ARGC(argv), argv, &opts, error, sizeof(error)), 0);
        assert_true(opts.verbose);
        assert_true(opts.udp);
        assert_int_equal(opts.family, AF_INET);
        assert_int_equal(opts.timeout_ns, 250000000ull);
}

static void netcat_options_are_read(void **state)
{
        char *argv[] = {"echocat", "-z",  "-s", "127.0.0.2", "-p", "4000",
                        "-q",      "1.5", "h",  "9",         NULL};
        char *plain[] = {"echocat", "h", "9", NULL};
        char *forever[] = {"echocat", "-q", "-1", "h", "9", NULL};
        struct cat_options opts;
        char error[256];

        (void)state;
        assert_int_equal(cat_args_parse(ARGC(argv), argv, &opts, error, sizeof(error)), 0);
        assert_true(opts.zero_io);
        assert_string_equal(opts.source_host, "127.0.0.2");
        assert_int_equal(opts.source_port, 4000);
        assert_true(opts.quit_after_eof == 1.5);
        assert_int_equal(cat_args_parse(ARGC(plain), plain, &opts, error, sizeof(error)), 0);
        assert_false(opts.zero_io);
        assert_null(opts.source_host);
        assert_int_equal(opts.source_port, 0);
        assert_true(opts.quit_after_eof < 0);
        assert_int_equal(cat_args_parse(ARGC(forever), forever, &opts, error, sizeof(error)), 0);
        assert_true(opts.quit_after_eof < 0);
}

static void bad_input_is_refused_with_a_reason(void **state)
{
        char *port0[] = {"echocat", "h", "0", NULL};
        char *port_text[] = {"echocat", "h", "seven", NULL};
        char *port_big[] = {"echocat", "h", "65536", NULL};
        char *extra[] = {"echocat", "h", "7", "8", NULL};
        char *timeout[] = {"echocat", "-w", "later", "h", NULL};
        char *unknown[] = {"echocat", "-x", NULL};
        char *empty_host[] = {"echocat", "", NULL};
        char *port_as_host[] = {"echocat", "38639", NULL};
        struct cat_options opts;
        char error[256];

        (void)state;
        assert_int_equal(cat_args_parse(ARGC(port0), port0, &opts, error, sizeof(error)), -EINVAL);
        assert_non_null(strstr(error, "1 to 65535"));
        assert_int_equal(cat_args_parse(ARGC(port_text), port_text, &opts, error, sizeof(error)),
                         -EINVAL);
        assert_non_null(strstr(error, "seven"));
        assert_int_equal(cat_args_parse(ARGC(port_big), port_big, &opts, error, sizeof(error)),
                         -EINVAL);
        assert_int_equal(cat_args_parse(ARGC(extra), extra, &opts, error, sizeof(error)), -EINVAL);
        assert_non_null(strstr(error, "too many"));
        assert_int_equal(cat_args_parse(ARGC(timeout), timeout, &opts, error, sizeof(error)),
                         -EINVAL);
        assert_non_null(strstr(error, "later"));
        assert_int_equal(cat_args_parse(ARGC(unknown), unknown, &opts, error, sizeof(error)),
                         -EINVAL);
        assert_non_null(strstr(error, "-x"));
        assert_int_equal(cat_args_parse(ARGC(empty_host), empty_host, &opts, error, sizeof(error)),
                         -EINVAL);
        assert_int_equal(
            cat_args_parse(ARGC(port_as_host), port_as_host, &opts, error, sizeof(error)), -EINVAL);
        assert_non_null(strstr(error, "'38639' is a number, not a host"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(host_and_port_are_optional),
            cmocka_unit_test(options_are_read),
            cmocka_unit_test(netcat_options_are_read),
            cmocka_unit_test(bad_input_is_refused_with_a_reason),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
