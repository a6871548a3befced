#include "control_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

void control_reply_append(struct control_reply *reply, const char *format, ...)
{
        size_t room = sizeof(reply->text) - reply->length;
        va_list ap;
        int n;

        if (reply->full)
                return;
        va_start(ap, format);
        n = vsnprintf(reply->text + reply->length, room, format, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= room) {
                /* Cut back to the last whole line, so a reader never sees half a record. */
                char *last = memrchr(reply->text, '\n', reply->length);

                reply->length = last ? (size_t)(last - reply->text) : reply->length;
                reply->text[reply->length] = '\0';
                reply->full = true;
                return;
        }
        reply->length += (size_t)n;
}

void control_reply_append_json(struct control_reply *reply, const char *text)
{
        size_t room = sizeof(reply->text) - reply->length;
        size_t need;

        if (reply->full)
                return;
        need = json_format_string(reply->text + reply->length, room, text, strlen(text));
        if (need >= room) {
                reply->text[reply->length] = '\0';
                reply->full = true;
                return;
        }
        reply->length += need;
}

void control_reply_reset(struct control_reply *reply)
{
        reply->length = 0;
        reply->text[0] = '\0';
        reply->full = false;
}

/*
 * Every reply goes out as a frame, and a frame is UTF-8 text without NUL
 * (docs/control.md). The commands cut their own texts on character
 * boundaries; this is what keeps a mistake in one of them, or bytes they
 * pass on from elsewhere (a log record, a name from the store), from
 * reaching the wire, where echoctl would refuse the whole reply.
 */
void control_reply_seal(struct control_reply *reply)
{
        reply->length = strnlen(reply->text, reply->length);
        reply->text[reply->length] = '\0';
        utf8_repair(reply->text, reply->length);
}

const char *control_reply_quote(const char *word, char out[CONTROL_QUOTE_SIZE])
{
        size_t length = strlen(word);

        if (length <= CONTROL_QUOTE_MAX)
                return word;
        length = utf8_truncate(word, CONTROL_QUOTE_MAX);
        memcpy(out, word, length);
        memcpy(out + length, "...", 4);
        return out;
}

void control_error_reply(bool json, const char *reason, struct control_reply *reply)
{
        control_reply_reset(reply);
        if (json) {
                control_reply_append(reply, "{\"ok\":false,\"error\":");
                control_reply_append_json(reply, reason);
                control_reply_append(reply, "}");
        } else {
                control_reply_append(reply, "error %s", reason);
        }
        control_reply_seal(reply);
}

void control_format_record(bool json, const char *line, struct control_reply *reply)
{
        control_reply_reset(reply);
        if (json) {
                control_reply_append(reply, "{\"record\":");
                control_reply_append_json(reply, line);
                control_reply_append(reply, "}");
        } else {
                control_reply_append(reply, "%s", line);
        }
        control_reply_seal(reply);
}
