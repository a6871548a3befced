#include "buffer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void buffer_init(struct buffer *buffer, size_t capacity)
{
        buffer->data = NULL;
        buffer->capacity = capacity;
        buffer->start = 0;
        buffer->end = 0;
}

void buffer_fini(struct buffer *buffer)
{
        free(buffer->data);
        buffer->data = NULL;
        buffer->start = 0;
        buffer->end = 0;
}

size_t buffer_length(const struct buffer *buffer)
{
        return buffer->end - buffer->start;
}

int buffer_empty(const struct buffer *buffer)
{
        return buffer->end == buffer->start;
}

int buffer_reserve(struct buffer *buffer, char **tail, size_t *space)
{
        if (!buffer->data) {
                buffer->data = malloc(buffer->capacity);
                if (!buffer->data)
                        return -ENOMEM;
        }
        if (buffer->end == buffer->capacity && buffer->start > 0) {
                /* Rare: only when a reader lags; the copy keeps storage fixed. */
                memmove(buffer->data, buffer->data + buffer->start, buffer->end - buffer->start);
                buffer->end -= buffer->start;
                buffer->start = 0;
        }
        *tail = buffer->data + buffer->end;
        *space = buffer->capacity - buffer->end;
        return 0;
}

void buffer_produce(struct buffer *buffer, size_t n)
{
        buffer->end += n;
}

long buffer_append(struct buffer *buffer, const void *data, size_t n)
{
        char *tail;
        size_t space;
        int r = buffer_reserve(buffer, &tail, &space);

        if (r < 0)
                return r;
        if (n > space)
                n = space;
        memcpy(tail, data, n);
        buffer->end += n;
        return (long)n;
}

const char *buffer_head(const struct buffer *buffer, size_t *length)
{
        *length = buffer->end - buffer->start;
        return buffer->data ? buffer->data + buffer->start : NULL;
}

void buffer_consume(struct buffer *buffer, size_t n)
{
        buffer->start += n;
        if (buffer->start >= buffer->end) {
                buffer->start = 0;
                buffer->end = 0;
        }
}
