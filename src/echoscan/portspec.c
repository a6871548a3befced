#include "portspec.h"

#include <errno.h>
#include <string.h>

static int is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/*
 * Read a decimal number at *pos. Digits beyond the sixth are read on, capped,
 * so that "0000080" is 80 and "99999999" is out of range rather than garbage.
 */
static int read_number(const char *text, size_t *pos, unsigned long *value)
{
        size_t i = *pos;

        if (!is_digit(text[i]))
                return -EINVAL;
        *value = 0;
        while (is_digit(text[i])) {
                if (*value <= 65535)
                        *value = *value * 10 + (unsigned long)(text[i] - '0');
                i++;
        }
        *pos = i;
        return 0;
}

static void set_error(struct portspec_error *err, size_t offset, size_t length, const char *reason)
{
        if (!err)
                return;
        err->offset = offset;
        err->length = length;
        err->reason = reason;
}

/*
 * Parse one item text[start..end), blanks already trimmed: syntax first, so
 * that "0x50" is garbage rather than port 0, then the range.
 */
static int parse_item(struct portspec *spec, const char *text, size_t start, size_t end,
                      struct portspec_error *err)
{
        unsigned long first = 1, last = 65535;
        size_t pos = start;

        if (start == end) {
                set_error(err, start, 0, "empty item");
                return -EINVAL;
        }
        if (text[pos] != '-') {
                if (read_number(text, &pos, &first) < 0)
                        goto garbage;
                last = first;
        }
        if (pos < end && text[pos] == '-') {
                pos++;
                last = 65535;
                if (pos < end && read_number(text, &pos, &last) < 0)
                        goto garbage;
        }
        if (pos != end)
                goto garbage;
        if (first < 1 || first > 65535 || last < 1 || last > 65535) {
                set_error(err, start, end - start, "port out of range 1-65535");
                return -ERANGE;
        }
        if (first > last) {
                set_error(err, start, end - start, "range start is after its end");
                return -EINVAL;
        }
        portspec_add_range(spec, (unsigned)first, (unsigned)last);
        return 0;

garbage:
        set_error(err, start, end - start, "not a port or a range");
        return -EINVAL;
}

int portspec_parse(struct portspec *spec, const char *text, struct portspec_error *err)
{
        size_t pos = 0;

        memset(spec, 0, sizeof(*spec));
        if (!text) {
                set_error(err, 0, 0, "empty item");
                return -EINVAL;
        }
        for (;;) {
                size_t start, end;
                int r;

                while (is_blank(text[pos]))
                        pos++;
                start = pos;
                while (text[pos] != '\0' && text[pos] != ',')
                        pos++;
                end = pos;
                while (end > start && is_blank(text[end - 1]))
                        end--;
                r = parse_item(spec, text, start, end, err);
                if (r < 0) {
                        memset(spec, 0, sizeof(*spec));
                        return r;
                }
                if (text[pos] == '\0')
                        return 0;
                pos++;
        }
}

void portspec_add_range(struct portspec *spec, unsigned first, unsigned last)
{
        for (unsigned port = first; port <= last; port++) {
                uint64_t mask = UINT64_C(1) << (port % 64);

                if (!(spec->bits[port / 64] & mask)) {
                        spec->bits[port / 64] |= mask;
                        spec->count++;
                }
        }
}

int portspec_has(const struct portspec *spec, unsigned port)
{
        if (port > 65535)
                return 0;
        return (spec->bits[port / 64] >> (port % 64)) & 1;
}

size_t portspec_list(const struct portspec *spec, uint16_t *out)
{
        size_t n = 0;

        for (unsigned word = 0; word < 65536 / 64; word++) {
                uint64_t bits = spec->bits[word];

                while (bits) {
                        unsigned bit = (unsigned)__builtin_ctzll(bits);

                        out[n++] = (uint16_t)(word * 64 + bit);
                        bits &= bits - 1;
                }
        }
        return n;
}
