#include "escape.h"

#include <stdio.h>
#include <string.h>

static bool is_control(unsigned char c)
{
        return c < 0x20 || c == 0x7f;
}

bool escape_needed(const char *text)
{
        for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
                if (is_control(*p))
                        return true;
        }
        return false;
}

const char *escape_control(const char *text, char *buf, size_t size)
{
        size_t length = 0;

        for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
                char piece[5];
                size_t n;

                if (!is_control(*p)) {
                        piece[0] = (char)*p;
                        piece[1] = '\0';
                } else if (*p == '\n') {
                        memcpy(piece, "\\n", 3);
                } else if (*p == '\r') {
                        memcpy(piece, "\\r", 3);
                } else if (*p == '\t') {
                        memcpy(piece, "\\t", 3);
                } else {
                        snprintf(piece, sizeof(piece), "\\x%02x", *p);
                }
                n = strlen(piece);
                if (length + n >= size)
                        break; /* never half an escape */
                memcpy(buf + length, piece, n);
                length += n;
        }
        buf[length] = '\0';
        return buf;
}
