#include "listen.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define LISTEN_BACKLOG 4096

static void classify(struct listen_socket *socket_info, const char *name)
{
        int fd = socket_info->fd;

        snprintf(socket_info->name, sizeof(socket_info->name), "%s", name);
        socket_info->type = LISTEN_UNSUPPORTED;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0)
                socket_info->type = LISTEN_STREAM;
        else if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0)
                socket_info->type = LISTEN_DATAGRAM;
        else if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 0) > 0)
                socket_info->type = LISTEN_CONNECTED;
        socket_info->address_length = sizeof(socket_info->address);
        if (getsockname(fd, (struct sockaddr *)&socket_info->address,
                        &socket_info->address_length) < 0)
                socket_info->address_length = 0;
}

int listen_from_systemd(struct listen_socket *sockets, size_t max, size_t *count,
                        int (*claim)(void *arg, int fd, const char *name), void *claim_arg)
{
        char **names = NULL;
        int n = sd_listen_fds_with_names(1, &names), listeners = 0, r = 0;

        *count = 0;
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                const char *name = names && names[i] ? names[i] : "unknown";
                int fd = SD_LISTEN_FDS_START + i;
                int claimed = r == 0 && claim ? claim(claim_arg, fd, name) : 0;

                if (claimed < 0)
                        r = claimed;
                if (claimed == 0) {
                        if (*count < max) {
                                struct listen_socket *s = &sockets[*count];

                                memset(s, 0, sizeof(*s));
                                s->fd = fd;
                                s->inherited = true;
                                classify(s, name);
                                (*count)++;
                        }
                        listeners++;
                }
                if (names)
                        free(names[i]);
        }
        free(names);
        return r < 0 ? r : listeners;
}

static int open_socket(const struct addr_spec *spec, struct sockaddr *address, socklen_t length)
{
        int type = spec->proto == ADDR_UDP ? SOCK_DGRAM : SOCK_STREAM;
        int fd = socket(address->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1, zero = 0;

        if (fd < 0)
                return -errno;
        if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                goto fail;
        /* "Every address" is one IPv6 socket that takes IPv4 too. */
        if (address->sa_family == AF_INET6 &&
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, spec->any ? &zero : &one, sizeof(int)) < 0)
                goto fail;
        if (bind(fd, address, length) < 0)
                goto fail;
        if (type == SOCK_STREAM && listen(fd, LISTEN_BACKLOG) < 0)
                goto fail;
        return fd;
fail:;
        int err = -errno;
        close(fd);
        return err;
}

int listen_bind(const struct addr_spec *spec, bool strict, const char *name,
                struct listen_socket *out)
{
        struct sockaddr_storage address = spec->sa;
        socklen_t length = spec->len;
        unsigned port = addr_port((struct sockaddr *)&address);
        unsigned tries = (strict || port == 0) ? 1 : LISTEN_PORT_TRIES;
        int fd = -EADDRINUSE;

        for (unsigned i = 0; i < tries && port + i <= 65535; i++) {
                addr_set_port((struct sockaddr *)&address, (uint16_t)(port + i));
                fd = open_socket(spec, (struct sockaddr *)&address, length);
                if (fd == -EAFNOSUPPORT && spec->any) {
                        /* No IPv6 on this host: every IPv4 address instead. */
                        struct sockaddr_in *in4 = (struct sockaddr_in *)&address;

                        memset(&address, 0, sizeof(address));
                        in4->sin_family = AF_INET;
                        in4->sin_addr.s_addr = htonl(INADDR_ANY);
                        in4->sin_port = htons((uint16_t)(port + i));
                        length = sizeof(*in4);
                        fd = open_socket(spec, (struct sockaddr *)&address, length);
                }
                if (fd != -EADDRINUSE)
                        break;
        }
        if (fd < 0)
                return fd;
        memset(out, 0, sizeof(*out));
        out->fd = fd;
        out->type = spec->proto == ADDR_UDP ? LISTEN_DATAGRAM : LISTEN_STREAM;
        snprintf(out->name, sizeof(out->name), "%s", name);
        out->address_length = sizeof(out->address);
        if (getsockname(fd, (struct sockaddr *)&out->address, &out->address_length) < 0)
                out->address_length = 0;
        return 0;
}

const char *listen_protocol_name(const struct listen_socket *socket_info)
{
        switch (socket_info->type) {
        case LISTEN_STREAM:
                return socket_info->address.ss_family == AF_UNIX ? "unix" : "tcp";
        case LISTEN_DATAGRAM:
                return socket_info->address.ss_family == AF_UNIX ? "unix-dgram" : "udp";
        case LISTEN_CONNECTED:
                return "connection";
        case LISTEN_UNSUPPORTED:
                break;
        }
        return "unsupported";
}
