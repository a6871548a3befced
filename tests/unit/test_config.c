#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <netinet/in.h>

#include "addr.h"
#include "config.h"
#include "version.h"

#define ARGS_MAX 32

/* A temporary config file holding exactly length bytes of text; path gets its name. */
static void write_temp(const char *text, size_t length, char *path, size_t path_size)
{
        const char *dir = getenv("TMPDIR");
        int fd;

        snprintf(path, path_size, "%s/test_config.XXXXXX", dir && *dir ? dir : "/tmp");
        fd = mkstemp(path);
        if (fd < 0)
                fail_msg("mkstemp %s: %s", path, strerror(errno));
        if (write(fd, text, length) != (ssize_t)length)
                fail_msg("write %s: %s", path, strerror(errno));
        close(fd);
}

/* config_load with "echod" and the NULL-terminated arguments that follow. */
static int load(struct config *config, enum config_action *action, char *error, size_t error_size,
                ...)
{
        char *argv[ARGS_MAX + 1];
        int argc = 0;
        va_list ap;
        const char *arg;

        argv[argc++] = (char *)"echod";
        va_start(ap, error_size);
        while ((arg = va_arg(ap, const char *)) != NULL) {
                if (argc == ARGS_MAX)
                        fail_msg("too many test arguments");
                argv[argc++] = (char *)arg;
        }
        va_end(ap);
        argv[argc] = NULL;
        error[0] = '\0';
        return config_load(config, argc, argv, action, error, error_size);
}

static void set_ok(struct config *config, const char *key, const char *value)
{
        char error[CONFIG_ERROR_MAX] = "";

        if (config_set(config, key, value, error, sizeof(error)) != 0)
                fail_msg("%s = '%s' refused: %s", key, value, error);
}

static void set_bad(struct config *config, const char *key, const char *value)
{
        char error[CONFIG_ERROR_MAX] = "";

        if (config_set(config, key, value, error, sizeof(error)) != -EINVAL)
                fail_msg("%s = '%s' accepted", key, value);
        if (!strstr(error, key))
                fail_msg("%s = '%s': error '%s' does not name the key", key, value, error);
}

static void assert_contains(const char *text, const char *part)
{
        if (!strstr(text, part))
                fail_msg("'%s' does not contain '%s'", text, part);
}

static void defaults_listen_on_7007_everywhere(void **state)
{
        struct config config;
        char text[ADDR_TEXT_MAX];

        (void)state;
        config_defaults(&config);
        assert_int_equal(config.echo_count, 1);
        assert_int_equal(config.echo[0].proto, ADDR_TCP);
        assert_true(config.echo[0].any);
        addr_format((struct sockaddr *)&config.echo[0].sa, text, sizeof(text));
        assert_string_equal(text, "[::]:7007");
        config_fini(&config);
}

static void defaults_match_the_documented_values(void **state)
{
        struct config config;

        (void)state;
        memset(&config, 0x5a, sizeof(config));
        config_defaults(&config);
        assert_false(config.strict_port);
        assert_int_equal(config.log_level, LOG_INFO);
        assert_null(config.log_file);
        assert_null(config.state_dir);
        assert_int_equal(config.max_connections, 4096);
        assert_true(config.idle_timeout == 300);
        assert_int_equal(config.buffer_size, 64 * 1024);
        assert_true(config.shutdown_timeout == 10);
        assert_true(config.udp_rate == 100);
        assert_true(config.udp_burst == 200);
        assert_true(config.udp_global_rate == 10000);
        assert_int_equal(config.socket_buffer, 64 * 1024);
        assert_null(config.config_path);
        assert_false(config.config_explicit);
        assert_false(config.check_only);
        config_fini(&config);
}

static void unknown_key_is_refused(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX];

        (void)state;
        config_defaults(&config);
        assert_int_equal(config_set(&config, "bogus", "1", error, sizeof(error)), -EINVAL);
        assert_contains(error, "unknown key 'bogus'");
        /* Options that are not keys of the file. */
        assert_int_equal(config_set(&config, "config", "/x", error, sizeof(error)), -EINVAL);
        assert_int_equal(config_set(&config, "check-config", "yes", error, sizeof(error)), -EINVAL);
        config_fini(&config);
}

