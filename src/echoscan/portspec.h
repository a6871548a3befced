#ifndef ECHOD_PORTSPEC_H
#define ECHOD_PORTSPEC_H

#include <stddef.h>
#include <stdint.h>

/* Port numbers 1..65535 as a bitmap: 8 KiB, no allocation, duplicates merge. */
struct portspec {
        uint64_t bits[65536 / 64];
        unsigned count;
};

/* Where and why portspec_parse() rejected its input (reason is a static string). */
struct portspec_error {
        size_t offset;
        size_t length;
        const char *reason;
};

/*
 * Parse a port list such as "22,80,1000-2000", "-" (all), "-1024" (1-1024) or
 * "60000-" (60000-65535) into spec. Blanks around items are allowed; an empty
 * item is not. Returns 0, -EINVAL (bad syntax or reversed range) or -ERANGE
 * (a port of 0 or above 65535); err, when not NULL, says which item and why.
 */
int portspec_parse(struct portspec *spec, const char *text, struct portspec_error *err);

/* Set every port from first to last inclusive (1 <= first <= last <= 65535). */
void portspec_add_range(struct portspec *spec, unsigned first, unsigned last);

/* Whether port is in spec. */
int portspec_has(const struct portspec *spec, unsigned port);

/* Write the ports of spec in ascending order to out (room for spec->count). Returns the count. */
size_t portspec_list(const struct portspec *spec, uint16_t *out);

#endif
