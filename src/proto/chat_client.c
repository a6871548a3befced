#include "chat_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chat_line.h"

/* The kind words a server line starts with. */
static const struct {
        const char *word;
        enum chat_server_kind kind;
} kinds[] = {
    {"HELLO", CHAT_SERVER_HELLO},
    {"NAME?", CHAT_SERVER_NAME_PROMPT},
    {"PASSWORD?", CHAT_SERVER_PASSWORD_PROMPT},
    {"TOKEN", CHAT_SERVER_TOKEN},
    {"OK", CHAT_SERVER_OK},
    {"HIST", CHAT_SERVER_HIST},
    {"MSG", CHAT_SERVER_MSG},
    {"JOIN", CHAT_SERVER_JOIN},
    {"LEAVE", CHAT_SERVER_LEAVE},
    {"WHO", CHAT_SERVER_WHO},
    {"ERR", CHAT_SERVER_ERR},
    {"BYE", CHAT_SERVER_BYE},
};

/* Split off the next space-separated word of [*at, end); returns its length. */
static size_t next_word(const char **at, const char *end, const char **word)
{
        const char *p = *at;
        size_t length;

        *word = p;
        while (p < end && *p != ' ')
                p++;
        length = (size_t)(p - *word);
        /* Step over the one space that ends the word. */
        *at = p < end ? p + 1 : p;
        return length;
}

static int digits(const char *text, size_t count)
{
        int value = 0;

        for (size_t i = 0; i < count; i++) {
                if (text[i] < '0' || text[i] > '9')
                        return -1;
                value = value * 10 + (text[i] - '0');
        }
        return value;
}

int chat_time_parse(const char *text, size_t length, int64_t *time_ms)
{
        /* 2026-12-02T07:48:43.123Z */
        static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
        struct tm tm = {0};
        int year, month, day, hour, minute, second, ms;
        time_t seconds;

        if (length != sizeof(shape) - 1)
                return -EINVAL;
        for (size_t i = 0; i < length; i++)
                if (shape[i] != 'd' && text[i] != shape[i])
                        return -EINVAL;
        year = digits(text, 4);
        month = digits(text + 5, 2);
        day = digits(text + 8, 2);
        hour = digits(text + 11, 2);
        minute = digits(text + 14, 2);
        second = digits(text + 17, 2);
        ms = digits(text + 20, 3);
        if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 ||
            hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60 || ms < 0)
                return -EINVAL;
        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = minute;
        tm.tm_sec = second;
        seconds = timegm(&tm);
        if (seconds == (time_t)-1)
                return -EINVAL;
        *time_ms = (int64_t)seconds * 1000 + ms;
        return 0;
}

