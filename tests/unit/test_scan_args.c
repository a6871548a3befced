#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "scan_args.h"

/* Parse a NULL-terminated list of words (argv[0] included); returns the result. */
static int parse(struct scan_args *args, char *error, const char **words)
{
        static char *argv[32];
        int argc = 0;

        while (words[argc]) {
                argv[argc] = (char *)words[argc];
                argc++;
        }
        argv[argc] = NULL;
        return scan_args_parse(argc, argv, args, error, 256);
}

static void defaults_are_the_normal_template(void **state)
{
        struct scan_args args;
        char error[256];

        (void)state;
        assert_int_equal(parse(&args, error, (const char *[]){"echoscan", "127.0.0.1", NULL}), 0);
        assert_int_equal(args.timing, 3);
        assert_true(args.timeout == 1.0);
        assert_int_equal(args.retries, 1);
        assert_true(args.max_rate == 0);
        assert_int_equal(args.nhosts, 1);
        scan_args_fini(&args);
}

static void explicit_options_win_over_the_template_in_any_order(void **state)
{
        struct scan_args args;
        char error[256];

        (void)state;
        assert_int_equal(
            parse(&args, error,
                  (const char *[]){"echoscan", "-t", "2s", "-T5", "-r", "3", "h", NULL}),
            0);
        assert_true(args.timeout == 2.0);
        assert_int_equal(args.retries, 3);
        scan_args_fini(&args);
        assert_int_equal(parse(&args, error, (const char *[]){"echoscan", "-T2", "h", NULL}), 0);
        assert_true(args.max_rate == 2.5);
        assert_int_equal(args.concurrency, 10);
        scan_args_fini(&args);
}

static void nmap_file_options_take_the_next_word_or_the_rest(void **state)
{
        struct scan_args args;
        char error[256];

        (void)state;
        assert_int_equal(parse(&args, error,
                               (const char *[]){"echoscan", "-oX", "a.xml", "-oGb.gnmap", "-oA",
                                                "base", "h", NULL}),
                         0);
        assert_int_equal(args.nfiles, 5);
        assert_int_equal(args.files[0].format, REPORT_NMAP_XML);
        assert_string_equal(args.files[0].path, "a.xml");
        assert_int_equal(args.files[1].format, REPORT_NMAP_GREPABLE);
        assert_string_equal(args.files[1].path, "b.gnmap");
        assert_string_equal(args.files[2].path, "base.nmap");
        assert_string_equal(args.files[3].path, "base.xml");
        assert_string_equal(args.files[4].path, "base.gnmap");
        assert_int_equal(args.nhosts, 1);
        assert_string_equal(args.hosts[0], "h");
        scan_args_fini(&args);
}

static void bad_combinations_are_refused_with_a_reason(void **state)
{
        struct scan_args args;
        char error[256];

        (void)state;
        assert_int_equal(
            parse(&args, error,
                  (const char *[]){"echoscan", "-p", "1", "--top-ports", "5", "h", NULL}),
            -EINVAL);
        assert_non_null(strstr(error, "--top-ports"));
        assert_int_equal(parse(&args, error, (const char *[]){"echoscan", "-T6", "h", NULL}),
                         -EINVAL);
        assert_int_equal(
            parse(&args, error,
                  (const char *[]){"echoscan", "--min-rate", "10", "--max-rate", "5", "h", NULL}),
            -EINVAL);
        assert_int_equal(parse(&args, error, (const char *[]){"echoscan", "-oX", NULL}), -EINVAL);
        assert_non_null(strstr(error, "needs a value"));
        assert_int_equal(parse(&args, error, (const char *[]){"echoscan", NULL}), -EINVAL);
        assert_string_equal(error, "no host given");
        /* An input list is enough without HOST arguments. */
        assert_int_equal(parse(&args, error, (const char *[]){"echoscan", "-iL", "-", NULL}), 0);
        scan_args_fini(&args);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(defaults_are_the_normal_template),
            cmocka_unit_test(explicit_options_win_over_the_template_in_any_order),
            cmocka_unit_test(nmap_file_options_take_the_next_word_or_the_rest),
            cmocka_unit_test(bad_combinations_are_refused_with_a_reason),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
