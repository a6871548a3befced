#include "frame.h"

#include <errno.h>
#include <string.h>

#include "utf8.h"

void frame_decoder_init(struct frame_decoder *decoder)
{
        decoder->header_length = 0;
        decoder->payload_length = 0;
        decoder->payload_received = 0;
        decoder->payload[0] = '\0';
        decoder->error = 0;
}

void frame_decoder_reset(struct frame_decoder *decoder)
{
        int error = decoder->error;

        frame_decoder_init(decoder);
        decoder->error = error;
}

static uint32_t read_be32(const unsigned char *bytes)
{
        return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 |
               (uint32_t)bytes[3];
}

/* A payload is text: valid UTF-8 and no NUL, which would cut it short in C. */
static int check_payload(const char *payload, size_t length)
{
        if (memchr(payload, '\0', length))
                return -EILSEQ;
        return utf8_validate(payload, length);
}

static bool header_complete(const struct frame_decoder *decoder)
{
        return decoder->header_length == FRAME_HEADER_SIZE;
}

int frame_decoder_feed(struct frame_decoder *decoder, const void *data, size_t length, size_t *used)
{
        const unsigned char *bytes = data;
        size_t taken = 0, n;

        *used = 0;
        if (decoder->error)
                return decoder->error;
        if (header_complete(decoder) && decoder->payload_received == decoder->payload_length)
                return FRAME_READY; /* not reset yet: the frame is still there */
        if (!header_complete(decoder)) {
                n = FRAME_HEADER_SIZE - decoder->header_length;
                if (n > length)
                        n = length;
                memcpy(decoder->header + decoder->header_length, bytes, n);
                decoder->header_length += n;
                taken += n;
                if (!header_complete(decoder)) {
                        *used = taken;
                        return FRAME_NEED_MORE;
                }
                decoder->payload_length = read_be32(decoder->header);
                /* Refuse an oversized frame from its header: never buffer it. */
                if (decoder->payload_length > FRAME_PAYLOAD_MAX) {
                        *used = taken;
                        decoder->error = -EMSGSIZE;
                        return decoder->error;
                }
        }
        n = decoder->payload_length - decoder->payload_received;
        if (n > length - taken)
                n = length - taken;
        memcpy(decoder->payload + decoder->payload_received, bytes + taken, n);
        decoder->payload_received += n;
        taken += n;
        *used = taken;
        if (decoder->payload_received < decoder->payload_length)
                return FRAME_NEED_MORE;
        decoder->payload[decoder->payload_length] = '\0';
        if (check_payload(decoder->payload, decoder->payload_length) < 0) {
                decoder->error = -EILSEQ;
                return decoder->error;
        }
        return FRAME_READY;
}

const char *frame_decoder_payload(const struct frame_decoder *decoder, size_t *length)
{
        if (length)
                *length = decoder->payload_received;
        return decoder->payload;
}

bool frame_decoder_partial(const struct frame_decoder *decoder)
{
        if (decoder->header_length == 0)
                return false;
        return !header_complete(decoder) || decoder->payload_received < decoder->payload_length;
}

void frame_encode_header(uint32_t length, unsigned char out[FRAME_HEADER_SIZE])
{
        out[0] = (unsigned char)(length >> 24);
        out[1] = (unsigned char)(length >> 16);
        out[2] = (unsigned char)(length >> 8);
        out[3] = (unsigned char)length;
}

int frame_encode(const char *payload, size_t length, void *out, size_t size)
{
        unsigned char *bytes = out;

        if (length > FRAME_PAYLOAD_MAX)
                return -EMSGSIZE;
        if (check_payload(payload, length) < 0)
                return -EILSEQ;
        if (size < FRAME_HEADER_SIZE + length)
                return -ENOBUFS;
        frame_encode_header((uint32_t)length, bytes);
        memcpy(bytes + FRAME_HEADER_SIZE, payload, length);
        return (int)(FRAME_HEADER_SIZE + length);
}
