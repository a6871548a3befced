#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "addr.h"

static void parse_port_only_binds_every_address(void **state)
{
        struct addr_spec spec;
        char text[ADDR_TEXT_MAX];

        (void)state;
        assert_int_equal(addr_parse_listen("7007", 1, &spec), 0);
        assert_int_equal(spec.proto, ADDR_TCP);
        assert_true(spec.any);
        assert_int_equal(spec.sa.ss_family, AF_INET6);
        addr_format((struct sockaddr *)&spec.sa, text, sizeof(text));
        assert_string_equal(text, "[::]:7007");
}

static void parse_ipv4_with_port(void **state)
{
        struct addr_spec spec;
        char text[ADDR_TEXT_MAX];

        (void)state;
        assert_int_equal(addr_parse_listen("127.0.0.1:8", 7007, &spec), 0);
        assert_false(spec.any);
        assert_int_equal(spec.sa.ss_family, AF_INET);
        addr_format((struct sockaddr *)&spec.sa, text, sizeof(text));
        assert_string_equal(text, "127.0.0.1:8");
}

static void parse_ipv4_without_port_takes_default(void **state)
{
        struct addr_spec spec;

        (void)state;
        assert_int_equal(addr_parse_listen("10.1.2.3", 7007, &spec), 0);
        assert_int_equal(addr_port((struct sockaddr *)&spec.sa), 7007);
}

static void parse_bracketed_ipv6(void **state)
{
        struct addr_spec spec;
        char text[ADDR_TEXT_MAX];

        (void)state;
        assert_int_equal(addr_parse_listen("[::1]:9", 7007, &spec), 0);
        assert_int_equal(spec.sa.ss_family, AF_INET6);
        addr_format((struct sockaddr *)&spec.sa, text, sizeof(text));
        assert_string_equal(text, "[::1]:9");
        assert_int_equal(addr_parse_listen("[::1]", 7007, &spec), 0);
        assert_int_equal(addr_port((struct sockaddr *)&spec.sa), 7007);
}

static void parse_udp_prefix(void **state)
{
        struct addr_spec spec;

        (void)state;
        assert_int_equal(addr_parse_listen("udp:127.0.0.1:0", 7007, &spec), 0);
        assert_int_equal(spec.proto, ADDR_UDP);
        assert_int_equal(addr_port((struct sockaddr *)&spec.sa), 0);
        assert_int_equal(addr_parse_listen("udp:7", 7007, &spec), 0);
        assert_int_equal(spec.proto, ADDR_UDP);
        assert_true(spec.any);
        assert_int_equal(addr_parse_listen("tcp:*:7", 7007, &spec), 0);
        assert_int_equal(spec.proto, ADDR_TCP);
        assert_true(spec.any);
}

static void parse_rejects_bad_text(void **state)
{
        static const char *const bad[] = {
            "",         "udp:",         "65536",       "-1",           "7007x",
            "1.2.3:80", "::1:80",       "[::1",        "[zz]:80",      "127.0.0.1:",
            ":80",      "host.name:80", "[::1]:99999", "127.0.0.1:8 ", "sctp:80",
        };
        struct addr_spec spec;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (addr_parse_listen(bad[i], 7007, &spec) != -EINVAL)
                        fail_msg("accepted bad address '%s'", bad[i]);
        }
}

static void mapped_ipv4_prints_as_ipv4(void **state)
{
        struct sockaddr_in6 in6;
        char text[ADDR_TEXT_MAX];

        (void)state;
        memset(&in6, 0, sizeof(in6));
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(1234);
        in6.sin6_addr.s6_addr[10] = 0xff;
        in6.sin6_addr.s6_addr[11] = 0xff;
        in6.sin6_addr.s6_addr[12] = 192;
        in6.sin6_addr.s6_addr[13] = 0;
        in6.sin6_addr.s6_addr[14] = 2;
        in6.sin6_addr.s6_addr[15] = 1;
        addr_format((struct sockaddr *)&in6, text, sizeof(text));
        assert_string_equal(text, "192.0.2.1:1234");
}

static void bracketed_ipv4_mapped_address_binds_as_ipv4(void **state)
{
        struct addr_spec spec;
        char text[ADDR_TEXT_MAX];

        (void)state;
        assert_int_equal(addr_parse_listen("[::ffff:127.0.0.1]:80", 7007, &spec), 0);
        assert_int_equal(spec.sa.ss_family, AF_INET);
        assert_int_equal(spec.len, sizeof(struct sockaddr_in));
        addr_format((struct sockaddr *)&spec.sa, text, sizeof(text));
        assert_string_equal(text, "127.0.0.1:80");
}

