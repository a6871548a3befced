#include "services.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Our own parser rather than getservbyport(): it reads the file once into a
 * table of 65536 names, where getservbyport() goes through NSS and scans the
 * whole file for each port, which shows with --all on a full-range scan.
 */
static void parse_line(struct services *db, char *line)
{
        char *save = NULL, *name, *port_proto, *slash, *end = NULL;
        unsigned long port;

        line[strcspn(line, "#\n")] = '\0';
        name = strtok_r(line, " \t", &save);
        port_proto = name ? strtok_r(NULL, " \t", &save) : NULL;
        if (!port_proto)
                return;
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
}

int services_load(struct services *db, const char *path)
{
        char line[1024];
        FILE *f;

        db->names = calloc(65536, sizeof(*db->names));
        if (!db->names)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                parse_line(db, line);
        fclose(f);
        return 0;
}

const char *services_name(const struct services *db, uint16_t port)
{
        if (!db || !db->names || db->names[port][0] == '\0')
                return "unknown";
        return db->names[port];
}

void services_fini(struct services *db)
{
        free(db->names);
        db->names = NULL;
}
