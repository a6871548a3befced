#ifndef ECHOD_HTTP_REQ_H
#define ECHOD_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The request reader of the metrics endpoint (issue 21), as a codec: the
 * bytes a client sent so far go in, a verdict comes out. No I/O, no loop:
 * the metrics service (to come in src/daemon) reads into its buffer, asks
 * for a verdict after each read, and answers with the status it gives.
 *
 * It accepts exactly one thing: "GET /metrics" (a query string is ignored)
 * over HTTP/1.0 or HTTP/1.1, headers ending with an empty line. Everything
 * else gets an error status and a close: another method 405, another path
 * 404, HTTP/2 and later 505, a request line or header block that does not
 * fit HTTP_REQ_MAX_BYTES 431, HTTP/0.9 (no version) and junk 400. Why a
 * reader of our own and not libmicrohttpd: docs/metrics.md.
 *
 * Called by: the metrics service (src/daemon), tests/unit/test_http_req.c,
 * fuzz; calls: nothing but libc.
 */

/* The most a request (line and headers) may take; more is 431. */
#define HTTP_REQ_MAX_BYTES 8192

enum http_req_state {
        HTTP_REQ_MORE, /* no empty line yet and still room: read more */
        HTTP_REQ_DONE, /* verdict filled in */
};

struct http_req_verdict {
        int status;       /* 200, 400, 404, 405, 431 or 505 */
        bool openmetrics; /* 200 only: the client prefers application/openmetrics-text */
};

/*
 * Judge the first length bytes a client sent. HTTP_REQ_MORE while the
 * header block is incomplete and under HTTP_REQ_MAX_BYTES; otherwise
 * HTTP_REQ_DONE with the verdict set. A bare LF ends a line as CR LF does
 * (RFC 9112 section 2.2 allows it).
 */
enum http_req_state http_req_judge(const char *data, size_t length, struct http_req_verdict *out);

/*
 * True if an Accept header value prefers application/openmetrics-text to
 * text/plain, as Prometheus asks: the openmetrics media range has a q above
 * 0 and at least the q of text/plain (absent ranges count as q=0).
 */
bool http_req_prefers_openmetrics(const char *accept, size_t length);

/* The reason phrase of a status the reader gives ("Not Found"); "Error" for others. */
const char *http_req_reason(int status);

/*
 * Write the response head into buf: status line, Content-Type (for 200 the
 * negotiated format, "application/openmetrics-text; version=1.0.0;
 * charset=utf-8" or "text/plain; version=0.0.4; charset=utf-8"; for errors
 * "text/plain; charset=utf-8"), Content-Length, "Connection: close", for
 * 405 "Allow: GET", and the empty line. Returns its length, or 0 if it does
 * not fit in size bytes.
 */
size_t http_req_response_head(char *buf, size_t size, int status, bool openmetrics,
                              size_t body_length);

#endif
