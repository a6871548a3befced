#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handover.h"

/* A state with two records, copied out of the writer. */
static unsigned char *sample(size_t *length)
{
        struct handover_writer writer;
        const unsigned char *data;
        unsigned char *copy;
        long n;

        handover_writer_init(&writer);
        handover_record_begin(&writer, HANDOVER_ECHO_TCP);
        handover_put_u8(&writer, 7);
        handover_put_u16(&writer, 65535);
        handover_put_u32(&writer, 0xdeadbeef);
        handover_put_u64(&writer, 0x0123456789abcdefull);
        handover_put_bytes(&writer, "pending", 7);
        handover_record_end(&writer);
        handover_record_begin(&writer, 999);
        handover_put_bytes(&writer, "", 0);
        handover_record_end(&writer);
        n = handover_writer_finish(&writer, &data);
        assert_true(n > HANDOVER_HEADER_SIZE);
        copy = malloc((size_t)n);
        memcpy(copy, data, (size_t)n);
        *length = (size_t)n;
        handover_writer_fini(&writer);
        return copy;
}

static void records_round_trip(void **state)
{
        struct handover_reader reader;
        struct handover_record record;
        const unsigned char *bytes;
        size_t length, n;
        unsigned char *data = sample(&length);
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;

        (void)state;
        assert_int_equal(handover_reader_init(&reader, data, length), 0);
        assert_int_equal(handover_next_record(&reader, &record), 1);
        assert_int_equal(record.type, HANDOVER_ECHO_TCP);
        assert_int_equal(handover_get_u8(&record, &u8), 0);
        assert_int_equal(u8, 7);
        assert_int_equal(handover_get_u16(&record, &u16), 0);
        assert_int_equal(u16, 65535);
        assert_int_equal(handover_get_u32(&record, &u32), 0);
        assert_int_equal(u32, 0xdeadbeef);
        assert_int_equal(handover_get_u64(&record, &u64), 0);
        assert_true(u64 == 0x0123456789abcdefull);
        assert_int_equal(handover_get_bytes(&record, &bytes, &n), 0);
        assert_int_equal(n, 7);
        assert_memory_equal(bytes, "pending", 7);
        /* Past the end: an error, and it sticks. */
        assert_int_equal(handover_get_u8(&record, &u8), -EBADMSG);
        assert_int_equal(record.error, -EBADMSG);
        assert_int_equal(handover_next_record(&reader, &record), 1);
        assert_int_equal(record.type, 999);
        assert_int_equal(handover_next_record(&reader, &record), 0);
        free(data);
}

static void a_foreign_or_other_version_state_is_refused(void **state)
{
        struct handover_reader reader;
        size_t length;
        unsigned char *data = sample(&length);

        (void)state;
        data[0] = 'X';
        assert_int_equal(handover_reader_init(&reader, data, length), -EPROTO);
        data[0] = 'E';
        data[11] = 2; /* version 2 */
        assert_int_equal(handover_reader_init(&reader, data, length), -EPROTO);
        free(data);
}

static void every_truncation_and_every_flipped_byte_is_refused(void **state)
{
        struct handover_reader reader;
        size_t length;
        unsigned char *data = sample(&length);

        (void)state;
        for (size_t cut = 0; cut < length; cut++)
                assert_true(handover_reader_init(&reader, data, cut) < 0);
        for (size_t i = 0; i < length; i++) {
                data[i] ^= 0x40;
                assert_true(handover_reader_init(&reader, data, length) < 0);
                data[i] ^= 0x40;
        }
        assert_int_equal(handover_reader_init(&reader, data, length), 0);
        free(data);
}

static void an_empty_state_has_no_records(void **state)
{
        unsigned char *exact;
        struct handover_writer writer;
        struct handover_reader reader;
        struct handover_record record;
        const unsigned char *data;
        long n;

        (void)state;
        handover_writer_init(&writer);
        n = handover_writer_finish(&writer, &data);
        assert_int_equal(n, HANDOVER_HEADER_SIZE);
        /* A copy of exactly its size: ASan sees a read past it (found by fuzzing). */
        exact = malloc((size_t)n);
        memcpy(exact, data, (size_t)n);
        assert_int_equal(handover_reader_init(&reader, exact, (size_t)n), 0);
        assert_int_equal(handover_next_record(&reader, &record), 0);
        free(exact);
        handover_writer_fini(&writer);
}

static void misuse_of_the_writer_is_an_error_not_a_bad_state(void **state)
{
        struct handover_writer writer;
        const unsigned char *data;

        (void)state;
        handover_writer_init(&writer);
        handover_put_u32(&writer, 1); /* no record open */
        assert_int_equal(handover_writer_finish(&writer, &data), -EINVAL);
        handover_writer_fini(&writer);
        handover_writer_init(&writer);
        handover_record_begin(&writer, 1);
        assert_int_equal(handover_writer_finish(&writer, &data), -EINVAL); /* still open */
        handover_writer_fini(&writer);
}

/* Set the header's record count and make the checksum good again (FNV-1a, as handover.c). */
static void set_count(unsigned char *data, size_t length, uint32_t count)
{
        uint64_t hash = 0xcbf29ce484222325ull;

        data[12] = (unsigned char)(count >> 24);
        data[13] = (unsigned char)(count >> 16);
        data[14] = (unsigned char)(count >> 8);
        data[15] = (unsigned char)count;
        for (size_t i = 8; i < 24; i++)
                hash = (hash ^ data[i]) * 0x100000001b3ull;
        for (size_t i = HANDOVER_HEADER_SIZE; i < length; i++)
                hash = (hash ^ data[i]) * 0x100000001b3ull;
        for (size_t i = 0; i < 8; i++)
                data[24 + i] = (unsigned char)(hash >> (56 - 8 * i));
}

static void a_count_that_is_not_the_records_there_refuses_the_whole_state(void **state)
{
        struct handover_reader reader;
        size_t length;
        unsigned char *data = sample(&length);

        (void)state;
        set_count(data, length, 2);
        assert_int_equal(handover_reader_init(&reader, data, length), 0);
        /* More records counted than there are: refused before the first is read. */
        set_count(data, length, 3);
        assert_int_equal(handover_reader_init(&reader, data, length), -EBADMSG);
        set_count(data, length, 0xffffffffu);
        assert_int_equal(handover_reader_init(&reader, data, length), -EBADMSG);
        /* Fewer: the bytes after the last one counted are as bad. */
        set_count(data, length, 1);
        assert_int_equal(handover_reader_init(&reader, data, length), -EBADMSG);
        set_count(data, length, 0);
        assert_int_equal(handover_reader_init(&reader, data, length), -EBADMSG);
        free(data);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(records_round_trip),
            cmocka_unit_test(a_foreign_or_other_version_state_is_refused),
            cmocka_unit_test(every_truncation_and_every_flipped_byte_is_refused),
            cmocka_unit_test(an_empty_state_has_no_records),
            cmocka_unit_test(misuse_of_the_writer_is_an_error_not_a_bad_state),
            cmocka_unit_test(a_count_that_is_not_the_records_there_refuses_the_whole_state),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
