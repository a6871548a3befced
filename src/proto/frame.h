#ifndef ECHOD_FRAME_H
#define ECHOD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The control protocol's framing, shared by echod and echoctl: a 4-byte
 * big-endian payload length, then that many bytes of UTF-8 text. A request
 * is one command line; a reply starts with "ok" or "error". No I/O here: the
 * decoder is fed the bytes a socket gave, the encoder writes into a buffer.
 */

/* The largest payload either side sends or accepts. */
#define FRAME_PAYLOAD_MAX (64 * 1024)
/* Bytes of the length header. */
#define FRAME_HEADER_SIZE 4

enum frame_status {
        FRAME_NEED_MORE = 0, /* the bytes so far are a valid prefix of a frame */
        FRAME_READY = 1,     /* a whole frame is decoded (frame_decoder_payload) */
};

/*
 * An incremental decoder. Feed it bytes in pieces of any size; it holds at
 * most one frame (FRAME_HEADER_SIZE + FRAME_PAYLOAD_MAX bytes).
 */
struct frame_decoder {
        unsigned char header[FRAME_HEADER_SIZE];
        size_t header_length;
        uint32_t payload_length; /* valid once the header is complete */
        size_t payload_received;
        char payload[FRAME_PAYLOAD_MAX + 1]; /* NUL-terminated when FRAME_READY */
        int error; /* the first error, kept: a stream in error stays in error */
};

/* Start empty. */
void frame_decoder_init(struct frame_decoder *decoder);

/*
 * Take up to length bytes of data. Sets *used to how many it took (it stops
 * at the end of a frame, so the rest belongs to the next one). Returns
 * FRAME_READY when a frame is complete, FRAME_NEED_MORE when it wants more,
 * -EMSGSIZE for a length above FRAME_PAYLOAD_MAX or -EILSEQ for a payload
 * that is not UTF-8 (or holds a NUL byte). After FRAME_READY, call
 * frame_decoder_reset() before feeding the next frame.
 */
int frame_decoder_feed(struct frame_decoder *decoder, const void *data, size_t length,
                       size_t *used);

/* The payload of the frame just decoded (NUL-terminated) and its length. */
const char *frame_decoder_payload(const struct frame_decoder *decoder, size_t *length);

/* True if part of a frame has been fed but not completed (a peer that closes now truncated it). */
bool frame_decoder_partial(const struct frame_decoder *decoder);

/* Forget the frame just decoded; ready for the next one. Errors are not forgotten. */
void frame_decoder_reset(struct frame_decoder *decoder);

/*
 * Write a frame holding payload (length bytes) into out, which has room
 * for size bytes. Returns the frame's length, -EMSGSIZE if the payload is
 * above FRAME_PAYLOAD_MAX, -ENOBUFS if out is too small, or -EILSEQ if the
 * payload is not UTF-8.
 */
int frame_encode(const char *payload, size_t length, void *out, size_t size);

/* Write just the header for a payload of length bytes into out. */
void frame_encode_header(uint32_t length, unsigned char out[FRAME_HEADER_SIZE]);

#endif