static void unix_peer_names_are_bounded_and_printable(void **state)
{
        struct sockaddr_un sun;
        char host[ADDR_HOST_MAX];
        socklen_t base = (socklen_t)offsetof(struct sockaddr_un, sun_path);

        (void)state;
        /* Unnamed: only the family; the rest is junk that must not be read. */
        memset(&sun, 'Z', sizeof(sun));
        sun.sun_family = AF_UNIX;
        addr_host_length((struct sockaddr *)&sun, base, host, sizeof(host));
        assert_string_equal(host, "unix");

        /* A path not NUL-terminated within the length. */
        memcpy(sun.sun_path, "/run/x.sock", 11);
        addr_host_length((struct sockaddr *)&sun, base + 11, host, sizeof(host));
        assert_string_equal(host, "/run/x.sock");

        /* Abstract, with a control byte. */
        memcpy(sun.sun_path, "\0ab\nc", 5);
        addr_host_length((struct sockaddr *)&sun, base + 5, host, sizeof(host));
        assert_string_equal(host, "@ab?c");

        /* Longer than the buffer: cut, still terminated. */
        memset(sun.sun_path, 'p', sizeof(sun.sun_path));
        addr_host_length((struct sockaddr *)&sun, sizeof(sun), host, 8);
        assert_string_equal(host, "ppppppp");
}

static void ipv6_hosts_group_by_their_64(void **state)
{
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
        struct sockaddr_in sin = {.sin_family = AF_INET};
        char host[ADDR_HOST_MAX];

        (void)state;
        inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &sin6.sin6_addr);
        addr_host_group((struct sockaddr *)&sin6, sizeof(sin6), host, sizeof(host));
        assert_string_equal(host, "2001:db8:1:2::/64");
        inet_pton(AF_INET6, "2001:db8:1:2::1", &sin6.sin6_addr);
        addr_host_group((struct sockaddr *)&sin6, sizeof(sin6), host, sizeof(host));
        assert_string_equal(host, "2001:db8:1:2::/64");
        inet_pton(AF_INET6, "2001:db8:1:3::1", &sin6.sin6_addr);
        addr_host_group((struct sockaddr *)&sin6, sizeof(sin6), host, sizeof(host));
        assert_string_equal(host, "2001:db8:1:3::/64");
        inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
        addr_host_group((struct sockaddr *)&sin6, sizeof(sin6), host, sizeof(host));
        assert_string_equal(host, "::/64");
        /* IPv4, plain or mapped, counts address by address. */
        inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
        addr_host_group((struct sockaddr *)&sin6, sizeof(sin6), host, sizeof(host));
        assert_string_equal(host, "192.0.2.7");
        inet_pton(AF_INET, "192.0.2.8", &sin.sin_addr);
        addr_host_group((struct sockaddr *)&sin, sizeof(sin), host, sizeof(host));
        assert_string_equal(host, "192.0.2.8");
}

static void numeric_ip_parses_by_family_only(void **state)
{
        unsigned char out[16];

        (void)state;
        assert_int_equal(addr_parse_ip("192.0.2.1", false, out), 0);
        assert_int_equal(out[0], 192);
        assert_int_equal(out[3], 1);
        assert_int_equal(addr_parse_ip("2001:db8::1", true, out), 0);
        assert_int_equal(out[1], 0x01);
        assert_int_equal(out[15], 1);
        assert_int_equal(addr_parse_ip("::1", false, out), -EINVAL);
        assert_int_equal(addr_parse_ip("192.0.2.1", true, out), -EINVAL);
        assert_int_equal(addr_parse_ip("192.0.2.1 ", false, out), -EINVAL);
        assert_int_equal(addr_parse_ip("[::1]", true, out), -EINVAL);
        assert_int_equal(addr_parse_ip("", false, out), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(parse_port_only_binds_every_address),
            cmocka_unit_test(parse_ipv4_with_port),
            cmocka_unit_test(parse_ipv4_without_port_takes_default),
            cmocka_unit_test(parse_bracketed_ipv6),
            cmocka_unit_test(parse_udp_prefix),
            cmocka_unit_test(parse_rejects_bad_text),
            cmocka_unit_test(mapped_ipv4_prints_as_ipv4),
            cmocka_unit_test(bracketed_ipv4_mapped_address_binds_as_ipv4),
            cmocka_unit_test(unix_peer_names_are_bounded_and_printable),
            cmocka_unit_test(ipv6_hosts_group_by_their_64),
            cmocka_unit_test(numeric_ip_parses_by_family_only),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
