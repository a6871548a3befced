#ifndef ECHOD_UTF8_H
#define ECHOD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * UTF-8 (RFC 3629) decoding, strict: overlong forms, surrogates, code points
 * above U+10FFFF and truncated sequences are invalid.
 */

/*
 * Decode the sequence at the start of s (len bytes available). Returns its
 * length (1-4) with the code point in *code_point, or -EILSEQ.
 */
int utf8_decode(const unsigned char *s, size_t len, uint32_t *code_point);

/* Returns 0 if all len bytes are valid UTF-8, else -EILSEQ. */
int utf8_validate(const char *s, size_t len);

#endif