static void strict_port_takes_every_bool_spelling(void **state)
{
        static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True"};
        static const char *const no[] = {"no", "false", "off", "0", "NO", "Off"};
        struct config config;

        (void)state;
        config_defaults(&config);
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                config.strict_port = false;
                set_ok(&config, "strict-port", yes[i]);
                if (!config.strict_port)
                        fail_msg("strict-port = %s did not set it", yes[i]);
        }
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
                config.strict_port = true;
                set_ok(&config, "strict-port", no[i]);
                if (config.strict_port)
                        fail_msg("strict-port = %s did not clear it", no[i]);
        }
        set_bad(&config, "strict-port", "maybe");
        set_bad(&config, "strict-port", "");
        set_bad(&config, "strict-port", "2");
        set_bad(&config, "strict-port", "yess");
        config_fini(&config);
}

static void log_level_takes_syslog_names(void **state)
{
        static const struct {
                const char *name;
                int level;
        } levels[] = {
            {"emerg", LOG_EMERG},  {"alert", LOG_ALERT},   {"crit", LOG_CRIT},
            {"err", LOG_ERR},      {"error", LOG_ERR},     {"warning", LOG_WARNING},
            {"warn", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
            {"debug", LOG_DEBUG},
        };
        struct config config;

        (void)state;
        config_defaults(&config);
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
                config.log_level = -1;
                set_ok(&config, "log-level", levels[i].name);
                if (config.log_level != levels[i].level)
                        fail_msg("log-level = %s gave %d, want %d", levels[i].name,
                                 config.log_level, levels[i].level);
        }
        set_bad(&config, "log-level", "verbose");
        set_bad(&config, "log-level", "");
        set_bad(&config, "log-level", "7");
        assert_int_equal(config.log_level, LOG_DEBUG);
        config_fini(&config);
}

static void log_file_and_state_dir_are_copied(void **state)
{
        struct config config;
        char value[] = "/var/log/echod.log";

        (void)state;
        config_defaults(&config);
        set_ok(&config, "log-file", value);
        value[0] = 'X';
        assert_string_equal(config.log_file, "/var/log/echod.log");
        /* A second setting replaces the first (ASan would see a leak). */
        set_ok(&config, "log-file", "/tmp/other.log");
        assert_string_equal(config.log_file, "/tmp/other.log");
        set_ok(&config, "state-dir", "/var/lib/echod");
        assert_string_equal(config.state_dir, "/var/lib/echod");
        config_fini(&config);
        assert_null(config.log_file);
        assert_null(config.state_dir);
}

static void max_connections_is_a_whole_number_in_range(void **state)
{
        static const char *const bad[] = {"0", "1000001", "2.5", "", " 5", "5x", "-1", "nan"};
        struct config config;

        (void)state;
        config_defaults(&config);
        set_ok(&config, "max-connections", "1");
        assert_int_equal(config.max_connections, 1);
        set_ok(&config, "max-connections", "1000000");
        assert_int_equal(config.max_connections, 1000000);
        set_ok(&config, "max-connections", "250");
        assert_int_equal(config.max_connections, 250);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                set_bad(&config, "max-connections", bad[i]);
        assert_int_equal(config.max_connections, 250);
        config_fini(&config);
}

static void idle_timeout_is_seconds_up_to_a_week(void **state)
{
        static const char *const bad[] = {"-1", "604801", "inf", "nan", "", "5s", " 5"};
        struct config config;

        (void)state;
        config_defaults(&config);
        set_ok(&config, "idle-timeout", "0");
        assert_true(config.idle_timeout == 0);
        set_ok(&config, "idle-timeout", "604800");
        assert_true(config.idle_timeout == 604800);
        set_ok(&config, "idle-timeout", "2.5");
        assert_true(config.idle_timeout == 2.5);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                set_bad(&config, "idle-timeout", bad[i]);
        assert_true(config.idle_timeout == 2.5);
        config_fini(&config);
}

static void shutdown_timeout_is_seconds_up_to_an_hour(void **state)
{
        static const char *const bad[] = {"-0.5", "3600.5", "3601", "x", ""};
        struct config config;

        (void)state;
        config_defaults(&config);
        set_ok(&config, "shutdown-timeout", "0");
        assert_true(config.shutdown_timeout == 0);
        set_ok(&config, "shutdown-timeout", "3600");
        assert_true(config.shutdown_timeout == 3600);
        set_ok(&config, "shutdown-timeout", "1.5");
        assert_true(config.shutdown_timeout == 1.5);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                set_bad(&config, "shutdown-timeout", bad[i]);
        assert_true(config.shutdown_timeout == 1.5);
        config_fini(&config);
}

