#include "probe.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum probe_verdict probe_classify(int error)
{
        switch (error) {
        case -ECONNRESET:
        case -EPIPE:
                return PROBE_OPEN;
        case -ECONNREFUSED:
                return PROBE_CLOSED;
        case -ETIMEDOUT:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
        case -EHOSTDOWN:
        case -ENETDOWN:
        case -ENONET:
        case -EACCES:
        case -EPERM:
        case -EPROTO:
                return PROBE_FILTERED;
        case -EMFILE:
        case -ENFILE:
        case -ENOBUFS:
        case -ENOMEM:
        case -EADDRNOTAVAIL:
        case -EAGAIN:
                return PROBE_BACKPRESSURE;
        default:
                return PROBE_FATAL;
        }
}

bool probe_is_self_connect(int fd, const struct sockaddr_storage *dest, socklen_t len)
{
        struct sockaddr_storage local;
        socklen_t local_len = sizeof(local);

        if (getsockname(fd, (struct sockaddr *)&local, &local_len) < 0)
                return false;
        return local_len == len && memcmp(&local, dest, len) == 0;
}

int probe_connected(int fd)
{
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int error = 0;

        if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
                return 0;
        if (errno != ENOTCONN)
                return -errno;
        len = sizeof(error);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                return -errno;
        return error ? -error : -EINPROGRESS;
}

void probe_close_abortive(int fd)
{
        struct linger linger = {.l_onoff = 1, .l_linger = 0};

        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
        close(fd);
}

int probe_bind_any(int fd)
{
        struct sockaddr_storage any;
        socklen_t len = sizeof(any);
        int family;

        if (getsockname(fd, (struct sockaddr *)&any, &len) < 0)
                return -errno;
        family = any.ss_family;
        memset(&any, 0, sizeof(any));
        any.ss_family = (sa_family_t)family;
        len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        if (bind(fd, (struct sockaddr *)&any, len) < 0)
                return -errno;
        return 0;
}

int probe_fd_budget(unsigned *budget)
{
        struct rlimit limit;
        rlim_t soft;

        if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
                return -errno;
        if (limit.rlim_cur < limit.rlim_max) {
                struct rlimit raised = limit;

                /* An unlimited hard limit is not a number setrlimit() takes for files. */
                if (raised.rlim_max == RLIM_INFINITY)
                        raised.rlim_cur = 1u << 20;
                else
                        raised.rlim_cur = raised.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
                        limit = raised;
        }
        soft = limit.rlim_cur;
        if (soft > (1u << 20))
                soft = 1u << 20;
        *budget = soft > 2 * PROBE_FD_HEADROOM ? (unsigned)(soft - PROBE_FD_HEADROOM)
                                               : (unsigned)(soft / 2 ? soft / 2 : 1);
        return 0;
}
