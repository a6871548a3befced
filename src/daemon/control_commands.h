#ifndef ECHOD_CONTROL_COMMANDS_H
#define ECHOD_CONTROL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "control_host.h"
#include "frame.h"

/*
 * The control commands (status, pause, resume, shutdown, reload, logs,
 * clear-logs, stats, and the chat's forget-identities, users, kick): one
 * request line in, one reply out, whichever channel it came by (the control
 * socket or the console). A request line may start with "--json" for a JSON
 * reply. docs/control.md is the reference.
 */

/* A reply payload: text starting with "ok" or "error", or a JSON object. */
struct control_reply {
        char text[FRAME_PAYLOAD_MAX + 1];
        size_t length;
        bool full; /* something did not fit and was left out */
};

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

/* Run one request line and write its reply. Never fails: errors are replies. */
void control_execute(const struct control_host *host, const struct control_caller *caller,
                     const char *line, struct control_reply *reply,
                     struct control_outcome *outcome);

/* The reply for a request the channel refused itself ("access denied", "frame too large"). */
void control_error_reply(bool json, const char *reason, struct control_reply *reply);

/* One streamed record for a "logs -f" follower: the line, or {"record": "..."}. */
void control_format_record(bool json, const char *line, struct control_reply *reply);

/* The commands with a line of help each, for "help" and the console. */
extern const char control_help_text[];

#endif