static void buffer_size_takes_bytes_and_binary_suffixes(void **state)
{
        static const struct {
                const char *text;
                size_t bytes;
        } good[] = {
            {"4096", 4096},         {"4k", 4096},         {"4K", 4096},      {"4KiB", 4096},
            {"64k", 65536},         {"1m", 1024 * 1024},  {"16M", 16777216}, {"16MiB", 16777216},
            {"16777216", 16777216}, {"16384K", 16777216},
        };
        static const char *const bad[] = {
            "4095", "3k",  "0",   "16777217", "16385k", "17M",    "",     "k",
            "-4k",  " 4k", "4 k", "4kb",      "4G",     "0x1000", "4.5k",
        };
        struct config config;

        (void)state;
        config_defaults(&config);
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                config.buffer_size = 0;
                set_ok(&config, "buffer-size", good[i].text);
                if (config.buffer_size != good[i].bytes)
                        fail_msg("buffer-size = %s gave %zu, want %zu", good[i].text,
                                 config.buffer_size, good[i].bytes);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                set_bad(&config, "buffer-size", bad[i]);
        /* Too big to hold, before or after the suffix is applied. */
        set_bad(&config, "buffer-size", "99999999999999999999999");
        set_bad(&config, "buffer-size", "18446744073709551615k");
        assert_int_equal(config.buffer_size, 16384 * 1024);
        config_fini(&config);
}

static void udp_rate_allows_zero_for_no_limit(void **state)
{
        static const char *const bad[] = {"-1", "1000001", "many", ""};
        struct config config;

        (void)state;
        config_defaults(&config);
        set_ok(&config, "udp-rate", "0");
        assert_true(config.udp_rate == 0);
        set_ok(&config, "udp-rate", "1000000");
        assert_true(config.udp_rate == 1e6);
        set_ok(&config, "udp-rate", "0.5");
        assert_true(config.udp_rate == 0.5);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                set_bad(&config, "udp-rate", bad[i]);
        assert_true(config.udp_rate == 0.5);
        config_fini(&config);
}

static void udp_global_rate_takes_zero_to_ten_million(void **state)
{
        struct config config;

        (void)state;
        config_defaults(&config);
        set_ok(&config, "udp-global-rate", "0");
        assert_true(config.udp_global_rate == 0);
        set_ok(&config, "udp-global-rate", "10000000");
        assert_true(config.udp_global_rate == 1e7);
        set_bad(&config, "udp-global-rate", "-1");
        set_bad(&config, "udp-global-rate", "10000001");
        set_bad(&config, "udp-global-rate", "lots");
        config_fini(&config);
}

static void socket_buffer_takes_zero_or_4k_to_16m(void **state)
{
        struct config config;

        (void)state;
        config_defaults(&config);
        set_ok(&config, "socket-buffer", "0");
        assert_int_equal(config.socket_buffer, 0);
        set_ok(&config, "socket-buffer", "16K");
        assert_int_equal(config.socket_buffer, 16 * 1024);
        set_ok(&config, "socket-buffer", "16M");
        assert_int_equal(config.socket_buffer, 16 * 1024 * 1024);
        set_bad(&config, "socket-buffer", "4095");
        set_bad(&config, "socket-buffer", "17M");
        set_bad(&config, "socket-buffer", "big");
        config_fini(&config);
}

static void udp_burst_is_at_least_one(void **state)
{
        static const char *const bad[] = {"0", "0.5", "-1", "1000001", "x"};
        struct config config;

        (void)state;
        config_defaults(&config);
        set_ok(&config, "udp-burst", "1");
        assert_true(config.udp_burst == 1);
        set_ok(&config, "udp-burst", "1000000");
        assert_true(config.udp_burst == 1e6);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                set_bad(&config, "udp-burst", bad[i]);
        assert_true(config.udp_burst == 1e6);
        config_fini(&config);
}

