#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <sys/un.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "escape.h"
#include "file.h"

#define LOG_LINE_MAX 2048
/* Records waiting for a stalled standard error, at most. */
#define LOG_QUEUE_MAX (64 * 1024)

/*
 * Standard error must never block the loop (a pipe nobody reads, a terminal
 * on hold). Records are written without blocking; what the sink does not
 * take waits in a bounded queue, flushed by the next record or by
 * log_flush(); what does not fit is dropped and counted, and the count is
 * logged once the queue has drained.
 */
enum stderr_mode {
        STDERR_WRITE, /* write(2) to fd 2: a regular file, which does not block on a reader */
        STDERR_SEND,  /* send(MSG_DONTWAIT) on fd 2: a socket */
        STDERR_OWN,   /* write(2) to a private non-blocking reopening of fd 2 */
};

static struct {
        const char *identifier;
        char identifier_field[64];
        log_sink_fn sink;
        void *sink_arg;
        int level;
        bool journal;
        bool stderr_tty;
        int file_fd; /* -1: no log file */
        char *file_path;
        enum stderr_mode stderr_mode;
        int stderr_fd;
        char queue[LOG_QUEUE_MAX];
        size_t queue_length;
        unsigned long long dropped;
        bool reporting;
        int journal_fd;
        struct sockaddr_un journal_address;
        socklen_t journal_address_length;
        unsigned long long journal_dropped;
        unsigned long long file_dropped;
        time_t file_reported; /* CLOCK_MONOTONIC seconds of the last report */
} log_state = {.identifier = "echod",
               .level = LOG_INFO,
               .stderr_fd = STDERR_FILENO,
               .journal_fd = -1,
               .file_fd = -1};

static void journal_setup(void);

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

/*
 * Pick a way to write standard error that cannot block. A pipe or a terminal
 * is reopened through /proc (a file description of our own, so
 * O_NONBLOCK does not leak to the processes sharing ours); a socket takes
 * MSG_DONTWAIT; anything else (a regular file) is written as it is.
 */
static void stderr_setup(void)
{
        struct stat st;
        int fd;

        log_state.stderr_mode = STDERR_WRITE;
        log_state.stderr_fd = STDERR_FILENO;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        if (S_ISSOCK(st.st_mode)) {
                log_state.stderr_mode = STDERR_SEND;
                return;
        }
        if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
                return;
        fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return; /* no /proc: write as before */
        log_state.stderr_mode = STDERR_OWN;
        log_state.stderr_fd = fd;
}

