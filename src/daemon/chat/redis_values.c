#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "redis_backend.h"

/*
 * The Redis backend's small readers of what Redis holds: decimal numbers,
 * stream IDs and lowercased names, plus the error text of a reply of the
 * wrong shape. Pure functions, called by every part of the backend.
 */

int redis_backend_note_bad_reply(char *error, size_t size, const char *what,
                                 const redisReply *reply)
{
        if (reply && reply->type == REDIS_REPLY_ERROR)
                snprintf(error, size, "redis %s: %s", what, reply->str);
        else
                snprintf(error, size, "redis %s: unexpected reply (type %d)", what,
                         reply ? reply->type : -1);
        return reply && reply->type == REDIS_REPLY_ERROR ? -EIO : -EBADMSG;
}

int redis_parse_u64(const char *text, size_t length, uint64_t *value)
{
        uint64_t v = 0;

        if (length == 0 || length > 20)
                return -EBADMSG;
        for (size_t i = 0; i < length; i++) {
                unsigned digit = (unsigned)(text[i] - '0');

                if (digit > 9 || v > (UINT64_MAX - digit) / 10)
                        return -EBADMSG;
                v = v * 10 + digit;
        }
        *value = v;
        return 0;
}

int redis_stream_id_parse(const char *text, size_t length, struct redis_stream_id *id)
{
        const char *dash = memchr(text, '-', length);
        struct redis_stream_id parsed;

        if (!dash || redis_parse_u64(text, (size_t)(dash - text), &parsed.ms) < 0 ||
            redis_parse_u64(dash + 1, length - (size_t)(dash - text) - 1, &parsed.seq) < 0)
                return -EBADMSG;
        *id = parsed;
        return 0;
}

/* Millions of entries within one millisecond cannot happen; clamp rather than wrap. */
uint64_t redis_stream_id_to_u64(struct redis_stream_id id)
{
        uint64_t seq = id.seq < 999999 ? id.seq : 999999;

        if (id.ms > (UINT64_MAX - seq) / 1000000)
                return UINT64_MAX;
        return id.ms * 1000000 + seq;
}

struct redis_stream_id redis_stream_id_from_u64(uint64_t value)
{
        return (struct redis_stream_id){value / 1000000, value % 1000000};
}

int redis_stream_id_compare(struct redis_stream_id a, struct redis_stream_id b)
{
        if (a.ms != b.ms)
                return a.ms < b.ms ? -1 : 1;
        if (a.seq != b.seq)
                return a.seq < b.seq ? -1 : 1;
        return 0;
}

void redis_name_lower(const char *name, char lower[CHAT_NAME_MAX + 1])
{
        size_t i;

        for (i = 0; i < CHAT_NAME_MAX && name[i]; i++)
                lower[i] =
                    (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 'a' - 'A') : name[i];
        lower[i] = '\0';
}
