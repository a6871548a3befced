#ifndef ECHOD_CHAT_EDITOR_H
#define ECHOD_CHAT_EDITOR_H

#include <stdbool.h>
#include <stddef.h>

#include "chat_line.h"

/*
 * The line being typed in echocat --chat, as a pure state machine: one byte
 * from the terminal in, what to do about it out. No I/O, so every key is
 * unit-tested; chat_screen.c draws the result.
 *
 * Keys: printable characters (UTF-8 bytes) are added; Backspace (DEL or ^H)
 * removes the last character, ^W the last word, ^U the whole line; Enter
 * (CR or LF) submits; ^D on an empty line ends the input; ^L redraws.
 * Escape sequences (arrow and function keys) and other control characters
 * are ignored: there is no cursor movement within the line.
 */

/* A line holds at most what the server takes (CHAT_LINE_MAX bytes). */
#define CHAT_EDITOR_MAX CHAT_LINE_MAX

enum chat_editor_action {
        CHAT_EDIT_NONE = 0, /* nothing to show */
        CHAT_EDIT_CHANGED,  /* the line changed: redraw it */
        CHAT_EDIT_SUBMIT,   /* Enter: the line is complete (take it, then clear) */
        CHAT_EDIT_END,      /* ^D on an empty line: end of input */
        CHAT_EDIT_BELL,     /* refused: the line is full, or nothing to erase */
};

struct chat_editor {
        char text[CHAT_EDITOR_MAX + 1];
        size_t length;
        /* Inside an escape sequence: 1 after ESC, 2 inside "ESC [" or "ESC O". */
        int escape;
};

/* Take one byte typed. Returns what the caller should do. */
enum chat_editor_action chat_editor_key(struct chat_editor *editor, unsigned char byte);

/* Empty the line (after it was submitted). */
void chat_editor_clear(struct chat_editor *editor);

/* Terminal columns of text, counting one per UTF-8 character (wide characters are not told apart).
 */
size_t chat_editor_columns(const char *text, size_t length);

#endif
