/*
 * libFuzzer target for the PROXY protocol codec (src/proto/proxy.c). Every
 * prefix of the input must give an answer consistent with the whole: once a
 * prefix is a complete header (or an error), every longer input gives the
 * same; a header's length is within the version's bound and the input; a
 * "need more" is never given past the bound; and a reported address has a
 * family that follows the version's rules.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct proxy_header whole, part;
        int r = proxy_parse(data, size, &whole);
        size_t limit = size < PROXY_V2_MAX + 1 ? size : PROXY_V2_MAX + 1;

        assert(r == 0 || r == -EPROTO || r == -EMSGSIZE || r == -EINVAL || r > 0);
        if (r > 0) {
                assert((size_t)r <= size);
                assert(whole.version == 1 || whole.version == 2);
                assert((size_t)r <= (whole.version == 1 ? PROXY_V1_MAX : PROXY_V2_MAX));
                if (whole.has_address) {
                        assert(whole.command == PROXY_COMMAND_PROXY);
                        assert(whole.source.family == whole.destination.family);
                        assert(whole.source.family != PROXY_FAMILY_UNSPEC);
                        if (whole.source.family == PROXY_FAMILY_UNIX)
                                assert(strlen(whole.source.path) <= 108);
                }
                /* The header alone parses the same; no prefix of it is complete. */
                assert(proxy_parse(data, (size_t)r, &part) == r);
                assert(memcmp(&part, &whole, sizeof(part)) == 0);
                for (size_t n = 0; n < (size_t)r; n++)
                        assert(proxy_parse(data, n, &part) <= 0);
        }
        if (r == 0)
                assert(size < PROXY_V2_MAX);
        /* A prefix that is already a verdict stays that verdict. */
        for (size_t n = 0; n < limit; n++) {
                int p = proxy_parse(data, n, &part);

                if (p != 0) {
                        assert(p == r);
                        break;
                }
        }
        return 0;
}
