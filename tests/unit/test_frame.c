#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* Big enough for the largest frame. */
#define FRAME_BUFFER (FRAME_HEADER_SIZE + FRAME_PAYLOAD_MAX)

static struct frame_decoder *new_decoder(void)
{
        struct frame_decoder *decoder = malloc(sizeof(*decoder));

        assert_non_null(decoder);
        frame_decoder_init(decoder);
        return decoder;
}

static void an_encoded_frame_is_a_big_endian_length_then_the_payload(void **state)
{
        unsigned char out[16];

        (void)state;
        assert_int_equal(frame_encode("status", 6, out, sizeof(out)), 10);
        assert_memory_equal(out, "\0\0\0\6status", 10);
}

static void an_empty_payload_is_a_frame(void **state)
{
        struct frame_decoder *decoder = new_decoder();
        unsigned char out[4];
        size_t used, length;

        (void)state;
        assert_int_equal(frame_encode("", 0, out, sizeof(out)), 4);
        assert_int_equal(frame_decoder_feed(decoder, out, 4, &used), FRAME_READY);
        assert_int_equal(used, 4);
        assert_string_equal(frame_decoder_payload(decoder, &length), "");
        assert_int_equal(length, 0);
        free(decoder);
}

static void encoding_refuses_what_the_decoder_would_refuse(void **state)
{
        char *big = calloc(1, FRAME_PAYLOAD_MAX + 1);
        unsigned char out[8];

        (void)state;
        assert_non_null(big);
        memset(big, 'a', FRAME_PAYLOAD_MAX + 1);
        assert_int_equal(frame_encode(big, FRAME_PAYLOAD_MAX + 1, NULL, 0), -EMSGSIZE);
        assert_int_equal(frame_encode("\xff", 1, out, sizeof(out)), -EILSEQ);
        assert_int_equal(frame_encode("a\0b", 3, out, sizeof(out)), -EILSEQ);
        assert_int_equal(frame_encode("123456789", 9, out, sizeof(out)), -ENOBUFS);
        free(big);
}

static void one_byte_at_a_time_decodes_the_same_frame(void **state)
{
        struct frame_decoder *decoder = new_decoder();
        unsigned char frame[32];
        int length = frame_encode("pause echo", 10, frame, sizeof(frame));
        size_t used;

        (void)state;
        for (int i = 0; i < length - 1; i++) {
                assert_int_equal(frame_decoder_feed(decoder, frame + i, 1, &used), FRAME_NEED_MORE);
                assert_int_equal(used, 1);
                assert_true(frame_decoder_partial(decoder));
        }
        assert_int_equal(frame_decoder_feed(decoder, frame + length - 1, 1, &used), FRAME_READY);
        assert_false(frame_decoder_partial(decoder));
        assert_string_equal(frame_decoder_payload(decoder, NULL), "pause echo");
        free(decoder);
}

static void the_decoder_stops_at_the_end_of_a_frame(void **state)
{
        struct frame_decoder *decoder = new_decoder();
        unsigned char two[32];
        int first = frame_encode("ok", 2, two, sizeof(two));
        int second = frame_encode("stats", 5, two + first, sizeof(two) - (size_t)first);
        size_t used;

        (void)state;
        assert_int_equal(frame_decoder_feed(decoder, two, (size_t)(first + second), &used),
                         FRAME_READY);
        assert_int_equal(used, first);
        assert_string_equal(frame_decoder_payload(decoder, NULL), "ok");
        /* Fed again before a reset, it keeps the frame and takes nothing. */
        assert_int_equal(frame_decoder_feed(decoder, two + first, (size_t)second, &used),
                         FRAME_READY);
        assert_int_equal(used, 0);
        frame_decoder_reset(decoder);
        assert_int_equal(frame_decoder_feed(decoder, two + first, (size_t)second, &used),
                         FRAME_READY);
        assert_int_equal(used, second);
        assert_string_equal(frame_decoder_payload(decoder, NULL), "stats");
        free(decoder);
}

