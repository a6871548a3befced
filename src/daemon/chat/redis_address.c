#include "redis_address.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "units.h"

#define REDIS_SCHEME "redis://"
#define UNIX_SCHEME  "unix:"

static bool is_host_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_';
}

static bool is_ipv6_char(char c)
{
        return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
               c == ':' || c == '.';
}

/* Copy text[0..length) into out (size bytes) if every byte passes check. */
static int copy_checked(const char *text, size_t length, bool (*check)(char), char *out,
                        size_t size)
{
        if (length == 0 || length >= size)
                return -EINVAL;
        for (size_t i = 0; i < length; i++)
                if (!check(text[i]))
                        return -EINVAL;
        memcpy(out, text, length);
        out[length] = '\0';
        return 0;
}

/* Parse a decimal number of at most 5 digits in [min, max] from text[0..length). */
static int parse_small_number(const char *text, size_t length, unsigned long min, unsigned long max,
                              int *value)
{
        char digits[8];
        unsigned long v;
        int r;

        if (length == 0 || length >= sizeof(digits))
                return -EINVAL;
        memcpy(digits, text, length);
        digits[length] = '\0';
        r = units_parse_uint(digits, min, max, &v);
        if (r < 0)
                return -EINVAL;
        *value = (int)v;
        return 0;
}

/* HOST is "[v6]" or a name; *rest points past it. */
static int parse_host(const char *text, const char **rest, struct redis_address *out)
{
        const char *end;

        if (text[0] == '[') {
                end = strchr(text, ']');
                if (!end)
                        return -EINVAL;
                *rest = end + 1;
                return copy_checked(text + 1, (size_t)(end - text - 1), is_ipv6_char, out->host,
                                    sizeof(out->host));
        }
        end = text + strcspn(text, ":/");
        *rest = end;
        return copy_checked(text, (size_t)(end - text), is_host_char, out->host, sizeof(out->host));
}

static int parse_tcp(const char *text, struct redis_address *out)
{
        const char *rest, *slash;
        int r = parse_host(text, &rest, out);

        if (r < 0)
                return r;
        out->port = REDIS_DEFAULT_PORT;
        out->db = 0;
        if (rest[0] == ':') {
                rest++;
                slash = rest + strcspn(rest, "/");
                r = parse_small_number(rest, (size_t)(slash - rest), 1, 65535, &out->port);
                if (r < 0)
                        return r;
                rest = slash;
        }
        if (rest[0] == '/') {
                rest++;
                return parse_small_number(rest, strlen(rest), 0, REDIS_ADDRESS_DB_MAX, &out->db);
        }
        return rest[0] == '\0' ? 0 : -EINVAL;
}

static int parse_unix(const char *path, struct redis_address *out)
{
        size_t length = strlen(path);

        if (length == 0 || length > REDIS_ADDRESS_PATH_MAX)
                return -EINVAL;
        memcpy(out->path, path, length + 1);
        out->port = 0;
        out->db = 0;
        return 0;
}

int redis_address_parse(const char *text, struct redis_address *out)
{
        struct redis_address parsed = {0};
        int r;

        if (!text)
                return -EINVAL;
        if (strncmp(text, REDIS_SCHEME, strlen(REDIS_SCHEME)) == 0)
                r = parse_tcp(text + strlen(REDIS_SCHEME), &parsed);
        else if (strncmp(text, UNIX_SCHEME, strlen(UNIX_SCHEME)) == 0)
                r = parse_unix(text + strlen(UNIX_SCHEME), &parsed);
        else
                r = -EINVAL;
        if (r == 0)
                *out = parsed;
        return r;
}
