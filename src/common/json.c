#include "json.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

/* Appends to a bounded buffer and counts what did not fit. */
struct sink {
        char *buf;
        size_t size;
        size_t length;
};

static void put(struct sink *sink, const char *bytes, size_t n)
{
        if (sink->length < sink->size) {
                size_t room = sink->size - sink->length;

                memcpy(sink->buf + sink->length, bytes, n < room ? n : room);
        }
        sink->length += n;
}

static void escape(struct sink *sink, const char *text, size_t len)
{
        const unsigned char *p = (const unsigned char *)text;
        size_t i = 0;

        put(sink, "\"", 1);
        while (i < len) {
                char escaped[8];
                uint32_t cp;
                int n;

                if (p[i] == '"' || p[i] == '\\') {
                        escaped[0] = '\\';
                        escaped[1] = (char)p[i];
                        put(sink, escaped, 2);
                        i++;
                        continue;
                }
                if (p[i] < 0x20 || p[i] == 0x7f) {
                        static const char hex[] = "0123456789abcdef";

                        memcpy(escaped, "\\u00", 4);
                        escaped[4] = hex[p[i] >> 4];
                        escaped[5] = hex[p[i] & 0xf];
                        put(sink, escaped, 6);
                        i++;
                        continue;
                }
                n = utf8_decode(p + i, len - i, &cp);
                if (n < 0) {
                        put(sink, "\xef\xbf\xbd", 3); /* U+FFFD for one bad byte */
                        i++;
                        continue;
                }
                put(sink, text + i, (size_t)n);
                i += (size_t)n;
        }
        put(sink, "\"", 1);
}

size_t json_format_string(char *buf, size_t size, const char *text, size_t len)
{
        struct sink sink = {.buf = buf, .size = size};

        escape(&sink, text, len);
        if (size > 0)
                buf[sink.length < size ? sink.length : size - 1] = '\0';
        return sink.length;
}

void json_write_string(FILE *out, const char *text)
{
        char small[256];
        size_t len = strlen(text);
        size_t need = json_format_string(small, sizeof(small), text, len);

        if (need < sizeof(small)) {
                fwrite(small, 1, need, out);
                return;
        }
        /* Long strings: escape piecewise on whole sequences, never splitting one. */
        fputc('"', out);
        for (size_t i = 0; i < len;) {
                size_t chunk = len - i < 32 ? len - i : 32;
                size_t n;

                /* Extend the chunk to the end of a UTF-8 sequence (at most 3 bytes more). */
                while (i + chunk < len && chunk < 36 &&
                       ((unsigned char)text[i + chunk] & 0xc0) == 0x80)
                        chunk++;
                n = json_format_string(small, sizeof(small), text + i, chunk);
                /* Without the surrounding quotes of the piece. */
                fwrite(small + 1, 1, n - 2, out);
                i += chunk;
        }
        fputc('"', out);
}
