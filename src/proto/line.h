#ifndef ECHOD_LINE_H
#define ECHOD_LINE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The line framing of echocat's interactive session, as a codec: typed bytes
 * go in, the next line to send comes out. No I/O; the session reads into the
 * space this gives and sends what it returns.
 *
 * A line ends with LF (a CR before it stays part of the line: it is echoed
 * too). A line longer than the buffer goes out in buffer-sized pieces, and
 * at end of input a last line without LF goes out as it is. Any byte,
 * NUL included, is data.
 */

/* The longest piece sent as one message. */
#define LINE_MAX_BYTES 4096

struct line_splitter {
        char data[LINE_MAX_BYTES];
        size_t length;
};

/* Where to append input; *room is how many bytes fit (0: take a line out first). */
char *line_splitter_space(struct line_splitter *splitter, size_t *room);

/* Record that n bytes were written into the space. */
void line_splitter_commit(struct line_splitter *splitter, size_t n);

/*
 * The length of the next complete line at the start of the buffer (LF
 * included), or of a piece that fills the buffer, or with at_end of whatever
 * is left; 0 when more input is needed (or nothing is left).
 */
size_t line_splitter_next(const struct line_splitter *splitter, bool at_end);

/* Drop the first n bytes (those sent). */
void line_splitter_consume(struct line_splitter *splitter, size_t n);

/* True if the line is the word "exit", with optional blanks and line end around it. */
bool line_is_exit(const char *line, size_t length);

#endif
