#ifndef ECHOD_REPORT_H
#define ECHOD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "services.h"

enum report_format {
        REPORT_PLAIN, /* "PORT/tcp STATE SERVICE" lines */
        REPORT_JSON,  /* one JSON document */
        REPORT_GREP,  /* "ADDRESS<TAB>PORT/tcp<TAB>STATE<TAB>SERVICE" lines */
};

/* The outcome of one host's scan, as the scanner left it. */
struct report_host {
        const char *name;      /* as the user gave it */
        const char *address;   /* numeric */
        const uint16_t *ports; /* ascending */
        const uint8_t *states; /* one enum scan_state per port (masked) */
        size_t nports;
};

/* What the run was, for the headers of the JSON and nmap formats. */
struct report_run {
        const char *version; /* echoscan's */
        const char *args;    /* the command line, words joined by blanks */
        double start, end;   /* wall clock, seconds since the epoch */
        bool interrupted;    /* stopped by a signal: pending ports were not scanned */
        unsigned verbose;    /* -v count */
        bool open_only;      /* --open: report open ports only, even with --all */
        bool all;            /* --all: report every port */
};

struct report_counts {
        uint64_t open, closed, filtered;
};

/* Parse "plain", "json" or "grep". Returns 0 or -EINVAL. */
int report_format_parse(const char *text, enum report_format *out);

/* The word for an enum scan_state: "open", "closed", "filtered" or "pending". */
const char *report_state_name(unsigned state);

/* Count the states of one host's ports into counts (added to what is there). */
void report_count(const struct report_host *host, struct report_counts *counts);

/* Whether a host looks down: no port answered at all (every one filtered). */
bool report_host_down(const struct report_counts *counts);

/*
 * Write the results of nhosts hosts to out in format: open ports only, or
 * every decided port when all. run (may be NULL) adds the start time,
 * arguments and version to the JSON. Returns 0 or -EIO when writing failed.
 */
int report_write(FILE *out, enum report_format format, const struct report_host *hosts,
                 size_t nhosts, bool all, const struct services *db, const struct report_run *run);

/*
 * Format the closing summary (no newline) into buf. Returns its length, or
 * -ENOSPC when buf is too small.
 */
int report_summary(char *buf, size_t size, const struct report_counts *counts, size_t nhosts,
                   uint64_t scanned, double elapsed);

/*
 * Format a progress bar of width cells with percentage, rate and ETA (no
 * carriage return) into buf. Returns its length, or -ENOSPC.
 */
int report_progress(char *buf, size_t size, uint64_t done, uint64_t total, double elapsed,
                    unsigned width);

#endif
