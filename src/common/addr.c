#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "units.h"

int addr_parse_port(const char *text, uint16_t *port)
{
        unsigned long value;

        if (units_parse_uint(text, 0, 65535, &value) < 0)
                return -EINVAL;
        *port = (uint16_t)value;
        return 0;
}

static int parse_host(const char *host, uint16_t port, struct addr_spec *out)
{
        struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;

        memset(&out->sa, 0, sizeof(out->sa));
        out->any = false;
        if (host[0] == '\0' || strcmp(host, "*") == 0) {
                /* Every address: an IPv6 socket that also takes IPv4. */
                in6->sin6_family = AF_INET6;
                in6->sin6_addr = in6addr_any;
                in6->sin6_port = htons(port);
                out->len = sizeof(*in6);
                out->any = true;
                return 0;
        }
        if (host[0] == '[') {
                char inner[INET6_ADDRSTRLEN];
                size_t n = strlen(host);

                if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof(inner))
                        return -EINVAL;
                memcpy(inner, host + 1, n - 2);
                inner[n - 2] = '\0';
                if (inet_pton(AF_INET6, inner, &in6->sin6_addr) != 1)
                        return -EINVAL;
                if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
                        /* [::ffff:a.b.c.d] is an IPv4 address; bind it as one. */
                        struct in_addr v4;

                        memcpy(&v4, &in6->sin6_addr.s6_addr[12], sizeof(v4));
                        memset(&out->sa, 0, sizeof(out->sa));
                        in4->sin_family = AF_INET;
                        in4->sin_addr = v4;
                        in4->sin_port = htons(port);
                        out->len = sizeof(*in4);
                        return 0;
                }
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                out->len = sizeof(*in6);
                return 0;
        }
        if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
                return -EINVAL;
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        out->len = sizeof(*in4);
        return 0;
}

int addr_parse_listen(const char *text, uint16_t default_port, struct addr_spec *out)
{
        char host[INET6_ADDRSTRLEN + 3];
        const char *colon;
        uint16_t port = default_port;
        size_t host_len;

        if (!text || !out)
                return -EINVAL;
        out->proto = ADDR_TCP;
        if (strncmp(text, "udp:", 4) == 0) {
                out->proto = ADDR_UDP;
                text += 4;
        } else if (strncmp(text, "tcp:", 4) == 0) {
                text += 4;
        }
        if (*text == '\0')
                return -EINVAL;

        /* The port follows the last colon, unless the colon is inside brackets. */
        colon = strrchr(text, ':');
        if (colon && text[0] == '[' && colon < strchr(text, ']'))
                colon = NULL;
        if (!colon) {
                /* A lone token is a port if it is all digits, else a host. */
                if (text[0] >= '0' && text[0] <= '9' && !strchr(text, '.')) {
                        if (addr_parse_port(text, &port) < 0)
                                return -EINVAL;
                        return parse_host("", port, out);
                }
                host_len = strlen(text);
        } else {
                if (addr_parse_port(colon + 1, &port) < 0)
                        return -EINVAL;
                host_len = (size_t)(colon - text);
        }
        if (host_len >= sizeof(host))
                return -EINVAL;
        memcpy(host, text, host_len);
        host[host_len] = '\0';
        if (host_len == 0)
                return -EINVAL;
        return parse_host(host, port, out);
}

uint16_t addr_port(const struct sockaddr *sa)
{
        if (sa->sa_family == AF_INET)
                return ntohs(((const struct sockaddr_in *)sa)->sin_port);
        if (sa->sa_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        return 0;
}

void addr_set_port(struct sockaddr *sa, uint16_t port)
{
        if (sa->sa_family == AF_INET)
                ((struct sockaddr_in *)sa)->sin_port = htons(port);
        else if (sa->sa_family == AF_INET6)
                ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/* A unix socket's path, bounded by length, with unprintable bytes as '?'. */
static void unix_host(const struct sockaddr_un *sun, socklen_t length, char *buf, size_t size)
{
        size_t path_length, out = 0, i = 0;

        if (length <= offsetof(struct sockaddr_un, sun_path)) {
                snprintf(buf, size, "unix");
                return;
        }
        path_length = length - offsetof(struct sockaddr_un, sun_path);
        if (path_length > sizeof(sun->sun_path))
                path_length = sizeof(sun->sun_path);
        if (sun->sun_path[0] == '\0') {
                buf[out++] = '@'; /* an abstract name, as ss(8) shows it */
                i = 1;
        } else {
                path_length = strnlen(sun->sun_path, path_length);
        }
        for (; i < path_length && out + 1 < size; i++) {
                unsigned char c = (unsigned char)sun->sun_path[i];

                buf[out++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
        buf[out] = '\0';
}

void addr_host(const struct sockaddr *sa, char *buf, size_t size)
{
        addr_host_length(sa, sa->sa_family == AF_UNIX ? sizeof(struct sockaddr_un) : 0, buf, size);
}

void addr_host_length(const struct sockaddr *sa, socklen_t length, char *buf, size_t size)
{
        if (size == 0)
                return;
        buf[0] = '\0';
        if (sa->sa_family == AF_INET) {
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
                          (socklen_t)size);
        } else if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

                if (IN6_IS_ADDR_V4MAPPED(a6))
                        inet_ntop(AF_INET, &a6->s6_addr[12], buf, (socklen_t)size);
                else
                        inet_ntop(AF_INET6, a6, buf, (socklen_t)size);
        } else if (sa->sa_family == AF_UNIX) {
                unix_host((const struct sockaddr_un *)sa, length, buf, size);
        } else {
                snprintf(buf, size, "family-%d", sa->sa_family);
        }
}

void addr_host_group(const struct sockaddr *sa, socklen_t length, char *buf, size_t size)
{
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        struct in6_addr prefix;
        char text[INET6_ADDRSTRLEN];

        /*
         * One site gets a /64 at least and may pick any of its 2^64
         * addresses, so per-address limits would give it as many tries;
         * IPv4 addresses are scarce enough to count one by one.
         */
        if (sa->sa_family != AF_INET6 || IN6_IS_ADDR_V4MAPPED(a6)) {
                addr_host_length(sa, length, buf, size);
                return;
        }
        memcpy(&prefix, a6, sizeof(prefix));
        memset(&prefix.s6_addr[8], 0, 8);
        inet_ntop(AF_INET6, &prefix, text, sizeof(text));
        snprintf(buf, size, "%s/64", text);
}

void addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
        char host[ADDR_HOST_MAX];

        addr_host(sa, host, sizeof(host));
        if (sa->sa_family == AF_INET6 && strchr(host, ':'))
                snprintf(buf, size, "[%s]:%u", host, addr_port(sa));
        else if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
                snprintf(buf, size, "%s:%u", host, addr_port(sa));
        else
                snprintf(buf, size, "%s", host);
}

int addr_parse_ip(const char *text, bool v6, unsigned char out[16])
{
        return inet_pton(v6 ? AF_INET6 : AF_INET, text, out) == 1 ? 0 : -EINVAL;
}
