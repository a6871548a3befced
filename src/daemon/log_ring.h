#ifndef ECHOD_LOG_RING_H
#define ECHOD_LOG_RING_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/*
 * The daemon's recent log records, kept in memory for "echoctl logs": a
 * bounded ring of formatted lines (the oldest is dropped when it is full),
 * fed from log_set_sink(), with one observer for "logs -f".
 */

/* Records kept; each is at most about LOG_RING_LINE_MAX bytes. */
#define LOG_RING_RECORDS  512
#define LOG_RING_LINE_MAX 2560

/* Called with each new record's line (no newline), after it is stored. */
typedef void (*log_ring_observer_fn)(void *arg, const char *line);

struct log_ring {
        char *lines[LOG_RING_RECORDS];
        size_t first; /* index of the oldest */
        size_t count;
        uint64_t total; /* records ever stored */
        log_ring_observer_fn observer;
        void *observer_arg;
        int in_observer; /* a record logged by the observer itself is stored, not observed */
};

/* Start empty. */
void log_ring_init(struct log_ring *ring);

/* Free every line. */
void log_ring_fini(struct log_ring *ring);

/* Store one record (the log_sink_fn for log_set_sink(), with the ring as arg). */
void log_ring_sink(void *ring, const struct log_entry *entry);

/* Drop every record. */
void log_ring_clear(struct log_ring *ring);

/* Records held now. */
size_t log_ring_count(const struct log_ring *ring);

/* The i-th record held, 0 the oldest; NULL past the end. */
const char *log_ring_get(const struct log_ring *ring, size_t i);

/* Set (or with NULL clear) the one observer of new records. */
void log_ring_observe(struct log_ring *ring, log_ring_observer_fn observer, void *arg);

#endif
