#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include "udpguard.h"

/* An unremarkable ephemeral source port, allowed unless the address is bad. */
#define EPHEMERAL 40000

static struct sockaddr_storage v4(const char *host, unsigned short port)
{
        struct sockaddr_storage storage;
        struct sockaddr_in *in = (struct sockaddr_in *)&storage;

        memset(&storage, 0, sizeof(storage));
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                fail_msg("bad IPv4 test address '%s'", host);
        return storage;
}

static struct sockaddr_storage v6(const char *host, unsigned short port)
{
        struct sockaddr_storage storage;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&storage;

        memset(&storage, 0, sizeof(storage));
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                fail_msg("bad IPv6 test address '%s'", host);
        return storage;
}

/* The verdict for src -> dst; dst NULL means the destination is unknown. */
static enum udpguard_verdict check(const struct udpguard *guard, struct sockaddr_storage src,
                                   const struct sockaddr_storage *dst)
{
        return udpguard_check(guard, (struct sockaddr *)&src, (const struct sockaddr *)dst);
}

static void ports_below_1024_are_dropped(void **state)
{
        static const unsigned short low[] = {0, 1, 7, 19, 53, 123, 161, 1023};
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
                if (check(&guard, v4("192.0.2.1", low[i]), NULL) != UDPGUARD_LOW_PORT)
                        fail_msg("IPv4 source port %u not dropped", low[i]);
                if (check(&guard, v6("2001:db8::1", low[i]), NULL) != UDPGUARD_LOW_PORT)
                        fail_msg("IPv6 source port %u not dropped", low[i]);
        }
}

static void service_ports_are_dropped(void **state)
{
        static const unsigned short services[] = {1900, 2049, 3283, 3702, 5060,
                                                  5353, 5683, 7007, 11211};
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
                if (check(&guard, v4("192.0.2.1", services[i]), NULL) != UDPGUARD_SERVICE_PORT)
                        fail_msg("IPv4 service port %u not dropped", services[i]);
                if (check(&guard, v6("2001:db8::1", services[i]), NULL) != UDPGUARD_SERVICE_PORT)
                        fail_msg("IPv6 service port %u not dropped", services[i]);
        }
}

static void echo_port_fallback_range_counts_as_a_service_port(void **state)
{
        /* A standalone echod whose port 7007 was busy took one of the next 99. */
        static const unsigned short fallback[] = {7008, 7050, 7106};
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        for (size_t i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++) {
                if (check(&guard, v4("192.0.2.1", fallback[i]), NULL) != UDPGUARD_SERVICE_PORT)
                        fail_msg("fallback port %u not dropped", fallback[i]);
        }
        assert_int_equal(check(&guard, v4("192.0.2.1", 7107), NULL), UDPGUARD_OK);
}

static void own_ports_are_dropped_from_any_address(void **state)
{
        struct udpguard guard;
        struct sockaddr_storage local = v4("127.0.0.1", 40000);

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v4("127.0.0.1", 40000), &local), UDPGUARD_OK);
        assert_int_equal(udpguard_add_own_ports(&guard, 40000, 40000), 0);
        assert_int_equal(udpguard_add_own_ports(&guard, 9000, 9099), 0);
        assert_int_equal(check(&guard, v4("127.0.0.1", 40000), &local), UDPGUARD_OWN_PORT);
        assert_int_equal(check(&guard, v4("192.0.2.1", 40000), NULL), UDPGUARD_OWN_PORT);
        assert_int_equal(check(&guard, v6("::1", 40000), NULL), UDPGUARD_OWN_PORT);
        assert_int_equal(check(&guard, v4("192.0.2.1", 9000), NULL), UDPGUARD_OWN_PORT);
        assert_int_equal(check(&guard, v4("192.0.2.1", 9099), NULL), UDPGUARD_OWN_PORT);
        assert_int_equal(check(&guard, v4("192.0.2.1", 9100), NULL), UDPGUARD_OK);
        assert_int_equal(check(&guard, v4("192.0.2.1", 40001), NULL), UDPGUARD_OK);
}

