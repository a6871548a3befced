#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
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

static void nmap_frequencies_order_the_top_ports(void **state)
{
        static const char text[] = "http\t80/tcp\t0.484143\t# WWW\n"
                                   "ssh\t22/tcp\t0.182286\n"
                                   "telnet\t23/tcp\t0.221265\n"
                                   "snmp\t161/udp\t0.433467\n"
                                   "rare\t9/tcp\t0.000001\n";
        char nmap_path[] = "/tmp/echoscan-nmap-services-XXXXXX";
        int fd = mkstemp(nmap_path);
        struct services db;
        uint16_t top[4];

        (void)state;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
        close(fd);
        assert_int_equal(services_load(&db, nmap_path), 0);
        unlink(nmap_path);
        assert_string_equal(services_name(&db, 23), "telnet");
        assert_int_equal(services_top_ports(&db, 4, top), 4);
        /* By frequency (the udp entry does not count), then ports without one, lowest first. */
        assert_int_equal(top[0], 80);
        assert_int_equal(top[1], 23);
        assert_int_equal(top[2], 22);
        assert_int_equal(top[3], 9);
        services_fini(&db);
}

static void without_frequencies_the_top_ports_are_the_built_in_list(void **state)
{
        struct services db;
        uint16_t top[200];
        bool seen[65536] = {false};

        (void)state;
        assert_int_equal(services_load(&db, path), 0);
        assert_null(db.frequency); /* /etc/services' third column is an alias */
        assert_int_equal(services_top_ports(&db, 200, top), 200);
        assert_int_equal(top[0], 80);
        for (size_t i = 0; i < 200; i++) {
                assert_false(seen[top[i]]);
                assert_true(top[i] > 0);
                seen[top[i]] = true;
        }
        services_fini(&db);
}

static void lookup_tells_unnamed_ports_apart(void **state)
{
        struct services db;

        (void)state;
        assert_int_equal(services_load(&db, path), 0);
        assert_string_equal(services_lookup(&db, 22), "ssh");
        assert_null(services_lookup(&db, 4444));
        services_fini(&db);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(tcp_entries_are_named),
            cmocka_unit_test(first_name_for_a_port_wins),
            cmocka_unit_test(udp_only_and_unlisted_ports_are_unknown),
            cmocka_unit_test(missing_file_leaves_every_port_unknown),
            cmocka_unit_test(nmap_frequencies_order_the_top_ports),
            cmocka_unit_test(without_frequencies_the_top_ports_are_the_built_in_list),
            cmocka_unit_test(lookup_tells_unnamed_ports_apart),
        };
        return cmocka_run_group_tests(tests, write_file, remove_file);
}
