#ifndef ECHOD_CHAT_CLIENT_H
#define ECHOD_CHAT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The client side of the chat protocol (docs/chat.md), as a codec: a server
 * line in, its kind and fields out, and the readable form echocat --chat
 * shows on a terminal. No I/O; the session splits the stream into lines and
 * hands each one here.
 */

/* The longest token echocat keeps: echod's are 64 hex digits; room for base64url too. */
#define CHAT_TOKEN_MAX 128

/* The most chat_client_display() writes, NUL included. */
#define CHAT_DISPLAY_MAX 4200

enum chat_server_kind {
        CHAT_SERVER_OTHER = 0, /* no kind word we know, or a known one without its fields */
        CHAT_SERVER_HELLO,
        CHAT_SERVER_NAME_PROMPT,     /* NAME? */
        CHAT_SERVER_PASSWORD_PROMPT, /* PASSWORD? */
        CHAT_SERVER_TOKEN,
        CHAT_SERVER_OK,
        CHAT_SERVER_HIST,
        CHAT_SERVER_MSG,
        CHAT_SERVER_JOIN,
        CHAT_SERVER_LEAVE,
        CHAT_SERVER_WHO,
        CHAT_SERVER_ERR,
        CHAT_SERVER_BYE,
};

/* A parsed server line; the pointers point into the line given. */
struct chat_server_line {
        enum chat_server_kind kind;
        /* HIST, MSG: the time as sent (UTC ISO 8601) and in milliseconds since the epoch. */
        const char *time;
        size_t time_length;
        int64_t time_ms;
        /* HELLO, HIST, MSG, JOIN, LEAVE: the name. */
        const char *name;
        size_t name_length;
        /*
         * HIST, MSG: the message; TOKEN: the token; OK, ERR, BYE, WHO: what
         * follows the kind word (may be empty); OTHER: the whole line.
         */
        const char *text;
        size_t text_length;
};

/*
 * Parse one server line (without its LF; a CR before the LF is dropped
 * here). Returns its kind, also stored in line->kind. A known kind word with
 * missing or malformed fields (a MSG without a valid time, a TOKEN that is
 * not a token) is CHAT_SERVER_OTHER, so it is shown as it came and never
 * acted upon.
 */
enum chat_server_kind chat_server_parse(const char *text, size_t length,
                                        struct chat_server_line *line);

/*
 * Parse "2026-12-02T07:48:43.123Z" (UTC, milliseconds) into milliseconds
 * since the epoch. Returns 0 or -EINVAL.
 */
int chat_time_parse(const char *text, size_t length, int64_t *time_ms);

/*
 * Write the readable form of a parsed line and a NUL into out (no line end):
 * "[hh:mm] name: text" for MSG and HIST (hh:mm in local time), "* name
 * joined", "* name left", "* online: a b", "* text" for OK, "* hello, name",
 * "! reason" for ERR, "* bye" or "* bye: reason" for BYE, other lines as
 * they came. Control characters (C0, DEL) become '?', so a server cannot
 * steer the terminal. Returns the length, or 0 for lines that are not shown
 * (TOKEN, NAME?, PASSWORD?: the session turns prompts into its own).
 */
size_t chat_client_display(const struct chat_server_line *line, char *out, size_t size);

/* True if text is 1 to CHAT_TOKEN_MAX characters from [A-Za-z0-9_-]. */
bool chat_token_valid(const char *text, size_t length);

/* True if an ERR reason refuses a token ("unknown token", "expired token", "invalid token"). */
bool chat_error_is_token_refused(const char *reason, size_t length);

/*
 * The file name echocat keeps a server's token under: "HOST-PORT.token",
 * with HOST lowercased, every byte outside [a-z0-9._-] (and a leading '.')
 * replaced by '_', so any host makes one plain file name. Returns its length,
 * or -ENAMETOOLONG if it does not fit in size (NUL included) or passes 255 bytes.
 */
int chat_token_file_name(const char *host, const char *port, char *out, size_t size);

#endif
