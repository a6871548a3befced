#ifndef ECHOD_CAT_ARGS_H
#define ECHOD_CAT_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define CAT_DEFAULT_HOST "localhost"
#define CAT_DEFAULT_PORT "7007"
/* The chat port (echod --chat, echo-chat.socket). */
#define CAT_DEFAULT_CHAT_PORT "7070"
/* Ten seconds to connect, and to wait for an echo that is due. */
#define CAT_DEFAULT_TIMEOUT_NS 10000000000ull

struct cat_options {
        enum cli_action action;
        /* NULL when not given: asked for on a terminal, else the default. */
        const char *host;
        const char *port;
        /* AF_UNSPEC, AF_INET (-4) or AF_INET6 (-6). */
        int family;
        /* 0 waits for ever. */
        uint64_t timeout_ns;
        bool udp;
        bool verbose;
        /* --chat: the chat client (session_chat.c); --no-token: keep no session token. */
        bool chat;
        bool no_token;
        /* -z: only report whether the port accepts a connection; send nothing. */
        bool zero_io;
        /* -s ADDR and -p PORT: where to connect from (NULL and 0 when not given). */
        const char *source_host;
        uint16_t source_port;
        /* -q SECONDS: after end of input, quit at the latest this much later; negative: never. */
        double quit_after_eof;
};

/*
 * Parse echocat's command line into opts (defaults filled in). Returns 0, or
 * -EINVAL with a one-line reason in error.
 */
int cat_args_parse(int argc, char **argv, struct cat_options *opts, char *error, size_t error_size);

/* The --help text. */
extern const char cat_args_usage[];

#endif
