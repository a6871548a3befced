#include "net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>

int net_connect_start(const struct sockaddr *address, socklen_t length, int type, int *fd)
{
        return net_connect_start_from(address, length, type, NULL, 0, fd);
}

int net_connect_start_from(const struct sockaddr *address, socklen_t length, int type,
                           const struct sockaddr *source, socklen_t source_length, int *fd)
{
        int one = 1;

        *fd = socket(address->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (*fd < 0)
                return -errno;
        if (source) {
                (void)setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(*fd, source, source_length) < 0)
                        return -errno;
        }
        /* Request and echo go out at once: Nagle would hold small writes back. */
        if (type == SOCK_STREAM && address->sa_family != AF_UNIX)
                (void)setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(*fd, address, length) == 0)
                return 0;
        return -errno;
}

int net_connect_result(int fd)
{
        int error = 0;
        socklen_t length = sizeof(error);

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0)
                return -errno;
        return -error;
}

int net_keepalive(int fd, int idle, int interval, int count)
{
        int one = 1;

        if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval)) < 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count)) < 0)
                return -errno;
        return 0;
}
