#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "proxy.h"

static int parse_text(const char *text, struct proxy_header *header)
{
        return proxy_parse(text, strlen(text), header);
}

static void v1_tcp4_gives_the_client_and_the_header_length(void **state)
{
        const char *text = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 7\r\nhello";
        struct proxy_header h;
        const unsigned char want[4] = {192, 0, 2, 7};

        (void)state;
        assert_int_equal(parse_text(text, &h), (int)(strlen(text) - 5));
        assert_int_equal(h.version, 1);
        assert_true(h.has_address);
        assert_int_equal(h.source.family, PROXY_FAMILY_INET);
        assert_memory_equal(h.source.address, want, 4);
        assert_int_equal(h.source.port, 40000);
        assert_int_equal(h.destination.port, 7);
}

static void v1_tcp6_and_unknown(void **state)
{
        struct proxy_header h;

        (void)state;
        assert_true(parse_text("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n", &h) > 0);
        assert_int_equal(h.source.family, PROXY_FAMILY_INET6);
        assert_int_equal(h.source.address[0], 0x20);
        assert_int_equal(h.source.port, 65535);
        assert_int_equal(parse_text("PROXY UNKNOWN\r\n", &h), 15);
        assert_false(h.has_address);
        assert_true(parse_text("PROXY UNKNOWN ffff::1 ::1 1 2\r\n", &h) > 0);
        assert_false(h.has_address);
}

static void v1_every_prefix_needs_more(void **state)
{
        const char *text = "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n";
        struct proxy_header h;

        (void)state;
        for (size_t n = 0; n < strlen(text); n++)
                assert_int_equal(proxy_parse(text, n, &h), 0);
        assert_int_equal(proxy_parse(text, strlen(text), &h), (int)strlen(text));
}

static void v1_bad_headers_are_refused(void **state)
{
        static const char *bad[] = {
            "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\n",       /* no CR */
            "PROXY TCP4 10.0.0.1  10.0.0.2 1 2\r\n",    /* two spaces */
            "PROXY TCP4 10.0.0.1 10.0.0.2 1 65536\r\n", /* port */
            "PROXY TCP4 10.0.0.1 10.0.0.2 01 2\r\n",    /* leading zero */
            "PROXY TCP4 ::1 10.0.0.2 1 2\r\n",          /* family */
            "PROXY TCP6 10.0.0.1 ::1 1 2\r\n",          "PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n",
            "PROXY TCP4 10.0.0.1 10.0.0.2 1\r\n",       "PROXY TCP4 10.0.0.1 10.0.0.2 1 2 3\r\n",
            "PROXY TCP4 10.0.0.1 10.0.0.2 1 2 \r\n",
        };
        struct proxy_header h;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(parse_text(bad[i], &h), -EINVAL);
}

static void a_plain_client_and_an_endless_line(void **state)
{
        char text[200];
        struct proxy_header h;

        (void)state;
        assert_int_equal(parse_text("hello\n", &h), -EPROTO);
        assert_int_equal(parse_text("PROXX", &h), -EPROTO);
        memset(text, 'a', sizeof(text));
        memcpy(text, "PROXY ", 6);
        assert_int_equal(proxy_parse(text, PROXY_V1_MAX - 1, &h), 0);
        assert_int_equal(proxy_parse(text, PROXY_V1_MAX, &h), -EMSGSIZE);
        assert_int_equal(proxy_parse(text, sizeof(text), &h), -EMSGSIZE);
}

/* A v2 header: signature, ver/cmd, family, length, then body. */
static size_t v2(unsigned char *out, unsigned char ver_cmd, unsigned char family,
                 const unsigned char *body, size_t length)
{
        static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                              0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

        memcpy(out, sig, 12);
        out[12] = ver_cmd;
        out[13] = family;
        out[14] = (unsigned char)(length >> 8);
        out[15] = (unsigned char)length;
        memcpy(out + 16, body, length);
        return 16 + length;
}

