#ifndef ECHOD_JSON_H
#define ECHOD_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * JSON strings (RFC 8259) from any bytes: quotes, backslashes and every
 * control character are escaped, and bytes that are not valid UTF-8 become
 * U+FFFD, so the output is always valid JSON and valid UTF-8.
 */

/* Write text as a quoted JSON string to out. */
void json_write_string(FILE *out, const char *text);

/*
 * Write len bytes of text as a quoted JSON string into buf (always
 * NUL-terminated when size > 0). Returns the length the whole string needs,
 * as snprintf does; the output was cut if that is >= size.
 */
size_t json_format_string(char *buf, size_t size, const char *text, size_t len);

#endif