static void own_port_list_is_bounded_and_ignores_repeats(void **state)
{
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        for (unsigned i = 0; i < UDPGUARD_OWN_PORTS_MAX; i++) {
                assert_int_equal(udpguard_add_own_ports(&guard, (unsigned short)(20000 + i),
                                                        (unsigned short)(20000 + i)),
                                 0);
                assert_int_equal(udpguard_add_own_ports(&guard, (unsigned short)(20000 + i),
                                                        (unsigned short)(20000 + i)),
                                 0);
        }
        assert_int_equal(guard.own_port_count, UDPGUARD_OWN_PORTS_MAX);
        assert_int_equal(udpguard_add_own_ports(&guard, 30000, 30000), -ENOSPC);
}

static void port_1024_and_ephemeral_ports_are_allowed(void **state)
{
        static const unsigned short allowed[] = {1024, 1901, 7006, 7107, 32768, EPHEMERAL, 65535};
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
                if (check(&guard, v4("192.0.2.1", allowed[i]), NULL) != UDPGUARD_OK)
                        fail_msg("IPv4 source port %u dropped", allowed[i]);
                if (check(&guard, v6("2001:db8::1", allowed[i]), NULL) != UDPGUARD_OK)
                        fail_msg("IPv6 source port %u dropped", allowed[i]);
        }
}

static void impossible_ipv4_sources_are_bad(void **state)
{
        static const char *const bad[] = {
            "0.0.0.0", "0.1.2.3", "0.255.255.255", "240.0.0.1", "250.1.2.3", "255.255.255.255",
        };
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (check(&guard, v4(bad[i], EPHEMERAL), NULL) != UDPGUARD_BAD_SOURCE)
                        fail_msg("source %s not judged impossible", bad[i]);
        }
        /* Just outside the ranges. */
        assert_int_equal(check(&guard, v4("1.0.0.0", EPHEMERAL), NULL), UDPGUARD_OK);
        assert_int_equal(check(&guard, v4("223.255.255.255", EPHEMERAL), NULL), UDPGUARD_OK);
}

static void multicast_ipv4_sources_are_dropped(void **state)
{
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v4("224.0.0.1", EPHEMERAL), NULL),
                         UDPGUARD_MULTICAST_SOURCE);
        assert_int_equal(check(&guard, v4("239.255.255.250", EPHEMERAL), NULL),
                         UDPGUARD_MULTICAST_SOURCE);
}

static void interface_broadcast_is_a_bad_source_and_destination(void **state)
{
        struct udpguard guard;
        struct sockaddr_storage here = v4("192.168.1.10", 7);
        struct sockaddr_storage broadcast = v4("192.168.1.255", 7);
        struct in_addr address;

        (void)state;
        udpguard_init(&guard);
        /* Before the guard knows the interface, the address is ordinary. */
        assert_int_equal(check(&guard, v4("192.168.1.255", EPHEMERAL), &here), UDPGUARD_OK);
        assert_int_equal(check(&guard, v4("192.168.1.20", EPHEMERAL), &broadcast), UDPGUARD_OK);

        assert_int_equal(inet_pton(AF_INET, "192.168.1.255", &address), 1);
        assert_int_equal(udpguard_add_broadcast(&guard, address), 0);
        assert_int_equal(check(&guard, v4("192.168.1.255", EPHEMERAL), &here),
                         UDPGUARD_MULTICAST_SOURCE);
        assert_int_equal(check(&guard, v4("192.168.1.20", EPHEMERAL), &broadcast),
                         UDPGUARD_GROUP_DESTINATION);
        assert_int_equal(check(&guard, v6("::ffff:192.168.1.255", EPHEMERAL), NULL),
                         UDPGUARD_MULTICAST_SOURCE);
        assert_int_equal(check(&guard, v4("192.168.1.20", EPHEMERAL), &here), UDPGUARD_OK);
}

static void broadcast_list_is_bounded(void **state)
{
        struct udpguard guard;
        struct in_addr address;

        (void)state;
        udpguard_init(&guard);
        for (unsigned i = 0; i < UDPGUARD_BROADCAST_MAX; i++) {
                address.s_addr = htonl(0x0a0000ffu + (i << 8));
                assert_int_equal(udpguard_add_broadcast(&guard, address), 0);
        }
        address.s_addr = htonl(0x0b0000ffu);
        assert_int_equal(udpguard_add_broadcast(&guard, address), -ENOSPC);
        assert_int_equal(guard.broadcast_count, UDPGUARD_BROADCAST_MAX);
}

