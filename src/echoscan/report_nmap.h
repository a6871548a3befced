#ifndef ECHOD_REPORT_NMAP_H
#define ECHOD_REPORT_NMAP_H

#include <stdio.h>

#include "report.h"
#include "services.h"

/*
 * nmap's three file formats (-oN, -oX, -oG), so that the tools that read
 * nmap's files read echoscan's: the XML is valid against nmap's DTD and
 * ndiff compares it with nmap's. Which ports are listed follows nmap: open
 * ports always; closed and filtered ports individually while a host has at
 * most 25 of that state (more with -vv), counted as "Not shown" above that
 * or with --open; every scanned port with --all.
 */
enum report_nmap_format {
        REPORT_NMAP_NORMAL,   /* -oN: the table a person reads */
        REPORT_NMAP_XML,      /* -oX */
        REPORT_NMAP_GREPABLE, /* -oG: "Host: ADDR (NAME)\tPorts: PORT/STATE/tcp//SERVICE///, ..." */
};

/* The letter after -o (N, X, G) as a format. Returns 0 or -EINVAL. */
int report_nmap_format_parse(char letter, enum report_nmap_format *out);

/* Write the results of nhosts hosts in format to out. Returns 0 or -EIO. */
int report_nmap_write(FILE *out, enum report_nmap_format format, const struct report_run *run,
                      const struct report_host *hosts, size_t nhosts, const struct services *db);

#endif
