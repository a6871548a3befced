#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#define LOG_LINE_MAX 2048

static struct {
        const char *identifier;
        char identifier_field[64];
        log_sink_fn sink;
        void *sink_arg;
        int level;
        bool journal;
        bool stderr_tty;
        FILE *file;
        char *file_path;
} log_state = {.identifier = "echod", .level = LOG_INFO};

static const char *const level_names[] = {"emerg",   "alert",  "crit", "err",
                                          "warning", "notice", "info", "debug"};

/* systemd connects stderr to the journal and says so in JOURNAL_STREAM. */
static bool stderr_is_journal(void)
{
        const char *env = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *identifier)
{
        log_state.identifier = identifier;
        snprintf(log_state.identifier_field, sizeof(log_state.identifier_field),
                 "SYSLOG_IDENTIFIER=%s", identifier);
        log_state.journal = stderr_is_journal();
        log_state.stderr_tty = isatty(STDERR_FILENO) == 1;
}

void log_set_level(int level)
{
        if (level >= LOG_EMERG && level <= LOG_DEBUG)
                log_state.level = level;
}

int log_level_parse(const char *name)
{
        for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++) {
                if (strcmp(name, level_names[i]) == 0)
                        return i;
        }
        if (strcmp(name, "error") == 0)
                return LOG_ERR;
        if (strcmp(name, "warn") == 0)
                return LOG_WARNING;
        return -EINVAL;
}

bool log_enabled(int priority)
{
        return priority <= log_state.level;
}

static int open_log_file(const char *path, FILE **out)
{
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        FILE *file;

        if (fd < 0)
                return -errno;
        file = fdopen(fd, "a");
        if (!file) {
                int err = -errno;
                close(fd);
                return err;
        }
        setvbuf(file, NULL, _IOLBF, 0);
        *out = file;
        return 0;
}

int log_set_file(const char *path)
{
        FILE *file = NULL;
        char *copy = NULL;
        int r;

        if (path && *path) {
                copy = strdup(path);
                if (!copy)
                        return -ENOMEM;
                r = open_log_file(path, &file);
                if (r < 0) {
                        free(copy);
                        return r;
                }
        }
        if (log_state.file)
                fclose(log_state.file);
        free(log_state.file_path);
        log_state.file = file;
        log_state.file_path = copy;
        return 0;
}

int log_reopen(void)
{
        FILE *file = NULL;
        int r;

        if (!log_state.file_path)
                return 0;
        r = open_log_file(log_state.file_path, &file);
        if (r < 0)
                return r;
        fclose(log_state.file);
        log_state.file = file;
        return 0;
}

void log_fini(void)
{
        log_set_file(NULL);
}

void log_set_sink(log_sink_fn sink, void *arg)
{
        log_state.sink = sink;
        log_state.sink_arg = arg;
}

static void write_journal(const char *file, const char *line, const char *func, int priority,
                          const char *message_id, const char *const *fields, const char *message)
{
        struct iovec iov[LOG_FIELDS_MAX + 4];
        char priority_field[16], *message_field, id_field[48];
        size_t n = 0;

        message_field = malloc(strlen(message) + sizeof("MESSAGE="));
        if (!message_field)
                return;
        strcpy(message_field, "MESSAGE=");
        strcat(message_field, message);
        iov[n++] = (struct iovec){message_field, strlen(message_field)};
        snprintf(priority_field, sizeof(priority_field), "PRIORITY=%d", priority);
        iov[n++] = (struct iovec){priority_field, strlen(priority_field)};
        if (log_state.identifier_field[0])
                iov[n++] = (struct iovec){log_state.identifier_field,
                                          strlen(log_state.identifier_field)};
        if (message_id) {
                snprintf(id_field, sizeof(id_field), "MESSAGE_ID=%s", message_id);
                iov[n++] = (struct iovec){id_field, strlen(id_field)};
        }
        for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++)
                iov[n++] = (struct iovec){(void *)fields[i], strlen(fields[i])};
        sd_journal_sendv_with_location(file, line, func, iov, (int)n);
        free(message_field);
}

static void write_file(const struct timespec *now, int priority, const char *const *fields,
                       const char *message)
{
        struct tm tm;
        char stamp[32];

        gmtime_r(&now->tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(log_state.file, "%s.%03ldZ %s[%d] <%s> %s", stamp, now->tv_nsec / 1000000,
                log_state.identifier, (int)getpid(), level_names[priority], message);
        for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++)
                fprintf(log_state.file, " %s", fields[i]);
        fputc('\n', log_state.file);
}

void log_record_at(const char *file, const char *line, const char *func, int priority,
                   const char *message_id, const char *const *fields, const char *format, ...)
{
        char message[LOG_LINE_MAX];
        struct timespec now;
        va_list ap;
        int saved_errno = errno;

        if (!log_enabled(priority))
                return;
        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);

        clock_gettime(CLOCK_REALTIME, &now);
        if (log_state.journal)
                write_journal(file, line, func, priority, message_id, fields, message);
        else if (log_state.stderr_tty)
                fprintf(stderr, "%s: %s\n", log_state.identifier, message);
        else
                fprintf(stderr, "<%d>%s\n", priority, message);
        if (log_state.file)
                write_file(&now, priority, fields, message);
        if (log_state.sink) {
                struct log_entry entry = {
                    .time = now,
                    .priority = priority,
                    .message_id = message_id,
                    .fields = fields,
                    .message = message,
                };

                log_state.sink(log_state.sink_arg, &entry);
        }
        errno = saved_errno;
}
