/*
 * libFuzzer target for the chat line codec. The first byte picks how the
 * rest of the input is cut into reads; the same bytes are then fed again
 * whole, and both passes must give the same lines and the same overlong
 * reports: how TCP happens to split a stream must never change what a user
 * sees. Every line is checked and split as the daemon would.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/proto \
 *         fuzz/fuzz_chat_line.c src/proto/chat_line.c -o fuzz_chat_line
 *   ./fuzz_chat_line -max_total_time=60 fuzz/corpus/chat_line
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A digest of the events of one pass, so two passes compare without storing lines. */
struct events {
        uint64_t digest;
        size_t lines;
        size_t too_long;
};

static void mix(struct events *events, const void *bytes, size_t length)
{
        const unsigned char *p = bytes;

        for (size_t i = 0; i < length; i++)
                events->digest = (events->digest ^ p[i]) * 0x100000001b3ull;
}

static void check_line(const struct chat_line *line, struct events *events)
{
        char out[CHAT_SERVER_LINE_MAX];
        struct chat_command command;
        enum chat_text_result result;
        int n;

        if (line->length > CHAT_LINE_MAX || line->text[line->length] != '\0')
                abort();
        result = chat_line_check(line->text, line->length);
        if (result != CHAT_TEXT_OK && result != CHAT_TEXT_INVALID_UTF8 &&
            result != CHAT_TEXT_CONTROL)
                abort();
        /* Text that passed is valid UTF-8: the message check only finds formatting characters. */
        if (result == CHAT_TEXT_OK &&
            chat_text_check_message(line->text, line->length) != CHAT_TEXT_OK &&
            chat_text_check_message(line->text, line->length) != CHAT_TEXT_FORMAT)
                abort();
        if (chat_command_split(line->text, line->length, &command) == 1) {
                if (command.name + command.name_length > line->text + line->length ||
                    command.argument + command.argument_length != line->text + line->length)
                        abort();
                /* Every new name is a name. */
                if (chat_name_check_new(command.argument, command.argument_length) == 0 &&
                    chat_name_check(command.argument, command.argument_length) != 0)
                        abort();
        } else if (command.argument + command.argument_length != line->text + line->length) {
                abort();
        }
        n = chat_line_format_message(out, sizeof(out), "MSG", 1796197723123ull, "fuzz", line->text,
                                     line->length);
        if (n < 0 || (size_t)n >= sizeof(out) || out[n - 1] != '\n')
                abort();
        mix(events, &line->length, sizeof(line->length));
        mix(events, line->text, line->length);
        mix(events, &result, sizeof(result));
        events->lines++;
}

static void run(const uint8_t *data, size_t size, uint32_t seed, struct events *events)
{
        struct chat_line_reader reader;
        struct chat_line line;

        chat_line_reader_init(&reader);
        while (size > 0) {
                size_t chunk = size;
                enum chat_line_result r;
                size_t used = 0;

                if (seed) {
                        /* A small xorshift picks read sizes from 1 to 64 bytes, or the rest. */
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        if (seed % 8)
                                chunk = 1 + seed % 64;
                        if (chunk > size)
                                chunk = size;
                }
                /* A read is fed until the codec has taken all of it, as the daemon does. */
                while (chunk > 0) {
                        r = chat_line_next(&reader, (const char *)data, chunk, &used, &line);
                        if (used > chunk)
                                abort();
                        if (r == CHAT_LINE_NEED_MORE && used != chunk)
                                abort();
                        if (r != CHAT_LINE_NEED_MORE && used == 0)
                                abort();
                        data += used;
                        size -= used;
                        chunk -= used;
                        if (r == CHAT_LINE_READY) {
                                check_line(&line, events);
                        } else if (r == CHAT_LINE_TOO_LONG) {
                                mix(events, "L", 1);
                                events->too_long++;
                        }
                }
        }
        if (chat_line_finish(&reader, &line) == CHAT_LINE_READY)
                check_line(&line, events);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct events chunked = {0xcbf29ce484222325ull, 0, 0};
        struct events whole = {0xcbf29ce484222325ull, 0, 0};
        uint32_t seed;

        if (size == 0)
                return 0;
        seed = data[0] * 2654435761u | 1;
        run(data + 1, size - 1, seed, &chunked);
        run(data + 1, size - 1, 0, &whole);
        if (chunked.digest != whole.digest || chunked.lines != whole.lines ||
            chunked.too_long != whole.too_long)
                abort();
        /* Each overlong report stands for more than CHAT_LINE_MAX bytes of input. */
        if (whole.too_long * (CHAT_LINE_MAX + 1) > size)
                abort();
        return 0;
}
