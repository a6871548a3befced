#include "log_ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const char *const level_names[] = {"emerg",   "alert",  "crit", "err",
                                          "warning", "notice", "info", "debug"};

void log_ring_init(struct log_ring *ring)
{
        memset(ring, 0, sizeof(*ring));
}

void log_ring_clear(struct log_ring *ring)
{
        for (size_t i = 0; i < ring->count; i++) {
                size_t slot = (ring->first + i) % LOG_RING_RECORDS;

                free(ring->lines[slot]);
                ring->lines[slot] = NULL;
        }
        ring->first = 0;
        ring->count = 0;
}

void log_ring_fini(struct log_ring *ring)
{
        log_ring_clear(ring);
        ring->observer = NULL;
}

/* "2026-01-02T03:04:05.678Z <info> message KEY=value ...", cut at LOG_RING_LINE_MAX. */
static void format_line(const struct log_entry *entry, char *line, size_t size)
{
        struct tm tm;
        char stamp[32];
        size_t length;
        int priority = entry->priority >= 0 && entry->priority <= 7 ? entry->priority : 7;

        gmtime_r(&entry->time.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(line, size, "%s.%03ldZ <%s> %s", stamp, entry->time.tv_nsec / 1000000,
                 level_names[priority], entry->message);
        length = strlen(line);
        for (size_t i = 0; entry->fields && entry->fields[i] && i < LOG_FIELDS_MAX; i++) {
                /* Where the record came from in the code says nothing to an operator. */
                if (strncmp(entry->fields[i], "CODE_", 5) == 0)
                        continue;
                if (length + 1 >= size)
                        break;
                snprintf(line + length, size - length, " %s", entry->fields[i]);
                length += strlen(line + length);
        }
        /* A record cut at size ends on a whole character (echoctl shows it as text). */
        if (length + 1 >= size)
                line[utf8_truncate(line, length)] = '\0';
        /* One record is one line: a newline inside would split it for a reader. */
        for (char *p = line; *p; p++) {
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        }
}

void log_ring_sink(void *arg, const struct log_entry *entry)
{
        struct log_ring *ring = arg;
        char line[LOG_RING_LINE_MAX];
        size_t slot;
        char *copy;

        format_line(entry, line, sizeof(line));
        copy = strdup(line);
        if (!copy)
                return; /* out of memory: this record is in the journal, not in the ring */
        if (ring->count == LOG_RING_RECORDS) {
                free(ring->lines[ring->first]);
                ring->lines[ring->first] = NULL;
                ring->first = (ring->first + 1) % LOG_RING_RECORDS;
                ring->count--;
        }
        slot = (ring->first + ring->count) % LOG_RING_RECORDS;
        ring->lines[slot] = copy;
        ring->count++;
        ring->total++;
        if (ring->observer && !ring->in_observer) {
                ring->in_observer = 1;
                ring->observer(ring->observer_arg, copy);
                ring->in_observer = 0;
        }
}

size_t log_ring_count(const struct log_ring *ring)
{
        return ring->count;
}

const char *log_ring_get(const struct log_ring *ring, size_t i)
{
        if (i >= ring->count)
                return NULL;
        return ring->lines[(ring->first + i) % LOG_RING_RECORDS];
}

void log_ring_observe(struct log_ring *ring, log_ring_observer_fn observer, void *arg)
{
        ring->observer = observer;
        ring->observer_arg = arg;
}
