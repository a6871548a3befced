#include "prompt.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

bool prompt_check_host_not_number(const char *text, char *reason, size_t reason_size)
{
        /*
         * A lone number is almost always a port typed in the wrong place;
         * getaddrinfo() would take "38639" as the IPv4 address 0.0.150.239.
         */
        if (text[0] != '\0' && strspn(text, "0123456789") == strlen(text)) {
                snprintf(reason, reason_size,
                         "'%s' is a number, not a host (is it the port?); give a name or an "
                         "address such as 127.0.0.1",
                         text);
                return false;
        }
        return true;
}

bool prompt_check_host(const char *text, char *reason, size_t reason_size)
{
        size_t len = strlen(text);

        if (len == 0) {
                snprintf(reason, reason_size, "the host is empty");
                return false;
        }
        /* RFC 1035: a name is at most 253 characters written out. */
        if (len > 253) {
                snprintf(reason, reason_size, "a host name is at most 253 characters long");
                return false;
        }
        for (const char *p = text; *p; p++) {
                unsigned char ch = (unsigned char)*p;

                if (ch == ' ' || ch == '\t') {
                        snprintf(reason, reason_size, "a host name has no spaces");
                        return false;
                }
                /* Letters, digits, '-', '.', '_' for names; ':', '[', ']', '%' for IPv6. */
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || strchr("-._:[]%", ch))) {
                        snprintf(reason, reason_size,
                                 "'%c' cannot be in a host name or an IP address", ch);
                        return false;
                }
        }
        if (text[0] == '-' || text[0] == '.') {
                snprintf(reason, reason_size, "a host name starts with a letter or a digit");
                return false;
        }
        return prompt_check_host_not_number(text, reason, reason_size);
}

bool prompt_check_port(const char *text, char *reason, size_t reason_size)
{
        uint16_t port;

        if (addr_parse_port(text, &port) < 0 || port == 0) {
                snprintf(reason, reason_size, "the port must be a number from 1 to 65535");
                return false;
        }
        return true;
}

int prompt_read_line(int fd, char *buf, size_t size)
{
        size_t len = 0, start = 0;
        bool too_long = false, any = false;

        for (;;) {
                char ch;
                ssize_t n = read(fd, &ch, 1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0) {
                        if (!any)
                                return -ENODATA;
                        break;
                }
                any = true;
                if (ch == '\n')
                        break;
                if (len + 1 >= size) {
                        too_long = true;
                        continue;
                }
                buf[len++] = ch;
        }
        if (too_long)
                return -EMSGSIZE;
        while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\r'))
                len--;
        while (start < len && (buf[start] == ' ' || buf[start] == '\t'))
                start++;
        memmove(buf, buf + start, len - start);
        len -= start;
        buf[len] = '\0';
        return (int)len;
}

/* Write all of text; prompts are short, so a loop on partial writes is enough. */
static int write_all(int fd, const char *text)
{
        size_t len = strlen(text);

        while (len > 0) {
                ssize_t n = write(fd, text, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                text += n;
                len -= (size_t)n;
        }
        return 0;
}

int prompt_ask(int in_fd, int out_fd, const char *label, const char *default_value,
               prompt_check_fn check, char *buf, size_t size)
{
        char line[PROMPT_ANSWER_MAX + 64];
        char reason[160];
        int r;

        for (;;) {
                snprintf(line, sizeof(line), "%s [%s]: ", label, default_value);
                r = write_all(out_fd, line);
                if (r < 0)
                        return r;
                r = prompt_read_line(in_fd, buf, size);
                if (r == -ENODATA || (r < 0 && r != -EMSGSIZE))
                        return r;
                if (r == -EMSGSIZE) {
                        snprintf(reason, sizeof(reason), "the answer is too long");
                } else {
                        if (r == 0)
                                snprintf(buf, size, "%s", default_value);
                        if (check(buf, reason, sizeof(reason)))
                                return 0;
                }
                snprintf(line, sizeof(line), "  %s; try again.\n", reason);
                r = write_all(out_fd, line);
                if (r < 0)
                        return r;
        }
}
