#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "redis_address.h"

static struct redis_address parse_ok(const char *text)
{
        struct redis_address address;

        if (redis_address_parse(text, &address) != 0)
                fail_msg("'%s' refused", text);
        return address;
}

static void tcp_address_takes_host_port_and_db(void **state)
{
        struct redis_address address = parse_ok("redis://cache.example.org:6380/3");

        (void)state;
        assert_string_equal(address.host, "cache.example.org");
        assert_string_equal(address.path, "");
        assert_int_equal(address.port, 6380);
        assert_int_equal(address.db, 3);
}

static void port_defaults_to_6379_and_db_to_0(void **state)
{
        struct redis_address address = parse_ok("redis://127.0.0.1");

        (void)state;
        assert_string_equal(address.host, "127.0.0.1");
        assert_int_equal(address.port, 6379);
        assert_int_equal(address.db, 0);
        address = parse_ok("redis://redis/7");
        assert_string_equal(address.host, "redis");
        assert_int_equal(address.port, 6379);
        assert_int_equal(address.db, 7);
}

static void ipv6_host_is_in_brackets(void **state)
{
        struct redis_address address = parse_ok("redis://[::1]:6379");

        (void)state;
        assert_string_equal(address.host, "::1");
        assert_int_equal(address.port, 6379);
        address = parse_ok("redis://[2001:db8::7]/1");
        assert_string_equal(address.host, "2001:db8::7");
        assert_int_equal(address.db, 1);
}

static void unix_address_is_a_path_with_db_0(void **state)
{
        struct redis_address address = parse_ok("unix:/run/redis/redis-server.sock");

        (void)state;
        assert_string_equal(address.path, "/run/redis/redis-server.sock");
        assert_string_equal(address.host, "");
        assert_int_equal(address.port, 0);
        assert_int_equal(address.db, 0);
}

static void limits_are_inclusive(void **state)
{
        (void)state;
        assert_int_equal(parse_ok("redis://h:1").port, 1);
        assert_int_equal(parse_ok("redis://h:65535").port, 65535);
        assert_int_equal(parse_ok("redis://h/0").db, 0);
        assert_int_equal(parse_ok("redis://h/1000").db, REDIS_ADDRESS_DB_MAX);
}

static void garbage_is_refused_and_leaves_out_alone(void **state)
{
        static const char *const bad[] = {
            NULL,
            "",
            "sqlite",
            "redis:/h",
            "http://h:6379",
            "REDIS://h",
            "redis://",
            "redis://:6379",
            "redis:///1",
            "redis://h:",
            "redis://h:0",
            "redis://h:65536",
            "redis://h:70000",
            "redis://h:-1",
            "redis://h:+1",
            "redis://h:63 79",
            "redis://h:6379x",
            "redis://h/",
            "redis://h/-1",
            "redis://h/1001",
            "redis://h/1/2",
            "redis://h/x",
            "redis://h:6379/1 ",
            "redis://h h",
            "redis://h@x",
            "redis://user:pass@h",
            "redis://::1:6379",
            "redis://[::1",
            "redis://[]:6379",
            "redis://[::g]",
            "redis://[::1]x",
            "unix:",
        };
        struct redis_address address = {.port = 42};

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (redis_address_parse(bad[i], &address) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i] ? bad[i] : "(null)");
                assert_int_equal(address.port, 42);
        }
}

static void overlong_host_and_path_are_refused(void **state)
{
        char text[600];
        struct redis_address address;

        (void)state;
        strcpy(text, "redis://");
        memset(text + 8, 'h', REDIS_ADDRESS_HOST_MAX);
        text[8 + REDIS_ADDRESS_HOST_MAX] = '\0';
        assert_int_equal(redis_address_parse(text, &address), 0);
        strcat(text, "h");
        assert_int_equal(redis_address_parse(text, &address), -EINVAL);
        strcpy(text, "unix:/");
        memset(text + 6, 'p', REDIS_ADDRESS_PATH_MAX - 1);
        text[5 + REDIS_ADDRESS_PATH_MAX] = '\0';
        assert_int_equal(redis_address_parse(text, &address), 0);
        strcat(text, "p");
        assert_int_equal(redis_address_parse(text, &address), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(tcp_address_takes_host_port_and_db),
            cmocka_unit_test(port_defaults_to_6379_and_db_to_0),
            cmocka_unit_test(ipv6_host_is_in_brackets),
            cmocka_unit_test(unix_address_is_a_path_with_db_0),
            cmocka_unit_test(limits_are_inclusive),
            cmocka_unit_test(garbage_is_refused_and_leaves_out_alone),
            cmocka_unit_test(overlong_host_and_path_are_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
