#ifndef ECHOD_CAT_ARGS_H
#define ECHOD_CAT_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAT_DEFAULT_HOST "localhost"
#define CAT_DEFAULT_PORT "7007"
/* Ten seconds to connect, and to wait for an echo that is due. */
#define CAT_DEFAULT_TIMEOUT_NS 10000000000ull

enum cat_action {
        CAT_RUN,
        CAT_HELP,
        CAT_VERSION,
};

struct cat_options {
        enum cat_action action;
        /* NULL when not given: asked for on a terminal, else the default. */
        const char *host;
        const char *port;
        /* AF_UNSPEC, AF_INET (-4) or AF_INET6 (-6). */
        int family;
        /* 0 waits for ever. */
        uint64_t timeout_ns;
        bool udp;
        bool verbose;
};

/*
 * Parse echocat's command line into opts (defaults filled in). Returns 0, or
 * -EINVAL with a one-line reason in error.
 */
int cat_args_parse(int argc, char **argv, struct cat_options *opts, char *error, size_t error_size);

/* The --help text. */
extern const char cat_args_usage[];

#endif
