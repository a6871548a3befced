#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "escape.h"
#include "file.h"
#include "log.h"
#include "redis_address.h"
#include "redis_auth.h"
#include "units.h"
#include "version.h"

/* A config file larger than this is a mistake, not a configuration. */
#define CONFIG_FILE_MAX (1024 * 1024)

void config_defaults(struct config *config)
{
        memset(config, 0, sizeof(*config));
        addr_parse_listen("7007", CONFIG_DEFAULT_ECHO_PORT, &config->echo[0]);
        config->echo_count = 1;
        config->echo_inherited = true;
        config->chat_inherited = true;
        config->log_level = LOG_INFO;
        config->max_connections = 4096;
        config->idle_timeout = 300;
        config->buffer_size = 64 * 1024;
        config->shutdown_timeout = 10;
        config->udp_rate = 100;
        config->udp_burst = 200;
        config->chat_history = 20;
        config->chat_history_max = 10000;
        config->chat_max_users = 1000;
        config->chat_max_pending = 256;
        config->chat_max_pending_per_address = 16;
        config->chat_login_timeout = 60;
        config->chat_token_idle = 7 * 86400;
        config->chat_token_lifetime = 30 * 86400;
        config->chat_rate = 5;
        config->chat_burst = 20;
        config->chat_workers = 2;
        config->chat_queue = 64;
        config->chat_output_max = 256 * 1024;
        config->udp_global_rate = 10000;
        config->socket_buffer = 64 * 1024;
}

/* A whole number in [min, max] for key. */
static int set_unsigned(const char *key, const char *value, unsigned min, unsigned max,
                        unsigned *out, char *error, size_t error_size)
{
        unsigned long number;

        if (units_parse_uint(value, min, max, &number) < 0)
                return cli_error(error, error_size,
                                 "%s: want a whole number from %u to %u, not '%s'", key, min, max,
                                 value);
        *out = (unsigned)number;
        return 0;
}

/* Seconds in [min, max] for key. */
static int set_seconds(const char *key, const char *value, double min, double max, double *out,
                       char *error, size_t error_size)
{
        if (units_parse_double(value, min, max, out) < 0)
                return cli_error(error, error_size, "%s: want seconds from %g to %g, not '%s'", key,
                                 min, max, value);
        return 0;
}

void config_fini(struct config *config)
{
        free(config->log_file);
        free(config->state_dir);
        free(config->config_path);
        free(config->control_path);
        free(config->chat_backend);
        free(config->chat_redis_user);
        free(config->chat_redis_password_file);
        config->chat_redis_user = NULL;
        config->chat_redis_password_file = NULL;
        config->control_path = NULL;
        config->chat_backend = NULL;
        config->log_file = NULL;
        config->state_dir = NULL;
        config->config_path = NULL;
}

