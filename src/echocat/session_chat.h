#ifndef ECHOD_SESSION_CHAT_H
#define ECHOD_SESSION_CHAT_H

#include <stdbool.h>

#include "session.h"

/*
 * echocat --chat: the chat client (docs/chat.md is the protocol, docs/tools.md
 * the behaviour). Interactive on a terminal (chat_screen.c, chat_editor.c),
 * else like nc with the protocol lines on standard output. Either way a
 * session token the server sends is kept (chat_token.c) and answers the first
 * prompt of the next connection to the same HOST and PORT.
 */

struct session_chat_options {
        /* As given (or asked for): they name the token file. */
        const char *host;
        const char *port;
        /* Read and keep the stored token (false: --no-token, no file is touched). */
        bool use_token;
        /* Standard input and output are a terminal: draw a prompt line. */
        bool interactive;
};

/*
 * Run a chat session until the server closes, or the input ends and the
 * server then closes (0; -ECONNABORTED if the server closed without BYE
 * while the input went on), or a signal (-EINTR: SIGINT, SIGTERM, SIGHUP),
 * or an error as for session_pipe_run(). The terminal is given back its
 * settings on every path.
 */
int session_chat_run(struct ev_loop *loop, const struct addrinfo *addresses,
                     const struct session_config *config,
                     const struct session_chat_options *options, struct session_totals *totals);

#endif
