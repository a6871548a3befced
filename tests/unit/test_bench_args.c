#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "bench_args.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static int parse(char **argv, int argc, struct bench_options *opts, char *error)
{
        return bench_args_parse(argc, argv, opts, error, 256);
}

static void defaults_need_only_host_and_port(void **state)
{
        char *argv[] = {"echobench", "127.0.0.1", "7007", NULL};
        struct bench_options opts;
        char error[256];

        (void)state;
        assert_int_equal(parse(argv, ARGC(argv), &opts, error), 0);
        assert_int_equal(opts.action, CLI_RUN);
        assert_string_equal(opts.host, "127.0.0.1");
        assert_string_equal(opts.port, "7007");
        assert_int_equal(opts.connections, 10);
        assert_int_equal(opts.message_size, 1024);
        assert_int_equal(opts.pipeline, 1);
        assert_int_equal(opts.threads, 1);
        assert_int_equal(opts.duration_ns, 10000000000ull);
        assert_false(opts.udp);
        assert_false(opts.json);
        assert_int_equal(opts.family, AF_UNSPEC);
}

static void every_option_is_read(void **state)
{
        char *argv[] = {"echobench", "-c",         "100", "-s",        "64k", "-d",
                        "500ms",     "--pipeline", "8",   "-t",        "2",   "--json",
                        "-6",        "::1",        "7",   "--timeout", "2",   NULL};
        struct bench_options opts;
        char error[256];

        (void)state;
        assert_int_equal(parse(argv, ARGC(argv), &opts, error), 0);
        assert_int_equal(opts.connections, 100);
        assert_int_equal(opts.message_size, 65536);
        assert_int_equal(opts.duration_ns, 500000000ull);
        assert_int_equal(opts.pipeline, 8);
        assert_int_equal(opts.threads, 2);
        assert_true(opts.json);
        assert_int_equal(opts.family, AF_INET6);
        assert_int_equal(opts.timeout_ns, 2000000000ull);
        assert_string_equal(opts.host, "::1");
        assert_string_equal(opts.port, "7");
}

static void threads_never_outnumber_connections(void **state)
{
        char *argv[] = {"echobench", "-c", "3", "-t", "8", "h", "7", NULL};
        struct bench_options opts;
        char error[256];

        (void)state;
        assert_int_equal(parse(argv, ARGC(argv), &opts, error), 0);
        assert_int_equal(opts.threads, 3);
}

static void bad_values_are_refused_with_a_reason(void **state)
{
        char *zero_conns[] = {"echobench", "-c", "0", "h", "7", NULL};
        char *big_size[] = {"echobench", "-s", "17M", "h", "7", NULL};
        char *bad_duration[] = {"echobench", "-d", "soon", "h", "7", NULL};
        char *missing_port[] = {"echobench", "h", NULL};
        char *unknown[] = {"echobench", "--frobnicate", "h", "7", NULL};
        char *no_value[] = {"echobench", "h", "7", "-c", NULL};
        char *udp_tiny[] = {"echobench", "--udp", "-s", "4", "h", "7", NULL};
        char *udp_huge[] = {"echobench", "-u", "-s", "65508", "h", "7", NULL};
        char *named_port[] = {"echobench", "h", "abc", NULL};
        char *port_zero[] = {"echobench", "h", "0", NULL};
        char *port_big[] = {"echobench", "h", "65536", NULL};
        struct bench_options opts;
        char error[256];

        (void)state;
        assert_int_equal(parse(zero_conns, ARGC(zero_conns), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "connections"));
        assert_int_equal(parse(big_size, ARGC(big_size), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "message size"));
        assert_int_equal(parse(bad_duration, ARGC(bad_duration), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "soon"));
        assert_int_equal(parse(missing_port, ARGC(missing_port), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "HOST and PORT"));
        assert_int_equal(parse(unknown, ARGC(unknown), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "--frobnicate"));
        assert_int_equal(parse(no_value, ARGC(no_value), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "needs a value"));
        assert_int_equal(parse(udp_tiny, ARGC(udp_tiny), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "UDP"));
        assert_int_equal(parse(udp_huge, ARGC(udp_huge), &opts, error), -EINVAL);
        assert_int_equal(parse(named_port, ARGC(named_port), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "port must be a number from 1 to 65535, not 'abc'"));
        assert_int_equal(parse(port_zero, ARGC(port_zero), &opts, error), -EINVAL);
        assert_non_null(strstr(error, "'0'"));
        assert_int_equal(parse(port_big, ARGC(port_big), &opts, error), -EINVAL);
}

static void rate_and_latency_are_read_and_p_is_not_the_pipeline(void **state)
{
        char *argv[] = {"echobench", "--rate", "2500.5", "--latency", "h", "7", NULL};
        char *short_rate[] = {"echobench", "-R", "100", "h", "7", NULL};
        char *old_p[] = {"echobench", "-p", "4", "h", "7", NULL};
        char *udp_rate[] = {"echobench", "--udp", "--rate", "10", "h", "7", NULL};
        char *zero_rate[] = {"echobench", "--rate", "0", "h", "7", NULL};
        struct bench_options opts;
        char error[256];

        (void)state;
        assert_int_equal(parse(argv, ARGC(argv), &opts, error), 0);
        assert_true(opts.rate == 2500.5);
        assert_true(opts.latency);
        assert_int_equal(parse(short_rate, ARGC(short_rate), &opts, error), 0);
        assert_true(opts.rate == 100);
        assert_int_equal(parse(old_p, ARGC(old_p), &opts, error), -EINVAL);
        assert_int_equal(parse(udp_rate, ARGC(udp_rate), &opts, error), -EINVAL);
        assert_int_equal(parse(zero_rate, ARGC(zero_rate), &opts, error), -EINVAL);
}

static void help_and_version_need_no_host(void **state)
{
        char *help[] = {"echobench", "--help", NULL};
        char *version[] = {"echobench", "-V", NULL};
        struct bench_options opts;
        char error[256];

        (void)state;
        assert_int_equal(parse(help, ARGC(help), &opts, error), 0);
        assert_int_equal(opts.action, CLI_HELP);
        assert_int_equal(parse(version, ARGC(version), &opts, error), 0);
        assert_int_equal(opts.action, CLI_VERSION);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(defaults_need_only_host_and_port),
            cmocka_unit_test(every_option_is_read),
            cmocka_unit_test(threads_never_outnumber_connections),
            cmocka_unit_test(bad_values_are_refused_with_a_reason),
            cmocka_unit_test(rate_and_latency_are_read_and_p_is_not_the_pipeline),
            cmocka_unit_test(help_and_version_need_no_host),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
