#include "chat_line.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "utf8.h"

/* 9999-12-31T23:59:59.999Z: the last time that fits four year digits. */
#define CHAT_TIME_MS_LAST 253402300799999ull

void chat_line_reader_init(struct chat_line_reader *reader)
{
        reader->length = 0;
        reader->ready = false;
        reader->discarding = false;
        reader->text[0] = '\0';
}

static void hand_out(struct chat_line_reader *reader, struct chat_line *line)
{
        reader->text[reader->length] = '\0';
        reader->ready = true;
        line->text = reader->text;
        line->length = reader->length;
}

enum chat_line_result chat_line_next(struct chat_line_reader *reader, const char *data, size_t size,
                                     size_t *used, struct chat_line *line)
{
        size_t i = 0;

        if (reader->ready) {
                /* The line handed out last time has been read by now. */
                reader->length = 0;
                reader->ready = false;
        }
        while (i < size) {
                char c = data[i++];

                if (reader->discarding) {
                        if (c == '\n')
                                reader->discarding = false;
                        continue;
                }
                if (c == '\n') {
                        /* One CR before the LF is part of the line end, not of the text. */
                        if (reader->length > 0 && reader->text[reader->length - 1] == '\r')
                                reader->length--;
                        hand_out(reader, line);
                        *used = i;
                        return CHAT_LINE_READY;
                }
                /*
                 * A full buffer takes one more byte only if it is a CR, which
                 * may yet turn out to be the CR of a CRLF.
                 */
                if (reader->length == CHAT_LINE_MAX + 1 ||
                    (reader->length == CHAT_LINE_MAX && c != '\r')) {
                        reader->length = 0;
                        reader->discarding = true;
                        *used = i;
                        return CHAT_LINE_TOO_LONG;
                }
                reader->text[reader->length++] = c;
        }
        *used = i;
        return CHAT_LINE_NEED_MORE;
}

enum chat_line_result chat_line_finish(struct chat_line_reader *reader, struct chat_line *line)
{
        bool pending = !reader->ready && !reader->discarding && reader->length > 0;

        reader->ready = false;
        reader->discarding = false;
        if (!pending) {
                reader->length = 0;
                return CHAT_LINE_NEED_MORE;
        }
        if (reader->text[reader->length - 1] == '\r')
                reader->length--;
        hand_out(reader, line);
        return CHAT_LINE_READY;
}

/* What one character of a line's text may not be; CHAT_TEXT_OK if it passes. */
typedef enum chat_text_result (*chat_character_rule)(uint32_t code);

/* Decode text and hold each character to rule: the first that fails names the result. */
static enum chat_text_result check_characters(const char *text, size_t length,
                                              chat_character_rule rule)
{
        const unsigned char *bytes = (const unsigned char *)text;
        size_t i = 0;

        while (i < length) {
                uint32_t code;
                int n = utf8_decode(bytes + i, length - i, &code);
                enum chat_text_result result;

                if (n < 0)
                        return CHAT_TEXT_INVALID_UTF8;
                result = rule(code);
                if (result != CHAT_TEXT_OK)
                        return result;
                i += (size_t)n;
        }
        return CHAT_TEXT_OK;
}

/* C0, DEL and C1 (U+0080 to U+009F). */
static enum chat_text_result no_control(uint32_t code)
{
        return code < 0x20 || (code >= 0x7f && code <= 0x9f) ? CHAT_TEXT_CONTROL : CHAT_TEXT_OK;
}

/* A character that changes how a line shows, breaks it or hides in it. */
static enum chat_text_result no_format(uint32_t code)
{
        bool format = code == 0x061c || code == 0x200e || code == 0x200f ||
                      (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) ||
                      code == 0x2028 || code == 0x2029 || code == 0xfeff;

        return format ? CHAT_TEXT_FORMAT : CHAT_TEXT_OK;
}

enum chat_text_result chat_line_check(const char *text, size_t length)
{
        return check_characters(text, length, no_control);
}

enum chat_text_result chat_text_check_message(const char *text, size_t length)
{
        return check_characters(text, length, no_format);
}

