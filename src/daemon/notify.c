#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

/*
 * The messages go out on one non-blocking datagram socket of our own, opened
 * at start: sd_notify() opens a socket per message (which fails when a
 * connection flood used up the descriptors, silencing READY, STATUS and,
 * worst, WATCHDOG) and sends blocking, so a notify socket nobody reads
 * (its queue holds about ten datagrams) would freeze the whole loop. A
 * message that does not fit now is dropped and counted; the next STATUS=
 * says it again anyway.
 */
static struct {
        int fd;
        struct sockaddr_un address;
        socklen_t length;
        uint64_t dropped;
} notifier = {.fd = -1};

void notify_init(void)
{
        const char *path = getenv("NOTIFY_SOCKET");
        size_t length;

        if (notifier.fd >= 0 || !path || (path[0] != '/' && path[0] != '@'))
                return;
        length = strlen(path);
        if (length >= sizeof(notifier.address.sun_path))
                return;
        memset(&notifier.address, 0, sizeof(notifier.address));
        notifier.address.sun_family = AF_UNIX;
        memcpy(notifier.address.sun_path, path, length);
        if (path[0] == '@')
                notifier.address.sun_path[0] = '\0'; /* abstract namespace */
        notifier.length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length);
        notifier.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

void notify_fini(void)
{
        if (notifier.fd >= 0)
                close(notifier.fd);
        notifier.fd = -1;
}

uint64_t notify_dropped(void)
{
        return notifier.dropped;
}

static void send_message(const char *message)
{
        ssize_t n;

        if (notifier.fd < 0)
                return;
        do
                n = sendto(notifier.fd, message, strlen(message), MSG_DONTWAIT | MSG_NOSIGNAL,
                           (const struct sockaddr *)&notifier.address, notifier.length);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                notifier.dropped++;
}

static void send_format(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void send_format(const char *format, ...)
{
        char message[512];
        va_list ap;

        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        send_message(message);
}

void notify_ready(const char *status)
{
        send_format("READY=1\nSTATUS=%s", status);
}

void notify_status(const char *status)
{
        send_format("STATUS=%s", status);
}

void notify_reloading(void)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        send_format("RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC=%llu",
                    (unsigned long long)now.tv_sec * 1000000ull +
                        (unsigned long long)now.tv_nsec / 1000ull);
}

void notify_stopping(const char *status)
{
        send_format("STOPPING=1\nSTATUS=%s", status);
}

void notify_watchdog(void)
{
        send_message("WATCHDOG=1");
}

uint64_t notify_watchdog_usec(void)
{
        uint64_t usec = 0;

        if (sd_watchdog_enabled(0, &usec) <= 0)
                return 0;
        return usec;
}
