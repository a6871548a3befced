#ifndef ECHOD_CLI_H
#define ECHOD_CLI_H

#include <stddef.h>

/*
 * The command-line conventions every program follows: one set of exit
 * statuses, one way to report a usage error, one --version line.
 */

/* Exit statuses, the same for echod and every tool (each --help lists them). */
enum {
        EXIT_OK = 0,            /* done, and what was asked worked */
        EXIT_FAILED = 1,        /* a runtime failure: unreachable, refused, mismatched bytes */
        EXIT_USAGE = 2,         /* bad flags, arguments or configuration */
        EXIT_INTERRUPTED = 130, /* stopped by SIGINT (128 + 2), as shells report it */
};

/* The --help paragraph listing the statuses above. */
#define CLI_EXIT_STATUS_HELP                                                                       \
        "Exit status: 0 ok, 1 failure, 2 usage or configuration error, 130 interrupted.\n"

/* Print "PROGRAM: MESSAGE" and "Try 'PROGRAM --help'." on stderr. Returns EXIT_USAGE. */
int cli_usage_error(const char *program, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Write a one-line reason into error (error_size bytes), for a parser that
 * reports to its caller instead of printing. Returns -EINVAL.
 */
int cli_error(char *error, size_t error_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * For a getopt_long() loop's default case: write why option c was refused
 * into error ("needs a value" for ':', else "unknown option"), naming the
 * option as typed. Call it right after getopt_long() returned c. Returns -EINVAL.
 */
int cli_getopt_error(int c, char *const argv[], char *error, size_t error_size);

/* What a tool's parsed command line asks for. */
enum cli_action {
        CLI_RUN,
        CLI_HELP,
        CLI_VERSION,
};

/*
 * The default case of a getopt_long() loop, for the options echocat and
 * echobench take alike: -4 and -6 set *family (returns 0: go on), -h and -V
 * set *action (returns 1: the parser is done and returns 0); anything else
 * is refused as cli_getopt_error() does (returns -EINVAL).
 */
int cli_common_option(int c, char *const argv[], int *family, enum cli_action *action, char *error,
                      size_t error_size);

/* Print "PROGRAM VERSION" on stdout. Returns EXIT_OK. */
int cli_print_version(const char *program);

#endif
