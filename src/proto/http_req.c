#include "http_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The end of the header block (just past the empty line), or 0 if not in yet. */
static size_t header_end(const char *data, size_t length)
{
        for (size_t i = 0; i < length; i++) {
                if (data[i] != '\n')
                        continue;
                if (i + 1 < length && data[i + 1] == '\n')
                        return i + 2;
                if (i + 2 < length && data[i + 1] == '\r' && data[i + 2] == '\n')
                        return i + 3;
        }
        return 0;
}

/* Length of the line at data (without CR LF or LF); *next is past its end. */
static size_t line_at(const char *data, size_t length, size_t *next)
{
        const char *newline = memchr(data, '\n', length);
        size_t n = newline ? (size_t)(newline - data) : length;

        *next = newline ? n + 1 : length;
        if (n > 0 && data[n - 1] == '\r')
                n--;
        return n;
}

static bool is_token_char(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The status for the request line, 0 if it asks for /metrics. */
static int judge_request_line(const char *line, size_t n)
{
        const char *sp1 = memchr(line, ' ', n);
        const char *sp2;
        size_t method_len, target_len, version_len;
        const char *target, *version;

        if (!sp1 || sp1 == line)
                return 400;
        method_len = (size_t)(sp1 - line);
        for (size_t i = 0; i < method_len; i++)
                if (!is_token_char(line[i]))
                        return 400;
        target = sp1 + 1;
        sp2 = memchr(target, ' ', n - method_len - 1);
        if (!sp2)
                return 400; /* HTTP/0.9 has no version: not served */
        target_len = (size_t)(sp2 - target);
        version = sp2 + 1;
        version_len = n - method_len - 1 - target_len - 1;
        if (target_len == 0 || target[0] != '/' || version_len != 8 ||
            memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' ||
            version[6] != '.' || version[7] < '0' || version[7] > '9')
                return 400;
        for (size_t i = 0; i < target_len; i++)
                if ((unsigned char)target[i] <= ' ' || (unsigned char)target[i] >= 0x7f)
                        return 400;
        if (version[5] != '1')
                return version[5] == '0' ? 400 : 505;
        if (method_len != 3 || memcmp(line, "GET", 3) != 0)
                return 405;
        if (!(target_len == 8 || (target_len > 8 && target[8] == '?')) ||
            memcmp(target, "/metrics", 8) != 0)
                return 404;
        return 0;
}

enum http_req_state http_req_judge(const char *data, size_t length, struct http_req_verdict *out)
{
        size_t end = header_end(data, length);
        size_t pos, next, n;
        int status;

        out->status = 400;
        out->openmetrics = false;
        /* Empty lines before the request line may be skipped (RFC 9112 2.2). */
        pos = 0;
        while (pos < length && (data[pos] == '\n' ||
                                (data[pos] == '\r' && pos + 1 < length && data[pos + 1] == '\n')))
                pos += data[pos] == '\r' ? 2 : 1;
        /* A request line starts with a method: junk (a TLS hello, say) is refused at once. */
        if (pos < length && data[pos] != '\r' && !is_token_char(data[pos]))
                return HTTP_REQ_DONE;
        if (end <= pos) {
                end = header_end(data + pos, length - pos);
                end = end ? end + pos : 0;
        }
        if (end == 0) {
                if (length < HTTP_REQ_MAX_BYTES)
                        return HTTP_REQ_MORE;
                out->status = 431;
                return HTTP_REQ_DONE;
        }
        if (end > HTTP_REQ_MAX_BYTES) {
                out->status = 431;
                return HTTP_REQ_DONE;
        }
        n = line_at(data + pos, end - pos, &next);
        status = judge_request_line(data + pos, n);
        if (status != 0) {
                out->status = status;
                return HTTP_REQ_DONE;
        }
        for (pos += next; pos < end; pos += next) {
                const char *line = data + pos;
                const char *colon;

                n = line_at(line, end - pos, &next);
                if (n == 0)
                        break;
                colon = memchr(line, ':', n);
                if (!colon || colon == line || line[0] == ' ' || line[0] == '\t') {
                        out->status = 400; /* no name, or obsolete line folding */
                        out->openmetrics = false;
                        return HTTP_REQ_DONE;
                }
                for (const char *c = line; c < colon; c++)
                        if (!is_token_char(*c)) {
                                out->status = 400;
                                out->openmetrics = false;
                                return HTTP_REQ_DONE;
                        }
                if (colon - line == 6 && strncasecmp(line, "accept", 6) == 0 &&
                    http_req_prefers_openmetrics(colon + 1, n - (size_t)(colon - line) - 1))
                        out->openmetrics = true;
        }
        out->status = 200;
        return HTTP_REQ_DONE;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* q of one media range "type/sub;param;q=0.5" (1 when absent, 0 when unreadable). */
static double range_q(const char *range, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char number[8];
                size_t j = 0;
                char *endp;
                double q;

                if (range[i] != ';')
                        continue;
                i++;
                while (i < n && is_blank(range[i]))
                        i++;
                if (i + 2 > n || (range[i] != 'q' && range[i] != 'Q') || range[i + 1] != '=')
                        continue;
                for (i += 2;
                     i < n && j + 1 < sizeof(number) && !is_blank(range[i]) && range[i] != ';'; i++)
                        number[j++] = range[i];
                number[j] = '\0';
                q = strtod(number, &endp);
                if (j == 0 || *endp != '\0' || q < 0 || q > 1)
                        return 0;
                return q;
        }
        return 1;
}

/* True if the range's type/subtype (before any ';') equals type, case-insensitively. */
static bool range_is(const char *range, size_t n, const char *type)
{
        size_t t = strlen(type);
        size_t k = 0;

        while (k < n && range[k] != ';' && !is_blank(range[k]))
                k++;
        return k == t && strncasecmp(range, type, t) == 0;
}

bool http_req_prefers_openmetrics(const char *accept, size_t length)
{
        double om = 0, plain = 0;
        size_t pos = 0;

        while (pos < length) {
                const char *comma = memchr(accept + pos, ',', length - pos);
                size_t end = comma ? (size_t)(comma - accept) : length;
                const char *range = accept + pos;
                size_t n = end - pos;
                double q;

                while (n > 0 && is_blank(*range)) {
                        range++;
                        n--;
                }
                q = range_q(range, n);
                if (range_is(range, n, "application/openmetrics-text") && q > om)
                        om = q;
                else if (range_is(range, n, "text/plain") && q > plain)
                        plain = q;
                pos = end + 1;
        }
        return om > 0 && om >= plain;
}

const char *http_req_reason(int status)
{
        switch (status) {
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 431:
                return "Request Header Fields Too Large";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return "Error";
        }
}

size_t http_req_response_head(char *buf, size_t size, int status, bool openmetrics,
                              size_t body_length)
{
        const char *type = status != 200 ? "text/plain; charset=utf-8"
                           : openmetrics
                               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                               : "text/plain; version=0.0.4; charset=utf-8";
        int n = snprintf(buf, size,
                         "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n%s\r\n",
                         status, http_req_reason(status), type, body_length,
                         status == 405 ? "Allow: GET\r\n" : "");

        return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}