static int parse_bool(const char *value, bool *out)
{
        static const char *const yes[] = {"yes", "true", "on", "1"};
        static const char *const no[] = {"no", "false", "off", "0"};

        for (size_t i = 0; i < 4; i++) {
                if (strcasecmp(value, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcasecmp(value, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* A number in [min, max]: the one parser (units.c), with one error for every reason. */
static int parse_number(const char *value, double min, double max, double *out)
{
        return units_parse_double(value, min, max, out) < 0 ? -EINVAL : 0;
}

/* A byte count with an optional binary suffix (K, KiB, M, ...) in [min, max]. */
static int parse_size(const char *value, size_t min, size_t max, size_t *out)
{
        uint64_t bytes;

        if (units_parse_size(value, &bytes) < 0 || bytes < min || bytes > max)
                return -EINVAL;
        *out = (size_t)bytes;
        return 0;
}

static int set_string(char **field, const char *value)
{
        char *copy = strdup(value);

        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

int config_set(struct config *config, const char *key, const char *value, char *error,
               size_t error_size)
{
        double number;
        int level;

        if (strcmp(key, "echo") == 0) {
                if (config->echo_inherited) {
                        config->echo_count = 0;
                        config->echo_inherited = false;
                }
                if (config->echo_count >= CONFIG_LISTEN_MAX)
                        return cli_error(error, error_size, "%s: more than 16 addresses at '%s'",
                                         key, value);
                if (addr_parse_listen(value, CONFIG_DEFAULT_ECHO_PORT,
                                      &config->echo[config->echo_count]) < 0)
                        return cli_error(
                            error, error_size,
                            "%s: bad address '%s' (want [udp:][ADDR:]PORT, IPv6 in brackets)", key,
                            value);
                config->echo_count++;
                return 0;
        }
        if (strcmp(key, "chat") == 0) {
                struct addr_spec *spec;

                /* As for echo: a source that names addresses replaces the earlier list. */
                if (config->chat_inherited) {
                        config->chat_count = 0;
                        config->chat_inherited = false;
                }
                spec = &config->chat[config->chat_count];
                if (config->chat_count >= CONFIG_LISTEN_MAX)
                        return cli_error(error, error_size, "%s: more than 16 addresses at '%s'",
                                         key, value);
                if (addr_parse_listen(value, CONFIG_DEFAULT_CHAT_PORT, spec) < 0 ||
                    spec->proto == ADDR_UDP)
                        return cli_error(
                            error, error_size,
                            "%s: bad address '%s' (want [ADDR:]PORT, IPv6 in brackets)", key,
                            value);
                config->chat_count++;
                return 0;
        }
        if (strcmp(key, "chat-backend") == 0) {
                struct redis_address address;

                if (strcmp(value, "sqlite") != 0 && redis_address_parse(value, &address) < 0)
                        return cli_error(error, error_size,
                                         "%s: unknown backend '%s' (want sqlite,"
                                         " redis://HOST[:PORT][/DB] or unix:PATH)",
                                         key, value);
                return set_string(&config->chat_backend, value);
        }
        if (strcmp(key, "chat-redis-user") == 0) {
                if (!value[0] || strlen(value) > REDIS_AUTH_USER_MAX || strpbrk(value, " \t\r\n"))
                        return cli_error(error, error_size,
                                         "%s: bad user '%s' (1 to %d characters, no spaces)", key,
                                         value, REDIS_AUTH_USER_MAX);
                return set_string(&config->chat_redis_user, value);
        }
        if (strcmp(key, "chat-redis-password-file") == 0) {
                if (!value[0] || strlen(value) >= REDIS_AUTH_PATH_MAX)
                        return cli_error(error, error_size, "%s: want a path or a credential name",
                                         key);
                return set_string(&config->chat_redis_password_file, value);
        }
        if (strcmp(key, "chat-history") == 0)
                return set_unsigned(key, value, 0, 1000, &config->chat_history, error, error_size);
        if (strcmp(key, "chat-history-max") == 0)
                return set_unsigned(key, value, 1, 10000000, &config->chat_history_max, error,
                                    error_size);
        if (strcmp(key, "chat-max-users") == 0)
                return set_unsigned(key, value, 1, 1000000, &config->chat_max_users, error,
                                    error_size);
        if (strcmp(key, "chat-max-pending") == 0)
                return set_unsigned(key, value, 1, 100000, &config->chat_max_pending, error,
                                    error_size);
        if (strcmp(key, "chat-max-pending-per-address") == 0)
                return set_unsigned(key, value, 1, 100000, &config->chat_max_pending_per_address,
                                    error, error_size);
        if (strcmp(key, "chat-login-timeout") == 0)
                return set_seconds(key, value, 1, 3600, &config->chat_login_timeout, error,
                                   error_size);
        if (strcmp(key, "chat-token-idle") == 0)
                return set_seconds(key, value, 1, 366 * 86400.0, &config->chat_token_idle, error,
                                   error_size);
        if (strcmp(key, "chat-token-lifetime") == 0)
                return set_seconds(key, value, 1, 3660 * 86400.0, &config->chat_token_lifetime,
                                   error, error_size);
        if (strcmp(key, "chat-rate") == 0) {
                if (parse_number(value, 0.01, 1e6, &config->chat_rate) < 0)
                        return cli_error(error, error_size,
                                         "%s: want messages per second from 0.01, not '%s'", key,
                                         value);
                return 0;
        }
        if (strcmp(key, "chat-burst") == 0) {
                if (parse_number(value, 1, 1e6, &config->chat_burst) < 0)
                        return cli_error(error, error_size,
                                         "%s: want a number from 1 to 1000000, not '%s'", key,
                                         value);
                return 0;
        }
        if (strcmp(key, "chat-workers") == 0)
                return set_unsigned(key, value, 1, 16, &config->chat_workers, error, error_size);
        if (strcmp(key, "chat-queue") == 0)
                return set_unsigned(key, value, 1, 4096, &config->chat_queue, error, error_size);
        if (strcmp(key, "chat-output-max") == 0) {
                if (parse_size(value, 16 * 1024, 64 * 1024 * 1024, &config->chat_output_max) < 0)
                        return cli_error(error, error_size,
                                         "%s: want bytes from 16K to 64M, not '%s'", key, value);
                return 0;
        }
        if (strcmp(key, "strict-port") == 0) {
                if (parse_bool(value, &config->strict_port) < 0)
                        return cli_error(error, error_size, "%s: not yes or no: '%s'", key, value);
                return 0;
        }
        if (strcmp(key, "log-level") == 0) {
                level = log_level_parse(value);
                if (level < 0)
                        return cli_error(
                            error, error_size,
                            "%s: unknown level '%s' (emerg alert crit err warning notice "
                            "info debug)",
                            key, value);
                config->log_level = level;
                return 0;
        }
        if (strcmp(key, "log-file") == 0)
                return set_string(&config->log_file, value);
        if (strcmp(key, "state-dir") == 0)
                return set_string(&config->state_dir, value);
        if (strcmp(key, "control") == 0) {
                if (value[0] != '/' && strcmp(value, "none") != 0)
                        return cli_error(error, error_size,
                                         "%s: want an absolute path or none, not '%s'", key, value);
                return set_string(&config->control_path, value);
        }
        if (strcmp(key, "max-connections") == 0) {
                if (parse_number(value, 1, 1000000, &number) < 0 || number != floor(number))
                        return cli_error(error, error_size,
                                         "%s: want a whole number from 1 to 1000000, not '%s'", key,
                                         value);
                config->max_connections = (unsigned)number;
                return 0;
        }
        if (strcmp(key, "idle-timeout") == 0) {
                if (parse_number(value, 0, 7 * 86400, &config->idle_timeout) < 0)
                        return cli_error(error, error_size,
                                         "%s: want seconds from 0 to 604800, not '%s'", key, value);
                return 0;
        }
        if (strcmp(key, "shutdown-timeout") == 0) {
                if (parse_number(value, 0, 3600, &config->shutdown_timeout) < 0)
                        return cli_error(error, error_size,
                                         "%s: want seconds from 0 to 3600, not '%s'", key, value);
                return 0;
        }
        if (strcmp(key, "buffer-size") == 0) {
                if (parse_size(value, 4096, 16 * 1024 * 1024, &config->buffer_size) < 0)
                        return cli_error(error, error_size,
                                         "%s: want bytes from 4096 to 16M, not '%s'", key, value);
                return 0;
        }
        if (strcmp(key, "udp-rate") == 0) {
                if (parse_number(value, 0, 1e6, &config->udp_rate) < 0)
                        return cli_error(error, error_size,
                                         "%s: want datagrams per second (0 = no limit), not '%s'",
                                         key, value);
                return 0;
        }
        if (strcmp(key, "udp-burst") == 0) {
                if (parse_number(value, 1, 1e6, &config->udp_burst) < 0)
                        return cli_error(error, error_size,
                                         "%s: want a number from 1 to 1000000, not '%s'", key,
                                         value);
                return 0;
        }
        if (strcmp(key, "udp-global-rate") == 0) {
                if (parse_number(value, 0, 1e7, &config->udp_global_rate) < 0)
                        return cli_error(error, error_size,
                                         "%s: want replies per second (0 = no limit), not '%s'",
                                         key, value);
                return 0;
        }
        if (strcmp(key, "socket-buffer") == 0) {
                if (strcmp(value, "0") == 0) {
                        config->socket_buffer = 0;
                        return 0;
                }
                if (parse_size(value, 4096, 16 * 1024 * 1024, &config->socket_buffer) < 0)
                        return cli_error(error, error_size,
                                         "%s: want bytes from 4096 to 16M (0 = the kernel's), "
                                         "not '%s'",
                                         key, value);
                return 0;
        }
        snprintf(error, error_size, "unknown key '%s'", key);
        return -EINVAL;
}

/*
 * Errors quote what the admin typed (a flag, a value, a line, a path):
 * escape its control characters so the error stays one harmless line.
 */
static void escape_error(char *error, size_t error_size)
{
        char escaped[ESCAPE_SIZE(CONFIG_ERROR_MAX)];

        if (error_size == 0 || !escape_needed(error))
                return;
        escape_control(error, escaped, sizeof(escaped));
        snprintf(error, error_size, "%s", escaped);
}

static char *trim(char *text)
{
        char *end;

        while (isspace((unsigned char)*text))
                text++;
        end = text + strlen(text);
        while (end > text && isspace((unsigned char)end[-1]))
                *--end = '\0';
        return text;
}

int config_parse_text(struct config *config, const char *name, const char *text, char *error,
                      size_t error_size)
{
        char *copy = strdup(text), *line, *next;
        char reason[CONFIG_ERROR_MAX];
        unsigned number = 0;
        int r = 0;

        if (!copy)
                return -ENOMEM;
        config->echo_inherited = true;
        config->chat_inherited = true;
        /* Some editors start a UTF-8 file with a byte order mark; it is not part of a key. */
        line = copy;
        if (strncmp(line, "\xef\xbb\xbf", 3) == 0)
                line += 3;
        for (; line && r == 0; line = next) {
                char *equals, *key, *value;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                number++;
                line = trim(line);
                if (*line == '\0' || *line == '#' || *line == ';')
                        continue;
                equals = strchr(line, '=');
                if (!equals) {
                        snprintf(error, error_size, "%s:%u: expected 'key = value', got '%.60s'",
                                 name, number, line);
                        r = -EINVAL;
                        break;
                }
                *equals = '\0';
                key = trim(line);
                value = trim(equals + 1);
                r = config_set(config, key, value, reason, sizeof(reason));
                if (r < 0)
                        snprintf(error, error_size, "%s:%u: %s", name, number, reason);
        }
        free(copy);
        if (r < 0)
                escape_error(error, error_size);
        return r;
}

/*
 * Read a config file: a regular file (a FIFO in its place must not hang a
 * reload, nor the loop with it) of at most CONFIG_FILE_MAX bytes.
 */
static int read_file(const char *path, char **out)
{
        int fd = file_open_regular(path, O_RDONLY, 0);
        size_t length = 0, capacity = 4096;
        char *text;
        int r = 0;

        if (fd < 0)
                return fd;
        text = malloc(capacity + 1);
        while (text) {
                ssize_t n;

                if (length == capacity) {
                        char *bigger;

                        /* One byte past the maximum tells a file of exactly the maximum from a
                         * longer one. */
                        if (capacity > CONFIG_FILE_MAX) {
                                r = -EFBIG;
                                break;
                        }
                        capacity =
                            capacity * 2 > CONFIG_FILE_MAX ? CONFIG_FILE_MAX + 1 : capacity * 2;
                        bigger = realloc(text, capacity + 1);
                        if (!bigger) {
                                r = -ENOMEM;
                                break;
                        }
                        text = bigger;
                }
                n = read(fd, text + length, capacity - length);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                length += (size_t)n;
        }
        close(fd);
        if (!text)
                return -ENOMEM;
        if (r < 0) {
                free(text);
                return r;
        }
        text[length] = '\0';
        if (strlen(text) != length) {
                free(text);
                return -EBADMSG; /* a NUL byte: not a text file */
        }
        *out = text;
        return 0;
}

enum {
        OPT_CONFIG = 256,
        OPT_CHECK,
        OPT_STRICT,
        OPT_CONSOLE,
        OPT_KEY,
};

/* Every option from OPT_KEY on is a config key; each has its own value so
 * that getopt can tell an ambiguous abbreviation ("--udp") apart. */
static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"strict-port", no_argument, NULL, OPT_STRICT},
    {"echo", required_argument, NULL, OPT_KEY + 0},
    {"log-level", required_argument, NULL, OPT_KEY + 1},
    {"log-file", required_argument, NULL, OPT_KEY + 2},
    {"state-dir", required_argument, NULL, OPT_KEY + 3},
    {"max-connections", required_argument, NULL, OPT_KEY + 4},
    {"idle-timeout", required_argument, NULL, OPT_KEY + 5},
    {"buffer-size", required_argument, NULL, OPT_KEY + 6},
    {"shutdown-timeout", required_argument, NULL, OPT_KEY + 7},
    {"udp-rate", required_argument, NULL, OPT_KEY + 8},
    {"udp-burst", required_argument, NULL, OPT_KEY + 9},
    {"chat", required_argument, NULL, OPT_KEY + 10},
    {"chat-backend", required_argument, NULL, OPT_KEY + 11},
    {"chat-history", required_argument, NULL, OPT_KEY + 12},
    {"chat-history-max", required_argument, NULL, OPT_KEY + 13},
    {"chat-max-users", required_argument, NULL, OPT_KEY + 14},
    {"chat-max-pending", required_argument, NULL, OPT_KEY + 15},
    {"chat-login-timeout", required_argument, NULL, OPT_KEY + 16},
    {"chat-token-idle", required_argument, NULL, OPT_KEY + 17},
    {"chat-token-lifetime", required_argument, NULL, OPT_KEY + 18},
    {"chat-rate", required_argument, NULL, OPT_KEY + 19},
    {"chat-burst", required_argument, NULL, OPT_KEY + 20},
    {"chat-workers", required_argument, NULL, OPT_KEY + 21},
    {"chat-queue", required_argument, NULL, OPT_KEY + 22},
    {"chat-output-max", required_argument, NULL, OPT_KEY + 23},
    {"udp-global-rate", required_argument, NULL, OPT_KEY + 24},
    {"socket-buffer", required_argument, NULL, OPT_KEY + 25},
    {"control", required_argument, NULL, OPT_KEY + 26},
    {"chat-max-pending-per-address", required_argument, NULL, OPT_KEY + 27},
    {"chat-redis-user", required_argument, NULL, OPT_KEY + 28},
    {"chat-redis-password-file", required_argument, NULL, OPT_KEY + 29},
    {"console", no_argument, NULL, OPT_CONSOLE},
    {NULL, 0, NULL, 0},
};

/*
 * One pass over argv. The first pass (apply false) only finds --config,
 * --help, --version and mistakes; the second applies the settings on top of
 * the file's.
 */
static int parse_args(struct config *config, int argc, char **argv, bool apply,
                      enum config_action *action, char *error, size_t error_size)
{
        char reason[CONFIG_ERROR_MAX];
        int option, index;

        optind = 0; /* glibc: start over, also resetting its internal state */
        opterr = 0;
        config->echo_inherited = true;
        config->chat_inherited = true;
        while ((option = getopt_long(argc, argv, ":hV", options, &index)) != -1) {
                if (option >= OPT_KEY) {
                        if (apply && config_set(config, options[index].name, optarg, reason,
                                                sizeof(reason)) < 0) {
                                snprintf(error, error_size, "--%s", reason);
                                return -EINVAL;
                        }
                        continue;
                }
                switch (option) {
                case 'h':
                        *action = CONFIG_HELP;
                        return 0;
                case 'V':
                        *action = CONFIG_VERSION;
                        return 0;
                case OPT_CONFIG:
                        if (!apply) {
                                if (set_string(&config->config_path, optarg) < 0)
                                        return -ENOMEM;
                                config->config_explicit = true;
                        }
                        break;
                case OPT_CHECK:
                        config->check_only = true;
                        break;
                case OPT_STRICT:
                        config->strict_port = true;
                        break;
                case OPT_CONSOLE:
                        config->console = true;
                        break;
                case ':':
                        snprintf(error, error_size, "option '%s' needs a value", argv[optind - 1]);
                        return -EINVAL;
                default:
                        /* Inside a group ("-xy") optind has not moved on yet; optopt names the
                         * letter. */
                        if (optopt)
                                snprintf(error, error_size, "unknown option '-%c' (see --help)",
                                         optopt);
                        else
                                snprintf(error, error_size,
                                         "unknown option '%s' (or an ambiguous abbreviation; see "
                                         "--help)",
                                         argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                snprintf(error, error_size, "unexpected argument '%s' (see --help)", argv[optind]);
                return -EINVAL;
        }
        return 0;
}

static int load(struct config *config, int argc, char **argv, enum config_action *action,
                char *error, size_t error_size)
{
        char *text = NULL;
        int r;

        *action = CONFIG_RUN;
        r = parse_args(config, argc, argv, false, action, error, error_size);
        if (r < 0 || *action != CONFIG_RUN)
                return r;
        if (!config->config_path && set_string(&config->config_path, ECHOD_DEFAULT_CONFIG) < 0)
                return -ENOMEM;

        r = read_file(config->config_path, &text);
        if (r == -ENOENT && !config->config_explicit) {
                r = 0; /* running without the packaged file is fine */
        } else if (r < 0) {
                snprintf(error, error_size, "cannot read config file %s: %s", config->config_path,
                         r == -EBADMSG ? "not a text file" : file_strerror(r));
                return r;
        } else {
                r = config_parse_text(config, config->config_path, text, error, error_size);
                free(text);
                if (r < 0)
                        return r;
        }
        return parse_args(config, argc, argv, true, action, error, error_size);
}

int config_load(struct config *config, int argc, char **argv, enum config_action *action,
                char *error, size_t error_size)
{
        int r = load(config, argc, argv, action, error, error_size);

        if (r < 0)
                escape_error(error, error_size);
        return r;
}

void config_usage(void)
{
        printf(
            "Usage: echod [OPTION]...\n"
            "RFC 862 echo daemon (TCP and UDP). Under systemd it serves the sockets it is\n"
            "given (socket activation); otherwise it binds its own.\n"
            "\n"
            "  --config FILE           config file (default %s)\n"
            "  --check-config          check the configuration and exit\n"
            "  --echo [udp:][ADDR:]PORT  listen for echo (repeatable; default 7007 on every\n"
            "                          address; IPv6 as [ADDR]:PORT)\n"
            "  --strict-port           fail if a port is busy instead of trying the next ones\n"
            "  --log-level LEVEL       emerg alert crit err warning notice info debug\n"
            "  --log-file PATH         also write every log record to PATH\n"
            "  --state-dir DIR         directory for state (default: $STATE_DIRECTORY)\n"
            "  --max-connections N     open TCP connections at most (default 4096)\n"
            "  --idle-timeout SECONDS  close TCP connections idle this long; 0 = never (300)\n"
            "  --buffer-size BYTES     echo buffer per TCP connection (default 64K)\n"
            "  --socket-buffer BYTES   SO_RCVBUF/SO_SNDBUF per TCP connection; 0 = kernel's (64K)\n"
            "  --shutdown-timeout SECONDS  time to drain connections on stop (default 10)\n"
            "  --udp-rate N            UDP datagrams per second per source; 0 = no limit (100)\n"
            "  --udp-burst N           UDP burst per source (default 200)\n"
            "  --udp-global-rate N     UDP replies per second in all; 0 = no limit (10000)\n"
            "  --chat [ADDR:]PORT      serve the chat (repeatable; port 7070 is usual)\n"
            "  --chat-history N        messages shown at login (default 20)\n"
            "  --chat-rate N           messages per second per user (default 5; --chat-burst 20)\n"
            "  --chat-max-users N      logged-in chat connections at most (default 1000)\n"
            "  (more chat-* keys: see echod.conf(5))\n"
            "  --announce-stop         (ExecStop=+ of echo.service) tell the running echod\n"
            "                          whether systemd restarts it (hand connections over)\n"
            "                          or stops it (drain)\n"
            "  --check-upgrade VERSION exit 0 if this binary reads hand-over state VERSION\n"
            "                          (the pre-flight of an upgrade in place)\n"
            "  --control PATH          standalone control socket, or none (default\n"
            "                          $XDG_RUNTIME_DIR/echod/control; /run/echod/control as "
            "root)\n"
            "  --console               on a terminal, take control commands on stdin\n"
            "  -h, --help              show this help and exit\n"
            "  -V, --version           show the version and exit\n"
            "\n"
            "Every option but --config, --check-config and --console is also a key of the\n"
            "config file (\"log-level = debug\"). Exit status: 0 success, 1 failure, 2 bad\n"
            "flags or config.\n"
            "See echod(8) and echod.conf(5).\n",
            ECHOD_DEFAULT_CONFIG);
}
