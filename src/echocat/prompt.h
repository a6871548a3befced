#ifndef ECHOD_PROMPT_H
#define ECHOD_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

/* The longest answer read; longer lines are refused, not cut. */
#define PROMPT_ANSWER_MAX 256

/* A check on an answer: true when acceptable, else false with a reason. */
typedef bool (*prompt_check_fn)(const char *answer, char *reason, size_t reason_size);

/* True when text could be a host name or an IPv4 or IPv6 address. */
bool prompt_check_host(const char *text, char *reason, size_t reason_size);

/* False (with a reason) when text is all digits: a port given where a host belongs. */
bool prompt_check_host_not_number(const char *text, char *reason, size_t reason_size);

/* True when text is a port number 1..65535. */
bool prompt_check_port(const char *text, char *reason, size_t reason_size);

/*
 * Read one line from fd, byte by byte so nothing after the newline is
 * consumed; the newline is dropped and blanks around the text are trimmed.
 * Returns the length, -ENODATA at end of input before any byte, -EMSGSIZE for
 * a line longer than size - 1 (the rest of it is skipped), or -errno.
 */
int prompt_read_line(int fd, char *buf, size_t size);

/*
 * Ask "label [default]: " on out_fd until the answer read from in_fd passes
 * check; an empty answer takes the default. Each refusal is written as
 * "  reason" before asking again. Returns 0 with the answer in buf, or
 * -ENODATA at end of input, or -errno.
 */
int prompt_ask(int in_fd, int out_fd, const char *label, const char *default_value,
               prompt_check_fn check, char *buf, size_t size);

#endif
