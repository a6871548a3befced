#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "scan.h"
#include "services.h"

static const uint16_t ports[] = {22, 80, 443, 8080};
static const uint8_t states[] = {SCAN_OPEN, SCAN_CLOSED, SCAN_FILTERED, SCAN_OPEN};
static const uint8_t all_filtered[] = {SCAN_FILTERED, SCAN_FILTERED, SCAN_FILTERED, SCAN_FILTERED};

/* A services table with ssh on 22 and nothing else, built without a file. */
static struct services db;

static int setup(void **state)
{
        (void)state;
        db.names = calloc(65536, sizeof(*db.names));
        if (!db.names)
                return -1;
        strcpy(db.names[22], "ssh");
        strcpy(db.names[80], "http");
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        services_fini(&db);
        return 0;
}

/* Run report_write() into memory; the caller frees the text. */
static char *render(enum report_format format, const struct report_host *hosts, size_t n, bool all)
{
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);

        assert_non_null(out);
        assert_int_equal(report_write(out, format, hosts, n, all, &db, NULL), 0);
        fclose(out);
        return text;
}

static struct report_host host(const char *name, const char *address, const uint8_t *s)
{
        return (struct report_host){
            .name = name, .address = address, .ports = ports, .states = s, .nports = 4};
}

static void plain_lists_open_ports_only_in_order(void **state)
{
        struct report_host h = host("127.0.0.1", "127.0.0.1", states);
        char *text = render(REPORT_PLAIN, &h, 1, false);

        (void)state;
        assert_string_equal(text, "22/tcp open ssh\n8080/tcp open unknown\n");
        free(text);
}

static void plain_all_lists_every_state(void **state)
{
        struct report_host h = host("127.0.0.1", "127.0.0.1", states);
        char *text = render(REPORT_PLAIN, &h, 1, true);

        (void)state;
        assert_string_equal(text, "22/tcp open ssh\n80/tcp closed http\n443/tcp filtered unknown\n"
                                  "8080/tcp open unknown\n");
        free(text);
}

static void plain_heads_each_host_when_several(void **state)
{
        struct report_host h[2] = {host("web", "10.0.0.1", states),
                                   host("10.0.0.2", "10.0.0.2", all_filtered)};
        char *text = render(REPORT_PLAIN, h, 2, false);

        (void)state;
        assert_string_equal(text, "web (10.0.0.1): up\n22/tcp open ssh\n8080/tcp open unknown\n"
                                  "\n10.0.0.2: down\n");
        free(text);
}

static void grep_is_one_tab_separated_line_per_port(void **state)
{
        struct report_host h = host("x", "::1", states);
        char *text = render(REPORT_GREP, &h, 1, false);

        (void)state;
        assert_string_equal(text, "::1\t22/tcp\topen\tssh\n::1\t8080/tcp\topen\tunknown\n");
        free(text);
}

static void json_document_has_hosts_counts_and_ports(void **state)
{
        struct report_host h = host("a\"b", "127.0.0.1", states);
        char *text = render(REPORT_JSON, &h, 1, false);

        (void)state;
        assert_string_equal(text,
                            "{\"hosts\": [\n"
                            "  {\"host\": \"a\\\"b\", \"address\": \"127.0.0.1\", \"status\": "
                            "\"up\", \"open\": 2, \"closed\": 1, \"filtered\": 1, \"ports\": [\n"
                            "    {\"port\": 22, \"protocol\": \"tcp\", \"state\": \"open\", "
                            "\"service\": \"ssh\"},\n"
                            "    {\"port\": 8080, \"protocol\": \"tcp\", \"state\": \"open\", "
                            "\"service\": \"unknown\"}\n"
                            "  ]}\n"
                            "]}\n");
        free(text);
}

static void json_down_host_has_empty_port_list(void **state)
{
        struct report_host h = host("h", "10.0.0.9", all_filtered);
        char *text = render(REPORT_JSON, &h, 1, false);

        (void)state;
        assert_non_null(strstr(text, "\"status\": \"down\""));
        assert_non_null(strstr(text, "\"ports\": []}"));
        free(text);
}

static void host_is_down_only_when_nothing_answered(void **state)
{
        struct report_counts counts = {0};
        struct report_host h = host("h", "h", all_filtered);

        (void)state;
        report_count(&h, &counts);
        assert_int_equal(counts.filtered, 4);
        assert_true(report_host_down(&counts));
        counts.closed = 1;
        assert_false(report_host_down(&counts));
}

static void summary_names_counts_and_time(void **state)
{
        struct report_counts counts = {.open = 2, .closed = 65533, .filtered = 0};
        char line[256];

        (void)state;
        assert_true(report_summary(line, sizeof(line), &counts, 1, 65535, 0.5) > 0);
        assert_string_equal(line, "scanned 65535 ports on 1 host in 0.50 s (131070 ports/s): "
                                  "2 open, 65533 closed, 0 filtered");
        assert_int_equal(report_summary(line, 10, &counts, 1, 65535, 0.5), -ENOSPC);
}

static void progress_shows_bar_percent_rate_and_eta(void **state)
{
        char line[128];

        (void)state;
        assert_true(report_progress(line, sizeof(line), 50, 100, 2.0, 10) > 0);
        assert_string_equal(line, "[#####-----]  50.0%       25 ports/s ETA 0:02");
        assert_true(report_progress(line, sizeof(line), 0, 100, 0.0, 4) > 0);
        assert_string_equal(line, "[----]   0.0%        0 ports/s ETA --:--");
        assert_true(report_progress(line, sizeof(line), 100, 100, 4.0, 4) > 0);
        assert_string_equal(line, "[####] 100.0%       25 ports/s ETA 0:00");
        assert_true(report_progress(line, sizeof(line), 1, 7201, 1.0, 4) > 0);
        assert_non_null(strstr(line, "ETA 2:00:00"));
        assert_int_equal(report_progress(line, 8, 1, 2, 1.0, 10), -ENOSPC);
}

static void format_names_parse(void **state)
{
        enum report_format format;

        (void)state;
        assert_int_equal(report_format_parse("json", &format), 0);
        assert_int_equal(format, REPORT_JSON);
        assert_int_equal(report_format_parse("grep", &format), 0);
        assert_int_equal(format, REPORT_GREP);
        assert_int_equal(report_format_parse("plain", &format), 0);
        assert_int_equal(format, REPORT_PLAIN);
        assert_int_equal(report_format_parse("xml", &format), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(plain_lists_open_ports_only_in_order),
            cmocka_unit_test(plain_all_lists_every_state),
            cmocka_unit_test(plain_heads_each_host_when_several),
            cmocka_unit_test(grep_is_one_tab_separated_line_per_port),
            cmocka_unit_test(json_document_has_hosts_counts_and_ports),
            cmocka_unit_test(json_down_host_has_empty_port_list),
            cmocka_unit_test(host_is_down_only_when_nothing_answered),
            cmocka_unit_test(summary_names_counts_and_time),
            cmocka_unit_test(progress_shows_bar_percent_rate_and_eta),
            cmocka_unit_test(format_names_parse),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
