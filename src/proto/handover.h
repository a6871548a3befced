#ifndef ECHOD_HANDOVER_H
#define ECHOD_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

/*
 * The state echod hands to its next process on a planned restart, as bytes:
 * a header (magic, version, record count, payload length, checksum) and
 * records (type, length, payload). Integers are big-endian. The reader
 * checks everything before it hands out a record, so a truncated, foreign or
 * corrupt state is refused as a whole, never trusted in part.
 *
 * Each service writes its own records with the put functions and reads them
 * with the get functions; a record type the reader does not know is skipped
 * by the caller.
 */

#define HANDOVER_MAGIC       "ECHODHO1"
#define HANDOVER_VERSION     1
#define HANDOVER_HEADER_SIZE 32
/* The largest state accepted (64 MiB of unsent bytes and bookkeeping). */
#define HANDOVER_MAX (64u * 1024 * 1024)
/* The largest record. */
#define HANDOVER_RECORD_MAX (1u * 1024 * 1024)

enum handover_type {
        HANDOVER_ECHO_TCP = 1, /* an echo connection */
        HANDOVER_CHAT = 2,     /* a chat connection */
};

struct handover_writer {
        unsigned char *data;
        size_t length;
        size_t capacity;
        size_t record_start; /* where the open record's header is, or 0 */
        uint32_t records;
        int error; /* the first error; later puts do nothing */
};

struct handover_record {
        uint16_t type;
        const unsigned char *payload;
        size_t length;
        size_t offset; /* what the get functions have read */
        int error;     /* -EBADMSG once a get ran past the end; sticky */
};

struct handover_reader {
        const unsigned char *data;
        size_t length;
        size_t offset;
        uint32_t remaining; /* records not yet read */
};

/* Start an empty state. */
void handover_writer_init(struct handover_writer *writer);

/* Free what the writer holds. */
void handover_writer_fini(struct handover_writer *writer);

/* Open a record of type; close it with handover_record_end(). */
void handover_record_begin(struct handover_writer *writer, uint16_t type);

/* Close the open record. */
void handover_record_end(struct handover_writer *writer);

/* Append to the open record. Errors (out of memory, too large) stick to the writer. */
void handover_put_u8(struct handover_writer *writer, uint8_t value);
void handover_put_u16(struct handover_writer *writer, uint16_t value);
void handover_put_u32(struct handover_writer *writer, uint32_t value);
void handover_put_u64(struct handover_writer *writer, uint64_t value);
/* A length (u32) and the bytes. */
void handover_put_bytes(struct handover_writer *writer, const void *bytes, size_t length);

/*
 * Fill in the header and point *data at the whole state. Returns its length
 * or the first error of the writer (-ENOMEM, -E2BIG, -EINVAL for an open
 * record).
 */
long handover_writer_finish(struct handover_writer *writer, const unsigned char **data);

/*
 * Check a whole state: magic, version, lengths, checksum, and that the
 * records there are exactly as many as the header counts, each within
 * bounds. Returns 0, -EPROTO for a foreign magic or another version, or
 * -EBADMSG for a truncated or corrupt state. After 0, handover_next_record()
 * never fails.
 */
int handover_reader_init(struct handover_reader *reader, const void *data, size_t length);

/* The next record: 1 with *record set, 0 at the end, or -EBADMSG. */
int handover_next_record(struct handover_reader *reader, struct handover_record *record);

/* Read from a record. Each returns 0 or -EBADMSG (and sets record->error) past its end. */
int handover_get_u8(struct handover_record *record, uint8_t *value);
int handover_get_u16(struct handover_record *record, uint16_t *value);
int handover_get_u32(struct handover_record *record, uint32_t *value);
int handover_get_u64(struct handover_record *record, uint64_t *value);
/* A length and bytes as written by handover_put_bytes(); *bytes points into the state. */
int handover_get_bytes(struct handover_record *record, const unsigned char **bytes, size_t *length);

#endif
