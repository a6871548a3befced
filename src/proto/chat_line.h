#ifndef ECHOD_CHAT_LINE_H
#define ECHOD_CHAT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The chat wire codec: bytes in, lines out, server lines written into a
 * caller's buffer. No sockets and no event loop, so every rule here is
 * unit-tested and fuzzed on plain bytes.
 *
 * A client line is UTF-8 text ended by LF or CRLF. Its text (without the
 * line end) is at most CHAT_LINE_MAX bytes.
 */

#define CHAT_LINE_MAX 1024

/*
 * A name: 1 to CHAT_NAME_MAX characters from [A-Za-z0-9_.-]. A new name is
 * stricter (chat_name_check_new()); names are compared without regard to
 * case.
 */
#define CHAT_NAME_MAX 32

/* "2026-12-02T07:48:43.123Z" and its NUL. */
#define CHAT_TIME_TEXT_SIZE 25

/*
 * The longest server line chat_line_format_message() writes: a kind word of
 * up to CHAT_KIND_MAX bytes, the time, a name, the text and LF, plus a NUL.
 */
#define CHAT_KIND_MAX 8
#define CHAT_SERVER_LINE_MAX                                                                       \
        (CHAT_KIND_MAX + 1 + (CHAT_TIME_TEXT_SIZE - 1) + 1 + CHAT_NAME_MAX + 1 + CHAT_LINE_MAX + 2)

/* What chat_line_next() found. */
enum chat_line_result {
        CHAT_LINE_NEED_MORE = 0, /* every byte given was taken; no full line yet */
        CHAT_LINE_READY = 1,     /* a line is ready in *line */
        CHAT_LINE_TOO_LONG = 2,  /* a line passed CHAT_LINE_MAX; its bytes up to LF are dropped */
};

/*
 * What chat_line_check() found wrong with a line's text, if anything. The
 * values differ from chat_line_result's so chat_line_error_text() names both.
 */
enum chat_text_result {
        CHAT_TEXT_OK = 0,
        CHAT_TEXT_INVALID_UTF8 = 16,
        CHAT_TEXT_CONTROL = 17, /* C0 (including TAB, CR and NUL), DEL or C1 */
        /* Bidi controls, line and paragraph separators, the BOM (chat_text_check_message()) */
        CHAT_TEXT_FORMAT = 18,
};

/*
 * The incremental line splitter. It owns one fixed buffer, so a connection's
 * read side never holds more than CHAT_LINE_MAX + 2 bytes of a line however
 * its peer splits or stretches the stream.
 */
struct chat_line_reader {
        /* Text, then room for a CR that may turn out to end the line, then a NUL. */
        char text[CHAT_LINE_MAX + 2];
        size_t length;
        bool ready;      /* text holds a complete line not yet taken */
        bool discarding; /* an overlong line was reported; drop bytes up to LF */
};

/* A line handed out by the reader; it points into the reader's buffer. */
struct chat_line {
        const char *text; /* NUL-terminated, though the text may hold NULs itself */
        size_t length;    /* bytes of text, without the line end; <= CHAT_LINE_MAX */
};

/* A client line split into a slash command and its argument. */
struct chat_command {
        const char *name; /* after the '/', up to the first space; not NUL-terminated */
        size_t name_length;
        const char *argument; /* after the spaces that follow the name; may be empty */
        size_t argument_length;
};

/* Set up an empty reader; it allocates nothing. */
void chat_line_reader_init(struct chat_line_reader *reader);

/*
 * Take bytes from data up to the end of the next line and set *used to how
 * many were taken. Returns CHAT_LINE_READY with *line set (valid until the
 * next call), CHAT_LINE_TOO_LONG once per overlong line, or
 * CHAT_LINE_NEED_MORE once all size bytes are taken. Call again with the
 * bytes after *used until it returns CHAT_LINE_NEED_MORE.
 */
enum chat_line_result chat_line_next(struct chat_line_reader *reader, const char *data, size_t size,
                                     size_t *used, struct chat_line *line);

/*
 * At end of input, hand out a last line that had no line end. Returns
 * CHAT_LINE_READY with *line set, or CHAT_LINE_NEED_MORE when nothing is left.
 */
enum chat_line_result chat_line_finish(struct chat_line_reader *reader, struct chat_line *line);

/* Check a line's text: UTF-8 (shortest form, no surrogates, <= U+10FFFF), no controls. */
enum chat_text_result chat_line_check(const char *text, size_t length);

/*
 * Check the text of a message, after chat_line_check(): it may not hold the
 * characters that make a line show other than it reads (bidi embeddings,
 * overrides, isolates and marks: U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069), break it in two (U+2028, U+2029) or hide in it (U+FEFF).
 * Returns CHAT_TEXT_OK or CHAT_TEXT_FORMAT; invalid UTF-8 is
 * CHAT_TEXT_INVALID_UTF8.
 */
enum chat_text_result chat_text_check_message(const char *text, size_t length);

/* The reason to send after "ERR " for a result of chat_line_next() or chat_line_check(). */
const char *chat_line_error_text(int result);

/* Check a name (as names are stored and sent). Returns 0 or -EINVAL. */
int chat_name_check(const char *name, size_t length);

/*
 * Check a name to register: a name, that starts with a letter, ends with a
 * letter or digit, and has no two of '_', '-', '.' in a row. Returns 0 or -EINVAL.
 */
int chat_name_check_new(const char *name, size_t length);

/*
 * Write a time given in milliseconds since the epoch as UTC ISO 8601 with
 * milliseconds ("2026-12-02T07:48:43.123Z") and a NUL. Returns its length
 * (24), -ENOSPC if size is below CHAT_TIME_TEXT_SIZE, or -ERANGE after year 9999.
 */
int chat_time_format(uint64_t time_ms, char *out, size_t size);

/*
 * Split a client line that starts with '/' into command and argument.
 * Returns 1 for a command, or 0 for a message: then command->argument and
 * argument_length hold the message text, with the first '/' of a line that
 * starts with "//" dropped so users can send text that starts with '/'.
 */
int chat_command_split(const char *text, size_t length, struct chat_command *command);

/* True if the command's name is exactly name. */
bool chat_command_is(const struct chat_command *command, const char *name);

/*
 * Write "KIND TIME NAME TEXT\n" (as MSG and HIST lines are) and a NUL into out.
 * Returns the length without the NUL, -EINVAL for a kind or name over its
 * maximum or text over CHAT_LINE_MAX, -ERANGE for a time past year 9999, or
 * -ENOSPC if out is too small (CHAT_SERVER_LINE_MAX always suffices).
 */
int chat_line_format_message(char *out, size_t size, const char *kind, uint64_t time_ms,
                             const char *name, const char *text, size_t text_length);

#endif
