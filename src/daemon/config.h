#ifndef ECHOD_CONFIG_H
#define ECHOD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/*
 * echod's settings. One table of keys serves both the config file
 * ("key = value") and the command line ("--key value"): defaults first, then
 * the file, then the flags.
 */

#define CONFIG_LISTEN_MAX        16
#define CONFIG_ERROR_MAX         256
#define CONFIG_DEFAULT_ECHO_PORT 7007
#define CONFIG_DEFAULT_CHAT_PORT 7070

struct config {
        struct addr_spec echo[CONFIG_LISTEN_MAX];
        size_t echo_count;
        bool strict_port;
        int log_level;
        char *log_file;
        char *state_dir;
        unsigned max_connections;
        double idle_timeout;     /* seconds; 0 = none */
        size_t buffer_size;      /* bytes per connection */
        double shutdown_timeout; /* seconds */
        double udp_rate;         /* datagrams per second per source; 0 = no limit */
        double udp_burst;
        /* Chat (docs/chat.md): standalone addresses (none by default) and its limits. */
        struct addr_spec chat[CONFIG_LISTEN_MAX];
        size_t chat_count;
        char *chat_backend;    /* "sqlite" (or NULL) or a Redis address (redis_address.h) */
        char *chat_redis_user; /* Redis ACL user for AUTH, or NULL */
        char *chat_redis_password_file; /* its password's file (redis_auth.h), or NULL: no AUTH */
        unsigned chat_history;          /* messages shown at login */
        unsigned chat_history_max;      /* messages kept */
        unsigned chat_max_users;        /* logged-in connections */
        unsigned chat_max_pending;      /* connections still logging in */
        /* Of them, from one address (an IPv6 /64) at most. */
        unsigned chat_max_pending_per_address;
        double chat_login_timeout;  /* seconds */
        double chat_token_idle;     /* seconds a session may go unused */
        double chat_token_lifetime; /* seconds a session lives at most */
        double chat_rate;           /* messages per second per user */
        double chat_burst;
        unsigned chat_workers;  /* password hashing threads */
        unsigned chat_queue;    /* password jobs waiting at most */
        size_t chat_output_max; /* bytes queued for one slow reader at most */
        double udp_global_rate; /* UDP replies per second in all; 0 = no limit */
        size_t socket_buffer;   /* SO_RCVBUF/SO_SNDBUF of TCP echo connections; 0 = kernel's */
        char *control_path;     /* standalone control socket; NULL: the default; "none": off */
        /* From the command line only. */
        bool console; /* --console: commands from a terminal on stdin */
        char *config_path;
        bool config_explicit;
        bool check_only;
        /* Set while a source (file, command line) has not yet named an address. */
        bool echo_inherited;
        bool chat_inherited;
};

enum config_action {
        CONFIG_RUN,
        CONFIG_HELP,
        CONFIG_VERSION,
};

/* Fill in the defaults. */
void config_defaults(struct config *config);

/* Free what config owns. */
void config_fini(struct config *config);

/*
 * Build the whole configuration from argv: defaults, the config file (the
 * default path may be missing; an explicit one may not), then the flags.
 * Returns 0 with *action set, or -errno with a one-line reason in error.
 */
int config_load(struct config *config, int argc, char **argv, enum config_action *action,
                char *error, size_t error_size);

/* Apply one "key = value" setting. Returns 0 or -EINVAL with a reason in error. */
int config_set(struct config *config, const char *key, const char *value, char *error,
               size_t error_size);

/* Parse a config file's text into config. Returns 0 or -EINVAL (error says where). */
int config_parse_text(struct config *config, const char *name, const char *text, char *error,
                      size_t error_size);

/* Print the --help text to stdout. */
void config_usage(void);

#endif
