#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "services.h"

static char path[] = "/tmp/echoscan-services-XXXXXX";

static int write_file(void **state)
{
        static const char text[] = "# comment line\n"
                                   "ssh\t\t22/tcp\t\t\t# SSH\n"
                                   "domain\t53/tcp\n"
                                   "domain\t53/udp\n"
                                   "syslog\t514/udp\n"
                                   "http\t80/tcp\t\twww\n"
                                   "www-alt\t80/tcp\n"
                                   "broken\t70000/tcp\n"
                                   "noport\n"
                                   "bad\tx/tcp\n";
        int fd = mkstemp(path);

        (void)state;
        if (fd < 0 || write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1))
                return -1;
        close(fd);
        return 0;
}

static int remove_file(void **state)
{
        (void)state;
        unlink(path);
        return 0;
}

static void tcp_entries_are_named(void **state)
{
        struct services db;

        (void)state;
        assert_int_equal(services_load(&db, path), 0);
        assert_string_equal(services_name(&db, 22), "ssh");
        assert_string_equal(services_name(&db, 53), "domain");
        services_fini(&db);
}

static void first_name_for_a_port_wins(void **state)
{
        struct services db;

        (void)state;
        assert_int_equal(services_load(&db, path), 0);
        assert_string_equal(services_name(&db, 80), "http");
        services_fini(&db);
}

static void udp_only_and_unlisted_ports_are_unknown(void **state)
{
        struct services db;

        (void)state;
        assert_int_equal(services_load(&db, path), 0);
        assert_string_equal(services_name(&db, 514), "unknown");
        assert_string_equal(services_name(&db, 4444), "unknown");
        assert_string_equal(services_name(&db, 0), "unknown");
        services_fini(&db);
}

static void missing_file_leaves_every_port_unknown(void **state)
{
        struct services db;

        (void)state;
        assert_int_equal(services_load(&db, "/nonexistent/services"), -ENOENT);
        assert_string_equal(services_name(&db, 22), "unknown");
        services_fini(&db);
        assert_string_equal(services_name(NULL, 22), "unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(tcp_entries_are_named),
            cmocka_unit_test(first_name_for_a_port_wins),
            cmocka_unit_test(udp_only_and_unlisted_ports_are_unknown),
            cmocka_unit_test(missing_file_leaves_every_port_unknown),
        };
        return cmocka_run_group_tests(tests, write_file, remove_file);
}
