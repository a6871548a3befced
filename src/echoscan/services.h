#ifndef ECHOD_SERVICES_H
#define ECHOD_SERVICES_H

#include <stddef.h>
#include <stdint.h>

/* The system services database, and nmap's (names plus how often each port is found open). */
#define SERVICES_PATH      "/etc/services"
#define NMAP_SERVICES_PATH "/usr/share/nmap/nmap-services"
/* Longest service name kept (longer names are cut). */
#define SERVICES_NAME_MAX 32

/* TCP service names by port, read once from a services(5) or nmap-services file. */
struct services {
        char (*names)[SERVICES_NAME_MAX];
        /* Open frequency by port (nmap-services' third column); NULL without one. */
        float *frequency;
};

/*
 * Read the tcp entries of the services(5) or nmap-services file at path; the
 * first name given for a port wins, as with getservbyport(), and a third
 * column that is a number in [0, 1] is kept as the port's open frequency.
 * Returns 0, -errno from opening the file, or -ENOMEM. On failure every port
 * is "unknown".
 */
int services_load(struct services *db, const char *path);

/*
 * Read nmap's services file when installed, else /etc/services. Returns 0
 * or the error of the last file tried.
 */
int services_load_default(struct services *db);

/* The service name of a TCP port, or "unknown". */
const char *services_name(const struct services *db, uint16_t port);

/* The service name of a TCP port, or NULL when the file has none. */
const char *services_lookup(const struct services *db, uint16_t port);

/*
 * The n TCP ports most often found open: by nmap-services' frequencies when
 * loaded (ties by port number), else a built-in list of common services
 * followed by the lowest other ports. Writes min(n, 65535) ports to out, in
 * no particular order; returns that count.
 */
size_t services_top_ports(const struct services *db, size_t n, uint16_t *out);

/* Free the table. */
void services_fini(struct services *db);

#endif
