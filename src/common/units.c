#include "units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int units_parse_uint(const char *text, unsigned long min, unsigned long max, unsigned long *value)
{
        char *end = NULL;
        unsigned long v;

        if (!text || *text < '0' || *text > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(text, &end, 10);
        if (*end != '\0')
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *value = v;
        return 0;
}

int units_parse_double(const char *text, double min, double max, double *value)
{
        char *end = NULL;
        double v;

        if (!text || !*text || *text == ' ' || *text == '\t' || *text == '\n')
                return -EINVAL;
        errno = 0;
        v = strtod(text, &end);
        if (end == text || *end != '\0' || !isfinite(v))
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *value = v;
        return 0;
}

int units_parse_size(const char *text, uint64_t *bytes)
{
        static const struct {
                const char *suffix;
                unsigned shift;
        } suffixes[] = {
            /* Binary only: "kB" means 1000 to some and 1024 to others, so it is refused. */
            {"", 0}, {"k", 10}, {"kib", 10}, {"m", 20}, {"mib", 20}, {"g", 30}, {"gib", 30},
        };
        char *end = NULL;
        unsigned long long v;

        if (!text || *text < '0' || *text > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(text, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
                if (strcasecmp(end, suffixes[i].suffix) != 0)
                        continue;
                if (suffixes[i].shift && v > (UINT64_MAX >> suffixes[i].shift))
                        return -ERANGE;
                *bytes = (uint64_t)v << suffixes[i].shift;
                return 0;
        }
        return -EINVAL;
}

int units_parse_duration(const char *text, uint64_t *ns)
{
        char *end = NULL;
        double v, scale;

        if (!text || ((*text < '0' || *text > '9') && *text != '.'))
                return -EINVAL;
        errno = 0;
        v = strtod(text, &end);
        if (errno || end == text || !isfinite(v) || v < 0)
                return -EINVAL;
        if (*end == '\0' || strcmp(end, "s") == 0)
                scale = 1e9;
        else if (strcmp(end, "ms") == 0)
                scale = 1e6;
        else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
                scale = 60e9;
        else if (strcmp(end, "h") == 0)
                scale = 3600e9;
        else
                return -EINVAL;
        /* A year is plenty; anything above is a typo, and would overflow. */
        if (v * scale > 365.0 * 24 * 3600e9)
                return -EINVAL;
        *ns = (uint64_t)llround(v * scale);
        return 0;
}

void units_format_duration(uint64_t ns, char *buf, size_t size)
{
        if (ns < 1000)
                snprintf(buf, size, "%lluns", (unsigned long long)ns);
        else if (ns < 1000000)
                snprintf(buf, size, "%.1fus", (double)ns / 1e3);
        else if (ns < 1000000000)
                snprintf(buf, size, "%.2fms", (double)ns / 1e6);
        else
                snprintf(buf, size, "%.2fs", (double)ns / 1e9);
}
