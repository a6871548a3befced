#include "line.h"

#include <string.h>

char *line_splitter_space(struct line_splitter *splitter, size_t *room)
{
        *room = sizeof(splitter->data) - splitter->length;
        return splitter->data + splitter->length;
}

void line_splitter_commit(struct line_splitter *splitter, size_t n)
{
        size_t room = sizeof(splitter->data) - splitter->length;

        splitter->length += n < room ? n : room;
}

size_t line_splitter_next(const struct line_splitter *splitter, bool at_end)
{
        const char *newline = memchr(splitter->data, '\n', splitter->length);

        if (newline)
                return (size_t)(newline - splitter->data) + 1;
        if (splitter->length == sizeof(splitter->data) || at_end)
                return splitter->length;
        return 0;
}

void line_splitter_consume(struct line_splitter *splitter, size_t n)
{
        if (n >= splitter->length) {
                splitter->length = 0;
                return;
        }
        memmove(splitter->data, splitter->data + n, splitter->length - n);
        splitter->length -= n;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool line_is_exit(const char *line, size_t length)
{
        while (length > 0 && is_blank(line[length - 1]))
                length--;
        while (length > 0 && is_blank(*line)) {
                line++;
                length--;
        }
        return length == 4 && memcmp(line, "exit", 4) == 0;
}
