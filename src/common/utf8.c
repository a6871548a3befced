#include "utf8.h"

#include <errno.h>

int utf8_decode(const unsigned char *s, size_t len, uint32_t *code_point)
{
        uint32_t cp, min;
        size_t need;

        if (len == 0)
                return -EILSEQ;
        if (s[0] < 0x80) {
                *code_point = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0) {
                need = 2;
                cp = s[0] & 0x1f;
                min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                need = 3;
                cp = s[0] & 0x0f;
                min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                need = 4;
                cp = s[0] & 0x07;
                min = 0x10000;
        } else {
                return -EILSEQ;
        }
        if (len < need)
                return -EILSEQ;
        for (size_t i = 1; i < need; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return -EILSEQ;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return -EILSEQ;
        *code_point = cp;
        return (int)need;
}

int utf8_validate(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0;

        while (i < len) {
                uint32_t cp;
                int n = utf8_decode(p + i, len - i, &cp);

                if (n < 0)
                        return n;
                i += (size_t)n;
        }
        return 0;
}

/* The length of the sequence a lead byte announces (1 for a byte that starts none). */
static size_t sequence_length(unsigned char lead)
{
        if ((lead & 0xe0) == 0xc0)
                return 2;
        if ((lead & 0xf0) == 0xe0)
                return 3;
        if ((lead & 0xf8) == 0xf0)
                return 4;
        return 1;
}

size_t utf8_truncate(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t start = len;

        /* Back over continuation bytes to the last lead byte, at most three of them. */
        while (start > 0 && len - start < 3 && (p[start - 1] & 0xc0) == 0x80)
                start--;
        if (start == 0)
                return len;
        start--;
        return start + sequence_length(p[start]) > len ? start : len;
}

size_t utf8_repair(char *s, size_t len)
{
        unsigned char *p = (unsigned char *)s;
        size_t i = 0, replaced = 0;

        while (i < len) {
                uint32_t cp;
                int n = utf8_decode(p + i, len - i, &cp);

                if (n > 0) {
                        i += (size_t)n;
                        continue;
                }
                p[i++] = '?';
                replaced++;
        }
        return replaced;
}
