#ifndef ECHOD_UNITS_H
#define ECHOD_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a byte count: digits with an optional binary suffix, k/K/KiB (1024),
 * m/M/MiB, g/G/GiB ("kB" and "MB" are refused: they are ambiguous).
 * Returns 0, -EINVAL for bad text or -ERANGE on overflow.
 */
int units_parse_size(const char *text, uint64_t *bytes);

/*
 * Parse a duration: a decimal number with an optional unit, ms, s (the
 * default), m or h. Returns 0 with the nanoseconds in *ns, or -EINVAL.
 */
int units_parse_duration(const char *text, uint64_t *ns);

/* Parse a decimal number (no leading blanks, finite) in [min, max]. Returns 0, -EINVAL or -ERANGE.
 */
int units_parse_double(const char *text, double min, double max, double *value);

/* Parse a whole decimal number in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int units_parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *value);

/* Write a duration in ns with a readable unit ("850ns", "81.2us", "12.3ms", "1.50s"). */
void units_format_duration(uint64_t ns, char *buf, size_t size);

#endif