static void echo_refuses_bad_addresses(void **state)
{
        struct config config;

        (void)state;
        config_defaults(&config);
        set_bad(&config, "echo", "");
        set_bad(&config, "echo", "65536");
        set_bad(&config, "echo", "::1:7");
        set_bad(&config, "echo", "host.example:7");
        config_fini(&config);
}

static void echo_from_a_new_source_replaces_inherited_list(void **state)
{
        struct config config;

        (void)state;
        config_defaults(&config);
        config.echo_inherited = true;
        set_ok(&config, "echo", "udp:9000");
        assert_int_equal(config.echo_count, 1);
        assert_int_equal(config.echo[0].proto, ADDR_UDP);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[0].sa), 9000);
        assert_false(config.echo_inherited);
        /* Later addresses from the same source add to the list. */
        set_ok(&config, "echo", "127.0.0.1:9001");
        assert_int_equal(config.echo_count, 2);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[1].sa), 9001);
        config_fini(&config);
}

static void echo_takes_at_most_16_addresses(void **state)
{
        struct config config;
        char value[16], error[CONFIG_ERROR_MAX];

        (void)state;
        config_defaults(&config);
        config.echo_inherited = true;
        for (int i = 0; i < CONFIG_LISTEN_MAX; i++) {
                snprintf(value, sizeof(value), "%d", 9000 + i);
                set_ok(&config, "echo", value);
        }
        assert_int_equal(config.echo_count, CONFIG_LISTEN_MAX);
        assert_int_equal(config_set(&config, "echo", "9999", error, sizeof(error)), -EINVAL);
        assert_contains(error, "more than 16");
        assert_int_equal(config.echo_count, CONFIG_LISTEN_MAX);
        config_fini(&config);
}

static void parse_text_skips_comments_blanks_and_whitespace(void **state)
{
        static const char text[] = "# a comment\n"
                                   "; another comment\n"
                                   "\n"
                                   "   \t \n"
                                   "max-connections=7\n"
                                   "  idle-timeout   =   9  \n"
                                   "\tlog-level\t=\tdebug\r\n"
                                   "    # an indented comment\n"
                                   "udp-burst = 3";
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        if (config_parse_text(&config, "echod.conf", text, error, sizeof(error)) != 0)
                fail_msg("refused: %s", error);
        assert_int_equal(config.max_connections, 7);
        assert_true(config.idle_timeout == 9);
        assert_int_equal(config.log_level, LOG_DEBUG);
        assert_true(config.udp_burst == 3);
        config_fini(&config);
}

static void parse_text_skips_a_utf8_byte_order_mark(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        if (config_parse_text(&config, "echod.conf", "\xef\xbb\xbfmax-connections = 7\n", error,
                              sizeof(error)) != 0)
                fail_msg("refused: %s", error);
        assert_int_equal(config.max_connections, 7);
        /* Only at the very start: elsewhere it is part of the text (and a bad key). */
        assert_int_equal(config_parse_text(&config, "echod.conf",
                                           "idle-timeout = 5\n\xef\xbb\xbfmax-connections = 8\n",
                                           error, sizeof(error)),
                         -EINVAL);
        assert_non_null(strstr(error, "echod.conf:2: unknown key"));
        config_fini(&config);
}

static void control_is_an_absolute_path_or_none(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_null(config.control_path);
        assert_int_equal(config_set(&config, "control", "/run/x/control", error, sizeof(error)), 0);
        assert_string_equal(config.control_path, "/run/x/control");
        assert_int_equal(config_set(&config, "control", "none", error, sizeof(error)), 0);
        assert_string_equal(config.control_path, "none");
        assert_int_equal(config_set(&config, "control", "relative/control", error, sizeof(error)),
                         -EINVAL);
        assert_non_null(strstr(error, "want an absolute path or none"));
        config_fini(&config);
}

