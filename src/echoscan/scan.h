#ifndef ECHOD_SCAN_H
#define ECHOD_SCAN_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"

/* What one port of one host turned out to be. */
enum scan_state {
        SCAN_PENDING = 0, /* not decided yet */
        SCAN_OPEN,        /* the connect succeeded */
        SCAN_CLOSED,      /* refused (a TCP reset) */
        SCAN_FILTERED,    /* no answer in time, unreachable, or blocked locally */
};

/* The bits of a state byte that hold the enum scan_state. */
#define SCAN_STATE_MASK 0x03u

/* The most attempts a port gets: the first one and up to this many retries. */
#define SCAN_MAX_RETRIES 15

struct scan_options {
        unsigned concurrency; /* connects in flight at most; 0 means 1 */
        double timeout;       /* seconds one attempt may take */
        unsigned retries;     /* further attempts for ports that timed out */
        bool no_uring;        /* use plain connect() even where io_uring works */
        double max_rate;      /* attempts started per second at most; 0 for no limit */
        /* Called as each open port is found (may be NULL). */
        void (*on_open)(void *data, size_t host, uint16_t port);
        void *data;
};

struct scan;

/*
 * Create a scan of every port in ports (ascending, count nports) on every
 * target, driven by loop. The scan keeps pointers to targets and ports.
 * Returns 0 or -ENOMEM, -E2BIG (too many host and port pairs), -EINVAL.
 */
int scan_new(struct scan **out, struct ev_loop *loop, const struct target *targets, size_t ntargets,
             const uint16_t *ports, size_t nports, const struct scan_options *options);

/* Start the scan; ev_run() returns when it is over (or failed). */
void scan_start(struct scan *scan);

/* Stop now (Ctrl-C): what is decided stays, ports in flight stay pending; ev_run() returns. */
void scan_interrupt(struct scan *scan);

/* 0 while the scan goes well, else the -errno that stopped it. */
int scan_error(const struct scan *scan);

/* Whether the scan submits its connects through io_uring (once started). */
bool scan_uses_uring(const struct scan *scan);

/* Attempts decided so far and in total (the progress). */
void scan_progress(const struct scan *scan, uint64_t *done, uint64_t *total);

/* The state bytes of target index host, one per port (mask with SCAN_STATE_MASK). */
const uint8_t *scan_states(const struct scan *scan, size_t host);

/* Stop any attempt in flight and free the scan. */
void scan_free(struct scan *scan);

#endif
