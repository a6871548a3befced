#ifndef ECHOD_SCAN_ARGS_H
#define ECHOD_SCAN_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "report.h"
#include "report_nmap.h"

/* The most files -oN, -oX, -oG and -oA may name together. */
#define SCAN_ARGS_MAX_FILES 8
#define SCAN_ARGS_MAX_LISTS 32

enum scan_action {
        SCAN_ACTION_RUN,
        SCAN_ACTION_HELP,
        SCAN_ACTION_VERSION,
};

/* One nmap-format file to write (path "-" is standard output). */
struct scan_args_file {
        enum report_nmap_format format;
        const char *path;
        char *owned; /* the path when -oA made it; freed by scan_args_fini() */
};

struct scan_args {
        enum scan_action action;
        const char *ports;    /* -p, or NULL */
        unsigned top_ports;   /* --top-ports, 0 when not given */
        unsigned concurrency; /* 0: from the open-file limit */
        double timeout;       /* seconds */
        unsigned retries;
        double max_rate, min_rate; /* probes per second; 0 when not given */
        int timing;                /* -T0..-T5 (3 when not given) */
        bool all, open_only, quiet, no_uring;
        unsigned verbose;
        int family;
        enum report_format format;
        struct scan_args_file files[SCAN_ARGS_MAX_FILES];
        size_t nfiles;
        const char *input_lists[SCAN_ARGS_MAX_LISTS]; /* -iL */
        size_t ninput_lists;
        const char *excludes[SCAN_ARGS_MAX_LISTS]; /* --exclude, each a comma-separated list */
        size_t nexcludes;
        char **hosts; /* the HOST arguments */
        size_t nhosts;
};

/*
 * Parse echoscan's command line into args: the timing template first, then
 * every explicit option over it whatever their order. Returns 0, or -EINVAL
 * with a one-line reason in error. argv is reordered (getopt).
 */
int scan_args_parse(int argc, char **argv, struct scan_args *args, char *error, size_t size);

/* Free what parsing allocated. */
void scan_args_fini(struct scan_args *args);

/* The --help text. */
extern const char scan_args_usage[];

#endif