static void v2_inet_with_tlvs(void **state)
{
        const unsigned char body[] = {203, 0, 113, 9, 127, 0, 0, 1, 0x9c, 0x40, 0, 7,
                                      /* TLVs: ALPN "h2", then NOOP empty */
                                      0x01, 0, 2, 'h', '2', 0x04, 0, 0};
        unsigned char data[64];
        size_t n = v2(data, 0x21, 0x11, body, sizeof(body));
        struct proxy_header h;

        (void)state;
        for (size_t i = 0; i < n; i++)
                assert_int_equal(proxy_parse(data, i, &h), 0);
        assert_int_equal(proxy_parse(data, n, &h), (int)n);
        assert_int_equal(h.version, 2);
        assert_true(h.has_address);
        assert_int_equal(h.source.family, PROXY_FAMILY_INET);
        assert_int_equal(h.source.address[0], 203);
        assert_int_equal(h.source.port, 40000);
        assert_int_equal(h.destination.port, 7);
        assert_int_equal(h.tlv_count, 2);
        assert_int_equal(h.transport, 1);
}

static void v2_inet6_local_and_unspec(void **state)
{
        unsigned char body[36] = {0x20, 0x01, 0x0d, 0xb8};
        unsigned char data[64];
        struct proxy_header h;
        size_t n;

        (void)state;
        body[32] = 0x01;
        body[33] = 0x02;
        n = v2(data, 0x21, 0x21, body, sizeof(body));
        assert_int_equal(proxy_parse(data, n, &h), (int)n);
        assert_int_equal(h.source.family, PROXY_FAMILY_INET6);
        assert_int_equal(h.source.port, 0x0102);
        n = v2(data, 0x20, 0x00, body, 0);
        assert_int_equal(proxy_parse(data, n, &h), 16);
        assert_int_equal(h.command, PROXY_COMMAND_LOCAL);
        assert_false(h.has_address);
        n = v2(data, 0x21, 0x00, body, 0);
        assert_int_equal(proxy_parse(data, n, &h), 16);
        assert_false(h.has_address);
}

static void v2_bad_headers_are_refused(void **state)
{
        unsigned char body[40] = {0};
        unsigned char data[2048];
        struct proxy_header h;
        size_t n;

        (void)state;
        n = v2(data, 0x11, 0x11, body, 12); /* version 1 in a v2 header */
        assert_int_equal(proxy_parse(data, n, &h), -EINVAL);
        n = v2(data, 0x22, 0x11, body, 12); /* command 2 */
        assert_int_equal(proxy_parse(data, n, &h), -EINVAL);
        n = v2(data, 0x21, 0x41, body, 12); /* family 4 */
        assert_int_equal(proxy_parse(data, n, &h), -EINVAL);
        n = v2(data, 0x21, 0x21, body, 12); /* INET6 with INET's length */
        assert_int_equal(proxy_parse(data, n, &h), -EINVAL);
        body[12] = 0x01; /* a TLV claiming 0x0100 bytes in a 4-byte tail */
        body[13] = 0x01;
        n = v2(data, 0x21, 0x11, body, 16);
        assert_int_equal(proxy_parse(data, n, &h), -EINVAL);
        n = v2(data, 0x21, 0x11, body, 14); /* a TLV cut in its own header */
        assert_int_equal(proxy_parse(data, n, &h), -EINVAL);
        /* Too long: refused as soon as the length is in, not after reading it all. */
        n = v2(data, 0x21, 0x11, body, 0);
        data[14] = 0x04;
        assert_int_equal(proxy_parse(data, 16, &h), -EMSGSIZE);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(v1_tcp4_gives_the_client_and_the_header_length),
            cmocka_unit_test(v1_tcp6_and_unknown),
            cmocka_unit_test(v1_every_prefix_needs_more),
            cmocka_unit_test(v1_bad_headers_are_refused),
            cmocka_unit_test(a_plain_client_and_an_endless_line),
            cmocka_unit_test(v2_inet_with_tlvs),
            cmocka_unit_test(v2_inet6_local_and_unspec),
            cmocka_unit_test(v2_bad_headers_are_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
