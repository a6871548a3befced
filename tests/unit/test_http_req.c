#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "http_req.h"

/* The verdict on text as the whole input so far; -1 for "read more". */
static int judge(const char *text, bool *openmetrics)
{
        struct http_req_verdict verdict;

        if (http_req_judge(text, strlen(text), &verdict) == HTTP_REQ_MORE)
                return -1;
        if (openmetrics)
                *openmetrics = verdict.openmetrics;
        return verdict.status;
}

static void get_metrics_is_served(void **state)
{
        bool om = true;

        (void)state;
        assert_int_equal(judge("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &om), 200);
        assert_false(om);
        assert_int_equal(judge("GET /metrics?x=1 HTTP/1.0\n\n", NULL), 200);
        /* Leading empty lines are skipped. */
        assert_int_equal(judge("\r\nGET /metrics HTTP/1.1\r\n\r\n", NULL), 200);
}

static void an_incomplete_request_asks_for_more(void **state)
{
        (void)state;
        assert_int_equal(judge("", NULL), -1);
        assert_int_equal(judge("GET /metr", NULL), -1);
        assert_int_equal(judge("GET /metrics HTTP/1.1\r\nHost: x\r\n", NULL), -1);
}

static void other_methods_paths_and_versions_are_refused(void **state)
{
        (void)state;
        assert_int_equal(judge("POST /metrics HTTP/1.1\r\n\r\n", NULL), 405);
        assert_int_equal(judge("HEAD /metrics HTTP/1.1\r\n\r\n", NULL), 405);
        assert_int_equal(judge("GET / HTTP/1.1\r\n\r\n", NULL), 404);
        assert_int_equal(judge("GET /metricsx HTTP/1.1\r\n\r\n", NULL), 404);
        assert_int_equal(judge("GET /metrics HTTP/2.0\r\n\r\n", NULL), 505);
        assert_int_equal(judge("GET /metrics HTTP/0.9\r\n\r\n", NULL), 400);
}

static void http_0_9_and_junk_are_bad_requests(void **state)
{
        (void)state;
        assert_int_equal(judge("GET /metrics\r\n\r\n", NULL), 400);
        assert_int_equal(judge("\x16\x03\x01\x02\x01\n\n", NULL), 400);
        /* Junk is refused without waiting for a line end. */
        assert_int_equal(judge("\x16\x03\x01", NULL), 400);
        assert_int_equal(judge("GET metrics HTTP/1.1\r\n\r\n", NULL), 400);
        assert_int_equal(judge("GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", NULL), 400);
        assert_int_equal(judge("GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", NULL), 400);
        assert_int_equal(judge("G(T /metrics HTTP/1.1\r\n\r\n", NULL), 400);
}

static void a_request_too_long_is_431(void **state)
{
        size_t n = 1024 * 1024;
        char *big = malloc(n + 1);
        struct http_req_verdict verdict;

        (void)state;
        assert_non_null(big);
        memcpy(big, "GET /", 5);
        memset(big + 5, 'a', n - 5);
        big[n] = '\0';
        /* Just under the cap it still waits; at the cap it is judged. */
        assert_int_equal(http_req_judge(big, HTTP_REQ_MAX_BYTES - 1, &verdict), HTTP_REQ_MORE);
        assert_int_equal(http_req_judge(big, HTTP_REQ_MAX_BYTES, &verdict), HTTP_REQ_DONE);
        assert_int_equal(verdict.status, 431);
        assert_int_equal(http_req_judge(big, n, &verdict), HTTP_REQ_DONE);
        assert_int_equal(verdict.status, 431);
        free(big);
}

static void prometheus_accept_header_selects_openmetrics(void **state)
{
        const char *prom = "GET /metrics HTTP/1.1\r\nACCEPT: application/openmetrics-text;"
                           "version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                           "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n";
        bool om = false;

        (void)state;
        assert_int_equal(judge(prom, &om), 200);
        assert_true(om);
        /* A bad header after Accept makes the request bad, not OpenMetrics. */
        assert_int_equal(judge("GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text\r\n"
                               "bad\r\n\r\n",
                               &om),
                         400);
        assert_false(om);
}

static void negotiation_follows_q_values(void **state)
{
        const char *a;

        (void)state;
        a = "text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5";
        assert_false(http_req_prefers_openmetrics(a, strlen(a)));
        a = "application/openmetrics-text; q=0";
        assert_false(http_req_prefers_openmetrics(a, strlen(a)));
        a = "*/*";
        assert_false(http_req_prefers_openmetrics(a, strlen(a)));
        a = "Application/OpenMetrics-Text";
        assert_true(http_req_prefers_openmetrics(a, strlen(a)));
        a = "application/openmetrics-text;q=junk,text/plain";
        assert_false(http_req_prefers_openmetrics(a, strlen(a)));
}

static void response_heads_say_status_type_and_length(void **state)
{
        char head[512];
        size_t n;

        (void)state;
        n = http_req_response_head(head, sizeof(head), 200, true, 42);
        assert_int_equal(n, strlen(head));
        assert_string_equal(head, "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: application/openmetrics-text; version=1.0.0; "
                                  "charset=utf-8\r\n"
                                  "Content-Length: 42\r\nConnection: close\r\n\r\n");
        n = http_req_response_head(head, sizeof(head), 200, false, 0);
        assert_non_null(strstr(head, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        n = http_req_response_head(head, sizeof(head), 405, false, 3);
        assert_true(n > 0);
        assert_non_null(strstr(head, "HTTP/1.1 405 Method Not Allowed\r\n"));
        assert_non_null(strstr(head, "\r\nAllow: GET\r\n\r\n"));
        assert_null(strstr(head, "version="));
        /* A buffer too small gives 0, not a cut head. */
        assert_int_equal(http_req_response_head(head, 20, 404, false, 3), 0);
        assert_string_equal(http_req_reason(431), "Request Header Fields Too Large");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(get_metrics_is_served),
            cmocka_unit_test(an_incomplete_request_asks_for_more),
            cmocka_unit_test(other_methods_paths_and_versions_are_refused),
            cmocka_unit_test(http_0_9_and_junk_are_bad_requests),
            cmocka_unit_test(a_request_too_long_is_431),
            cmocka_unit_test(prometheus_accept_header_selects_openmetrics),
            cmocka_unit_test(negotiation_follows_q_values),
            cmocka_unit_test(response_heads_say_status_type_and_length),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
