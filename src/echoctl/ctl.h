#ifndef ECHOCTL_CTL_H
#define ECHOCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "frame.h"

/*
 * echoctl: one request to echod's control socket, its reply (or, for
 * "logs -f", the records that follow) printed. The wire format is
 * src/proto/frame.h, the same codec the daemon uses.
 */

#define CTL_SYSTEM_SOCKET "/run/echod/control"
#define CTL_REQUEST_MAX   1024
#define CTL_PATH_MAX      108

struct ctl_args {
        const char *socket_path; /* --socket, or NULL: find it */
        bool json;
        bool help;
        bool version;
        char request[CTL_REQUEST_MAX]; /* the command line sent: ["--json "]COMMAND [ARGS] */
        bool follow;                   /* "logs ... -f": read records until the daemon closes */
};

/*
 * Parse echoctl's arguments: its own options anywhere (before or after the
 * command; "--" ends them), the command and its arguments. Returns 0, or
 * -EINVAL with a one-line reason in error (a usage error; args->json is
 * set if --json was anywhere on the line, so the error can be JSON).
 */
int ctl_parse_args(int argc, char **argv, struct ctl_args *args, char *error, size_t size);

/*
 * The socket to talk to without --socket: for root the system one first
 * (unless nobody accepts on it and the user's exists), for others their own
 * standalone daemon's ($XDG_RUNTIME_DIR/echod/control) first, whichever
 * exists. Writes it into path; returns 0, or -ENOENT (then path holds the
 * one tried first).
 */
int ctl_find_socket(char *path, size_t size);

/* How long echoctl waits for a reply (not for "logs -f" records). */
#define CTL_REPLY_TIMEOUT_SECONDS 60

/* Connect to the control socket at path. Returns the fd or -errno. */
int ctl_connect(const char *path);

/* Send one request as a frame. 0 or -errno (-EPIPE: the daemon closed first). */
int ctl_send(int fd, const char *request);

/*
 * Read the next frame into decoder (after frame_decoder_reset()). Returns
 * FRAME_READY, 0 at a clean end of stream, -EPROTO if the stream ended
 * inside a frame, or -errno.
 */
int ctl_receive(int fd, struct frame_decoder *decoder);

/* True if a reply payload says ok ("ok ..." or a JSON object with "ok":true). */
bool ctl_reply_ok(const char *payload);

/* True if the reply is the daemon's usage error ("error usage: ..."), which exits 2. */
bool ctl_reply_usage(const char *payload);

/* True if the reply is the daemon's refusal of our uid. */
bool ctl_reply_denied(const char *payload);

/* The --help text. */
void ctl_usage(void);

#endif
