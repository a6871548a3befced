#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

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

int cli_print_version(const char *program)
{
        printf("%s %s\n", program, ECHOD_VERSION);
        return EXIT_OK;
}
