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

/*
 * Where to cut s to keep at most len bytes without splitting a character:
 * len, or less when a multibyte sequence starts in the last three bytes and
 * does not end by len. s must have at least len bytes.
 */
size_t utf8_truncate(const char *s, size_t len);

/* Replace each byte of s that does not start a valid sequence with '?'. Returns how many. */
size_t utf8_repair(char *s, size_t len);

#endif
