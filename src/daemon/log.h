#ifndef ECHOD_LOG_H
#define ECHOD_LOG_H

#include <stdbool.h>
#include <syslog.h>
#include <time.h>

/*
 * Structured logging. Under systemd (JOURNAL_STREAM names our stderr) every
 * record goes to the journal with its fields; otherwise to stderr, with a
 * "<N>" priority prefix when stderr is not a terminal. A log file, when set,
 * receives every record as well, fields included.
 */

/* MESSAGE_IDs of the key events; systemd/echod.catalog describes them. */
#define LOG_ID_START             "ce2762d3e43b4a50a6b5765e2b151f8c"
#define LOG_ID_LISTENING         "47aac83a95744d149545bce2d81f3f92"
#define LOG_ID_CONNECT           "e9f608983f504fdc879109589f12a2f3"
#define LOG_ID_DISCONNECT        "3e59bf4dc8ee4523894cd572ad9665fc"
#define LOG_ID_STOP              "a4f130729f7645f7bcb83cc03849b841"
#define LOG_ID_RELOAD            "96380c7d7f1140ec9c4eb40d5c919714"
#define LOG_ID_CHAT_LOGIN        "4f79e39250614e92b7cdf8595bd6e0b3"
#define LOG_ID_CHAT_LOGIN_FAILED "04074a2ab4d844f2a73088e521393f25"
#define LOG_ID_CHAT_LOGOUT       "e71f4277f4954075b58dfc2593938f63"
#define LOG_ID_CHAT_REGISTER     "2deaf0285832462ca82a5f69bc899c04"

/* Most fields one record may carry besides MESSAGE, PRIORITY and MESSAGE_ID. */
#define LOG_FIELDS_MAX 16

/* A record as a sink sees it (log_set_sink); valid only during the call. */
struct log_entry {
        struct timespec time; /* CLOCK_REALTIME */
        int priority;
        const char *message_id;    /* or NULL */
        const char *const *fields; /* NULL or NULL-terminated "KEY=value" strings */
        const char *message;
};

/* Receives every record that passes the level (the daemon's in-memory ring hangs here). */
typedef void (*log_sink_fn)(void *arg, const struct log_entry *entry);

/*
 * Decide where records go (journal or stderr) and name the program that
 * logs (SYSLOG_IDENTIFIER=, and the prefix on a terminal). Call once at start.
 */
void log_init(const char *identifier);

/* Also hand every record to sink (NULL: none). */
void log_set_sink(log_sink_fn sink, void *arg);

/* Records above this priority (LOG_DEBUG is the most verbose) are dropped. */
void log_set_level(int level);

/* Parse a level name ("info", "debug", ...). Returns the level or -EINVAL. */
int log_level_parse(const char *name);

/* True if a record of this priority would be written. */
bool log_enabled(int priority);

/* Open (or with NULL, close) the extra log file. Returns 0 or -errno. */
int log_set_file(const char *path);

/* Reopen the log file at the same path (after rotation). Returns 0 or -errno. */
int log_reopen(void);

/*
 * Write what waits for a stalled standard error, without blocking; once it
 * has all gone out, log how many records were dropped meanwhile. The daemon
 * calls it once a second.
 */
void log_flush(void);

/* Empty the log file (clear-logs); 0 also when there is none, else -errno. */
int log_truncate_file(void);

/* Flush and close everything. */
void log_fini(void);

/*
 * Write one record. fields is NULL or a NULL-terminated list of "KEY=value"
 * strings; message_id may be NULL. The journal gets the caller's source
 * location (CODE_FILE= relative to the source tree, CODE_LINE=, CODE_FUNC=).
 */
#define log_record(priority, message_id, fields, ...)                                              \
        log_record_at("CODE_FILE=" __FILE__, "CODE_LINE=" LOG_STRINGIFY(__LINE__), __func__,       \
                      priority, message_id, fields, __VA_ARGS__)

#define LOG_STRINGIFY_(x) #x
#define LOG_STRINGIFY(x)  LOG_STRINGIFY_(x)

/* log_record() with the location given: "CODE_FILE=...", "CODE_LINE=...", the function. */
void log_record_at(const char *file, const char *line, const char *func, int priority,
                   const char *message_id, const char *const *fields, const char *format, ...)
    __attribute__((format(printf, 7, 8)));

#define log_error(...)   log_record(LOG_ERR, NULL, NULL, __VA_ARGS__)
#define log_warning(...) log_record(LOG_WARNING, NULL, NULL, __VA_ARGS__)
#define log_notice(...)  log_record(LOG_NOTICE, NULL, NULL, __VA_ARGS__)
#define log_info(...)    log_record(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_debug(...)   log_record(LOG_DEBUG, NULL, NULL, __VA_ARGS__)

#endif