static void chat_backend_is_sqlite_or_a_redis_address(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_null(config.chat_backend);
        set_ok(&config, "chat-backend", "sqlite");
        assert_string_equal(config.chat_backend, "sqlite");
        /* A second setting replaces the first (ASan would see a leak). */
        set_ok(&config, "chat-backend", "redis://127.0.0.1:6380/2");
        assert_string_equal(config.chat_backend, "redis://127.0.0.1:6380/2");
        set_ok(&config, "chat-backend", "redis://[::1]");
        set_ok(&config, "chat-backend", "unix:/run/redis/redis.sock");
        assert_string_equal(config.chat_backend, "unix:/run/redis/redis.sock");
        set_bad(&config, "chat-backend", "mysql");
        set_bad(&config, "chat-backend", "redis://");
        set_bad(&config, "chat-backend", "redis://host:0");
        set_bad(&config, "chat-backend", "redis://host:70000");
        set_bad(&config, "chat-backend", "unix:");
        assert_int_equal(config_set(&config, "chat-backend", "redis://h:x", error, sizeof(error)),
                         -EINVAL);
        assert_contains(error, "redis://HOST[:PORT][/DB]");
        /* A refused value keeps the earlier one. */
        assert_string_equal(config.chat_backend, "unix:/run/redis/redis.sock");
        config_fini(&config);
        assert_null(config.chat_backend);
}

static void chat_pending_logins_per_address_default_to_16(void **state)
{
        struct config config;

        (void)state;
        config_defaults(&config);
        assert_int_equal(config.chat_max_pending_per_address, 16);
        set_ok(&config, "chat-max-pending-per-address", "1");
        assert_int_equal(config.chat_max_pending_per_address, 1);
        /* Not a prefix of chat-max-pending, nor taken for it. */
        set_ok(&config, "chat-max-pending", "7");
        assert_int_equal(config.chat_max_pending_per_address, 1);
        set_bad(&config, "chat-max-pending-per-address", "0");
        set_bad(&config, "chat-max-pending-per-address", "many");
        config_fini(&config);
}

static void parse_text_value_keeps_later_equals_signs(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_int_equal(
            config_parse_text(&config, "f", "log-file = /tmp/a=b.log\n", error, sizeof(error)), 0);
        assert_string_equal(config.log_file, "/tmp/a=b.log");
        config_fini(&config);
}

static void parse_text_empty_text_changes_nothing(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_int_equal(config_parse_text(&config, "f", "", error, sizeof(error)), 0);
        assert_int_equal(config.echo_count, 1);
        assert_int_equal(config.max_connections, 4096);
        config_fini(&config);
}

static void parse_text_missing_equals_names_file_and_line(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_int_equal(config_parse_text(&config, "echod.conf",
                                           "# settings\n\nmax-connections 7\n", error,
                                           sizeof(error)),
                         -EINVAL);
        assert_contains(error, "echod.conf:3:");
        assert_contains(error, "max-connections 7");
        config_fini(&config);
}

static void parse_text_unknown_key_names_file_and_line(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_int_equal(config_parse_text(&config, "/etc/e.conf",
                                           "max-connections = 7\nidle-timeout = 1\nfrobnicate = "
                                           "yes\nudp-burst = 9\n",
                                           error, sizeof(error)),
                         -EINVAL);
        assert_contains(error, "/etc/e.conf:3:");
        assert_contains(error, "frobnicate");
        /* Parsing stops at the first mistake. */
        assert_true(config.udp_burst == 200);
        config_fini(&config);
}

static void parse_text_bad_value_names_file_line_and_key(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_int_equal(config_parse_text(&config, "f.conf", "log-level = info\nbuffer-size = 1\n",
                                           error, sizeof(error)),
                         -EINVAL);
        assert_contains(error, "f.conf:2: buffer-size");
        config_fini(&config);
}

static void parse_text_empty_key_is_refused(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_int_equal(config_parse_text(&config, "f", " = 5\n", error, sizeof(error)), -EINVAL);
        assert_contains(error, "f:1:");
        config_fini(&config);
}

static void parse_text_first_echo_replaces_default(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_int_equal(
            config_parse_text(&config, "f", "echo = 8000\necho = udp:8001\n", error, sizeof(error)),
            0);
        assert_int_equal(config.echo_count, 2);
        assert_int_equal(config.echo[0].proto, ADDR_TCP);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[0].sa), 8000);
        assert_int_equal(config.echo[1].proto, ADDR_UDP);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[1].sa), 8001);
        config_fini(&config);
}