const char *chat_line_error_text(int result)
{
        switch (result) {
        case CHAT_LINE_TOO_LONG:
                return "line too long";
        case CHAT_TEXT_INVALID_UTF8:
                return "invalid utf-8";
        case CHAT_TEXT_CONTROL:
                return "control character";
        case CHAT_TEXT_FORMAT:
                return "invisible formatting character (bidi control, line separator or byte "
                       "order mark)";
        default:
                return "bad line";
        }
}

static bool name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
}

int chat_name_check(const char *name, size_t length)
{
        if (length == 0 || length > CHAT_NAME_MAX)
                return -EINVAL;
        for (size_t i = 0; i < length; i++)
                if (!name_char(name[i]))
                        return -EINVAL;
        return 0;
}

static bool name_letter(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool name_punctuation(char c)
{
        return c == '_' || c == '.' || c == '-';
}

int chat_name_check_new(const char *name, size_t length)
{
        if (chat_name_check(name, length) < 0)
                return -EINVAL;
        /*
         * Like an IRC nickname, a name starts with a letter; punctuation
         * stands only between letters or digits, one at a time, so that
         * "bob", "bob_", "_bob" and "b__ob" are not four users who look alike.
         */
        if (!name_letter(name[0]) || name_punctuation(name[length - 1]))
                return -EINVAL;
        for (size_t i = 1; i < length; i++)
                if (name_punctuation(name[i]) && name_punctuation(name[i - 1]))
                        return -EINVAL;
        return 0;
}

int chat_time_format(uint64_t time_ms, char *out, size_t size)
{
        time_t seconds;
        struct tm tm;
        int n;

        if (size < CHAT_TIME_TEXT_SIZE)
                return -ENOSPC;
        if (time_ms > CHAT_TIME_MS_LAST)
                return -ERANGE;
        seconds = (time_t)(time_ms / 1000);
        if (!gmtime_r(&seconds, &tm))
                return -ERANGE;
        n = snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (unsigned)(time_ms % 1000));
        if (n != CHAT_TIME_TEXT_SIZE - 1)
                return -ERANGE;
        return n;
}

int chat_command_split(const char *text, size_t length, struct chat_command *command)
{
        size_t i = 1;

        command->name = NULL;
        command->name_length = 0;
        if (length == 0 || text[0] != '/' || (length >= 2 && text[1] == '/')) {
                size_t skip = length >= 2 && text[0] == '/' ? 1 : 0;

                command->argument = text + skip;
                command->argument_length = length - skip;
                return 0;
        }
        while (i < length && text[i] != ' ')
                i++;
        command->name = text + 1;
        command->name_length = i - 1;
        while (i < length && text[i] == ' ')
                i++;
        command->argument = text + i;
        command->argument_length = length - i;
        return 1;
}

bool chat_command_is(const struct chat_command *command, const char *name)
{
        size_t length = strlen(name);

        return command->name && command->name_length == length &&
               memcmp(command->name, name, length) == 0;
}

int chat_line_format_message(char *out, size_t size, const char *kind, uint64_t time_ms,
                             const char *name, const char *text, size_t text_length)
{
        char when[CHAT_TIME_TEXT_SIZE];
        size_t kind_length = strlen(kind);
        size_t name_length = strlen(name);
        size_t total;
        int r;

        if (kind_length == 0 || kind_length > CHAT_KIND_MAX || name_length == 0 ||
            name_length > CHAT_NAME_MAX || text_length > CHAT_LINE_MAX)
                return -EINVAL;
        r = chat_time_format(time_ms, when, sizeof(when));
        if (r < 0)
                return r;
        total = kind_length + 1 + (size_t)r + 1 + name_length + 1 + text_length + 1;
        if (total + 1 > size)
                return -ENOSPC;
        /* Text may hold any byte the caller accepted, so it is copied, never formatted. */
        r = snprintf(out, size, "%s %s %s ", kind, when, name);
        memcpy(out + r, text, text_length);
        out[total - 1] = '\n';
        out[total] = '\0';
        return (int)total;
}
