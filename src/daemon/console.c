#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control_commands.h"

/* The longest command line taken; longer ones are refused whole. */
#define CONSOLE_LINE_MAX 1024

struct console {
        struct ev_loop *loop;
        const struct control_host *host;
        ev_io read_watcher;
        char line[CONSOLE_LINE_MAX];
        size_t length;
        bool overlong; /* the line being read went past CONSOLE_LINE_MAX */
        struct control_reply reply;
};

static void print(const char *text, size_t length)
{
        fwrite(text, 1, length, stdout);
        fputc('\n', stdout);
        fflush(stdout);
}

static void run_line(struct console *console)
{
        struct control_caller caller = {.uid = getuid(), .pid = getpid(), .channel = "console"};
        struct control_outcome outcome;

        console->line[console->length] = '\0';
        if (console->overlong) {
                control_error_reply(false, "line too long", &console->reply);
        } else if (strspn(console->line, " \t\r") == console->length) {
                return; /* an empty line: nothing asked */
        } else {
                control_execute(console->host, &caller, console->line, &console->reply, &outcome);
                /* Records already go to this terminal (stderr); -f has nothing to add. */
                if (outcome.follow)
                        fputs("(on the console, new records appear on stderr as they come)\n",
                              stdout);
        }
        print(console->reply.text, console->reply.length);
}

static void on_readable(struct ev_loop *loop, ev_io *watcher, int revents)
{
        struct console *console = watcher->data;
        char input[512];
        ssize_t n;

        (void)revents;
        /* Readable, so one read() does not block (a terminal gives at most a line). */
        n = read(watcher->fd, input, sizeof(input));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                /* End of input (Ctrl-D) or a hung-up terminal: serving goes on. */
                ev_ref(loop); /* balances the ev_unref() of console_start */
                ev_io_stop(loop, watcher);
                return;
        }
        for (ssize_t i = 0; i < n; i++) {
                if (input[i] == '\n') {
                        run_line(console);
                        console->length = 0;
                        console->overlong = false;
                } else if (console->length + 1 < sizeof(console->line)) {
                        console->line[console->length++] = input[i];
                } else {
                        console->overlong = true;
                }
        }
}

int console_start(struct console **out, struct ev_loop *loop, const struct control_host *host)
{
        struct console *console;

        if (!isatty(STDIN_FILENO))
                return -ENOTTY;
        console = calloc(1, sizeof(*console));
        if (!console)
                return -ENOMEM;
        console->loop = loop;
        console->host = host;
        ev_io_init(&console->read_watcher, on_readable, STDIN_FILENO, EV_READ);
        console->read_watcher.data = console;
        ev_io_start(loop, &console->read_watcher);
        /* The console does not keep echod running by itself. */
        ev_unref(loop);
        fputs("echod console: type help for the commands\n", stdout);
        fflush(stdout);
        *out = console;
        return 0;
}

void console_free(struct console *console)
{
        if (!console)
                return;
        if (ev_is_active(&console->read_watcher)) {
                ev_ref(console->loop);
                ev_io_stop(console->loop, &console->read_watcher);
        }
        free(console);
}
