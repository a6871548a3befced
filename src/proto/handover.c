#include "handover.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Record header: type (u16), flags (u16, 0), length (u32). */
#define RECORD_HEADER_SIZE 8

/*
 * FNV-1a, 64 bits, over the header's version, count and length and then the
 * payload: catches a damaged state (it is not a defence against forgery: the
 * state only ever travels from echod to echod through systemd).
 */
static uint64_t checksum(const unsigned char *state, size_t payload)
{
        uint64_t hash = 0xcbf29ce484222325ull;

        /* Bytes 8 to 23 (version, count, length), then the payload: not the checksum itself. */
        for (size_t i = 8; i < 24; i++) {
                hash ^= state[i];
                hash *= 0x100000001b3ull;
        }
        for (size_t i = 0; i < payload; i++) {
                hash ^= state[HANDOVER_HEADER_SIZE + i];
                hash *= 0x100000001b3ull;
        }
        return hash;
}

static void store_be(unsigned char *out, uint64_t value, size_t bytes)
{
        for (size_t i = 0; i < bytes; i++)
                out[i] = (unsigned char)(value >> (8 * (bytes - 1 - i)));
}

static uint64_t load_be(const unsigned char *in, size_t bytes)
{
        uint64_t value = 0;

        for (size_t i = 0; i < bytes; i++)
                value = (value << 8) | in[i];
        return value;
}

void handover_writer_init(struct handover_writer *writer)
{
        memset(writer, 0, sizeof(*writer));
}

void handover_writer_fini(struct handover_writer *writer)
{
        free(writer->data);
        memset(writer, 0, sizeof(*writer));
}

static unsigned char *reserve(struct handover_writer *writer, size_t n)
{
        unsigned char *bigger;
        size_t capacity;

        if (writer->error)
                return NULL;
        if (writer->length == 0)
                writer->length = HANDOVER_HEADER_SIZE; /* room for the header */
        if (n > HANDOVER_MAX || writer->length + n > HANDOVER_MAX) {
                writer->error = -E2BIG;
                return NULL;
        }
        if (writer->length + n > writer->capacity) {
                capacity = writer->capacity ? writer->capacity : 4096;
                while (capacity < writer->length + n)
                        capacity *= 2;
                bigger = realloc(writer->data, capacity);
                if (!bigger) {
                        writer->error = -ENOMEM;
                        return NULL;
                }
                if (writer->capacity == 0)
                        memset(bigger, 0, HANDOVER_HEADER_SIZE);
                writer->data = bigger;
                writer->capacity = capacity;
        }
        writer->length += n;
        return writer->data + writer->length - n;
}

void handover_record_begin(struct handover_writer *writer, uint16_t type)
{
        unsigned char *header;

        if (writer->record_start) {
                writer->error = writer->error ? writer->error : -EINVAL;
                return;
        }
        header = reserve(writer, RECORD_HEADER_SIZE);
        if (!header)
                return;
        store_be(header, type, 2);
        store_be(header + 2, 0, 2);
        writer->record_start = (size_t)(header - writer->data);
}

void handover_record_end(struct handover_writer *writer)
{
        size_t length;

        if (!writer->record_start) {
                writer->error = writer->error ? writer->error : -EINVAL;
                return;
        }
        length = writer->length - writer->record_start - RECORD_HEADER_SIZE;
        if (length > HANDOVER_RECORD_MAX && !writer->error)
                writer->error = -E2BIG;
        if (!writer->error)
                store_be(writer->data + writer->record_start + 4, length, 4);
        writer->record_start = 0;
        writer->records++;
}

static void put(struct handover_writer *writer, uint64_t value, size_t bytes)
{
        unsigned char *out;

        if (!writer->record_start) {
                writer->error = writer->error ? writer->error : -EINVAL;
                return;
        }
        out = reserve(writer, bytes);
        if (out)
                store_be(out, value, bytes);
}

void handover_put_u8(struct handover_writer *writer, uint8_t value)
{
        put(writer, value, 1);
}

void handover_put_u16(struct handover_writer *writer, uint16_t value)
{
        put(writer, value, 2);
}

void handover_put_u32(struct handover_writer *writer, uint32_t value)
{
        put(writer, value, 4);
}

void handover_put_u64(struct handover_writer *writer, uint64_t value)
{
        put(writer, value, 8);
}

void handover_put_bytes(struct handover_writer *writer, const void *bytes, size_t length)
{
        unsigned char *out;

        if (length > HANDOVER_RECORD_MAX) {
                writer->error = writer->error ? writer->error : -E2BIG;
                return;
        }
        put(writer, length, 4);
        out = reserve(writer, length);
        if (out && length > 0)
                memcpy(out, bytes, length);
}

