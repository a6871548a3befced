#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "cidr.h"
#include "target.h"

static void nth(const struct cidr *block, uint32_t index, char *text)
{
        struct sockaddr_storage ss;
        socklen_t len;

        assert_int_equal(cidr_address(block, index, &ss, &len), 0);
        addr_host((struct sockaddr *)&ss, text, ADDR_HOST_MAX);
}

static void ipv4_block_expands_to_every_address(void **state)
{
        struct cidr block;
        char text[ADDR_HOST_MAX];

        (void)state;
        assert_int_equal(cidr_parse("10.0.0.0/30", &block), 0);
        assert_int_equal(block.family, AF_INET);
        assert_int_equal(cidr_count(&block), 4);
        nth(&block, 0, text);
        assert_string_equal(text, "10.0.0.0");
        nth(&block, 3, text);
        assert_string_equal(text, "10.0.0.3");
}

static void host_bits_are_cleared(void **state)
{
        struct cidr block;
        char text[ADDR_HOST_MAX];

        (void)state;
        assert_int_equal(cidr_parse("192.168.1.77/28", &block), 0);
        nth(&block, 0, text);
        assert_string_equal(text, "192.168.1.64");
        nth(&block, 15, text);
        assert_string_equal(text, "192.168.1.79");
}

static void addresses_carry_across_bytes(void **state)
{
        struct cidr block;
        char text[ADDR_HOST_MAX];

        (void)state;
        assert_int_equal(cidr_parse("10.1.0.0/16", &block), 0);
        assert_int_equal(cidr_count(&block), 65536);
        nth(&block, 256, text);
        assert_string_equal(text, "10.1.1.0");
        nth(&block, 65535, text);
        assert_string_equal(text, "10.1.255.255");
}

static void single_address_blocks(void **state)
{
        struct cidr block;
        char text[ADDR_HOST_MAX];

        (void)state;
        assert_int_equal(cidr_parse("127.0.0.1/32", &block), 0);
        assert_int_equal(cidr_count(&block), 1);
        nth(&block, 0, text);
        assert_string_equal(text, "127.0.0.1");
        assert_int_equal(cidr_parse("::1/128", &block), 0);
        assert_int_equal(cidr_count(&block), 1);
}

static void ipv6_block(void **state)
{
        struct cidr block;
        char text[ADDR_HOST_MAX];

        (void)state;
        assert_int_equal(cidr_parse("fd00::1234/120", &block), 0);
        assert_int_equal(block.family, AF_INET6);
        assert_int_equal(cidr_count(&block), 256);
        nth(&block, 0, text);
        assert_string_equal(text, "fd00::1200");
        nth(&block, 255, text);
        assert_string_equal(text, "fd00::12ff");
}

static void index_past_the_end_is_an_error(void **state)
{
        struct cidr block;
        struct sockaddr_storage ss;
        socklen_t len;

        (void)state;
        assert_int_equal(cidr_parse("10.0.0.0/31", &block), 0);
        assert_int_equal(cidr_address(&block, 2, &ss, &len), -ERANGE);
}

static void blocks_too_large_are_refused(void **state)
{
        struct cidr block;

        (void)state;
        assert_int_equal(cidr_parse("10.0.0.0/15", &block), -E2BIG);
        assert_int_equal(cidr_parse("fd00::/64", &block), -E2BIG);
        assert_int_equal(cidr_parse("fd00::/112", &block), 0);
}

static void malformed_blocks_are_refused(void **state)
{
        static const char *const bad[] = {
            "10.0.0.0",    "10.0.0.0/", "10.0.0.0/33", "/24",     "10.0.0/24",    "10.0.0.0/2x",
            "10.0.0.0/-1", "::1/129",   "[::1]/128",   "host/24", "10.0.0.0/ 24", "10.0.0.0/24/1"};
        struct cidr block;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(cidr_parse(bad[i], &block), -EINVAL);
}

static void target_list_expands_blocks_and_numeric_hosts(void **state)
{
        struct target_list list = {0};
        char text[ADDR_HOST_MAX];

        (void)state;
        assert_int_equal(target_add(&list, "10.9.8.4/30", AF_UNSPEC), 0);
        assert_int_equal(target_add(&list, "127.0.0.1", AF_UNSPEC), 0);
        assert_int_equal(target_add(&list, "::1", AF_INET6), 0);
        assert_int_equal(list.count, 6);
        addr_host((struct sockaddr *)&list.items[3].sa, text, sizeof(text));
        assert_string_equal(text, "10.9.8.7");
        assert_string_equal(list.items[3].name, "10.9.8.4/30");
        assert_string_equal(list.items[4].name, "127.0.0.1");
        assert_int_equal(list.items[5].sa.ss_family, AF_INET6);
        assert_int_equal(target_add(&list, "10.0.0.0/24", AF_INET6), -EAFNOSUPPORT);
        assert_int_equal(target_add(&list, "127.0.0.1", AF_INET6), -ENOENT);
        target_list_fini(&list);
        assert_int_equal(list.count, 0);
}

static void link_local_block_needs_a_zone(void **state)
{
        struct cidr block;
        struct sockaddr_storage ss;
        socklen_t len;

        (void)state;
        assert_int_equal(cidr_parse("fe80::/120", &block), -EDESTADDRREQ);
        assert_int_equal(cidr_parse("fe80::%no-such-if0/126", &block), -ENODEV);
        assert_int_equal(cidr_parse("127.0.0.0%lo/30", &block), -EINVAL);
        assert_int_equal(cidr_parse("fe80::%lo/126", &block), 0);
        assert_int_equal(block.scope_id, if_nametoindex("lo"));
        assert_int_equal(cidr_address(&block, 3, &ss, &len), 0);
        assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, if_nametoindex("lo"));
        assert_int_equal(cidr_parse("fe80::%7/127", &block), 0);
        assert_int_equal(block.scope_id, 7);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(link_local_block_needs_a_zone),
            cmocka_unit_test(ipv4_block_expands_to_every_address),
            cmocka_unit_test(host_bits_are_cleared),
            cmocka_unit_test(addresses_carry_across_bytes),
            cmocka_unit_test(single_address_blocks),
            cmocka_unit_test(ipv6_block),
            cmocka_unit_test(index_past_the_end_is_an_error),
            cmocka_unit_test(blocks_too_large_are_refused),
            cmocka_unit_test(malformed_blocks_are_refused),
            cmocka_unit_test(target_list_expands_blocks_and_numeric_hosts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
