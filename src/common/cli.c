#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

#include "version.h"

int cli_usage_error(const char *program, const char *format, ...)
{
        va_list ap;

        fprintf(stderr, "%s: ", program);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s --help'.\n", program);
        return EXIT_USAGE;
}

int cli_error(char *error, size_t error_size, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        vsnprintf(error, error_size, format, ap);
        va_end(ap);
        return -EINVAL;
}

int cli_getopt_error(int c, char *const argv[], char *error, size_t error_size)
{
        /* optind has moved past the option, so argv[optind - 1] is how it was typed. */
        if (c == ':')
                return cli_error(error, error_size, "option '%s' needs a value", argv[optind - 1]);
        if (optopt)
                return cli_error(error, error_size, "unknown option '-%c'", optopt);
        return cli_error(error, error_size, "unknown option '%s'", argv[optind - 1]);
}

int cli_common_option(int c, char *const argv[], int *family, enum cli_action *action, char *error,
                      size_t error_size)
{
        switch (c) {
        case '4':
                *family = AF_INET;
                return 0;
        case '6':
                *family = AF_INET6;
                return 0;
        case 'h':
                *action = CLI_HELP;
                return 1;
        case 'V':
                *action = CLI_VERSION;
                return 1;
        default:
                return cli_getopt_error(c, argv, error, error_size);
        }
}

int cli_print_version(const char *program)
{
        printf("%s %s\n", program, ECHOD_VERSION);
        return EXIT_OK;
}