static void parse_text_without_echo_keeps_previous_list(void **state)
{
        struct config config;
        char error[CONFIG_ERROR_MAX] = "";

        (void)state;
        config_defaults(&config);
        assert_int_equal(
            config_parse_text(&config, "a", "echo = 8000\necho = 8001\n", error, sizeof(error)), 0);
        assert_int_equal(
            config_parse_text(&config, "b", "max-connections = 3\n", error, sizeof(error)), 0);
        assert_int_equal(config.echo_count, 2);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[1].sa), 8001);
        /* The next source to name an address starts the list over. */
        assert_int_equal(config_parse_text(&config, "c", "echo = 9000\n", error, sizeof(error)), 0);
        assert_int_equal(config.echo_count, 1);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[0].sa), 9000);
        config_fini(&config);
}

static void parse_text_seventeenth_echo_is_an_error(void **state)
{
        struct config config;
        char text[CONFIG_LISTEN_MAX * 32 + 32] = "", line[32], error[CONFIG_ERROR_MAX] = "";

        (void)state;
        for (int i = 0; i < CONFIG_LISTEN_MAX; i++) {
                snprintf(line, sizeof(line), "echo = %d\n", 9000 + i);
                strcat(text, line);
        }
        config_defaults(&config);
        /* Sixteen replace the default rather than join it. */
        assert_int_equal(config_parse_text(&config, "f", text, error, sizeof(error)), 0);
        assert_int_equal(config.echo_count, CONFIG_LISTEN_MAX);
        strcat(text, "echo = 9999\n");
        config_defaults(&config);
        assert_int_equal(config_parse_text(&config, "f", text, error, sizeof(error)), -EINVAL);
        assert_contains(error, "f:17:");
        assert_contains(error, "more than 16");
        config_fini(&config);
}

static void load_explicit_file_applies_its_settings(void **state)
{
        struct config config;
        enum config_action action = CONFIG_HELP;
        char path[256], error[CONFIG_ERROR_MAX];
        static const char text[] = "max-connections = 10\nidle-timeout = 5\necho = 8000\n";

        (void)state;
        write_temp(text, strlen(text), path, sizeof(path));
        config_defaults(&config);
        if (load(&config, &action, error, sizeof(error), "--config", path, NULL) != 0)
                fail_msg("refused: %s", error);
        assert_int_equal(action, CONFIG_RUN);
        assert_int_equal(config.max_connections, 10);
        assert_true(config.idle_timeout == 5);
        assert_int_equal(config.echo_count, 1);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[0].sa), 8000);
        assert_string_equal(config.config_path, path);
        assert_true(config.config_explicit);
        assert_false(config.check_only);
        config_fini(&config);
        unlink(path);
}

static void load_flags_override_the_file(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];
        static const char text[] = "max-connections = 10\n"
                                   "idle-timeout = 5\n"
                                   "log-level = debug\n"
                                   "echo = 8000\n"
                                   "echo = 8001\n";

        (void)state;
        write_temp(text, strlen(text), path, sizeof(path));
        config_defaults(&config);
        if (load(&config, &action, error, sizeof(error), "--max-connections", "20", "--config",
                 path, "--echo=udp:9000", "--log-level", "err", NULL) != 0)
                fail_msg("refused: %s", error);
        assert_int_equal(config.max_connections, 20);
        assert_true(config.idle_timeout == 5);
        assert_int_equal(config.log_level, LOG_ERR);
        /* The command line's first address replaces the file's whole list. */
        assert_int_equal(config.echo_count, 1);
        assert_int_equal(config.echo[0].proto, ADDR_UDP);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[0].sa), 9000);
        config_fini(&config);
        unlink(path);
}

static void load_keeps_file_addresses_when_flags_name_none(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];
        static const char text[] = "echo = 8000\necho = 8001\n";

        (void)state;
        write_temp(text, strlen(text), path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(
            load(&config, &action, error, sizeof(error), "--config", path, "--udp-rate", "0", NULL),
            0);
        assert_int_equal(config.echo_count, 2);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[0].sa), 8000);
        assert_int_equal(addr_port((struct sockaddr *)&config.echo[1].sa), 8001);
        assert_true(config.udp_rate == 0);
        config_fini(&config);
        unlink(path);
}

static void load_flag_addresses_replace_default(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("", 0, path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path, "--echo",
                              "9000", "--echo", "udp:9000", NULL),
                         0);
        assert_int_equal(config.echo_count, 2);
        assert_int_equal(config.echo[0].proto, ADDR_TCP);
        assert_int_equal(config.echo[1].proto, ADDR_UDP);
        config_fini(&config);
        unlink(path);
}

