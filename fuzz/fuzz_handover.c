/*
 * libFuzzer target for the restart state codec (src/proto/handover.c): any
 * bytes given as a previous process's state are refused or read within
 * bounds, never trusted past what the checks allow, and a state accepted
 * is accepted whole: every record it counts is there.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "handover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct handover_reader reader;
        struct handover_record record;
        int r;

        if (handover_reader_init(&reader, data, size) < 0)
                return 0;
        while ((r = handover_next_record(&reader, &record)) == 1) {
                const unsigned char *bytes;
                size_t length;
                uint64_t value;
                uint8_t small;

                /* Read the record as the services do, field by field, until it runs out. */
                while (record.error == 0) {
                        if (handover_get_u8(&record, &small) < 0 ||
                            handover_get_u64(&record, &value) < 0 ||
                            handover_get_bytes(&record, &bytes, &length) < 0)
                                break;
                        assert(bytes >= record.payload &&
                               bytes + length <= record.payload + record.length);
                }
                assert(record.offset <= record.length);
        }
        /* A state the reader accepted was checked whole: its records never run out early. */
        assert(r == 0);
        return 0;
}
