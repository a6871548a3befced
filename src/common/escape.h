#ifndef ECHOD_ESCAPE_H
#define ECHOD_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Quoting untrusted text (a flag, a config line, a name a peer chose) in a
 * one-line message: control characters are escaped so that the quote can
 * neither break the line nor drive a terminal. Newline, carriage return and
 * tab become \n, \r and \t; every other byte below 0x20, and 0x7f, becomes
 * \xNN. Everything else (backslashes and UTF-8 included) is copied as is, so
 * escaping an escaped text changes nothing.
 */

/* Bytes an escaped copy of n bytes may need, with its terminating NUL. */
#define ESCAPE_SIZE(n) ((n)*4 + 1)

/* True if text holds a byte escape_control would change. */
bool escape_needed(const char *text);

/*
 * Write text, escaped, into buf (size bytes, at least 1), cut short at a
 * whole escape if it does not fit. Returns buf, so it can be an argument of
 * printf.
 */
const char *escape_control(const char *text, char *buf, size_t size);

#endif
