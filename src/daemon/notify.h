#ifndef ECHOD_NOTIFY_H
#define ECHOD_NOTIFY_H

#include <stdint.h>

/*
 * The sd_notify(3) protocol. Every call is a no-op without NOTIFY_SOCKET, so
 * the daemon calls them unconditionally.
 */

/*
 * Open the socket the messages go out on (NOTIFY_SOCKET), so they go out
 * even when the process has no descriptor left, and never block the loop.
 */
void notify_init(void);

/* Close it. */
void notify_fini(void);

/* Messages dropped because the notify socket's queue was full. */
uint64_t notify_dropped(void);

/* READY=1 with a STATUS= text. */
void notify_ready(const char *status);

/* STATUS= alone. */
void notify_status(const char *status);

/* RELOADING=1 with MONOTONIC_USEC= as systemd wants it. */
void notify_reloading(void);

/* STOPPING=1 with a STATUS= text. */
void notify_stopping(const char *status);

/* WATCHDOG=1. */
void notify_watchdog(void);

/* The watchdog interval systemd asked for (honouring WATCHDOG_PID), or 0. */
uint64_t notify_watchdog_usec(void);

#endif
