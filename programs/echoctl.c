/*
 * echoctl: send one command to echod's control socket and print the reply
 * (src/echoctl/ctl.c does the work). Exit 0 on "ok", 1 on "error" or when
 * the daemon cannot be reached, 2 on a usage error (ours or the daemon's).
 * With --json, echoctl's own errors are JSON objects on stdout as well, as
 * the daemon's are, so a script reads one format.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "frame.h"
#include "json.h"

static bool json_errors;

/* echoctl's own failure: "echoctl: REASON" on stderr, or {"ok":false,...} on stdout with --json. */
static int fail(int status, const char *format, ...) __attribute__((format(printf, 2, 3)));

static int fail(int status, const char *format, ...)
{
        char reason[512];
        va_list ap;

        va_start(ap, format);
        vsnprintf(reason, sizeof(reason), format, ap);
        va_end(ap);
        if (json_errors) {
                fputs("{\"ok\":false,\"error\":", stdout);
                json_write_string(stdout, reason);
                printf(",\"exit\":%d}\n", status);
                fflush(stdout);
        } else if (status == EXIT_USAGE) {
                cli_usage_error("echoctl", "%s", reason);
        } else {
                fprintf(stderr, "echoctl: %s\n", reason);
        }
        return status;
}

static int unreachable(const char *path, int error)
{
        if (error == -ENOENT || error == -ECONNREFUSED)
                return fail(EXIT_FAILED, "echod is not running (no control socket answers at %s)",
                            path);
        if (error == -EACCES || error == -EPERM)
                return fail(EXIT_FAILED,
                            "access denied to %s (root, echod's user or its group only)", path);
        return fail(EXIT_FAILED, "cannot reach echod at %s: %s", path, strerror(-error));
}

static int print_reply(const char *payload, bool json)
{
        bool ok = ctl_reply_ok(payload);

        if (ctl_reply_denied(payload))
                fprintf(stderr, "echoctl: access denied by echod (root, echod's user or its group "
                                "only)\n");
        if (json || ok)
                printf("%s\n", payload);
        else
                fprintf(stderr, "%s\n", payload);
        fflush(stdout);
        if (ok)
                return EXIT_OK;
        return ctl_reply_usage(payload) ? EXIT_USAGE : EXIT_FAILED;
}

int main(int argc, char **argv)
{
        struct ctl_args args;
        struct frame_decoder *decoder;
        char error[256], path[CTL_PATH_MAX];
        int fd, r, status;

        r = ctl_parse_args(argc, argv, &args, error, sizeof(error));
        json_errors = args.json;
        if (r < 0)
                return fail(EXIT_USAGE, "%s", error);
        if (args.help) {
                ctl_usage();
                return EXIT_OK;
        }
        if (args.version)
                return cli_print_version("echoctl");
        if (args.socket_path)
                snprintf(path, sizeof(path), "%s", args.socket_path);
        else if (ctl_find_socket(path, sizeof(path)) < 0)
                return unreachable(path, -ENOENT);

        fd = ctl_connect(path);
        if (fd < 0)
                return unreachable(path, fd);
        decoder = malloc(sizeof(*decoder));
        if (!decoder) {
                close(fd);
                return fail(EXIT_FAILED, "out of memory");
        }
        frame_decoder_init(decoder);
        /* A refusal may be sent before the request is read; the reply still tells. */
        r = ctl_send(fd, args.request);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                free(decoder);
                close(fd);
                return fail(EXIT_FAILED, "cannot send to echod at %s: %s", path, strerror(-r));
        }
        r = ctl_receive(fd, decoder);
        if (r != FRAME_READY) {
                free(decoder);
                close(fd);
                return fail(EXIT_FAILED, "%s",
                            r == -EAGAIN ? "no reply from echod in time"
                            : r == 0 || r == -ECONNRESET
                                ? "echod closed the connection without a reply"
                            : r == -EPROTO ? "echod's reply was cut short"
                                           : "echod's reply is not a valid frame");
        }
        status = print_reply(frame_decoder_payload(decoder, NULL), args.json);
        if (args.follow) {
                /* Records come when they come. */
                struct timeval none = {0};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
        }
        /* "logs -f": every record that follows, until echod closes or we are interrupted. */
        while (status == EXIT_OK && args.follow) {
                frame_decoder_reset(decoder);
                r = ctl_receive(fd, decoder);
                if (r != FRAME_READY)
                        break;
                printf("%s\n", frame_decoder_payload(decoder, NULL));
                fflush(stdout);
        }
        free(decoder);
        close(fd);
        return status;
}