static void load_missing_explicit_file_is_an_error(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("", 0, path, sizeof(path));
        unlink(path); /* a name that surely does not exist */
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path, NULL),
                         -ENOENT);
        assert_contains(error, path);
        config_fini(&config);
}

static void load_absent_default_file_is_fine(void **state)
{
        struct config config;
        enum config_action action;
        char error[CONFIG_ERROR_MAX];

        (void)state;
        /* Only meaningful where echod is not installed; never depend on the file. */
        if (access(ECHOD_DEFAULT_CONFIG, F_OK) == 0)
                skip();
        config_defaults(&config);
        if (load(&config, &action, error, sizeof(error), "--udp-burst", "5", NULL) != 0)
                fail_msg("refused: %s", error);
        assert_int_equal(action, CONFIG_RUN);
        assert_false(config.config_explicit);
        assert_string_equal(config.config_path, ECHOD_DEFAULT_CONFIG);
        assert_true(config.udp_burst == 5);
        config_fini(&config);
}

static void load_file_with_nul_byte_is_refused(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];
        static const char text[] = "max-connections = 10\n\0udp-burst = 2\n";

        (void)state;
        write_temp(text, sizeof(text) - 1, path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path, NULL),
                         -EBADMSG);
        assert_contains(error, "not a text file");
        assert_int_equal(config.max_connections, 4096);
        config_fini(&config);
        unlink(path);
}

static void load_bad_file_names_its_line(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX], where[300];
        static const char text[] = "max-connections = 10\nnonsense\n";

        (void)state;
        write_temp(text, strlen(text), path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path, NULL),
                         -EINVAL);
        snprintf(where, sizeof(where), "%s:2:", path);
        assert_contains(error, where);
        config_fini(&config);
        unlink(path);
}

static void load_unknown_option_is_an_error(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("", 0, path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(
            load(&config, &action, error, sizeof(error), "--config", path, "--bogus", NULL),
            -EINVAL);
        assert_contains(error, "unknown option '--bogus'");
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path, "-x", NULL),
                         -EINVAL);
        assert_contains(error, "unknown option '-x'");
        config_fini(&config);
        unlink(path);
}

static void load_option_without_value_is_an_error(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("", 0, path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path,
                              "--max-connections", NULL),
                         -EINVAL);
        assert_contains(error, "'--max-connections' needs a value");
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", NULL), -EINVAL);
        assert_contains(error, "'--config' needs a value");
        config_fini(&config);
        unlink(path);
}

static void load_bad_flag_value_names_the_flag(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("", 0, path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path,
                              "--buffer-size", "1k", NULL),
                         -EINVAL);
        assert_contains(error, "--buffer-size: ");
        config_fini(&config);
        unlink(path);
}

static void load_stray_argument_is_an_error(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("", 0, path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path, "stray",
                              "--udp-rate", "5", NULL),
                         -EINVAL);
        assert_contains(error, "unexpected argument 'stray'");
        config_fini(&config);
        unlink(path);
}

static void load_help_and_version_stop_before_the_file(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("", 0, path, sizeof(path));
        unlink(path); /* reading it would fail: the actions must not read it */
        config_defaults(&config);
        action = CONFIG_RUN;
        assert_int_equal(
            load(&config, &action, error, sizeof(error), "--config", path, "--help", NULL), 0);
        assert_int_equal(action, CONFIG_HELP);
        action = CONFIG_RUN;
        assert_int_equal(load(&config, &action, error, sizeof(error), "-h", NULL), 0);
        assert_int_equal(action, CONFIG_HELP);
        action = CONFIG_RUN;
        assert_int_equal(
            load(&config, &action, error, sizeof(error), "--config", path, "--version", NULL), 0);
        assert_int_equal(action, CONFIG_VERSION);
        action = CONFIG_RUN;
        assert_int_equal(load(&config, &action, error, sizeof(error), "-V", NULL), 0);
        assert_int_equal(action, CONFIG_VERSION);
        config_fini(&config);
}

static void load_check_config_and_strict_port_flags(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("strict-port = no\n", 17, path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--check-config",
                              "--strict-port", "--config", path, NULL),
                         0);
        assert_int_equal(action, CONFIG_RUN);
        assert_true(config.check_only);
        assert_true(config.strict_port);
        config_fini(&config);
        unlink(path);
}