bool chat_token_valid(const char *text, size_t length)
{
        if (length == 0 || length > CHAT_TOKEN_MAX)
                return false;
        for (size_t i = 0; i < length; i++) {
                char c = text[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

bool chat_error_is_token_refused(const char *reason, size_t length)
{
        const char *word;
        const char *at = reason, *end = reason + length;

        /* Any word "token" in the reason: echod says "unknown token", "expired token", ... */
        while (at < end) {
                size_t n = next_word(&at, end, &word);

                if (n == 5 && memcmp(word, "token", 5) == 0)
                        return true;
        }
        return false;
}

/* Fill in the fields of the kinds that have them; false if they are malformed. */
static bool parse_fields(struct chat_server_line *line, const char *rest, const char *end)
{
        const char *at = rest;

        switch (line->kind) {
        case CHAT_SERVER_HELLO:
        case CHAT_SERVER_JOIN:
        case CHAT_SERVER_LEAVE:
                line->name_length = next_word(&at, end, &line->name);
                return at == end && chat_name_check(line->name, line->name_length) == 0;
        case CHAT_SERVER_HIST:
        case CHAT_SERVER_MSG:
                line->time_length = next_word(&at, end, &line->time);
                if (chat_time_parse(line->time, line->time_length, &line->time_ms) < 0)
                        return false;
                line->name_length = next_word(&at, end, &line->name);
                if (chat_name_check(line->name, line->name_length) < 0)
                        return false;
                line->text = at;
                line->text_length = (size_t)(end - at);
                return true;
        case CHAT_SERVER_TOKEN:
                line->text = rest;
                line->text_length = (size_t)(end - rest);
                return chat_token_valid(line->text, line->text_length);
        case CHAT_SERVER_NAME_PROMPT:
        case CHAT_SERVER_PASSWORD_PROMPT:
                return rest == end;
        default:
                line->text = rest;
                line->text_length = (size_t)(end - rest);
                return true;
        }
}

enum chat_server_kind chat_server_parse(const char *text, size_t length,
                                        struct chat_server_line *line)
{
        const char *at = text, *end, *word;
        size_t word_length;

        if (length > 0 && text[length - 1] == '\r')
                length--;
        end = text + length;
        memset(line, 0, sizeof(*line));
        word_length = next_word(&at, end, &word);
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                if (strlen(kinds[i].word) != word_length ||
                    memcmp(kinds[i].word, word, word_length) != 0)
                        continue;
                line->kind = kinds[i].kind;
                /* "OK" alone has at == end; "OK " has an empty rest too. */
                if (parse_fields(line, at, end))
                        return line->kind;
                memset(line, 0, sizeof(*line));
                break;
        }
        line->kind = CHAT_SERVER_OTHER;
        line->text = text;
        line->text_length = length;
        return line->kind;
}

/* A bounded writer: appends while there is room, keeps the NUL, never overflows. */
struct display {
        char *out;
        size_t size;
        size_t length;
};

static void put(struct display *d, const char *text, size_t length)
{
        for (size_t i = 0; i < length && d->length + 1 < d->size; i++) {
                unsigned char c = (unsigned char)text[i];

                d->out[d->length++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (d->size > 0)
                d->out[d->length] = '\0';
}

static void puts_(struct display *d, const char *text)
{
        put(d, text, strlen(text));
}

size_t chat_client_display(const struct chat_server_line *line, char *out, size_t size)
{
        struct display d = {.out = out, .size = size};
        char clock[48];
        time_t seconds, now;
        struct tm tm, today;

        if (size > 0)
                out[0] = '\0';
        switch (line->kind) {
        case CHAT_SERVER_TOKEN:
        case CHAT_SERVER_NAME_PROMPT:
        case CHAT_SERVER_PASSWORD_PROMPT:
                return 0;
        case CHAT_SERVER_HIST:
        case CHAT_SERVER_MSG:
                seconds = (time_t)(line->time_ms / 1000);
                now = time(NULL);
                if (localtime_r(&seconds, &tm) && localtime_r(&now, &today) &&
                    (tm.tm_year != today.tm_year || tm.tm_yday != today.tm_yday))
                        /* A day marker on rows of another day than today (local time). */
                        snprintf(clock, sizeof(clock), "[%04d-%02d-%02d %02d:%02d] ",
                                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                 tm.tm_min);
                else if (localtime_r(&seconds, &tm))
                        snprintf(clock, sizeof(clock), "[%02d:%02d] ", tm.tm_hour, tm.tm_min);
                else
                        snprintf(clock, sizeof(clock), "[--:--] ");
                puts_(&d, clock);
                /* An action (/me TEXT, docs/chat.md) reads "* alice waves". */
                if (line->text_length > 4 && memcmp(line->text, "/me ", 4) == 0) {
                        puts_(&d, "* ");
                        put(&d, line->name, line->name_length);
                        puts_(&d, " ");
                        put(&d, line->text + 4, line->text_length - 4);
                        break;
                }
                put(&d, line->name, line->name_length);
                puts_(&d, ": ");
                put(&d, line->text, line->text_length);
                break;
        case CHAT_SERVER_HELLO:
                puts_(&d, "* hello, ");
                put(&d, line->name, line->name_length);
                break;
        case CHAT_SERVER_JOIN:
        case CHAT_SERVER_LEAVE:
                puts_(&d, "* ");
                put(&d, line->name, line->name_length);
                puts_(&d, line->kind == CHAT_SERVER_JOIN ? " joined" : " left");
                break;
        case CHAT_SERVER_WHO:
                puts_(&d, "* online: ");
                put(&d, line->text, line->text_length);
                break;
        case CHAT_SERVER_OK:
                puts_(&d, "* ");
                put(&d, line->text, line->text_length);
                break;
        case CHAT_SERVER_ERR:
                puts_(&d, "! ");
                put(&d, line->text, line->text_length);
                break;
        case CHAT_SERVER_BYE:
                puts_(&d, "* bye");
                if (line->text_length > 0) {
                        puts_(&d, ": ");
                        put(&d, line->text, line->text_length);
                }
                break;
        case CHAT_SERVER_OTHER:
                put(&d, line->text, line->text_length);
                break;
        }
        return d.length;
}

int chat_token_file_name(const char *host, const char *port, char *out, size_t size)
{
        static const char suffix[] = ".token";
        size_t host_length = strlen(host), port_length = strlen(port);
        size_t length = host_length + 1 + port_length + sizeof(suffix) - 1, n = 0;

        if (length + 1 > size || length > 255)
                return -ENAMETOOLONG;
        for (size_t i = 0; i < host_length + 1 + port_length; i++) {
                char c = i < host_length    ? host[i]
                         : i == host_length ? '-'
                                            : port[i - host_length - 1];

                if (c >= 'A' && c <= 'Z')
                        c = (char)(c - 'A' + 'a');
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == '-') ||
                    (i == 0 && c == '.'))
                        c = '_';
                out[n++] = c;
        }
        memcpy(out + n, suffix, sizeof(suffix));
        return (int)length;
}
