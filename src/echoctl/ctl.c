#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

/* The commands echod knows; anything else is a usage error here already. */
static const char *const commands[] = {
    "status", "stats",      "pause",
    "resume", "shutdown",   "reload",
    "logs",   "clear-logs", "forget-identities",
    "users",  "kick",       "help",
    NULL,
};

int ctl_parse_args(int argc, char **argv, struct ctl_args *args, char *error, size_t size)
{
        static const struct option options[] = {
            {"socket", required_argument, NULL, 's'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {NULL, 0, NULL, 0},
        };
        size_t length;
        bool known = false;
        int option;

        memset(args, 0, sizeof(*args));
        optind = 0;
        opterr = 0;
        /* "+": options end at the command, so "logs -n 5" keeps its own. */
        while ((option = getopt_long(argc, argv, "+:s:jhV", options, NULL)) != -1) {
                switch (option) {
                case 's':
                        args->socket_path = optarg;
                        break;
                case 'j':
                        args->json = true;
                        break;
                case 'h':
                        args->help = true;
                        return 0;
                case 'V':
                        args->version = true;
                        return 0;
                case ':':
                        snprintf(error, size, "option '%s' needs a value", argv[optind - 1]);
                        return -EINVAL;
                default:
                        snprintf(error, size, "unknown option '%s'", argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind >= argc) {
                snprintf(error, size, "no command given (try 'echoctl help' or --help)");
                return -EINVAL;
        }
        for (size_t i = 0; commands[i]; i++)
                known = known || strcmp(argv[optind], commands[i]) == 0;
        if (!known) {
                snprintf(error, size, "unknown command '%s'", argv[optind]);
                return -EINVAL;
        }
        if (args->socket_path && strlen(args->socket_path) >= CTL_PATH_MAX) {
                snprintf(error, size, "--socket: path too long (%d bytes at most)",
                         CTL_PATH_MAX - 1);
                return -EINVAL;
        }
        length = (size_t)snprintf(args->request, sizeof(args->request), "%s",
                                  args->json ? "--json" : "");
        for (int i = optind; i < argc && length < sizeof(args->request); i++) {
                if (strpbrk(argv[i], " \t\r\n") || argv[i][0] == '\0') {
                        snprintf(error, size, "argument '%s': blanks are not allowed", argv[i]);
                        return -EINVAL;
                }
                length += (size_t)snprintf(args->request + length, sizeof(args->request) - length,
                                           "%s%s", length ? " " : "", argv[i]);
                if (strcmp(argv[optind], "logs") == 0 &&
                    (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0))
                        args->follow = true;
        }
        if (length >= sizeof(args->request)) {
                snprintf(error, size, "command line too long");
                return -EINVAL;
        }
        return 0;
}

static bool exists(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0;
}

/* False when connecting shows that nobody accepts on path: no file, or a stale one. */
static bool answers(const char *path)
{
        int fd = ctl_connect(path);

        if (fd >= 0) {
                close(fd);
                return true;
        }
        return fd != -ECONNREFUSED && fd != -ENOENT;
}

int ctl_find_socket(char *path, size_t size)
{
        const char *runtime = getenv("XDG_RUNTIME_DIR");
        char user[CTL_PATH_MAX + 16] = "";
        bool user_exists;

        if (runtime && runtime[0] == '/')
                snprintf(user, sizeof(user), "%s/echod/control", runtime);
        user_exists = user[0] && exists(user);
        if (geteuid() != 0 && user_exists) {
                snprintf(path, size, "%s", user);
                return 0;
        }
        snprintf(path, size, "%s", CTL_SYSTEM_SOCKET);
        /*
         * A stale system socket file (an echod that was killed leaves it) does
         * not hide the user's echod: with one to fall back to, the system
         * socket is asked by connecting. Without one it is used as it is, and
         * the connect that follows says what is wrong.
         */
        if (exists(CTL_SYSTEM_SOCKET) && (!user_exists || answers(CTL_SYSTEM_SOCKET)))
                return 0;
        if (user_exists) {
                snprintf(path, size, "%s", user);
                return 0;
        }
        return -ENOENT;
}

int ctl_connect(const char *path)
{
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        int fd, r;

        if (strlen(path) >= sizeof(address.sun_path))
                return -ENAMETOOLONG;
        memcpy(address.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A daemon that stops answering must not hang a script; -EAGAIN tells. */
        struct timeval timeout = {.tv_sec = CTL_REPLY_TIMEOUT_SECONDS};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int ctl_send(int fd, const char *request)
{
        unsigned char frame[FRAME_HEADER_SIZE + CTL_REQUEST_MAX];
        int length = frame_encode(request, strlen(request), frame, sizeof(frame));
        size_t sent = 0;

        if (length < 0)
                return length;
        while (sent < (size_t)length) {
                ssize_t n = send(fd, frame + sent, (size_t)length - sent, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                sent += (size_t)n;
        }
        return 0;
}

int ctl_receive(int fd, struct frame_decoder *decoder)
{
        unsigned char byte_buffer[4096];

        for (;;) {
                /* Read no further than this frame: the next one stays in the socket. */
                size_t want =
                    frame_decoder_partial(decoder) && decoder->header_length == FRAME_HEADER_SIZE
                        ? decoder->payload_length - decoder->payload_received
                        : FRAME_HEADER_SIZE - decoder->header_length;
                size_t used;
                ssize_t n;
                int r;

                if (want == 0 || want > sizeof(byte_buffer))
                        want = want == 0 ? FRAME_HEADER_SIZE : sizeof(byte_buffer);
                n = recv(fd, byte_buffer, want, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return frame_decoder_partial(decoder) ? -EPROTO : 0;
                r = frame_decoder_feed(decoder, byte_buffer, (size_t)n, &used);
                if (r != FRAME_NEED_MORE)
                        return r;
        }
}

bool ctl_reply_ok(const char *payload)
{
        return strncmp(payload, "ok", 2) == 0
                   ? (payload[2] == '\0' || payload[2] == ' ' || payload[2] == '\n')
                   : strncmp(payload, "{\"ok\":true", 10) == 0;
}

bool ctl_reply_denied(const char *payload)
{
        return strcmp(payload, "error access denied") == 0 ||
               strstr(payload, "\"error\":\"access denied\"") != NULL;
}

void ctl_usage(void)
{
        printf("Usage: echoctl [--socket PATH] [--json] COMMAND [ARGS]\n"
               "Control a running echod through its control socket.\n"
               "\n"
               "Commands:\n"
               "  status                    version, uptime, services, sockets, connections\n"
               "  stats                     counters since start\n"
               "  pause [echo|chat|all]     stop accepting new connections\n"
               "  resume [echo|chat|all]    accept again\n"
               "  shutdown                  stop gracefully\n"
               "  reload                    reread the configuration (fails on a bad file)\n"
               "  logs [-n N] [-f]          recent log records; -f follows new ones\n"
               "  clear-logs                empty the daemon's records and its log file\n"
               "  forget-identities         chat: forget every address-to-name pair\n"
               "  users [remove NAME]       chat: list users, or remove one\n"
               "  kick NAME                 chat: end a user's sessions\n"
               "  help                      the daemon's own list\n"
               "\n"
               "  -s, --socket PATH   the control socket (default " CTL_SYSTEM_SOCKET ", or\n"
               "                      $XDG_RUNTIME_DIR/echod/control for a user's echod)\n"
               "  -j, --json          JSON replies, for scripts\n"
               "  -h, --help          show this help and exit\n"
               "  -V, --version       show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 the daemon answered an error or cannot be reached,\n"
               "2 usage error. See echoctl(8).\n");
}
