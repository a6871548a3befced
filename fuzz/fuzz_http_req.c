/*
 * libFuzzer target for the metrics endpoint's request reader
 * (src/proto/http_req.c). Every verdict must be one of the statuses the
 * header lists, "read more" only while under the size cap, OpenMetrics only
 * on a 200; and the reader must not change its mind as more bytes come: a
 * verdict on a prefix is the verdict on the whole input.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "http_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct http_req_verdict *v)
{
        assert(v->status == 200 || v->status == 400 || v->status == 404 || v->status == 405 ||
               v->status == 431 || v->status == 505);
        assert(!v->openmetrics || v->status == 200);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        struct http_req_verdict whole, part;
        enum http_req_state state = http_req_judge(text, size, &whole);
        size_t cut = size > 0 ? data[0] % (size + 1) : 0;

        if (state == HTTP_REQ_MORE)
                assert(size < HTTP_REQ_MAX_BYTES);
        else
                check(&whole);
        if (http_req_judge(text, cut, &part) == HTTP_REQ_DONE) {
                check(&part);
                assert(state == HTTP_REQ_DONE && part.status == whole.status &&
                       part.openmetrics == whole.openmetrics);
        }
        return 0;
}
