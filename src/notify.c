#include "notify.h"

#include <time.h>

#include <systemd/sd-daemon.h>

void notify_ready(const char *status)
{
        sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void notify_status(const char *status)
{
        sd_notifyf(0, "STATUS=%s", status);
}

void notify_reloading(void)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC=%llu",
                   (unsigned long long)now.tv_sec * 1000000ull +
                       (unsigned long long)now.tv_nsec / 1000ull);
}

void notify_stopping(const char *status)
{
        sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
}

void notify_watchdog(void)
{
        sd_notify(0, "WATCHDOG=1");
}

uint64_t notify_watchdog_usec(void)
{
        uint64_t usec = 0;

        if (sd_watchdog_enabled(0, &usec) <= 0)
                return 0;
        return usec;
}
