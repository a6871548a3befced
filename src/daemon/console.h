#ifndef ECHOD_CONSOLE_H
#define ECHOD_CONSOLE_H

#include <ev.h>

#include "control_host.h"

/*
 * echod --console: the control commands typed on the terminal echod runs
 * in, read on the loop (one line per wake-up, so serving never waits for
 * the operator) and answered on stdout.
 */

struct console;

/* Start reading commands from stdin. Returns 0, -ENOTTY if stdin is not a terminal, or -errno. */
int console_start(struct console **out, struct ev_loop *loop, const struct control_host *host);

/* Stop reading and free (NULL is fine). */
void console_free(struct console *console);

#endif
