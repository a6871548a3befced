/*
 * libFuzzer target for the control frame decoder (src/proto/frame.c). The
 * input is split into pieces whose sizes come from the input itself, so the
 * decoder sees the same stream cut at many places; every frame it accepts
 * must be within the limits, valid text, and encode back to the bytes it
 * came from.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct frame_decoder decoder;
static unsigned char encoded[FRAME_HEADER_SIZE + FRAME_PAYLOAD_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t step, offset = 0, frame_start = 0;

        if (size == 0)
                return 0;
        /* The first byte picks the piece size (1 to 256 bytes). */
        step = (size_t)data[0] + 1;
        data++;
        size--;
        frame_decoder_init(&decoder);
        while (offset < size) {
                size_t piece = size - offset < step ? size - offset : step, used = 0, length;
                const char *payload;
                int r = frame_decoder_feed(&decoder, data + offset, piece, &used);

                assert(used <= piece);
                offset += used;
                if (r < 0) {
                        assert(r == -EMSGSIZE || r == -EILSEQ);
                        break;
                }
                if (r == FRAME_NEED_MORE) {
                        assert(used == piece);
                        continue;
                }
                payload = frame_decoder_payload(&decoder, &length);
                assert(length <= FRAME_PAYLOAD_MAX);
                assert(strlen(payload) == length);
                assert(utf8_validate(payload, length) == 0);
                assert(frame_encode(payload, length, encoded, sizeof(encoded)) ==
                       (int)(FRAME_HEADER_SIZE + length));
                assert(offset - frame_start == FRAME_HEADER_SIZE + length);
                assert(memcmp(encoded, data + frame_start, FRAME_HEADER_SIZE + length) == 0);
                frame_start = offset;
                frame_decoder_reset(&decoder);
        }
        return 0;
}
