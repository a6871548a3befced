#include "chat_screen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "session.h"

/* The most one drawing writes: an erase, a shown line, a prompt and a full typed line. */
#define SCREEN_OUTPUT_MAX (64 + 2 * 4096 + 64 + CHAT_EDITOR_MAX)

struct output {
        char data[SCREEN_OUTPUT_MAX];
        size_t length;
};

static void add(struct output *out, const char *text, size_t length)
{
        if (length > sizeof(out->data) - out->length)
                length = sizeof(out->data) - out->length;
        memcpy(out->data + out->length, text, length);
        out->length += length;
}

static void add_string(struct output *out, const char *text)
{
        add(out, text, strlen(text));
}

static size_t terminal_width(const struct chat_screen *screen)
{
        struct winsize size;

        if (ioctl(screen->out_fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
                return size.ws_col;
        return 80;
}

/* Go to the start of the prompt line's first row and erase down to the end of the screen. */
static void erase_prompt_line(struct chat_screen *screen, struct output *out)
{
        size_t width = terminal_width(screen);
        /* With N columns drawn the cursor is on row (N - 1) / width (a full row wraps late). */
        size_t rows_up = screen->drawn_columns > 0 ? (screen->drawn_columns - 1) / width : 0;
        char up[32];

        add_string(out, "\r");
        if (rows_up > 0) {
                snprintf(up, sizeof(up), "\x1b[%zuA", rows_up);
                add_string(out, up);
        }
        add_string(out, "\x1b[J");
        screen->drawn_columns = 0;
}

static void draw_prompt_line(struct chat_screen *screen, struct output *out,
                             const struct chat_editor *editor)
{
        size_t prompt_length = strlen(screen->prompt);

        add(out, screen->prompt, prompt_length);
        screen->drawn_columns = chat_editor_columns(screen->prompt, prompt_length);
        if (!screen->secret && editor) {
                add(out, editor->text, editor->length);
                screen->drawn_columns += chat_editor_columns(editor->text, editor->length);
        }
}

static int flush(struct chat_screen *screen, const struct output *out)
{
        return session_write_all(screen->out_fd, out->data, out->length);
}

int chat_screen_enter(struct chat_screen *screen, int in_fd, int out_fd)
{
        struct termios raw;

        screen->in_fd = in_fd;
        screen->out_fd = out_fd;
        screen->prompt = "";
        screen->secret = false;
        screen->drawn_columns = 0;
        if (tcgetattr(in_fd, &screen->saved) < 0)
                return -errno;
        raw = screen->saved;
        /*
         * Bytes as they are typed, not echoed: the prompt line is drawn here.
         * ISIG stays, so ^C and ^Z are signals the session handles; ^\ would
         * dump core with the terminal left raw, so it is switched off.
         */
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        raw.c_cc[VQUIT] = _POSIX_VDISABLE;
        if (tcsetattr(in_fd, TCSADRAIN, &raw) < 0)
                return -errno;
        screen->raw = true;
        return 0;
}

void chat_screen_leave(struct chat_screen *screen)
{
        struct output out;

        if (!screen->raw)
                return;
        out.length = 0;
        erase_prompt_line(screen, &out);
        (void)flush(screen, &out);
        (void)tcsetattr(screen->in_fd, TCSADRAIN, &screen->saved);
        screen->raw = false;
}

int chat_screen_set_prompt(struct chat_screen *screen, const char *prompt, bool secret,
                           const struct chat_editor *editor)
{
        if (strcmp(screen->prompt, prompt) == 0 && screen->secret == secret)
                return 0;
        screen->prompt = prompt;
        screen->secret = secret;
        return chat_screen_redraw(screen, editor);
}

int chat_screen_redraw(struct chat_screen *screen, const struct chat_editor *editor)
{
        struct output out;

        out.length = 0;
        erase_prompt_line(screen, &out);
        draw_prompt_line(screen, &out, editor);
        return flush(screen, &out);
}

int chat_screen_print(struct chat_screen *screen, const char *line, size_t length,
                      const struct chat_editor *editor)
{
        struct output out;

        out.length = 0;
        erase_prompt_line(screen, &out);
        add(&out, line, length);
        add_string(&out, "\n");
        draw_prompt_line(screen, &out, editor);
        return flush(screen, &out);
}

int chat_screen_submitted(struct chat_screen *screen)
{
        struct output out;

        out.length = 0;
        add_string(&out, "\n");
        screen->drawn_columns = 0;
        draw_prompt_line(screen, &out, NULL);
        return flush(screen, &out);
}

void chat_screen_bell(struct chat_screen *screen)
{
        (void)session_write_all(screen->out_fd, "\a", 1);
}