static void group_ipv4_destinations_are_dropped(void **state)
{
        struct udpguard guard;
        struct sockaddr_storage all = v4("255.255.255.255", 7);
        struct sockaddr_storage group = v4("224.0.0.251", 7);
        struct sockaddr_storage mapped_group = v6("::ffff:239.1.2.3", 7);

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v4("192.0.2.1", EPHEMERAL), &all),
                         UDPGUARD_GROUP_DESTINATION);
        assert_int_equal(check(&guard, v4("192.0.2.1", EPHEMERAL), &group),
                         UDPGUARD_GROUP_DESTINATION);
        assert_int_equal(check(&guard, v6("::ffff:192.0.2.1", EPHEMERAL), &mapped_group),
                         UDPGUARD_GROUP_DESTINATION);
}

static void loopback_source_to_outside_address_is_spoofed(void **state)
{
        struct udpguard guard;
        struct sockaddr_storage outside = v4("192.0.2.7", 7);
        struct sockaddr_storage outside6 = v6("2001:db8::7", 7);

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v4("127.0.0.1", EPHEMERAL), &outside),
                         UDPGUARD_SPOOFED_LOOPBACK);
        assert_int_equal(check(&guard, v4("127.9.9.9", EPHEMERAL), &outside),
                         UDPGUARD_SPOOFED_LOOPBACK);
        assert_int_equal(check(&guard, v6("::ffff:127.0.0.1", EPHEMERAL), &outside6),
                         UDPGUARD_SPOOFED_LOOPBACK);
        assert_int_equal(check(&guard, v6("::1", EPHEMERAL), &outside6), UDPGUARD_SPOOFED_LOOPBACK);
}

static void loopback_to_loopback_is_allowed(void **state)
{
        struct udpguard guard;
        struct sockaddr_storage local = v4("127.0.0.1", 7);
        struct sockaddr_storage local6 = v6("::1", 7);
        struct sockaddr_storage mapped_local = v6("::ffff:127.0.0.1", 7);

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v4("127.0.0.1", EPHEMERAL), &local), UDPGUARD_OK);
        assert_int_equal(check(&guard, v4("127.0.0.2", EPHEMERAL), &local), UDPGUARD_OK);
        assert_int_equal(check(&guard, v6("::1", EPHEMERAL), &local6), UDPGUARD_OK);
        assert_int_equal(check(&guard, v6("::ffff:127.0.0.1", EPHEMERAL), &mapped_local),
                         UDPGUARD_OK);
}

static void unknown_destination_skips_destination_checks(void **state)
{
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v4("127.0.0.1", EPHEMERAL), NULL), UDPGUARD_OK);
        assert_int_equal(check(&guard, v6("::1", EPHEMERAL), NULL), UDPGUARD_OK);
}

static void ipv6_multicast_source_is_dropped(void **state)
{
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v6("ff02::1", EPHEMERAL), NULL), UDPGUARD_MULTICAST_SOURCE);
        assert_int_equal(check(&guard, v6("ff0e::1234", EPHEMERAL), NULL),
                         UDPGUARD_MULTICAST_SOURCE);
}

static void ipv6_unspecified_and_compatible_sources_are_bad(void **state)
{
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v6("::", EPHEMERAL), NULL), UDPGUARD_BAD_SOURCE);
        assert_int_equal(check(&guard, v6("::192.0.2.1", EPHEMERAL), NULL), UDPGUARD_BAD_SOURCE);
        assert_int_equal(check(&guard, v6("::10.0.0.1", EPHEMERAL), NULL), UDPGUARD_BAD_SOURCE);
}

