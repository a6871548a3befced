#ifndef ECHOD_SERVICES_H
#define ECHOD_SERVICES_H

#include <stdint.h>

/* The default services database. */
#define SERVICES_PATH "/etc/services"
/* Longest service name kept (longer names are cut). */
#define SERVICES_NAME_MAX 32

/* TCP service names by port, read once from a services(5) file. */
struct services {
        char (*names)[SERVICES_NAME_MAX];
};

/*
 * Read the tcp entries of the services(5) file at path; the first name given
 * for a port wins, as with getservbyport(). Returns 0, -errno from opening
 * the file, or -ENOMEM. On failure every port is "unknown".
 */
int services_load(struct services *db, const char *path);

/* The service name of a TCP port, or "unknown". */
const char *services_name(const struct services *db, uint16_t port);

/* Free the table. */
void services_fini(struct services *db);

#endif