long handover_writer_finish(struct handover_writer *writer, const unsigned char **data)
{
        size_t payload;

        if (writer->record_start && !writer->error)
                writer->error = -EINVAL;
        if (!writer->error && !writer->data)
                reserve(writer, 0);
        if (writer->error)
                return writer->error;
        payload = writer->length - HANDOVER_HEADER_SIZE;
        memcpy(writer->data, HANDOVER_MAGIC, 8);
        store_be(writer->data + 8, HANDOVER_VERSION, 4);
        store_be(writer->data + 12, writer->records, 4);
        store_be(writer->data + 16, payload, 8);
        store_be(writer->data + 24, checksum(writer->data, payload), 8);
        *data = writer->data;
        return (long)writer->length;
}

/*
 * The record whose header is at offset: 0 with *type, *payload_offset and
 * *length set, or -EBADMSG if its header or payload runs past the state.
 */
static int record_at(const unsigned char *data, size_t length, size_t offset, uint16_t *type,
                     size_t *payload_offset, size_t *payload_length)
{
        size_t left = length - offset;
        uint64_t n;

        if (left < RECORD_HEADER_SIZE)
                return -EBADMSG;
        n = load_be(data + offset + 4, 4);
        if (load_be(data + offset + 2, 2) != 0 || n > HANDOVER_RECORD_MAX ||
            n > left - RECORD_HEADER_SIZE)
                return -EBADMSG;
        *type = (uint16_t)load_be(data + offset, 2);
        *payload_offset = offset + RECORD_HEADER_SIZE;
        *payload_length = (size_t)n;
        return 0;
}

int handover_reader_init(struct handover_reader *reader, const void *data, size_t length)
{
        const unsigned char *bytes = data;
        uint64_t payload, count;
        size_t offset = HANDOVER_HEADER_SIZE;

        memset(reader, 0, sizeof(*reader));
        if (length < HANDOVER_HEADER_SIZE)
                return length >= 8 && memcmp(bytes, HANDOVER_MAGIC, 8) != 0 ? -EPROTO : -EBADMSG;
        if (memcmp(bytes, HANDOVER_MAGIC, 8) != 0 || load_be(bytes + 8, 4) != HANDOVER_VERSION)
                return -EPROTO;
        payload = load_be(bytes + 16, 8);
        if (length > HANDOVER_MAX || payload != length - HANDOVER_HEADER_SIZE)
                return -EBADMSG;
        if (load_be(bytes + 24, 8) != checksum(bytes, (size_t)payload))
                return -EBADMSG;
        /*
         * Walk every record before handing out any: a count that does not
         * match the records there (even with a good checksum) refuses the
         * state as a whole, so no connection is served from half of it.
         */
        count = load_be(bytes + 12, 4);
        for (uint64_t i = 0; i < count; i++) {
                size_t payload_offset, record_length;
                uint16_t type;

                if (record_at(bytes, length, offset, &type, &payload_offset, &record_length) < 0)
                        return -EBADMSG;
                offset = payload_offset + record_length;
        }
        if (offset != length)
                return -EBADMSG;
        reader->data = bytes;
        reader->length = length;
        reader->offset = HANDOVER_HEADER_SIZE;
        reader->remaining = (uint32_t)count;
        return 0;
}

int handover_next_record(struct handover_reader *reader, struct handover_record *record)
{
        size_t payload_offset, length;
        uint16_t type;

        memset(record, 0, sizeof(*record));
        if (reader->remaining == 0)
                return reader->offset == reader->length ? 0 : -EBADMSG;
        if (record_at(reader->data, reader->length, reader->offset, &type, &payload_offset,
                      &length) < 0)
                return -EBADMSG;
        record->type = type;
        record->payload = reader->data + payload_offset;
        record->length = length;
        reader->offset = payload_offset + length;
        reader->remaining--;
        return 1;
}

static int get(struct handover_record *record, size_t bytes, uint64_t *value)
{
        if (record->error || record->length - record->offset < bytes) {
                record->error = -EBADMSG;
                return -EBADMSG;
        }
        *value = load_be(record->payload + record->offset, bytes);
        record->offset += bytes;
        return 0;
}

int handover_get_u8(struct handover_record *record, uint8_t *value)
{
        uint64_t v = 0;
        int r = get(record, 1, &v);

        *value = (uint8_t)v;
        return r;
}

int handover_get_u16(struct handover_record *record, uint16_t *value)
{
        uint64_t v = 0;
        int r = get(record, 2, &v);

        *value = (uint16_t)v;
        return r;
}

int handover_get_u32(struct handover_record *record, uint32_t *value)
{
        uint64_t v = 0;
        int r = get(record, 4, &v);

        *value = (uint32_t)v;
        return r;
}

int handover_get_u64(struct handover_record *record, uint64_t *value)
{
        return get(record, 8, value);
}

int handover_get_bytes(struct handover_record *record, const unsigned char **bytes, size_t *length)
{
        uint32_t n;

        if (handover_get_u32(record, &n) < 0)
                return -EBADMSG;
        if (record->length - record->offset < n) {
                record->error = -EBADMSG;
                return -EBADMSG;
        }
        *bytes = record->payload + record->offset;
        *length = n;
        record->offset += n;
        return 0;
}
