#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "ctl.h"

/* Parse a NULL-terminated argument list (argv[0] included); returns ctl_parse_args's result. */
static int parse(struct ctl_args *args, char *error, const char *const *words)
{
        char *argv[16];
        int argc = 0;

        while (words[argc]) {
                argv[argc] = (char *)words[argc];
                argc++;
        }
        argv[argc] = NULL;
        error[0] = '\0';
        return ctl_parse_args(argc, argv, args, error, 256);
}

static void options_after_the_command_are_echoctls_own(void **state)
{
        struct ctl_args args;
        char error[256];

        (void)state;
        assert_int_equal(
            parse(&args, error,
                  (const char *[]){"echoctl", "status", "--json", "--socket", "/x/c", NULL}),
            0);
        assert_true(args.json);
        assert_string_equal(args.socket_path, "/x/c");
        assert_string_equal(args.request, "--json status");
        assert_int_equal(
            parse(&args, error, (const char *[]){"echoctl", "stats", "-j", "--socket=/y", NULL}),
            0);
        assert_true(args.json);
        assert_string_equal(args.socket_path, "/y");
        assert_string_equal(args.request, "--json stats");
}

static void the_commands_own_options_pass_through(void **state)
{
        struct ctl_args args;
        char error[256];

        (void)state;
        assert_int_equal(
            parse(&args, error, (const char *[]){"echoctl", "logs", "-n", "5", "-f", NULL}), 0);
        assert_string_equal(args.request, "logs -n 5 -f");
        assert_true(args.follow);
        assert_false(args.json);
}

static void double_dash_ends_echoctls_options(void **state)
{
        struct ctl_args args;
        char error[256];

        (void)state;
        assert_int_equal(
            parse(&args, error,
                  (const char *[]){"echoctl", "users", "remove", "--", "--json", NULL}),
            0);
        assert_false(args.json);
        assert_string_equal(args.request, "users remove --json");
}

static void near_misses_get_a_suggestion(void **state)
{
        struct ctl_args args;
        char error[256];

        (void)state;
        assert_int_equal(parse(&args, error, (const char *[]){"echoctl", "stat", NULL}), -EINVAL);
        assert_string_equal(error, "unknown command 'stat' (did you mean 'status' or 'stats'?)");
        assert_int_equal(parse(&args, error, (const char *[]){"echoctl", "relaod", NULL}), -EINVAL);
        assert_non_null(strstr(error, "did you mean 'reload'?"));
        assert_int_equal(parse(&args, error, (const char *[]){"echoctl", "xyzzy", NULL}), -EINVAL);
        assert_null(strstr(error, "did you mean"));
}

static void usage_errors_know_about_json_anywhere(void **state)
{
        struct ctl_args args;
        char error[256];

        (void)state;
        assert_int_equal(parse(&args, error, (const char *[]){"echoctl", "stat", "--json", NULL}),
                         -EINVAL);
        assert_true(args.json);
        assert_int_equal(
            parse(&args, error, (const char *[]){"echoctl", "--bogus", "status", NULL}), -EINVAL);
        assert_string_equal(error, "unknown option '--bogus'");
        assert_int_equal(
            parse(&args, error, (const char *[]){"echoctl", "status", "--socket", NULL}), -EINVAL);
        assert_string_equal(error, "option '--socket' needs a value");
        assert_int_equal(parse(&args, error, (const char *[]){"echoctl", NULL}), -EINVAL);
}

static void help_and_version_anywhere(void **state)
{
        struct ctl_args args;
        char error[256];

        (void)state;
        assert_int_equal(parse(&args, error, (const char *[]){"echoctl", "status", "--help", NULL}),
                         0);
        assert_true(args.help);
        assert_int_equal(parse(&args, error, (const char *[]){"echoctl", "-V", NULL}), 0);
        assert_true(args.version);
}

static void the_daemons_usage_replies_are_recognised(void **state)
{
        (void)state;
        assert_true(ctl_reply_usage("error usage: status takes no arguments"));
        assert_true(ctl_reply_usage("{\"ok\":false,\"error\":\"usage: logs [-n N] [-f]\"}"));
        assert_false(ctl_reply_usage("error unknown service 'gopher' (echo, chat or all)"));
        assert_false(ctl_reply_usage("ok paused"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(options_after_the_command_are_echoctls_own),
            cmocka_unit_test(the_commands_own_options_pass_through),
            cmocka_unit_test(double_dash_ends_echoctls_options),
            cmocka_unit_test(near_misses_get_a_suggestion),
            cmocka_unit_test(usage_errors_know_about_json_anywhere),
            cmocka_unit_test(help_and_version_anywhere),
            cmocka_unit_test(the_daemons_usage_replies_are_recognised),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
