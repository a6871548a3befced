#include "services.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Common TCP services, for --top-ports without nmap's frequencies: remote
 * shells and file transfer, mail, web, directory and name services,
 * databases, message brokers, remote desktops and the usual alternates of
 * web ports. The order is a judgement of how often each is met on servers
 * and workstations, most common first.
 */
static const uint16_t builtin_top[] = {
    80,    443,  22,    21,   23,    25,    3389,  110,   445,  139,  143,   53,    135,   3306,
    8080,  1723, 111,   995,  993,   5900,  1025,  587,   8888, 199,  1720,  465,   548,   113,
    81,    6001, 10000, 514,  5060,  179,   1026,  2000,  8443, 8000, 32768, 554,   26,    1433,
    49152, 2001, 515,   8008, 49154, 1027,  5666,  646,   5000, 5631, 631,   49153, 8081,  2049,
    88,    79,   5800,  106,  2121,  1110,  49155, 6000,  513,  990,  5357,  427,   49156, 543,
    544,   5101, 144,   7,    389,   8009,  3128,  444,   9999, 5009, 7070,  5190,  3000,  5432,
    1900,  3986, 13,    1029, 9,     5051,  6646,  49157, 1028, 873,  1755,  2717,  4899,  9100,
    119,   37,   636,   6379, 27017, 11211, 5672,  9200,  2375, 6443,
};

static void parse_line(struct services *db, char *line)
{
        char *save = NULL, *name, *port_proto, *third, *slash, *end = NULL;
        unsigned long port;

        line[strcspn(line, "#\n")] = '\0';
        name = strtok_r(line, " \t", &save);
        port_proto = name ? strtok_r(NULL, " \t", &save) : NULL;
        if (!port_proto)
                return;
        third = strtok_r(NULL, " \t", &save);
        slash = strchr(port_proto, '/');
        if (!slash || strcmp(slash + 1, "tcp") != 0)
                return;
        *slash = '\0';
        errno = 0;
        port = strtoul(port_proto, &end, 10);
        if (errno || end == port_proto || *end != '\0' || port > 65535)
                return;
        if (db->names[port][0] == '\0')
                snprintf(db->names[port], SERVICES_NAME_MAX, "%s", name);
        if (third && db->frequency) {
                /* nmap-services: "http 80/tcp 0.484143". In /etc/services the third field is an
                 * alias. */
                double f = strtod(third, &end);

                if (end != third && *end == '\0' && f >= 0 && f <= 1 && f > db->frequency[port])
                        db->frequency[port] = (float)f;
        }
}

int services_load(struct services *db, const char *path)
{
        char line[1024];
        bool any_frequency = false;
        FILE *f;

        db->names = calloc(65536, sizeof(*db->names));
        db->frequency = calloc(65536, sizeof(*db->frequency));
        if (!db->names || !db->frequency) {
                services_fini(db);
                return -ENOMEM;
        }
        f = fopen(path, "re");
        if (!f) {
                free(db->frequency);
                db->frequency = NULL;
                return -errno;
        }
        while (fgets(line, sizeof(line), f))
                parse_line(db, line);
        fclose(f);
        for (unsigned port = 0; port < 65536 && !any_frequency; port++)
                any_frequency = db->frequency[port] > 0;
        if (!any_frequency) {
                free(db->frequency);
                db->frequency = NULL;
        }
        return 0;
}

int services_load_default(struct services *db)
{
        int r = services_load(db, NMAP_SERVICES_PATH);

        if (r == 0 || r == -ENOMEM)
                return r;
        services_fini(db);
        return services_load(db, SERVICES_PATH);
}

const char *services_lookup(const struct services *db, uint16_t port)
{
        if (!db || !db->names || db->names[port][0] == '\0')
                return NULL;
        return db->names[port];
}

const char *services_name(const struct services *db, uint16_t port)
{
        const char *name = services_lookup(db, port);

        return name ? name : "unknown";
}

static const float *sort_frequency;

static int by_frequency(const void *a, const void *b)
{
        uint16_t pa = *(const uint16_t *)a, pb = *(const uint16_t *)b;
        float fa = sort_frequency[pa], fb = sort_frequency[pb];

        if (fa != fb)
                return fa > fb ? -1 : 1;
        return pa < pb ? -1 : pa > pb;
}

size_t services_top_ports(const struct services *db, size_t n, uint16_t *out)
{
        static bool taken[65536];
        size_t count = 0;

        if (n > 65535)
                n = 65535;
        if (db && db->frequency) {
                uint16_t *all = malloc(65535 * sizeof(*all));

                if (all) {
                        for (unsigned port = 1; port <= 65535; port++)
                                all[port - 1] = (uint16_t)port;
                        /* qsort has no context argument; the table is set just for this call. */
                        sort_frequency = db->frequency;
                        qsort(all, 65535, sizeof(*all), by_frequency);
                        memcpy(out, all, n * sizeof(*out));
                        free(all);
                        return n;
                }
        }
        memset(taken, 0, sizeof(taken));
        for (size_t i = 0; i < sizeof(builtin_top) / sizeof(builtin_top[0]) && count < n; i++) {
                if (!taken[builtin_top[i]]) {
                        taken[builtin_top[i]] = true;
                        out[count++] = builtin_top[i];
                }
        }
        for (unsigned port = 1; port <= 65535 && count < n; port++) {
                if (!taken[port])
                        out[count++] = (uint16_t)port;
        }
        return count;
}

void services_fini(struct services *db)
{
        free(db->names);
        free(db->frequency);
        db->names = NULL;
        db->frequency = NULL;
}
