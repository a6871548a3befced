#ifndef ECHOD_BUFFER_H
#define ECHOD_BUFFER_H

#include <stddef.h>

/*
 * A bounded byte queue: bytes are appended at the tail and consumed from the
 * head. Its capacity is fixed when it is allocated, which is what bounds a
 * connection's memory; the storage is allocated on first use.
 */
struct buffer {
        char *data;
        size_t capacity;
        size_t start;
        size_t end;
};

/* Set up an empty buffer of the given capacity; allocates nothing yet. */
void buffer_init(struct buffer *buffer, size_t capacity);

/* Release the storage. */
void buffer_fini(struct buffer *buffer);

/* Bytes waiting to be consumed. */
size_t buffer_length(const struct buffer *buffer);

/* True if nothing waits. */
int buffer_empty(const struct buffer *buffer);

/*
 * Point *tail at the free room after the waiting bytes and set *space to its
 * size (0 when full), moving waiting bytes to the front first if that makes
 * room. Allocates the storage on first use. Returns 0 or -ENOMEM.
 */
int buffer_reserve(struct buffer *buffer, char **tail, size_t *space);

/* Count n bytes written at the tail. */
void buffer_produce(struct buffer *buffer, size_t n);

/*
 * Append n bytes. Returns the number appended (less when the room at the
 * tail is smaller) or -ENOMEM.
 */
long buffer_append(struct buffer *buffer, const void *data, size_t n);

/* The waiting bytes, and their number in *length. */
const char *buffer_head(const struct buffer *buffer, size_t *length);

/* Drop n bytes from the head. */
void buffer_consume(struct buffer *buffer, size_t n);

#endif
