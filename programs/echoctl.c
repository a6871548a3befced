/*
 * echoctl: send one command to echod's control socket and print the reply
 * (src/echoctl/ctl.c does the work). Exit 0 on "ok", 1 on "error" or when
 * the daemon cannot be reached, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "frame.h"

static int unreachable(const char *path, int error)
{
        if (error == -ENOENT || error == -ECONNREFUSED)
                fprintf(stderr, "echoctl: echod is not running (no control socket answers at %s)\n",
                        path);
        else if (error == -EACCES || error == -EPERM)
                fprintf(stderr,
                        "echoctl: access denied to %s (root, echod's user or its group only)\n",
                        path);
        else
                fprintf(stderr, "echoctl: cannot reach echod at %s: %s\n", path, strerror(-error));
        return EXIT_FAILED;
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
        return ok ? EXIT_OK : EXIT_FAILED;
}

int main(int argc, char **argv)
{
        struct ctl_args args;
        struct frame_decoder *decoder;
        char error[256], path[CTL_PATH_MAX];
        int fd, r, status;

        if (ctl_parse_args(argc, argv, &args, error, sizeof(error)) < 0)
                return cli_usage_error("echoctl", "%s", error);
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
                fprintf(stderr, "echoctl: out of memory\n");
                return EXIT_FAILED;
        }
        frame_decoder_init(decoder);
        /* A refusal may be sent before the request is read; the reply still tells. */
        r = ctl_send(fd, args.request);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                fprintf(stderr, "echoctl: cannot send to echod at %s: %s\n", path, strerror(-r));
                free(decoder);
                return EXIT_FAILED;
        }
        r = ctl_receive(fd, decoder);
        if (r != FRAME_READY) {
                fprintf(stderr, "echoctl: %s\n",
                        r == -EAGAIN                 ? "no reply from echod in time"
                        : r == 0 || r == -ECONNRESET ? "echod closed the connection without a reply"
                        : r == -EPROTO               ? "echod's reply was cut short"
                                                     : "echod's reply is not a valid frame");
                free(decoder);
                return EXIT_FAILED;
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
