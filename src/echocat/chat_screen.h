#ifndef ECHOD_CHAT_SCREEN_H
#define ECHOD_CHAT_SCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#include "chat_editor.h"

/*
 * The terminal of echocat --chat: raw-ish input (no canonical mode, no
 * echo; signals stay on, so ^C is SIGINT), and a prompt line at the bottom
 * that incoming lines are printed above. Printing erases the prompt line
 * (all the rows it wraps over), writes the line, and draws the prompt and
 * what was typed again, so typing is never overwritten. Output processing
 * is left as it was, so LF is written as CR LF by the terminal driver.
 */

struct chat_screen {
        int in_fd;
        int out_fd;
        struct termios saved;
        bool raw;
        /* The prompt before the typed text ("> ", "name: ", "password: "); never NULL. */
        const char *prompt;
        /* Typed text is not shown (password). */
        bool secret;
        /* Columns of the prompt line as drawn, to know how many rows to erase. */
        size_t drawn_columns;
};

/* Put the terminal in chat mode (termios of in_fd), keeping the old settings. 0 or -errno. */
int chat_screen_enter(struct chat_screen *screen, int in_fd, int out_fd);

/* Erase the prompt line and give the terminal its settings back; safe to call twice. */
void chat_screen_leave(struct chat_screen *screen);

/* Set the prompt (a string that outlives its use) and whether typing is hidden; redraws. */
int chat_screen_set_prompt(struct chat_screen *screen, const char *prompt, bool secret,
                           const struct chat_editor *editor);

/* Draw the prompt line again (after typing). 0 or -errno. */
int chat_screen_redraw(struct chat_screen *screen, const struct chat_editor *editor);

/* Print a line above the prompt line, then redraw the prompt and the typed text. 0 or -errno. */
int chat_screen_print(struct chat_screen *screen, const char *line, size_t length,
                      const struct chat_editor *editor);

/*
 * Enter was pressed: leave the typed line on screen as it is (the prompt
 * alone when secret), move to a new line, draw an empty prompt. 0 or -errno.
 */
int chat_screen_submitted(struct chat_screen *screen);

/* Ring the bell. */
void chat_screen_bell(struct chat_screen *screen);

#endif