static void ipv4_mapped_sources_follow_ipv4_rules(void **state)
{
        struct udpguard guard;

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v6("::ffff:0.0.0.1", EPHEMERAL), NULL), UDPGUARD_BAD_SOURCE);
        assert_int_equal(check(&guard, v6("::ffff:240.0.0.1", EPHEMERAL), NULL),
                         UDPGUARD_BAD_SOURCE);
        assert_int_equal(check(&guard, v6("::ffff:255.255.255.255", EPHEMERAL), NULL),
                         UDPGUARD_BAD_SOURCE);
        assert_int_equal(check(&guard, v6("::ffff:224.0.0.1", EPHEMERAL), NULL),
                         UDPGUARD_MULTICAST_SOURCE);
        assert_int_equal(check(&guard, v6("::ffff:192.0.2.1", EPHEMERAL), NULL), UDPGUARD_OK);
}

static void ipv6_global_source_is_allowed(void **state)
{
        struct udpguard guard;
        struct sockaddr_storage here = v6("2001:db8::7", 7);

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v6("2001:db8::1", EPHEMERAL), &here), UDPGUARD_OK);
        assert_int_equal(check(&guard, v6("fe80::1", EPHEMERAL), &here), UDPGUARD_OK);
}

static void ipv6_multicast_destination_is_dropped(void **state)
{
        struct udpguard guard;
        struct sockaddr_storage group = v6("ff02::1", 7);

        (void)state;
        udpguard_init(&guard);
        assert_int_equal(check(&guard, v6("2001:db8::1", EPHEMERAL), &group),
                         UDPGUARD_GROUP_DESTINATION);
}

static void unknown_family_is_a_bad_source(void **state)
{
        struct udpguard guard;
        struct sockaddr_storage src;

        (void)state;
        udpguard_init(&guard);
        memset(&src, 0, sizeof(src));
        src.ss_family = AF_UNIX;
        assert_int_equal(udpguard_check(&guard, (struct sockaddr *)&src, NULL),
                         UDPGUARD_BAD_SOURCE);
}

static void every_verdict_has_a_reason(void **state)
{
        const char *seen[UDPGUARD_OWN_PORT + 1];

        (void)state;
        for (int v = UDPGUARD_OK; v <= UDPGUARD_OWN_PORT; v++) {
                const char *reason = udpguard_reason((enum udpguard_verdict)v);

                assert_non_null(reason);
                if (reason[0] == '\0' || strcmp(reason, "unknown") == 0)
                        fail_msg("verdict %d has no reason", v);
                /* Distinct texts, or the log could not tell the drops apart. */
                for (int w = UDPGUARD_OK; w < v; w++) {
                        if (strcmp(reason, seen[w]) == 0)
                                fail_msg("verdicts %d and %d share '%s'", w, v, reason);
                }
                seen[v] = reason;
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(ports_below_1024_are_dropped),
            cmocka_unit_test(service_ports_are_dropped),
            cmocka_unit_test(port_1024_and_ephemeral_ports_are_allowed),
            cmocka_unit_test(echo_port_fallback_range_counts_as_a_service_port),
            cmocka_unit_test(own_ports_are_dropped_from_any_address),
            cmocka_unit_test(own_port_list_is_bounded_and_ignores_repeats),
            cmocka_unit_test(impossible_ipv4_sources_are_bad),
            cmocka_unit_test(multicast_ipv4_sources_are_dropped),
            cmocka_unit_test(interface_broadcast_is_a_bad_source_and_destination),
            cmocka_unit_test(broadcast_list_is_bounded),
            cmocka_unit_test(group_ipv4_destinations_are_dropped),
            cmocka_unit_test(loopback_source_to_outside_address_is_spoofed),
            cmocka_unit_test(loopback_to_loopback_is_allowed),
            cmocka_unit_test(unknown_destination_skips_destination_checks),
            cmocka_unit_test(ipv6_multicast_source_is_dropped),
            cmocka_unit_test(ipv6_unspecified_and_compatible_sources_are_bad),
            cmocka_unit_test(ipv4_mapped_sources_follow_ipv4_rules),
            cmocka_unit_test(ipv6_global_source_is_allowed),
            cmocka_unit_test(ipv6_multicast_destination_is_dropped),
            cmocka_unit_test(unknown_family_is_a_bad_source),
            cmocka_unit_test(every_verdict_has_a_reason),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
