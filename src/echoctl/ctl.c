#include "ctl.h"

#include <errno.h>
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

/* Edit distance of a and b (both short), for "did you mean". */
static size_t distance(const char *a, const char *b)
{
        size_t row[32], lb = strlen(b);

        if (strlen(a) >= 32 || lb >= 32)
                return 32;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; a[i - 1]; i++) {
                size_t diagonal = row[0];

                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t above = row[j], best = diagonal + (a[i - 1] != b[j - 1]);

                        if (above + 1 < best)
                                best = above + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        diagonal = above;
                        row[j] = best;
                }
        }
        return row[lb];
}

/* "unknown command 'X'", with the commands it may have meant (a prefix, or two edits away). */
static int unknown_command(const char *word, char *error, size_t size)
{
        size_t length = (size_t)snprintf(error, size, "unknown command '%.64s'", word);
        int found = 0;

        for (size_t i = 0; commands[i] && length < size; i++) {
                bool prefix = strlen(word) >= 2 && strncmp(commands[i], word, strlen(word)) == 0;

                if (!prefix && distance(word, commands[i]) > 2)
                        continue;
                length += (size_t)snprintf(error + length, size - length, "%s'%s'",
                                           found ? " or " : " (did you mean ", commands[i]);
                found++;
        }
        if (found && length < size)
                snprintf(error + length, size - length, "?)");
        else if (length < size)
                snprintf(error + length, size - length, " (try 'echoctl help' or --help)");
        return -EINVAL;
}

/*
 * One of echoctl's own options at argv[*i], wherever it stands on the line:
 * 1 if it was one (and *i is past its value), 0 if not, -EINVAL with a
 * reason. The command's own options (logs -n N -f) are not echoctl's, so
 * they pass through to echod.
 */
static int own_option(int argc, char **argv, int *i, struct ctl_args *args, char *error,
                      size_t size)
{
        const char *word = argv[*i];

        if (strcmp(word, "-j") == 0 || strcmp(word, "--json") == 0) {
                args->json = true;
        } else if (strcmp(word, "-h") == 0 || strcmp(word, "--help") == 0) {
                args->help = true;
        } else if (strcmp(word, "-V") == 0 || strcmp(word, "--version") == 0) {
                args->version = true;
        } else if (strncmp(word, "--socket=", 9) == 0) {
                args->socket_path = word + 9;
        } else if (strcmp(word, "-s") == 0 || strcmp(word, "--socket") == 0) {
                if (*i + 1 >= argc)
                        return cli_error(error, size, "option '%s' needs a value", word);
                args->socket_path = argv[++*i];
        } else {
                return 0;
        }
        return 1;
}

int ctl_parse_args(int argc, char **argv, struct ctl_args *args, char *error, size_t size)
{
        const char *words[CTL_REQUEST_MAX / 2];
        size_t count = 0, length;
        bool known = false, literal = false;

        memset(args, 0, sizeof(*args));
        /* --json first, wherever it is, so that even a usage error can answer in JSON. */
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--json") == 0)
                        args->json = true;
        for (int i = 1; i < argc; i++) {
                int r = 0;

                if (!literal && strcmp(argv[i], "--") == 0) {
                        literal = true;
                        continue;
                }
                if (!literal)
                        r = own_option(argc, argv, &i, args, error, size);
                if (r < 0)
                        return r;
                if (r > 0) {
                        if (args->help || args->version)
                                return 0;
                        continue;
                }
                /* Before the command, any other option is unknown; after it, the command's. */
                if (!literal && count == 0 && argv[i][0] == '-')
                        return cli_error(error, size, "unknown option '%.64s'", argv[i]);
                if (count == sizeof(words) / sizeof(words[0]))
                        return cli_error(error, size, "command line too long");
                words[count++] = argv[i];
        }
        if (count == 0)
                return cli_error(error, size, "no command given (try 'echoctl help' or --help)");
        for (size_t i = 0; commands[i]; i++)
                known = known || strcmp(words[0], commands[i]) == 0;
        if (!known)
                return unknown_command(words[0], error, size);
        if (args->socket_path && strlen(args->socket_path) >= CTL_PATH_MAX)
                return cli_error(error, size, "--socket: path too long (%d bytes at most)",
                                 CTL_PATH_MAX - 1);
        length = (size_t)snprintf(args->request, sizeof(args->request), "%s",
                                  args->json ? "--json" : "");
        for (size_t i = 0; i < count && length < sizeof(args->request); i++) {
                if (strpbrk(words[i], " \t\r\n") || words[i][0] == '\0')
                        return cli_error(error, size, "argument '%.64s': blanks are not allowed",
                                         words[i]);
                length += (size_t)snprintf(args->request + length, sizeof(args->request) - length,
                                           "%s%s", length ? " " : "", words[i]);
                if (strcmp(words[0], "logs") == 0 &&
                    (strcmp(words[i], "-f") == 0 || strcmp(words[i], "--follow") == 0))
                        args->follow = true;
        }
        if (length >= sizeof(args->request))
                return cli_error(error, size, "command line too long");
        return 0;
}

bool ctl_reply_usage(const char *payload)
{
        static const char text[] = "error usage:", json[] = "{\"ok\":false,\"error\":\"usage:";

        return strncmp(payload, text, sizeof(text) - 1) == 0 ||
               strncmp(payload, json, sizeof(json) - 1) == 0;
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
               "2 usage error (echoctl's or the daemon's \"usage:\"). With --json, echoctl's\n"
               "own errors are JSON on stdout too. See echoctl(8).\n");
}