static void a_payload_of_exactly_the_maximum_is_accepted(void **state)
{
        struct frame_decoder *decoder = new_decoder();
        unsigned char *frame = malloc(FRAME_BUFFER);
        char *payload = malloc(FRAME_PAYLOAD_MAX);
        size_t used, length;

        (void)state;
        assert_non_null(frame);
        assert_non_null(payload);
        memset(payload, 'x', FRAME_PAYLOAD_MAX);
        assert_int_equal(frame_encode(payload, FRAME_PAYLOAD_MAX, frame, FRAME_BUFFER),
                         FRAME_BUFFER);
        assert_int_equal(frame_decoder_feed(decoder, frame, FRAME_BUFFER, &used), FRAME_READY);
        frame_decoder_payload(decoder, &length);
        assert_int_equal(length, FRAME_PAYLOAD_MAX);
        free(payload);
        free(frame);
        free(decoder);
}

static void a_length_above_the_maximum_is_refused_from_the_header_alone(void **state)
{
        struct frame_decoder *decoder = new_decoder();
        unsigned char header[FRAME_HEADER_SIZE];
        size_t used;

        (void)state;
        frame_encode_header(FRAME_PAYLOAD_MAX + 1, header);
        assert_int_equal(frame_decoder_feed(decoder, header, sizeof(header), &used), -EMSGSIZE);
        /* The error sticks, also after a reset: the stream is out of step. */
        frame_decoder_reset(decoder);
        assert_int_equal(frame_decoder_feed(decoder, "\0\0\0\0", 4, &used), -EMSGSIZE);
        assert_int_equal(used, 0);
        frame_decoder_init(decoder);
        frame_encode_header(UINT32_MAX, header);
        assert_int_equal(frame_decoder_feed(decoder, header, sizeof(header), &used), -EMSGSIZE);
        free(decoder);
}

static void a_payload_that_is_not_utf8_is_refused(void **state)
{
        struct frame_decoder *decoder = new_decoder();
        /* An overlong '/', a lone continuation byte, a surrogate, a NUL. */
        static const char *const bad[] = {"\xc0\xaf", "\x80", "\xed\xa0\x80", "a\0"};
        static const size_t lengths[] = {2, 1, 3, 2};
        unsigned char frame[16];
        size_t used;

        (void)state;
        for (size_t i = 0; i < 4; i++) {
                frame_decoder_init(decoder);
                frame_encode_header((uint32_t)lengths[i], frame);
                memcpy(frame + 4, bad[i], lengths[i]);
                assert_int_equal(frame_decoder_feed(decoder, frame, 4 + lengths[i], &used),
                                 -EILSEQ);
        }
        free(decoder);
}

static void a_multibyte_character_split_across_reads_is_accepted(void **state)
{
        struct frame_decoder *decoder = new_decoder();
        const char *text = "users remove J\xc3\xbcrgen";
        unsigned char frame[64];
        int length = frame_encode(text, strlen(text), frame, sizeof(frame));
        size_t used, split = 4 + 15; /* between the two bytes of the u umlaut */

        (void)state;
        assert_int_equal(frame_decoder_feed(decoder, frame, split, &used), FRAME_NEED_MORE);
        assert_int_equal(frame_decoder_feed(decoder, frame + split, (size_t)length - split, &used),
                         FRAME_READY);
        assert_string_equal(frame_decoder_payload(decoder, NULL), text);
        free(decoder);
}

static void a_truncated_frame_is_partial(void **state)
{
        struct frame_decoder *decoder = new_decoder();
        size_t used;

        (void)state;
        assert_false(frame_decoder_partial(decoder));
        assert_int_equal(frame_decoder_feed(decoder, "\0\0", 2, &used), FRAME_NEED_MORE);
        assert_true(frame_decoder_partial(decoder));
        assert_int_equal(frame_decoder_feed(decoder, "\0\5abc", 5, &used), FRAME_NEED_MORE);
        assert_true(frame_decoder_partial(decoder));
        free(decoder);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(an_encoded_frame_is_a_big_endian_length_then_the_payload),
            cmocka_unit_test(an_empty_payload_is_a_frame),
            cmocka_unit_test(encoding_refuses_what_the_decoder_would_refuse),
            cmocka_unit_test(one_byte_at_a_time_decodes_the_same_frame),
            cmocka_unit_test(the_decoder_stops_at_the_end_of_a_frame),
            cmocka_unit_test(a_payload_of_exactly_the_maximum_is_accepted),
            cmocka_unit_test(a_length_above_the_maximum_is_refused_from_the_header_alone),
            cmocka_unit_test(a_payload_that_is_not_utf8_is_refused),
            cmocka_unit_test(a_multibyte_character_split_across_reads_is_accepted),
            cmocka_unit_test(a_truncated_frame_is_partial),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
