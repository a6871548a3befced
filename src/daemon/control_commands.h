#ifndef ECHOD_CONTROL_COMMANDS_H
#define ECHOD_CONTROL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "control_host.h"
#include "control_reply.h"

/*
 * The control commands (status, pause, resume, shutdown, reload, logs,
 * clear-logs, stats, and the chat's forget-identities, users, kick): one
 * request line in, one reply out, whichever channel it came by (the control
 * socket or the console). A request line may start with "--json" for a JSON
 * reply. docs/control.md is the reference.
 */

/* Who sent a request: logged with every action. */
struct control_caller {
        uid_t uid;
        pid_t pid;
        const char *channel; /* "socket" or "console" */
};

/* What the channel must do after sending the reply. */
struct control_outcome {
        bool json;   /* the request asked for JSON */
        bool follow; /* "logs -f": stream each new record (control_format_record) */
};

/* Run one request line and write its reply, sealed (control_reply.h). Never fails: errors are
 * replies. */
void control_execute(const struct control_host *host, const struct control_caller *caller,
                     const char *line, struct control_reply *reply,
                     struct control_outcome *outcome);

/* The commands with a line of help each, for "help" and the console. */
extern const char control_help_text[];

#endif