static void load_can_run_again_after_a_failure(void **state)
{
        struct config config;
        enum config_action action;
        char path[256], error[CONFIG_ERROR_MAX];

        (void)state;
        write_temp("", 0, path, sizeof(path));
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path,
                              "--udp-rate", "5", "--nope", "--udp-burst", "7", NULL),
                         -EINVAL);
        config_fini(&config);
        /* getopt's state from the failed call must not leak into this one. */
        config_defaults(&config);
        assert_int_equal(load(&config, &action, error, sizeof(error), "--config", path,
                              "--udp-burst", "7", NULL),
                         0);
        assert_true(config.udp_burst == 7);
        assert_true(config.udp_rate == 100);
        config_fini(&config);
        unlink(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(defaults_listen_on_7007_everywhere),
            cmocka_unit_test(defaults_match_the_documented_values),
            cmocka_unit_test(unknown_key_is_refused),
            cmocka_unit_test(strict_port_takes_every_bool_spelling),
            cmocka_unit_test(log_level_takes_syslog_names),
            cmocka_unit_test(log_file_and_state_dir_are_copied),
            cmocka_unit_test(max_connections_is_a_whole_number_in_range),
            cmocka_unit_test(idle_timeout_is_seconds_up_to_a_week),
            cmocka_unit_test(shutdown_timeout_is_seconds_up_to_an_hour),
            cmocka_unit_test(buffer_size_takes_bytes_and_binary_suffixes),
            cmocka_unit_test(udp_rate_allows_zero_for_no_limit),
            cmocka_unit_test(udp_burst_is_at_least_one),
            cmocka_unit_test(udp_global_rate_takes_zero_to_ten_million),
            cmocka_unit_test(socket_buffer_takes_zero_or_4k_to_16m),
            cmocka_unit_test(parse_text_skips_a_utf8_byte_order_mark),
            cmocka_unit_test(echo_refuses_bad_addresses),
            cmocka_unit_test(echo_from_a_new_source_replaces_inherited_list),
            cmocka_unit_test(echo_takes_at_most_16_addresses),
            cmocka_unit_test(parse_text_skips_comments_blanks_and_whitespace),
            cmocka_unit_test(parse_text_value_keeps_later_equals_signs),
            cmocka_unit_test(control_is_an_absolute_path_or_none),
            cmocka_unit_test(chat_backend_is_sqlite_or_a_redis_address),
            cmocka_unit_test(chat_pending_logins_per_address_default_to_16),
            cmocka_unit_test(parse_text_empty_text_changes_nothing),
            cmocka_unit_test(parse_text_missing_equals_names_file_and_line),
            cmocka_unit_test(parse_text_unknown_key_names_file_and_line),
            cmocka_unit_test(parse_text_bad_value_names_file_line_and_key),
            cmocka_unit_test(parse_text_empty_key_is_refused),
            cmocka_unit_test(parse_text_first_echo_replaces_default),
            cmocka_unit_test(parse_text_without_echo_keeps_previous_list),
            cmocka_unit_test(parse_text_seventeenth_echo_is_an_error),
            cmocka_unit_test(load_explicit_file_applies_its_settings),
            cmocka_unit_test(load_flags_override_the_file),
            cmocka_unit_test(load_keeps_file_addresses_when_flags_name_none),
            cmocka_unit_test(load_flag_addresses_replace_default),
            cmocka_unit_test(load_missing_explicit_file_is_an_error),
            cmocka_unit_test(load_absent_default_file_is_fine),
            cmocka_unit_test(load_file_with_nul_byte_is_refused),
            cmocka_unit_test(load_bad_file_names_its_line),
            cmocka_unit_test(load_unknown_option_is_an_error),
            cmocka_unit_test(load_option_without_value_is_an_error),
            cmocka_unit_test(load_bad_flag_value_names_the_flag),
            cmocka_unit_test(load_stray_argument_is_an_error),
            cmocka_unit_test(load_help_and_version_stop_before_the_file),
            cmocka_unit_test(load_check_config_and_strict_port_flags),
            cmocka_unit_test(load_can_run_again_after_a_failure),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
