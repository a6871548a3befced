#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

/*
 * sd_notify() opens a socket for every message. When the process is out of
 * file descriptors (a connection flood), that would silence READY, STATUS
 * and, worst, WATCHDOG; one descriptor is kept in reserve for it.
 */
static int reserve_fd = -1;

void notify_init(void)
{
        if (reserve_fd < 0)
                reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void notify_fini(void)
{
        if (reserve_fd >= 0)
                close(reserve_fd);
        reserve_fd = -1;
}

static void send_message(const char *message)
{
        int r = sd_notify(0, message);

        if ((r == -EMFILE || r == -ENFILE) && reserve_fd >= 0) {
                close(reserve_fd);
                sd_notify(0, message);
                reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
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