/* One non-blocking write of up to length bytes. Returns bytes taken, 0 if none, -1 on error. */
static ssize_t stderr_write(const char *data, size_t length)
{
        ssize_t n;

        do {
                if (log_state.stderr_mode == STDERR_SEND)
                        n = send(log_state.stderr_fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL);
                else
                        n = write(log_state.stderr_fd, data, length);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return 0;
        return n;
}

/* Write what waits in the queue. True once it is empty. */
static bool stderr_flush(void)
{
        while (log_state.queue_length > 0) {
                ssize_t n = stderr_write(log_state.queue, log_state.queue_length);

                if (n < 0) {
                        /* A broken sink (closed pipe): the queue will never go out. */
                        log_state.dropped++;
                        log_state.queue_length = 0;
                        break;
                }
                if (n == 0)
                        return false;
                memmove(log_state.queue, log_state.queue + n, log_state.queue_length - (size_t)n);
                log_state.queue_length -= (size_t)n;
        }
        return true;
}

/* Write one line to standard error, or queue it, or count it as dropped. */
static void stderr_line(const char *line, size_t length)
{
        ssize_t n = 0;

        if (stderr_flush()) {
                n = stderr_write(line, length);
                if (n < 0 || (size_t)n == length)
                        return; /* written (or the sink is gone: nothing to wait for) */
        }
        /* Whole records only: the rest of a partly written one, or none of a new one. */
        if (log_state.queue_length + length - (size_t)n > sizeof(log_state.queue)) {
                log_state.dropped++;
                return;
        }
        memcpy(log_state.queue + log_state.queue_length, line + n, length - (size_t)n);
        log_state.queue_length += length - (size_t)n;
}

void log_init(const char *identifier)
{
        log_state.identifier = identifier;
        snprintf(log_state.identifier_field, sizeof(log_state.identifier_field),
                 "SYSLOG_IDENTIFIER=%s", identifier);
        log_state.journal = stderr_is_journal();
        log_state.stderr_tty = isatty(STDERR_FILENO) == 1;
        if (log_state.journal)
                journal_setup();
        else
                stderr_setup();
}

/*
 * Say how many records a sink did not take, and start counting anew. The
 * warning goes through the sinks itself (reporting keeps it from reporting
 * on itself). Returns how many were reported.
 */
static unsigned long long report_dropped(unsigned long long *counter, const char *sink,
                                         const char *hint)
{
        unsigned long long dropped = *counter;

        *counter = 0;
        log_state.reporting = true;
        log_warning("%llu log record%s dropped: %s was not taking them%s", dropped,
                    dropped == 1 ? "" : "s", sink, hint);
        log_state.reporting = false;
        return dropped;
}

void log_flush(void)
{
        if (log_state.journal_dropped > 0 && !log_state.reporting) {
                unsigned long long dropped =
                    report_dropped(&log_state.journal_dropped, "the journal", "");

                /* Still full: that record was dropped too, and counted again. */
                if (log_state.journal_dropped > 0)
                        log_state.journal_dropped += dropped;
        }
        if (log_state.file_dropped > 0 && !log_state.reporting) {
                struct timespec now;
                char sink[4200];

                /* At most every 10 s: the report itself may not fit on a full disk either. */
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (log_state.file_reported == 0 || now.tv_sec - log_state.file_reported >= 10) {
                        log_state.file_reported = now.tv_sec;
                        snprintf(sink, sizeof(sink), "the log file %s",
                                 log_state.file_path ? log_state.file_path : "");
                        report_dropped(&log_state.file_dropped, sink, " (a full disk?)");
                }
        }
        if (!stderr_flush() || log_state.dropped == 0 || log_state.reporting)
                return;
        report_dropped(&log_state.dropped, "standard error", "");
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

/* A regular file only: a FIFO in its place would block the opener (and the loop). */
static int open_log_file(const char *path)
{
        return file_open_regular(path, O_WRONLY | O_APPEND | O_CREAT, 0640);
}

int log_set_file(const char *path)
{
        char *copy = NULL;
        int fd = -1;

        if (path && *path) {
                copy = strdup(path);
                if (!copy)
                        return -ENOMEM;
                fd = open_log_file(path);
                if (fd < 0) {
                        free(copy);
                        return fd;
                }
        }
        if (log_state.file_fd >= 0)
                close(log_state.file_fd);
        free(log_state.file_path);
        log_state.file_fd = fd;
        log_state.file_path = copy;
        return 0;
}

int log_reopen(void)
{
        int fd;

        if (!log_state.file_path)
                return 0;
        fd = open_log_file(log_state.file_path);
        if (fd < 0)
                return fd;
        close(log_state.file_fd);
        log_state.file_fd = fd;
        return 0;
}

int log_truncate_file(void)
{
        if (log_state.file_fd < 0)
                return 0;
        /* The file is opened O_APPEND, so the next record goes to the new end. */
        if (ftruncate(log_state.file_fd, 0) < 0)
                return -errno;
        return 0;
}

void log_fini(void)
{
        log_flush();
        log_set_file(NULL);
        if (log_state.stderr_mode == STDERR_OWN)
                close(log_state.stderr_fd);
        log_state.stderr_mode = STDERR_WRITE;
        log_state.stderr_fd = STDERR_FILENO;
        if (log_state.journal_fd >= 0)
                close(log_state.journal_fd);
        log_state.journal_fd = -1;
}

void log_set_sink(log_sink_fn sink, void *arg)
{
        log_state.sink = sink;
        log_state.sink_arg = arg;
}

/* One "KEY=value" field in the journal's native protocol; the value may hold newlines. */
static size_t journal_field(struct iovec *iov, const char *field, size_t length,
                            unsigned char size_le[8])
{
        const char *equals = memchr(field, '=', length);
        size_t n = 0;

        if (!equals || !memchr(equals + 1, '\n', length - (size_t)(equals + 1 - field))) {
                iov[n++] = (struct iovec){(void *)field, length};
                iov[n++] = (struct iovec){(void *)"\n", 1};
                return n;
        }
        /* KEY, newline, the value's length as 64-bit little-endian, the value, newline. */
        uint64_t value_length = length - (size_t)(equals + 1 - field);
        for (int b = 0; b < 8; b++)
                size_le[b] = (unsigned char)(value_length >> (8 * b));
        iov[n++] = (struct iovec){(void *)field, (size_t)(equals - field)};
        iov[n++] = (struct iovec){(void *)"\n", 1};
        iov[n++] = (struct iovec){size_le, 8};
        iov[n++] = (struct iovec){(void *)(equals + 1), (size_t)value_length};
        iov[n++] = (struct iovec){(void *)"\n", 1};
        return n;
}

/*
 * A record to journald, on a non-blocking socket of our own: sd_journal_send
 * blocks while journald does not read (its socket queue is full), and that
 * would freeze the loop. What does not fit now is dropped and counted.
 */
static void write_journal(const char *file, const char *line, const char *func, int priority,
                          const char *message_id, const char *const *fields, const char *message)
{
        struct iovec iov[(LOG_FIELDS_MAX + 8) * 5];
        unsigned char sizes[LOG_FIELDS_MAX + 8][8];
        char priority_field[16], id_field[48], func_field[128], *message_field;
        const char *all[LOG_FIELDS_MAX + 8];
        struct msghdr header = {0};
        size_t count = 0, n = 0;
        ssize_t sent;

        if (log_state.journal_fd < 0) {
                log_state.journal_dropped++;
                return;
        }
        message_field = malloc(strlen(message) + sizeof("MESSAGE="));
        if (!message_field) {
                log_state.journal_dropped++;
                return;
        }
        strcpy(message_field, "MESSAGE=");
        strcat(message_field, message);
        snprintf(priority_field, sizeof(priority_field), "PRIORITY=%d", priority);
        snprintf(func_field, sizeof(func_field), "CODE_FUNC=%s", func);
        all[count++] = message_field;
        all[count++] = priority_field;
        all[count++] = file;
        all[count++] = line;
        all[count++] = func_field;
        if (log_state.identifier_field[0])
                all[count++] = log_state.identifier_field;
        if (message_id) {
                snprintf(id_field, sizeof(id_field), "MESSAGE_ID=%s", message_id);
                all[count++] = id_field;
        }
        for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++)
                all[count++] = fields[i];
        for (size_t i = 0; i < count; i++)
                n += journal_field(iov + n, all[i], strlen(all[i]), sizes[i]);
        header.msg_name = &log_state.journal_address;
        header.msg_namelen = log_state.journal_address_length;
        header.msg_iov = iov;
        header.msg_iovlen = n;
        do
                sent = sendmsg(log_state.journal_fd, &header, MSG_DONTWAIT | MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        if (sent < 0)
                log_state.journal_dropped++;
        free(message_field);
}

/* The socket for write_journal(). */
static void journal_setup(void)
{
        static const char path[] = "/run/systemd/journal/socket";
        struct sockaddr_un *address = &log_state.journal_address;

        memset(address, 0, sizeof(*address));
        address->sun_family = AF_UNIX;
        memcpy(address->sun_path, path, sizeof(path));
        log_state.journal_address_length =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(path) - 1);
        log_state.journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

static void write_file(const struct timespec *now, int priority, const char *const *fields,
                       const char *message)
{
        char record[LOG_LINE_MAX + 64 + LOG_FIELDS_MAX * 256];
        size_t length = 0;
        struct tm tm;
        char stamp[32];
        ssize_t n;
        int r;

        gmtime_r(&now->tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        r = snprintf(record, sizeof(record), "%s.%03ldZ %s[%d] <%s> %s", stamp,
                     now->tv_nsec / 1000000, log_state.identifier, (int)getpid(),
                     level_names[priority], message);
        length = r < 0 ? 0 : (size_t)r < sizeof(record) - 1 ? (size_t)r : sizeof(record) - 2;
        for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++) {
                r = snprintf(record + length, sizeof(record) - 1 - length, " %s", fields[i]);
                if (r < 0 || (size_t)r >= sizeof(record) - 1 - length) {
                        length = sizeof(record) - 2;
                        break;
                }
                length += (size_t)r;
        }
        record[length++] = '\n';
        /*
         * One write(2) per record, so that records never interleave. A full
         * disk (writes to a regular file fail, they never block) can take part
         * of it: that part is cut off again, so the file holds whole records
         * only, and the record is counted as dropped.
         */
        n = write(log_state.file_fd, record, length);
        if (n == (ssize_t)length)
                return;
        if (n > 0) {
                off_t end = lseek(log_state.file_fd, 0, SEEK_CUR);
                if (end >= n && ftruncate(log_state.file_fd, end - n) < 0) {
                        /* Nothing more to do: the next record still starts a line. */
                }
        }
        log_state.file_dropped++;
}

void log_record_at(const char *file, const char *line, const char *func, int priority,
                   const char *message_id, const char *const *fields, const char *format, ...)
{
        char message[LOG_LINE_MAX], escaped[LOG_LINE_MAX];
        const char *text = message;
        struct timespec now;
        va_list ap;
        int saved_errno = errno;

        if (!log_enabled(priority))
                return;
        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        /* A record is one line: input quoted in it (a path, a peer's text) cannot break it. */
        if (escape_needed(message))
                text = escape_control(message, escaped, sizeof(escaped));

        clock_gettime(CLOCK_REALTIME, &now);
        /* Records dropped while the sink was stalled are reported before the next one. */
        if ((log_state.dropped > 0 || log_state.journal_dropped > 0 ||
             log_state.file_dropped > 0) &&
            !log_state.reporting)
                log_flush();
        if (log_state.journal) {
                write_journal(file, line, func, priority, message_id, fields, text);
        } else {
                char stderr_text[LOG_LINE_MAX + 80];
                int length;

                if (log_state.stderr_tty)
                        length = snprintf(stderr_text, sizeof(stderr_text), "%s: %s\n",
                                          log_state.identifier, text);
                else
                        length =
                            snprintf(stderr_text, sizeof(stderr_text), "<%d>%s\n", priority, text);
                if (length > 0)
                        stderr_line(stderr_text, (size_t)length < sizeof(stderr_text)
                                                     ? (size_t)length
                                                     : sizeof(stderr_text) - 1);
        }
        if (log_state.file_fd >= 0)
                write_file(&now, priority, fields, text);
        if (log_state.sink) {
                struct log_entry entry = {
                    .time = now,
                    .priority = priority,
                    .message_id = message_id,
                    .fields = fields,
                    .message = text,
                };

                log_state.sink(log_state.sink_arg, &entry);
        }
        errno = saved_errno;
}
